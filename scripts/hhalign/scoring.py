"""Reward-model scoring of (prompt, response) text pairs, batched and length-sorted."""

from __future__ import annotations

import math

import torch
from tqdm.auto import tqdm

from hhalign.batching import length_order, token_batches
from hhalign.io import score_frame


@torch.inference_mode()
def score_pairs(
    model: torch.nn.Module,
    tokenizer,
    prompts: list[str],
    responses: list[str],
    batch_size: int = 16,
    max_length: int | None = None,
    progress: bool = False,
    max_batch_tokens: int | None = None,
) -> tuple[list[float], list[bool]]:
    """Score each pair as ``tokenizer(prompt, response, truncation=True)``, the way the
    OpenAssistant reward model expects; return (scores, truncated flags) in input order.

    Pairs are tokenized once and batched by similar length so little compute goes
    to padding: at most ``batch_size`` pairs and ``max_batch_tokens`` padded tokens
    a batch. Scores stay on the device until the last batch, so the host pads the
    next batch while the device computes. A NaN or infinite score raises, naming
    the row.
    """
    if len(prompts) != len(responses):
        raise ValueError(f"{len(prompts)} prompts but {len(responses)} responses")
    limit = max_length or tokenizer.model_max_length
    enc = tokenizer(prompts, responses, truncation=False).data
    truncated = [len(ids) > limit for ids in enc["input_ids"]]
    long = [i for i, cut in enumerate(truncated) if cut]
    if long:  # the tokenizer's own truncation (longest first) for the few long pairs
        short = tokenizer(
            [prompts[i] for i in long],
            [responses[i] for i in long],
            truncation=True,
            max_length=limit,
        )
        for key, rows in enc.items():
            for j, i in enumerate(long):
                rows[i] = short[key][j]
    order = length_order([len(ids) for ids in enc["input_ids"]])
    device = next(model.parameters()).device
    model.eval()
    pending = []
    spans = token_batches([len(enc["input_ids"][i]) for i in order], batch_size, max_batch_tokens)
    for start, end in tqdm(spans, desc="scoring", disable=not progress):
        idx = order[start:end]
        batch = tokenizer.pad({k: [v[i] for i in idx] for k, v in enc.items()}, return_tensors="pt")
        pending.append((idx, model(**batch.to(device)).logits[:, 0].float()))
    scores = [math.nan] * len(prompts)
    for idx, logits in pending:
        for i, s in zip(idx, logits.cpu().tolist(), strict=True):
            if not math.isfinite(s):
                raise FloatingPointError(f"reward model gave {s} for row {i}: {prompts[i][:80]!r}")
            scores[i] = s
    return scores, truncated


def score_table(model, tokenizer, rows: list[dict], cfg: dict, progress: bool = False):
    """Score response rows under a ``scoring`` config section: one table row per response
    (``io.score_frame``, the builder every judge kind shares)."""
    scores, truncated = score_pairs(
        model,
        tokenizer,
        [r["prompt"] for r in rows],
        [r["response"] for r in rows],
        cfg["batch_size"],
        cfg["max_length"],
        progress=progress,
        max_batch_tokens=cfg["max_batch_tokens"],
    )
    return score_frame(rows, scores, truncated)
