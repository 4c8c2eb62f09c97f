"""The whole tiny DAG with policies of other families: a tiny Llama and a tiny GPT-2 built
from config take the place of OPT, with nothing in the code specific to OPT."""

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow

RUNS = {  # one protocol each, so both DPO tokenizations and both extractions are covered
    "llama": {"protocols": ["paper"], "dpo": {"lora": {"target_modules": ["q_proj", "v_proj"]}}},
    "gpt2": {"protocols": ["corrected"], "dpo": {"lora": {"target_modules": ["c_attn"]}}},
}


@pytest.mark.parametrize("arch", sorted(RUNS))
def test_the_tiny_dag_runs_with_another_policy_family(arch, tmp_path):
    results = tmp_path / "results"
    small = {
        "results_dir": str(results),
        "run_label": f"tiny offline world, {arch} policy",
        "tiny": {"policy": {"architecture": arch}},
        "data": {"train_subsets": ["harmless-base"]},  # sizes cut: the suite runs it twice
        "models": {"judge": {"source": "tiny"}},  # an untrained tiny judge: no reward model
        "synthetic": {"train_rows": 120, "test_rows": 120},
        "prompts": {"n_harmful": 12, "n_helpful": 12},
        **RUNS[arch],
    }
    cfg = tmp_path / f"{arch}.yaml"
    cfg.write_text(yaml.safe_dump(small))
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"),
           "--cores", "2", "--configfile", "presets/tiny.yaml", str(cfg)]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONHASHSEED": "0"}
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    t1 = pd.read_csv(results / "table1.csv")
    assert len(t1) == 4 and (t1["n_harmful"] == 12).all()
    config = (results / "models/tiny/policy/config.json").read_text()
    assert {"llama": "LlamaForCausalLM", "gpt2": "GPT2LMHeadModel"}[arch] in config
    adapter = results / f"models/{RUNS[arch]['protocols'][0]}/dpo_adapter/adapter_config.json"
    assert all(t in adapter.read_text() for t in RUNS[arch]["dpo"]["lora"]["target_modules"])
