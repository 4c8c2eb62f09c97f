"""The suite's inputs: texts, prompts and training rows of chosen token lengths, cut from
synthetic dialogues with a seeded generator."""

from __future__ import annotations

import random

import pandas as pd

from hhalign.synthetic import generate_rows


def text_windows(tokenizer, n: int, lo: int, hi: int, seed: int) -> list[str]:
    """``n`` texts of ``lo``-``hi`` tokens (uniform), cut from synthetic dialogues."""
    rng = random.Random(seed)
    rows = generate_rows("helpful-base", "test", 300, seed, 0.0)
    stream = tokenizer(" ".join(r["chosen"] for r in rows), add_special_tokens=False)["input_ids"]
    out = []
    for _ in range(n):
        length = rng.randint(lo, hi)
        start = rng.randrange(0, len(stream) - length)
        out.append(tokenizer.decode(stream[start : start + length]))
    return out


def prompts_of(tokenizer, n: int, lo: int, hi: int, seed: int) -> list[str]:
    """Prompts of realistic lengths, ending with the assistant cue."""
    return [t + "\n\nAssistant:" for t in text_windows(tokenizer, n, lo, hi, seed)]


def training_rows(tokenizer, n: int, lo: int, hi: int, seed: int) -> pd.DataFrame:
    """SFT and DPO columns for ``n`` rows: prompts of ``lo``-``hi`` tokens, 10-60 token replies."""
    prompts = prompts_of(tokenizer, n, lo, hi, seed)
    chosen = text_windows(tokenizer, n, 10, 60, seed + 1)
    rejected = text_windows(tokenizer, n, 10, 60, seed + 2)
    return pd.DataFrame(
        {
            "prompt": prompts,
            "completion": [" " + c for c in chosen],
            "text": [p + " " + c for p, c in zip(prompts, chosen, strict=True)],
            "chosen": [" " + c for c in chosen],
            "rejected": [" " + r for r in rejected],
            "chosen_text": [p + " " + c for p, c in zip(prompts, chosen, strict=True)],
            "rejected_text": [p + " " + r for p, r in zip(prompts, rejected, strict=True)],
        }
    )


def generation_inputs(cfg: dict, tokenizer) -> list[str]:
    """The suite's generation prompts: ``cfg["prompts"]`` of ``cfg["prompt_tokens"]`` tokens."""
    lo, hi = cfg["prompt_tokens"]
    return prompts_of(tokenizer, cfg["prompts"], lo, hi, cfg["seed"])


def scoring_inputs(cfg: dict, tokenizer) -> tuple[list[str], list[str]]:
    """The suite's (prompts, responses) to score: ``cfg["pairs"]`` pairs."""
    lo, hi = cfg["prompt_tokens"]
    prompts = prompts_of(tokenizer, cfg["pairs"], lo, hi, cfg["seed"])
    responses = text_windows(tokenizer, cfg["pairs"], 5, cfg["max_new_tokens"], cfg["seed"] + 3)
    return prompts, responses
