"""Helpers shared by the test modules (their fixtures are in conftest.py): the repository's
paths, Snakemake run offline, the tiny preset's config, and pinned versions."""

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from hhalign.config import deep_merge, prepare, validate_config
from hhalign.plan import Plan

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def worker_cores() -> int:
    """The cores one test worker may use: the machine's, shared by pytest-xdist's workers.
    Torch jobs that together use more threads than cores run several times slower (their
    threads spin at barriers), so every Snakemake run a test starts gets ``--cores CORES``
    and the workers' own torch and BLAS threads are capped the same way (conftest.py)."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    return max(1, (os.cpu_count() or 1) // workers)


CORES = str(worker_cores())


def snakemake(*args: str, cwd: Path = ROOT, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run Snakemake from this interpreter's environment, offline. ``--nolock``: test runs
    write to their own temporary results, and two test workers may share the working
    directory (make test runs two)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONHASHSEED": "0", **(env or {})}
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(ROOT / "Snakefile"),
        "--nolock",
        *args,
    ]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)


def heavy_imports(code: str, env: dict | None = None) -> list[str]:
    """Which of torch and transformers a fresh interpreter has imported after running
    ``code`` with the library on its path (a job's or a start-up check's imports)."""
    heavy = "sorted({'torch', 'transformers'} & set(sys.modules))"
    code += f"\nimport json, sys\nprint(json.dumps({heavy}))"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "scripts"), **(env or {})}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def paper_metrics() -> dict:
    """The paper protocol's thresholds and operators, as config.yaml writes them."""
    return yaml.safe_load((ROOT / "config.yaml").read_text())["metrics"]


def claims_cfg(**overrides) -> dict:
    """The claims section the statistics tests use: 2,000 draws (fast), the paper's
    thresholds and band."""
    return {
        "alpha": 0.05,
        "power": 0.8,
        "bootstrap_draws": 2000,
        "permutation_draws": 2000,
        "seed": 0,
        "threshold_band": 0.5,
        "threshold_scan": 2.0,
        "threshold_step": 0.25,
        "metrics": paper_metrics(),
        **overrides,
    }


def tiny_config() -> dict:
    """config.yaml with the tiny preset on top, validated (schema defaults filled in)."""
    base = yaml.safe_load((ROOT / "config.yaml").read_text())
    cfg = deep_merge(base, yaml.safe_load((ROOT / "presets" / "tiny.yaml").read_text()))
    return validate_config(cfg)


def pins(lines) -> dict[str, str]:
    """name -> version of every ``name==version`` line (comments ignored)."""
    out = {}
    for line in lines:
        line = line.split("#")[0].strip()
        if "==" in line:
            name, version = line.split("==")
            out[name.strip().lower().replace("_", "-")] = version.strip()
    return out


def plan_of(*presets: str, **overrides) -> Plan:
    """The plan of config.yaml with ``presets`` on top (as `--configfile` stacks them)."""
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    for preset in presets:
        cfg = deep_merge(cfg, yaml.safe_load((ROOT / "presets" / preset).read_text()))
    cfg = deep_merge(cfg, {"results_dir": "R", **overrides})
    return Plan(cfg, prepare(cfg, ROOT))
