"""What would settle an open claim: prompts and seeds for 80% power, and where the
uncertainty of a metric comes from.

Planner. A comparison's difference has variance ``sigma2_prompt / n + sigma2_seed / k``
with ``n`` prompts per set and ``k`` training seeds: ``sigma2_prompt`` is the variance of
its per-prompt (seed-averaged) paired differences in metric units (for a rate this is the
discordance: prompts that one model passes and the other fails), summed over prompt sets
with their weights; ``sigma2_seed`` the variance of the per-seed differences beyond what
prompts explain (unknown with one seed). A two-sided test at level ``alpha`` detects ``delta``
with power ``power`` when ``delta / sd >= z(1 - alpha / 2) + z(power)`` (normal
approximation). The prompts needed at the run's seeds and the seeds needed at the run's
prompts follow; ``inf`` where no number suffices (more seeds cannot remove prompt noise).

Variance decomposition. A model's per-prompt values ``y[s, p]`` (seeds x prompts) follow a
two-way random-effects model ``y = mu + a_p + b_s + e``; method-of-moments (ANOVA) estimates
of the prompt, seed and residual components, truncated at 0, with 95% intervals (modified
large-sample for prompt and seed, chi-square for the residual), and their shares of the
variance of the metric's estimate (``sigma2_p / P + sigma2_s / S + sigma2_e / (P S)``). The
estimates are unbiased before truncation; truncation at 0 biases a zero component upwards
(a true seed share of 0 reads a few per cent), which the interval's lower limit 0 shows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np
from scipy import stats as sps

from hhalign.stats import lattice

Diffs = Mapping[str, np.ndarray]
Weights = Mapping[str, float]


class Spread(NamedTuple):
    """A comparison's spread in metric units (``spread``), what ``needed`` plans from."""

    sigma2_prompt: float
    sigma2_seed: float  # NaN with one seed
    n: int  # prompts per set (the smaller set)
    k: int  # seeds
    discordance: float  # a rate's mean squared per-prompt difference; NaN for scores


def bounded(d: Diffs, weights: Weights) -> bool:
    """Whether the differences are a rate's: within [-1, 1] on a 1/k lattice (0/1 labels,
    or their means over samples and seeds), so that their variance is bounded by their
    discordance."""
    x = np.concatenate([d[s].mean(axis=0) for s in weights])
    return bool(np.all(np.abs(x) <= 1) and lattice(x) is not None)


def spread(d: Diffs, weights: Weights, rate: bool | None = None) -> Spread:
    """The spread of a comparison (``Spread``); ``rate``: whether it is a rate's (inferred
    by ``bounded`` when None), which gives it a discordance: the mean over its prompt sets
    of the seed-averaged per-prompt differences squared (p10 + p01 with one seed)."""
    n = min(d[s].shape[1] for s in weights)
    k = next(iter(d.values())).shape[0]
    prompt = sum((w * np.std(d[s].mean(axis=0), ddof=1)) ** 2 for s, w in weights.items())
    rate = bounded(d, weights) if rate is None else rate
    disc = float(np.mean([np.mean(d[s].mean(axis=0) ** 2) for s in weights])) if rate else math.nan
    if k < 2:
        return Spread(float(prompt), math.nan, n, k, disc)
    per_seed = np.array([sum(w * d[s][i].mean() for s, w in weights.items()) for i in range(k)])
    # The per-seed differences vary by sigma2_seed + sigma2_resid / n (two-way ANOVA, as in
    # ``variance_components``): the seed-by-prompt residual, not the prompt variance.
    noise = sum(w**2 * residual_mean_square(d[s]) / d[s].shape[1] for s, w in weights.items())
    seed = max(float(np.var(per_seed, ddof=1)) - noise, 0.0)
    return Spread(float(prompt), seed, n, k, disc)


def residual_mean_square(y: np.ndarray) -> float:
    """The two-way ANOVA's residual mean square of ``y[s, p]`` (seed-by-prompt interaction
    and noise), with (S - 1)(P - 1) degrees of freedom."""
    s, p = y.shape
    resid = y - y.mean(axis=0) - y.mean(axis=1)[:, None] + y.mean()
    return float(np.sum(resid**2) / ((s - 1) * (p - 1)))


def rate_variance(delta: float, discordance: float, n: int, weights: Weights) -> float:
    """A rate comparison's per-prompt variance (metric units, as ``sigma2_prompt``) if its
    difference were ``delta``: ``W^2 (max(disc, |delta| / W) - (delta / W)^2) / m`` with W
    the weights' sum and m the prompt sets (CAS: one rate over the pooled prompts), times
    n / (n - 1) like the sample variance. A difference of delta needs at least |delta| / W
    of the prompts to be discordant, so a run whose models (nearly) agree everywhere does
    not plan for a handful of prompts."""
    total, m = sum(weights.values()), len(weights)
    share = abs(delta) / total
    return total**2 * (max(discordance, share) - share**2) / m * n / max(n - 1, 1)


def needed(
    delta: float,
    sigma2_prompt: float,
    sigma2_seed: float,
    n: int,
    k: int,
    discordance: float,
    alpha: float,
    power: float,
    weights: Weights | None = None,
) -> tuple[float, float]:
    """(prompts per set at ``k`` seeds, seeds at ``n`` prompts) for ``power`` against
    ``delta``; inf where none suffices, NaN where it cannot be told (no seed variance).
    A rate (``discordance`` not NaN) plans with ``rate_variance`` at ``delta`` (``weights``:
    the metric's; one set of weight 100 when None); a score, or a rate planned at its own
    observed difference (pass a NaN discordance), with ``sigma2_prompt``."""
    if not delta or math.isnan(delta):
        return math.inf, math.inf
    if not math.isnan(discordance):
        sigma2_prompt = rate_variance(delta, discordance, n, weights or {"_": 100.0})
    target = (abs(delta) / (sps.norm.ppf(1 - alpha / 2) + sps.norm.ppf(power))) ** 2
    seed_var = 0.0 if math.isnan(sigma2_seed) else sigma2_seed
    room = target - seed_var / k
    prompts = math.ceil(sigma2_prompt / room) if room > 0 else math.inf
    if math.isnan(sigma2_seed):
        return float(max(prompts, 2)), math.nan
    room = target - sigma2_prompt / n
    seeds = math.ceil(seed_var / room) if room > 0 else math.inf
    return float(max(prompts, 2)), float(max(seeds, 1))


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
