"""Every claim judged a third way: on judge-corrected rates (``hhalign.corrected``) where a
reviewer's labels exist (config ``labels``).

A rate part of a claim (HmR, HpR, CAS: metric, A, B) takes its corrected paired difference
(percentage points, the first seed's, prediction-powered 95% interval) and a normal p value
from it, adjusted by the same factor as the judged comparison's (its ``p_adj`` over ``p``:
the same Holm family); its direction is the corrected interval's side of zero where that p is
below alpha, else not separable. Parts on other metrics (mean scores, win rates) have no
people's counterpart and keep their judged direction. The parts combine as the judged verdict
does (``claims.judge_claim``): a reversed part refutes, all parts holding hold, else not
separable. Without labels nothing here runs and claims.csv is unchanged.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from hhalign.claims import Part, claim_parts, part_directions, part_label, stable_range
from hhalign.comparisons import signed
from hhalign.metrics import RATES


def corrected_row(corrected: pd.DataFrame, protocol: str, part: Part) -> dict | None:
    """The corrected difference A - B of a rate part (None for other metrics or without
    labels on both models), with its interval and se."""
    metric, a, b = part
    if metric not in RATES:
        return None
    sub = corrected[(corrected["protocol"] == protocol) & (corrected["metric"] == metric)]
    sub = sub[sub["seed"] == sub["seed"].min()]
    hit = sub[(sub["a"] == a) & (sub["b"] == b)]
    sign = 1.0
    if not len(hit):
        hit, sign = sub[(sub["a"] == b) & (sub["b"] == a)], -1.0
    if not len(hit) or not np.isfinite(hit["estimate"].iloc[0]):
        return None
    r = hit.iloc[0]
    lo, hi = sorted((sign * r["ci_low"], sign * r["ci_high"]))
    se = (r["ci_high"] - r["ci_low"]) / (2 * 1.959963984540054)
    return {"difference": sign * r["estimate"] + 0.0, "ci_low": lo, "ci_high": hi, "se": se}


def corrected_direction(judged: dict, fixed: dict, alpha: float) -> int:
    """A rate part's direction on its corrected difference, with the judged comparison's
    adjustment factor applied to its p value."""
    diff, se = fixed["difference"], fixed["se"]
    p = float(2 * stats.norm.sf(abs(diff / se))) if se > 0 else float(diff == 0)
    factor = judged["p_adj"] / judged["p"] if judged["p"] > 0 else 1.0
    if min(1.0, p * factor) >= alpha:
        return 0
    return 1 if fixed["ci_low"] > 0 else -1 if fixed["ci_high"] < 0 else 0


def verdict_of(dirs: list[int]) -> str:
    """The verdict of parts' directions, as ``claims.judge_claim`` combines them."""
    if -1 in dirs:
        n = sum(d == -1 for d in dirs)
        return "reversed" if len(dirs) == 1 else f"refuted ({n} of {len(dirs)} parts reversed)"
    return "holds" if all(d == 1 for d in dirs) else "not separable"


def corrected_columns(
    claims: pd.DataFrame,
    pairs: pd.DataFrame,
    shifts: dict,
    corrected: pd.DataFrame,
    variants: list[str],
    cfg: dict,
) -> pd.DataFrame:
    """``claims`` with ``corrected_difference``, ``corrected_ci_low``, ``corrected_ci_high``
    (the comparison the claim shows, judge-corrected; NaN for a metric people do not
    label), ``corrected_verdict`` and ``corrected_note`` (a sentence where it differs from
    the judged verdict). ``shifts``: protocol -> the judged threshold shifts
    (``comparisons.rate_differences``)."""
    parts_of = {claim_id: parts for claim_id, _, parts in claim_parts(variants)}
    out = []
    for _, r in claims.iterrows():
        protocol, parts = r["protocol"], parts_of[r["claim"]]
        table = pairs[pairs["protocol"] == protocol]
        rows = [signed(table, *q) for q in parts]
        ranges = {q: stable_range(q, shifts[protocol]) for q in parts}
        dirs = part_directions(parts, rows, ranges, cfg)
        for i, q in enumerate(parts):
            fixed = corrected_row(corrected, protocol, q)
            if fixed is not None:
                dirs[i] = corrected_direction(rows[i], fixed, cfg["alpha"])
        verdict = verdict_of(dirs)
        metric, pair = r["comparison"].split(": ")
        shown = corrected_row(corrected, protocol, (metric, *pair.split(" - "))) or {}
        note = ""
        if verdict != r["verdict"]:
            fixed_parts = [part_label(q) for q in parts if q[0] in RATES]
            note = (
                f"with the judge's errors corrected by the reviewer's labels "
                f"({', '.join(fixed_parts) or 'no rate part'}) the claim "
                f"{'holds' if verdict == 'holds' else 'is ' + verdict} "
                f"(as judged: {r['verdict']})"
            )
        out.append(
            {
                "corrected_difference": shown.get("difference", np.nan),
                "corrected_ci_low": shown.get("ci_low", np.nan),
                "corrected_ci_high": shown.get("ci_high", np.nan),
                "corrected_verdict": verdict,
                "corrected_note": note,
            }
        )
    return pd.concat([claims.reset_index(drop=True), pd.DataFrame(out)], axis=1)
