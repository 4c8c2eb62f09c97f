"""Every method beside SFT, DPO and SFT+DPO end to end on the tiny world: presets/tiny.yaml +
presets/methods.yaml, cut small (one protocol, one training subset of 120 rows, 12 + 12
prompts, the tiny preset's two judges), with the equal token budget on. ORPO, SimPO, KTO and
RLOO train (rule train_method), generate, are scored by both judges and audited, and reach
Table 1, the claims (the four method claims with verdicts, strict verdicts and flags) and
model cards. The tiny world's RLOO is rewarded by its first judge, tiny_rm (on purpose:
methods.allow_reward_is_judge); tiny_chat never trained it."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from support import ROOT

pytestmark = pytest.mark.slow

METHODS = ["orpo", "simpo", "kto", "rloo"]
SMALL = {
    "protocols": ["paper"],
    "run_label": "tiny offline world, the methods beside DPO",
    "data": {"train_subsets": ["harmless-base"]},
    "synthetic": {"train_rows": 120, "test_rows": 120},
    "prompts": {"n_harmful": 12, "n_helpful": 12},
    "claims": {"bootstrap_draws": 1000, "permutation_draws": 1000},
    "methods": {"equal_budget": True},
}


TARGETS = [
    "table1.csv",
    "claims.csv",
    "response_audit.csv",
    "win_rates.csv",
    "judges/table1.csv",
]


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    """One run, shared by every test here."""
    workdir = tmp_path_factory.mktemp("methods")
    (workdir / "config.yaml").write_text((ROOT / "config.yaml").read_text())
    (workdir / "small.yaml").write_text(yaml.safe_dump({"results_dir": "results", **SMALL}))
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile")]
    cmd += ["--directory", str(workdir), "--cores", "1", "--configfile"]
    cmd += [str(ROOT / "presets" / p) for p in ("tiny.yaml", "methods.yaml")]
    cmd += [str(workdir / "small.yaml")]
    # What the tests read (not the figures, transcripts, variance or manifest: jobs cost
    # seconds of imports each), put before --configfile, which takes every path after it.
    targets = [f"results/{t}" for t in TARGETS] + [
        f"results/model_cards/paper/{m}/README.md" for m in METHODS
    ]
    cmd[3:3] = targets
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "1"}
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert out.returncode == 0, (out.stdout + out.stderr)[-4000:]
    return workdir / "results"


def summary(results: Path, run: str) -> dict:
    return json.loads((results / f"train/paper/{run}/summary.json").read_text())


def test_every_method_reaches_table1_and_its_model_card(results):
    t1 = pd.read_csv(results / "table1.csv")
    assert t1["model"].tolist() == ["base", "sft", "dpo", "sft_dpo", *METHODS]
    assert (t1["n_harmful"] == 12).all() and t1["CAS"].between(0, 100).all()
    wins = pd.read_csv(results / "win_rates.csv")
    assert set(METHODS) <= set(wins["model"]) and set(wins["judge"]) == {"tiny_rm", "tiny_chat"}
    for method in METHODS:
        card = (results / f"model_cards/paper/{method}/README.md").read_text()
        assert f"| paper | {method} |" in card and "`learning_rate`" in card
    rloo = (results / "model_cards/paper/rloo/README.md").read_text()
    assert "reward model = judge tiny_rm: that judge was optimised directly" in rloo
    adapter = json.loads((results / "models/paper/simpo_adapter/adapter_config.json").read_text())
    assert sorted(adapter["target_modules"]) == ["q_proj", "v_proj"]
    assert "trained every weight" in (results / "models/paper/orpo_adapter/README.md").read_text()


def test_method_claims_have_verdicts_strict_verdicts_and_flags(results):
    claims = pd.read_csv(results / "claims.csv", keep_default_na=False)
    mine = claims[claims["claim"].str.contains("orpo|simpo|kto|rloo")].set_index("claim")
    assert list(mine.index) == [
        "orpo_matches_sft_dpo_cas",
        "simpo_beats_dpo_cas",
        "kto_matches_dpo_cas",
        "rloo_beats_dpo_cas",
    ]
    allowed = {"holds", "reversed", "not separable", "refuted (differs by more than the margin)"}
    assert set(mine["verdict"]) <= allowed and set(mine["strict_verdict"]) <= allowed
    assert mine.loc["rloo_beats_dpo_cas", "flags"].startswith(
        "RLOO's reward model is judge tiny_rm: that judge was optimised directly"
    )


def test_each_method_trains_as_configured_on_the_equal_budget(results):
    """Starts, LoRA, KTO's unpaired rows, and the equal budget: SFT's and SFT+DPO's tokens,
    spent by each method at the epochs the budget sets."""
    budget = summary(results, "sft")["tokens_seen"] + summary(results, "sft_dpo")["tokens_seen"]
    for method in METHODS:
        s = summary(results, method)
        assert s["start"].endswith("models/tiny/policy") and s["lora"] == (method != "orpo")
        assert s["budget"]["budget_tokens"] == budget
        assert s["budget"]["budget_epochs"] * s["epoch_tokens"] >= budget
        assert s["epochs"] == pytest.approx(s["budget"]["budget_epochs"], abs=0.05)
    kto = summary(results, "kto")["kto_rows"]
    assert kto["desirable_rows"] == kto["undesirable_rows"] == kto["pairs_in"] > 100
    assert summary(results, "rloo")["reward_model"] == "reward"


def test_rloo_gains_on_the_judge_it_optimised_show_in_the_audit(results):
    """RLOO optimised tiny_rm: on the harmful prompts its judged rate carries responses the
    audit calls failing (its rate with them counted as failures is lower), and the judge
    it never saw (tiny_chat) rates it below what tiny_rm does."""
    audit = pd.read_csv(results / "response_audit.csv")
    rloo = audit[(audit["model"] == "rloo") & (audit["prompt_set"] == "harmful")].iloc[0]
    assert rloo["failing"] > 0 and rloo["rate_strict"] < rloo["rate"]
    judges = pd.read_csv(results / "judges/table1.csv")
    hmr = judges[judges["model"] == "rloo"].set_index("judge")["HmR"]
    assert hmr["tiny_chat"] < hmr["tiny_rm"]
