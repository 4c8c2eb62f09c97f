"""Every pair of models compared on every metric: the difference, its paired interval and
test, the multiplicity adjustment and each row's level, the minimum detectable difference,
and the sample-size row of a claim that is not settled.

A comparison (metric, A, B) gives the difference A - B, a paired bootstrap interval, a
p-value (exact for a rate with one seed; a sign-flip permutation test otherwise), a
seed-level t-test with several seeds, Holm-adjusted within the metric's family of model
pairs (or the claims', or Benjamini-Hochberg across experiments), the probability of
superiority of A's scores, the minimum detectable difference and how many seeds agree in
sign. Each comparison draws from its own random stream (``SeedSequence.spawn`` from the
configured seed, in a fixed order): Monte-Carlo errors are independent across a family, and
the same inputs still give the same bytes.
"""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np
import pandas as pd
from scipy import stats as sps

from hhalign import power, stats
from hhalign.metrics import METRICS, RATES, thresholds
from hhalign.paired import available, per_prompt


def p_value(metric: str, a: dict, b: dict, draws: int, seed) -> tuple[float, str]:
    """(p, test): exact for a rate with one seed, else a sign-flip permutation test.

    With one greedy response per prompt the values are 0/1 labels: McNemar for one prompt
    set, the exact sign-flip distribution of the labels for CAS. With sampled decoding a
    prompt's value is its mean over k samples (0, 1/k, ..., 1), which label tests would
    miscount: the exact sign-flip distribution of the values themselves on that lattice."""
    weights, labelled = METRICS[metric].weights, METRICS[metric].thresholded
    d = {s: a[s] - b[s] for s in weights}
    if labelled and next(iter(a.values())).shape[0] == 1:
        if not stats.labels_only(*(a[s] for s in weights), *(b[s] for s in weights)):
            p = stats.sign_flip_exact(d, weights)
            if p is not None:
                return p, "exact sign-flip"
        elif len(weights) == 1:
            (s,) = weights
            return stats.mcnemar_exact(a[s][0], b[s][0]), "exact McNemar"
        else:
            return stats.sign_flip_exact_labels(d, weights), "exact sign-flip"
    return stats.sign_flip_p(d, weights, draws, seed), "sign-flip permutation"


LENGTH_COLUMNS = (
    "length_adjusted",
    "length_adjusted_low",
    "length_adjusted_high",
    "length_adjusted_log",
    "length_nonlinear_p",
    "length_extrapolates",
)


def length_columns(lengths: dict | None, metric: str, a: str, b: str, d: dict) -> dict:
    """A mean-score comparison's length sensitivity (``stats.length_adjusted`` and
    ``stats.length_checks``); NaN for rates and where lengths are not known."""
    weights, spec = METRICS[metric].weights, METRICS[metric]
    if lengths is None or spec.thresholded or spec.versus_chosen or len(weights) != 1:
        return dict.fromkeys(LENGTH_COLUMNS, np.nan)
    ((s, w),) = weights.items()
    len_a, len_b = lengths[(a, s)].mean(axis=(0, 2)), lengths[(b, s)].mean(axis=(0, 2))
    dy = w * d[s].mean(axis=0)
    est, low, high = stats.length_adjusted(dy, len_a - len_b)
    return {
        "length_adjusted": est,
        "length_adjusted_low": low,
        "length_adjusted_high": high,
        **stats.length_checks(dy, len_a, len_b),
    }


def compare(
    arrays: dict,
    metric: str,
    a: str,
    b: str,
    limits: dict,
    cfg: dict,
    stream,
    lengths: dict | None = None,
) -> dict:
    """Every statistic of one comparison A - B on ``metric`` (before adjustment; the MDD
    follows at the row's own level, ``with_mdd``). ``stream``: this comparison's
    ``SeedSequence``."""
    weights = METRICS[metric].weights
    va, vb = per_prompt(arrays, metric, a, limits), per_prompt(arrays, metric, b, limits)
    d = {s: va[s] - vb[s] for s in weights}
    boot, flips = stream.spawn(2)
    diff = stats.difference(d, weights) + 0.0  # + 0.0: no "-0" in the tables
    lo, hi = (x + 0.0 for x in stats.bootstrap_interval(d, weights, cfg["bootstrap_draws"], boot))
    p, test = p_value(metric, va, vb, cfg["permutation_draws"], flips)
    per_seed = [
        stats.difference({s: x[i : i + 1] for s, x in d.items()}, weights)
        for i in range(next(iter(d.values())).shape[0])
    ]
    p_seed = seed_level_p(per_seed)
    scores_a = np.concatenate([arrays[(a, s)].ravel() for s in weights])
    scores_b = np.concatenate([arrays[(b, s)].ravel() for s in weights])
    return {
        "metric": metric,
        "a": a,
        "b": b,
        "difference": diff,
        "ci_low": lo,
        "ci_high": hi,
        "p": p,
        "test": test,
        "superiority": stats.superiority(scores_a, scores_b),
        "seeds": len(per_seed),
        "seeds_agree": int(sum(np.sign(x) == np.sign(diff) and x != 0 for x in per_seed)),
        "p_seed": p_seed,
        "n_prompts": "/".join(str(d[s].shape[1]) for s in weights),
        "mdd_note": stats.mdd_note(d, weights),
        **length_columns(lengths, metric, a, b, d),
        "_d": d,
    }


def seed_level_p(per_seed: list[float]) -> float:
    """Two-sided one-sample t-test (k - 1 df) of the k per-seed differences against 0: the
    test of the method, with training seeds as the units (NaN with one seed). Every seed the
    same non-zero difference: p = 0; all zero: p = 1."""
    x = np.asarray(per_seed, dtype=float)
    if x.size < 2:
        return math.nan
    if np.ptp(x) == 0:
        return 0.0 if x[0] != 0 else 1.0
    return float(sps.ttest_1samp(x, 0.0).pvalue)


def pairs_table(
    arrays: dict,
    variants: list[str],
    cfg: dict,
    limits: dict,
    stream,
    lengths: dict | None = None,
) -> pd.DataFrame:
    """Every metric x every pair of models (in ``variants`` order), Holm within each metric;
    each comparison on its own random stream spawned from ``stream``; ``lengths`` (response
    lengths, as ``arrays``) adds the length-adjusted difference of mean scores."""
    pairs = list(combinations(variants, 2))
    streams = iter(stream.spawn(len(METRICS) * len(pairs)))  # by METRICS order: stable
    rows = []
    for metric in available(arrays):
        family = [
            compare(arrays, metric, a, b, limits, cfg, next(streams), lengths) for a, b in pairs
        ]
        for row, p_adj in zip(family, stats.holm([r["p"] for r in family]), strict=True):
            rows.append(row | {"p_holm": p_adj})
    return pd.DataFrame(rows)


def own_levels(p_values: list[float], alpha: float, method: str) -> list[float]:
    """The level each p-value is compared with at its step: Holm's alpha / (m - rank),
    Benjamini-Hochberg's alpha x (rank + 1) / m (rank 0 = the smallest p)."""
    m = len(p_values)
    ranks = np.argsort(np.argsort(p_values, kind="stable"), kind="stable")
    if method == "holm":
        return [alpha / (m - r) for r in ranks]
    return [alpha * (r + 1) / m for r in ranks]


def with_mdd(pairs: pd.DataFrame, cfg: dict) -> pd.DataFrame:
    """The minimum detectable difference of each row's test, at the level its adjusted p
    is compared with (``level``, set by ``adjust`` for the family it was adjusted in), from
    its per-prompt differences."""
    out = pairs.copy()
    out["mdd"] = [
        stats.min_detectable_difference(d, METRICS[m].weights, level, cfg["power"])
        for d, m, level in zip(out["_d"], out["metric"], out["level"], strict=True)
    ]
    return out


def signed(table: pd.DataFrame, metric: str, a: str, b: str) -> dict:
    """The row of comparison A vs B, flipped if the table holds it as B vs A."""
    hit = table[(table["metric"] == metric) & (table["a"] == a) & (table["b"] == b)]
    if len(hit):
        return hit.iloc[0].to_dict()
    row = table[(table["metric"] == metric) & (table["a"] == b) & (table["b"] == a)].iloc[0]
    row = row.to_dict()
    return row | {
        "a": a,
        "b": b,
        "difference": -row["difference"] + 0.0,  # + 0.0: a tie is never "-0"
        "ci_low": -row["ci_high"] + 0.0,
        "ci_high": -row["ci_low"] + 0.0,
        "superiority": 1 - row["superiority"],
    }


def shift_grid(cfg: dict) -> list[float]:
    """Threshold shifts scanned for each claim: -scan..+scan in steps of ``threshold_step``."""
    n = round(cfg["threshold_scan"] / cfg["threshold_step"])
    return [round(k * cfg["threshold_step"], 10) for k in range(-n, n + 1)]


def rate_differences(
    arrays: dict, variants: list[str], metrics_cfg: dict, shifts: list[float]
) -> dict[float, dict]:
    """shift -> {(metric, A, B): difference of the rates} with both thresholds moved."""
    out = {}
    for shift in shifts:
        limits = thresholds(metrics_cfg, shift)
        rates = {
            (m, v): stats.difference(per_prompt(arrays, m, v, limits), METRICS[m].weights)
            for m in RATES
            for v in variants
        }
        out[shift] = {
            (m, a, b): rates[(m, a)] - rates[(m, b)]
            for m in RATES
            for a in variants
            for b in variants
        }
    return out


def adjust(
    pairs: pd.DataFrame, cfg: dict, experiments: set[str], used: frozenset = frozenset()
) -> pd.DataFrame:
    """``p_adj``, ``adjustment``, ``family`` and ``level`` (what its p is compared with at its
    step) of every row: Holm within each metric's model pairs (``claims.family: metric``) or
    across every comparison the claims use (``claims``; ``used``: their (metric, A, B) in the
    pairs' order); Benjamini-Hochberg across the experiment family for experiments."""
    pairs = pairs.assign(family=pairs["metric"], adjustment="Holm, within the metric")
    pairs["p_adj"] = pairs["p_holm"]
    pairs["level"] = np.nan
    for _, group in pairs.groupby(["protocol", "metric"], sort=False):  # Holm's families
        pairs.loc[group.index, "level"] = own_levels(group["p"].tolist(), cfg["alpha"], "holm")
    if cfg["family"] == "claims":
        for protocol in pairs["protocol"].unique():
            keys = zip(pairs["metric"], pairs["a"], pairs["b"], strict=True)
            mask = (pairs["protocol"] == protocol) & np.array([key in used for key in keys])
            pairs.loc[mask, "p_adj"] = stats.holm(pairs.loc[mask, "p"].tolist())
            pairs.loc[mask, "level"] = own_levels(
                pairs.loc[mask, "p"].tolist(), cfg["alpha"], "holm"
            )
            pairs.loc[mask, "adjustment"] = "Holm, across the claims' comparisons"
            pairs.loc[mask, "family"] = "claims"
    explore = pairs["protocol"].isin(experiments)
    if explore.any():  # exploration: false discoveries controlled across the experiment family
        pairs.loc[explore, "p_adj"] = stats.benjamini_hochberg(pairs.loc[explore, "p"].tolist())
        pairs.loc[explore, "level"] = own_levels(
            pairs.loc[explore, "p"].tolist(), cfg["alpha"], "bh"
        )
        pairs.loc[explore, "adjustment"] = "Benjamini-Hochberg, across the experiments"
        pairs.loc[explore, "family"] = "experiments"
    return pairs


SIZING_COLUMNS = (
    "prompts_for_observed",
    "seeds_for_observed",
    "prompts_for_paper",
    "seeds_for_paper",
    "prompts_for_bound",
    "seeds_for_bound",
    "pool",
    "pool_supplies",
    "sizing_note",
)


def sizing_row(
    row: dict, paper: float | None, pool: int | None, cfg: dict, n_parts: int = 1
) -> dict:
    """What would settle a claim that is not separable: prompts per set (at the run's seeds)
    and seeds (at the run's prompts) for ``cfg['power']`` at the row's level, against the
    observed difference, the paper's and the interval's bound nearest 0 on the observed
    side, and whether the keyword filter's candidate pool (``pool`` harmful prompts) can
    supply them (``hhalign.power``).

    A plug-in plan: it takes the observed difference and discordance as the truth. The
    run's test already failed, so no plan is below the run's own prompts and seeds; a run
    whose models agree on every prompt has no observed difference to plan for (NaN);
    ``sizing_note`` says so, and when the observed difference has the claim's opposite sign
    (the plan is then for detecting the reversal) or the claim has parts not planned."""
    spec = METRICS[row["metric"]]
    spread = power.spread(row["_d"], spec.weights, rate=spec.thresholded)
    bound = row["ci_low"] if row["difference"] >= 0 else row["ci_high"]
    bound = bound if np.sign(bound) == np.sign(row["difference"]) else 0.0
    out = {}
    for name, delta in (("observed", row["difference"]), ("paper", paper), ("bound", bound)):
        # The observed difference is planned with its own paired variance (exact, per set);
        # any other with the variance it implies at the observed discordance (``needed``).
        at = spread._replace(discordance=math.nan) if name == "observed" else spread
        prompts, seeds = power.needed(
            math.nan if delta is None else delta, *at, row["level"], cfg["power"], spec.weights
        )
        out[f"prompts_for_{name}"] = max(prompts, spread.n)
        out[f"seeds_for_{name}"] = seeds if math.isnan(seeds) else max(seeds, spread.k)
    notes = ["if the observed difference and discordance were the truth"]
    if all(np.all(x == 0) for x in row["_d"].values()):
        out["prompts_for_observed"] = out["seeds_for_observed"] = math.nan
        notes = ["the models agree on every prompt: no observed difference to plan for"]
    elif row["difference"] < 0:
        notes.append("the observed difference is the claim's reverse: planned to detect that")
    if n_parts > 1:
        notes.append(f"only the part shown is planned (1 of {n_parts})")

    def can(name: str) -> str:
        if math.isnan(out[f"prompts_for_{name}"]):
            return "no plan"
        return "unknown" if pool is None else "yes" if out[f"prompts_for_{name}"] <= pool else "no"

    supplies = [f"{name}: {can(name)}" for name in ("observed", "paper")]
    return out | {
        "pool": pool,
        "pool_supplies": "; ".join(supplies),
        "sizing_note": "; ".join(notes),
    }
