"""The Snakemake workflow itself: lint, dry runs, config errors, and the data rules on real data."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from support import ROOT, snakemake

from hhalign.io import read_jsonl, write_jsonl
from hhalign.synthetic import generate_rows

pytestmark = pytest.mark.dag


def test_lint_is_clean():
    out = snakemake("--lint")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Congratulations, your workflow is in a good condition" in out.stdout + out.stderr


@pytest.mark.parametrize("preset", [None, "presets/tiny.yaml"])
def test_dry_run_of_the_default_target(preset, tmp_path):
    args = ["-n", "--cores", "1"] + (["--configfile", preset] if preset else [])
    args += ["--config", f"results_dir={tmp_path}"]
    out = snakemake(*args)
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout + out.stderr
    assert "select_prompts" in text and "build_datasets" in text


def test_a_bad_config_stops_before_any_job_naming_the_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"prompts": {"n_harmfull": 5}}))
    out = snakemake("-n", "--cores", "1", "--configfile", str(bad))
    assert out.returncode != 0
    text = out.stdout + out.stderr
    assert "prompts: Additional properties" in text and "n_harmfull" in text


def test_a_yaml_syntax_error_names_file_line_and_column(tmp_path):
    """Snakemake's own message names neither; the workflow's config.yaml is checked first,
    and `python -m hhalign.config` (make check-config) checks presets."""
    from hhalign.config import ConfigError, check_yaml

    bad = tmp_path / "config.yaml"
    bad.write_text("results_dir: r\nsft:\n  num_train_epochs: 2\n   lr: [1\n")
    with pytest.raises(ConfigError, match=r"config.yaml: YAML syntax error at line 4, column 6"):
        check_yaml(bad)
    out = snakemake("-n", "--cores", "1", cwd=tmp_path)
    assert out.returncode != 0
    assert "config.yaml: YAML syntax error at line 4, column 6" in out.stdout + out.stderr
    check = subprocess.run(
        [sys.executable, "-m", "hhalign.config", "config.yaml", str(bad)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT / "scripts")},
        capture_output=True,
        text=True,
    )
    assert check.returncode == 1 and "line 4, column 6" in check.stdout


@pytest.mark.realdata
def test_data_and_prompt_rules_on_the_real_split_as_a_local_source(tmp_path, real_harmless_test):
    local = tmp_path / "hh"
    (local / "harmless-base").mkdir(parents=True)
    shutil.copyfile(real_harmless_test, local / "harmless-base" / "test.jsonl.gz")
    # A stand-in for helpful-base/test, which ../shared does not hold.
    write_jsonl(
        local / "helpful-base" / "test.jsonl.gz", generate_rows("helpful-base", "test", 300, 0, 0)
    )
    results = tmp_path / "results"
    cfg = {
        "results_dir": str(results),
        "data": {
            "source": "local",
            "local_dir": str(local),
            "train_subsets": ["harmless-base"],
            "train_split": "test",
        },
    }
    (tmp_path / "real.yaml").write_text(yaml.safe_dump(cfg))
    targets = [
        f"{results}/data/summary.json",
        f"{results}/prompts/paper/summary.json",
        f"{results}/prompts/corrected/summary.json",
    ]
    out = snakemake("--cores", "2", *targets, "--configfile", str(tmp_path / "real.yaml"))
    assert out.returncode == 0, out.stdout + out.stderr
    paper = json.loads((results / "prompts/paper/summary.json").read_text())
    assert (paper["harmful_candidates"], paper["harmful_out"], paper["helpful_out"]) == (
        192,
        50,
        50,
    )
    corrected = json.loads((results / "prompts/corrected/summary.json").read_text())
    assert corrected["prompts_ending_with_cue"] == 100
    data = json.loads((results / "data/summary.json").read_text())
    assert data["rows_in"] == 2312 and data["dpo_rows"] == 2303
    assert len(read_jsonl(results / "data/rejects.jsonl")) == 4 + 9
    copied = results / "data/raw/harmless-base/test.jsonl.gz"
    assert copied.read_bytes() == real_harmless_test.read_bytes()


def test_a_replaced_local_release_file_reruns_the_data_stage(tmp_path):
    """data.source local: a corrected copy of a release file reruns fetch_raw_data (and
    what follows). Before, the path was only a param and nothing reran."""
    local = tmp_path / "hh" / "harmless-base"
    local.mkdir(parents=True)
    src = local / "test.jsonl.gz"
    write_jsonl(src, generate_rows("harmless-base", "test", 20, 0, 0))
    results = tmp_path / "results"
    target = f"{results}/data/raw/harmless-base/test.jsonl.gz"
    args = ["--cores", "1", target, "--config", f"results_dir={results}"]
    args += ["data={'source': 'local', 'local_dir': '" + str(tmp_path / "hh") + "'}"]
    out = snakemake(*args)
    assert out.returncode == 0, out.stderr[-3000:]
    assert snakemake("-n", *args).stdout.count("rule fetch_raw_data") == 0
    copied = Path(target).stat().st_mtime_ns
    write_jsonl(src, generate_rows("harmless-base", "test", 21, 0, 0))
    os.utime(src, ns=(copied + 10**9, copied + 10**9))  # the copy is newer
    dry = snakemake("-n", *args)
    assert "rule fetch_raw_data" in dry.stdout, dry.stdout + dry.stderr
    assert "updated input files" in dry.stdout.lower() or "input" in dry.stdout.lower()


def test_audit_target_rebuilds_tables_from_a_release_fixture(tmp_path):
    """results/audit/: the authors' JSON format in, Tables 1-2 and figures out, no model run."""
    sources = {}
    for prompt_set, base_rating in (("harmful", -2.5), ("helpful", -1.0)):
        rows = [
            {
                "model": m,
                "prompt": f"Human: q{i}",
                "response": f"r{i}",
                "rating": base_rating - k - 0.5 * i,
                "label": "x",
            }
            for k, m in enumerate(["base", "sft", "dpo", "sft_dpo"])
            for i in range(4)
        ]
        path = tmp_path / f"{prompt_set}.json"
        path.write_text(json.dumps(rows))
        sources[prompt_set] = str(path)
    results = tmp_path / "results"
    cfg = tmp_path / "audit.yaml"
    cfg.write_text(yaml.safe_dump({"results_dir": str(results), "audit": sources}))
    out = snakemake(
        "--cores",
        "1",
        f"{results}/audit/table1.csv",
        f"{results}/audit/figures/fig1_rates.png",
        "--configfile",
        str(cfg),
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    t1 = pd.read_csv(results / "audit/table1.csv").set_index("model")
    assert list(t1.index) == ["base", "sft", "dpo", "sft_dpo"]  # the paper protocol only
    # base harmful ratings -2.5, -3.0, -3.5, -4.0: one is > -3, the authors' notebook's
    # operator (the paper's text, >= -3, would count two: 50%)
    assert t1.loc["base", "HmR"] == 25.0
    assert (results / "audit/tables/macros.tex").read_text().count("newcommand") > 40
    assert not (results / "generations").exists()  # nothing was generated or trained


DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def code_blocks() -> str:
    """Every bash code block of the README and docs/."""
    return "\n".join(
        block for path in DOCS for block in re.findall(r"```bash\n(.*?)```", path.read_text(), re.S)
    )


def readme_snakemake_commands() -> list[list[str]]:
    """Every `snakemake ...` command in the README's and docs' code blocks, as argument lists."""
    blocks = [code_blocks()]
    commands = []
    for line in "\n".join(blocks).splitlines():
        line = line.split("#")[0].strip().replace("\\", "")
        words = line.split()
        if words and Path(words[0]).name == "snakemake":
            commands.append(words[1:])
    return commands


def test_readme_commands_put_targets_before_options_that_swallow_them():
    """`--configfile` and `--forcerun` read every word after them: a target there is lost
    (more config files after --configfile are meant: presets stack)."""
    commands = readme_snakemake_commands()
    assert len(commands) >= 8
    for args in commands:
        for opt in ("--configfile", "--forcerun"):
            if opt in args:
                after = args[args.index(opt) + 2 :]
                if opt == "--configfile":
                    after = [a for a in after if not a.endswith((".yaml", ".yml"))]
                assert not [a for a in after if not a.startswith("-")], " ".join(args)


def test_every_make_target_the_docs_name_exists():
    """`make X` in the README and docs/ names a target of the Makefile."""
    targets = set(re.findall(r"^([a-z-]+):", (ROOT / "Makefile").read_text(), re.M))
    named = set(re.findall(r"(?:^|\s)make ([a-z-]+)", code_blocks(), re.M))
    assert named and named <= targets, named - targets


def test_the_readme_is_a_front_door():
    """README.md stays short: the rest lives in docs/, and every doc it links exists."""
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 200
    links = re.findall(r"\]\((docs/[a-z_]+\.md)\)", readme)
    assert len(set(links)) >= 8 and all((ROOT / link).is_file() for link in links)


@pytest.mark.parametrize("args", readme_snakemake_commands(), ids=" ".join)
def test_readme_commands_dry_run_offline(args):
    """Each of the README's and docs' Snakemake commands, as written, plans its jobs offline."""
    out = snakemake(*args, "-n")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]


def dry_run_jobs(workdir: Path, *presets: str) -> tuple[dict[str, int], str]:
    """rule -> job count of a dry run with ``presets`` stacked, and its printed commands."""
    if not (workdir / "config.yaml").exists():
        shutil.copyfile(ROOT / "config.yaml", workdir / "config.yaml")
    files = [str(ROOT / "presets" / p) for p in presets]
    out = snakemake("-n", "-p", "--directory", str(workdir), "--configfile", *files)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    block = out.stdout.split("Job stats:")[1].split("\n\n")[0]
    counts = {r: int(n) for r, n in re.findall(r"^([a-z_]+)\s+(\d+)$", block, re.M)}
    return counts, out.stdout


def test_experiments_share_every_stage_whose_config_is_the_same(tmp_path):
    """presets/experiments.yaml adds seven protocols that extend paper or corrected: each adds
    only its DPO and SFT+DPO trainings and their generation and scoring (and the cleaner-pairs
    one, the judging of the pairs); SFT, Base and the prompts are shared, and an
    experiment's SFT+DPO starts from its parent's SFT model."""
    base, _ = dry_run_jobs(tmp_path, "tiny.yaml")
    more, text = dry_run_jobs(tmp_path, "tiny.yaml", "experiments.yaml")
    assert (
        more["train_sft"] == base["train_sft"] and more["select_prompts"] == base["select_prompts"]
    )
    for rule in ("train_dpo", "generate_responses", "score_responses"):
        assert more[rule] - base[rule] == 7 * 2, rule
    assert more["clean_pairs"] == 1 and "clean_pairs" not in base
    assert re.search(r"--start \S*models/corrected/sft --out \S*models/dpo_ipo/sft_dpo", text)
    assert re.search(r"--start \S*models/paper/sft --out \S*models/paper_dpo_2ep/sft_dpo", text)
    assert "generations/dpo_ipo/base" not in text and "models/dpo_ipo/sft " not in text


def test_the_model_ladder_trains_each_rung_and_shares_only_data_prompts_and_judge(tmp_path):
    """presets/ladder.yaml: three rungs (two OPT sizes, one GPT-NeoX), each its own tiny
    policy offline, its own Base, SFT, DPO and SFT+DPO; the prompts stay the corrected
    protocol's, and no data or judge job is added."""
    base, _ = dry_run_jobs(tmp_path, "tiny.yaml")
    more, text = dry_run_jobs(tmp_path, "tiny.yaml", "ladder.yaml")
    added = {rule: more[rule] - base.get(rule, 0) for rule in more}
    assert added["build_tiny_policy"] == 3 and added["train_sft"] == 3
    assert added["train_dpo"] == 6 and added["generate_responses"] == 3 * 4
    assert added["select_prompts"] == 0 and added["build_datasets"] == 0
    assert added["train_reward_model"] == 0 and added["build_tiny_models"] == 0
    assert re.search(
        r"--start \S*models/tiny/policy_pythia-410m --out \S*models/pythia-410m/sft ", text
    )
