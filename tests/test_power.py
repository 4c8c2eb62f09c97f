"""The planner and the variance decomposition, on simulated data where the truth is known."""

import math

import numpy as np
import pytest
from scipy import stats as sps

from hhalign.power import needed, spread
from hhalign.variance import variance_components


def test_variance_components_recover_known_prompt_seed_and_residual_variances():
    """y = mu + a_p + b_s + e with sd 2, 1 and 0.5: method-of-moments estimates are unbiased
    (mean of 300 simulations within 6% of the truth)."""
    rng = np.random.default_rng(0)
    est = []
    for _ in range(300):
        s, p = 6, 120
        y = 3 + rng.normal(0, 2, p)[None, :] + rng.normal(0, 1, s)[:, None]
        est.append(variance_components(y + rng.normal(0, 0.5, (s, p))))
    for key, truth in (("prompt", 4.0), ("seed", 1.0), ("residual", 0.25)):
        assert np.mean([e[key] for e in est]) == pytest.approx(truth, rel=0.06)
    shares = np.mean([[e[f"share_{k}"] for k in ("prompt", "seed", "residual")] for e in est], 0)
    assert shares.sum() == pytest.approx(1.0) and shares[1] > shares[0]  # 6 seeds, 120 prompts


def test_the_decoding_component_of_sampled_responses():
    """Each of k = 4 samples adds N(0, 0.7) to its cell: the decoding component is 0.49, the
    residual and prompt components stay what they were (300 simulations, within 6%)."""
    rng = np.random.default_rng(2)
    est, one_seed = [], []
    for _ in range(300):
        s, p, k = 6, 120, 4
        cell = 3 + rng.normal(0, 2, p)[None, :] + rng.normal(0, 1, s)[:, None]
        cell = cell + rng.normal(0, 0.5, (s, p))
        x = cell[:, :, None] + rng.normal(0, 0.7, (s, p, k))
        est.append(variance_components(x.mean(-1), x))
        one_seed.append(variance_components(x[:1].mean(-1), x[:1]))
    for key, truth in (("prompt", 4.0), ("seed", 1.0), ("residual", 0.25), ("decoding", 0.49)):
        assert np.mean([e[key] for e in est]) == pytest.approx(truth, rel=0.06)
    shares = [sum(e[f"share_{k}"] for k in ("prompt", "seed", "residual", "decoding")) for e in est]
    assert shares == pytest.approx([1.0] * 300)
    # One seed: the prompt component holds the residual too (4 + 0.25), not the decoding.
    assert np.mean([e["prompt_seed"] for e in one_seed]) == pytest.approx(4.25, rel=0.15)
    assert 0 < np.mean([e["share_decoding"] for e in one_seed]) < 0.1
    assert math.isnan(variance_components(cell)["share_decoding"])  # greedy: no decoding part


def test_one_seed_cannot_separate_prompts_from_seeds():
    """Before: share_prompt 1.0, as if prompts carried all the variance (Figure 8 showed
    100% prompts where the seed variance is unknown)."""
    comp = variance_components(np.array([[1.0, 0.0, 1.0, 1.0]]))
    assert comp["prompt_seed"] == pytest.approx(0.25) and math.isnan(comp["seed"])
    assert math.isnan(comp["prompt"]) and math.isnan(comp["share_prompt"])
    assert (
        comp["share_prompt_seed"] == 1.0 and comp["components"] == "prompts + seeds (not separable)"
    )
    assert comp["prompt_seed_lo"] < 0.25 < comp["prompt_seed_hi"]


def test_the_prompts_needed_give_the_promised_power():
    """One seed, per-prompt differences N(delta, sigma): at the planned number of prompts a
    two-sided test at alpha rejects about 80% of the time (simulated)."""
    rng = np.random.default_rng(1)
    delta, sigma, alpha = 0.3, 1.0, 0.05
    n, seeds = needed(delta, sigma**2, math.nan, 50, 1, math.nan, alpha, 0.8)
    assert math.isnan(seeds)  # one seed: the seed variance cannot be told
    rejected = [
        sps.ttest_1samp(rng.normal(delta, sigma, int(n)), 0).pvalue < alpha for _ in range(2000)
    ]
    assert 0.76 <= np.mean(rejected) <= 0.84, (n, np.mean(rejected))


def test_more_seeds_cannot_remove_prompt_noise():
    prompts, seeds = needed(0.1, 4.0, 0.0001, 50, 3, math.nan, 0.05, 0.8)
    assert seeds == math.inf and math.isfinite(prompts)
    prompts, seeds = needed(2.0, 4.0, 9.0, 400, 3, math.nan, 0.05, 0.8)
    assert math.isfinite(seeds) and seeds > 3  # the seeds' spread dominates: more seeds help
    assert needed(0.0, 1.0, 1.0, 50, 3, math.nan, 0.05, 0.8) == (math.inf, math.inf)


def test_spread_of_a_rate_comparison_is_its_discordance():
    d = {"harmful": np.array([[1.0] * 10 + [-1.0] * 4 + [0.0] * 36])}
    var_p, var_s, n, k, disc = spread(d, {"harmful": 100.0})
    assert var_p == pytest.approx(100.0**2 * np.var(d["harmful"][0], ddof=1))
    assert math.isnan(var_s) and (n, k) == (50, 1)
    assert disc == pytest.approx(14 / 50)  # p10 + p01


def simulated_judge(weight_length: float, weight_content: float, seed: int):
    """Per-prompt score and length differences of model A over B: A writes 20 tokens more
    and is better by 0.5 in content; the judge scores weight_length x length + weight_content
    x content + noise."""
    rng = np.random.default_rng(seed)
    n = 200
    dlen = 20 + rng.normal(0, 10, n)
    dcontent = 0.5 + rng.normal(0, 0.3, n)
    dy = weight_length * 0.05 * dlen + weight_content * dcontent + rng.normal(0, 0.3, n)
    return dy, dlen


def test_the_length_adjusted_difference_removes_a_length_only_judge():
    from hhalign.stats import length_adjusted

    # The judge rewards length alone: raw differences near +1, the adjusted ones near 0, and
    # their 95% intervals cover 0 about 95% of the time (300 simulated studies).
    fits = [(simulated_judge(1.0, 0.0, seed)) for seed in range(300)]
    results = [length_adjusted(dy, dlen) for dy, dlen in fits]
    assert np.mean([dy.mean() for dy, _ in fits]) > 0.8
    assert abs(np.mean([est for est, _, _ in results])) < 0.05
    assert 0.92 <= np.mean([low < 0 < high for _, low, high in results]) <= 0.98
    dy, dlen = simulated_judge(0.0, 1.0, 4)  # content alone: the adjustment changes nothing
    est, low, _ = length_adjusted(dy, dlen)
    assert est == pytest.approx(dy.mean(), abs=0.15) and low > 0
    assert all(math.isnan(x) for x in length_adjusted(dy, np.zeros_like(dy)))


def test_length_bias_is_the_score_length_correlation():
    import pandas as pd

    from hhalign.responses import length_bias

    audited = pd.DataFrame(
        {
            "protocol": "paper",
            "prompt_set": "harmful",
            "score": [1.0, 2.0, 3.0, 4.0],
            "n_tokens": [5, 9, 20, 40],
        }
    )
    assert length_bias(audited, "j")["spearman_score_length"].iloc[0] == pytest.approx(1.0)
