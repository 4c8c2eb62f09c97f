"""The judge-corrected estimator (hhalign.ppi) on simulated judges with known error rates:
unbiased, 95% intervals covering 93-97% of 2000 simulations, the uncorrected rate's bias
shown, for one model's rate and for paired differences between two models.

Measured (seeded, 2000 simulations each): one model's rate, N=50 prompts, 25 labelled:
coverage 0.945 (judge passing degenerate text; its own rate off by +25 points), 0.937 (a
noisy judge, -5 points), 0.940 (an unbiased judge). Paired differences (60 prompts, 25
labelled per model): 0.9355, 0.9345, 0.9345 with the same prompts labelled for both models
(the sheet's way), 0.943, 0.9455, 0.9455 with each model's labels drawn independently;
biases under 0.004 where the judge's own difference is off by 0.015-0.047."""

from __future__ import annotations

import numpy as np
import pytest

from hhalign.ppi import combine, estimate, judge_variance, labels_needed

R = 2000
P_DEGENERATE, P_GOOD = 0.3, 6 / 7  # true rate 0.6: degenerate responses fail people


def judge(y: np.ndarray, degenerate: np.ndarray, kind: str, rng) -> np.ndarray:
    """A simulated judge's 0/1 verdicts on responses people label ``y``."""
    if kind == "degenerate":  # passes all degenerate text, else right 90% of the time
        noisy = np.where(rng.random(y.shape) < 0.1, 1 - y, y)
        return np.where(degenerate, 1.0, noisy)
    if kind == "noise":  # a quarter flipped
        return np.where(rng.random(y.shape) < 0.25, 1 - y, y)
    u = rng.random(y.shape)  # unbiased at rate 0.6: P(pass | good) .9, P(pass | bad) .15
    return np.where(y == 1, u < 0.9, u < 0.15).astype(float)


def world(rng, shape, shift=0.0):
    """People's labels and degenerate marks of responses: rate 0.6 (+ ``shift``)."""
    degenerate = rng.random(shape) < P_DEGENERATE
    good = rng.random(shape) < P_GOOD + shift / (1 - P_DEGENERATE)
    return np.where(degenerate, 0.0, good.astype(float)), degenerate


def labelled(rng, shape, n):
    """A random ``n`` of the last axis, per simulation."""
    return np.argsort(rng.random(shape), axis=-1) < n


@pytest.mark.parametrize(
    ("kind", "judge_bias"), [("degenerate", 0.25), ("noise", -0.05), ("unbiased", 0.0)]
)
def test_rate_unbiased_and_covered(kind, judge_bias):
    rng = np.random.default_rng(1)
    shape = (R, 1, 50)
    y, degenerate = world(rng, shape)
    f = judge(y, degenerate, kind, rng)
    r = estimate(f, np.where(labelled(rng, shape, 25), y, np.nan), [1])
    covered = np.mean((r["ci_low"] <= 0.6) & (r["ci_high"] >= 0.6))
    assert 0.93 <= covered <= 0.97, covered
    assert abs(r["estimate"].mean() - 0.6) < 0.01  # corrected: unbiased
    assert abs(r["judge"].mean() - 0.6 - judge_bias) < 0.01  # the judge's own bias
    judged_cover = np.mean(np.abs(r["judge"] - 0.6) <= 1.96 * np.sqrt(0.24 / 50))
    if kind == "degenerate":
        assert judged_cover < 0.05  # the uncorrected rate's interval misses


@pytest.mark.parametrize("shared", [True, False])
@pytest.mark.parametrize("kind", ["degenerate", "noise", "unbiased"])
def test_paired_difference_covered(kind, shared):
    """A - B on the same prompts (truths correlated through the prompt), true difference
    +0.1; labels on the same prompts for both models (the sheet's way) or drawn apart."""
    rng = np.random.default_rng(2)
    n_prompts, n = 60, 25
    hard = rng.random((R, 1, n_prompts)) < 0.5  # a hard prompt: both models fail more
    ya, da = world(rng, (R, 1, n_prompts), shift=0.1)
    yb, db = world(rng, (R, 1, n_prompts))
    # correlated: on a hard prompt, both models' labels are kept as drawn only half the time
    drop = hard & (rng.random((R, 1, n_prompts)) < 0.3)
    ya, yb = np.where(drop, 0.0, ya), np.where(drop, 0.0, yb)
    truth = 0.1  # the drop takes the same share from both models' rates ...
    truth -= 0.15 * (0.7 * P_GOOD + 0.1) - 0.15 * (0.7 * P_GOOD)  # ... of their own passes
    y = np.concatenate([ya, yb], axis=1)
    f = np.concatenate([judge(ya, da, kind, rng), judge(yb, db, kind, rng)], axis=1)
    if shared:
        mask = np.repeat(labelled(rng, (R, 1, n_prompts), n), 2, axis=1)
    else:
        mask = labelled(rng, (R, 2, n_prompts), n)
    r = estimate(f, np.where(mask, y, np.nan), [1, -1])
    covered = np.mean((r["ci_low"] <= truth) & (truth <= r["ci_high"]))
    assert 0.93 <= covered <= 0.97, covered
    assert abs(r["estimate"].mean() - truth) < 0.01


def test_perfect_judge_needs_no_correction():
    f = np.array([[1, 0, 1, 1, 0, 1.0]])
    r = estimate(f, np.where([[1, 1, 0, 0, 1, 0]], f, np.nan), [1])
    assert r["correction"] == 0 and r["estimate"] == pytest.approx(4 / 6)


def test_no_label_is_nan():
    r = estimate(np.array([[1, 0, 1.0]]), np.full((1, 3), np.nan), [1])
    assert np.isnan(r["estimate"]) and r["n_labelled"][0] == 0


def test_combine_and_planner():
    rng = np.random.default_rng(3)
    y, degenerate = world(rng, (1, 200))
    f = judge(y, degenerate, "degenerate", rng)
    mask = labelled(rng, (1, 200), 30)
    r = estimate(f, np.where(mask, y, np.nan), [1])
    r["judge_var"] = judge_variance(f, [1])
    both = combine([r, r], [0.5, 0.5])
    assert both["estimate"] == pytest.approx(float(r["estimate"]))
    assert both["se"] == pytest.approx(float(r["se"]) / np.sqrt(2))
    width = float(r["ci_high"] - r["ci_low"])
    assert labels_needed(r, width) == 30
    assert labels_needed(r, width / 2) > 30 * 3
    assert labels_needed(r, 1e-6) == -1
