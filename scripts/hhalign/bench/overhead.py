"""The host's cost of one optimizer step: SFT and DPO through the pipeline's own trainers on a
model of negligible FLOPs (1 layer of width 8, a 320-token vocabulary, short rows), so what a
step costs is launching the work, not doing it.

``step_clock`` times every optimizer step (wall and CPU); ``StepProfile`` splits a step into
where it goes (data and collation, forward with the trainer's metrics, backward, clipping,
optimizer, scheduler, callbacks, logging and saving, the token and FLOP counters) by timing
the trainer's own methods, each exclusive of the others it calls.
"""

from __future__ import annotations

import contextlib
import json
import statistics
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from accelerate.optimizer import AcceleratedOptimizer
from accelerate.scheduler import AcceleratedScheduler
from safetensors.torch import load_file
from torch.utils.data import DataLoader
from transformers import OPTConfig, OPTForCausalLM, Trainer, TrainerCallback
from transformers.trainer_callback import CallbackHandler

from accelerate import Accelerator
from hhalign.bench.inputs import training_rows
from hhalign.bench.models import OPT_350M
from hhalign.bpe import train_bpe
from hhalign.models import load_model, load_tokenizer
from hhalign.synthetic import generate_rows
from hhalign.tiny import build_model, policy_tokenizer
from hhalign.train import TrainingRun

# A model whose arithmetic is negligible: what remains of a step is the host's work.
OVERHEAD_OPT = {
    "num_hidden_layers": 1,
    "hidden_size": 8,
    "num_attention_heads": 2,
    "ffn_dim": 16,
    "word_embed_proj_dim": 8,
}
OVERHEAD_VOCAB = 320


class StepClock(TrainerCallback):
    """Wall (``perf_counter``) and CPU (``process_time``) clock at each optimizer step's end."""

    def __init__(self) -> None:
        self.marks: list[tuple[float, float]] = []

    def on_step_begin(self, args, state, control, **kwargs):
        if not self.marks:  # the first step is timed from its start
            self.marks.append((time.perf_counter(), time.process_time()))

    def on_step_end(self, args, state, control, **kwargs):
        self.marks.append((time.perf_counter(), time.process_time()))

    def per_step(self, skip: int) -> dict:
        """Median wall and CPU milliseconds a step, the first ``skip`` steps left out (warm-up)."""
        wall = [b[0] - a[0] for a, b in zip(self.marks, self.marks[1:], strict=False)][skip:]
        cpu = [b[1] - a[1] for a, b in zip(self.marks, self.marks[1:], strict=False)][skip:]
        if not wall:
            raise ValueError(f"no step to time after skipping {skip}: train more rows")
        return {
            "steps_timed": len(wall),
            "wall_ms": 1000 * statistics.median(wall),
            "cpu_ms": 1000 * statistics.median(cpu),
        }


def _targets() -> list[tuple[Any, str, str]]:
    """(owner class, method, category) of the trainer's work in a step."""
    from trl import DPOTrainer, SFTTrainer  # imports trl: only the training stages need it
    from trl.kernels.chunked_logprob import ChunkedLogProbFunction  # imports trl: as above
    from trl.trainer.dpo_trainer import DataCollatorForPreference  # imports trl: as above
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling  # imports trl: as above

    callbacks = ("on_step_begin", "on_step_end", "on_pre_optimizer_step", "on_optimizer_step")
    return [
        (DataLoader, "__iter__", "data: sampler and loader"),
        (Trainer, "get_batch_samples", "data: sampler and loader"),
        (DataCollatorForLanguageModeling, "torch_call", "data: collation"),
        (DataCollatorForPreference, "torch_call", "data: collation"),
        (Trainer, "_get_num_items_in_batch", "data: counting label tokens"),
        (SFTTrainer, "compute_loss", "forward and TRL's metrics"),
        (DPOTrainer, "compute_loss", "forward and TRL's metrics"),
        (ChunkedLogProbFunction, "forward", "TRL's fused LM head, forward"),
        (Accelerator, "backward", "backward"),
        (ChunkedLogProbFunction, "backward", "TRL's fused LM head, backward"),
        (Trainer, "_clip_grad_norm", "gradient clipping"),
        (AcceleratedOptimizer, "step", "optimizer step"),
        (AcceleratedScheduler, "step", "learning-rate scheduler"),
        (torch.nn.Module, "zero_grad", "zero_grad"),
        (Trainer, "floating_point_ops", "FLOP counter"),
        (Trainer, "_track_num_input_tokens", "token counter (num_input_tokens_seen)"),
        (Trainer, "_maybe_log_save_evaluate", "logging and checkpoint checks"),
        *((CallbackHandler, name, "callbacks") for name in callbacks),
    ]


class StepProfile:
    """Seconds spent in each category of ``_targets`` while active, each exclusive of the
    categorised calls it makes (a collator inside the loader counts as collation)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self._stack: list[float] = []  # child seconds of each open call
        self.active = False

    def _wrap(self, fn, category: str):
        def timed(*args, **kwargs):
            if not self.active:
                return fn(*args, **kwargs)
            self._stack.append(0.0)
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent = time.perf_counter() - start
                children = self._stack.pop()
                self.seconds[category] += spent - children
                if self._stack:
                    self._stack[-1] += spent

        return timed

    @contextlib.contextmanager
    def patched(self) -> Iterator[StepProfile]:
        """Every target method timed while the context is open (restored after)."""
        saved = []
        for owner, name, category in _targets():
            original = owner.__dict__.get(name)
            if original is None:
                continue
            saved.append((owner, name, original))
            timed = self._wrap(original, category)
            setattr(
                owner, name, staticmethod(timed) if isinstance(original, staticmethod) else timed
            )
        try:
            yield self
        finally:
            for owner, name, original in saved:
                setattr(owner, name, original)


class ProfileSteps(TrainerCallback):
    """Turns ``profile`` on at the start of step ``skip + 1`` (after warm-up) and off at the
    start of the last step, so every profiled step is whole (its logging included)."""

    def __init__(self, profile: StepProfile, skip: int) -> None:
        self.profile, self.skip = profile, skip
        self.start = self.end = 0.0
        self.steps = 0

    def on_step_begin(self, args, state, control, **kwargs):
        if state.global_step == self.skip and state.max_steps - 1 > self.skip:
            self.profile.active, self.start = True, time.perf_counter()
        elif self.profile.active and state.global_step == state.max_steps - 1:
            self.profile.active, self.end = False, time.perf_counter()
            self.steps = state.global_step - self.skip

    def per_step_ms(self) -> dict[str, float]:
        """Milliseconds a step in each category, and ``other`` (the loop itself and whatever
        no category names)."""
        if not self.steps:
            raise ValueError("no step was profiled: train more rows than the warm-up")
        total = 1000 * (self.end - self.start) / self.steps
        out = {k: 1000 * v / self.steps for k, v in sorted(self.profile.seconds.items())}
        out["other (the loop, uncategorised)"] = total - sum(out.values())
        out["total"] = total
        return out


def overhead_world(root: str, rows: int, seed: int) -> tuple[str, str]:
    """A 1-layer width-8 OPT with its 320-token tokenizer (saved at ``root/policy``) and
    ``rows`` short training rows (``root/rows.parquet``: prompts of 8-24 tokens)."""
    texts = (r["chosen"] for r in generate_rows("harmless-base", "train", 400, seed, 0.0))
    tok = policy_tokenizer(train_bpe(texts, OVERHEAD_VOCAB))
    cfg = OPTConfig(
        **{**OPT_350M, **OVERHEAD_OPT, "vocab_size": len(tok)},
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
    )
    start, data = Path(root) / "policy", Path(root) / "rows.parquet"
    build_model(OPTForCausalLM, cfg, seed).save_pretrained(start)
    tok.save_pretrained(start)
    training_rows(tok, rows, 8, 24, seed).to_parquet(data)
    return str(start), str(data)


WARMUP_STEPS = 3


def lean_switches(device: str) -> dict:
    """The host switches on (``hhalign.switches.HOST_SWITCHES`` off are today's runs): no
    per-step NaN check or token count, foreach AdamW, and on CUDA two collation workers."""
    return {
        "logging_nan_inf_filter": False,
        "include_num_input_tokens_seen": "no",
        "adamw_foreach": True,
        "dataloader_num_workers": 2 if device == "cuda" else 0,
    }


def overhead_section(section: dict, rows: int) -> dict:
    """A stage section for timing steps: one epoch of ``rows`` rows in micro-batches of 8
    grouped by length (the study's), fp32, no checkpoint, logging every 10 steps."""
    return {
        **section,
        "num_train_epochs": 1,
        "max_train_samples": rows,
        "per_device_train_batch_size": 8,
        "gradient_accumulation_steps": 1,
        "train_sampling_strategy": "group_by_length",
        "bf16": False,
        "warmup_steps": 0,
        "save_steps": 10**9,
        "logging_steps": 10,
        "max_length": 128,
        "max_prompt_length": 64,
    }


def train_once(stage: str, section: dict, start: str, data: str, out: str, callbacks=()) -> Any:
    """One training run of ``stage`` (sft or dpo) through the pipeline's ``train_sft`` or
    ``train_dpo``; the trained model in ``out/m``. Returns (trainer, the run's summary)."""
    from hhalign.dpo import train_dpo  # imports trl: only the training stages need it
    from hhalign.sft import train_sft  # imports trl: only the training stages need it

    train = train_sft if stage == "sft" else train_dpo
    run = TrainingRun(
        section, data, start, f"{out}/m", f"{out}/c", adapter_dir=f"{out}/a", callbacks=callbacks
    )
    return train(run)


def weights_diff(a: str, b: str) -> float:
    """Largest absolute difference between two saved models' tensors (0.0: bit-identical)."""
    wa, wb = load_file(f"{a}/model.safetensors"), load_file(f"{b}/model.safetensors")
    if wa.keys() != wb.keys():
        raise ValueError(f"{a} and {b} hold different tensors")
    return max(float((wa[k].double() - wb[k].double()).abs().max()) for k in wa)


def bare_sft_step(section: dict, start: str, data: str, out: str) -> dict:
    """Median CPU and wall ms of an SFT step in a plain PyTorch loop, no trainer: the SFT
    trainer's own batches collated ahead, the model's own loss (no fused LM head, no metrics),
    backward, clipping and foreach AdamW. The floor under the trainer's host work, for
    comparison only (the pipeline trains with TRL's trainer)."""
    from hhalign.sft import sft_trainer  # imports trl: only the training stages need it

    run = TrainingRun(section, data, start, f"{out}/m", f"{out}/c")
    torch.manual_seed(section["seed"])
    model = load_model(start, None, "causal")
    trainer = sft_trainer(run, model, load_tokenizer(start, None))
    batches = [
        {k: v for k, v in b.items() if k in ("input_ids", "attention_mask", "labels")}
        for b in trainer.get_train_dataloader()
    ]
    opt = torch.optim.AdamW(model.parameters(), lr=section["learning_rate"], foreach=True)
    model.train()
    wall, cpu = [], []
    for batch in batches:
        w, c = time.perf_counter(), time.process_time()
        model(**batch).loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), section["max_grad_norm"])
        opt.step()
        opt.zero_grad()
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    return {
        "wall_ms": 1000 * statistics.median(wall[WARMUP_STEPS:]),
        "cpu_ms": 1000 * statistics.median(cpu[WARMUP_STEPS:]),
    }


def profile_run(stage: str, section: dict, start: str, data: str, out: str) -> dict[str, float]:
    """Milliseconds a step in each part of the trainer's work (``StepProfile``), one run."""
    profile = StepProfile()
    steps = ProfileSteps(profile, WARMUP_STEPS)
    with profile.patched():
        train_once(stage, section, start, data, out, (steps,))
    return steps.per_step_ms()


def bench_step_overhead(
    cfg: dict, sections: dict[str, dict], device: str, root: str, progress=print
) -> tuple[list[dict], list[dict]]:
    """The host's cost of an SFT and a DPO step, today's switches (before) against
    ``lean_switches`` (after), in one process: ``cfg["overhead_repeats"]`` runs of each, the
    two ways alternating (before first, then after first), medians of the per-step medians;
    the weights of the first pair of runs compared; then one profiled run of each way. One
    CPU thread (restored after). Returns (a row per stage, a row per stage and part of a step)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a second thread only adds its start-up to tiny ops
    try:
        return _step_overhead(cfg, sections, device, root, progress)
    finally:
        torch.set_num_threads(threads)


def _step_overhead(cfg: dict, sections: dict, device: str, root: str, progress) -> tuple:
    """``bench_step_overhead`` at one thread."""
    n, repeats = cfg["overhead_rows"], cfg["overhead_repeats"]
    start, data = overhead_world(root, n, cfg["seed"])
    ways = {"before": {}, "after": lean_switches(device)}
    timed: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in range(repeats):
        for stage, section in sections.items():
            for way in ("before", "after") if r % 2 == 0 else ("after", "before"):
                clock = StepClock()
                sec = {**overhead_section(section, n), **ways[way]}
                train_once(stage, sec, start, data, f"{root}/{stage}-{way}-{r}", (clock,))
                timed[stage, way].append(clock.per_step(WARMUP_STEPS))
    bare = bare_sft_step(overhead_section(sections["sft"], n), start, data, f"{root}/bare")
    summary, parts = [], []
    for stage, section in sections.items():
        summary.append(_summary_row(stage, timed, ways, bare, root, repeats))
        progress(summary[-1])
        profiles = {
            way: profile_run(
                stage,
                {**overhead_section(section, n), **ways[way]},
                start,
                data,
                f"{root}/{stage}-{way}-profile",
            )
            for way in ways
        }
        for part in sorted(set(profiles["before"]) | set(profiles["after"]), key=_part_order):
            parts.append(
                {
                    "stage": stage,
                    "part": part,
                    **{f"{way}_ms": round(profiles[way].get(part, 0.0), 3) for way in ways},
                }
            )
    return summary, parts


def _part_order(part: str) -> tuple[int, str]:
    """Parts of a step in the table's order: named parts by name, then other, then total."""
    return ({"total": 2}.get(part, 1 if part.startswith("other") else 0), part)


def _summary_row(stage: str, timed: dict, ways: dict, bare: dict, root: str, repeats: int) -> dict:
    """One stage's row of step_overhead.csv: median ms a step before and after, their ratio,
    the weights' largest difference and the plain loop's floor (SFT only)."""
    med = {
        (way, k): statistics.median(t[k] for t in timed[stage, way])
        for way in ways
        for k in ("wall_ms", "cpu_ms")
    }
    return {
        "stage": stage,
        "before_wall_ms": round(med["before", "wall_ms"], 3),
        "after_wall_ms": round(med["after", "wall_ms"], 3),
        "before_cpu_ms": round(med["before", "cpu_ms"], 3),
        "after_cpu_ms": round(med["after", "cpu_ms"], 3),
        "after_over_before_wall": round(med["after", "wall_ms"] / med["before", "wall_ms"], 3),
        "after_over_before_cpu": round(med["after", "cpu_ms"] / med["before", "cpu_ms"], 3),
        "weights_max_diff": weights_diff(f"{root}/{stage}-before-0/m", f"{root}/{stage}-after-0/m"),
        # SFT in a plain PyTorch loop, no trainer (``bare_sft_step``); DPO: not built.
        "bare_loop_cpu_ms": round(bare["cpu_ms"], 3) if stage == "sft" else None,
        "bare_loop_wall_ms": round(bare["wall_ms"], 3) if stage == "sft" else None,
        "steps_timed": timed[stage, "before"][0]["steps_timed"],
        "repeats": repeats,
        "after_switches": json.dumps(ways["after"], sort_keys=True),
    }
