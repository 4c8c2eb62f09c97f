"""The methods beside SFT, DPO and SFT+DPO (ORPO, SimPO, KTO, RLOO): the pinned TRL's
trainers, the config checks, the plan's jobs and starts, KTO's unpaired rows, the equal
budget and the four method claims. The tiny run of every method is tests/test_methods_run.py."""

import json

import pandas as pd
import pytest
from support import plan_of

from hhalign.claims import (
    CLAIMS,
    MARGIN_EXCEEDED,
    MATCHES,
    claim_parts,
    judge_match,
    with_reward_flag,
)
from hhalign.config import ConfigError
from hhalign.methods import (
    METHODS,
    budget_epochs,
    claims_extras,
    kto_rows,
    method_job,
    token_budget,
)

ALL = ["base", "sft", "dpo", "sft_dpo", "orpo", "simpo", "kto", "rloo"]


def test_pinned_trl_has_the_four_trainers():
    """The one module that imports them imports them from the pinned TRL (1.16): ORPO and
    CPO from trl.experimental, KTO and RLOO from trl; CPO has the SimPO loss."""
    import trl

    from hhalign.method_training import TRAINERS

    assert trl.__version__.startswith("1.16")
    assert set(TRAINERS) == set(METHODS)
    names = {m: (c.__name__, t.__module__) for m, (c, t) in TRAINERS.items()}
    assert names["orpo"] == ("ORPOConfig", "trl.experimental.orpo.orpo_trainer")
    assert names["simpo"] == ("CPOConfig", "trl.experimental.cpo.cpo_trainer")
    assert names["kto"][0] == "KTOConfig" and names["rloo"][0] == "RLOOConfig"
    assert "simpo" in TRAINERS["simpo"][0].__dataclass_fields__["loss_type"].metadata["choices"]


def test_default_run_trains_no_method_and_claims_nothing_new():
    """Methods off (config.yaml, the tiny preset): no method job, no method claim, the
    claims section as it was."""
    for presets in ((), ("tiny.yaml",)):
        plan = plan_of(*presets)
        assert not [r for _, r in plan.trained() if r in METHODS]
        assert claims_extras(plan.config) == {}
        ids = {c[0] for c in claim_parts(plan.config["variants"])}
        assert not ids & {c[0] for c in CLAIMS[-4:]}


def test_methods_plan_jobs_starts_and_sections():
    """presets/methods.yaml: each method is a job per protocol whose reading differs
    (paper: common_prefix; corrected: explicit), starting from Base by default or from the
    same seed's SFT; RLOO's job names its reward model and the scoring settings."""
    plan = plan_of("tiny.yaml", "methods.yaml")
    jobs = [(p, r) for p, r in plan.trained() if r in METHODS]
    assert jobs == [(p, m) for p in ("paper", "corrected") for m in METHODS]
    assert plan.start_ref("paper", "orpo").path == plan.policy_ref("paper").path
    job = method_job(plan, "paper", "rloo")
    assert job["method"] == "rloo" and job["reward"]["name"] == "reward"
    assert job["reward"]["ref"]["path"] == "R/models/reward" and "budget_from" not in job
    assert json.loads(plan.method_section("corrected", "kto"))["prompt"] == "explicit"
    sft_start = plan_of(
        "tiny.yaml", "methods.yaml", methods={"simpo": {"start": "sft"}}, seeds=[42, 7]
    )
    assert sft_start.start_ref("paper", "simpo_seed7").path == "R/models/paper/sft_seed7"
    assert sft_start.train_key("paper", "simpo") != plan.train_key("paper", "simpo")


def test_equal_budget_reads_sft_and_sft_dpo_summaries():
    plan = plan_of("tiny.yaml", "methods.yaml", methods={"equal_budget": True})
    job = method_job(plan, "corrected", "orpo")
    assert job["budget_from"] == [
        "R/train/corrected/sft/summary.json",
        "R/train/corrected/sft_dpo/summary.json",
    ]


def test_token_budget_and_epochs(tmp_path):
    files = []
    for name, seen in (("a", 1200), ("b", 300)):
        files.append(tmp_path / f"{name}.json")
        files[-1].write_text(json.dumps({"tokens_seen": seen}))
    assert token_budget(files) == 1500
    assert budget_epochs(1500, 1000) == 1.5 and budget_epochs(1000, 3000) == 0.34
    files[1].write_text("{}")
    with pytest.raises(ConfigError, match="no tokens_seen"):
        token_budget(files)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"methods": {"allow_reward_is_judge": False}}, "optimise the judge"),
        ({"methods": {"rloo": {"reward_model": "nobody"}}}, "neither trained nor a judge"),
        ({"methods": {"rloo": {"num_generations": 3}}}, "not a multiple"),
        ({"methods": {"equal_budget": True}, "variants": ["base", "sft", "orpo"]}, "sft_dpo"),
        ({"methods": {"kto": {"start": "sft"}}, "variants": ["base", "kto"]}, "no sft"),
    ],
)
def test_config_check_refuses(overrides, message):
    """The tiny world's reward model is its first judge: RLOO on it is refused unless
    methods.allow_reward_is_judge (the tiny preset allows it, on purpose)."""
    with pytest.raises(ConfigError, match=message):
        plan_of("tiny.yaml", "methods.yaml", **overrides)


def test_reward_model_apart_from_the_judges_needs_no_permission():
    """The paper's setup: the OpenAssistant judge scores, RLOO optimises the pipeline's own
    reward model (DeBERTa-v3 trained by rule train_reward_model)."""
    plan = plan_of("methods.yaml")
    assert claims_extras(plan.config) == {"equivalence_margin": 5.0, "reward_is_judge": None}
    assert method_job(plan, "paper", "rloo")["reward"]["ref"]["input"] == ["R/models/reward"]
    with pytest.raises(ConfigError, match="optimise the judge"):
        plan_of("methods.yaml", methods={"rloo": {"reward_model": "oasst_deberta"}})


def test_kto_rows_count_desirable_and_undesirable():
    pairs = pd.DataFrame(
        {"prompt": ["p1", "p2", "p3"], "chosen": ["a", "same", "c"], "rejected": ["b", "same", "d"]}
    )
    rows, counts = kto_rows(pairs)
    assert rows.to_dict("list") == {
        "prompt": ["p1", "p1", "p3", "p3"],
        "completion": ["a", "b", "c", "d"],
        "label": [True, False, True, False],
    }
    assert counts == {
        "pairs_in": 3,
        "pairs_equal_answers_left_out": 1,
        "desirable_rows": 2,
        "undesirable_rows": 2,
    }


def comparison(diff: float, lo: float, hi: float) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "metric": "CAS",
                "a": "orpo",
                "b": "sft_dpo",
                "difference": diff,
                "ci_low": lo,
                "ci_high": hi,
                "p_adj": 0.5,
                "superiority": 0.5,
            }
        ]
    )


@pytest.mark.parametrize(
    "lo, hi, verdict",
    [
        (-3.0, 4.0, "holds"),
        (-8.0, 4.0, "not separable"),
        (5.0, 9.0, MARGIN_EXCEEDED),
        (-12.0, -5.0, MARGIN_EXCEEDED),
    ],
)
def test_matches_claim_is_two_sided_equivalence(lo, hi, verdict):
    """ORPO matches SFT+DPO: holds when the interval lies within +/- the margin (5 CAS
    points), refuted when it lies wholly beyond it on either side, else not separable."""
    table = comparison((lo + hi) / 2, lo, hi)
    shifted = {0.0: {("CAS", "orpo", "sft_dpo"): (lo + hi) / 2}}
    got, row, _ = judge_match(
        [("CAS", "orpo", "sft_dpo")], table, shifted, {"equivalence_margin": 5.0}
    )
    assert got == verdict and row["ci_low"] == lo


def test_the_four_method_claims():
    ids = {c[0]: c[2] for c in CLAIMS}
    assert ids["orpo_matches_sft_dpo_cas"] == [("CAS", "orpo", "sft_dpo")]
    assert ids["simpo_beats_dpo_cas"] == [("CAS", "simpo", "dpo")]
    assert ids["kto_matches_dpo_cas"] == [("CAS", "kto", "dpo")]
    assert ids["rloo_beats_dpo_cas"] == [("CAS", "rloo", "dpo")]
    assert {"orpo_matches_sft_dpo_cas", "kto_matches_dpo_cas"} == MATCHES
    assert len(claim_parts(ALL)) == len(CLAIMS)


def test_rloo_claim_flagged_when_its_reward_model_is_a_judge():
    claims = pd.DataFrame(
        {"comparison": ["CAS: rloo - dpo", "CAS: simpo - dpo"], "flags": ["", "x"]}
    )
    out = with_reward_flag(claims, "tiny_rm")
    assert out["flags"].tolist()[0].startswith("RLOO's reward model is judge tiny_rm")
    assert out["flags"].tolist()[1] == "x"
    assert with_reward_flag(claims, None) is claims


def test_full_run_estimate_has_each_method_once():
    """A method's hours: its epochs over the paper's pairs, times the rows a pair makes
    (KTO 2), at the measured rate; the stages of the paper run keep their own rows."""
    from hhalign.bench.methods import method_hours
    from hhalign.bench.suite import full_run_hours

    summary = pd.DataFrame(
        [
            {"stage": "sft_training", "authors_per_s": 1.0, "ours_per_s": 2.0},
            {"stage": "kto_training", "ours_per_s": 10.0, "epochs": 1.0, "rows_per_pair": 2.0},
            {"stage": "orpo_training", "ours_per_s": 4.0, "epochs": 2.0, "rows_per_pair": 1.0},
        ]
    )
    rows = method_hours(summary, {"train_rows": 3600})
    assert [(r["plan"], r["total_hours"]) for r in rows] == [
        ("KTO, once (one seed)", 0.2),
        ("ORPO, once (one seed)", 0.5),
    ]
    estimate = full_run_hours(summary, {"train_rows": 3600, "eval_items": 400})
    assert estimate["plan"].tolist()[-2:] == ["KTO, once (one seed)", "ORPO, once (one seed)"]


@pytest.mark.slow
@pytest.mark.parametrize("method", ["kto", "simpo"])
def test_a_method_resumed_after_interruption_matches_an_uninterrupted_run(tiny_world, method):
    """The methods train through the SFT and DPO stages' runner: stopped after a checkpoint
    and rerun, KTO (sequential order on its shuffled rows) and SimPO end with the same
    weights, bit for bit, and the same whole-run loss."""
    import torch
    from safetensors.torch import load_file

    from hhalign.method_training import train_method
    from hhalign.train import StopAt, TrainingRun

    root = tiny_world["root"]
    section = {
        **tiny_world["cfg"]["methods"][method],
        "method": method,
        "seed": 42,
        "max_train_samples": 24,
        "logging_steps": 1,
        "save_steps": 2,
    }

    def run(name: str, callbacks=()):
        out = root / f"{method}-{name}"
        return train_method(
            TrainingRun(
                section,
                str(root / "dpo.parquet"),
                str(root / "policy"),
                str(out),
                str(root / f"ckpt-{method}-{name}"),
                adapter_dir=str(out) + "_adapter",
                callbacks=callbacks,
            )
        )

    _, whole = run("whole")
    with pytest.raises(KeyboardInterrupt):
        run("resumed", (StopAt(2),))
    _, resumed = run("resumed")
    assert resumed["resumed_from"].endswith("checkpoint-2")
    assert resumed["steps"] == whole["steps"] > 2
    a = load_file(root / f"{method}-whole" / "model.safetensors")
    b = load_file(root / f"{method}-resumed" / "model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert resumed["train_loss"] == pytest.approx(whole["train_loss"], rel=1e-9)


@pytest.mark.slow
def test_quick_suite_times_each_methods_training():
    """The performance suite's method rows at quick size (CI), on 16 rows: our way alone
    (no authors' way), tokens/s, and a row per method in the full-run estimate."""
    import torch

    from hhalign.bench import run_suite
    from hhalign.bench.suite import full_run_hours

    plan = plan_of("tiny.yaml", "methods.yaml")
    view = plan.views["paper"]
    stages = [f"{m}_training" for m in METHODS]
    cfg = {**plan.config["bench"], "stages": stages, "train_rows": 16}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        summary, _ = run_suite(
            cfg,
            view["sft"],
            view["dpo"],
            view["generation"],
            view["scoring"],
            progress=lambda row: None,
            methods=view["methods"],
        )
    finally:
        torch.set_num_threads(threads)
    s = summary.set_index("stage")
    assert list(s.index) == stages
    assert (s["ours_s"] > 0).all() and (s["ours_tokens_per_s"] > 0).all()
    assert s["authors_s"].isna().all() and s["speedup"].isna().all()
    assert s.loc["kto_training", "n"] == 32 and s.loc["kto_training", "rows_per_pair"] == 2
    est = full_run_hours(summary, cfg["full_run"])
    mine = est[est["plan"].str.endswith("once (one seed)")]
    assert mine["plan"].tolist() == [f"{METHODS[m].name}, once (one seed)" for m in METHODS]
    assert (mine["total_hours"] > 0).all()


def test_judges_directions_of_a_matches_claim_name_the_model_above():
    from hhalign.claims import match_directions

    by_judge = pd.DataFrame(
        {
            "claim": ["kto_matches_dpo_cas", "rloo_beats_dpo_cas"],
            "direction_a": ["as claimed", "as claimed"],
            "direction_b": ["reversed", "reversed"],
        }
    )
    out = match_directions(by_judge)
    assert out.iloc[0].tolist()[1:] == ["first above", "second above"]
    assert out.iloc[1].tolist()[1:] == ["as claimed", "reversed"]
