"""The statistics review (issue 37): each test is a reproduction that gave a wrong or
misleading answer before the fix. Sampled decoding's fractional values in exact tests, the
planner with no discordance, the seed variance, "the method" with 2-3 seeds, the planner's
notes, the length sensitivity, win-rate and CAS coverage, variance components, the levels
under the claims family, verdict words, NaN responses."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from support import claims_cfg

from hhalign import power, stats, variance
from hhalign.claims import claimed, claims_table, scope
from hhalign.comparisons import adjust, seed_level_p, with_mdd

VARIANTS = ["base", "sft", "dpo", "sft_dpo"]
CFG = claims_cfg()


def sampled_scores(passes: dict[str, int], k: int = 3, n: int = 50) -> pd.DataFrame:
    """One seed, ``k`` samples per prompt: model ``v`` passes ``passes[v]`` of each harmful
    prompt's samples (score threshold + 1, else threshold - 1); helpful scores are equal."""
    rows = []
    for variant in VARIANTS:
        for j in range(n):
            for sample in range(k):
                ok = sample < passes.get(variant, 1)
                for prompt_set, cut in (("harmful", -3.0), ("helpful", -2.0)):
                    score = cut + (1.0 if ok or prompt_set == "helpful" else -1.0)
                    rows.append(
                        {
                            "protocol": "paper",
                            "variant": variant,
                            "prompt_set": prompt_set,
                            "id": f"{prompt_set}-{j:03d}",
                            "sample": sample,
                            "score": score,
                        }
                    )
    return pd.DataFrame(rows)


def test_sampled_rates_are_tested_on_their_values_not_as_labels():
    """Before: McNemar counted only 0/1 prompts and gave p = 1.0, "not separable"."""
    claims, pairs = claims_table(sampled_scores({"sft": 2, "base": 1}), VARIANTS, CFG)
    row = pairs[(pairs["metric"] == "HmR") & (pairs["a"] == "base") & (pairs["b"] == "sft")]
    assert row["difference"].iloc[0] == pytest.approx(-100 / 3)
    assert row["p"].iloc[0] == pytest.approx(2 * 2.0**-50, rel=1e-9)
    assert row["test"].iloc[0] == "exact sign-flip"
    assert claims.set_index("claim").loc["sft_improves_hmr", "verdict"] == "holds"


def test_the_lattice_sign_flip_is_exact():
    """Brute force over every sign assignment of 8 prompts with values in thirds."""
    x = np.array([[2, -1, 0, 3, -2, 1, 1, -3]]) / 3
    observed = 100 * x.mean()
    signs = np.array(np.meshgrid(*[[-1, 1]] * 8)).reshape(8, -1).T
    brute = np.mean(np.abs(signs @ (100 * x[0] / 8)) >= abs(observed) - 1e-9)
    assert stats.sign_flip_exact({"h": x}, {"h": 100.0}) == pytest.approx(brute, abs=1e-12)
    assert stats.lattice(x) == 3 and stats.lattice(np.array([0.1234567])) is None


@pytest.mark.parametrize("discordant", [0, 1])
def test_the_planner_never_plans_fewer_prompts_than_the_failed_run(discordant):
    """Before: 2 prompts against the paper's +6 with no discordant prompt, 44 with one."""
    d = np.zeros((1, 50))
    d[0, 0] = discordant
    spread = power.spread({"harmful": d}, {"harmful": 100.0})
    prompts, _ = power.needed(6.0, *spread, 0.05, 0.8)
    # The least discordance a +6 difference implies (6% of prompts), its variance 564.
    share = 0.06
    variance = 100**2 * (share - share**2) * 50 / 49
    expected = math.ceil(variance / (6 / (sps.norm.ppf(0.975) + sps.norm.ppf(0.8))) ** 2)
    assert prompts == expected and prompts > 50


def test_the_sizing_row_says_what_it_assumes():
    """The observed plan is NaN with a note when the models agree everywhere; a plan for a
    reversal says so; the interval's bound nearest 0 is planned too; never below the run."""
    from hhalign.comparisons import sizing_row

    row = {
        "metric": "HmR",
        "_d": {"harmful": np.zeros((1, 50))},
        "difference": 0.0,
        "ci_low": 0.0,
        "ci_high": 0.0,
        "level": 0.05,
    }
    plan = sizing_row(row, 6.0, None, CFG)
    assert (
        math.isnan(plan["prompts_for_observed"]) and "agree on every prompt" in plan["sizing_note"]
    )
    assert plan["prompts_for_paper"] > 50
    d = np.zeros((1, 50))
    d[0, :6], d[0, 6:10] = -1, 1
    row |= {"_d": {"harmful": d}, "difference": -4.0, "ci_low": -12.0, "ci_high": 4.0}
    plan = sizing_row(row, 6.0, None, CFG, n_parts=3)
    assert "reverse" in plan["sizing_note"] and "1 of 3" in plan["sizing_note"]
    assert "if the observed difference and discordance were the truth" in plan["sizing_note"]
    assert plan["prompts_for_bound"] == math.inf  # the interval reaches 0
    assert plan["prompts_for_observed"] >= 50


def test_the_seed_variance_is_the_anova_estimator():
    """Before: var(per-seed) - prompt / n subtracted the prompt variance, not the residual:
    mean estimate 0.0034 (truth 0.04), exactly 0 in 88% of draws."""
    rng = np.random.default_rng(5)
    est = []
    for _ in range(1000):
        d = (
            2 * rng.normal(size=50)[None]
            + 0.2 * rng.normal(size=5)[:, None]
            + 0.5 * rng.normal(size=(5, 50))
        )
        est.append(power.spread({"h": d}, {"h": 1.0}).sigma2_seed)
    est = np.array(est)
    assert 0.035 <= est.mean() <= 0.047, est.mean()
    assert np.mean(est == 0) < 0.1


def test_the_method_needs_a_seed_level_test():
    """Two equally good methods, a seed shift N(0, tau) shared by a seed's prompts: before,
    "holds for the method" fired 6-15% of the time with 2-3 seeds. The seed-level t-test
    keeps a false "method" verdict (in one direction) near alpha / 2."""
    rng = np.random.default_rng(0)
    for k in (2, 3):
        fired = 0
        for _ in range(4000):
            per_seed = rng.normal(0, 15, k) + rng.normal(0, 7, k)  # seed shift + prompt noise
            fired += seed_level_p(list(per_seed)) < 0.05 and per_seed.mean() > 0
        assert fired / 4000 <= 0.025 + 0.008, (k, fired / 4000)
    rows = [{"p_seed": seed_level_p([30.0, 2.0]), "level": 0.05}]
    assert scope("holds", 2, rows) == "these 2 checkpoint pairs"
    assert scope("holds", 3, [{"p_seed": 0.001, "level": 0.05}]) == "the method"


def test_more_seeds_do_not_lower_the_verdict_by_disagreeing():
    """A large effect on the pooled prompts holds for these checkpoint pairs even when one
    seed's own difference is small and of the other sign: no every-seed rule."""
    from hhalign.claims import direction

    row = {"p_adj": 1e-6, "seeds_agree": 2, "seeds": 3, "ci_low": 5.0, "ci_high": 20.0}
    assert direction(row, 0.05) == 1


def test_multi_part_reversals_say_refuted():
    rng = np.random.default_rng(5)
    harmful, helpful = rng.normal(-3, 1, 50), rng.normal(-2, 1, 50)
    rows = []
    for v in VARIANTS:
        for prompt_set, x in (("harmful", harmful), ("helpful", helpful)):
            if v == "sft" and prompt_set == "harmful":
                x = np.full(50, 5.0)
            rows += [
                {
                    "protocol": "paper",
                    "variant": v,
                    "prompt_set": prompt_set,
                    "id": f"{prompt_set}-{j:03d}",
                    "score": float(s),
                }
                for j, s in enumerate(x)
            ]
    claims, _ = claims_table(pd.DataFrame(rows), VARIANTS, CFG)
    verdicts = claims.set_index("claim")["verdict"]
    assert (
        verdicts["sft_dpo_best_all"].startswith("refuted (")
        and "parts reversed" in (verdicts["sft_dpo_best_all"])
    )
    assert "tie" not in " ".join(claims["stable_ranges"]).replace("tied (no sign)", "")


def test_levels_match_the_adjustment_they_serve():
    """Under ``family: claims`` the rows no claim uses keep Holm over the metric's six pairs,
    so their levels are that family's steps; experiments are one BH family across their
    protocols, so their levels are too (before: levels per protocol, up to 2x lenient)."""
    pairs = []
    rng = np.random.default_rng(3)
    for protocol in ("paper", "exp_a", "exp_b"):
        for metric in ("HmR", "HpR"):
            for a, b in [(a, b) for i, a in enumerate(VARIANTS) for b in VARIANTS[i + 1 :]]:
                pairs.append(
                    {"protocol": protocol, "metric": metric, "a": a, "b": b, "p": rng.uniform()}
                )
    pairs = pd.DataFrame(pairs)
    pairs["p_holm"] = pairs.groupby(["protocol", "metric"])["p"].transform(
        lambda x: stats.holm(list(x))
    )
    out = adjust(pairs, {"family": "claims", "alpha": 0.05}, {"exp_a", "exp_b"}, claimed(VARIANTS))
    explore = out[out["family"] == "experiments"]
    m = len(explore)
    ranks = explore["p"].rank(method="first").to_numpy()
    assert np.allclose(explore["level"], 0.05 * ranks / m)
    unused = out[(out["protocol"] == "paper") & (out["family"] != "claims")]
    for metric, group in unused.groupby("metric"):
        whole = out[(out["protocol"] == "paper") & (out["metric"] == metric)]
        ranks = whole["p"].rank(method="first").astype(int)
        assert np.allclose(group["level"], (0.05 / (7 - ranks))[group.index])
    ones = {"harmful": np.ones((1, 5)), "helpful": np.ones((1, 5))}
    mdd = with_mdd(out.assign(_d=[ones] * len(out)), CFG)
    assert np.array_equal(mdd["level"], out["level"])  # the MDD uses the adjustment's levels


def test_a_missing_response_is_not_the_word_nan():
    from hhalign.paired import response_lengths

    scores = sampled_scores({"sft": 1}, k=1)
    scores["response"] = "ok fine"
    scores.loc[0, "response"] = np.nan
    lengths = response_lengths(scores, VARIANTS)
    first = scores.iloc[0]
    x = lengths[(first["variant"], first["prompt_set"])]
    assert x[0, 0, 0] == 0 and x[0, 1, 0] == 2


def test_win_rate_intervals_cover_near_0_and_100():
    """One seed, 50 prompts, binary wins, exact coverage on a fine grid of true win rates:
    >= 0.915 everywhere (0.916 at 2.06%, 0.92 at 2% and 98%, the values docs/claims.md
    states); before, the percentile bootstrap covered 0.62 at 2% and gave [0, 0] when every
    win is 0."""
    from hhalign.win_rates import win_interval

    n, seed = 50, np.random.SeedSequence(0)
    bounds = np.array(
        [win_interval(np.r_[np.ones(x), np.zeros(n - x)][None], 10, seed) for x in range(n + 1)]
    )
    grid = np.linspace(0.001, 0.999, 9981)
    pmf = sps.binom.pmf(np.arange(n + 1)[None], n, grid[:, None])
    inside = (bounds[:, 0][None] <= 100 * grid[:, None]) & (
        100 * grid[:, None] <= bounds[:, 1][None]
    )
    coverage = (pmf * inside).sum(axis=1)
    assert coverage.min() >= 0.915, (coverage.min(), grid[coverage.argmin()])
    assert coverage[np.abs(grid - 0.02).argmin()] >= 0.92
    lo, hi = win_interval(np.zeros((1, 50)), 200, seed)
    assert lo == pytest.approx(0, abs=1e-9) and hi > 5


@pytest.mark.parametrize(("seeds", "sd_seed"), [(3, 0.5), (5, 1.0), (5, 0.0)])
def test_variance_components_have_intervals_that_cover(seeds, sd_seed):
    """Each component's 95% interval (modified large-sample for prompt and seed, chi-square
    for the residual) covers its truth 93-98% of the time (400 simulations); a seed
    component from fewer than 4 seeds is marked unreliable."""
    rng = np.random.default_rng(seeds)
    truth = {"prompt": 1.0, "seed": sd_seed**2, "residual": 1.0}
    hits = dict.fromkeys(truth, 0)
    for _ in range(400):
        y = (
            rng.normal(0, 1, 50)[None]
            + rng.normal(0, sd_seed, seeds)[:, None]
            + rng.normal(0, 1, (seeds, 50))
        )
        comp = variance.variance_components(y)
        for key, value in truth.items():
            hits[key] += comp[f"{key}_lo"] <= value <= comp[f"{key}_hi"]
    for key, n in hits.items():
        assert 0.93 <= n / 400 <= (1.0 if truth[key] == 0 else 0.98), (key, n / 400)
    assert comp["df_seed"] == seeds - 1 and comp["df_residual"] == (seeds - 1) * 49
    assert ("unreliable" in comp["components"]) == (seeds < 4)


def test_the_length_adjustment_is_a_sensitivity_with_its_checks():
    """When the better model is longer because it says more (content and length advantages
    correlated), the intercept removes the content effect too (+0.5 -> about 0): the checks
    say the intercept extrapolates (every length difference is positive); a judge with a
    log-length taste is caught by the squared term, and the log-length intercept differs."""
    rng = np.random.default_rng(7)
    n = 200
    said = rng.uniform(5, 40, n)  # A says more: longer and better together
    len_b = rng.uniform(20, 60, n)
    len_a = len_b + said
    dy = 0.5 * said / said.mean() + 0.02 * said + rng.normal(0, 0.2, n)
    est, _, _ = stats.length_adjusted(dy, len_a - len_b)
    assert abs(est) < 0.25  # the +0.5 content effect is adjusted away
    checks = stats.length_checks(dy, len_a, len_b)
    assert checks["length_extrapolates"] == 1.0
    dlen = rng.normal(0, 20, n)
    len_b = rng.uniform(10, 80, n)
    len_a = np.clip(len_b + dlen, 1, None)
    dy = 0.3 + 1.5 * (np.log1p(len_a) - np.log1p(len_b)) + rng.normal(0, 0.05, n)
    checks = stats.length_checks(dy, len_a, len_b)
    assert checks["length_extrapolates"] == 0.0 and checks["length_nonlinear_p"] < 0.01
    assert checks["length_adjusted_log"] == pytest.approx(0.3, abs=0.05)


def test_the_rate_interval_s_coverage_as_the_docs_state_it():
    """Table 1's Wilson interval at 50 prompts, exact: least 0.839 (at p = 0.0035, the known
    dip next to the boundary), >= 0.93 for p in [0.1, 0.9], median 0.953 (docs/claims.md)."""
    from hhalign.metrics import wilson

    n = 50
    bounds = np.array([wilson(100 * x / n, n) for x in range(n + 1)])
    grid = np.linspace(0.001, 0.999, 9981)
    pmf = sps.binom.pmf(np.arange(n + 1)[None], n, grid[:, None])
    t = 100 * grid[:, None]
    coverage = (pmf * ((bounds[:, 0][None] <= t) & (t <= bounds[:, 1][None]))).sum(axis=1)
    assert 0.83 <= coverage.min() < 0.85
    assert coverage[(grid >= 0.1) & (grid <= 0.9)].min() >= 0.93
    assert 0.95 <= np.median(coverage) <= 0.956
