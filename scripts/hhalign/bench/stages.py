"""Each stage timed the authors' way and ours on the same inputs, with its equality check
(same greedy tokens, same scores, same loss on a fixed batch)."""

from __future__ import annotations

import gc
import tempfile

import torch

from hhalign.bench.timing import mfu, pair_row, peak_gib, timed
from hhalign.generation import generate
from hhalign.scoring import score_pairs
from hhalign.train import TrainingRun


def bench_generation(model, tokenizer, prompts: list[str], max_new: int, batch: int, device):
    """Per-prompt greedy loop vs our batched length-sorted generation; token agreement."""
    generate(model, tokenizer, prompts[:2], 2, 2)  # warm-up: kernels, allocator
    authors_s, one = timed(lambda: generate(model, tokenizer, prompts, max_new, 1), device)
    ours_s, batched = timed(lambda: generate(model, tokenizer, prompts, max_new, batch), device)
    equal = sum(a.new_ids == b.new_ids for a, b in zip(one, batched, strict=True))
    return pair_row(
        "generation",
        "prompts",
        len(prompts),
        authors_s,
        ours_s,
        batch_size=batch,
        agreement=round(equal / len(prompts), 4),
        agreement_what="share of prompts with identical greedy tokens",
    )


def bench_scoring(
    model,
    tokenizer,
    prompts: list[str],
    responses: list[str],
    batch: int,
    device: str,
    max_tokens: int | None = None,
):
    """Per-pair loop vs our batched length-sorted scoring; largest score difference."""
    score_pairs(model, tokenizer, prompts[:2], responses[:2], 2)  # warm-up
    authors_s, (one, _) = timed(
        lambda: score_pairs(model, tokenizer, prompts, responses, 1), device
    )
    ours_s, (batched, _) = timed(
        lambda: score_pairs(
            model, tokenizer, prompts, responses, batch, max_batch_tokens=max_tokens
        ),
        device,
    )
    diff = max(abs(a - b) for a, b in zip(one, batched, strict=True))
    return pair_row(
        "scoring",
        "pairs",
        len(prompts),
        authors_s,
        ours_s,
        batch_size=batch,
        max_batch_tokens=max_tokens,
        agreement=round(diff, 7),
        agreement_what="largest |score difference|",
    )


def authors_section(section: dict) -> dict:
    """The authors' training loop: micro-batch 2 x accumulation 4, random order, fp32."""
    return {
        **section,
        "per_device_train_batch_size": 2,
        "gradient_accumulation_steps": 4,
        "train_sampling_strategy": "random",
        "bf16": False,
    }


def our_section(section: dict, device: str) -> dict:
    """Ours: micro-batch 8 (the same effective batch), grouped by length, bf16 on a GPU."""
    return {
        **section,
        "per_device_train_batch_size": 8,
        "gradient_accumulation_steps": 1,
        "train_sampling_strategy": "group_by_length",
        "gradient_checkpointing": False,
        "bf16": device == "cuda",
    }


def bench_section(section: dict, rows: int) -> dict:
    """A training section cut to ``rows`` examples, one epoch, no checkpoints during timing.

    Logging keeps the section's interval: logging every step cost ~100 ms a step on
    an H100 (measured), more than the step itself, for both ways alike.
    """
    return {
        **section,
        "num_train_epochs": 1,
        "max_train_samples": rows,
        "warmup_steps": 0,
        "save_steps": 10**9,
    }


def padding_share(trainer) -> tuple[int, int]:
    """(real, computed) tokens over one pass of the trainer's own dataloader."""
    real = computed = 0
    for batch in trainer.get_train_dataloader():
        mask = batch["attention_mask"]
        real += int(mask.sum())
        computed += mask.numel()
    return real, computed


@torch.no_grad()
def fixed_batch_loss(trainer, micro: int, rows: int = 8) -> float:
    """Loss on the first ``rows`` examples, computed as micro-batches of ``micro``.

    SFT: token-level mean over the whole batch (transformers normalises accumulated
    micro-batches by the batch's token count, so 4 x 2 and 1 x 8 are the same sum).
    DPO: the mean of per-pair losses (equal micro-batches, so a mean of means).
    """
    model = trainer.model
    model.eval()
    examples = [trainer.train_dataset[i] for i in range(rows)]
    chunks = [trainer.data_collator(examples[i : i + micro]) for i in range(0, rows, micro)]
    device = next(model.parameters()).device
    chunks = [{k: v.to(device) for k, v in c.items()} for c in chunks]
    if "labels" in chunks[0]:
        n = sum(int((c["labels"][:, 1:] != -100).sum()) for c in chunks)
        total = sum(trainer.compute_loss(model, c, num_items_in_batch=n) for c in chunks)
        return float(total)
    return float(sum(trainer.compute_loss(model, c) for c in chunks) / len(chunks))


def bench_training(stage: str, section: dict, start: str, data: str, rows: int, device: str):
    """Train ``rows`` examples the authors' way and ours; throughput, padding, peak memory."""
    from hhalign.dpo import train_dpo  # imports trl: the other stages never need it
    from hhalign.sft import train_sft  # imports trl: the other stages never need it

    results = {}
    for way, sec in (("authors", authors_section), ("ours", lambda s: our_section(s, device))):
        cfg = bench_section(sec(section), rows)
        with tempfile.TemporaryDirectory() as tmp:
            if device == "cuda":
                torch.cuda.reset_peak_memory_stats()
            train = train_sft if stage == "sft" else train_dpo
            trainer, summary = train(
                TrainingRun(cfg, data, start, f"{tmp}/m", f"{tmp}/c", adapter_dir=f"{tmp}/a")
            )
            real, computed = padding_share(trainer)
            results[way] = {
                "seconds": summary["wall_time_s"],
                "tokens": real,
                "real_share": real / computed,
                "peak_gib": peak_gib(device),
                "params": sum(p.numel() for p in trainer.model.parameters()),
            }
        if way == "authors":  # free its model and optimizer before ours is measured
            del trainer
            gc.collect()
            if device == "cuda":
                torch.cuda.empty_cache()
    # The same weights, batched both ways: 4 micro-batches of 2 against one batch of 8.
    loss_diff = abs(fixed_batch_loss(trainer, 2) - fixed_batch_loss(trainer, 8))
    del trainer
    a, o = results["authors"], results["ours"]
    return pair_row(
        f"{stage}_training",
        "rows",
        rows,
        a["seconds"],
        o["seconds"],
        batch_size=8,
        authors_tokens_per_s=round(a["tokens"] / a["seconds"], 1),
        ours_tokens_per_s=round(o["tokens"] / o["seconds"], 1),
        authors_real_token_share=round(a["real_share"], 4),
        ours_real_token_share=round(o["real_share"], 4),
        authors_peak_gib=a["peak_gib"],
        ours_peak_gib=o["peak_gib"],
        agreement=loss_diff,
        agreement_what="|fixed-batch loss, 4 x 2 vs 1 x 8|",
        params=o["params"],
        ours_mfu=mfu(o["params"], o["tokens"] / o["seconds"]),
    )
