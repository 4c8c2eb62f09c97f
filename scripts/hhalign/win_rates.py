"""Win rates against the dataset's chosen answers, per judge, protocol, model and prompt set,
with an interval that holds near 0 and 100% (``win_interval``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from hhalign import metrics, stats
from hhalign.metrics import SET_WIN
from hhalign.paired import per_prompt, with_chosen
from hhalign.runs import CHOSEN, PROMPT_SETS


def win_interval(w: np.ndarray, draws: int, stream) -> tuple[float, float]:
    """95% interval of a win rate (%) from per-prompt wins ``w[seed, prompt]`` in [0, 1].

    One seed: the boundary-corrected Wilson interval of the mean win over the prompts (a
    tie's 1/2 has less variance than a coin, so this is conservative with ties); it never
    collapses at 0 or 100%, where a percentile bootstrap covers about 0.62 (2% wins, 50
    prompts) and gives [0, 0] when every win is 0. Several seeds: the wider of that and
    the paired bootstrap over prompts and seeds (which carries the seed variance)."""
    n = w.shape[1]
    lo, hi = metrics.wilson_boundary(100.0 * float(w.mean()), n)
    if w.shape[0] > 1:
        b_lo, b_hi = stats.bootstrap_interval({"s": w}, {"s": 100.0}, draws, stream)
        lo, hi = min(lo, b_lo), max(hi, b_hi)
    rate = 100.0 * float(w.mean())  # rounding can put a limit a hair past the estimate
    return min(max(lo, 0.0), rate), max(min(hi, 100.0), rate)


def win_rate_table(
    scores: pd.DataFrame, chosen: pd.DataFrame, variants: list[str], cfg: dict
) -> pd.DataFrame:
    """Per judge (a ``judge`` column, else one), protocol, model and prompt set: the win rate
    (%) over the dataset's chosen answers, ties counted half, with its 95% interval
    (``win_interval``), and the share of ties. ``cfg``: the claims
    section (draws, seed)."""
    if "judge" not in scores:
        scores, chosen = scores.assign(judge=""), chosen.assign(judge="")
    keys = list(scores.groupby(["judge", "protocol"], sort=False).groups)
    streams = iter(np.random.SeedSequence([cfg["seed"], 3]).spawn(len(keys) * len(variants) * 2))
    rows = []
    for judge, protocol in keys:
        sub = scores[(scores["judge"] == judge) & (scores["protocol"] == protocol)]
        ref = chosen[(chosen["judge"] == judge) & (chosen["protocol"] == protocol)]
        arrays = with_chosen(sub, ref, variants)
        for variant in variants:
            for prompt_set in PROMPT_SETS:
                stream = next(streams)
                if (variant, prompt_set) not in arrays or (CHOSEN, prompt_set) not in arrays:
                    continue
                w = per_prompt(arrays, SET_WIN[prompt_set], variant, {})[prompt_set]
                if variant == "base":
                    w = w[:1]  # Base is one run; its arrays repeat it for every seed
                lo, hi = win_interval(w, cfg["bootstrap_draws"], stream)
                rows.append(
                    {
                        "judge": judge,
                        "protocol": protocol,
                        "model": variant,
                        "prompt_set": prompt_set,
                        "win_rate": 100.0 * float(w.mean()),
                        "lo": lo,
                        "hi": hi,
                        "ties": 100.0 * float((w == 0.5).mean()),
                        "prompts": w.shape[1],
                        "seeds": w.shape[0],
                    }
                )
    return pd.DataFrame(rows)
