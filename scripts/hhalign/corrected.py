"""What a reviewer's labels give: the judge against people, the response audit against
people, and judge-corrected rates (``hhalign.ppi``) for every model and every pair of models.

``scores``: the long score table of a run; ``joined``: ``labels.join_labels``'s labels with
their key and ``y`` (1 yes, 0 no, NaN unsure). A response passes the judge when its score
passes the prompt set's threshold (config ``metrics``); people pass it with "yes". The prompt
is the unit: a prompt's value is the mean over its samples (one, with greedy decoding).
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from scipy import stats

from hhalign.labels import join_labels, read_labels
from hhalign.metrics import METRICS, OPS, SET_RATE
from hhalign.ppi import combine, estimate, judge_variance, labels_needed
from hhalign.responses import TYPES
from hhalign.tables import HTML_STYLE

CELL = ["protocol", "seed", "prompt_set"]


def passes(scores: pd.Series, prompt_set: pd.Series, limits: dict) -> np.ndarray:
    """1.0 where a score passes its prompt set's threshold, else 0.0."""
    out = np.zeros(len(scores))
    for s, (threshold, op) in limits.items():
        sel = (prompt_set == s).to_numpy()
        out[sel] = OPS[op](scores.to_numpy()[sel], threshold)
    return out


def kappa(a: np.ndarray, b: np.ndarray) -> float:
    """Cohen's kappa of two 0/1 raters (NaN when chance agreement is total)."""
    po = float(np.mean(a == b))
    pe = float(np.mean(a) * np.mean(b) + (1 - np.mean(a)) * (1 - np.mean(b)))
    return (po - pe) / (1 - pe) if pe < 1 else float("nan")


def auc(score: np.ndarray, y: np.ndarray) -> float:
    """ROC-AUC of the raw score for people's yes (Mann-Whitney; NaN with one class)."""
    pos, neg = score[y == 1], score[y == 0]
    if not len(pos) or not len(neg):
        return float("nan")
    ranks = stats.rankdata(np.concatenate([pos, neg]))
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def best_threshold(score: np.ndarray, y: np.ndarray) -> float:
    """The threshold (pass: score > it) that agrees with people most often: the midpoint
    between neighbouring scores, the lowest of ties."""
    cuts = np.unique(score)
    cuts = np.concatenate([[cuts[0] - 1], (cuts[1:] + cuts[:-1]) / 2, [cuts[-1] + 1]])
    agree = [np.mean((score > c) == (y == 1)) for c in cuts]
    return float(cuts[int(np.argmax(agree))])


def judge_against_people(joined: pd.DataFrame, limits: dict, draws: int = 500, seed: int = 0):
    """Per protocol and prompt set: the confusion matrix at the threshold (judge pass/fail
    against people's yes/no), accuracy, Cohen's kappa, ROC-AUC of the score, the threshold
    that matches people best with a 95% bootstrap interval, and the unsure answers."""
    rng = np.random.default_rng(seed)
    rows = []
    for (protocol, prompt_set), g in joined.groupby(["protocol", "prompt_set"]):
        sure = g[g["y"].notna()]
        f = passes(sure["score"], sure["prompt_set"], limits)
        y, s = sure["y"].to_numpy(), sure["score"].to_numpy(dtype=float)
        boot = [best_threshold(s[i], y[i]) for i in rng.integers(0, len(s), (draws, len(s)))]
        rows.append(
            {
                "protocol": protocol,
                "prompt_set": prompt_set,
                "labelled": len(sure),
                "unsure": int(g["answer"].eq("unsure").sum()),
                "judge_pass_people_yes": int(((f == 1) & (y == 1)).sum()),
                "judge_pass_people_no": int(((f == 1) & (y == 0)).sum()),
                "judge_fail_people_yes": int(((f == 0) & (y == 1)).sum()),
                "judge_fail_people_no": int(((f == 0) & (y == 0)).sum()),
                "accuracy": float(np.mean(f == y)) if len(y) else float("nan"),
                "kappa": kappa(f, y) if len(y) else float("nan"),
                "auc": auc(s, y),
                "threshold": limits[prompt_set][0],
                "best_threshold": best_threshold(s, y) if len(y) else float("nan"),
                "best_ci_low": float(np.percentile(boot, 2.5)) if len(y) else float("nan"),
                "best_ci_high": float(np.percentile(boot, 97.5)) if len(y) else float("nan"),
            }
        )
    return pd.DataFrame(rows)


def audit_against_people(joined: pd.DataFrame, audit: pd.DataFrame) -> pd.DataFrame:
    """Per response type: how often the audit (responses.csv) and people mark it, and the
    audit's precision and recall against people (NaN where undefined)."""
    keys = [k for k in ("protocol", "variant", "seed", "prompt_set", "id", "sample") if k in audit]
    found = joined[[*keys, *TYPES]].merge(
        audit[[*keys, *TYPES]].astype({"id": str}), on=keys, suffixes=("", "_audit")
    )
    rows = []
    for kind in TYPES:
        said, real = found[f"{kind}_audit"].astype(bool), found[kind].astype(bool)
        tp = int((said & real).sum())
        rows.append(
            {
                "type": kind,
                "labelled": len(found),
                "people": int(real.sum()),
                "audit": int(said.sum()),
                "both": tp,
                "precision": tp / said.sum() if said.sum() else float("nan"),
                "recall": tp / real.sum() if real.sum() else float("nan"),
            }
        )
    return pd.DataFrame(rows)


def cell_arrays(scores: pd.DataFrame, joined: pd.DataFrame, limits: dict, variants: list[str]):
    """(protocol, seed, prompt set) -> (judged [K, N], people [K, N]) per prompt, models in
    ``variants`` order (a model without that seed's rows, Base, uses its first seed's)."""
    scores = scores.assign(
        seed=scores.get("seed", 0),
        id=scores["id"].astype(str),
        f=passes(scores["score"], scores["prompt_set"], limits),
    )
    people = joined.groupby(["protocol", "variant", "seed", "prompt_set", "id"])["y"].mean()
    out = {}
    for (protocol, seed, prompt_set), _ in scores.groupby(CELL):
        sub = scores[(scores["protocol"] == protocol) & (scores["prompt_set"] == prompt_set)]
        ids = sorted(sub["id"].unique())
        f_rows, y_rows = [], []
        for v in variants:
            mine = sub[sub["variant"] == v]
            mine = mine[
                mine["seed"] == (seed if (mine["seed"] == seed).any() else mine["seed"].min())
            ]
            f_rows.append(mine.groupby("id")["f"].mean().reindex(ids).to_numpy())
            at = mine["seed"].iloc[0]
            idx = pd.MultiIndex.from_tuples([(protocol, v, at, prompt_set, i) for i in ids])
            y_rows.append(people.reindex(idx).to_numpy(dtype=float))
        out[(protocol, seed, prompt_set)] = (np.array(f_rows), np.array(y_rows))
    return out


def _row(result: dict, scale: float = 100.0, bounds: tuple[float, float] | None = None) -> dict:
    """An estimate's columns, in percent; a rate's interval clipped to ``bounds`` (its
    estimate is not: clipping it would bias it)."""
    keys = ("judge", "correction", "estimate", "ci_low", "ci_high")
    row = {k: scale * float(np.asarray(result[k])) for k in keys}
    if bounds is not None:
        row["ci_low"], row["ci_high"] = np.clip([row["ci_low"], row["ci_high"]], *bounds)
    return row


def corrected_rates(arrays: dict, variants: list[str], width: float = 10.0) -> pd.DataFrame:
    """Per protocol, seed, model and rate (HmR, HpR, CAS): the judge's rate, the people's
    correction, the corrected rate with its 95% interval, the labels used, and how many
    labels per model and set would make the interval ``width`` points wide."""
    rows = []
    cells = sorted({(p, s) for p, s, _ in arrays})
    for (protocol, seed), (k, v) in itertools.product(cells, enumerate(variants)):
        per_set = {}
        for prompt_set, metric in SET_RATE.items():
            f, y = arrays[(protocol, seed, prompt_set)]
            r = estimate(f[k : k + 1], y[k : k + 1], [1])
            r["judge_var"] = judge_variance(f[k : k + 1], [1])
            per_set[prompt_set] = r
            needed = labels_needed(r, width / 100)
            rows.append(_one(protocol, seed, v, metric, r, len(f[k]), needed))
        parts = [per_set[s] for s in METRICS["CAS"].weights]
        weights = [w / 100 for w in METRICS["CAS"].weights.values()]
        cas = combine(parts, weights)
        n_lab = sum(int(p["n_labelled"][0]) for p in parts)
        n_all = sum(arrays[(protocol, seed, s)][0].shape[1] for s in METRICS["CAS"].weights)
        rows.append({**_one(protocol, seed, v, "CAS", cas, n_all, -1), "n_labelled": n_lab})
    return pd.DataFrame(rows)


def _one(protocol, seed, model, metric, r, n, needed) -> dict:
    """One row of the corrected table."""
    n_lab = r.get("n_labelled", [0])
    return {
        "protocol": protocol,
        "seed": seed,
        "model": model,
        "metric": metric,
        **_row(r, bounds=(0.0, 100.0)),
        "n": n,
        "n_labelled": int(np.max(n_lab)) if np.size(n_lab) else 0,
        "labels_for_width": needed,
    }


def corrected_pairs(arrays: dict, variants: list[str]) -> pd.DataFrame:
    """Every pair of models on HmR, HpR and CAS, paired on prompts: the judge's difference
    (a - b), the corrected one with its 95% interval."""
    rows = []
    cells = sorted({(p, s) for p, s, _ in arrays})
    for (protocol, seed), (i, j) in itertools.product(
        cells, itertools.combinations(range(len(variants)), 2)
    ):
        per_set = {}
        for prompt_set, metric in SET_RATE.items():
            f, y = arrays[(protocol, seed, prompt_set)]
            per_set[prompt_set] = estimate(f[[i, j]], y[[i, j]], [1, -1])
            rows.append(
                _pair(protocol, seed, variants[i], variants[j], metric, per_set[prompt_set])
            )
        cas = combine([per_set[s] for s in METRICS["CAS"].weights], [0.5, 0.5])
        rows.append(_pair(protocol, seed, variants[i], variants[j], "CAS", cas))
    return pd.DataFrame(rows)


def _pair(protocol, seed, a, b, metric, r) -> dict:
    """One row of the corrected pairs table (percentage points)."""
    return {"protocol": protocol, "seed": seed, "a": a, "b": b, "metric": metric, **_row(r)}


def labels_html(judge: pd.DataFrame, audit: pd.DataFrame, table: pd.DataFrame, label: str = ""):
    """One HTML page: the judge against people, the audit against people, the corrected
    rates (for Snakemake's report)."""
    parts = [
        ("The judge against people (at the threshold; AUC of the raw score)", judge),
        ("The response audit against people", audit),
        ("Judge-corrected rates (%; prediction-powered, 95% intervals)", table),
    ]
    body = "".join(
        f"<h3>{title}</h3>"
        + df.to_html(index=False, float_format=lambda x: f"{x:.3g}", na_rep="n/a", border=0)
        for title, df in parts
    )
    note = f"<p><i>{label}</i></p>" if label else ""
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'>{HTML_STYLE}</head><body>"
        f"<h2>A reviewer's labels</h2>{note}{body}</body></html>\n"
    )


def load_labelled(scores: pd.DataFrame, key_path: str, labels_path: str) -> pd.DataFrame:
    """A labels file joined with the sample's key (``labels.join_labels``) and each item's
    score from ``scores``."""
    key = pd.read_csv(key_path, dtype={"id": str, "check": str})
    joined = join_labels(read_labels(labels_path), key, labels_path)
    keys = [k for k in ("protocol", "variant", "seed", "prompt_set", "id", "sample") if k in scores]
    scores = scores.assign(id=scores["id"].astype(str))
    return joined.merge(scores[[*keys, "score"]], on=keys, how="left", validate="m:1")


def labels_latex(judge: pd.DataFrame, table: pd.DataFrame) -> str:
    """The PDF report's "judge against people" tables: agreement per protocol and prompt
    set, then each model's judged and corrected rates (first seed)."""
    lines = [
        r"\begin{tabular}{llrrrrrl}",
        r"\toprule",
        r"Protocol & Set & Labels & Unsure & Accuracy & $\kappa$ & AUC & Best threshold \\",
        r"\midrule",
    ]
    for r in judge.itertuples():
        lines.append(
            f"{r.protocol} & {r.prompt_set} & {r.labelled} & {r.unsure} & {r.accuracy:.2f} & "
            f"{r.kappa:.2f} & {r.auc:.2f} & {r.best_threshold:.2f} "
            f"[{r.best_ci_low:.2f}, {r.best_ci_high:.2f}] \\\\"
        )
    lines += [r"\bottomrule", r"\end{tabular}", "", r"\medskip", ""]
    lines += [
        r"\begin{tabular}{lllrrl}",
        r"\toprule",
        r"Protocol & Model & Metric & Judge & Correction & Corrected [95\% CI] \\",
        r"\midrule",
    ]
    first = table[table["seed"] == table["seed"].min()]
    for r in first.itertuples():
        lines.append(
            f"{r.protocol} & {r.model.replace('_', '+').upper()} & {r.metric} & {r.judge:.1f} & "
            f"{r.correction:+.1f} & {r.estimate:.1f} [{r.ci_low:.1f}, {r.ci_high:.1f}] \\\\"
        )
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines).replace("nan", "n/a") + "\n"


def labels_plan(table: pd.DataFrame, width: float) -> pd.DataFrame:
    """The planner's question for labels: per protocol, seed, model and set (HmR, HpR), the
    labels a corrected interval ``width`` points wide needs, and how many more that is (-1:
    no number of labels can, the judge's own part is wider)."""
    cols = ["protocol", "seed", "model", "metric", "n_labelled", "ci_low", "ci_high"]
    needed = table[table["metric"] != "CAS"][[*cols, "labels_for_width"]].assign(width=width)
    needed["more_labels"] = (needed["labels_for_width"] - needed["n_labelled"]).clip(lower=0)
    needed.loc[needed["labels_for_width"] < 0, "more_labels"] = -1
    return needed.reset_index(drop=True)
