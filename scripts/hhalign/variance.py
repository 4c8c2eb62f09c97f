"""Where a metric's uncertainty comes from (variance.csv, Figure 8).

A model's per-prompt values ``y[s, p]`` (seeds x prompts) follow a
two-way random-effects model ``y = mu + a_p + b_s + e``; method-of-moments (ANOVA) estimates
of the prompt, seed and residual components, truncated at 0, with 95% intervals (modified
large-sample for prompt and seed, chi-square for the residual), and their shares of the
variance of the metric's estimate (``sigma2_p / P + sigma2_s / S + sigma2_e / (P S)``). The
estimates are unbiased before truncation; truncation at 0 biases a zero component upwards
(a true seed share of 0 reads a few per cent), which the interval's lower limit 0 shows.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats as sps

from hhalign.metrics import METRICS, thresholds
from hhalign.paired import available, per_prompt, score_arrays


def residual_mean_square(y: np.ndarray) -> float:
    """The two-way ANOVA's residual mean square of ``y[s, p]`` (seed-by-prompt interaction
    and noise), with (S - 1)(P - 1) degrees of freedom."""
    s, p = y.shape
    resid = y - y.mean(axis=0) - y.mean(axis=1)[:, None] + y.mean()
    return float(np.sum(resid**2) / ((s - 1) * (p - 1)))


def chi2_interval(ms: float, df: float, level: float = 0.95) -> tuple[float, float]:
    """The exact interval of a variance from its mean square with ``df`` degrees of freedom."""
    a = (1 - level) / 2
    return df * ms / sps.chi2.ppf(1 - a, df), df * ms / sps.chi2.ppf(a, df)


def mls_interval(
    ms1: float, df1: float, ms2: float, df2: float, c: float, level: float = 0.95
) -> tuple[float, float]:
    """The modified large-sample interval (Ting, Burdick, Graybill, Jeyaratnam and Lu 1990;
    Burdick and Graybill 1992) of an ANOVA component ``c (ms1 - ms2)``, lower limit at 0.
    Coverage measured in tests/test_review_stats.py."""
    a = (1 - level) / 2
    theta = c * (ms1 - ms2)
    g1, h2 = 1 - df1 / sps.chi2.ppf(1 - a, df1), df2 / sps.chi2.ppf(a, df2) - 1
    f_hi = sps.f.ppf(1 - a, df1, df2)
    g12 = ((f_hi - 1) ** 2 - g1**2 * f_hi**2 - h2**2) / f_hi
    low = theta - c * math.sqrt(max(g1**2 * ms1**2 + h2**2 * ms2**2 + g12 * ms1 * ms2, 0.0))
    h1, g2 = df1 / sps.chi2.ppf(a, df1) - 1, 1 - df2 / sps.chi2.ppf(1 - a, df2)
    f_lo = sps.f.ppf(a, df1, df2)
    h12 = ((1 - f_lo) ** 2 - h1**2 * f_lo**2 - g2**2) / f_lo
    high = theta + c * math.sqrt(max(h1**2 * ms1**2 + g2**2 * ms2**2 + h12 * ms1 * ms2, 0.0))
    return max(low, 0.0), max(high, 0.0)


UNRELIABLE_SEEDS = 4  # a seed component from fewer seeds is marked unreliable


NOT_SEPARABLE = "prompts + seeds (not separable)"


def one_seed_components(y: np.ndarray, decoding: float, noise: float) -> dict:
    """``variance_components`` of one seed: the spread over prompts holds the prompt and the
    seed-by-prompt parts together, and the seed's own shift is invisible; the prompt
    component is reported as ``prompt_seed`` ("prompts + seeds (not separable)"), with its
    chi-square interval."""
    p, nan, sampled = y.shape[1], math.nan, not math.isnan(decoding)
    if p < 2:
        both, lo, hi = nan, nan, nan
    else:
        ms = float(np.var(y[0], ddof=1))
        both = max(ms - noise, 0.0)
        lo, hi = (max(x - noise, 0.0) for x in chi2_interval(ms, p - 1))
    parts = {"prompt_seed": both / p, "decoding": noise / p}
    total = sum(v for v in parts.values() if not math.isnan(v))
    return {
        "prompt": nan,
        "seed": nan,
        "residual": nan,
        "prompt_seed": both,
        "decoding": decoding,
        "share_prompt": nan,
        "share_seed": nan,
        "share_residual": nan,
        "share_prompt_seed": parts["prompt_seed"] / total if total else nan,  # no variance
        "share_decoding": parts["decoding"] / total if sampled and total else nan,
        "prompt_seed_lo": lo,
        "prompt_seed_hi": hi,
        "df_prompt": p - 1,
        "components": NOT_SEPARABLE,
    }


def variance_components(y: np.ndarray, samples: np.ndarray | None = None) -> dict[str, float]:
    """Method-of-moments components of ``y[s, p]`` (two-way random effects, one value per
    cell): prompt, seed and residual variances, each with a 95% interval (prompt and seed:
    modified large-sample, residual: chi-square) and its degrees of freedom, and each one's
    share of the variance of the grand mean. With one seed the prompt and seed parts cannot
    be told apart (``one_seed_components``); a seed component from fewer than
    ``UNRELIABLE_SEEDS`` seeds is marked unreliable (``components``).

    ``samples[s, p, k]`` (the values of k sampled responses, ``y`` their cell means) adds
    the decoding component: the mean within-cell variance over samples, whose 1/k part of
    each cell mean is taken out of the residual (one seed: the prompt) component."""
    s, p = y.shape
    k = 1 if samples is None else samples.shape[2]
    decoding = float(np.var(samples, axis=2, ddof=1).mean()) if k > 1 else math.nan
    noise = 0.0 if k == 1 else decoding / k  # in each cell mean's variance
    if s == 1:
        return one_seed_components(y, decoding, noise)
    grand = y.mean()
    ms_prompt = s * np.sum((y.mean(axis=0) - grand) ** 2) / (p - 1)
    ms_seed = p * np.sum((y.mean(axis=1) - grand) ** 2) / (s - 1)
    ms_resid = residual_mean_square(y)
    df = {"prompt": p - 1, "seed": s - 1, "residual": (s - 1) * (p - 1)}
    comp = {
        "prompt": max((ms_prompt - ms_resid) / s, 0.0),
        "seed": max((ms_seed - ms_resid) / p, 0.0),
        "residual": max(float(ms_resid) - noise, 0.0),
        "decoding": decoding,
    }
    bounds = {
        "prompt": mls_interval(ms_prompt, df["prompt"], ms_resid, df["residual"], 1 / s),
        "seed": mls_interval(ms_seed, df["seed"], ms_resid, df["residual"], 1 / p),
        "residual": tuple(max(x - noise, 0.0) for x in chi2_interval(ms_resid, df["residual"])),
    }
    parts = {
        "prompt": comp["prompt"] / p,
        "seed": comp["seed"] / s,
        "residual": comp["residual"] / (p * s),
        "decoding": noise / (p * s),
    }
    total = sum(parts.values())
    shares = {f"share_{k}": (v / total if total else math.nan) for k, v in parts.items()}
    if samples is None or samples.shape[2] == 1:
        shares["share_decoding"] = math.nan
    note = f"seed component from {s} seeds: unreliable" if s < UNRELIABLE_SEEDS else ""
    return {
        **{k: float(v) for k, v in comp.items()},
        **shares,
        **{f"{k}_{e}": float(b[i]) for k, b in bounds.items() for i, e in enumerate(("lo", "hi"))},
        **{f"df_{k}": v for k, v in df.items()},
        "components": note,
    }


def variance_table(scores: pd.DataFrame, variants: list[str], cfg: dict) -> pd.DataFrame:
    """Where each one-set metric's uncertainty comes from, per protocol and model: the
    prompt, seed, residual and (with sampled decoding) decoding variance components of its
    per-prompt values and their shares of the variance of the estimate
    (``variance_components``)."""
    limits = thresholds(cfg["metrics"])
    rows = []
    for protocol, sub in scores.groupby("protocol", sort=False):
        arrays = score_arrays(sub, variants)
        for variant in variants:
            for metric in available(arrays):
                spec = METRICS[metric]
                if len(spec.weights) != 1:
                    continue
                ((prompt_set, weight),) = spec.weights.items()
                x = weight * per_prompt(arrays, metric, variant, limits, True)[prompt_set]
                if variant == "base":
                    x = x[:1]  # Base is one run; its arrays repeat it for every seed
                y = x.mean(axis=-1)
                comp = variance_components(y, x)
                rows.append(
                    {
                        "protocol": protocol,
                        "model": variant,
                        "metric": metric,
                        "seeds": y.shape[0],
                        "prompts": y.shape[1],
                        **comp,
                    }
                )
    return pd.DataFrame(rows)
