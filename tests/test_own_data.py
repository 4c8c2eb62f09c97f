"""Your own data through the workflow, offline: TRL-format files copied from a local directory
through the data and prompt stages, and a failing data stage that leaves its rejects to read.
(The runs of each format to Table 1 are test_policies' shared runs: PKU-SafeRLHF rows in the
Llama run, TRL's format in the GPT-2 run.)"""

import json
import shutil

import pandas as pd
import pytest
import yaml
from support import ROOT, snakemake

from hhalign.io import read_jsonl, write_jsonl

pytestmark = pytest.mark.slow


def run(workdir, cfg: dict, *targets: str):
    """Snakemake on the tiny preset plus ``cfg``, in ``workdir``, one core."""
    workdir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ROOT / "config.yaml", workdir / "config.yaml")  # the Snakefile's configfile
    (workdir / "own.yaml").write_text(yaml.safe_dump(cfg))
    return snakemake(
        "--directory",
        str(workdir),
        "--cores",
        "1",
        *targets,
        "--configfile",
        str(ROOT / "presets" / "tiny.yaml"),
        str(workdir / "own.yaml"),
    )


def trl_rows(n: int) -> list[dict]:
    """TRL preference rows in its two layouts: strings and messages."""
    rows = []
    for i in range(n):
        if i % 2:
            rows.append(
                {"prompt": f"How do I bake loaf {i}?", "chosen": "Knead.", "rejected": "No."}
            )
        else:
            user = [{"role": "user", "content": f"How do I bake loaf {i}?"}]
            rows.append(
                {
                    "prompt": user,
                    "chosen": [{"role": "assistant", "content": "Knead and bake."}],
                    "rejected": [{"role": "assistant", "content": "Why?"}],
                }
            )
    return rows


def test_trl_files_from_a_local_directory_and_a_plain_prompt_file(tmp_path):
    """data.source local with uncompressed {subset}/{split}.jsonl files in TRL's format and
    prompts from plain prompt files with the keyword filter off, through the data and prompt
    stages (training on TRL-format data is the GPT-2 run's, in test_policies)."""
    local = tmp_path / "mine"
    write_jsonl(local / "pairs" / "train.jsonl", trl_rows(40))
    write_jsonl(tmp_path / "harmful.jsonl", [{"prompt": f"Hurt {i}?"} for i in range(6)])
    write_jsonl(tmp_path / "helpful.jsonl", [{"prompt": f"Bake {i}?"} for i in range(6)])
    cfg = {
        "results_dir": "results",
        "run_label": "tiny offline world, TRL preference format",
        "protocols": ["paper"],
        "variants": ["base", "dpo"],
        "models": {"judge": {"source": "tiny"}},
        "judges": [{"name": "tiny", "kind": "pair", "model": None}],
        "data": {
            "source": "local",
            "local_dir": str(local),
            "format": "preference",
            "train_subsets": ["pairs"],
        },
        "prompts": {
            "harmful": {"file": str(tmp_path / "harmful.jsonl"), "format": "prompt"},
            "helpful": {"file": str(tmp_path / "helpful.jsonl"), "format": "prompt"},
            "keywords": [],
            "n_harmful": 4,
            "n_helpful": 4,
        },
    }
    out = run(
        tmp_path / "run", cfg, "results/data/summary.json", "results/prompts/paper/summary.json"
    )
    assert out.returncode == 0, (out.stdout + out.stderr)[-4000:]
    results = tmp_path / "run" / "results"
    summary = json.loads((results / "data/summary.json").read_text())
    assert summary["conversion"] == {
        "format": "preference",
        "rows_in": 40,
        "converted": 40,
        "rejects": {},
    }
    assert summary["dpo_rows"] == 40
    sft = pd.read_parquet(results / "data/sft.parquet")
    assert sft["text"][0] == "\n\nHuman: How do I bake loaf 0?\n\nAssistant: Knead and bake."
    harmful = read_jsonl(results / "prompts/paper/harmful.jsonl")
    assert len(harmful) == 4 and harmful[0]["file"].endswith("harmful.jsonl")
    assert all(p["prompt"].startswith("Human: Hurt ") for p in harmful)
    assert len(read_jsonl(results / "prompts/paper/helpful.jsonl")) == 4


def test_a_failing_data_stage_says_what_is_expected_and_keeps_its_rejects(tmp_path):
    """Rows of the right shape but mostly unusable: the build stops, and the rejected rows
    with their full reasons stay beside the log (Snakemake removes the failed job's own
    rejects.jsonl). Rows of another format stop at the first, naming line, field and fix."""
    local = tmp_path / "mine"
    rows = trl_rows(10) + [{"prompt": "Hi?", "chosen": "Same.", "rejected": "Same."}] * 5
    write_jsonl(local / "pairs" / "train.jsonl", rows)
    cfg = {
        "results_dir": "results",
        "data": {"source": "local", "local_dir": str(local), "format": "preference"},
    }
    cfg["data"]["train_subsets"] = ["pairs"]
    work = tmp_path / "run"
    out = run(work, cfg, "results/data/summary.json")
    assert out.returncode != 0
    log = (work / "results/logs/build_datasets.log").read_text()
    assert "5 of 15 rows rejected" in log and "raise data.max_reject_fraction" in log
    kept = read_jsonl(work / "results/logs/build_datasets_rejects.jsonl")
    assert {r["detail"] for r in kept} == {"identical_chosen_rejected"}
    assert len(kept) == 5 and not (work / "results/data/rejects.jsonl").exists()
    cfg["data"]["format"] = "hh"  # the same TRL file read as HH-RLHF's
    out = run(work, cfg, "results/data/summary.json")
    assert out.returncode != 0
    log = (work / "results/logs/build_datasets.log").read_text().splitlines()[-1]
    assert "line 1: data.format=hh reads 'chosen' and 'rejected'" in log, log
    assert "set data.format: preference" in log and "'prompt' (list)" in log
