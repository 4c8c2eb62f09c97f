"""Paired statistics for comparing two models on the same prompts (and seeds).

A comparison's data are per-prompt differences ``d[s, p]`` = model A's value minus model
B's on prompt ``p`` with training seed ``s`` (a 0/1 label for a rate, a score for a mean),
one array per prompt set, weighted into the metric: HmR = 100 x the harmful labels' mean,
CAS = 50 x each set's, a mean score = 1 x its set's. Everything here is vectorized numpy on
top of scipy and statsmodels, and deterministic under a fixed seed.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import TTestPower

Diffs = Mapping[str, np.ndarray]  # prompt set -> d[seed, prompt]
Weights = Mapping[str, float]  # prompt set -> weight of its mean in the metric


def difference(d: Diffs, weights: Weights) -> float:
    """The metric's difference A - B: the weighted means of the per-prompt differences."""
    return float(sum(w * np.mean(d[s]) for s, w in weights.items()))


def bootstrap_interval(
    d: Diffs, weights: Weights, draws: int, seed: int | np.random.SeedSequence, level: float = 0.95
) -> tuple[float, float]:
    """Percentile interval of the difference from a paired bootstrap.

    Each draw resamples the prompts of every prompt set (with replacement; both models
    keep the same prompts: the pairing) and, with several seeds, the seeds too, once for
    all prompt sets (a seed is one trained model answering both sets; both models keep the
    same seed: lineage pairing). A draw's statistic is computed from resampling counts:
    ``c_seed @ d @ c_prompt`` over the draws at once.
    """
    rng = np.random.default_rng(seed)
    n_seeds = {d[name].shape[0] for name in weights}
    if len(n_seeds) != 1:
        raise ValueError(f"prompt sets have different numbers of seeds: {sorted(n_seeds)}")
    (n_seeds,) = n_seeds
    c_seed = rng.multinomial(n_seeds, np.full(n_seeds, 1 / n_seeds), size=draws)
    total = np.zeros(draws)
    for name, w in weights.items():
        n_prompts = d[name].shape[1]
        c_prompt = rng.multinomial(n_prompts, np.full(n_prompts, 1 / n_prompts), size=draws)
        per_prompt = c_seed @ d[name]  # (draws, prompts): resampled seeds' sums per prompt
        total += w * np.einsum("bp,bp->b", per_prompt, c_prompt) / (n_seeds * n_prompts)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(total, [tail, 100 - tail])
    return float(low), float(high)


def mcnemar_exact(a: np.ndarray, b: np.ndarray) -> float:
    """Exact McNemar p-value of two paired 0/1 vectors: a two-sided binomial test of the
    prompts only A passes against those only B passes (1.0 if none differ)."""
    only_a = int(np.sum((a == 1) & (b == 0)))
    only_b = int(np.sum((a == 0) & (b == 1)))
    if only_a + only_b == 0:
        return 1.0
    return float(sps.binomtest(only_a, only_a + only_b, 0.5).pvalue)


def sign_flip_p(
    d: Diffs, weights: Weights, draws: int, seed: int | np.random.SeedSequence
) -> float:
    """Two-sided sign-flip permutation p-value of the weighted difference of means, on the
    per-prompt differences averaged over seeds (prompts are the exchangeable units).

    ``(1 + #{|flipped| >= |observed|}) / (1 + draws)``: never 0, valid at any draws.
    """
    rng = np.random.default_rng(seed)
    observed = difference(d, weights)
    flipped = np.zeros(draws)
    for name, w in weights.items():
        per_prompt = d[name].mean(axis=0)
        signs = rng.choice(np.array([-1.0, 1.0]), size=(draws, per_prompt.size))
        flipped += w * (signs @ per_prompt) / per_prompt.size
    extreme = np.sum(np.abs(flipped) >= abs(observed) - 1e-12)
    return float((1 + extreme) / (1 + draws))


def sign_flip_exact_labels(d: Diffs, weights: Weights) -> float:
    """The exact two-sided sign-flip p-value for one seed of 0/1 labels (differences in
    {-1, 0, 1}): each discordant prompt of set s adds +/- w_s / n_s with probability 1/2,
    so the flipped statistic is a sum of independent scaled binomials, enumerated exactly
    (for one set, or equal weights per prompt, this is McNemar's exact test on the pooled
    discordant prompts)."""
    observed = difference(d, weights)
    dist = {0.0: 1.0}
    for name, w in weights.items():
        x = d[name].reshape(-1)
        n_disc, step = int(np.sum(x != 0)), w / x.size
        k = np.arange(n_disc + 1)
        values = step * (2 * k - n_disc)
        probs = sps.binom.pmf(k, n_disc, 0.5)
        merged: dict[float, float] = {}
        for t, pt in dist.items():
            for v, pv in zip(values, probs, strict=True):
                key = round(t + float(v), 9)
                merged[key] = merged.get(key, 0.0) + pt * float(pv)
        dist = merged
    p = sum(pt for t, pt in dist.items() if abs(t) >= abs(observed) - 1e-9)
    return float(min(p, 1.0))


def lattice(x: np.ndarray, largest: int = 1000) -> int | None:
    """The smallest ``k`` <= ``largest`` with every value of ``x`` a multiple of 1/k (a rate's
    per-prompt mean over k sampled responses lies on that lattice), else None."""
    for k in range(1, largest + 1):
        if np.allclose(x * k, np.round(x * k), rtol=0, atol=1e-9):
            return k
    return None


def labels_only(*arrays: np.ndarray) -> bool:
    """Whether every value is 0 or 1 (one greedy response per prompt: a label)."""
    return all(np.isin(x, (0.0, 1.0)).all() for x in arrays)


def sign_flip_exact(d: Diffs, weights: Weights, largest: int = 1000) -> float | None:
    """The exact two-sided sign-flip p-value of one seed's per-prompt differences on a
    1/k lattice (a rate's per-prompt means over k samples): every prompt's difference keeps
    or flips its sign with probability 1/2, and the 2^n flipped statistics are counted by
    convolving integer offsets (cheap: a few thousand lattice points). None when the
    values lie on no lattice of at most ``largest`` steps."""
    observed = difference(d, weights)
    dist = {0.0: 1.0}
    for name, w in weights.items():
        x = d[name].reshape(-1)
        k = lattice(x, largest)
        if k is None:
            return None
        counts = np.ones(1)
        for m in np.round(np.abs(x) * k).astype(int):
            if m:
                counts = 0.5 * (np.pad(counts, (2 * m, 0)) + np.pad(counts, (0, 2 * m)))
        half = (counts.size - 1) // 2
        step = w / (x.size * k)
        merged: dict[float, float] = {}
        for t, pt in dist.items():
            for j in np.flatnonzero(counts):
                key = round(t + step * float(j - half), 9)
                merged[key] = merged.get(key, 0.0) + pt * float(counts[j])
        dist = merged
    p = sum(pt for t, pt in dist.items() if abs(t) >= abs(observed) - 1e-9)
    return float(min(p, 1.0))


def holm(p_values: list[float]) -> list[float]:
    """Holm-adjusted p-values (statsmodels' multipletests, method "holm")."""
    if not p_values:
        return []
    return [float(p) for p in multipletests(p_values, method="holm")[1]]


def benjamini_hochberg(p_values: list[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (false discovery rate), for exploratory families."""
    if not p_values:
        return []
    return [float(p) for p in multipletests(p_values, method="fdr_bh")[1]]


def superiority(a: np.ndarray, b: np.ndarray) -> float:
    """Probability of superiority of A over B on paired scores: the share of (seed, prompt)
    pairs where A's score beats B's, ties counted half."""
    return float(np.mean((a > b) + 0.5 * (a == b)))


def min_detectable_difference(
    d: Diffs, weights: Weights, alpha: float, power: float = 0.8
) -> float:
    """The minimum detectable difference of the test: the smallest difference a paired
    two-sided test at ``alpha`` detects with ``power``, given the spread of this
    comparison's per-prompt (seed-averaged) differences.

    statsmodels' one-sample t power solver gives the standardized effect at ``n`` prompts;
    it is scaled by the difference's standard error times sqrt(n). For one prompt set that
    is effect x weight x sd of the differences; prompt sets are independent, so their
    variances add (CAS); ``n`` is the smaller set's size. When the two models agree on
    every prompt the observed spread is 0 and says nothing about the test's power: NaN
    (``mdd_note`` says why), never 0.
    """
    n = min(d[name].shape[1] for name in weights)
    if n < 2:
        return float("nan")
    se = np.sqrt(
        sum(
            (w * np.std(d[name].mean(axis=0), ddof=1)) ** 2 / d[name].shape[1]
            for name, w in weights.items()
        )
    )
    if se == 0:
        return float("nan")
    effect = TTestPower().solve_power(nobs=n, alpha=alpha, power=power, alternative="two-sided")
    return float(effect * se * np.sqrt(n))


def mdd_note(d: Diffs, weights: Weights) -> str:
    """Why a comparison's MDD is missing ("" when it is not)."""
    if min(d[name].shape[1] for name in weights) < 2:
        return "fewer than 2 prompts"
    if all(np.all(d[name] == 0) for name in weights):
        return "the two models agree on every prompt: no spread to size the test by"
    return ""


def length_adjusted(
    dy: np.ndarray, dlen: np.ndarray, level: float = 0.95
) -> tuple[float, float, float]:
    """(difference, low, high) of a paired score difference adjusted for length: the
    intercept of the per-prompt score differences regressed on the per-prompt length
    differences (OLS, statsmodels). A sensitivity analysis, not the content effect: the
    intercept is the difference at equal length only if the judge's length effect is linear
    in our token count, that count is what the judge sees, the content and length
    advantages are uncorrelated, and equal length lies inside the data (``length_checks``).
    NaNs when the lengths never differ or there are < 3 prompts."""
    import statsmodels.api as sm

    dy, dlen = np.asarray(dy, dtype=float), np.asarray(dlen, dtype=float)
    if dy.size < 3 or np.ptp(dlen) == 0:
        return float("nan"), float("nan"), float("nan")
    fit = sm.OLS(dy, sm.add_constant(dlen)).fit()
    low, high = fit.conf_int(1 - level)[0]
    return float(fit.params[0]), float(low), float(high)


def length_checks(dy: np.ndarray, len_a: np.ndarray, len_b: np.ndarray) -> dict[str, float]:
    """What ``length_adjusted`` leans on, per comparison: the same intercept with the log
    length ratio as the regressor (a judge whose taste is in log length; 0 is equal length
    again), the p-value of a squared term added to the linear fit (its linearity), and
    whether equal length lies outside the observed length differences (the intercept is
    then an extrapolation)."""
    import statsmodels.api as sm

    dy = np.asarray(dy, dtype=float)
    len_a, len_b = np.asarray(len_a, dtype=float), np.asarray(len_b, dtype=float)
    dlen, dlog = len_a - len_b, np.log1p(len_a) - np.log1p(len_b)
    out = {"length_adjusted_log": np.nan, "length_nonlinear_p": np.nan}
    out["length_extrapolates"] = float(dlen.size > 0 and (dlen.min() > 0 or dlen.max() < 0))
    if dy.size >= 4 and np.ptp(dlog) > 0:
        out["length_adjusted_log"] = float(sm.OLS(dy, sm.add_constant(dlog)).fit().params[0])
    if dy.size >= 5 and np.unique(dlen).size >= 3:
        x = sm.add_constant(np.column_stack([dlen, dlen**2]))
        out["length_nonlinear_p"] = float(sm.OLS(dy, x).fit().pvalues[2])
    return out
