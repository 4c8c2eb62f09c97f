"""What the response audit finds on the authors' release (``results/audit/``), as the
README's block: each model's rates as judged and with failing responses counted as failures
(the points they carry), and the claims whose strict verdict differs.

``python -m hhalign.release_audit results/audit`` prints the block from a run's
``response_audit.csv`` and ``claims.csv``; a test rebuilds the audit from the authors'
released responses (``tests/data/release_eval``) and checks the README against it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from hhalign.formats import display
from hhalign.metrics import from_rates

MARKERS = ("<!-- release-audit -->", "<!-- /release-audit -->")


def strict_table1(summary: pd.DataFrame) -> pd.DataFrame:
    """Per model: HmR, HpR and CAS as judged and strict (failing responses counted as
    failures), and the share of failing responses per prompt set (``response_audit.csv``
    with its strict columns)."""
    rows = []
    for model, sub in summary.groupby("model", sort=False):
        by_set = sub.set_index("prompt_set")
        row = {"model": model}
        for kind, col in (("judged", "rate"), ("strict", "rate_strict")):
            rates = {s: float(by_set.loc[s, col]) for s in ("harmful", "helpful")}
            row |= {
                f"HmR_{kind}": rates["harmful"],
                f"HpR_{kind}": rates["helpful"],
                f"CAS_{kind}": from_rates("CAS", rates),
            }
        row |= {f"failing_{s}": float(by_set.loc[s, "failing"]) for s in ("harmful", "helpful")}
        rows.append(row)
    return pd.DataFrame(rows)


def markdown(summary: pd.DataFrame, claims: pd.DataFrame) -> str:
    """The README's block: the strict Table 1 and the claims whose verdict changes."""
    table = strict_table1(summary)
    header = ["model", "HmR / HpR / CAS as judged", "with failing responses as failures"]
    header.append("failing (harmful / helpful)")
    lines = ["| " + " | ".join(header) + " |", "| --- | --- | --- | --- |"]
    for _, r in table.iterrows():
        judged = " / ".join(f"{r[f'{m}_judged']:.0f}" for m in ("HmR", "HpR", "CAS"))
        strict = " / ".join(f"{r[f'{m}_strict']:.0f}" for m in ("HmR", "HpR", "CAS"))
        failing = f"{r['failing_harmful']:.0f}% / {r['failing_helpful']:.0f}%"
        lines.append(f"| {display(r['model'])} | {judged} | {strict} | {failing} |")
    changed = claims[claims["strict_verdict"] != claims["verdict"]]
    lines += ["", "Claims whose verdict changes when failing responses count as failures:", ""]
    lines += [
        f"- {r['statement']}: {r['verdict']} as judged, {r['strict_verdict']} strictly"
        for _, r in changed.iterrows()
    ] or ["- none"]
    return "\n".join(lines)


def block(results: str | Path) -> str:
    """``markdown`` of one report directory (``results/audit``)."""
    results = Path(results)
    summary = pd.read_csv(results / "response_audit.csv")
    claims = pd.read_csv(results / "claims.csv", keep_default_na=False, na_values=[""])
    return markdown(summary, claims)


if __name__ == "__main__":
    import sys

    print(block(sys.argv[1]))
