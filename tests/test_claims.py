"""Verdicts a reviewer can trust: the threshold band per comparison, seeds resampled once
per draw, the comparison shown for a claim, the paper's missing claims, the scope of a
verdict, the MDD, exact p-values, independent streams, the family option."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from support import claims_cfg

from hhalign import stats
from hhalign.claims import claims_table, judge_claim, scope
from hhalign.comparisons import own_levels

VARIANTS = ["base", "sft", "dpo", "sft_dpo"]
CFG = claims_cfg()


def long_scores(per_model: dict[str, dict[str, np.ndarray]], seeds=(0,)) -> pd.DataFrame:
    """model -> prompt set -> scores[seed, prompt] as the long table the claims read."""
    rows = []
    for variant, sets in per_model.items():
        for prompt_set, x in sets.items():
            x = np.atleast_2d(x)
            for i, seed in enumerate(seeds if len(x) > 1 else seeds[:1]):
                for j, score in enumerate(x[i]):
                    rows.append(
                        {
                            "protocol": "paper",
                            "variant": variant,
                            "seed": seed,
                            "prompt_set": prompt_set,
                            "id": f"{prompt_set}-{j:03d}",
                            "score": float(score),
                        }
                    )
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def tied_and_reversed():
    """SFT scores 5.0 on every harmful prompt, every other model the same N(-3, 1) draws:
    SFT+DPO vs SFT is a large reversal on HmR, SFT+DPO vs Base a tie."""
    rng = np.random.default_rng(5)
    harmful, helpful = rng.normal(-3, 1, 50), rng.normal(-2, 1, 50)
    models = {v: {"harmful": harmful, "helpful": helpful} for v in VARIANTS}
    models["sft"] = {"harmful": np.full(50, 5.0), "helpful": helpful}
    return claims_table(long_scores(models), VARIANTS, CFG)


def test_a_tied_part_does_not_void_a_significant_reversal(tied_and_reversed):
    """Before: one range for all rate parts, and the tie at Base voided the reversal."""
    claims, pairs = tied_and_reversed
    best = claims.set_index("claim").loc["sft_dpo_best_all"]
    assert best["verdict"] == "refuted (2 of 9 parts reversed)"
    assert best["comparison"] == "HmR: sft_dpo - sft" and best["difference"] < -50
    assert "HmR: sft_dpo - base tied (no sign)" in best["stable_ranges"]
    assert best["stable_from"] <= -0.5 and best["stable_to"] >= 0.5
    alone = claims.set_index("claim").loc["sft_dpo_highest_hpr"]  # HpR: every part tied
    assert alone["verdict"] == "not separable"
    table = pairs[pairs["protocol"] == "paper"]
    grid = np.arange(-8, 9) * 0.25
    shifted = {float(s): {("HmR", "sft_dpo", "sft"): -64.0} for s in grid}
    verdict, row, _ = judge_claim([("HmR", "sft_dpo", "sft")], table, shifted, CFG)
    assert verdict == "reversed" and row["difference"] < -50


def test_seeds_are_resampled_once_for_both_prompt_sets():
    """A seed is one trained model answering both sets: CAS's halves share the resample.
    Resampled per set, the one odd seed out of 5 could never fill both halves: (0, 50)."""
    x = np.zeros((5, 50))
    x[0] = 1.0
    lo, hi = stats.bootstrap_interval(
        {"harmful": x, "helpful": x.copy()}, {"harmful": 50.0, "helpful": 50.0}, 20000, 0
    )
    assert (lo, hi) == (0.0, 60.0)


def test_exact_sign_flip_for_one_seed_rates():
    d = {
        "harmful": np.array([[1.0] * 10 + [-1.0] * 4 + [0.0] * 36]),
        "helpful": np.array([[1.0] * 6 + [-1.0] * 2 + [0.0] * 42]),
    }
    weights = {"harmful": 50.0, "helpful": 50.0}
    pooled = sps.binomtest(16, 22, 0.5).pvalue  # equal set sizes: McNemar on the pooled
    assert stats.sign_flip_exact_labels(d, weights) == pytest.approx(pooled, abs=1e-12)
    # Unequal sizes: brute force over every sign assignment of the 6 discordant prompts.
    small = {"harmful": np.array([[1.0, 1.0, -1.0, 0.0]]), "helpful": np.array([[1.0, -1.0, 1.0]])}
    w = {"harmful": 50.0, "helpful": 50.0}
    steps = [50 / 4] * 3 + [50 / 3] * 3
    observed = stats.difference(small, w)
    signs = np.array(np.meshgrid(*[[-1, 1]] * 6)).reshape(6, -1).T
    brute = np.mean(np.abs(signs @ np.array(steps)) >= abs(observed) - 1e-9)
    assert stats.sign_flip_exact_labels(small, w) == pytest.approx(brute, abs=1e-12)


def test_mdd_is_never_zero_and_says_why():
    d = {"harmful": np.zeros((1, 50))}
    assert np.isnan(stats.min_detectable_difference(d, {"harmful": 100.0}, 0.05 / 6))
    assert "agree on every prompt" in stats.mdd_note(d, {"harmful": 100.0})


def test_each_row_s_level_is_its_own_step():
    p = [0.04, 0.001, 0.02]
    assert own_levels(p, 0.05, "holm") == pytest.approx([0.05, 0.05 / 3, 0.05 / 2])
    assert own_levels(p, 0.05, "bh") == pytest.approx([0.05, 0.05 / 3, 0.05 * 2 / 3])


def test_the_scope_of_a_verdict():
    assert scope("holds", 1) == "these checkpoints"
    assert scope("reversed", 3, [{"p_seed": 0.001, "level": 0.05}]) == "the method"
    assert scope("holds", 3, [{"p_seed": 0.2, "level": 0.05}]) == "these 3 checkpoint pairs"
    assert scope("not separable", 3) == "n/a"


def test_claims_scope_with_one_and_with_several_seeds():
    rng = np.random.default_rng(1)
    one = {
        v: {"harmful": rng.normal(-3, 1, 50), "helpful": rng.normal(-2, 1, 50)} for v in VARIANTS
    }
    one["sft"]["helpful"] = np.full(50, 5.0)
    claims, _ = claims_table(long_scores(one), VARIANTS, CFG)
    holds = claims[claims["verdict"] != "not separable"]
    assert len(holds) and set(holds["scope"]) == {"these checkpoints"}
    many = {
        v: {s: np.stack([x[s] + rng.normal(0, 0.01, 50) for _ in range(3)]) for s in x}
        for v, x in one.items()
    }
    many["base"] = one["base"]  # Base: one run
    claims, _ = claims_table(long_scores(many, seeds=(1, 2, 3)), VARIANTS, CFG)
    holds = claims[claims["verdict"] != "not separable"]
    assert len(holds) and set(holds["scope"]) == {"the method"}


def test_same_inputs_same_bytes_and_independent_streams(tied_and_reversed):
    claims, pairs = tied_and_reversed
    rng = np.random.default_rng(5)
    harmful, helpful = rng.normal(-3, 1, 50), rng.normal(-2, 1, 50)
    models = {v: {"harmful": harmful, "helpful": helpful} for v in VARIANTS}
    models["sft"] = {"harmful": np.full(50, 5.0), "helpful": helpful}
    again_claims, again_pairs = claims_table(long_scores(models), VARIANTS, CFG)
    pd.testing.assert_frame_equal(pairs, again_pairs)
    pd.testing.assert_frame_equal(claims, again_claims)
    # SFT vs Base and SFT vs DPO have the same per-prompt differences (Base and DPO answer
    # alike): with one shared stream their bootstrap intervals were equal to the last bit.
    mean = pairs[pairs["metric"] == "mean_harmful"].set_index(["a", "b"])
    assert mean.loc[("base", "sft"), "difference"] == mean.loc[("sft", "dpo"), "difference"] * -1
    assert mean.loc[("base", "sft"), "ci_low"] != -mean.loc[("sft", "dpo"), "ci_high"]


def test_the_claims_family_option():
    rng = np.random.default_rng(2)
    models = {
        v: {"harmful": rng.normal(-3, 1, 50), "helpful": rng.normal(-2, 1, 50)} for v in VARIANTS
    }
    scores = long_scores(models)
    _, by_metric = claims_table(scores, VARIANTS, CFG)
    _, by_claims = claims_table(scores, VARIANTS, {**CFG, "family": "claims"})
    assert set(by_metric["adjustment"]) == {"Holm, within the metric"}
    used = by_claims[by_claims["family"] == "claims"]
    assert len(used) > 6 and set(used["adjustment"]) == {"Holm, across the claims' comparisons"}
    assert (used["p_adj"].to_numpy() >= by_metric.loc[used.index, "p_adj"].to_numpy() - 1e-12).all()


def audit_claims(ratings_csv) -> pd.DataFrame:
    """results/audit/claims.csv as the pipeline builds it from the authors' release: prompt
    ids as import_audit_scores writes them, config.yaml's claims settings."""
    import yaml
    from support import ROOT

    r = pd.read_csv(ratings_csv).sort_values(["model", "category", "prompt_index"])
    scores = r.assign(
        protocol="paper",
        variant=r["model"],
        prompt_set=r["category"],
        id=[f"{c}-{i:03d}" for c, i in zip(r["category"], r["prompt_index"], strict=True)],
    )
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    claims, _ = claims_table(scores, VARIANTS, {**cfg["claims"], "metrics": cfg["metrics"]})
    return claims


def test_the_docs_audit_table_is_the_pipeline_s(paper_ratings):
    """The docs' table of verdicts on the released scores (docs/claims.md) is generated from
    what the pipeline computes (`python -m hhalign.tables results/audit/claims.csv`)."""
    import re

    from support import ROOT

    from hhalign.tables import claims_markdown

    readme = (ROOT / "docs" / "claims.md").read_text()
    block = re.search(r"<!-- audit-claims -->\n(.*?)<!-- /audit-claims -->", readme, re.S)
    assert block, "docs/claims.md lacks the <!-- audit-claims --> block"
    assert block.group(1) == claims_markdown(audit_claims(paper_ratings))


def test_win_rates_count_ties_half_and_need_the_chosen_answers():
    from hhalign.win_rates import win_rate_table

    models = {v: {"harmful": np.array([1.0, 2, 3, 4]), "helpful": np.zeros(4)} for v in VARIANTS}
    chosen = long_scores({"chosen": {"harmful": np.array([0.0, 2, 5, 4]), "helpful": np.ones(4)}})
    table = win_rate_table(long_scores(models), chosen, VARIANTS, CFG).set_index(
        ["model", "prompt_set"]
    )
    assert table.loc[("sft", "harmful"), "win_rate"] == 50.0  # win, tie, loss, tie
    assert table.loc[("sft", "harmful"), "ties"] == 50.0
    assert table.loc[("sft", "helpful"), "win_rate"] == 0.0
    assert table.loc[("sft", "harmful"), "prompts"] == 4


def test_win_rate_intervals_cover_the_truth_on_a_simulated_judge():
    """Model scores N(delta, 1), chosen N(0, 1): P(win) = Phi(delta / sqrt 2)."""
    from hhalign.win_rates import win_rate_table

    rng = np.random.default_rng(11)
    truth = 100 * sps.norm.cdf(0.5 / np.sqrt(2))
    cfg = {**CFG, "bootstrap_draws": 1000}
    hits, estimates = 0, []
    for _ in range(150):
        models = {"base": {"harmful": rng.normal(0.5, 1, 60), "helpful": rng.normal(0, 1, 60)}}
        ref = {"harmful": rng.normal(0, 1, 60), "helpful": rng.normal(0, 1, 60)}
        row = win_rate_table(long_scores(models), long_scores({"chosen": ref}), ["base"], cfg).iloc[
            0
        ]
        hits += row["lo"] <= truth <= row["hi"]
        estimates.append(row["win_rate"])
    assert abs(np.mean(estimates) - truth) < 2.0
    assert 0.88 <= hits / 150 <= 0.99


def test_win_rates_join_the_pairs_without_moving_the_other_comparisons():
    rng = np.random.default_rng(3)
    models = {
        v: {"harmful": rng.normal(-3, 1, 40), "helpful": rng.normal(-2, 1, 40)} for v in VARIANTS
    }
    models["sft"] = {"harmful": rng.normal(0, 1, 40), "helpful": rng.normal(0, 1, 40)}
    chosen = long_scores(
        {"chosen": {"harmful": rng.normal(-1, 1, 40), "helpful": rng.normal(-1, 1, 40)}}
    )
    claims, pairs = claims_table(long_scores(models), VARIANTS, CFG)
    claims_c, pairs_c = claims_table(long_scores(models), VARIANTS, CFG, chosen=chosen)
    assert set(pairs_c["metric"]) - set(pairs["metric"]) == {"WR_harmful", "WR_helpful"}
    same = pairs_c[~pairs_c["metric"].str.startswith("WR")].reset_index(drop=True)
    pd.testing.assert_frame_equal(same, pairs)
    pd.testing.assert_frame_equal(claims_c, claims)
    row = pairs_c[(pairs_c["metric"] == "WR_harmful") & (pairs_c["a"] == "base")].iloc[0]
    assert row["b"] == "sft" and row["difference"] < -40 and row["ci_high"] < 0
    assert row["test"] == "sign-flip permutation"


def test_sampled_responses_are_averaged_per_prompt_before_any_statistic():
    """Three samples a prompt (generation.samples): a prompt's label is the mean of its
    samples' labels, every comparison counts prompts, and the chosen answers (one a prompt)
    pair with every sample."""
    from hhalign.paired import score_arrays
    from hhalign.win_rates import win_rate_table

    rng = np.random.default_rng(4)
    models = {
        v: {"harmful": rng.normal(-3, 1, 20), "helpful": rng.normal(-2, 1, 20)} for v in VARIANTS
    }
    one = long_scores(models)
    three = pd.concat([one.assign(sample=k) for k in range(3)], ignore_index=True)
    three.loc[three["sample"] == 1, "score"] += 10.0  # sample 1 always passes
    chosen = long_scores({"chosen": {"harmful": np.full(20, -3.0), "helpful": np.full(20, -2.0)}})
    arrays = score_arrays(
        pd.concat([three, chosen.assign(variant="chosen")]), [*VARIANTS, "chosen"]
    )
    assert arrays[("sft", "harmful")].shape == (1, 20, 3)  # seed, prompt, sample
    assert arrays[("chosen", "harmful")].shape == (1, 20, 1)
    pairs = claims_table(three, VARIANTS, CFG, chosen=chosen)[1]
    assert set(pairs["n_prompts"].astype(str).str.split("/").explode()) == {"20"}
    pairs_one = claims_table(one, VARIANTS, CFG)[1]
    hmr, hmr_one = (
        p[(p["metric"] == "HmR") & (p["a"] == "base") & (p["b"] == "sft")]
        for p in (pairs, pairs_one)
    )
    # One sample in three always passes: each prompt's rate is (2 x label + 1) / 3.
    assert hmr["difference"].iloc[0] == pytest.approx(2 / 3 * hmr_one["difference"].iloc[0])
    wins = win_rate_table(three, chosen, VARIANTS, CFG)
    assert (wins["prompts"] == 20).all() and (wins["win_rate"] >= 100 / 3 - 1e-9).all()
