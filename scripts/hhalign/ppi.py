"""Judge-corrected rates: prediction-powered inference (Angelopoulos et al., Science 2023).

The judge scores every response; a person labels a random few. The judge's rate on all N
responses is biased by its errors; the mean of (person minus judge) on the n labelled ones
estimates that bias without bias, so their sum estimates the rate people would give:

    theta = mean(f over all N) + mean(y - f over the n labelled)

``f`` is the judge's pass (1) or fail (0) at the threshold, ``y`` the person's yes (1) or no
(0); unsure answers are dropped before. Its variance has both parts, and, since the labelled
responses are among the N, their covariance: var(f)/N + var(y - f)/n + 2 cov(f, y - f)/N.

One linear estimator (``estimate``) covers a single model's rate (weights [1]) and a paired
difference between models on the same prompts (weights [1, -1]): each model's correction is
estimated on its own labelled prompts, and where both models' responses to a prompt are
labelled (the sheet samples the same prompts for every model) the two corrections' covariance
is added. Arrays may carry leading batch axes (the simulation tests draw thousands at once).
"""

from __future__ import annotations

import numpy as np

from hhalign.metrics import Z95


def _masked_cov(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sample covariance of ``a`` and ``b`` over ``mask`` along the last axis, its count);
    0 where fewer than two items are in the mask."""
    m = mask.sum(axis=-1)
    safe = np.maximum(m, 1)
    am = np.where(mask, a, 0.0).sum(axis=-1, keepdims=True) / safe[..., None]
    bm = np.where(mask, b, 0.0).sum(axis=-1, keepdims=True) / safe[..., None]
    prod = np.where(mask, (a - am) * (b - bm), 0.0).sum(axis=-1)
    cov = np.where(m > 1, prod / np.maximum(m - 1, 1), 0.0)
    return cov, m


def estimate(
    judged: np.ndarray, people: np.ndarray, weights: np.ndarray | list[float]
) -> dict[str, np.ndarray]:
    """The prediction-powered estimate of sum_k w_k * (the people's rate of model k).

    ``judged``: [..., K, N] the judge's values (0/1) on every prompt; ``people``: [..., K, N]
    the people's 0/1 labels, NaN where unlabelled (or unsure). Returns ``judge`` (the
    uncorrected estimate), ``correction``, ``estimate``, ``se``, ``ci_low``, ``ci_high``
    (normal 95%) and ``n_labelled`` [..., K]; an estimate is NaN where a model with weight
    has no label.
    """
    w = np.asarray(weights, dtype=float)
    f = np.asarray(judged, dtype=float)
    y = np.asarray(people, dtype=float)
    mask = ~np.isnan(y)
    d = np.where(mask, y - f, 0.0)
    n_all = f.shape[-1]
    n_lab = mask.sum(axis=-1)  # [..., K]
    g = np.einsum("k,...kn->...n", w, f)
    judge = g.mean(axis=-1)
    mean_d = d.sum(axis=-1) / np.maximum(n_lab, 1)
    correction = np.einsum("k,...k->...", w, mean_d)
    var = g.var(axis=-1, ddof=1) / n_all
    k_models = f.shape[-2]
    for k in range(k_models):
        cov_gd, _ = _masked_cov(g, d[..., k, :], mask[..., k, :])
        var = var + 2 * w[k] * cov_gd / n_all
        for j in range(k_models):
            both = mask[..., k, :] & mask[..., j, :]
            cov_dd, m = _masked_cov(d[..., k, :], d[..., j, :], both)
            denom = np.maximum(n_lab[..., k] * n_lab[..., j], 1)
            var = var + w[k] * w[j] * m * cov_dd / denom
    missing = ((n_lab == 0) & (w != 0)).any(axis=-1)
    theta = np.where(missing, np.nan, judge + correction)
    se = np.sqrt(np.maximum(var, 0.0))
    return {
        "judge": judge,
        "correction": np.where(missing, np.nan, correction),
        "estimate": theta,
        "se": np.where(missing, np.nan, se),
        "ci_low": theta - Z95 * se,
        "ci_high": theta + Z95 * se,
        "n_labelled": n_lab,
    }


def combine(parts: list[dict], weights: list[float]) -> dict[str, float]:
    """A weighted sum of independent estimates (CAS: half the harmful set's rate and half the
    helpful one's, on different prompts), their variances added."""
    est = sum(w * float(p["estimate"]) for p, w in zip(parts, weights, strict=True))
    judge = sum(w * float(p["judge"]) for p, w in zip(parts, weights, strict=True))
    se = float(np.sqrt(sum((w * float(p["se"])) ** 2 for p, w in zip(parts, weights, strict=True))))
    return {
        "judge": judge,
        "correction": est - judge,
        "estimate": est,
        "se": se,
        "ci_low": est - Z95 * se,
        "ci_high": est + Z95 * se,
    }


def labels_needed(result: dict, width: float) -> int:
    """How many labels per model (in all) would bring the interval's full width down to
    ``width`` (same units as the estimate), from its current variance split: the judge's
    part (var(f)/N) stays, the correction's part shrinks as 1/n. -1 when no number of
    labels can (the judge's part alone is wider)."""
    n = int(np.max(result["n_labelled"]))
    se = float(result["se"])
    if n == 0 or not np.isfinite(se):
        return -1
    target = (width / (2 * Z95)) ** 2
    judge_part = float(result.get("judge_var", 0.0))
    label_part = max(se**2 - judge_part, 0.0) * n  # variance of one label's correction
    if target <= judge_part:
        return -1
    return max(n, int(np.ceil(label_part / (target - judge_part))))


def judge_variance(judged: np.ndarray, weights: list[float]) -> float:
    """The judge's part of an estimate's variance: var(sum_k w_k f_k) / N."""
    g = np.einsum("k,kn->n", np.asarray(weights, float), np.asarray(judged, float))
    return float(g.var(ddof=1) / g.shape[-1])
