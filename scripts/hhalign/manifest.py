"""The run manifest: every model and data file with the commit it resolved to, the library
versions and a hash of the config, so a reviewer can see exactly what a run used."""

from __future__ import annotations

import hashlib
import json
import platform
from importlib.metadata import PackageNotFoundError, version
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
