"""Paired statistics on simulated data where the truth is known, checked against scipy and
statsmodels; the claims table on the authors' released scores."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.power import TTestPower
from support import claims_cfg

from hhalign import stats
from hhalign.claims import claims_table
from hhalign.paired import score_arrays

W = {"s": 100.0}


def paired_labels(rng, n: int, p_a: float, p_b: float, rho: float = 0.0):
    """0/1 labels of two models on ``n`` shared prompts with correlation through a shared
    latent prompt difficulty (``rho``)."""
    z = rng.standard_normal(n)
    a = np.sqrt(rho) * z + np.sqrt(1 - rho) * rng.standard_normal(n)
    b = np.sqrt(rho) * z + np.sqrt(1 - rho) * rng.standard_normal(n)
    return (a < sps.norm.ppf(p_a)).astype(float), (b < sps.norm.ppf(p_b)).astype(float)


def test_paired_bootstrap_covers_the_true_difference_at_its_nominal_rate():
    rng = np.random.default_rng(1)
    truth, covered, runs = 100 * (0.6 - 0.45), 0, 1000
    for i in range(runs):
        a, b = paired_labels(rng, 200, 0.6, 0.45, rho=0.5)
        lo, hi = stats.bootstrap_interval({"s": (a - b)[None]}, W, 1000, seed=i)
        covered += lo <= truth <= hi
    assert 0.92 <= covered / runs <= 0.98, covered / runs


def test_pairing_narrows_the_interval_when_the_models_agree_on_prompts():
    rng = np.random.default_rng(2)
    a, b = paired_labels(rng, 200, 0.6, 0.5, rho=0.8)
    paired = stats.bootstrap_interval({"s": (a - b)[None]}, W, 4000, seed=0)
    unpaired = stats.bootstrap_interval({"s": (a - rng.permutation(b))[None]}, W, 4000, seed=0)
    assert paired[1] - paired[0] < 0.8 * (unpaired[1] - unpaired[0])


def test_seeds_are_resampled_too():
    """With a seed effect, resampling seeds widens the interval beyond prompts alone."""
    rng = np.random.default_rng(3)
    prompts = rng.standard_normal(100)
    d = prompts[None] + 2.0 * rng.standard_normal((5, 1))  # each seed shifts every prompt
    wide = stats.bootstrap_interval({"s": d}, {"s": 1.0}, 4000, seed=0)
    mean_only = stats.bootstrap_interval({"s": d.mean(0, keepdims=True)}, {"s": 1.0}, 4000, 0)
    assert wide[1] - wide[0] > 2 * (mean_only[1] - mean_only[0])


def test_exact_mcnemar_equals_scipy_and_statsmodels():
    rng = np.random.default_rng(4)
    for _ in range(20):
        a, b = paired_labels(rng, 50, rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8), 0.3)
        only_a, only_b = int(((a == 1) & (b == 0)).sum()), int(((a == 0) & (b == 1)).sum())
        ours = stats.mcnemar_exact(a, b)
        if only_a + only_b:
            assert ours == pytest.approx(sps.binomtest(only_a, only_a + only_b).pvalue, abs=1e-9)
        table = [[0, only_a], [only_b, 0]]
        assert ours == pytest.approx(mcnemar(table, exact=True).pvalue, abs=1e-9)


def test_sign_flip_test_matches_scipys_exact_permutation_test():
    rng = np.random.default_rng(5)
    d = rng.normal(0.4, 1.0, size=12)
    exact = sps.permutation_test(
        (d,), np.mean, permutation_type="samples", n_resamples=np.inf, alternative="two-sided"
    ).pvalue
    ours = stats.sign_flip_p({"s": d[None]}, {"s": 1.0}, 40000, seed=0)
    assert ours == pytest.approx(exact, abs=0.01)


def test_sign_flip_rejects_a_true_null_at_about_alpha():
    rng = np.random.default_rng(6)
    rejections = 0
    for i in range(400):
        a, b = paired_labels(rng, 60, 0.5, 0.5, rho=0.4)
        rejections += stats.sign_flip_p({"s": (a - b)[None]}, W, 500, seed=i) < 0.05
    assert 0.02 <= rejections / 400 <= 0.08


def test_holm_equals_the_step_down_procedure():
    p = [0.01, 0.04, 0.03, 0.2, 0.001, 0.5]
    order = np.argsort(p)
    manual, running = np.empty(len(p)), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p) - rank) * p[i]))
        manual[i] = running
    assert stats.holm(p) == pytest.approx(manual.tolist())
    assert stats.holm([]) == []


def test_minimum_detectable_difference_is_statsmodels_power_solution():
    rng = np.random.default_rng(7)
    a, b = paired_labels(rng, 50, 0.5, 0.4, rho=0.3)
    d = a - b
    mdd = stats.min_detectable_difference({"s": d[None]}, W, alpha=0.05)
    effect = mdd / (100 * d.std(ddof=1))
    assert TTestPower().power(effect, nobs=50, alpha=0.05) == pytest.approx(0.8, abs=1e-6)
    # four times the prompts: about half the detectable difference
    big = np.tile(d, 4)
    assert stats.min_detectable_difference({"s": big[None]}, W, 0.05) == pytest.approx(
        mdd / 2, rel=0.05
    )


def test_superiority_counts_ties_half():
    assert stats.superiority(np.array([1.0, 2.0, 3.0]), np.array([0.0, 2.0, 4.0])) == 0.5


def simulated_scores(rng, seeds: int = 1, n: int = 40) -> pd.DataFrame:
    """A score table of four models, with SFT+DPO clearly more helpful than Base."""
    shift = {"base": -1.5, "sft": 0.0, "dpo": 0.0, "sft_dpo": 1.5}
    rows = []
    for variant, mu in shift.items():
        for seed in range(1 if variant == "base" else seeds):
            for prompt_set, centre in (("harmful", -3.0), ("helpful", -2.0)):
                x = centre + (mu if prompt_set == "helpful" else 0) + rng.standard_normal(n)
                rows += [
                    {
                        "protocol": "p",
                        "variant": variant,
                        "prompt_set": prompt_set,
                        "id": f"{prompt_set}-{i}",
                        "seed": seed,
                        "score": v,
                    }
                    for i, v in enumerate(x)
                ]
    return pd.DataFrame(rows)


CFG = claims_cfg(threshold_scan=1.0)
VARIANTS = ["base", "sft", "dpo", "sft_dpo"]


def test_claims_are_deterministic_and_base_serves_every_seed():
    scores = simulated_scores(np.random.default_rng(8), seeds=3)
    arrays = score_arrays(scores[scores["protocol"] == "p"], VARIANTS)
    assert arrays[("base", "helpful")].shape == (3, 40, 1)  # seeds, prompts, samples
    assert np.array_equal(arrays[("base", "helpful")][0], arrays[("base", "helpful")][2])
    first = [t.to_csv(index=False) for t in claims_table(scores, VARIANTS, CFG)]
    again = [t.to_csv(index=False) for t in claims_table(scores, VARIANTS, CFG)]
    assert first == again
    claims = claims_table(scores, VARIANTS, CFG)[0].set_index("claim")
    assert claims.loc["sft_dpo_highest_hpr", "seeds_agree"] == "3/3"
    assert claims.loc["trained_beat_base_hpr", "verdict"] in ("holds", "not separable")
    assert claims.loc["dpo_lowers_hmr", "verdict"] != "holds"  # no harmful effect simulated


def test_mismatched_prompts_are_an_error():
    scores = simulated_scores(np.random.default_rng(9))
    scores.loc[(scores["variant"] == "dpo") & (scores["id"] == "helpful-0"), "id"] = "other"
    with pytest.raises(ValueError, match="prompt ids differ"):
        score_arrays(scores, VARIANTS)


@pytest.mark.realdata
def test_the_audit_verdicts_on_the_released_scores(paper_ratings):
    r = pd.read_csv(paper_ratings)
    scores = r.assign(
        protocol="paper",
        variant=r["model"],
        prompt_set=r["category"],
        id=r["prompt_index"].astype(str),
    )
    claims, pairs = claims_table(
        scores,
        VARIANTS,
        {**CFG, "bootstrap_draws": 10000, "permutation_draws": 10000, "threshold_scan": 2.0},
    )
    verdict = claims.set_index("claim")["verdict"]
    assert verdict["trained_beat_base_hpr"] == verdict["dpo_beats_base_hpr"] == "holds"
    assert verdict["sft_dpo_highest_hpr"] == "not separable"  # SFT+DPO vs SFT: p = 0.45
    assert verdict["sft_improves_hmr"] == verdict["dpo_lowers_hmr"] == "not separable"
    hpr = pairs[(pairs["metric"] == "HpR") & (pairs["a"] == "sft") & (pairs["b"] == "sft_dpo")]
    assert hpr["p"].iloc[0] == pytest.approx(sps.binomtest(3, 11).pvalue, abs=1e-9)
    assert hpr["p_holm"].iloc[0] == pytest.approx(0.4531, abs=1e-4)
    assert (pairs.loc[pairs["metric"] == "HmR", "p_holm"] == 1.0).all()
    # The paper's headline claim: shown by its most adverse part, which the paper's own
    # Table 1 contradicts (HmR 44 < SFT's 48).
    best = claims.set_index("claim").loc["sft_dpo_best_all"]
    assert best["comparison"] == "HmR: sft_dpo - sft" and best["difference"] < 0
    assert best["paper"] == -4.0 and best["paper_supports"] == "no"
    assert best["verdict"] == "not separable"
    # The results section's claims the table missed.
    assert verdict["dpo_lags_sft_helpful"] == "holds"  # mean helpful score, SFT - DPO
    lags = claims.set_index("claim").loc["dpo_lags_sft_helpful"]
    assert lags["difference"] == pytest.approx(1.03, abs=0.01) and lags["p_adj"] <= 0.0006
    assert lags["scope"] == "these checkpoints"  # one training seed
    lowest = claims.set_index("claim").loc["base_lowest_means"]
    assert lowest["paper_supports"] == "no"  # Base -3.60 vs SFT+DPO -3.68 on harmful prompts
    assert verdict["base_worst_cas"] in ("holds", "not separable")
    assert claims.set_index("claim").loc["trained_beat_base_hpr", "paper_supports"] == "yes"


def test_run_names_keep_the_first_seeds_paths():
    from hhalign.runs import run_name, split_run

    seeds = [42, 7]
    assert [run_name(v, s, seeds) for v, s in (("sft", 42), ("sft_dpo", 7), ("base", 7))] == [
        "sft",
        "sft_dpo_seed7",
        "base",
    ]
    for name in ("sft", "sft_dpo_seed7", "dpo_seed42", "base"):
        assert run_name(*split_run(name, seeds), seeds) in (name, "dpo")


def test_table1_gets_per_seed_rows_and_a_summary_over_seeds(tmp_path):
    from hhalign.across_seeds import with_seed_summary
    from hhalign.io import write_scores
    from hhalign.metrics import main_rows, table1, table2
    from hhalign.readers import read_score_files
    from hhalign.tables import write_tables

    scores = simulated_scores(np.random.default_rng(10), seeds=3)
    seeds = [0, 1, 2]
    paths, keys = [], []
    for (variant, seed, prompt_set), g in scores.groupby(["variant", "seed", "prompt_set"]):
        run = variant if seed == 0 else f"{variant}_seed{seed}"
        path = tmp_path / f"{run}-{prompt_set}.csv"
        write_scores(
            g[["id", "score"]].assign(
                prompt="q", response="r", empty_response=False, truncated_input=False
            ),
            path,
        )
        paths.append(str(path))
        keys.append(("p", run, prompt_set))
    read = read_score_files(paths, keys, seeds)
    assert sorted(read.loc[read["variant"] == "sft", "seed"].unique()) == seeds
    assert list(read.loc[read["variant"] == "base", "seed"].unique()) == [0]
    t1 = with_seed_summary(read, table1(read, CFG["metrics"], VARIANTS), VARIANTS, CFG)
    assert t1[["model", "seed"]].astype(str).agg(":".join, axis=1).tolist()[:5] == [
        "base:0",
        "base:all",
        "sft:0",
        "sft:1",
        "sft:2",
    ]
    main = main_rows(t1).set_index("model")
    per_seed = t1[(t1["model"] == "sft") & (t1["seed"].astype(str) != "all")]
    assert main.loc["sft", "HpR"] == pytest.approx(per_seed["HpR"].mean())
    assert main.loc["sft", "HpR_sd"] == pytest.approx(per_seed["HpR"].std(ddof=1))
    assert np.isnan(main.loc["base", "HpR_sd"]) and main.loc["base", "n_seeds"] == 1
    assert main.loc["sft", "HpR_lo"] < main.loc["sft", "HpR"] < main.loc["sft", "HpR_hi"]
    assert len(table2(t1)) == 3  # one row per trained model, from the summary rows
    out = {
        k: str(tmp_path / f"{k}.out")
        for k in ("table1", "table2", "table1_tex", "table2_tex", "macros")
    }
    write_tables(t1, table2(t1), out)
    tex = (tmp_path / "table1_tex.out").read_text()
    assert "mean over 3 training seeds" in tex and tex.count("SFT+DPO &") == 1  # summary only


@pytest.mark.realdata
def test_the_notebooks_strict_operator_leaves_the_audit_table_unchanged(paper_ratings):
    """No released rating is exactly -3: HmR is the same under > (the notebook) and >=."""
    from hhalign.metrics import table1

    r = pd.read_csv(paper_ratings)
    scores = r.assign(
        protocol="paper", variant=r["model"], prompt_set=r["category"], empty_response=False
    )
    assert not (scores["score"] == -3.0).any()
    strict = table1(scores, CFG["metrics"], VARIANTS)
    paper_text = table1(scores, {**CFG["metrics"], "harmless_op": ">="}, VARIANTS)
    pd.testing.assert_frame_equal(strict, paper_text)
    assert strict.set_index("model")["HmR"].to_dict() == {
        "base": 42.0,
        "sft": 48.0,
        "dpo": 36.0,
        "sft_dpo": 44.0,
    }


def test_experiments_are_adjusted_for_false_discoveries_across_the_family():
    """The main protocol's verdicts use Holm within each metric; an experiment's use
    Benjamini-Hochberg over every comparison of the experiment family."""
    from statsmodels.stats.multitest import multipletests

    main = simulated_scores(np.random.default_rng(11))
    experiment = simulated_scores(np.random.default_rng(12)).assign(protocol="e")
    claims, pairs = claims_table(pd.concat([main, experiment]), VARIANTS, CFG, ["e"])
    e, p = pairs[pairs["protocol"] == "e"], pairs[pairs["protocol"] == "p"]
    assert e["p_adj"].tolist() == pytest.approx(multipletests(e["p"], method="fdr_bh")[1])
    assert (p["p_adj"] == p["p_holm"]).all() and (p["adjustment"].str.startswith("Holm")).all()
    assert set(claims.loc[claims["protocol"] == "e", "adjustment"]) == {
        "Benjamini-Hochberg, across the experiments"
    }
