"""The whole DAG on the tiny preset, offline: deliverables, alignment, and an idle rerun."""

import pandas as pd
import pytest
from test_workflow import snakemake

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    results = tmp_path_factory.mktemp("tiny") / "results"
    args = [
        "--cores",
        "2",
        "--configfile",
        "presets/tiny.yaml",
        "--config",
        f"results_dir={results}",
    ]
    out = snakemake(*args)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-4000:]
    return results, args


def test_deliverables_exist(tiny_run):
    results, _ = tiny_run
    for name in [
        "table1.csv",
        "table2.csv",
        "tables/table1.tex",
        "tables/table2.tex",
        "tables/macros.tex",
    ]:
        assert (results / name).stat().st_size > 0, name
    for fig in ["fig1_rates", "fig2_scores", "fig3_means"]:
        assert (results / "figures" / f"{fig}.png").is_file()
        assert (results / "figures" / f"{fig}.pdf").is_file()
    t1 = pd.read_csv(results / "table1.csv")
    assert len(t1) == 8 and set(t1["protocol"]) == {"paper", "corrected"}
    assert (t1["n_harmful"] == 50).all() and (t1["n_helpful"] == 50).all()


def test_alignment_happens(tiny_run):
    """SFT and SFT+DPO beat Base on CAS under both protocols (judge: the tiny reward model)."""
    t1 = pd.read_csv(tiny_run[0] / "table1.csv").set_index(["protocol", "model"])
    for protocol in ("paper", "corrected"):
        base = t1.loc[(protocol, "base"), "CAS"]
        assert t1.loc[(protocol, "sft"), "CAS"] > base
        assert t1.loc[(protocol, "sft_dpo"), "CAS"] > base


def test_second_run_does_nothing(tiny_run):
    _, args = tiny_run
    out = snakemake("-n", *args)
    assert out.returncode == 0
    assert "Nothing to be done" in out.stdout + out.stderr
