"""Judges compared: thresholds for judges other than the paper's (given, or calibrated by
quantile matching), Table 1 by judge, agreement between judges (Spearman, Cohen's kappa,
Kendall tau) and each judge's direction on the paper's claims. Scores are "higher is
better" for every judge kind (``hhalign.judges``)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.inter_rater import cohens_kappa

from hhalign.metrics import OPS, TABLE1, from_rates, thresholds


def calibrate(
    reference: np.ndarray, threshold: float, op: str, scores: np.ndarray
) -> tuple[float, float]:
    """Quantile matching: (cut, achieved pass share) at which ``scores`` (another judge's, on
    the same pooled responses) pass under ">" as many responses as the reference judge's
    pass at ``threshold`` under ``op``. With ties in ``scores`` that count may be out of
    reach: the cut whose pass count is closest (the smaller count on a tie of distances),
    halfway between two distinct scores, or a little outside their range."""
    k = int(OPS[op](np.asarray(reference, dtype=float), threshold).sum())
    values = np.unique(np.asarray(scores, dtype=float))  # ascending, distinct
    step = max(float(values[-1] - values[0]) * 0.05, 1e-6)
    cuts = np.concatenate([[values[0] - step], (values[:-1] + values[1:]) / 2, [values[-1] + step]])
    counts = np.array([int(np.sum(scores > c)) for c in cuts])
    best = min(range(len(cuts)), key=lambda i: (abs(counts[i] - k), counts[i]))
    return float(cuts[best]), counts[best] / len(scores)


def agreement(
    a: pd.Series,
    b: pd.Series,
    threshold_a: float,
    threshold_b: float,
    op_a: str = ">",
    op_b: str = ">",
) -> dict:
    """Two judges on the same responses: Spearman correlation of the scores, Cohen's kappa
    of the pass/fail labels at each judge's threshold and operator, and the raw label
    agreement."""
    rho = stats.spearmanr(a, b).statistic
    la, lb = np.asarray(OPS[op_a](a, threshold_a)), np.asarray(OPS[op_b](b, threshold_b))
    table = np.array([[np.sum(la & lb), np.sum(la & ~lb)], [np.sum(~la & lb), np.sum(~la & ~lb)]])
    with np.errstate(divide="ignore", invalid="ignore"):  # one label everywhere: undefined
        kappa = cohens_kappa(table, return_results=False)
    return {
        "n": len(a),
        "spearman": float(rho),
        "kappa": float(kappa),
        "label_agreement": float(np.mean(la == lb)),
    }


def ranking_tau(means_a: pd.Series, means_b: pd.Series) -> float:
    """Kendall tau between two judges' orderings of the models (their mean scores)."""
    return float(stats.kendalltau(means_a, means_b.loc[means_a.index]).statistic)


def claim_direction(parts: list[tuple[str, str, str]], rates: dict[tuple[str, str], float]) -> str:
    """ "as claimed" when every (metric, a, b) part has a above b in ``rates`` (metric,
    model) -> value, "reversed" when every part has b above a, "tied" when none differ,
    "mixed" otherwise, "n/a" when the judge lacks a metric (a guard reads the harmful set
    only)."""
    diffs = [rates.get((m, a), math.nan) - rates.get((m, b), math.nan) for m, a, b in parts]
    if any(math.isnan(d) for d in diffs):
        return "n/a"
    if all(d == 0 for d in diffs):
        return "tied"
    if all(d > 0 for d in diffs):
        return "as claimed"
    return "reversed" if all(d < 0 for d in diffs) else "mixed"


KEYS = ["protocol", "variant", "seed", "prompt_set", "id"]


def keys(scores: pd.DataFrame) -> list[str]:
    """What names one response: ``KEYS``, and its sample index with sampled decoding."""
    return KEYS + (["sample"] if "sample" in scores else [])


def thresholds_table(scores: pd.DataFrame, judges: list[dict], metrics: dict) -> pd.DataFrame:
    """judge, prompt set -> threshold, operator and where it came from: the paper's judge
    keeps ``metrics``; another judge takes its configured thresholds, or, where it has none,
    the quantile-matched one (``calibrate``) on the responses both judges read."""
    paper = thresholds(metrics)
    first = judges[0]["name"]
    rows = []
    for judge in judges:
        given = judge.get("thresholds")
        for prompt_set, (t0, op) in paper.items():
            mine = scores[(scores["judge"] == judge["name"]) & (scores["prompt_set"] == prompt_set)]
            if mine.empty:
                continue
            target = np.nan
            if judge["name"] == first:
                t, source = t0, "paper"
            elif given:
                t, op, source = given[prompt_set], ">", "config"
            else:
                ref = scores[(scores["judge"] == first) & (scores["prompt_set"] == prompt_set)]
                both = ref.merge(mine, on=keys(scores), suffixes=("_ref", ""))
                t, _ = calibrate(both["score_ref"].to_numpy(), t0, op, both["score"].to_numpy())
                target = float(OPS[op](both["score_ref"], t0).mean())
                op, source = ">", f"calibrated to {first} on {len(both)} responses"
            rows.append(
                {
                    "judge": judge["name"],
                    "prompt_set": prompt_set,
                    "threshold": t,
                    "op": op,
                    "source": source,
                    "target_pass_rate": target,
                    "pass_rate": float(OPS[op](mine["score"], t).mean()),
                }
            )
    return pd.DataFrame(rows)


def judge_table1(scores: pd.DataFrame, limits: pd.DataFrame) -> pd.DataFrame:
    """Table 1 by judge: HmR, HpR and CAS at each judge's thresholds and the mean scores
    (threshold-free), per protocol and model, responses pooled over seeds and samples; ``n``
    counts prompts. A metric a judge does not read (a guard's HpR) is empty."""
    at = limits.set_index(["judge", "prompt_set"])
    rows = []
    for (judge, protocol, variant), sub in scores.groupby(
        ["judge", "protocol", "variant"], sort=False
    ):
        row = {"judge": judge, "protocol": protocol, "model": variant}
        for prompt_set, metric in (("harmful", "HmR"), ("helpful", "HpR")):
            part = sub[sub["prompt_set"] == prompt_set]
            s = part["score"]
            if s.empty:
                row |= {metric: math.nan, f"mean_{prompt_set}": math.nan, f"n_{prompt_set}": 0}
                continue
            t, op = at.loc[(judge, prompt_set), ["threshold", "op"]]
            row |= {
                metric: 100.0 * OPS[op](s, t).mean(),
                f"mean_{prompt_set}": s.mean(),
                f"n_{prompt_set}": part["id"].nunique(),
            }
        row["CAS"] = from_rates("CAS", {"harmful": row["HmR"], "helpful": row["HpR"]})
        rows.append(row)
    return pd.DataFrame(rows)


def agreement_table(scores: pd.DataFrame, limits: pd.DataFrame) -> pd.DataFrame:
    """Every pair of judges on every prompt set both read: response-level agreement
    (Spearman, Cohen's kappa, label agreement) over the pooled responses, and, per
    protocol, Kendall tau of their orderings of the models by mean score."""
    at = limits.set_index(["judge", "prompt_set"])[["threshold", "op"]]
    names = list(dict.fromkeys(scores["judge"]))
    rows = []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            for prompt_set in ("harmful", "helpful"):
                sa, sb = (
                    scores[(scores["judge"] == j) & (scores["prompt_set"] == prompt_set)]
                    for j in (a, b)
                )
                both = sa.merge(sb, on=keys(scores), suffixes=("_a", "_b"))
                if both.empty:
                    continue
                key = {"prompt_set": prompt_set, "judge_a": a, "judge_b": b}
                rows.append(
                    key
                    | {"scope": "responses"}
                    | agreement(
                        both["score_a"],
                        both["score_b"],
                        threshold_a=at.loc[(a, prompt_set), "threshold"],
                        threshold_b=at.loc[(b, prompt_set), "threshold"],
                        op_a=at.loc[(a, prompt_set), "op"],
                        op_b=at.loc[(b, prompt_set), "op"],
                    )
                )
                for protocol, sub in both.groupby("protocol", sort=False):
                    means = sub.groupby("variant")[["score_a", "score_b"]].mean()
                    rows.append(
                        key
                        | {
                            "scope": f"models in {protocol}",
                            "n": len(means),
                            "kendall_tau": ranking_tau(means["score_a"], means["score_b"]),
                        }
                    )
    return pd.DataFrame(rows)


def claims_by_judge(claims: pd.DataFrame, table: pd.DataFrame, parts: dict) -> pd.DataFrame:
    """The claims table with each judge's direction of every claim (its point estimates)
    and ``judges_agree``: yes when every judge that reads the claim's metrics gives the
    same direction. ``parts``: claim id -> [(metric, a, b)]."""
    out = claims[["protocol", "claim", "statement", "verdict"]].copy()
    names = list(dict.fromkeys(table["judge"]))
    for judge in names:
        sub = table[table["judge"] == judge]
        directions = []
        for protocol, claim in zip(out["protocol"], out["claim"], strict=True):
            mine = sub[sub["protocol"] == protocol].set_index("model")
            rates = {(m, v): mine.loc[v, m] for m in TABLE1 for v in mine.index}
            directions.append(claim_direction(parts[claim], rates))
        out[f"direction_{judge}"] = directions
    cols = [f"direction_{j}" for j in names]
    read = out[cols].apply(lambda r: {d for d in r if d != "n/a"}, axis=1)
    out["judges_agree"] = ["yes" if len(d) == 1 else "no" for d in read]
    return out
