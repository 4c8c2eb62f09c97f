"""Every claim judged a second time with failing responses counted as failures, and the
flags that say whether the failing responses carry a verdict.

A response the audit calls failing (``responses.FAILING``: empty, degenerate, non-text,
echo, ...) fails every rate, loses to the chosen answer, and scores as the worst response
of its prompt set for a mean score. The claims are then judged on those arrays exactly as
on the judge's own (same tests, same adjustment, same threshold band), giving each claim's
``strict_verdict`` and, for the comparison it shows, ``strict_difference`` with its
interval. A claim is flagged when, for one of its parts, the strict verdict (the part's
direction) differs from the judged one, the sign of its difference reverses, or the points the
failing responses carry (judged minus strict difference, towards the judged winner) exceed
half of its difference: a flag is never just a share of failing responses, and never fires
where failing responses count against the side that wins.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hhalign.claims import (
    Part,
    claim_parts,
    claimed,
    part_directions,
    part_label,
    stable_range,
    verdict_of,
)
from hhalign.comparisons import adjust, pairs_table, rate_differences, shift_grid, signed
from hhalign.metrics import METRICS, RATES, thresholds
from hhalign.paired import FAILED, score_arrays, with_chosen
from hhalign.responses import failing_types

WORDS = {1: "holds", -1: "is reversed", 0: "is not separable"}


KEYS = ("protocol", "variant", "seed", "prompt_set", "id", "sample")


def normal_keys(frame: pd.DataFrame) -> pd.DataFrame:
    """Join keys in one type on both sides: seeds and samples as integers (a CSV round trip
    can read them as text where a column has gaps), everything else as text."""
    out = frame.copy()
    for key in out:
        if key in ("seed", "sample"):
            out[key] = pd.to_numeric(out[key], errors="coerce").fillna(-1).astype(int)
        else:
            out[key] = out[key].astype(str)
    return out


def failing_rows(
    scores: pd.DataFrame, responses: str, continues: dict[str, bool] | None = None
) -> pd.Series:
    """Per row of ``scores``: whether the audit (rule audit_responses' ``responses`` file)
    counts its response as failing in its protocol (``responses.failing_types``;
    ``continues``: protocol -> whether continuing the dialogue fails there). Every scored
    response must have its audit row: a missing or extra one stops, naming the file and the
    fix."""
    audited = pd.read_csv(responses, dtype={"id": str}, keep_default_na=False, na_values=[""])
    keys = [k for k in KEYS if k in scores and k in audited]
    failed = pd.Series(False, index=audited.index)
    for protocol, rows in audited.groupby("protocol").groups.items():
        kinds = failing_types({"failing_continues": (continues or {}).get(protocol, False)})
        failed[rows] = audited.loc[rows, list(kinds)].astype(bool).any(axis=1)
    audited = audited.assign(_failing=failed)
    left = normal_keys(scores[keys]).reset_index()
    right = normal_keys(audited[keys]).assign(_failing=audited["_failing"])
    joined = left.merge(right, on=keys, how="left", validate="1:1")
    if joined["_failing"].isna().any() or len(audited) != len(scores):
        raise ValueError(
            f"{responses}: its {len(audited)} audited responses do not match the "
            f"{len(scores)} scored ones. Fix: snakemake --forcerun audit_responses <target>"
        )
    return joined.set_index("index")["_failing"].astype(bool).reindex(scores.index)


def strict_arrays(arrays: dict, failing: dict) -> dict:
    """``arrays`` with each failing response marked (``FAILED``) and its score set to the
    lowest score of its prompt set (chosen answers included), so that it fails every rate,
    loses every win and counts as the worst response in a mean."""
    floors: dict[str, float] = {}
    for (_, prompt_set), x in arrays.items():
        floors[prompt_set] = min(floors.get(prompt_set, np.inf), float(np.min(x)))
    out = dict(arrays)
    for key, mask in failing.items():
        if key in arrays:
            mask = mask > 0.5
            out[key] = np.where(mask, floors[key[1]], arrays[key])
            out[(*key, FAILED)] = mask
    return out


def strict_tables(
    scores: pd.DataFrame,
    failing: pd.Series,
    variants: list[str],
    cfg: dict,
    experiments: list[str] | None = None,
    chosen: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, dict, dict, dict]:
    """(strict pairs, judged shifts, strict shifts, failing counts) of every protocol.

    ``failing``: per row of ``scores``, whether the audit counts the response as failing.
    The strict comparisons draw from their own random streams (the judged ones keep theirs).
    Failing counts: (protocol, variant, prompt set) -> failing responses (Base once)."""
    cfg = {"family": "metric", **cfg}
    limits, grid = thresholds(cfg["metrics"]), shift_grid(cfg)
    protocols = list(scores["protocol"].unique())
    streams = np.random.SeedSequence([cfg["seed"], 7]).spawn(len(protocols))
    tables, judged, strict, counts = {}, {}, {}, {}
    for protocol, stream in zip(protocols, streams, strict=True):
        sub = scores[scores["protocol"] == protocol]
        arrays = with_chosen(sub, chosen, variants)
        marks = score_arrays(sub.assign(score=failing.loc[sub.index].astype(float)), variants)
        hard = strict_arrays(arrays, marks)
        tables[protocol] = pairs_table(hard, variants, cfg, limits, stream)
        judged[protocol] = rate_differences(arrays, variants, cfg["metrics"], grid)
        strict[protocol] = rate_differences(hard, variants, cfg["metrics"], grid)
        for (variant, prompt_set), mask in marks.items():
            one = mask[:1] if variant == "base" else mask  # Base is one run
            counts[(protocol, variant, prompt_set)] = int(one.sum())
    pairs = pd.concat([t.assign(protocol=p) for p, t in tables.items()], ignore_index=True)
    pairs = adjust(pairs, cfg, set(experiments or []), claimed(variants))
    return pairs, judged, strict, counts


def part_flag(
    part: Part, judged: tuple[dict, int], strict: tuple[dict, int], n_failing: int
) -> str:
    """Why a part is flagged ("" when it is not): its strict direction or sign differs from
    the judged one, or the failing responses carry over half of its judged difference."""
    (row, d_judged), (hard, d_strict) = judged, strict
    diff, strict_diff = row["difference"], hard["difference"]
    carried = np.sign(diff) * (diff - strict_diff)
    reversed_sign = np.sign(diff) * np.sign(strict_diff) < 0  # a tie has no sign to lose
    if d_judged == d_strict and not reversed_sign and not carried > abs(diff) / 2:
        return ""
    digits = 1 if part[0] in RATES else 2
    return (
        f"{part_label(part)} {WORDS[d_judged]} as judged ({diff:+.{digits}f}); with the "
        f"{n_failing} failing responses counted as failures it {WORDS[d_strict]} "
        f"({strict_diff:+.{digits}f})"
    )


def n_failing(part: Part, protocol: str, counts: dict) -> int:
    """The failing responses of a part's two models on the prompt sets its metric reads."""
    metric, a, b = part
    return sum(counts.get((protocol, v, s), 0) for v in (a, b) for s in METRICS[metric].weights)


def strict_columns(
    claims: pd.DataFrame,
    pairs: pd.DataFrame,
    tables: tuple[pd.DataFrame, dict, dict, dict],
    variants: list[str],
    cfg: dict,
) -> pd.DataFrame:
    """``claims`` with ``strict_difference``, ``strict_ci_low``, ``strict_ci_high`` (the
    comparison the claim shows, judged strictly), ``strict_verdict`` (the claim judged on
    the strict comparisons) and ``flags`` (``part_flag`` of every part, joined)."""
    strict_pairs, judged_shifts, strict_shifts, counts = tables
    parts_of = {claim_id: parts for claim_id, _, parts in claim_parts(variants)}
    out = []
    for _, r in claims.iterrows():
        protocol, parts = r["protocol"], parts_of[r["claim"]]
        table = pairs[pairs["protocol"] == protocol]
        hard = strict_pairs[strict_pairs["protocol"] == protocol]
        verdict, _, _ = verdict_of(r["claim"], parts, hard, strict_shifts[protocol], cfg)
        metric, pair = r["comparison"].split(": ")
        shown = signed(hard, metric, *pair.split(" - "))
        rows = [signed(table, *part) for part in parts]
        strict_rows = [signed(hard, *part) for part in parts]
        dirs = part_directions(
            parts, rows, {q: stable_range(q, judged_shifts[protocol]) for q in parts}, cfg
        )
        strict_dirs = part_directions(
            parts, strict_rows, {q: stable_range(q, strict_shifts[protocol]) for q in parts}, cfg
        )
        flags = [
            part_flag(q, (j, dj), (s, ds), n_failing(q, protocol, counts))
            for q, j, dj, s, ds in zip(parts, rows, dirs, strict_rows, strict_dirs, strict=True)
        ]
        out.append(
            {
                "strict_difference": shown["difference"],
                "strict_ci_low": shown["ci_low"],
                "strict_ci_high": shown["ci_high"],
                "strict_verdict": verdict,
                "flags": "; ".join(f for f in flags if f),
            }
        )
    return pd.concat([claims.reset_index(drop=True), pd.DataFrame(out)], axis=1)
