"""One command for a lent GPU (``scripts/gpu_check.sh``, ``make gpu-check``): the suite at full
size, then SFT and LoRA DPO training jobs 1, 2 and 4 at a time on the one device, today's
settings against the lean host switches with fused AdamW and against those with
``torch_compile`` and ``pad_to_multiple_of: 64``; tokens/s (each job and all together), peak
memory, recompiles and equality checks, into ``gpu_check.json`` and ``gpu_check.md``.

Every measurement runs in a forked child (the parent never touches CUDA, so each child can),
under a wall-clock budget: measurements are taken in priority order and the ones the budget
leaves no time for are listed as skipped, never silently dropped. ``--dry`` runs the same code
on CPU at quick size with a few rows (the test), compile left out (its CPU compile time).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import time
import traceback
from pathlib import Path

import torch
import yaml

from hhalign.bench.gpu_report import markdown
from hhalign.bench.inputs import training_rows
from hhalign.bench.models import bench_tokenizers, build_policy
from hhalign.bench.overhead import StepClock, lean_switches, train_once
from hhalign.bench.report import write_outputs
from hhalign.bench.stages import bench_section, our_section, padding_share
from hhalign.bench.suite import run_suite, step_overhead
from hhalign.bench.timing import environment, peak_gib
from hhalign.config import prepare
from hhalign.models import best_device

# Per mode: suite sizes (bench keys), rows a training job, concurrency levels, configs.
MODES = {
    "full": {
        "bench": {"size": "full", "prompts": 32, "pairs": 160, "train_rows": 320},
        "job_rows": 160,
        "warmup": 5,
        "levels": (1, 2, 4),
        "configs": ("baseline", "lean", "compiled", "graphs"),
    },
    "dry": {
        "bench": {
            "size": "quick",
            "prompts": 4,
            "pairs": 4,
            "max_new_tokens": 8,
            "prompt_tokens": [8, 24],
            "train_rows": 16,
            "overhead_rows": 40,
            "overhead_repeats": 1,
        },
        "job_rows": 24,
        "warmup": 1,
        "levels": (1, 2),
        "configs": ("baseline", "lean"),
    },
}


GROUP_TIMEOUT_S = 150  # a group still running then is killed and reported as timed out
SUITE_TIMEOUT_S = 270  # so the suite leaves the training jobs time


def config_switches(name: str, device: str) -> dict:
    """A training config's changes to today's section: none (baseline); Part 1's host switches
    and fused AdamW (lean; foreach off, as fused replaces it); those with torch.compile on
    batches padded to a multiple of 64 (compiled); and compiled with CUDA graphs (graphs:
    mode reduce-overhead)."""
    lean = {**lean_switches(device), "adamw_foreach": False, "optim": "adamw_torch_fused"}
    compiled = {**lean, "torch_compile": True, "pad_to_multiple_of": 64}
    return {
        "baseline": {},
        "lean": lean,
        "compiled": compiled,
        "graphs": {**compiled, "torch_compile_mode": "reduce-overhead"},
    }[name]


def plan(mode: dict) -> list[tuple[str, str, int]]:
    """(stage, config, level) in priority order: the configs without compile alone, then
    shared; then the compiled ones alone, then shared (compiling takes the longest)."""
    out = []
    for configs in (
        [c for c in mode["configs"] if c in ("baseline", "lean")],
        [c for c in mode["configs"] if c not in ("baseline", "lean")],
    ):
        out += [(s, c, 1) for c in configs for s in ("sft", "dpo")]
        out += [(s, c, k) for c in configs for s in ("sft", "dpo") for k in mode["levels"] if k > 1]
    return out


def dynamo_counts() -> dict:
    """Graphs compiled and recompilations so far in this process (torch._dynamo counters)."""
    from torch._dynamo.utils import counters  # imports dynamo: only a compiled job needs it

    return {
        "graphs": int(counters["stats"].get("unique_graphs", 0)),
        "recompiles": int(sum(counters["recompiles"].values())),
    }


def train_job(stage: str, name: str, world: dict, mode: dict, threads: int) -> dict:
    """One training job (in its own process): tokens/s end to end and at the steady per-step
    median, peak memory, first and final loss, graphs and recompiles."""
    torch.set_num_threads(threads)
    device = best_device()
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    section = {
        **bench_section(our_section(world["sections"][stage], device), mode["job_rows"]),
        **config_switches(name, device),
    }
    clock = StepClock()
    out = f"{world['root']}/job-{stage}-{name}-{os.getpid()}"
    trainer, summary = train_once(stage, section, world["start"], world["data"], out, (clock,))
    real, computed = padding_share(trainer)
    step = clock.per_step(mode["warmup"])
    steps = summary["steps"]
    shutil.rmtree(out, ignore_errors=True)  # a 350M model a job: keep the disk free
    return {
        "stage": stage,
        "config": name,
        "steps": steps,
        "wall_s": summary["wall_time_s"],
        "tokens": real,
        "real_token_share": round(real / computed, 4),
        "tokens_per_s": round(real / summary["wall_time_s"], 1),
        "steady_step_ms": round(step["wall_ms"], 2),
        "steady_tokens_per_s": round(real / (steps * step["wall_ms"] / 1000), 1),
        "peak_gib": peak_gib(device),
        "first_loss": summary["first_loss"],
        "final_loss": summary["final_loss"],
        **(dynamo_counts() if section.get("torch_compile") else {"graphs": 0, "recompiles": 0}),
    }


def child(fn, path: str, *args) -> None:
    """Run ``fn(*args)`` in this (forked) process; its result or error as JSON at ``path``."""
    try:
        result = {"ok": True, "result": fn(*args)}
    except Exception:  # reported in the JSON, never lost
        result = {"ok": False, "error": traceback.format_exc()[-4000:]}
    Path(path).write_text(json.dumps(result, default=str))
    os._exit(0)


def in_processes(calls: list[tuple], root: str, timeout: float) -> list[dict]:
    """Each ``(fn, *args)`` in its own forked process, all at once; their results in order,
    ``{"ok": False, "error": "timed out ..."}`` for one still running after ``timeout`` s."""
    ctx = multiprocessing.get_context("fork")
    paths = [f"{root}/result-{time.monotonic_ns()}-{i}.json" for i in range(len(calls))]
    procs = [
        ctx.Process(target=child, args=(c[0], p, *c[1:])) for c, p in zip(calls, paths, strict=True)
    ]
    for proc in procs:
        proc.start()
    deadline = time.monotonic() + timeout
    out = []
    for proc, path in zip(procs, paths, strict=True):
        proc.join(max(0.0, deadline - time.monotonic()))
        if proc.is_alive():
            proc.kill()
            proc.join()
            out.append({"ok": False, "error": f"timed out after {timeout:.0f} s"})
        elif Path(path).is_file():
            out.append(json.loads(Path(path).read_text()))
        else:
            out.append({"ok": False, "error": f"exited with code {proc.exitcode}, no result"})
    return out


def prepare_world(root: str, size: str, rows: int, seed: int, prompt_tokens: list) -> dict:
    """The jobs' starting model (OPT-350M's architecture or its quick cut, random weights)
    and ``rows`` training rows, saved under ``root``."""
    tok, _ = bench_tokenizers(seed)
    build_policy(size, tok, seed).save_pretrained(f"{root}/policy")
    tok.save_pretrained(f"{root}/policy")
    lo, hi = prompt_tokens
    training_rows(tok, rows, lo, hi, seed).to_parquet(f"{root}/rows.parquet")
    return {"start": f"{root}/policy", "data": f"{root}/rows.parquet"}


def suite_job(cfg: dict, paper: dict, scoring: dict, out: str) -> dict:
    """The benchmark suite with step_overhead, written to ``out`` as the rule writes it."""
    summary, env = run_suite(cfg, paper["sft"], paper["dpo"], paper["generation"], scoring)
    overhead = step_overhead(cfg, paper["sft"], paper["dpo"])
    write_outputs(summary, env, cfg, out, overhead=overhead)
    return {
        "summary": summary.to_dict("records"),
        "step_overhead": overhead["summary"].to_dict("records") if overhead else [],
        "step_profile": overhead["parts"].to_dict("records") if overhead else [],
        "environment": env,
    }


def group_row(stage: str, name: str, level: int, results: list[dict], alone: dict) -> dict:
    """A concurrency group's row: per-job and aggregate tokens/s, and the aggregate over the
    same config's single job."""
    jobs = [r["result"] for r in results if r["ok"]]
    errors = [r["error"] for r in results if not r["ok"]]
    row = {"stage": stage, "config": name, "jobs": level, "ok": len(jobs), "errors": errors}
    if jobs:
        agg = sum(j["steady_tokens_per_s"] for j in jobs)
        row.update(
            aggregate_tokens_per_s=round(agg, 1),
            per_job_tokens_per_s=round(agg / len(jobs), 1),
            end_to_end_tokens_per_s=round(sum(j["tokens_per_s"] for j in jobs), 1),
            peak_gib=max((j["peak_gib"] or 0) for j in jobs) or None,
            graphs=max(j["graphs"] for j in jobs),
            recompiles=max(j["recompiles"] for j in jobs),
            first_loss=jobs[0]["first_loss"],
            final_loss=jobs[0]["final_loss"],
        )
        base = alone.get((stage, name))
        row["aggregate_over_one_job"] = round(agg / base, 3) if base else None
    return row


def equality(groups: list[dict]) -> list[dict]:
    """Each config's single job against today's: the first logged loss (same weights, same
    first batch) and the final one (after training; bf16 on a GPU, so not bit-equal)."""
    alone = {(g["stage"], g["config"]): g for g in groups if g["jobs"] == 1 and g["ok"]}
    rows = []
    for (stage, name), g in alone.items():
        base = alone.get((stage, "baseline"))
        if name == "baseline" or base is None:
            continue
        rows.append(
            {
                "stage": stage,
                "config": name,
                "first_loss_diff": abs(g["first_loss"] - base["first_loss"]),
                "final_loss_diff": abs(g["final_loss"] - base["final_loss"]),
            }
        )
    return rows


def run_groups(mode: dict, world: dict, left) -> tuple[list[dict], list[dict]]:
    """Every (stage, config, concurrency) group of the mode's plan while the budget lasts
    (``left()``: seconds left): their rows, and what the budget left no time for."""
    groups, skipped, alone = [], [], {}
    cores = os.cpu_count() or 1
    for stage, name, level in plan(mode):
        if left() < 30:
            skipped.append({"stage": stage, "config": name, "jobs": level, "why": "time budget"})
            continue
        calls = [(train_job, stage, name, world, mode, max(1, cores // level))] * level
        began = time.monotonic()
        results = in_processes(calls, world["root"], min(left(), GROUP_TIMEOUT_S))
        row = group_row(stage, name, level, results, alone)
        row["group_wall_s"] = round(time.monotonic() - began, 1)
        if level == 1 and row["ok"]:
            alone[stage, name] = row["aggregate_tokens_per_s"]
            row["aggregate_over_one_job"] = 1.0
        groups.append(row)
        print(json.dumps(row), flush=True)
    return groups, skipped


def run_check(
    mode_name: str, out: str, budget_s: float, config_path: str, chosen: dict | None = None
) -> dict:
    """The whole check; returns what ``gpu_check.json`` holds. ``chosen``: ``configs`` and
    ``levels`` to measure instead of the mode's, ``skip_suite`` (a rerun of jobs only)."""
    import hhalign.dpo  # imports trl and peft: once, before the jobs fork
    import hhalign.sft  # noqa: F401  # imports trl: as above

    chosen = chosen or {}
    mode = {
        **MODES[mode_name],
        **{k: tuple(v) for k in ("configs", "levels") if (v := chosen.get(k))},
    }
    started = time.monotonic()
    config = yaml.safe_load(Path(config_path).read_text())
    paper = prepare(config, str(Path(config_path).resolve().parent))["paper"]
    cfg = {**config["bench"], **mode["bench"]}
    Path(out).mkdir(parents=True, exist_ok=True)
    work = Path(out) / "work"
    work.mkdir(exist_ok=True)
    left = lambda: budget_s - (time.monotonic() - started)  # noqa: E731
    scoring = {**paper["scoring"], **({"batch_size": 256, "max_batch_tokens": 8192})}
    paper = {**paper, "generation": {**paper["generation"], "batch_size": 128}}
    if chosen.get("skip_suite"):
        suite = {"ok": False, "error": "skipped (--skip-suite)"}
    else:
        suite_call = [(suite_job, cfg, paper, scoring, f"{out}/bench")]
        [suite] = in_processes(suite_call, str(work), min(left(), SUITE_TIMEOUT_S))
    suite["wall_s"] = round(time.monotonic() - started, 1)
    [world] = in_processes(
        [(prepare_world, str(work), cfg["size"], mode["job_rows"], 0, cfg["prompt_tokens"])],
        str(work),
        max(left(), 60),
    )
    if not world["ok"]:
        raise RuntimeError(f"the training jobs' model and rows could not be built: {world}")
    world = {**world["result"], "root": str(work), "sections": paper}
    groups, skipped = run_groups(mode, world, left)
    return {
        "mode": mode_name,
        "budget_s": budget_s,
        "elapsed_s": round(time.monotonic() - started, 1),
        # Read after every job has run: naming the device initialises CUDA in this process.
        "environment": environment(),
        "suite": suite,
        "job_rows": mode["job_rows"],
        "configs": {
            c: config_switches(c, "cpu" if mode_name == "dry" else "cuda") for c in mode["configs"]
        },
        "groups": groups,
        "skipped": skipped,
        "equality": equality(groups),
    }


def main(argv: list[str] | None = None) -> None:
    """``python -m hhalign.bench.gpu_check --out results/gpu-check`` (``--dry``: CPU, quick)."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--out", default="results/gpu-check")
    parser.add_argument("--dry", action="store_true", help="quick size on CPU (the test)")
    parser.add_argument("--budget-s", type=float, default=440.0, help="wall-clock budget")
    parser.add_argument("--config", default="config.yaml")
    parser.add_argument("--configs", nargs="+", choices=["baseline", "lean", "compiled", "graphs"])
    parser.add_argument("--levels", nargs="+", type=int, help="jobs at a time (default 1 2 4)")
    parser.add_argument("--skip-suite", action="store_true", help="training jobs only (a rerun)")
    args = parser.parse_args(argv)
    # Asked through NVML, torch.cuda.is_available() leaves the CUDA driver alone in this
    # process, so the forked jobs can initialise it (scripts/gpu_check.sh sets these too).
    os.environ.setdefault("PYTORCH_NVML_BASED_CUDA_CHECK", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if args.dry:
        os.environ["CUDA_VISIBLE_DEVICES"] = ""  # before any child touches torch.cuda
    elif not torch.cuda.is_available():
        raise SystemExit("no CUDA device: run with --dry on a CPU")
    mode = "dry" if args.dry else "full"
    chosen = {"configs": args.configs, "levels": args.levels, "skip_suite": args.skip_suite}
    result = run_check(mode, args.out, args.budget_s, args.config, chosen)
    (Path(args.out) / "gpu_check.json").write_text(json.dumps(result, indent=1, default=str))
    (Path(args.out) / "gpu_check.md").write_text(markdown(result))
    print(f"wrote {args.out}/gpu_check.json and gpu_check.md in {result['elapsed_s']} s")


if __name__ == "__main__":
    main()
