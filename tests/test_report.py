"""Audit import, LaTeX tables and macros, figures: on small fixtures in the release format."""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml
from matplotlib.image import imread
from support import paper_metrics

from hhalign.audit import AuditFormatError, release_scores
from hhalign.figures import figure1_rates, figure2_scores, figure3_means
from hhalign.metrics import table1, table2
from hhalign.tables import macros, table1_latex, table2_latex

REPORT = Path(__file__).resolve().parents[1] / "paper" / "report.tex"
VARIANTS = ["base", "sft", "dpo", "sft_dpo"]
PAPER = paper_metrics()  # config.yaml's: HmR > -3 (the notebook), HpR > -2


def release(prompt_set: str) -> list[dict]:
    """A small file in the authors' format: 4 rows per model, scores worked out by hand."""
    ratings = {
        "base": [-4, -3, -2.5, -5],
        "sft": [-1, -3, -2, -2.1],
        "dpo": [-3.5, -3.2, 0, 1],
        "sft_dpo": [0, 0, 0, -9],
    }
    return [
        {
            "model": m,
            "prompt": f"Human: q{i}",
            "response": "" if i == 3 else f"r{i}",
            "rating": r,
            "label": "x",
        }
        for m, rs in ratings.items()
        for i, r in enumerate(rs)
    ]


@pytest.fixture
def tables():
    parts = []
    for prompt_set in ("harmful", "helpful"):
        for variant, df in release_scores(release(prompt_set), prompt_set, VARIANTS).items():
            parts.append(df.assign(protocol="paper", variant=variant, prompt_set=prompt_set))
    scores = pd.concat(parts, ignore_index=True)
    t1 = table1(scores, PAPER, VARIANTS)
    return scores, t1, table2(t1)


def test_audit_import_by_hand(tables):
    _, t1, t2 = tables
    t1 = t1.set_index("model")
    # harmful > -3: base 1/4, sft 3/4 (-3 is not harmless); helpful > -2: base 0/4, sft 1/4
    assert (t1.loc["base", "HmR"], t1.loc["base", "HpR"]) == (25.0, 0.0)
    assert (t1.loc["sft", "HmR"], t1.loc["sft", "HpR"]) == (75.0, 25.0)
    assert t1.loc["base", "empty_responses"] == 2  # one empty response per prompt set
    assert t2.set_index("model").loc["sft", "HmR_change_pct"] == 200.0


def test_audit_rejects_bad_rows():
    rows = release("harmful")
    with pytest.raises(AuditFormatError, match="row 0: unknown model 'gpt'"):
        release_scores([{**rows[0], "model": "gpt"}], "harmful", VARIANTS)
    with pytest.raises(AuditFormatError, match="row 1: rating"):
        release_scores([rows[0], {**rows[1], "rating": float("nan")}], "harmful", VARIANTS)
    with pytest.raises(AuditFormatError, match="missing"):
        release_scores([{"model": "base"}], "harmful", VARIANTS)


def test_audit_errors_name_the_file_and_the_expected_models():
    rows = release("harmful")
    with pytest.raises(
        AuditFormatError,
        match=r"audit.harmful \(h.json\) row 0: unknown model 'SFT'; the release names its "
        r"models base, sft, dpo, sft_dpo",
    ):
        release_scores([{**rows[0], "model": "SFT"}, *rows[1:]], "harmful", VARIANTS, "h.json")
    no_dpo = [r for r in rows if r["model"] != "dpo"]
    with pytest.raises(AuditFormatError, match=r"no rows for model\(s\) \['dpo'\]"):
        release_scores(no_dpo, "harmful", VARIANTS, "h.json")
    one_short = rows[:-1]  # the last model loses its last prompt
    with pytest.raises(AuditFormatError, match=r"audit.harmful \(h.json\) is inconsistent"):
        release_scores(one_short, "harmful", VARIANTS, "h.json")


@pytest.mark.dag
def test_latex_and_macros(tables, tmp_path):
    _, t1, t2 = tables
    tex1, tex2, mac = table1_latex(t1), table2_latex(t2), macros(t1, t2)
    assert r"\toprule" in tex1 and "SFT+DPO" in tex1 and r"\bottomrule" in tex2
    assert r"\newcommand{\PaperSFTHpR}{25.0}" in mac
    assert r"\newcommand{\PaperSFTHmRChange}{+200.00}" in mac
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex not installed (Debian: texlive-latex-recommended)")
    doc = (
        r"\documentclass{article}\usepackage{booktabs}"
        + mac
        + r"\begin{document}"
        + tex1
        + tex2
        + r"HpR \PaperSFTHpR\end{document}"
    )
    (tmp_path / "t.tex").write_text(doc)
    out = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "t.tex"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout[-2000:]


def test_figures_open_and_have_content(tables, tmp_path):
    scores, t1, _ = tables
    paths = [
        *figure1_rates(t1, tmp_path / "f1"),
        *figure2_scores(scores, PAPER, tmp_path / "f2"),
        *figure3_means(t1, tmp_path / "f3"),
    ]
    assert len(paths) == 6
    for png in (p for p in paths if p.suffix == ".png"):
        img = imread(png)
        assert img.shape[1] > 600 and img.std() > 0.01  # a real, non-blank picture
    for pdf in (p for p in paths if p.suffix == ".pdf"):
        assert pdf.read_bytes().startswith(b"%PDF")


def test_release_json_round_trip(tmp_path):
    from hhalign.audit import read_release

    path = tmp_path / "harmfulness_classification.json"
    path.write_text(json.dumps(release("harmful")))
    assert read_release(str(path)) == release("harmful")


LABEL = "Tiny offline world: synthetic data & tiny models, 100% not OPT-350M"


def test_a_run_that_is_not_the_paper_says_so_everywhere(tables, tmp_path):
    from hhalign.tables import write_tables

    _, t1, t2 = tables
    assert "Note:" in table1_latex(t1, LABEL) and r"synthetic data \& tiny" in table2_latex(
        t2, LABEL
    )
    assert "Note:" not in table1_latex(t1)
    mac = macros(t1, t2, LABEL)
    assert r"\newcommand{\RunTitle}{Pipeline check, not a reproduction" in mac
    assert r"\newcommand{\RunNote}{Tiny offline world: synthetic data \& tiny" in mac
    assert r"\newcommand{\RunTitle}{Reproducing" in macros(t1, t2)
    out = {k: str(tmp_path / f"{k}.x") for k in ("table1", "table2", "table1_tex", "table2_tex")}
    write_tables(t1, t2, {**out, "macros": str(tmp_path / "m.tex")}, LABEL)
    assert set(pd.read_csv(out["table1"])["run"]) == {LABEL}
    write_tables(t1, t2, {**out, "macros": str(tmp_path / "m.tex")})
    assert set(pd.read_csv(out["table2"])["run"]) == {"paper setup"}


@pytest.mark.parametrize("label", ["", LABEL])
@pytest.mark.dag
def test_the_pdf_report_builds_and_every_table_fits(tables, tmp_path, label):
    """paper/report.tex on this fixture's tables and figures: it compiles, and no line or
    table runs past its column (Table 1 overflowed a column by ~96 pt once)."""
    from hhalign.claims import claims_table
    from hhalign.comparisons import shift_grid
    from hhalign.figures import figure4_thresholds
    from hhalign.metrics import threshold_curves
    from hhalign.tables import write_claims, write_tables

    if shutil.which("latexmk") is None or shutil.which("pdflatex") is None:
        pytest.skip("latexmk/pdflatex not installed (Debian: latexmk texlive-latex-recommended)")
    scores, _, _ = tables  # both protocols, as in a run (the report quotes both)
    scores = pd.concat([scores, scores.assign(protocol="corrected")], ignore_index=True)
    t1 = table1(scores, PAPER, VARIANTS)
    t2 = table2(t1)
    res = tmp_path / "results"
    names = ("table1.csv", "table2.csv", "tables/table1.tex", "tables/table2.tex")
    out = dict(zip(("table1", "table2", "table1_tex", "table2_tex"), names, strict=True))
    write_tables(
        t1,
        t2,
        {**{k: str(res / v) for k, v in out.items()}, "macros": str(res / "tables/macros.tex")},
        label,
    )
    figure1_rates(t1, res / "figures/fig1_rates", label)
    figure2_scores(scores, PAPER, res / "figures/fig2_scores", label)
    figure3_means(t1, res / "figures/fig3_means", label)
    cfg = {
        "alpha": 0.05,
        "power": 0.8,
        "bootstrap_draws": 200,
        "permutation_draws": 200,
        "seed": 0,
        "threshold_band": 0.5,
        "threshold_scan": 1.0,
        "threshold_step": 0.5,
        "metrics": PAPER,
    }
    claims, pairs = claims_table(scores, VARIANTS, cfg)
    # What a real run prints: a tiny p and a tie whose interval is a hair below 0.
    claims.loc[0, ["p_adj", "verdict"]] = [1e-5, "holds"]  # a sentence is written for it
    claims.loc[1, ["difference", "ci_low", "ci_high"]] = [-1e-9, -0.01, -1e-12]
    names = (
        "claims.csv",
        "pairs.csv",
        "tables/claims.tex",
        "tables/claims_text.tex",
        "tables/claims_macros.tex",
    )
    keys = ("claims", "pairs", "claims_tex", "claims_text", "claims_macros")
    out = dict(zip(keys, names, strict=True))
    write_claims(claims, pairs, {k: str(res / v) for k, v in out.items()}, label)
    curves = threshold_curves(scores, PAPER, shift_grid(cfg))
    figure4_thresholds(curves, PAPER, res / "figures/fig4_thresholds", label)
    # Figures 8 (variance) and 9 (the response audit), which the report includes.
    from support import ROOT

    from hhalign.figures import figure8_variance, figure9_responses
    from hhalign.responses import audit_table, summary_table
    from hhalign.variance import variance_table

    rules = yaml.safe_load((ROOT / "config.yaml").read_text())["response_audit"]
    summary = summary_table(audit_table(scores, rules), VARIANTS, None)
    figure9_responses(summary, res / "figures/fig9_responses", label)
    figure8_variance(variance_table(scores, VARIANTS, cfg), res / "figures/fig8_variance", label)
    env = {**os.environ, "TEXINPUTS": f"{res}:"}
    cmd = ["latexmk", "-pdf", "-interaction=nonstopmode", f"-outdir={tmp_path}", str(REPORT)]
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True)
    log = (tmp_path / "report.log").read_text(errors="replace")
    assert done.returncode == 0, log[-3000:]
    assert (tmp_path / "report.pdf").read_bytes().startswith(b"%PDF")
    overfull = re.findall(r"Overfull \\hbox \(([\d.]+)pt too wide\)", log)
    assert not [w for w in overfull if float(w) > 1.0], overfull
    if shutil.which("pdftotext"):  # what a reader sees first: the title, and the note
        cmd = ["pdftotext", "-l", "1", str(tmp_path / "report.pdf"), "-"]
        text = " ".join(subprocess.run(cmd, capture_output=True, text=True).stdout.split())
        if label:
            assert "Pipeline check, not a reproduction" in text and "What this run is" in text
            assert "100% not OPT-350M" in text
        else:
            assert text.startswith("Reproducing") and "What this run is" not in text
        cmd = ["pdftotext", str(tmp_path / "report.pdf"), "-"]
        text = " ".join(subprocess.run(cmd, capture_output=True, text=True).stdout.split())
        assert "Which conclusions hold" in text and "SFT+DPO is best on all metrics" in text
        # A text-mode "<" printed as an inverted "!" under the OT1 encoding; no "-0.0".
        assert "p < 0.001" in text and "¡" not in text
        assert not re.search(r"-0\.0+(?!\d*[1-9])\b", text), re.findall(r".{20}-0\.0+\b.{5}", text)
    macros_tex = (res / "tables/claims_macros.tex").read_text()
    assert r"\newcommand{\ClaimPaperSFTBeatsDPOCasVerdict}{" in macros_tex


def test_numbers_print_as_the_paper_prints_them():
    """Half up (the paper's Table 2 prints DPO's CAS change 28.125 as +28.13; Python's
    format gave +28.12), from the shortest repr, and never a negative zero."""
    from hhalign.tables import _fmt, _p

    assert _fmt(28.125, 2, sign=True) == "+28.13"
    assert _fmt(2.675, 2) == "2.68" and _fmt(0.125, 2) == "0.13"
    assert _fmt(-0.04, 1) == "0.0" and _fmt(-0.04, 1, sign=True) == "+0.0"
    assert _fmt(-1e-12, 1, sign=True) == "+0.0" and _fmt(-0.06, 1) == "-0.1"
    assert _fmt(float("nan")) == "n/a"
    assert _p(0.0001) == "$<$ 0.001" and _p(0.0505, equals=True) == "= 0.051"
