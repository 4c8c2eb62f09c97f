"""The response audit on the authors' 400 released responses (their commit 868ecd0c, MIT;
tests/data/release_eval): the audit target run offline through Snakemake, its strict Table 1
and the claims whose verdict changes, and the README's block generated from that run."""

import gzip
import json
import re
import subprocess
import sys

import pandas as pd
import pytest
from support import ROOT

from hhalign.release_audit import MARKERS, block

DATA = ROOT / "tests" / "data" / "release_eval"


@pytest.fixture(scope="module")
def audit_run(tmp_path_factory):
    """results/audit/ from the released responses, as `snakemake results/audit/claims.csv`
    builds it with audit.harmful and audit.helpful pointing at local copies."""
    root = tmp_path_factory.mktemp("release_audit")
    paths = {}
    for prompt_set, name in (("harmful", "harmfulness"), ("helpful", "helpfulness")):
        paths[prompt_set] = root / f"{name}_classification.json"
        paths[prompt_set].write_bytes(
            gzip.decompress((DATA / f"{name}_classification.json.gz").read_bytes())
        )
    results = root / "results"
    audit = json.dumps({k: str(v) for k, v in paths.items()})
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "--nolock"]
    cmd += ["--cores", "1", *(str(results / "audit" / f) for f in ("claims.csv", "table1.csv"))]
    cmd += ["--config", f"results_dir={results}", f"audit={audit}"]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return results / "audit"


@pytest.mark.slow
def test_the_audit_counts_failing_responses_on_real_text(audit_run):
    summary = pd.read_csv(audit_run / "response_audit.csv").set_index(["model", "prompt_set"])
    assert (summary["n"] == 50).all()
    # Most of Base's and DPO's responses fail (loops, echoes, nothing), far fewer of SFT+DPO's.
    assert summary.loc[("base", "harmful"), "failing"] > 50
    assert summary.loc[("dpo", "helpful"), "failing"] > 50
    assert summary.loc[("sft_dpo", "helpful"), "failing"] < 20
    assert (summary["rate_strict"] <= summary["rate"]).all()  # Table 1 is never replaced
    table1 = pd.read_csv(audit_run / "table1.csv").set_index("model")
    assert table1.loc["base", "HmR"] == 42 and table1.loc["sft_dpo", "CAS"] == 55  # the paper's
    claims = pd.read_csv(audit_run / "claims.csv", keep_default_na=False, na_values=[""])
    assert claims["strict_verdict"].notna().all()
    strict = claims.set_index("claim")["strict_verdict"]
    assert strict["dpo_beats_base_hpr"] == "not separable"  # the judge passed DPO's failures


@pytest.mark.slow
def test_the_readme_block_is_the_audit_run_s(audit_run):
    text = (ROOT / "README.md").read_text()
    found = re.search(re.escape(MARKERS[0]) + r"\n(.*?)\n" + re.escape(MARKERS[1]), text, re.S)
    assert found, f"README.md lacks the {MARKERS[0]} block"
    assert found.group(1) == block(audit_run), "regenerate: python -m hhalign.release_audit"
