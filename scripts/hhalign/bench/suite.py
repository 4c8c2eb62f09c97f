"""The suite: every stage pair in one process, the batch-size sweep, the full-run estimate."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from hhalign.bench.inputs import generation_inputs, scoring_inputs, training_rows
from hhalign.bench.methods import STAGES, bench_methods, method_hours, save_judge
from hhalign.bench.models import bench_tokenizers, build_judge, build_policy
from hhalign.bench.overhead import bench_step_overhead
from hhalign.bench.stages import bench_generation, bench_scoring, bench_training
from hhalign.bench.timing import device_name, environment, peak_gib, timed
from hhalign.generation import generate
from hhalign.models import best_device
from hhalign.scoring import score_pairs


def time_sizes(stage: str, run: Callable[[int], Any], n: int, sizes, device, progress):
    """One row per batch size: seconds for ``run(size)`` over ``n`` items, peak memory."""
    run(2)  # warm-up: kernels, allocator
    rows = []
    for size in sizes:
        if device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        seconds, _ = timed(lambda b=size: run(b), device)
        rows.append(
            {
                "stage": stage,
                "batch_size": size,
                "n": n,
                "seconds": round(seconds, 4),
                "per_s": round(n / seconds, 3),
                "peak_gib": peak_gib(device),
            }
        )
        progress(rows[-1])
    return rows


def sweep_batches(cfg: dict, sizes: list[int], progress=print) -> pd.DataFrame:
    """Our generation and scoring alone at each batch size: seconds, items/s, peak memory.

    For choosing ``generation.batch_size`` and ``scoring.batch_size`` on a new device;
    the inputs are the suite's own.
    """
    device = best_device()
    p_tok, j_tok = bench_tokenizers(cfg["seed"])
    rows = []
    if "generation" in cfg["stages"]:
        prompts = generation_inputs(cfg, p_tok)
        policy = build_policy(cfg["size"], p_tok, cfg["seed"]).to(device)
        run = partial(generate, policy, p_tok, prompts, cfg["max_new_tokens"])
        rows += time_sizes("generation", run, len(prompts), sizes, device, progress)
        del policy
    if "scoring" in cfg["stages"]:
        prompts, responses = scoring_inputs(cfg, j_tok)
        judge = build_judge(cfg["size"], j_tok, cfg["seed"]).to(device)
        run = partial(score_pairs, judge, j_tok, prompts, responses)
        rows += time_sizes("scoring", run, len(prompts), sizes, device, progress)
        del judge
    return pd.DataFrame(rows).assign(device=device_name(), size=cfg["size"])


def run_suite(
    cfg: dict,
    sft: dict,
    dpo: dict,
    generation: dict,
    scoring: dict,
    progress=print,
    methods: dict | None = None,
):
    """Every pair of the suite under the ``bench`` config section, and each method's
    training (``methods``: config methods, for the ``{method}_training`` stages); returns
    (summary, env)."""
    device = best_device()
    p_tok, j_tok = bench_tokenizers(cfg["seed"])
    lo, hi = cfg["prompt_tokens"]
    rows = []
    stages = cfg["stages"]
    if "generation" in stages:
        policy = build_policy(cfg["size"], p_tok, cfg["seed"]).to(device)
        prompts = generation_inputs(cfg, p_tok)
        rows.append(
            bench_generation(
                policy, p_tok, prompts, cfg["max_new_tokens"], generation["batch_size"], device
            )
        )
        progress(rows[-1])
        del policy
    if "scoring" in stages:
        judge = build_judge(cfg["size"], j_tok, cfg["seed"]).to(device)
        prompts, responses = scoring_inputs(cfg, j_tok)
        batch, max_tokens = scoring["batch_size"], scoring["max_batch_tokens"]
        rows.append(bench_scoring(judge, j_tok, prompts, responses, batch, device, max_tokens))
        progress(rows[-1])
        del judge
    with tempfile.TemporaryDirectory() as tmp:
        start, data = Path(tmp) / "policy", Path(tmp) / "rows.parquet"
        if {"sft_training", "dpo_training", *STAGES} & set(stages):
            build_policy(cfg["size"], p_tok, cfg["seed"]).save_pretrained(start)
            p_tok.save_pretrained(start)
            training_rows(p_tok, cfg["train_rows"], lo, hi, cfg["seed"]).to_parquet(data)
        for stage, section in (("sft", sft), ("dpo", dpo)):
            if f"{stage}_training" in stages:
                rows.append(
                    bench_training(stage, section, str(start), str(data), cfg["train_rows"], device)
                )
                progress(rows[-1])
        judge = partial(save_judge, partial(build_judge, cfg["size"], j_tok, cfg["seed"]), j_tok)
        for row in bench_methods(
            stages,
            methods or {},
            str(start),
            str(data),
            cfg["train_rows"],
            device,
            partial(judge, Path(tmp) / "judge"),
        ):
            rows.append(row)
            progress(row)
    env = {**environment(), "size": cfg["size"]}
    return pd.DataFrame(rows).assign(device=env["device"], size=cfg["size"]), env


def step_overhead(cfg: dict, sft: dict, dpo: dict, progress=print) -> dict | None:
    """The suite's ``step_overhead`` stage (``bench_step_overhead``) when ``cfg["stages"]``
    names it: {"summary": one row per training stage, "parts": where a step goes}; else None."""
    if "step_overhead" not in cfg["stages"]:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        summary, parts = bench_step_overhead(
            cfg, {"sft": sft, "dpo": dpo}, best_device(), tmp, progress
        )
    return {"summary": pd.DataFrame(summary), "parts": pd.DataFrame(parts)}


PAPER_PLAN = {"paper protocol": {"sft_epochs": 2, "dpo_epochs": 1, "seeds": 1}}


def full_run_hours(summary: pd.DataFrame, full: dict, plans: dict | None = None) -> pd.DataFrame:
    """Estimated hours of whole runs on this device, the authors' way and ours, one job at
    a time, at the measured rows per second.

    A plan (``plans``: name -> sft_epochs, dpo_epochs, seeds, optional samples) trains per
    seed SFT for its epochs and DPO twice (from Base and from SFT) for its epochs over
    ``full["train_rows"]`` rows, and generates and scores ``full["eval_items"]`` items (4
    variants) with Base once and each trained variant once per seed, ``samples`` responses
    an item (generation.samples: cost scales with it); the judge also scores the dataset's
    chosen answer of each prompt once (the win rate's reference). Training rows are assumed
    to have the benchmark's length distribution. Without plans: the paper protocol's run.
    """
    s = summary.set_index("stage")
    rows = []
    for name, plan in (plans or PAPER_PLAN).items():
        seeds, rows_n = plan["seeds"], full["train_rows"]
        evals = full["eval_items"] * (1 + 3 * seeds) / 4 * plan.get("samples", 1)
        work = {
            "sft_training": seeds * plan["sft_epochs"] * rows_n,
            "dpo_training": seeds * 2 * plan["dpo_epochs"] * rows_n,
            "generation": evals,
            "scoring": evals + full["eval_items"] / 4,
        }
        for way in ("authors", "ours"):
            hours = {
                k: n / s.loc[k, f"{way}_per_s"] / 3600 for k, n in work.items() if k in s.index
            }
            rows.append(
                {
                    "plan": name,
                    "way": way,
                    **{k: round(v, 2) for k, v in hours.items()},
                    "total_hours": round(sum(hours.values()), 2),
                }
            )
    return pd.DataFrame(rows + method_hours(summary, full))


def study_plans(paper: dict, corrected: dict, seeds: int = 5, samples: int = 4) -> dict:
    """The estimate's plans from the two protocols' ``sft``, ``dpo`` (and ``generation``)
    sections: each protocol, the corrected protocol with ``seeds`` seeds (presets/seeds.yaml)
    and with ``samples`` sampled responses per prompt (generation.samples)."""

    def plan(view: dict, n: int, k: int | None = None) -> dict:
        return {
            "sft_epochs": view["sft"]["num_train_epochs"],
            "dpo_epochs": view["dpo"]["num_train_epochs"],
            "seeds": n,
            "samples": k or view.get("generation", {}).get("samples", 1),
        }

    return {
        "paper protocol": plan(paper, 1),
        "corrected protocol": plan(corrected, 1),
        f"corrected protocol, {seeds} seeds": plan(corrected, seeds),
        f"corrected protocol, {samples} samples a prompt": plan(corrected, 1, samples),
    }
