"""The whole tiny DAG with policies of other families: a tiny Llama and a tiny GPT-2 built
from config take the place of OPT, with nothing in the code specific to OPT. The Llama run is
also the suite's experiments run: the paper protocol and two experiments on it (a DPO loss
variant trained on cleaner pairs, and a second model family, GPT-NeoX, as a model ladder's
rung), LoRA targets picked per architecture, and a run of three of the four models (no DPO
from Base: the other runs train it). The GPT-2 run is the suite's multi-seed and
sampled-decoding run: the corrected protocol with 2 seeds, 3 sampled responses per prompt and
every harmful candidate, through Table 1's per-seed rows and the claims table. They are also
the suite's own-data runs: the Llama run's data is in PKU-SafeRLHF's format, the GPT-2 run's
in TRL's preference format (data.format)."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from support import ROOT

pytestmark = pytest.mark.slow

RUNS = {  # one protocol each, so both DPO tokenizations and both extractions are covered
    "llama": {
        "protocols": ["paper", "dpo_variant", "neox"],
        "variants": ["base", "sft", "sft_dpo"],  # each job of the DAG costs seconds of imports
        # Its data in PKU-SafeRLHF's format, trained on the pairs whose two labels agree.
        "data": {
            "train_subsets": ["harmless-base"],
            "format": "pku_saferlhf",
            "preference": "both_agree",
        },
        "dpo": {"lora": {"target_modules": None}},  # PEFT's default for each architecture
        "protocol_overrides": {
            "paper": {},
            # Both DPO switches in one experiment (for the same reason).
            "dpo_variant": {"extends": "paper", "dpo": {"loss_type": "ipo", "clean_pairs": True}},
            "neox": {"extends": "paper", "tiny": {"policy": {"architecture": "gpt_neox"}}},
        },
    },
    "gpt2": {
        "protocols": ["corrected"],
        # Its data in TRL's standard preference format (read with trl.data_utils).
        "data": {"train_subsets": ["harmless-base"], "format": "preference"},
        "dpo": {"lora": {"target_modules": ["c_attn"]}},
        "seeds": [42, 1],
        "protocol_overrides": {
            "corrected": {
                "prompts": {"n_harmful": None, "n_helpful": "match_harmful"},
                "generation": {"samples": 3, "top_p": 0.9},  # never the paper protocol's
            }
        },
    },
}


def start(arch: str, workdir: Path) -> subprocess.Popen:
    """One tiny run in its own working directory (so two can run at once, one core each)."""
    small = {
        "results_dir": str(workdir / "results"),
        "run_label": f"tiny offline world, {arch} policy",
        "tiny": {"policy": {"architecture": arch}},
        "data": {"train_subsets": ["harmless-base"]},  # sizes cut: the suite runs it twice
        "models": {"judge": {"source": "tiny"}},  # an untrained tiny judge: no reward model
        "judges": [{"name": "tiny", "kind": "pair", "model": None}],  # the e2e run has two
        "synthetic": {"train_rows": 120, "test_rows": 120},
        "prompts": {"n_harmful": 12, "n_helpful": 12},
        "claims": {"bootstrap_draws": 1000, "permutation_draws": 1000},
        **RUNS[arch],
    }
    workdir.mkdir(parents=True)
    shutil.copyfile(ROOT / "config.yaml", workdir / "config.yaml")  # the Snakefile's configfile
    (workdir / "small.yaml").write_text(yaml.safe_dump(small))
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(ROOT / "Snakefile"),
        "--directory",
        str(workdir),
        "--cores",
        "1",
        "--configfile",
        str(ROOT / "presets" / "tiny.yaml"),
        str(workdir / "small.yaml"),
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONHASHSEED": "0"}
    log = open(workdir / "snakemake.out", "w")  # noqa: SIM115 (closed with the process)
    return subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """Both runs, started together, finished."""
    root = tmp_path_factory.mktemp("policies")
    procs = {arch: start(arch, root / arch) for arch in RUNS}
    for arch, proc in procs.items():
        proc.wait()
        text = (root / arch / "snakemake.out").read_text()
        assert proc.returncode == 0, f"{arch}:\n{text[-4000:]}"
    return {arch: root / arch / "results" for arch in RUNS}


@pytest.mark.parametrize("arch", sorted(RUNS))
def test_the_tiny_dag_runs_with_another_policy_family(arch, runs):
    results = runs[arch]
    t1 = pd.read_csv(results / "table1.csv")
    if arch == "llama":  # three models of each of three protocols
        assert len(t1) == 3 * 3 and (t1["n_harmful"] == 12).all()
        assert sorted(t1["model"].unique()) == ["base", "sft", "sft_dpo"]
    config = (results / "models/tiny/policy/config.json").read_text()
    assert {"llama": "LlamaForCausalLM", "gpt2": "GPT2LMHeadModel"}[arch] in config
    protocol = RUNS[arch]["protocols"][0]
    adapter = results / f"models/{protocol}/sft_dpo_adapter/adapter_config.json"
    targets = json.loads(adapter.read_text())["target_modules"]
    assert sorted(targets) == {"llama": ["q_proj", "v_proj"], "gpt2": ["c_attn"]}[arch]


def test_own_data_formats_run_end_to_end(runs):
    """The Llama run reads PKU-SafeRLHF rows and trains on the pairs whose two labels agree
    (the disagreeing ones counted, not held against the reject limit); the GPT-2 run reads
    TRL's preference format. Both reach Table 1 and the claims."""
    summary = json.loads((runs["llama"] / "data/summary.json").read_text())
    conversion = summary["conversion"]
    assert conversion["format"] == "pku_saferlhf" and conversion["preference"] == "both_agree"
    disagree = conversion["rejects"]["labels_disagree"]
    rejected = sum(conversion["rejects"].values())
    assert disagree > 0 and conversion["converted"] + rejected == summary["rows_in"] == 120
    assert summary["sft_rejects"]["labels_disagree"] == disagree
    assert summary["dpo_rows"] == len(pd.read_parquet(runs["llama"] / "data/dpo.parquet"))
    lines = (runs["llama"] / "prompts/paper/harmful.jsonl").read_text().splitlines()
    prompts = [json.loads(line) for line in lines]
    assert len(prompts) == 12 and all(p["prompt"].startswith("Human:") for p in prompts)
    trl = json.loads((runs["gpt2"] / "data/summary.json").read_text())["conversion"]
    rejected = sum(trl["rejects"].values())
    assert trl["format"] == "preference" and trl["converted"] + rejected == trl["rows_in"] == 120
    assert trl["converted"] >= 0.95 * 120
    for results in runs.values():
        assert (results / "table1.csv").is_file() and (results / "claims.csv").is_file()


def job_counts(log: str) -> dict[str, int]:
    """rule -> jobs run, from Snakemake's job stats at the start of a run."""
    block = log.split("Job stats:")[1].split("\n\n")[0]
    return {r: int(n) for r, n in re.findall(r"^([a-z_]+)\s+(\d+)$", block, re.M)}


def test_two_experiments_end_to_end_sharing_what_they_have_in_common(runs):
    """A loss variant on cleaner pairs and a second family beside the paper protocol: the
    variant reuses the paper's SFT model and Base (2 SFT trainings in all: paper's and
    GPT-NeoX's), the prompts are selected once, and each experiment's rows reach Table 1 and
    its claims (adjusted across the experiments)."""
    results = runs["llama"]
    jobs = job_counts((results.parent / "snakemake.out").read_text())
    assert jobs["train_sft"] == 2 and jobs["select_prompts"] == 1
    assert jobs["train_dpo"] == 3 and jobs["clean_pairs"] == 1  # SFT+DPO of each protocol
    # paper and GPT-NeoX: Base, SFT and SFT+DPO each; the variant: its SFT+DPO only
    assert jobs["build_tiny_policy"] == 1 and jobs["generate_responses"] == 3 + 1 + 3
    t1 = pd.read_csv(results / "table1.csv")
    assert sorted(t1["protocol"].unique()) == ["dpo_variant", "neox", "paper"]
    neox = json.loads((results / "models/tiny/policy_neox/config.json").read_text())
    assert neox["architectures"] == ["GPTNeoXForCausalLM"]
    neox_adapter = results / "models/neox/sft_dpo_adapter/adapter_config.json"
    adapter = json.loads(neox_adapter.read_text())
    assert adapter["target_modules"] == ["query_key_value"]
    sft_dpo = json.loads((results / "train/dpo_variant/sft_dpo/summary.json").read_text())
    assert sft_dpo["start"].endswith("models/paper/sft")  # the shared SFT model
    summary = json.loads((results / "data/clean_summary.json").read_text())
    dropped = pd.read_csv(results / "data/dpo_dropped.csv")
    assert len(dropped) == summary["dropped"] > 0 and summary["kept"] > 0
    assert sft_dpo["rows_asked"] == summary["kept"]  # trained on the cleaner pairs
    assert sft_dpo["first_loss"] > 1.0  # IPO's (1 / 2 beta)^2 at the start, not sigmoid's log 2
    claims = pd.read_csv(results / "claims.csv")
    assert {"dpo_variant", "neox"} <= set(claims["protocol"])


def test_two_seeds_every_candidate_and_the_claims_table(runs):
    """Lineage-paired seeds: SFT+DPO with seed s starts from SFT with seed s; Base runs once.
    Table 1 has a row per seed and a summary per model; the claims table counts 2 seeds."""
    results = runs["gpt2"]
    t1 = pd.read_csv(results / "table1.csv", dtype={"seed": str})
    assert t1.groupby("model")["seed"].apply(list).to_dict() == {
        "base": ["42", "all"],
        "sft": ["42", "1", "all"],
        "dpo": ["42", "1", "all"],
        "sft_dpo": ["42", "1", "all"],
    }
    summary = t1[t1["seed"] == "all"].set_index("model")
    assert summary.loc["sft", "n_seeds"] == 2 and summary.loc["base", "n_seeds"] == 1
    n = int(summary.loc["base", "n_harmful"])
    assert n > 12 and (summary["n_helpful"] == n).all()  # every candidate, helpful matched
    start = json.loads((results / "train/corrected/sft_dpo_seed1/summary.json").read_text())
    assert start["start"].endswith("models/corrected/sft_seed1")
    assert not (results / "generations/corrected/base_seed1").exists()
    claims = pd.read_csv(results / "claims.csv", keep_default_na=False, na_values=[""])
    assert len(claims) == 12 and set(claims["seeds_agree"].str[-2:]) == {"/2"}
    words = {"holds", "reversed", "not separable"}
    assert all(v in words or v.startswith("refuted (") for v in claims["verdict"])
    decided = claims[claims["verdict"] != "not separable"]
    # Two seeds: a verdict speaks of the method only where the t-test on the per-seed
    # differences (1 df) agrees; otherwise of these two checkpoint pairs.
    assert set(decided["scope"]) <= {"the method", "these 2 checkpoint pairs"}
    assert claims["p_seed"].notna().all()
    # The planner: what would settle each open claim, and whether the pool can supply it.
    open_ = claims[claims["verdict"] == "not separable"]
    # A plan for every open claim, except against an observed difference of nothing at all
    # (the models agree on every prompt: no plan, and the note says why).
    agree = open_["sizing_note"].str.startswith("the models agree on every prompt")
    assert len(open_) and open_.loc[~agree, "prompts_for_observed"].notna().all()
    assert open_.loc[agree, "prompts_for_observed"].isna().all()
    assert open_.loc[~agree, "seeds_for_observed"].notna().all()  # two seeds: spread known
    assert open_["prompts_for_paper"].notna().all()
    assert (open_["pool"] == n).all() and open_["pool_supplies"].str.contains("observed: ").all()
    variance = pd.read_csv(results / "variance.csv")
    trained = variance[variance["model"] != "base"]
    assert (trained["seeds"] == 2).all()
    # A model whose values never vary (every response passes) has no variance to share out.
    varies = trained[["prompt", "seed", "residual"]].sum(axis=1) > 0
    assert varies.any() and trained.loc[varies, "share_seed"].notna().all()
    assert trained.loc[~varies, "share_seed"].isna().all()
    parts = ["share_prompt", "share_seed", "share_residual", "share_decoding"]
    assert np.allclose(trained.loc[varies, parts].sum(axis=1), 1.0)
    assert trained.loc[varies, "share_decoding"].notna().all()  # three samples a prompt
    assert (results / "figures/fig4_thresholds.png").is_file()
    assert (results / "figures/fig8_variance.png").is_file()


def test_sampled_responses_keep_the_prompt_as_the_unit(runs):
    """generation.samples: 3: three seeded samples per prompt are generated and scored, and
    every statistic counts prompts, not responses."""
    results = runs["gpt2"]
    scores = pd.read_csv(results / "scores/corrected/sft/harmful.csv")
    per_prompt = scores.groupby("id")["sample"].apply(sorted)
    assert per_prompt.map(lambda s: s == [0, 1, 2]).all()
    n = len(per_prompt)
    assert scores.groupby("id")["response"].nunique().max() > 1  # the samples differ
    t1 = pd.read_csv(results / "table1.csv", dtype={"seed": str})
    assert (t1["n_harmful"] == n).all()  # prompts, not 3 x prompts
    claims = pd.read_csv(results / "claims.csv")
    counts = {int(c) for cell in claims["n_prompts"].astype(str) for c in cell.split("/")}
    assert counts == {n}
    pairs = pd.read_csv(results / "pairs.csv")
    assert {"WR_harmful", "WR_helpful"} <= set(pairs["metric"])
    wins = pd.read_csv(results / "win_rates.csv")
    assert (wins["prompts"] == n).all() and wins["win_rate"].between(0, 100).all()
    assert set(wins.loc[wins["model"] != "base", "seeds"]) == {2}
    chosen = pd.read_csv(results / "scores/corrected/chosen/harmful.csv")
    assert len(chosen) == n and "sample" not in chosen  # the reference is one answer
