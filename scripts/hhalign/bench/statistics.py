"""Timing of the claims statistics on simulated scores (``python -m hhalign.bench --claims``):
not part of the suite the rule runs, so editing the statistics does not rerun it."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import torch

from hhalign.bench.timing import device_name
from hhalign.claims import claims_table


def time_claims(prompts: int, seeds: int, cfg: dict) -> dict:
    """Seconds of the claims statistics (every pair, metric and claim, with the configured
    bootstrap and permutation draws) on simulated scores of the four models: ``prompts`` per
    prompt set, ``seeds`` seeds. ``cfg`` is the ``claims`` section with ``metrics`` added."""
    rng = np.random.default_rng(0)
    variants = ["base", "sft", "dpo", "sft_dpo"]
    frames = []
    for k, variant in enumerate(variants):
        for seed in range(1 if variant == "base" else seeds):
            for prompt_set in ("harmful", "helpful"):
                frames.append(
                    pd.DataFrame(
                        {
                            "protocol": "p",
                            "variant": variant,
                            "seed": seed,
                            "prompt_set": prompt_set,
                            "id": [f"{prompt_set}-{i}" for i in range(prompts)],
                            "score": rng.normal(-3 + 0.3 * k, 1.5, prompts),
                        }
                    )
                )
    scores = pd.concat(frames, ignore_index=True)
    start = time.perf_counter()
    claims, pairs = claims_table(scores, variants, cfg)
    seconds = time.perf_counter() - start
    return {
        "prompts": prompts,
        "seeds": seeds,
        "bootstrap_draws": cfg["bootstrap_draws"],
        "permutation_draws": cfg["permutation_draws"],
        "comparisons": len(pairs),
        "claims": len(claims),
        "seconds": round(seconds, 2),
        "device": device_name(),
        "threads": torch.get_num_threads(),
    }
