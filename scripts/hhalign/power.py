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
of the prompt, seed and residual components, truncated at 0, and their shares of the
variance of the metric's estimate (``sigma2_p / P + sigma2_s / S + sigma2_e / (P S)``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from scipy import stats as sps

Diffs = Mapping[str, np.ndarray]
Weights = Mapping[str, float]


def spread(d: Diffs, weights: Weights) -> tuple[float, float, int, int]:
    """(sigma2_prompt, sigma2_seed, prompts per set, seeds) of a comparison in metric units;
    sigma2_seed is NaN with one seed."""
    n = min(d[s].shape[1] for s in weights)
    k = next(iter(d.values())).shape[0]
    prompt = sum((w * np.std(d[s].mean(axis=0), ddof=1)) ** 2 for s, w in weights.items())
    if k < 2:
        return float(prompt), math.nan, n, k
    per_seed = np.array([sum(w * d[s][i].mean() for s, w in weights.items()) for i in range(k)])
    # The seeds' spread beyond the prompt noise each seed's difference carries.
    seed = max(float(np.var(per_seed, ddof=1)) - prompt / n, 0.0)
    return float(prompt), seed, n, k


def needed(
    delta: float,
    sigma2_prompt: float,
    sigma2_seed: float,
    n: int,
    k: int,
    alpha: float,
    power: float,
) -> tuple[float, float]:
    """(prompts per set at ``k`` seeds, seeds at ``n`` prompts) for ``power`` against
    ``delta``; inf where none suffices, NaN where it cannot be told (no seed variance)."""
    if not delta or math.isnan(delta):
        return math.inf, math.inf
    target = (abs(delta) / (sps.norm.ppf(1 - alpha / 2) + sps.norm.ppf(power))) ** 2
    seed_var = 0.0 if math.isnan(sigma2_seed) else sigma2_seed
    room = target - seed_var / k
    prompts = math.ceil(sigma2_prompt / room) if room > 0 else math.inf
    if math.isnan(sigma2_seed):
        return float(max(prompts, 2)), math.nan
    room = target - sigma2_prompt / n
    seeds = math.ceil(seed_var / room) if room > 0 else math.inf
    return float(max(prompts, 2)), float(max(seeds, 1))


def variance_components(y: np.ndarray, samples: np.ndarray | None = None) -> dict[str, float]:
    """Method-of-moments components of ``y[s, p]`` (two-way random effects, one value per
    cell): prompt, seed and residual variances, and each one's share of the variance of
    the grand mean. With one seed, the seed component is NaN and the prompt component
    includes the residual.

    ``samples[s, p, k]`` (the values of k sampled responses, ``y`` their cell means) adds
    the decoding component: the mean within-cell variance over samples, whose 1/k part of
    each cell mean is taken out of the residual (one seed: the prompt) component."""
    s, p = y.shape
    k = 1 if samples is None else samples.shape[2]
    decoding = float(np.var(samples, axis=2, ddof=1).mean()) if k > 1 else math.nan
    noise = 0.0 if k == 1 else decoding / k  # in each cell mean's variance
    if s == 1:
        prompt = max(float(np.var(y[0], ddof=1)) - noise, 0.0) if p > 1 else math.nan
        parts = {"prompt": prompt / p, "decoding": noise / p}
        total = sum(parts.values())
        return {
            "prompt": prompt,
            "seed": math.nan,
            "residual": math.nan,
            "decoding": decoding,
            "share_prompt": parts["prompt"] / total if k > 1 and total else 1.0,
            "share_seed": math.nan,
            "share_residual": math.nan,
            "share_decoding": parts["decoding"] / total if k > 1 and total else math.nan,
        }
    grand = y.mean()
    ms_prompt = s * np.sum((y.mean(axis=0) - grand) ** 2) / (p - 1)
    ms_seed = p * np.sum((y.mean(axis=1) - grand) ** 2) / (s - 1)
    resid = y - y.mean(axis=0) - y.mean(axis=1)[:, None] + grand
    ms_resid = np.sum(resid**2) / ((s - 1) * (p - 1))
    comp = {
        "prompt": max((ms_prompt - ms_resid) / s, 0.0),
        "seed": max((ms_seed - ms_resid) / p, 0.0),
        "residual": max(float(ms_resid) - noise, 0.0),
        "decoding": decoding,
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
    return {**{k: float(v) for k, v in comp.items()}, **shares}
