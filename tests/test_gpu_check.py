"""The GPU check (scripts/gpu_check.sh): its plan and tables, and its --dry run on CPU at
quick size, the same code a lent GPU runs (compile left out: its CPU compile time)."""

import json
import os
import subprocess
import sys

import pytest
from support import ROOT

from hhalign.bench.gpu_check import config_switches, group_row, plan
from hhalign.bench.gpu_report import markdown


def test_plan_measures_every_config_alone_first_then_shared():
    mode = {"levels": (1, 2, 4), "configs": ("baseline", "lean", "compiled", "graphs")}
    groups = plan(mode)
    assert len(groups) == len(set(groups)) == 2 * 4 * 3
    alone = [(s, c, 1) for c in ("baseline", "lean") for s in ("sft", "dpo")]
    assert groups[:4] == alone
    assert groups[4] == ("sft", "baseline", 2) and groups[12] == ("sft", "compiled", 1)
    assert config_switches("graphs", "cuda")["torch_compile_mode"] == "reduce-overhead"
    compiled = config_switches("compiled", "cuda")
    assert compiled["torch_compile"] and compiled["pad_to_multiple_of"] == 64
    assert compiled["optim"] == "adamw_torch_fused" and not compiled["adamw_foreach"]
    assert config_switches("lean", "cpu")["dataloader_num_workers"] == 0
    assert config_switches("baseline", "cuda") == {}


def test_a_failed_job_is_reported_not_dropped():
    ok = {"steady_tokens_per_s": 100.0, "tokens_per_s": 80.0, "peak_gib": 2.0, "graphs": 0}
    ok |= {"recompiles": 0, "first_loss": 1.0, "final_loss": 0.5}
    results = [{"ok": True, "result": ok}, {"ok": False, "error": "timed out after 9 s"}]
    row = group_row("sft", "lean", 2, results, {("sft", "lean"): 50.0})
    assert row["ok"] == 1 and row["errors"] == ["timed out after 9 s"]
    assert row["aggregate_tokens_per_s"] == 100.0 and row["aggregate_over_one_job"] == 2.0
    result = {
        "mode": "full",
        "elapsed_s": 1.0,
        "budget_s": 440,
        "environment": {},
        "suite": {"ok": False, "error": "CUDA out of memory"},
        "job_rows": 8,
        "configs": {},
        "groups": [row],
        "skipped": [{"stage": "dpo", "config": "compiled", "jobs": 4, "why": "time budget"}],
        "equality": [],
    }
    text = markdown(result)
    assert "not measured: CUDA out of memory" in text
    assert "sft lean x2: timed out after 9 s" in text and "dpo compiled x4: time budget" in text


@pytest.mark.slow
def test_dry_run_writes_the_json_and_the_table(tmp_path):
    env = {**os.environ, "PYTHON": sys.executable, "OMP_NUM_THREADS": "1"}
    out = subprocess.run(
        [str(ROOT / "scripts" / "gpu_check.sh"), "--dry", "--out", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    result = json.loads((tmp_path / "gpu_check.json").read_text())
    assert result["suite"]["ok"], result["suite"]
    suite = result["suite"]["result"]
    stages = {r["stage"]: r for r in suite["summary"]}
    assert set(stages) == {"generation", "scoring", "sft_training", "dpo_training"}
    assert stages["sft_training"]["agreement"] < 1e-4  # fixed-batch loss, 4 x 2 vs 1 x 8
    assert [r["stage"] for r in suite["step_overhead"]] == ["sft", "dpo"]
    assert all(r["weights_max_diff"] == 0.0 for r in suite["step_overhead"])
    measured = [(g["stage"], g["config"], g["jobs"]) for g in result["groups"]]
    assert measured == plan({"levels": (1, 2), "configs": ("baseline", "lean")})
    assert not result["skipped"] and all(g["ok"] == g["jobs"] for g in result["groups"])
    assert all(g["aggregate_tokens_per_s"] > 0 for g in result["groups"])
    # Before any optimizer step the lean switches compute the same loss; fused AdamW after.
    assert {(e["stage"], e["config"]) for e in result["equality"]} == {
        ("sft", "lean"),
        ("dpo", "lean"),
    }
    assert all(e["first_loss_diff"] == 0.0 for e in result["equality"])
    table = (tmp_path / "gpu_check.md").read_text()
    assert "## Training jobs on one device" in table and "| dpo | lean | 2 | 2 |" in table
    assert (tmp_path / "bench" / "step_overhead.csv").is_file()
