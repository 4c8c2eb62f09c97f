"""Table 1's summary rows over training seeds: each metric's mean over seeds, its spread
across them and an interval from a bootstrap over prompts and seeds together."""

from __future__ import annotations

import numpy as np
import pandas as pd

from hhalign import stats
from hhalign.metrics import METRICS, TABLE1, thresholds
from hhalign.paired import per_prompt, score_arrays


def across_seeds(scores: pd.DataFrame, t1: pd.DataFrame, variants: list[str], cfg: dict):
    """Table 1's summary row of each (protocol, model) over its seeds (``seed`` = "all"):
    each metric's mean over seeds, its standard deviation across seeds (``<m>_sd``; NaN
    for Base, which has one run), and a 95% percentile interval from a bootstrap over
    prompts and seeds together (``<m>_lo``, ``<m>_hi``). ``cfg`` as for ``claims_table``."""
    limits = thresholds(cfg["metrics"])
    n = scores["protocol"].nunique() * len(variants) * len(TABLE1)
    streams = iter(np.random.SeedSequence([cfg["seed"], 1]).spawn(n))
    rows = []
    for protocol, sub in scores.groupby("protocol", sort=False):
        arrays = score_arrays(sub, variants)
        for variant in variants:
            per_seed = t1[(t1["protocol"] == protocol) & (t1["model"] == variant)]
            row = {"protocol": protocol, "model": variant, "seed": "all"}
            for col in TABLE1:
                weights = METRICS[col].weights
                values = per_prompt(arrays, col, variant, limits)
                if len(per_seed) == 1:  # Base: one run, its arrays repeat it for every seed
                    values = {s: v[:1] for s, v in values.items()}
                lo, hi = stats.bootstrap_interval(
                    values, weights, cfg["bootstrap_draws"], next(streams)
                )
                row |= {
                    col: float(per_seed[col].mean()),
                    f"{col}_lo": lo,
                    f"{col}_hi": hi,
                    f"{col}_sd": float(per_seed[col].std(ddof=1)),
                }
            for col in ("n_harmful", "n_helpful"):
                row[col] = int(per_seed[col].iloc[0])
            for col in ("empty_harmful", "empty_helpful", "empty_responses"):
                row[col] = int(per_seed[col].sum())
            row["n_seeds"] = len(per_seed)
            rows.append(row)
    return pd.DataFrame(rows)


def with_seed_summary(scores: pd.DataFrame, t1: pd.DataFrame, variants: list[str], cfg: dict):
    """Table 1 with its across-seed rows after each model's per-seed rows (unchanged when
    the run has one seed)."""
    if "seed" not in t1:
        return t1
    summary = across_seeds(scores, t1, variants, cfg)
    order = {v: i for i, v in enumerate(variants)}
    both = pd.concat([t1, summary], ignore_index=True)
    both["_p"] = both["protocol"].map({p: i for i, p in enumerate(scores["protocol"].unique())})
    both["_m"] = both["model"].map(order)
    both["_s"] = both["seed"].astype(str) == "all"
    return both.sort_values(["_p", "_m", "_s"], kind="stable").drop(columns=["_p", "_m", "_s"])
