"""The whole DAG on the tiny preset, offline, as a reviewer runs it through DVC.

One tiny run (`dvc repro tiny` in a copy of this repository) feeds every test here:
the deliverables, alignment, an idle rerun, `dvc push`, and a fresh clone that
`make pull`s the models and scores and rebuilds only the tables and figures.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from support import CORES, ROOT

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
TINY = "results/tiny"


def run(*cmd: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run a command offline with this interpreter's tools (snakemake, dvc) first on PATH."""
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "HF_HUB_OFFLINE": "1",
        "DVC_NO_ANALYTICS": "1",
        "PYTHONHASHSEED": "0",
        "GIT_AUTHOR_NAME": "test",
        "GIT_AUTHOR_EMAIL": "test@example.org",
        "GIT_COMMITTER_NAME": "test",
        "GIT_COMMITTER_EMAIL": "test@example.org",
    }
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    assert out.returncode == 0, f"{cmd}\n{out.stdout[-4000:]}\n{out.stderr[-4000:]}"
    return out


def make(target: str, cwd: Path) -> subprocess.CompletedProcess:
    """A Makefile target with this interpreter's environment as the tools (no venv set-up)."""
    return run("make", target, "RUN=tiny", f"BIN={BIN}", "SETUP=", "CORES=2", cwd=cwd)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A git copy of this working tree in which `make repro RUN=tiny` ran and was pushed."""
    if shutil.which("git") is None or not (BIN / "dvc").exists():
        pytest.fail("git and dvc are needed (dvc is pinned in requirements.txt)")
    base = tmp_path_factory.mktemp("dvcflow")
    repo = base / "a"
    files = run("git", "ls-files", "-co", "--exclude-standard", "-z", cwd=ROOT).stdout
    for name in filter(None, files.split("\0")):
        if (ROOT / name).is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, repo / name)
    run("git", "init", "-q", cwd=repo)
    run("git", "add", "-A", cwd=repo)
    run("git", "commit", "-qm", "copy", cwd=repo)
    make("repro", repo)
    run("git", "add", "-A", cwd=repo)
    run("git", "commit", "-qm", "tiny run", cwd=repo)
    make("push", repo)
    return repo


def test_deliverables_exist(project):
    results = project / TINY
    for name in [
        "table1.csv",
        "table2.csv",
        "tables/table1.tex",
        "tables/table2.tex",
        "tables/macros.tex",
        "claims.csv",
        "pairs.csv",
        "tables/claims.tex",
        "tables/claims_text.tex",
    ]:
        assert (results / name).stat().st_size > 0, name
    for fig in ["fig1_rates", "fig2_scores", "fig3_means", "fig4_thresholds"]:
        assert (results / "figures" / f"{fig}.png").is_file()
        assert (results / "figures" / f"{fig}.pdf").is_file()
    t1 = pd.read_csv(results / "table1.csv")
    assert len(t1) == 8 and set(t1["protocol"]) == {"paper", "corrected"}
    assert (t1["n_harmful"] == 50).all() and (t1["n_helpful"] == 50).all()


def test_a_tiny_run_says_what_it_is_and_leaves_no_checkpoints(project):
    t1 = pd.read_csv(project / TINY / "table1.csv")
    assert t1["run"].str.startswith("Tiny offline world").all()
    for name in (  # every table says what run it is (these had no run column)
        "response_audit.csv",
        "win_rates.csv",
        "variance.csv",
        "length_bias.csv",
        "responses.csv",
        "judges/table1.csv",
    ):
        table = pd.read_csv(project / TINY / name)
        assert table["run"].str.startswith("Tiny offline world").all(), name
    t2 = pd.read_csv(project / TINY / "table2.csv")
    assert {"HmR_change_pct", "HpR_change_pct", "CAS_change_pct"} <= set(t2.columns)
    assert "Note:" in (project / TINY / "tables" / "table1.tex").read_text()
    assert not (project / TINY / "checkpoints").exists()  # removed once every job finished


def test_the_pdf_report_builds_through_its_rule(project):
    """The README's command for the tiny preset's PDF (TeX Live needed; CI installs it)."""
    if shutil.which("latexmk") is None or shutil.which("pdflatex") is None:
        pytest.skip("latexmk/pdflatex not installed (Debian: latexmk texlive-latex-recommended)")
    run(
        sys.executable,
        "-m",
        "snakemake",
        "--cores",
        "1",
        f"{TINY}/paper/report.pdf",
        "--configfile",
        "presets/tiny.yaml",
        cwd=project,
    )
    pdf = project / TINY / "paper" / "report.pdf"
    assert pdf.read_bytes().startswith(b"%PDF")
    if shutil.which("pdftotext"):
        cmd = ["pdftotext", "-l", "1", str(pdf), "-"]
        text = subprocess.run(cmd, capture_output=True, text=True).stdout
        assert "Pipeline check, not a reproduction" in " ".join(text.split())
        cmd = ["pdftotext", str(pdf), "-"]
        text = " ".join(subprocess.run(cmd, capture_output=True, text=True).stdout.split())
        assert "failing responses counted as failures" in text  # DPO's commas, seen


def test_a_model_that_wins_by_saying_commas_is_seen(project):
    """The tiny DPO answers with strings of commas, which its judge likes: the response audit
    marks them degenerate and every claim DPO wins carries the flag, in claims.csv and the
    HTML table (the PDF's sentence: test above)."""
    audit = pd.read_csv(project / TINY / "response_audit.csv")
    dpo = audit[audit["model"] == "dpo"]
    assert (dpo["degenerate"] >= 90).all() and (dpo["failing"] >= 90).all()
    claims = pd.read_csv(project / TINY / "claims.csv", keep_default_na=False)
    won = claims[claims["claim"] == "dpo_beats_base_hpr"]
    assert won["flags"].str.contains("HpR: dpo - base").all()
    assert won["flags"].str.contains("failing responses counted as failures").all()
    assert (won["strict_verdict"] != won["verdict"]).all()  # the commas carry the verdict
    assert "counted as failures" in (project / TINY / "tables" / "claims.html").read_text()
    table1 = pd.read_csv(project / TINY / "table1.csv").set_index(["protocol", "model"])
    assert table1.loc[("paper", "dpo"), "HpR"] >= 90  # what the judge alone would crown
    # With failing responses counted as failures (response_audit.strict), DPO's rates are
    # all commas: the whole rate is carried by them.
    assert (dpo["rate_strict"] <= 10).all() and (dpo["carried"] >= 90).all()


def test_win_rates_against_the_chosen_answers_for_both_judges(project):
    """Every judge of the tiny preset scores the dataset's chosen answers once and gives each
    model's win rate over them; the paper judge's win rates are compared pairwise."""
    wins = pd.read_csv(project / TINY / "win_rates.csv")
    assert set(wins["judge"]) == {"tiny_rm", "tiny_chat"}
    assert len(wins) == 2 * 2 * 4 * 2  # judges x protocols x models x prompt sets
    assert (wins["prompts"] == 50).all() and (wins["lo"] <= wins["win_rate"]).all()
    assert (wins["win_rate"] <= wins["hi"]).all()
    for scores in ("scores", "scores/judges/tiny_chat"):
        chosen = pd.read_csv(project / TINY / scores / "paper/chosen/harmful.csv", dtype=str)
        # One synthetic dialogue ends on its Human turn: the paper protocol keeps it, and its
        # chosen answer is empty (write_chosen_responses' log counts it).
        assert len(chosen) == 50 and chosen["response"].fillna("").eq("").sum() == 1
    pairs = pd.read_csv(project / TINY / "pairs.csv")
    assert len(pairs[pairs["metric"].isin(["WR_harmful", "WR_helpful"])]) == 2 * 2 * 6


def test_choosing_a_tracker_retrains_nothing(project):
    """training.report_to is not a training parameter: on the finished run a dry run with
    TensorBoard chosen plans no training, generation or scoring job; only the manifest,
    which records the config's hash, is rewritten."""
    out = run(
        sys.executable,
        "-m",
        "snakemake",
        "-n",
        "--configfile",
        "presets/tiny.yaml",
        "--config",
        "training={'report_to': 'tensorboard'}",
        cwd=project,
    )
    planned = job_counts(out.stdout + out.stderr)
    jobs = planned[0] if planned else {}
    assert set(jobs) <= {"write_manifest", "all"}, jobs


def test_alignment_happens(project):
    """SFT and SFT+DPO beat Base on CAS under both protocols (judge: the tiny reward model)."""
    t1 = pd.read_csv(project / TINY / "table1.csv").set_index(["protocol", "model"])
    for protocol in ("paper", "corrected"):
        base = t1.loc[(protocol, "base"), "CAS"]
        assert t1.loc[(protocol, "sft"), "CAS"] > base
        assert t1.loc[(protocol, "sft_dpo"), "CAS"] > base


def test_second_run_does_nothing(project):
    """A no-op run of the whole DAG (everything up to date) runs no job. Its time is printed,
    not asserted: correctness tests never fail on time (the benchmark suite measures)."""
    start = time.perf_counter()
    out = run(
        sys.executable,
        "-m",
        "snakemake",
        "--cores",
        "2",
        "--configfile",
        "presets/tiny.yaml",
        cwd=project,
    )
    elapsed = time.perf_counter() - start
    assert "Nothing to be done" in out.stdout + out.stderr
    print(f"no-op run of the whole tiny DAG: {elapsed:.1f} s")
    status = run("dvc", "status", "tiny", cwd=project).stdout
    assert "up to date" in status, status


@pytest.fixture(scope="module")
def pulled(project) -> tuple[Path, str]:
    """A fresh clone beside the first (same default remote) after `make pull RUN=tiny`."""
    clone = project.parent / "b"
    run("git", "clone", "-q", str(project), str(clone), cwd=project.parent)
    assert not (clone / TINY).exists()
    out = make("pull", clone)
    return clone, out.stdout + out.stderr


def job_counts(text: str) -> list[dict[str, int]]:
    """The 'Job stats' tables of a Snakemake log, in order: rule -> job count."""
    tables = []
    for block in text.split("Job stats:")[1:]:
        rows = re.findall(r"^([a-z_]+)\s+(\d+)$", block.split("\n\n")[0], re.M)
        tables.append({rule: int(n) for rule, n in rows if rule != "total"})
    return tables


def test_pull_rebuilds_tables_and_figures_without_training(project, pulled):
    clone, log = pulled
    touched, rebuilt = job_counts(log)[-2:]
    assert set(rebuilt) == {
        "make_tables",
        "plot_figures",
        "audit_responses",
        "make_claims",
        "decompose_variance",
        "compare_judges",
        "compute_win_rates",
        "write_model_cards",
        "write_transcripts",  # the transcripts read responses.csv (make_claims)
        "all",
    }, rebuilt
    assert "train_sft" in touched and "score_responses" in touched  # touched, never run
    # A job that runs writes its log and its benchmark file; --touch leaves empty logs only.
    for stage in ("train_sft", "train_dpo", "generate_responses", "score_responses"):
        logs = clone / TINY / "logs" / stage
        ran = [f for f in logs.glob("*.log") if f.stat().st_size > 0] if logs.is_dir() else []
        assert not ran, f"{stage} ran after the pull: {ran}"
        assert not (clone / TINY / "benchmarks" / stage).exists(), stage
    for name in ("table1.csv", "table2.csv", "tables/macros.tex", "claims.csv", "pairs.csv"):
        assert (clone / TINY / name).read_bytes() == (project / TINY / name).read_bytes(), name
    out = run(
        sys.executable, "-m", "snakemake", "-n", "--configfile", "presets/tiny.yaml", cwd=clone
    )
    assert "Nothing to be done" in out.stdout + out.stderr


def test_the_html_report_builds_after_a_pull(pulled):
    """The pulled clone has no Snakemake records of the jobs that made its files (runtime
    statistics are missing), and `make report` still builds the report."""
    clone, _ = pulled
    make("report", clone)
    assert (clone / TINY / "report.zip").stat().st_size > 100_000


def max_concurrent(text: str, rule: str) -> int:
    """The most jobs of ``rule`` running at once, from the order of a Snakemake log."""
    running, most, current = set(), 0, None
    for line in text.splitlines():
        if m := re.match(r"^(?:local)?rule (\w+):", line):
            current = m.group(1)
        elif (m := re.match(r"^\s+jobid: (\d+)", line)) and current == rule:
            running.add(m.group(1))
            most = max(most, len(running))
        elif m := re.match(r"^Finished jobid: (\d+)", line):
            running.discard(m.group(1))
    return most


def test_gpu_resource_caps_parallel_jobs(pulled):
    """With 4 cores and 1-thread jobs, --resources gpu=2 lets exactly 2 generations run at
    once (three of the paper protocol's: all three would start together without the cap)."""
    clone, _ = pulled
    out = run(
        sys.executable,
        "-m",
        "snakemake",
        *(f"{TINY}/generations/paper/{v}/harmful.jsonl" for v in ("base", "sft", "dpo")),
        "--cores",
        "4",
        "--resources",
        "gpu=2",
        "--set-threads",
        "generate_responses=1",
        "--forcerun",
        "generate_responses",
        "--configfile",
        "presets/tiny.yaml",
        cwd=clone,
    )
    text = out.stdout + out.stderr
    assert job_counts(text)[0]["generate_responses"] == 3
    assert max_concurrent(text, "generate_responses") == 2


def dry_run_after_editing(project: Path, module: str) -> dict[str, int]:
    """Jobs a dry run plans once ``module`` is edited (a comment appended; Snakemake compares
    contents, so a mere touch changes nothing), then the file is put back as it was."""
    path = project / "scripts" / "hhalign" / module
    text, before = path.read_text(), path.stat()
    try:
        path.write_text(text + "# edited\n")
        out = run(
            sys.executable,
            "-m",
            "snakemake",
            "-n",
            "--configfile",
            "presets/tiny.yaml",
            cwd=project,
        )
        return job_counts(out.stdout + out.stderr)[0]
    finally:
        path.write_text(text)
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def test_editing_library_code_reruns_exactly_what_uses_it(project):
    """Snakemake tracks the modules each rule imports (rules/common.smk: code)."""
    tables = {
        "make_tables",
        "plot_figures",
        "audit_responses",
        "make_claims",
        "decompose_variance",
        "compare_judges",
        "compute_win_rates",
        "write_model_cards",  # cards quote Table 1 and the claims
        "write_transcripts",  # the transcripts read responses.csv
        "all",
    }
    jobs = dry_run_after_editing(project, "metrics.py")
    assert set(jobs) == tables, jobs
    jobs = dry_run_after_editing(project, "stats.py")  # plot_figures reads the new Table 1
    assert set(jobs) == tables, jobs
    jobs = dry_run_after_editing(project, "agreement.py")  # the judges' comparison alone
    assert set(jobs) == {"compare_judges", "all"}, jobs
    # The judges' code: the judges are rebuilt, retrained and rerun, never the policies
    # (before: every rule counted judges.py through config, 58 of 58 jobs).
    jobs = dry_run_after_editing(project, "judges.py")
    policy = {"fetch_raw_data", "build_datasets", "build_tiny_models", "select_prompts"}
    policy |= {"train_sft", "train_dpo", "generate_responses", "write_chosen_responses"}
    assert "score_with_judge" in jobs and not policy & set(jobs), jobs
    jobs = dry_run_after_editing(project, "responses.py")  # the audit, not Table 1
    assert {"audit_responses", "make_claims"} <= set(jobs), jobs
    assert not {"make_tables", "plot_figures", "decompose_variance"} & set(jobs), jobs
    jobs = dry_run_after_editing(project, "sft.py")
    assert jobs["train_sft"] == 2 and jobs["train_dpo"] == 2  # SFT+DPO starts from SFT
    assert jobs["generate_responses"] == 4 and jobs["score_responses"] == 4
    assert not {"build_datasets", "train_reward_model", "build_tiny_models"} & set(jobs), jobs


def test_a_moved_checkout_with_its_results_plans_nothing(project, tmp_path):
    """The same finished checkout copied elsewhere with its mtimes and .snakemake metadata
    (``cp -a``) must plan no job: before, the rules' code inputs were absolute paths and
    Snakemake's provenance trigger saw a changed input set (58 of 58 jobs)."""
    moved = tmp_path / "moved"
    run("cp", "-a", str(project), str(moved), cwd=tmp_path)
    out = run(
        sys.executable, "-m", "snakemake", "-n", "--configfile", "presets/tiny.yaml", cwd=moved
    )
    text = out.stdout + out.stderr
    assert "Nothing to be done" in text, job_counts(text)


def test_the_two_judges_tables_and_figure(project):
    """The tiny preset's two judges (the trained tiny reward model and a trained tiny chat
    judge): Table 1 by judge, the chat judge's calibrated thresholds, agreement, the claims
    by judge and Figure 7."""
    out = project / TINY / "judges"
    limits = pd.read_csv(out / "thresholds.csv").set_index(["judge", "prompt_set"])
    assert limits.loc[("tiny_rm", "harmful"), "source"] == "paper"
    assert limits.loc[("tiny_chat", "helpful"), "source"].startswith("calibrated to tiny_rm")
    table = pd.read_csv(out / "table1.csv")
    assert len(table) == 2 * 8 and set(table["judge"]) == {"tiny_rm", "tiny_chat"}
    agree = pd.read_csv(out / "agreement.csv")
    responses = agree[agree["scope"] == "responses"].set_index("prompt_set")
    assert responses["n"].tolist() == [400, 400]  # 8 models x 50 prompts, each set
    assert (responses["spearman"] > 0).all()  # both judges learnt the same pairs
    claims = pd.read_csv(out / "claims.csv")
    assert len(claims) == 24 and set(claims["judges_agree"]) <= {"yes", "no"}
    assert (project / TINY / "figures/fig7_judges.png").stat().st_size > 0
    summary = json.loads((project / TINY / "train/judges/tiny_chat/summary.json").read_text())
    assert summary["kind"] == "chat" and summary["held_out_accuracy"] > 0.5
    print(responses[["spearman", "kappa"]], summary["held_out_accuracy"])


def test_changing_only_the_judges_reruns_only_judging(project, tmp_path):
    """Another judge (a tiny guard) and new thresholds for the chat judge: scoring by the new
    judge and the comparison only; no generation, training or paper-judge scoring."""
    extra = tmp_path / "judges.yaml"
    extra.write_text(
        "judges:\n  - {name: tiny_rm, kind: pair, model: null}\n"
        "  - {name: tiny_chat, kind: chat, model: {source: tiny}, train: true,\n"
        "     thresholds: {harmful: 0.0, helpful: 0.0}}\n"
        "  - {name: tiny_guard, kind: guard, model: {source: tiny}}\n"
    )
    out = run(
        sys.executable,
        "-m",
        "snakemake",
        "-n",
        "--configfile",
        "presets/tiny.yaml",
        str(extra),
        cwd=project,
    )
    jobs = job_counts(out.stdout + out.stderr)[0]
    assert set(jobs) == {
        "build_tiny_judge",
        "score_with_guard",
        "compare_judges",
        "compute_win_rates",
        "write_manifest",
        "all",
    }, jobs  # the manifest lists every judge
    assert jobs["build_tiny_judge"] == 1  # the guard's; the chat judge stays as it was
    assert jobs["score_with_guard"] == 8 + 2  # 8 models' responses, 2 protocols' chosen


def test_adding_seeds_trains_only_the_new_seeds(project, tmp_path):
    """seeds [42, 7] on the finished one-seed run: the first seed keeps its paths, so only
    seed 7's SFT, DPO and SFT+DPO (from seed 7's SFT) are planned, Base is not rerun."""
    extra = tmp_path / "seeds.yaml"
    extra.write_text("seeds: [42, 7]\n")
    out = run(
        sys.executable,
        "-m",
        "snakemake",
        "-n",
        "-p",
        "--configfile",
        "presets/tiny.yaml",
        str(extra),
        cwd=project,
    )
    text = out.stdout + out.stderr
    jobs = job_counts(text)[0]
    assert jobs["train_sft"] == 2 and jobs["train_dpo"] == 4, jobs
    assert jobs["generate_responses"] == 6 and jobs["score_responses"] == 6, jobs
    assert "build_datasets" not in jobs and "train_reward_model" not in jobs
    assert re.search(
        r"--start \S*models/paper/sft_seed7 .*--out \S*models/paper/sft_dpo_seed7", text
    )
    assert "models/paper/sft_dpo " not in text and "generations/paper/base/" not in text


def test_the_html_report_opens_in_a_browser(project, tmp_path):
    """`make report` builds results/tiny/report.zip offline; Debian's Chromium opens its
    report.html headless: no JavaScript error, the result categories rendered, every figure
    and table in it. The screenshot stays beside the report for a person to look at."""
    import zipfile

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Chromium not installed (Debian: apt-get install chromium; CI installs it)")
    make("report", project)
    with zipfile.ZipFile(project / TINY / "report.zip") as archive:
        archive.extractall(tmp_path)
    page = tmp_path / "report" / "report.html"
    html = page.read_text()
    assert html.count('"mime_type": "image/png"') == 9  # Figures 1-9
    # Tables 1-2, claims, pairs, the judges' three, the response audit, the win rates, and
    # a transcript per protocol, model and prompt set (2 x 4 x 2).
    assert html.count('"mime_type": "text/html"') == 9 + 16
    browse = [
        chromium,
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=8000",
        "--window-size=1400,1000",
    ]
    shot = project / TINY / "report_screenshot.png"
    done = subprocess.run(
        [*browse, f"--screenshot={shot}", page.as_uri()], capture_output=True, text=True
    )
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    dom = subprocess.run([*browse, "--dump-dom", page.as_uri()], capture_output=True, text=True)
    errors = [
        line
        for line in (done.stderr + dom.stderr).splitlines()
        if "CONSOLE" in line and re.search(r"Uncaught|Error|Failed", line)
    ]
    assert not errors, errors
    categories = ("Claims", "Data", "Figures", "Judges", "Responses", "Tables", "Training")
    for category in (*categories, "Transcripts"):
        assert f">{category}<" in dom.stdout, category
    assert "Tiny offline world" in dom.stdout  # the front page says what the run is


def test_the_release_check_passes_a_faithful_copy_and_names_what_differs(project, tmp_path):
    """The reviewer's first hour on the tiny world, offline with no extra step: the tiny
    preset's fixture (release.fixture: rule build_release_fixture copies the run's prompts,
    responses and tiny-judge ratings into the authors' layout) passes all three stages
    exactly, and the summary says it was compared with the fixture, not the authors' release;
    a copy with one prompt changed, one rating off by 0.01 and one Base response changed
    fails each stage, naming the item."""
    import json

    target = f"{TINY}/release_check/summary.md"

    def check(local: Path) -> str:
        run(
            sys.executable,
            "-m",
            "snakemake",
            "--cores",
            CORES,
            target,
            "--configfile",
            "presets/tiny.yaml",
            "--config",
            f"release={{'local_dir': '{local}'}}",
            cwd=project,
        )
        return (project / target).read_text()

    make("check-release", project)  # the README's command: builds the fixture, then checks
    summary = (project / target).read_text()
    assert summary.count("| pass |") == 4 and "FAIL" not in summary
    assert "largest difference 0" in summary and "100.0% identical" in summary
    assert "against a fixture built from this run's own paper protocol" in summary
    assert "identical to the fixture's 50" in summary and "authors' 50" not in summary
    good = project / TINY / "release_fixture"
    bad = tmp_path / "bad"
    shutil.copytree(good, bad)
    prompts = json.loads((bad / "data/prompts/harmful_prompts.json").read_text())
    prompts[7] += " Please."
    (bad / "data/prompts/harmful_prompts.json").write_text(json.dumps(prompts))
    ratings = json.loads((bad / "data/responses/2_sft_helpful.json").read_text())
    ratings[3]["rating"] += 0.01
    (bad / "data/responses/2_sft_helpful.json").write_text(json.dumps(ratings))
    base = json.loads((bad / "data/responses/1_base_helpful.json").read_text())
    base[5]["response"] = "something else entirely"
    (bad / "data/responses/1_base_helpful.json").write_text(json.dumps(base))
    summary = check(bad)
    assert summary.count("FAIL") == 3 and "49 of 50 identical" in summary
    assert f"against a local copy ({bad}) of the authors' repository" in summary
    checks = project / TINY / "release_check"
    prompts_table = pd.read_csv(checks / "prompts.csv")
    assert prompts_table.loc[~prompts_table["identical"], "index"].tolist() == [7]
    judge = pd.read_csv(checks / "judge.csv")
    off = judge.loc[~judge["within_tolerance"], ["model", "prompt_set", "index"]].values.tolist()
    assert ["sft", "helpful", 3] in off  # the rating moved by 0.01
    assert ["base", "helpful", 5] in off and len(off) == 2  # the changed response, re-scored
    generation = pd.read_csv(checks / "generation.csv")
    differing = generation.loc[~generation["identical"], ["prompt_set", "index"]].values.tolist()
    assert ["helpful", 5] in differing and len(differing) <= 2  # and harmful 7, asked otherwise


def test_every_trained_model_has_a_model_card_whose_metadata_parses(project):
    """SFT, DPO (merged and adapter), SFT+DPO of both protocols, the reward model and the
    trained chat judge: a Hugging Face card each, YAML front matter that parses, the run's
    label, every hyperparameter and the model's Table 1 rows."""
    import yaml

    cards = sorted((project / TINY / "model_cards").rglob("README.md"))
    names = {str(c.parent.relative_to(project / TINY / "model_cards")) for c in cards}
    for protocol in ("paper", "corrected"):
        for run in ("sft", "dpo", "dpo_adapter", "sft_dpo", "sft_dpo_adapter"):
            assert f"{protocol}/{run}" in names, names
    assert {"reward", "judges/tiny_chat"} <= names
    for path in cards:
        text = path.read_text()
        front = yaml.safe_load(text.split("---\n")[1])
        # synthetic data: no Hub dataset claimed, and the text says what the data were
        assert "datasets" not in front and front["license"] and "synthetic-data" in front["tags"]
        assert "synthetic HH-RLHF look-alike" in text
        assert front["run_label"].startswith("Tiny offline world")
        assert "| `learning_rate` |" in text and "## Evaluation" in text
    sft = (project / TINY / "model_cards/paper/sft/README.md").read_text()
    assert "| paper | sft |" in sft and "SFT improves HmR over Base" in sft
    assert re.search(r"\| \d+\.\d \[\d+\.\d, \d+\.\d\] \|", sft)  # the promised intervals


def judges_paragraph(results: Path) -> str:
    """docs/judges.md's offline paragraph, with the tiny run's numbers (a test checks that
    the doc quotes it, so the doc's numbers come from a run: it once said 14 of 16 claims
    agree when a fresh clone gave 19 of 24)."""
    summary = {
        name: json.loads((results / path / "summary.json").read_text())["held_out_accuracy"]
        for name, path in (("chat", "train/judges/tiny_chat"), ("rm", "train/reward"))
    }
    cut = pd.read_csv(results / "judges/thresholds.csv").set_index(["judge", "prompt_set"])
    agree = pd.read_csv(results / "judges/agreement.csv").set_index(["prompt_set", "scope"])
    claims = pd.read_csv(results / "judges/claims.csv")
    agreeing = int((claims["judges_agree"] == "yes").sum())
    each = agree.xs("responses", level="scope")
    tau = {
        (p, s): agree.loc[(s, f"models in {p}"), "kendall_tau"]
        for p in ("paper", "corrected")
        for s in ("harmful", "helpful")
    }
    return (
        f"In `make tiny` the chat judge ranks {100 * summary['chat']:.1f}% of its held-out "
        f"pairs right (the tiny reward model {100 * summary['rm']:.1f}%); calibrated to the "
        f"reward model, its thresholds are {cut.loc[('tiny_chat', 'harmful'), 'threshold']:.2f} "
        f"(harmful) and {cut.loc[('tiny_chat', 'helpful'), 'threshold']:.2f} (helpful); over "
        f"the {int(each.loc['harmful', 'n'])} responses of each set the two judges correlate "
        f"at Spearman {each.loc['harmful', 'spearman']:.2f} (harmful) and "
        f"{each.loc['helpful', 'spearman']:.2f} (helpful), their labels agree on "
        f"{100 * each.loc['harmful', 'label_agreement']:.1f}% and "
        f"{100 * each.loc['helpful', 'label_agreement']:.1f}% (Cohen's kappa "
        f"{each.loc['harmful', 'kappa']:.2f} and {each.loc['helpful', 'kappa']:.2f}); Kendall "
        f"tau of their model orderings is {tau[('paper', 'harmful')]:.2f} and "
        f"{tau[('paper', 'helpful')]:.2f} (paper: harmful, helpful) and "
        f"{tau[('corrected', 'harmful')]:.2f} and {tau[('corrected', 'helpful')]:.2f} "
        f"(corrected), and they agree on the direction of {agreeing} of the {len(claims)} "
        "claims."
    )


def test_the_judges_numbers_in_the_docs_come_from_the_tiny_run(project):
    expected = judges_paragraph(project / TINY)
    doc = " ".join((ROOT / "docs" / "judges.md").read_text().split())
    assert expected in doc, f"docs/judges.md should quote the run:\n{expected}"


def simulated_person(results: Path) -> Path:
    """Labels for the tiny run's sample from a deterministic simulated person: agrees with
    the judge at the threshold, except that empty, degenerate, non-text or echoed responses
    are never harmless or helpful to them (the tiny DPO's commas); every seventh item
    unsure; the audit's types marked as the audit marks them, but never refusal."""
    key = pd.read_csv(results / "labels/key.csv", dtype={"id": str})
    audit = pd.read_csv(results / "responses.csv", dtype={"id": str}, keep_default_na=False)
    keys = [k for k in ("protocol", "variant", "seed", "prompt_set", "id", "sample") if k in audit]
    items = key.merge(audit, on=keys, how="left", validate="1:1").sort_values("item")
    tiny = yaml.safe_load((results.parents[1] / "presets/tiny.yaml").read_text())["metrics"]
    cut = {"harmful": tiny["harmless_threshold"], "helpful": tiny["helpful_threshold"]}
    failing = items[["empty", "degenerate", "non_text", "echo"]].astype(bool).any(axis=1)
    passes = items["score"] > items["prompt_set"].map(cut)
    labels = pd.DataFrame({"item": items["item"], "check": items["check"]})
    labels["answer"] = (passes & ~failing).map({True: "yes", False: "no"}).to_numpy()
    labels.loc[labels["item"] % 7 == 0, "answer"] = "unsure"
    for kind in ("empty", "degenerate", "non_text", "echo", "continues_dialogue"):
        labels[kind] = items[kind].astype(int).to_numpy()
    labels["refusal"] = 0
    labels["time"] = "2026-12-04T00:00:00Z"
    path = results / "labels/labels.csv"
    labels.to_csv(path, index=False)
    return path


def test_labels_give_the_judge_against_people_and_corrected_rates(project):
    """make label's sample, labelled by a simulated person, fed back with config labels:
    only the label-dependent rules run; the judge's confusion table, the corrected Table 1
    and the corrected verdicts are written and right; Table 1 is unchanged."""
    results = project / TINY
    table1 = (results / "table1.csv").read_text()
    make("label", project)
    assert (results / "labels/sheet.html").stat().st_size > 1000
    labels = simulated_person(results)
    conf = ("--configfile", "presets/tiny.yaml", "--config", f"labels={labels}")
    plan = run(sys.executable, "-m", "snakemake", "-n", *conf, cwd=project)
    jobs = job_counts(plan.stdout + plan.stderr)[0]
    assert {"judge_labels", "make_claims"} <= set(jobs), jobs
    assert not {"make_tables", "score_responses", "train_sft", "audit_responses"} & set(jobs)
    run(sys.executable, "-m", "snakemake", "--cores", str(CORES), *conf, cwd=project)
    check_labelled_run(results, table1)


def check_labelled_run(results: Path, table1: str) -> None:
    """What a labelled tiny run must hold (the e2e test's checks)."""
    assert (results / "table1.csv").read_text() == table1
    judge = pd.read_csv(results / "labels/judge_vs_people.csv")
    assert set(judge["prompt_set"]) == {"harmful", "helpful"}
    assert (judge["judge_fail_people_yes"] == 0).all()  # the person never passes a fail
    assert judge["judge_pass_people_no"].sum() > 0  # the commas the judge passes
    corrected = pd.read_csv(results / "table1_corrected.csv")
    dpo = corrected[(corrected["model"] == "dpo") & (corrected["metric"] == "HmR")]
    assert (dpo["correction"] < 0).all() and (dpo["estimate"] < dpo["judge"]).all()
    inside = corrected["estimate"].clip(0, 100)  # intervals are clipped to 0-100, estimates not
    assert ((corrected["ci_low"] <= inside) & (inside <= corrected["ci_high"])).all()
    claims = pd.read_csv(results / "claims.csv", keep_default_na=False)
    assert {"corrected_difference", "corrected_verdict", "corrected_note"} <= set(claims)
    changed = claims[claims["corrected_verdict"] != claims["verdict"]]
    assert (changed["corrected_note"] != "").all()
    assert "judge against people" in (results / "tables/labels.html").read_text()
    assert "Accuracy" in (results / "tables/labels.tex").read_text()
