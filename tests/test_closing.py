"""The run's closing lines: Table 1, the claims that hold or are refuted, the flags, and
where the report, PDF and HTML pages are (the run ended without saying where they were)."""

import pandas as pd

from hhalign.closing import closing_summary


def test_the_closing_summary_says_what_holds_and_where_the_results_are(tmp_path):
    assert closing_summary(str(tmp_path)) == ""  # no Table 1: nothing to say
    pd.DataFrame(
        {
            "protocol": ["paper", "paper"],
            "model": ["base", "sft"],
            "HmR": [40.0, 56.0],
            "HpR": [20.0, 52.0],
            "CAS": [30.0, 54.0],
            "run": "Tiny offline world: a note",
        }
    ).to_csv(tmp_path / "table1.csv", index=False)
    pd.DataFrame(
        {
            "protocol": "paper",
            "statement": ["SFT improves HpR over Base", "DPO beats Base", "SFT+DPO is best"],
            "verdict": ["holds", "not separable", "refuted (1 of 3 parts reversed)"],
            "flags": ["", "HpR: dpo - base: carried by failing responses", ""],
        }
    ).to_csv(tmp_path / "claims.csv", index=False)
    (tmp_path / "tables").mkdir()
    (tmp_path / "tables/claims.html").write_text("x")
    text = closing_summary(str(tmp_path))
    assert "Tiny offline world" in text and "sft      HmR  56.0  HpR  52.0  CAS  54.0" in text
    assert "Claims: 1 of 3 hold, 1 flagged" in text
    assert "holds          SFT improves HpR over Base" in text
    assert "DPO beats Base [flagged by the response audit]" in text and "SFT+DPO is best" in text
    assert f"HTML claims table: {tmp_path}/tables/claims.html" in text
    assert "PDF report: not built" in text and "report.zip" not in text
