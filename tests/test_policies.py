"""The whole tiny DAG with policies of other families: a tiny Llama and a tiny GPT-2 built
from config take the place of OPT, with nothing in the code specific to OPT."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from support import ROOT

pytestmark = pytest.mark.slow

RUNS = {  # one protocol each, so both DPO tokenizations and both extractions are covered
    "llama": {"protocols": ["paper"], "dpo": {"lora": {"target_modules": ["q_proj", "v_proj"]}}},
    "gpt2": {"protocols": ["corrected"], "dpo": {"lora": {"target_modules": ["c_attn"]}}},
}


def start(arch: str, workdir: Path) -> subprocess.Popen:
    """One tiny run in its own working directory (so two can run at once, one core each)."""
    small = {
        "results_dir": str(workdir / "results"),
        "run_label": f"tiny offline world, {arch} policy",
        "tiny": {"policy": {"architecture": arch}},
        "data": {"train_subsets": ["harmless-base"]},  # sizes cut: the suite runs it twice
        "models": {"judge": {"source": "tiny"}},  # an untrained tiny judge: no reward model
        "synthetic": {"train_rows": 120, "test_rows": 120},
        "prompts": {"n_harmful": 12, "n_helpful": 12},
        **RUNS[arch],
    }
    workdir.mkdir(parents=True)
    shutil.copyfile(ROOT / "config.yaml", workdir / "config.yaml")  # the Snakefile's configfile
    (workdir / "small.yaml").write_text(yaml.safe_dump(small))
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"),
           "--directory", str(workdir), "--cores", "1", "--configfile",
           str(ROOT / "presets" / "tiny.yaml"), str(workdir / "small.yaml")]  # fmt: skip
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
    assert len(t1) == 4 and (t1["n_harmful"] == 12).all()
    config = (results / "models/tiny/policy/config.json").read_text()
    assert {"llama": "LlamaForCausalLM", "gpt2": "GPT2LMHeadModel"}[arch] in config
    adapter = results / f"models/{RUNS[arch]['protocols'][0]}/dpo_adapter/adapter_config.json"
    assert all(t in adapter.read_text() for t in RUNS[arch]["dpo"]["lora"]["target_modules"])
