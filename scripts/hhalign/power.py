"""What would settle an open claim: prompts and seeds for 80% power (the sample-size
planner; ``hhalign.plan`` is the run plan).

Planner. A comparison's difference has variance ``sigma2_prompt / n + sigma2_seed / k``
with ``n`` prompts per set and ``k`` training seeds: ``sigma2_prompt`` is the variance of
its per-prompt (seed-averaged) paired differences in metric units (for a rate this is the
discordance: prompts that one model passes and the other fails), summed over prompt sets
with their weights; ``sigma2_seed`` the variance of the per-seed differences beyond what
prompts explain (unknown with one seed). A two-sided test at level ``alpha`` detects ``delta``
with power ``power`` when ``delta / sd >= z(1 - alpha / 2) + z(power)`` (normal
approximation). The prompts needed at the run's seeds and the seeds needed at the run's
prompts follow; ``inf`` where no number suffices (more seeds cannot remove prompt noise).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np
from scipy import stats as sps

from hhalign.stats import lattice
from hhalign.variance import residual_mean_square

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
