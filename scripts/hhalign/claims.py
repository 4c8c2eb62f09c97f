"""Which of the paper's conclusions survive: every pair of models compared on the same
prompts, and the paper's claims judged from those comparisons.

The comparisons themselves (differences, intervals, tests, adjustment, the MDD and the
sample-size row) are ``hhalign.comparisons``'; the arrays they read, ``hhalign.paired``'s.

A claim is one or more comparisons "A beats B on metric". Its verdict is ``holds`` when
every comparison has an adjusted p below alpha, an interval that excludes 0 in the claimed
direction, every seed's difference of that sign, and (for a rate) a point difference of the
same sign at every threshold of the band, judged for each comparison on its own;
``reversed`` when any comparison does all that in the other direction; ``not separable``
otherwise. With one training seed a verdict speaks of these checkpoints; with several seeds
that all agree, of the method (``scope``).

Each comparison draws from its own random stream (``SeedSequence.spawn`` from the
configured seed, in a fixed order): Monte-Carlo errors are independent across a family,
and the same inputs still give the same bytes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hhalign.comparisons import (
    SIZING_COLUMNS,
    adjust,
    pairs_table,
    rate_differences,
    shift_grid,
    signed,
    sizing_row,
    with_mdd,
)
from hhalign.metrics import RATES, thresholds
from hhalign.paired import response_lengths, with_chosen

# The paper's Table 1 (HmR, HpR, CAS), for the claims table's "paper" column.
PAPER_TABLE1 = {
    "base": (42, 22, 32),
    "sft": (48, 56, 52),
    "dpo": (36, 46, 41),
    "sft_dpo": (44, 66, 55),
}


# The paper's mean scores (harmful, helpful): the means of the authors' released ratings.
PAPER_MEANS = {
    "base": (-3.60, -2.89),
    "sft": (-3.52, -1.32),
    "dpo": (-3.58, -2.35),
    "sft_dpo": (-3.68, -1.15),
}


TRAINED = ("sft", "dpo", "sft_dpo")


# (id, statement, [(metric, A, B): "A beats B on metric"]) as the paper states them.
CLAIMS = [
    ("sft_beats_dpo_cas", "SFT beats DPO (CAS)", [("CAS", "sft", "dpo")]),
    (
        "sft_dpo_highest_hpr",
        "SFT+DPO has the highest HpR",
        [("HpR", "sft_dpo", m) for m in ("base", "sft", "dpo")],
    ),
    (
        "sft_dpo_highest_cas",
        "SFT+DPO has the highest CAS",
        [("CAS", "sft_dpo", m) for m in ("base", "sft", "dpo")],
    ),
    (
        "sft_dpo_best_all",
        "SFT+DPO is best on all metrics",
        [(k, "sft_dpo", m) for k in RATES for m in ("base", "sft", "dpo")],
    ),
    ("dpo_lowers_hmr", "DPO lowers HmR below Base", [("HmR", "base", "dpo")]),
    (
        "trained_beat_base_hpr",
        "Every trained model beats Base on HpR",
        [("HpR", m, "base") for m in TRAINED],
    ),
    ("sft_improves_hmr", "SFT improves HmR over Base", [("HmR", "sft", "base")]),
    ("dpo_beats_base_hpr", "DPO beats Base on HpR", [("HpR", "dpo", "base")]),
    (
        "base_worst_cas",
        "Base performs the worst overall (CAS)",
        [("CAS", m, "base") for m in TRAINED],
    ),
    (
        "base_lowest_means",
        "Base has the lowest mean score on both prompt sets",
        [(k, m, "base") for k in ("mean_harmful", "mean_helpful") for m in TRAINED],
    ),
    (
        "sft_dpo_highest_helpful_mean",
        "SFT+DPO has the highest helpfulness mean",
        [("mean_helpful", "sft_dpo", m) for m in ("base", "sft", "dpo")],
    ),
    (
        "dpo_lags_sft_helpful",
        "DPO lags SFT in helpfulness (mean score)",
        [("mean_helpful", "sft", "dpo")],
    ),
    # The methods beside DPO (hhalign.methods): judged only when `variants` lists them.
    ("orpo_matches_sft_dpo_cas", "ORPO matches SFT+DPO (CAS)", [("CAS", "orpo", "sft_dpo")]),
    ("simpo_beats_dpo_cas", "SimPO beats DPO (CAS)", [("CAS", "simpo", "dpo")]),
    ("kto_matches_dpo_cas", "KTO matches DPO (CAS)", [("CAS", "kto", "dpo")]),
    ("rloo_beats_dpo_cas", "RLOO beats DPO (CAS)", [("CAS", "rloo", "dpo")]),
]

# Claims that two models match: two-sided, within +/- claims' ``equivalence_margin``
# (config methods.equivalence_margin), judged by ``judge_match``, not as "A beats B".
MATCHES = frozenset({"orpo_matches_sft_dpo_cas", "kto_matches_dpo_cas"})
MARGIN_EXCEEDED = "refuted (differs by more than the margin)"


def direction(row: pd.Series | dict, alpha: float) -> int:
    """+1 when A beats B (adjusted p ``p_adj`` below alpha, interval above 0), -1 when B
    beats A the same way, 0 when the two are not separable. With several seeds this is a
    verdict on these checkpoint pairs (prompts as the units); whether it extends to the
    method is the seed-level test's question (``scope``), so no rule asks every seed to
    agree (which would make more seeds lower the chance of a verdict)."""
    if row["p_adj"] >= alpha:
        return 0
    if row["ci_low"] > 0:
        return 1
    if row["ci_high"] < 0:
        return -1
    return 0


Part = tuple[str, str, str]  # (metric, A, B): "A beats B on metric"


def stable_range(part: Part, shifted: dict[float, dict]) -> tuple[float, float]:
    """The contiguous range of threshold shifts around 0 over which a rate comparison keeps
    the sign it has at the configured thresholds (NaN, NaN when that sign is 0: a tie, or
    when the part is not a rate)."""
    if part[0] not in RATES:
        return float("nan"), float("nan")
    sign0 = np.sign(shifted[0.0][part])
    if sign0 == 0:
        return float("nan"), float("nan")
    keeps = {s: np.sign(d[part]) == sign0 for s, d in shifted.items()}
    grid = sorted(keeps)
    i0 = grid.index(0.0)
    lo = hi = i0
    while lo > 0 and keeps[grid[lo - 1]]:
        lo -= 1
    while hi < len(grid) - 1 and keeps[grid[hi + 1]]:
        hi += 1
    return grid[lo], grid[hi]


def paper_difference(metric: str, a: str, b: str) -> float | None:
    """The claimed difference in the paper's own numbers (Table 1's rates, the mean scores)."""
    col = {"HmR": 0, "HpR": 1, "CAS": 2}.get(metric)
    if col is not None and a in PAPER_TABLE1 and b in PAPER_TABLE1:
        return float(PAPER_TABLE1[a][col] - PAPER_TABLE1[b][col])
    col = {"mean_harmful": 0, "mean_helpful": 1}.get(metric)
    if col is not None and a in PAPER_MEANS and b in PAPER_MEANS:
        return round(PAPER_MEANS[a][col] - PAPER_MEANS[b][col], 6)
    return None


def paper_supports(parts: list[Part]) -> str:
    """Whether the paper's own numbers support every part of a claim (yes, no, n/a)."""
    diffs = [paper_difference(*part) for part in parts]
    if any(d is None for d in diffs):
        return "n/a"
    return "yes" if all(d > 0 for d in diffs) else "no"


def part_label(part: Part) -> str:
    """A comparison as the claims table names it."""
    return f"{part[0]}: {part[1]} - {part[2]}"


def part_directions(
    parts: list[Part], rows: list[dict], ranges: dict[Part, tuple[float, float]], cfg: dict
) -> list[int]:
    """Each part's ``direction``, 0 for a rate part whose sign does not hold over the
    threshold band (+/- ``threshold_band``)."""
    band, dirs = cfg["threshold_band"], []
    for part, row in zip(parts, rows, strict=True):
        lo, hi = ranges[part]
        unstable = part[0] in RATES and not (lo <= -band and hi >= band)  # NaN: unstable
        dirs.append(0 if unstable else direction(row, cfg["alpha"]))
    return dirs


def judge_claim(
    parts: list[Part], table: pd.DataFrame, shifted: dict[float, dict], cfg: dict
) -> tuple[str, dict, dict[Part, tuple[float, float]]]:
    """(verdict, the comparison shown for it, each part's stable range of shifts).

    Each rate comparison counts in a direction only if its own sign holds over the
    threshold band (+/- ``threshold_band``); an unstable or tied part is not separable,
    and leaves the other parts' verdicts alone. The comparison shown: for ``holds`` the
    weakest part (largest adjusted p); for ``reversed`` the reversed part with the most
    adverse difference; for ``not separable`` the most adverse part (most negative
    difference in the claimed direction, then the lowest lower bound)."""
    rows = [signed(table, *part) for part in parts]
    ranges = {part: stable_range(part, shifted) for part in parts}
    dirs = part_directions(parts, rows, ranges, cfg)

    def adverse(i: int) -> tuple[float, float]:
        return (rows[i]["difference"], rows[i]["ci_low"])

    if -1 in dirs:
        reversed_ = [i for i, x in enumerate(dirs) if x == -1]
        verdict = (
            "reversed"
            if len(parts) == 1
            else f"refuted ({len(reversed_)} of {len(parts)} parts reversed)"
        )
        return verdict, rows[min(reversed_, key=adverse)], ranges
    if all(x == 1 for x in dirs):
        return "holds", rows[max(range(len(rows)), key=lambda i: rows[i]["p_adj"])], ranges
    return "not separable", rows[min(range(len(rows)), key=adverse)], ranges


def judge_match(
    parts: list[Part], table: pd.DataFrame, shifted: dict[float, dict], cfg: dict
) -> tuple[str, dict, dict[Part, tuple[float, float]]]:
    """A "matches" claim (one part), as ``judge_claim`` returns it: ``holds`` when the 95%
    interval of the difference lies within +/- ``equivalence_margin`` (two one-sided tests
    at 2.5% each), refuted when it lies wholly beyond the margin on either side, else not
    separable (the data cannot tell equivalence from a difference)."""
    (part,) = parts
    row, margin = signed(table, *part), cfg["equivalence_margin"]
    ranges = {part: stable_range(part, shifted)}
    if -margin < row["ci_low"] and row["ci_high"] < margin:
        return "holds", row, ranges
    if row["ci_low"] >= margin or row["ci_high"] <= -margin:
        return MARGIN_EXCEEDED, row, ranges
    return "not separable", row, ranges


def verdict_of(
    claim_id: str, parts: list[Part], table: pd.DataFrame, shifted: dict[float, dict], cfg: dict
) -> tuple[str, dict, dict[Part, tuple[float, float]]]:
    """A claim judged as its kind says: a "matches" claim by ``judge_match``, every other
    by ``judge_claim``."""
    judge = judge_match if claim_id in MATCHES else judge_claim
    return judge(parts, table, shifted, cfg)


def scope(verdict: str, seeds: int, rows: list[dict] | None = None) -> str:
    """What a verdict is about: two checkpoints (one training seed); the two methods, when
    every comparison it rests on (``rows``: each has ``p_seed`` and the ``level`` its
    adjusted p is compared with) also passes the seed-level t-test at that level; else
    these k checkpoint pairs (the verdict is conditional on the trained checkpoints)."""
    if verdict == "not separable":
        return "n/a"
    if seeds == 1:
        return "these checkpoints"
    if rows and all(r["p_seed"] < r["level"] for r in rows):
        return "the method"
    return f"these {seeds} checkpoint pairs"


def resting(verdict: str, row: dict, parts: list[Part], table: pd.DataFrame) -> list[dict]:
    """The comparisons a verdict rests on: every part for ``holds``, the part shown for a
    reversal."""
    return [signed(table, *part) for part in parts] if verdict == "holds" else [row]


def claim_parts(variants: list[str]) -> list[tuple[str, str, list[Part]]]:
    """The paper's claims whose models are all in ``variants``."""
    return [c for c in CLAIMS if all(a in variants and b in variants for _, a, b in c[2])]


def claimed(variants: list[str]) -> frozenset:
    """The (metric, A, B) of every comparison the claims use, A and B in ``variants`` order
    (the pairs' order): the ``claims.family: claims`` Holm family."""
    return frozenset(
        (m, *sorted((a, b), key=variants.index))
        for _, _, parts in claim_parts(variants)
        for m, a, b in parts
    )


def claim_row(
    protocol: str,
    claim: tuple[str, str, list[Part]],
    table: pd.DataFrame,
    shifted: dict[float, dict],
    pool: int | None,
    cfg: dict,
) -> dict:
    """One row of the claims table: a claim judged on one protocol's comparisons
    (``judge_claim``), the comparison it shows, its scope, and the sample-size columns of a
    claim that is not separable (``comparisons.sizing_row``)."""
    claim_id, statement, parts = claim
    verdict, row, ranges = verdict_of(claim_id, parts, table, shifted, cfg)
    lo, hi = ranges.get((row["metric"], row["a"], row["b"]), (np.nan, np.nan))
    paper = paper_difference(row["metric"], row["a"], row["b"])
    sized = verdict == "not separable" and claim_id not in MATCHES  # sizing: superiority
    sizing = sizing_row(row, paper, pool, cfg, len(parts)) if sized else {}
    shown = ("difference", "ci_low", "ci_high", "p_adj", "adjustment", "test", "mdd")
    return {
        "protocol": protocol,
        "claim": claim_id,
        "statement": statement,
        "comparison": part_label((row["metric"], row["a"], row["b"])),
        "paper": paper,
        "paper_supports": paper_supports(parts),
        **{k: row[k] for k in shown},
        "mdd_note": row["mdd_note"],
        "superiority": row["superiority"],
        "seeds_agree": f"{row['seeds_agree']}/{row['seeds']}",
        "p_seed": row["p_seed"],
        "n_prompts": row["n_prompts"],
        "stable_from": lo,
        "stable_to": hi,
        "stable_ranges": "; ".join(
            f"{part_label(part)} " + ("tied (no sign)" if np.isnan(a) else f"[{a:+g}, {b:+g}]")
            for part, (a, b) in ranges.items()
            if part[0] in RATES
        ),
        "verdict": verdict,
        "scope": scope(
            verdict,
            int(row["seeds"]),
            None if claim_id in MATCHES else resting(verdict, row, parts, table),
        ),
        **{k: sizing.get(k, np.nan) for k in SIZING_COLUMNS},
    }


def claims_table(
    scores: pd.DataFrame,
    variants: list[str],
    cfg: dict,
    experiments: list[str] | None = None,
    pools: dict[str, int] | None = None,
    chosen: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(claims, pairs) of every protocol in ``scores``; ``cfg`` is the ``claims`` config
    section with ``metrics`` (thresholds) added. Verdicts use ``p_adj`` (``adjust``); a claim
    that is not separable gets the sample-size columns (``claim_row``; ``pools``: protocol ->
    harmful candidates the keyword filter keeps). ``chosen``: the judge's scores of the
    dataset's chosen answers (a score table of variant "chosen"), which adds the win rates'
    comparisons to the pairs."""
    cfg = {"family": "metric", **cfg}
    tables, shifts = {}, {}
    protocols = list(scores["protocol"].unique())
    for protocol, stream in zip(
        protocols, np.random.SeedSequence(cfg["seed"]).spawn(len(protocols)), strict=True
    ):
        sub = scores[scores["protocol"] == protocol]
        arrays = with_chosen(sub, chosen, variants)
        lengths = response_lengths(sub, variants)
        limits = thresholds(cfg["metrics"])
        tables[protocol] = pairs_table(arrays, variants, cfg, limits, stream, lengths)
        shifts[protocol] = rate_differences(arrays, variants, cfg["metrics"], shift_grid(cfg))
    pairs = pd.concat([t.assign(protocol=p) for p, t in tables.items()], ignore_index=True)
    pairs = adjust(pairs, cfg, set(experiments or []), claimed(variants))
    pairs = with_mdd(pairs, cfg)
    claims = [
        claim_row(protocol, claim, table, shifts[protocol], (pools or {}).get(protocol), cfg)
        for protocol, table in pairs.groupby("protocol", sort=False)
        for claim in claim_parts(variants)
    ]
    cols = ["protocol", "metric", "a", "b"]
    pairs = pairs.drop(columns=["_d"])
    return pd.DataFrame(claims), pairs[cols + [c for c in pairs if c not in cols]]


def with_reward_flag(claims: pd.DataFrame, judge: str | None) -> pd.DataFrame:
    """The RLOO claims flagged when RLOO's reward model is the judge ``judge`` (config
    methods.allow_reward_is_judge): that judge was optimised directly, so its verdict shows
    reward hacking, not alignment; the other judges and the response audit say which."""
    if not judge or "flags" not in claims:
        return claims
    note = f"RLOO's reward model is judge {judge}: that judge was optimised directly"
    out = claims.copy()
    rloo = out["comparison"].str.contains(r"\brloo\b", regex=True)
    out.loc[rloo, "flags"] = [f"{note}; {f}" if f else note for f in out.loc[rloo, "flags"]]
    return out


# A judge's direction of a "matches" claim says which model its point estimates put first.
MATCH_WORDS = {"as claimed": "first above", "reversed": "second above"}


def match_directions(by_judge: pd.DataFrame) -> pd.DataFrame:
    """The judges' claims table (``agreement.claims_by_judge``) with each judge's direction
    of a "matches" claim named for what it is: which model is above (a match claims no
    direction, so "as claimed" would mislead)."""
    out = by_judge.copy()
    rows = out["claim"].isin(MATCHES)
    for col in [c for c in out if c.startswith("direction_")]:
        out.loc[rows, col] = out.loc[rows, col].replace(MATCH_WORDS)
    return out
