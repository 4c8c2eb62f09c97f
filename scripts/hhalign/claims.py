"""Which of the paper's conclusions survive: every pair of models compared on the same
prompts, and the paper's claims judged from those comparisons.

A comparison (metric, A, B) gives the difference A - B, a paired bootstrap interval, a
p-value (exact McNemar for a rate with one seed; a sign-flip permutation test otherwise),
Holm-adjusted within the metric's family of model pairs, the probability of superiority
of A's scores, the minimum detectable difference, how many seeds agree in sign, and the
verdict over a band of thresholds around the configured ones.

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

import math
from itertools import combinations

import numpy as np
import pandas as pd
from scipy import stats as sps

from hhalign import metrics, power, stats
from hhalign.metrics import METRICS, OPS, RATES, SET_WIN, TABLE1, thresholds, wins
from hhalign.plan import CHOSEN, PROMPT_SETS
from hhalign.responses import tokens

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
FAILED = "failed"  # arrays[(variant, prompt set, FAILED)]: the responses counted as failures
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
]


def score_arrays(scores: pd.DataFrame, variants: list[str]) -> dict[tuple[str, str], np.ndarray]:
    """(variant, prompt set) -> scores[seed, prompt, sample] of one protocol, prompts aligned
    by id (one sample: greedy decoding; several: ``generation.samples``).

    A table without a ``seed`` (``sample``) column is one seed (sample). A variant missing a
    seed that others have (Base, which is not trained) is repeated for every seed. Prompt ids
    must be the same for every variant of a prompt set: comparisons are paired; every prompt
    of a variant has the same number of samples.
    """
    scores = scores.assign(
        seed=scores.get("seed", 0),
        sample=scores["sample"].fillna(0).astype(int) if "sample" in scores else 0,
        id=scores["id"].astype(str),
    )
    seeds = sorted(scores["seed"].unique())
    out = {}
    for prompt_set, group in scores.groupby("prompt_set"):
        ids = sorted(group["id"].unique())
        for variant in variants:
            sub = group[group["variant"] == variant]
            if set(sub["id"]) != set(ids):
                raise ValueError(
                    f"{variant}/{prompt_set}: its prompt ids differ from the other models' "
                    "(paired comparisons need the same prompts): rerun select_prompts and "
                    "everything after it"
                )
            k = int(sub["sample"].max()) + 1
            wide = sub.pivot(index="seed", columns=["id", "sample"], values="score")
            index = seeds if len(wide) > 1 else wide.index
            wide = wide.reindex(index=index, columns=pd.MultiIndex.from_product([ids, range(k)]))
            if wide.isna().to_numpy().any():
                raise ValueError(
                    f"{variant}/{prompt_set}: some prompts lack a seed's or a sample's score "
                    f"(samples 0-{k - 1} of every prompt and seed are needed): rerun "
                    "generate_responses and score_responses for it"
                )
            arr = wide.to_numpy(dtype=float).reshape(len(wide), len(ids), k)
            if len(arr) == 1 and len(seeds) > 1:
                arr = np.repeat(arr, len(seeds), axis=0)
            out[(variant, prompt_set)] = arr
    return out


def per_prompt(
    arrays: dict,
    metric: str,
    variant: str,
    limits: dict[str, tuple[float, str]],
    keep_samples: bool = False,
) -> dict[str, np.ndarray]:
    """prompt set -> the values a metric averages, [seed, prompt], each prompt's mean over
    its samples (the prompt is the statistical unit; ``keep_samples``: [seed, prompt,
    sample]): 0/1 labels for a rate, wins over the chosen answer (1, 1/2 for a tie, 0) for a
    win rate, else scores. Where ``arrays`` mark failing responses (``(variant, prompt
    set, FAILED)``: ``hhalign.strict``) they fail a rate and lose to the chosen answer."""
    spec = METRICS[metric]
    out = {}
    for prompt_set in spec.weights:
        x = arrays[(variant, prompt_set)]
        passes = ~arrays.get((variant, prompt_set, FAILED), np.zeros(x.shape, dtype=bool))
        if spec.versus_chosen:
            values = wins(x, arrays[(CHOSEN, prompt_set)]) * passes
        elif spec.thresholded:
            threshold, op = limits[prompt_set]
            values = (OPS[op](x, threshold) & passes).astype(float)
        else:
            values = x
        out[prompt_set] = values if keep_samples else values.mean(axis=-1)
    return out


def with_chosen(scores: pd.DataFrame, chosen: pd.DataFrame | None, variants: list[str]) -> dict:
    """``score_arrays`` of one protocol's scores, with the chosen answers' when given."""
    if chosen is None:
        return score_arrays(scores, variants)
    mine = chosen[chosen["protocol"].isin(scores["protocol"].unique())]
    both = pd.concat([scores, mine.assign(variant=CHOSEN)], ignore_index=True)
    return score_arrays(both, [*variants, CHOSEN])


def win_interval(w: np.ndarray, draws: int, stream) -> tuple[float, float]:
    """95% interval of a win rate (%) from per-prompt wins ``w[seed, prompt]`` in [0, 1].

    One seed: the boundary-corrected Wilson interval of the mean win over the prompts (a
    tie's 1/2 has less variance than a coin, so this is conservative with ties); it never
    collapses at 0 or 100%, where a percentile bootstrap covers about 0.62 (2% wins, 50
    prompts) and gives [0, 0] when every win is 0. Several seeds: the wider of that and
    the paired bootstrap over prompts and seeds (which carries the seed variance)."""
    n = w.shape[1]
    lo, hi = metrics.wilson_boundary(100.0 * float(w.mean()), n)
    if w.shape[0] > 1:
        b_lo, b_hi = stats.bootstrap_interval({"s": w}, {"s": 100.0}, draws, stream)
        lo, hi = min(lo, b_lo), max(hi, b_hi)
    return max(lo, 0.0), min(hi, 100.0)


def win_rate_table(
    scores: pd.DataFrame, chosen: pd.DataFrame, variants: list[str], cfg: dict
) -> pd.DataFrame:
    """Per judge (a ``judge`` column, else one), protocol, model and prompt set: the win rate
    (%) over the dataset's chosen answers, ties counted half, with its 95% interval
    (``win_interval``), and the share of ties. ``cfg``: the claims
    section (draws, seed)."""
    if "judge" not in scores:
        scores, chosen = scores.assign(judge=""), chosen.assign(judge="")
    keys = list(scores.groupby(["judge", "protocol"], sort=False).groups)
    streams = iter(np.random.SeedSequence([cfg["seed"], 3]).spawn(len(keys) * len(variants) * 2))
    rows = []
    for judge, protocol in keys:
        sub = scores[(scores["judge"] == judge) & (scores["protocol"] == protocol)]
        ref = chosen[(chosen["judge"] == judge) & (chosen["protocol"] == protocol)]
        arrays = with_chosen(sub, ref, variants)
        for variant in variants:
            for prompt_set in PROMPT_SETS:
                stream = next(streams)
                if (variant, prompt_set) not in arrays or (CHOSEN, prompt_set) not in arrays:
                    continue
                w = per_prompt(arrays, SET_WIN[prompt_set], variant, {})[prompt_set]
                if variant == "base":
                    w = w[:1]  # Base is one run; its arrays repeat it for every seed
                lo, hi = win_interval(w, cfg["bootstrap_draws"], stream)
                rows.append(
                    {
                        "judge": judge,
                        "protocol": protocol,
                        "model": variant,
                        "prompt_set": prompt_set,
                        "win_rate": 100.0 * float(w.mean()),
                        "lo": lo,
                        "hi": hi,
                        "ties": 100.0 * float((w == 0.5).mean()),
                        "prompts": w.shape[1],
                        "seeds": w.shape[0],
                    }
                )
    return pd.DataFrame(rows)


def available(arrays: dict) -> list[str]:
    """The metrics these arrays can give: win rates need the chosen answers' scores."""
    return [
        name
        for name, m in METRICS.items()
        if not m.versus_chosen or all((CHOSEN, s) in arrays for s in m.weights)
    ]


def p_value(metric: str, a: dict, b: dict, draws: int, seed) -> tuple[float, str]:
    """(p, test): exact for a rate with one seed, else a sign-flip permutation test.

    With one greedy response per prompt the values are 0/1 labels: McNemar for one prompt
    set, the exact sign-flip distribution of the labels for CAS. With sampled decoding a
    prompt's value is its mean over k samples (0, 1/k, ..., 1), which label tests would
    miscount: the exact sign-flip distribution of the values themselves on that lattice."""
    weights, labelled = METRICS[metric].weights, METRICS[metric].thresholded
    d = {s: a[s] - b[s] for s in weights}
    if labelled and next(iter(a.values())).shape[0] == 1:
        if not stats.labels_only(*(a[s] for s in weights), *(b[s] for s in weights)):
            p = stats.sign_flip_exact(d, weights)
            if p is not None:
                return p, "exact sign-flip"
        elif len(weights) == 1:
            (s,) = weights
            return stats.mcnemar_exact(a[s][0], b[s][0]), "exact McNemar"
        else:
            return stats.sign_flip_exact_labels(d, weights), "exact sign-flip"
    return stats.sign_flip_p(d, weights, draws, seed), "sign-flip permutation"


LENGTH_COLUMNS = (
    "length_adjusted",
    "length_adjusted_low",
    "length_adjusted_high",
    "length_adjusted_log",
    "length_nonlinear_p",
    "length_extrapolates",
)


def length_columns(lengths: dict | None, metric: str, a: str, b: str, d: dict) -> dict:
    """A mean-score comparison's length sensitivity (``stats.length_adjusted`` and
    ``stats.length_checks``); NaN for rates and where lengths are not known."""
    weights, spec = METRICS[metric].weights, METRICS[metric]
    if lengths is None or spec.thresholded or spec.versus_chosen or len(weights) != 1:
        return dict.fromkeys(LENGTH_COLUMNS, np.nan)
    ((s, w),) = weights.items()
    len_a, len_b = lengths[(a, s)].mean(axis=(0, 2)), lengths[(b, s)].mean(axis=(0, 2))
    dy = w * d[s].mean(axis=0)
    est, low, high = stats.length_adjusted(dy, len_a - len_b)
    return {
        "length_adjusted": est,
        "length_adjusted_low": low,
        "length_adjusted_high": high,
        **stats.length_checks(dy, len_a, len_b),
    }


def compare(
    arrays: dict,
    metric: str,
    a: str,
    b: str,
    limits: dict,
    cfg: dict,
    stream,
    lengths: dict | None = None,
) -> dict:
    """Every statistic of one comparison A - B on ``metric`` (before adjustment; the MDD
    follows at the row's own level, ``with_mdd``). ``stream``: this comparison's
    ``SeedSequence``."""
    weights = METRICS[metric].weights
    va, vb = per_prompt(arrays, metric, a, limits), per_prompt(arrays, metric, b, limits)
    d = {s: va[s] - vb[s] for s in weights}
    boot, flips = stream.spawn(2)
    diff = stats.difference(d, weights) + 0.0  # + 0.0: no "-0" in the tables
    lo, hi = (x + 0.0 for x in stats.bootstrap_interval(d, weights, cfg["bootstrap_draws"], boot))
    p, test = p_value(metric, va, vb, cfg["permutation_draws"], flips)
    per_seed = [
        stats.difference({s: x[i : i + 1] for s, x in d.items()}, weights)
        for i in range(next(iter(d.values())).shape[0])
    ]
    p_seed = seed_level_p(per_seed)
    scores_a = np.concatenate([arrays[(a, s)].ravel() for s in weights])
    scores_b = np.concatenate([arrays[(b, s)].ravel() for s in weights])
    return {
        "metric": metric,
        "a": a,
        "b": b,
        "difference": diff,
        "ci_low": lo,
        "ci_high": hi,
        "p": p,
        "test": test,
        "superiority": stats.superiority(scores_a, scores_b),
        "seeds": len(per_seed),
        "seeds_agree": int(sum(np.sign(x) == np.sign(diff) and x != 0 for x in per_seed)),
        "p_seed": p_seed,
        "n_prompts": "/".join(str(d[s].shape[1]) for s in weights),
        "mdd_note": stats.mdd_note(d, weights),
        **length_columns(lengths, metric, a, b, d),
        "_d": d,
    }


def seed_level_p(per_seed: list[float]) -> float:
    """Two-sided one-sample t-test (k - 1 df) of the k per-seed differences against 0: the
    test of the method, with training seeds as the units (NaN with one seed). Every seed the
    same non-zero difference: p = 0; all zero: p = 1."""
    x = np.asarray(per_seed, dtype=float)
    if x.size < 2:
        return math.nan
    if np.ptp(x) == 0:
        return 0.0 if x[0] != 0 else 1.0
    return float(sps.ttest_1samp(x, 0.0).pvalue)


def pairs_table(
    arrays: dict,
    variants: list[str],
    cfg: dict,
    limits: dict,
    stream,
    lengths: dict | None = None,
) -> pd.DataFrame:
    """Every metric x every pair of models (in ``variants`` order), Holm within each metric;
    each comparison on its own random stream spawned from ``stream``; ``lengths`` (response
    lengths, as ``arrays``) adds the length-adjusted difference of mean scores."""
    pairs = list(combinations(variants, 2))
    streams = iter(stream.spawn(len(METRICS) * len(pairs)))  # by METRICS order: stable
    rows = []
    for metric in available(arrays):
        family = [
            compare(arrays, metric, a, b, limits, cfg, next(streams), lengths) for a, b in pairs
        ]
        for row, p_adj in zip(family, stats.holm([r["p"] for r in family]), strict=True):
            rows.append(row | {"p_holm": p_adj})
    return pd.DataFrame(rows)


def own_levels(p_values: list[float], alpha: float, method: str) -> list[float]:
    """The level each p-value is compared with at its step: Holm's alpha / (m - rank),
    Benjamini-Hochberg's alpha x (rank + 1) / m (rank 0 = the smallest p)."""
    m = len(p_values)
    ranks = np.argsort(np.argsort(p_values, kind="stable"), kind="stable")
    if method == "holm":
        return [alpha / (m - r) for r in ranks]
    return [alpha * (r + 1) / m for r in ranks]


def with_mdd(pairs: pd.DataFrame, cfg: dict) -> pd.DataFrame:
    """The minimum detectable difference of each row's test, at the level its adjusted p
    is compared with (``level``, set by ``adjust`` for the family it was adjusted in), from
    its per-prompt differences."""
    out = pairs.copy()
    out["mdd"] = [
        stats.min_detectable_difference(d, METRICS[m].weights, level, cfg["power"])
        for d, m, level in zip(out["_d"], out["metric"], out["level"], strict=True)
    ]
    return out


def plan_row(row: dict, paper: float | None, pool: int | None, cfg: dict, n_parts: int = 1) -> dict:
    """What would settle a claim that is not separable: prompts per set (at the run's seeds)
    and seeds (at the run's prompts) for ``cfg['power']`` at the row's level, against the
    observed difference, the paper's and the interval's bound nearest 0 on the observed
    side, and whether the keyword filter's candidate pool (``pool`` harmful prompts) can
    supply them (``hhalign.power``).

    A plug-in plan: it takes the observed difference and discordance as the truth. The
    run's test already failed, so no plan is below the run's own prompts and seeds; a run
    whose models agree on every prompt has no observed difference to plan for (NaN);
    ``plan_note`` says so, and when the observed difference has the claim's opposite sign
    (the plan is then for detecting the reversal) or the claim has parts not planned."""
    spec = METRICS[row["metric"]]
    spread = power.spread(row["_d"], spec.weights, rate=spec.thresholded)
    bound = row["ci_low"] if row["difference"] >= 0 else row["ci_high"]
    bound = bound if np.sign(bound) == np.sign(row["difference"]) else 0.0
    out = {}
    for name, delta in (("observed", row["difference"]), ("paper", paper), ("bound", bound)):
        # The observed difference is planned with its own paired variance (exact, per set);
        # any other with the variance it implies at the observed discordance (``needed``).
        at = spread._replace(discordance=math.nan) if name == "observed" else spread
        prompts, seeds = power.needed(
            math.nan if delta is None else delta, *at, row["level"], cfg["power"], spec.weights
        )
        out[f"prompts_for_{name}"] = max(prompts, spread.n)
        out[f"seeds_for_{name}"] = seeds if math.isnan(seeds) else max(seeds, spread.k)
    notes = ["if the observed difference and discordance were the truth"]
    if all(np.all(x == 0) for x in row["_d"].values()):
        out["prompts_for_observed"] = out["seeds_for_observed"] = math.nan
        notes = ["the models agree on every prompt: no observed difference to plan for"]
    elif row["difference"] < 0:
        notes.append("the observed difference is the claim's reverse: planned to detect that")
    if n_parts > 1:
        notes.append(f"only the part shown is planned (1 of {n_parts})")

    def can(name: str) -> str:
        return "unknown" if pool is None else "yes" if out[f"prompts_for_{name}"] <= pool else "no"

    supplies = [f"{name}: {can(name)}" for name in ("observed", "paper")]
    return out | {"pool": pool, "pool_supplies": "; ".join(supplies), "plan_note": "; ".join(notes)}


def variance_table(scores: pd.DataFrame, variants: list[str], cfg: dict) -> pd.DataFrame:
    """Where each one-set metric's uncertainty comes from, per protocol and model: the
    prompt, seed, residual and (with sampled decoding) decoding variance components of its
    per-prompt values and their shares of the variance of the estimate
    (``power.variance_components``)."""
    limits = thresholds(cfg["metrics"])
    rows = []
    for protocol, sub in scores.groupby("protocol", sort=False):
        arrays = score_arrays(sub, variants)
        for variant in variants:
            for metric in available(arrays):
                spec = METRICS[metric]
                if len(spec.weights) != 1:
                    continue
                ((prompt_set, weight),) = spec.weights.items()
                x = weight * per_prompt(arrays, metric, variant, limits, True)[prompt_set]
                if variant == "base":
                    x = x[:1]  # Base is one run; its arrays repeat it for every seed
                y = x.mean(axis=-1)
                comp = power.variance_components(y, x)
                rows.append(
                    {
                        "protocol": protocol,
                        "model": variant,
                        "metric": metric,
                        "seeds": y.shape[0],
                        "prompts": y.shape[1],
                        **comp,
                    }
                )
    return pd.DataFrame(rows)


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


def signed(table: pd.DataFrame, metric: str, a: str, b: str) -> dict:
    """The row of comparison A vs B, flipped if the table holds it as B vs A."""
    hit = table[(table["metric"] == metric) & (table["a"] == a) & (table["b"] == b)]
    if len(hit):
        return hit.iloc[0].to_dict()
    row = table[(table["metric"] == metric) & (table["a"] == b) & (table["b"] == a)].iloc[0]
    row = row.to_dict()
    return row | {
        "a": a,
        "b": b,
        "difference": -row["difference"] + 0.0,  # + 0.0: a tie is never "-0"
        "ci_low": -row["ci_high"] + 0.0,
        "ci_high": -row["ci_low"] + 0.0,
        "superiority": 1 - row["superiority"],
    }


def shift_grid(cfg: dict) -> list[float]:
    """Threshold shifts scanned for each claim: -scan..+scan in steps of ``threshold_step``."""
    n = round(cfg["threshold_scan"] / cfg["threshold_step"])
    return [round(k * cfg["threshold_step"], 10) for k in range(-n, n + 1)]


def rate_differences(
    arrays: dict, variants: list[str], metrics_cfg: dict, shifts: list[float]
) -> dict[float, dict]:
    """shift -> {(metric, A, B): difference of the rates} with both thresholds moved."""
    out = {}
    for shift in shifts:
        limits = thresholds(metrics_cfg, shift)
        rates = {
            (m, v): stats.difference(per_prompt(arrays, m, v, limits), METRICS[m].weights)
            for m in RATES
            for v in variants
        }
        out[shift] = {
            (m, a, b): rates[(m, a)] - rates[(m, b)]
            for m in RATES
            for a in variants
            for b in variants
        }
    return out


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


def adjust(pairs: pd.DataFrame, variants: list[str], cfg: dict, experiments: set[str]):
    """``p_adj``, ``adjustment`` and ``family`` of every row: Holm within each metric's model
    pairs (``claims.family: metric``) or across every comparison the claims use
    (``claims``); Benjamini-Hochberg across the experiment family for experiments."""
    pairs = pairs.assign(family=pairs["metric"], adjustment="Holm, within the metric")
    pairs["p_adj"] = pairs["p_holm"]
    pairs["level"] = np.nan
    for _, group in pairs.groupby(["protocol", "metric"], sort=False):  # Holm's families
        pairs.loc[group.index, "level"] = own_levels(group["p"].tolist(), cfg["alpha"], "holm")
    if cfg["family"] == "claims":
        used = {
            (m, *sorted((a, b), key=variants.index)) for _, _, parts in CLAIMS for m, a, b in parts
        }
        for protocol in pairs["protocol"].unique():
            keys = zip(pairs["metric"], pairs["a"], pairs["b"], strict=True)
            mask = (pairs["protocol"] == protocol) & np.array([key in used for key in keys])
            pairs.loc[mask, "p_adj"] = stats.holm(pairs.loc[mask, "p"].tolist())
            pairs.loc[mask, "level"] = own_levels(
                pairs.loc[mask, "p"].tolist(), cfg["alpha"], "holm"
            )
            pairs.loc[mask, "adjustment"] = "Holm, across the claims' comparisons"
            pairs.loc[mask, "family"] = "claims"
    explore = pairs["protocol"].isin(experiments)
    if explore.any():  # exploration: false discoveries controlled across the experiment family
        pairs.loc[explore, "p_adj"] = stats.benjamini_hochberg(pairs.loc[explore, "p"].tolist())
        pairs.loc[explore, "level"] = own_levels(
            pairs.loc[explore, "p"].tolist(), cfg["alpha"], "bh"
        )
        pairs.loc[explore, "adjustment"] = "Benjamini-Hochberg, across the experiments"
        pairs.loc[explore, "family"] = "experiments"
    return pairs


def response_lengths(scores: pd.DataFrame, variants: list[str]) -> dict | None:
    """``score_arrays`` of the responses' token counts (a missing response has none, not the
    one token "nan"); None when the scores carry no response text."""
    if "response" not in scores:
        return None
    n_tokens = [len(tokens(r)) for r in scores["response"].fillna("").astype(str)]
    return score_arrays(scores.assign(score=n_tokens), variants)


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
    that is not separable gets the planner's columns (``plan_row``; ``pools``: protocol ->
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
    pairs = with_mdd(adjust(pairs, variants, cfg, set(experiments or [])), cfg)
    claims = []
    for protocol, table in pairs.groupby("protocol", sort=False):
        for claim_id, statement, parts in claim_parts(variants):
            verdict, row, ranges = judge_claim(parts, table, shifts[protocol], cfg)
            lo, hi = ranges.get((row["metric"], row["a"], row["b"]), (np.nan, np.nan))
            paper = paper_difference(row["metric"], row["a"], row["b"])
            plan = {}
            if verdict == "not separable":
                plan = plan_row(row, paper, (pools or {}).get(protocol), cfg, len(parts))
            claims.append(
                {
                    "protocol": protocol,
                    "claim": claim_id,
                    "statement": statement,
                    "comparison": part_label((row["metric"], row["a"], row["b"])),
                    "paper": paper,
                    "paper_supports": paper_supports(parts),
                    "difference": row["difference"],
                    "ci_low": row["ci_low"],
                    "ci_high": row["ci_high"],
                    "p_adj": row["p_adj"],
                    "adjustment": row["adjustment"],
                    "test": row["test"],
                    "mdd": row["mdd"],
                    "mdd_note": row["mdd_note"],
                    "superiority": row["superiority"],
                    "seeds_agree": f"{row['seeds_agree']}/{row['seeds']}",
                    "p_seed": row["p_seed"],
                    "n_prompts": row["n_prompts"],
                    "stable_from": lo,
                    "stable_to": hi,
                    "stable_ranges": "; ".join(
                        f"{part_label(part)} "
                        + ("tied (no sign)" if np.isnan(a) else f"[{a:+g}, {b:+g}]")
                        for part, (a, b) in ranges.items()
                        if part[0] in RATES
                    ),
                    "verdict": verdict,
                    "scope": scope(verdict, int(row["seeds"]), resting(verdict, row, parts, table)),
                    **{k: plan.get(k, np.nan) for k in PLAN_COLUMNS},
                }
            )
    cols = ["protocol", "metric", "a", "b"]
    pairs = pairs.drop(columns=["_d"])
    return pd.DataFrame(claims), pairs[cols + [c for c in pairs if c not in cols]]


PLAN_COLUMNS = (
    "prompts_for_observed",
    "seeds_for_observed",
    "prompts_for_paper",
    "seeds_for_paper",
    "prompts_for_bound",
    "seeds_for_bound",
    "pool",
    "pool_supplies",
    "plan_note",
)


def across_seeds(scores: pd.DataFrame, t1: pd.DataFrame, variants: list[str], cfg: dict):
    """Table 1's summary row of each (protocol, model) over its seeds (``seed`` = "all"):
    each metric's mean over seeds, its standard deviation across seeds (``<m>_sd``; NaN
    for Base, which has one run), and a 95% percentile interval from a bootstrap over
    prompts and seeds together (``<m>_lo``, ``<m>_hi``). ``cfg`` as for ``claims_table``."""
    limits = thresholds(cfg["metrics"])
    n = scores["protocol"].nunique() * len(variants) * len(TABLE1)
    streams = iter(np.random.SeedSequence([cfg["seed"], 1]).spawn(n))
    rows = []
    for protocol, sub in scores.groupby("protocol", sort=False):
        arrays = score_arrays(sub, variants)
        for variant in variants:
            per_seed = t1[(t1["protocol"] == protocol) & (t1["model"] == variant)]
            row = {"protocol": protocol, "model": variant, "seed": "all"}
            for col in TABLE1:
                weights = METRICS[col].weights
                values = per_prompt(arrays, col, variant, limits)
                if len(per_seed) == 1:  # Base: one run, its arrays repeat it for every seed
                    values = {s: v[:1] for s, v in values.items()}
                lo, hi = stats.bootstrap_interval(
                    values, weights, cfg["bootstrap_draws"], next(streams)
                )
                row |= {
                    col: float(per_seed[col].mean()),
                    f"{col}_lo": lo,
                    f"{col}_hi": hi,
                    f"{col}_sd": float(per_seed[col].std(ddof=1)),
                }
            for col in ("n_harmful", "n_helpful"):
                row[col] = int(per_seed[col].iloc[0])
            for col in ("empty_harmful", "empty_helpful", "empty_responses"):
                row[col] = int(per_seed[col].sum())
            row["n_seeds"] = len(per_seed)
            rows.append(row)
    return pd.DataFrame(rows)


def with_seed_summary(scores: pd.DataFrame, t1: pd.DataFrame, variants: list[str], cfg: dict):
    """Table 1 with its across-seed rows after each model's per-seed rows (unchanged when
    the run has one seed)."""
    if "seed" not in t1:
        return t1
    summary = across_seeds(scores, t1, variants, cfg)
    order = {v: i for i, v in enumerate(variants)}
    both = pd.concat([t1, summary], ignore_index=True)
    both["_p"] = both["protocol"].map({p: i for i, p in enumerate(scores["protocol"].unique())})
    both["_m"] = both["model"].map(order)
    both["_s"] = both["seed"].astype(str) == "all"
    return both.sort_values(["_p", "_m", "_s"], kind="stable").drop(columns=["_p", "_m", "_s"])
