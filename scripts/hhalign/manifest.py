"""The run manifest: every model and data file with the commit it resolved to, the library
versions and a hash of the config, so a reviewer can see exactly what a run used."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from hhalign.hub import cached_commit

LIBRARIES = (
    "torch",
    "transformers",
    "tokenizers",
    "trl",
    "peft",
    "datasets",
    "accelerate",
    "huggingface-hub",
    "safetensors",
    "snakemake",
    "pandas",
    "numpy",
    "scipy",
)


def config_hash(config: dict) -> str:
    """sha256 of the config as canonical JSON (sorted keys): equal configs, equal hashes."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()


def model_entry(spec: dict, path: str | None = None) -> dict[str, Any]:
    """What one model reference resolved to: Hub commit, or the directory it was read from."""
    if spec["source"] == "hub":
        commit = cached_commit(spec["name"], spec["revision"], "config.json")
        return {
            "source": "hub",
            "name": spec["name"],
            "revision": spec["revision"],
            "commit": commit,
        }
    return {"source": spec["source"], "path": path or spec.get("name")}


def versions() -> dict[str, str | None]:
    """Installed versions of the libraries the results depend on."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def build_manifest(config: dict, models: dict[str, dict], raw_files: list[tuple[str, str]]):
    """The manifest of a run: ``models`` maps role -> model_entry; ``raw_files`` are the
    (subset, split) pairs the run read."""
    data = config["data"]
    entry: dict[str, Any] = {"source": data["source"]}
    if data["source"] == "hub":
        hub = data["hub"]
        entry |= {"repo_id": hub["repo_id"], "revision": hub["revision"]}
        entry["files"] = {
            f"{subset}/{split}.jsonl.gz": cached_commit(
                hub["repo_id"], hub["revision"], f"{subset}/{split}.jsonl.gz", "dataset"
            )
            for subset, split in raw_files
        }
    elif data["source"] == "local":
        entry["local_dir"] = data["local_dir"]
    return {
        "config_sha256": config_hash(config),
        "results_dir": config["results_dir"],
        "run_label": config["run_label"],
        "protocols": config["protocols"],
        "models": models,
        "data": entry,
        "libraries": versions(),
    }


def code_version(basedir: str | Path) -> dict[str, Any]:
    """The pipeline's own git commit and whether its tree had uncommitted changes."""

    def git(*args: str) -> str:
        out = subprocess.run(["git", "-C", str(basedir), *args], capture_output=True, text=True)
        if out.returncode != 0:
            raise OSError(out.stderr.strip() or f"git {args[0]} failed")
        return out.stdout.strip()

    try:
        return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain"))}
    except (OSError, FileNotFoundError) as err:
        return {"commit": None, "dirty": None, "why": f"not a git checkout here ({err})"}


def hardware() -> dict[str, Any]:
    """CPU model and cores; GPU names, count and memory, CUDA and driver where present."""
    cpu = platform.processor() or None
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        lines = cpuinfo.read_text().splitlines()
        names = [ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")]
        cpu = names[0] if names else cpu
    out: dict[str, Any] = {"cpu": cpu, "cores": os.cpu_count(), "gpus": []}
    try:
        import torch
    except ImportError:
        return out
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(i)
            out["gpus"].append(
                {"name": props.name, "memory_gb": round(props.total_memory / 1e9, 1)}
            )
        out["cuda"] = torch.version.cuda
        query = ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"]
        try:
            smi = subprocess.run(query, capture_output=True, text=True)
        except FileNotFoundError:
            smi = subprocess.CompletedProcess(query, 1)
        out["driver"] = smi.stdout.strip().splitlines()[0] if smi.returncode == 0 else None
    return out


def stage_times(benchmarks: str | Path) -> dict[str, dict[str, Any]]:
    """Each finished job's start and end (UTC) and seconds, from Snakemake's benchmark files
    (the file is written when the job ends; its ``s`` column is the job's wall time)."""
    import csv
    from datetime import UTC, datetime

    out = {}
    for path in sorted(Path(benchmarks).rglob("*.tsv")):
        with open(path, encoding="utf-8") as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
        if not rows:
            continue
        seconds = float(rows[-1]["s"])
        end = path.stat().st_mtime
        out[str(path.relative_to(benchmarks).with_suffix(""))] = {
            "start": datetime.fromtimestamp(end - seconds, UTC).isoformat(timespec="seconds"),
            "end": datetime.fromtimestamp(end, UTC).isoformat(timespec="seconds"),
            "seconds": round(seconds, 1),
        }
    return out


def last_invocation(path: str | Path) -> dict[str, Any] | None:
    """The latest Snakemake start recorded in ``path`` (JSON lines; rules/common.smk's
    start-up appends one per real run): command line, Snakemake version, host, time."""
    path = Path(path)
    if not path.is_file():
        return None
    lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
    return json.loads(lines[-1]) if lines else None


def record_invocation(path: str | Path, argv: list[str]) -> None:
    """Append a run's command line, Snakemake version, host and time to ``path`` (JSON
    lines; ``last_invocation`` reads the newest for the manifest)."""
    import socket
    import time
    from importlib.metadata import version as installed

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    entry = {
        "command": " ".join(argv),
        "version": installed("snakemake"),
        "host": socket.gethostname(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(entry) + "\n")
