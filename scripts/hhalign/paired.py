"""The data of a paired comparison: each model's scores as arrays aligned by prompt, and the
per-prompt values a metric averages.

``score_arrays`` turns one protocol's long score table into ``scores[seed, prompt, sample]``
per (variant, prompt set), prompts aligned by id, so that every comparison is paired;
``per_prompt`` gives a metric's per-prompt values (labels, wins or scores, each prompt's
mean over its samples: the prompt is the statistical unit).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hhalign.metrics import METRICS, OPS, wins
from hhalign.runs import CHOSEN
from hhalign.text import tokens

FAILED = "failed"  # arrays[(variant, prompt set, FAILED)]: the responses counted as failures


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


def available(arrays: dict) -> list[str]:
    """The metrics these arrays can give: win rates need the chosen answers' scores."""
    return [
        name
        for name, m in METRICS.items()
        if not m.versus_chosen or all((CHOSEN, s) in arrays for s in m.weights)
    ]


def response_lengths(scores: pd.DataFrame, variants: list[str]) -> dict | None:
    """``score_arrays`` of the responses' token counts (a missing response has none, not the
    one token "nan"); None when the scores carry no response text."""
    if "response" not in scores:
        return None
    n_tokens = [len(tokens(r)) for r in scores["response"].fillna("").astype(str)]
    return score_arrays(scores.assign(score=n_tokens), variants)
