"""The methods beside SFT and DPO in the performance suite: each method's training timed our
way on the suite's rows (there is no authors' way: the paper trains none of them), its
tokens/s, and its hours in the full-run estimate.

A ``{method}_training`` stage in ``bench.stages`` (presets/methods.yaml lists all four) trains
``bench.train_rows`` rows of the suite's synthetic pairs for one epoch with the method's own
section (``methods.<name>``), on the suite's random-weight policy; RLOO is rewarded by the
suite's random-weight judge, scored as the pipeline's reward model scores.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

from hhalign.bench.stages import bench_section
from hhalign.bench.timing import mfu, peak_gib
from hhalign.methods import METHODS
from hhalign.train import TrainingRun

STAGES = {f"{m}_training": m for m in METHODS}


def method_section(method: str, section: dict, rows: int, device: str, reward: dict | None) -> dict:
    """A method's section for the suite: one epoch of ``rows`` rows, bf16 on a GPU, RLOO's
    reward model and scoring settings."""
    cfg = {**bench_section(section, rows), "method": method, "bf16": device == "cuda"}
    if method == "rloo":
        cfg["reward"] = reward
        cfg["scoring"] = {"batch_size": 32, "max_length": 512, "max_batch_tokens": 4096}
    return cfg


def bench_method(
    method: str, section: dict, start: str, data: str, rows: int, device: str, reward=None
):
    """Train ``rows`` rows with ``method`` our way; its summary row (seconds, rows/s,
    tokens/s as the training job counts them, peak memory, MFU), the authors' columns empty."""
    from hhalign.method_training import train_method  # imports trl: only training needs it

    cfg = method_section(method, section, rows, device, reward)
    with tempfile.TemporaryDirectory() as tmp:
        run = TrainingRun(cfg, data, start, f"{tmp}/m", f"{tmp}/c", adapter_dir=f"{tmp}/a")
        trainer, summary = train_method(run)
        params = sum(p.numel() for p in trainer.model.parameters())
    seconds = summary["wall_time_s"]
    tokens_per_s = summary["tokens_seen"] / seconds
    nan = math.nan
    return {
        "stage": f"{method}_training",
        "unit": "prompts" if method == "rloo" else "rows",
        "n": summary["rows_trained"],
        "authors_s": nan,
        "ours_s": round(seconds, 4),
        "authors_per_s": nan,
        "ours_per_s": round(summary["rows_trained"] / seconds, 4),
        "speedup": nan,
        "batch_size": section["per_device_train_batch_size"],
        "ours_tokens_per_s": round(tokens_per_s, 1),
        "ours_peak_gib": peak_gib(device),
        "agreement": nan,
        "agreement_what": "no authors' way (the paper trains no such method)",
        "params": params,
        "ours_mfu": mfu(params, tokens_per_s),
        "epochs": section["num_train_epochs"],
        "rows_per_pair": round(summary["rows_trained"] / rows, 4),  # KTO 2, RLOO its prompts
    }


def bench_methods(stages, methods: dict, start: str, data: str, rows: int, device: str, judge):
    """The rows of every method stage in ``stages``; ``judge()`` saves the suite's judge and
    returns its directory (built only when RLOO is timed)."""
    out = []
    for stage, method in STAGES.items():
        if stage not in stages:
            continue
        reward = None
        if method == "rloo":
            path = judge()
            ref = {"path": path, "revision": None, "input": [], "safetensors_only": True}
            reward = {"name": "bench_judge", "kind": "pair", "guard": None, "ref": ref}
        out.append(bench_method(method, methods[method], start, data, rows, device, reward))
    return out


def method_hours(summary, full: dict) -> list[dict]:
    """The full-run estimate's method rows: each method once, its configured epochs over
    ``full["train_rows"]`` pairs (times the rows it makes of a pair: KTO 2, RLOO its share
    of distinct prompts), at the measured rows/s."""
    out = []
    for _, r in summary[summary["stage"].isin(list(STAGES))].iterrows():
        rows = full["train_rows"] * r["rows_per_pair"]
        hours = r["epochs"] * rows / r["ours_per_s"] / 3600
        out.append(
            {
                "plan": f"{METHODS[STAGES[r['stage']]].name}, once (one seed)",
                "way": "ours",
                r["stage"]: round(hours, 2),
                "total_hours": round(hours, 2),
            }
        )
    return out


def save_judge(build, tokenizer, directory: str | Path) -> str:
    """Save the suite's judge (``build()``) with its tokenizer to ``directory``."""
    path = Path(directory)
    build().save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)
