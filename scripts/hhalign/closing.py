"""What a run prints when it ends (``onsuccess`` in the Snakefile): Table 1's rows, the
claims that hold or are refuted, the claims the response audit flags, and where the report,
the PDF, the HTML pages and the release check are. It reads what the run wrote, and says
nothing of a file that is not there."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

# Where the closing lines point, relative to results_dir: (what, path).
WHERE = [
    ("Tables 1-2", "table1.csv"),
    ("claims", "claims.csv"),
    ("HTML claims table", "tables/claims.html"),
    ("transcripts (HTML, one page per model and prompt set)", "transcripts"),
    ("PDF report", "paper/report.pdf"),
    ("HTML report (unzip, open report/report.html)", "report.zip"),
    ("release check", "release_check/summary.md"),
    ("figures", "figures"),
]


def table1_lines(t1: pd.DataFrame) -> list[str]:
    """Table 1's main rows (the across-seed summary where there are seeds), one a line."""
    if "seed" in t1:
        several = t1.groupby(["protocol", "model"])["seed"].transform("size") > 1
        t1 = t1[~several | (t1["seed"].astype(str) == "all")]
    return [
        f"  {r['protocol']:<10} {r['model']:<8} HmR {r['HmR']:5.1f}  HpR {r['HpR']:5.1f}  "
        f"CAS {r['CAS']:5.1f}"
        for _, r in t1.iterrows()
    ]


def claim_lines(claims: pd.DataFrame) -> list[str]:
    """The claims that hold or are refuted, and every flagged claim, one a line."""
    flags = claims.get("flags", pd.Series("", index=claims.index)).fillna("")
    decided = claims["verdict"].str.startswith(("holds", "refuted", "reversed"))
    lines = []
    for (_, r), flag in zip(claims.iterrows(), flags, strict=True):
        if decided[r.name] or flag:
            mark = " [flagged by the response audit]" if flag else ""
            lines.append(f"  {r['protocol']:<10} {r['verdict']:<14} {r['statement']}{mark}")
    return lines or ["  none (every claim is not separable on this run)"]


def closing_summary(results: str) -> str:
    """The closing lines of a run that wrote ``results`` (empty when it wrote no Table 1)."""
    root = Path(results)
    if not (root / "table1.csv").is_file():
        return ""
    t1 = pd.read_csv(root / "table1.csv")
    lines = [f"Results of this run ({results}):"]
    if "run" in t1 and len(t1):
        lines.append(f"  {t1['run'].iloc[0]}")
    lines += ["Table 1:", *table1_lines(t1)]
    if (root / "claims.csv").is_file():
        claims = pd.read_csv(root / "claims.csv", keep_default_na=False)
        n = len(claims)
        held = int(claims["verdict"].str.startswith("holds").sum())
        flagged = int((claims.get("flags", pd.Series(dtype=str)) != "").sum())
        lines.append(f"Claims: {held} of {n} hold, {flagged} flagged by the response audit:")
        lines += claim_lines(claims)
    lines.append("Where:")
    lines += [f"  {what}: {root / path}" for what, path in WHERE if (root / path).exists()]
    if not (root / "paper/report.pdf").exists():
        lines.append(f"  PDF report: not built (snakemake {root}/paper/report.pdf; needs TeX Live)")
    return "\n".join(lines)
