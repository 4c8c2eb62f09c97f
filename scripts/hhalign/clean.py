"""Cleaner preference pairs: a judge scores each DPO training pair's chosen and rejected
response, and pairs it ranks the other way (or by less than a margin) are set aside.

The authors blame DPO's weak showing on pairs whose chosen response is no better than the
rejected one; training on the pairs a judge agrees with tests that explanation. The dropped
pairs, with both scores, go to a file a person can read.
"""

from __future__ import annotations

import pandas as pd

from hhalign.scoring import score_pairs


def judge_pairs(
    model,
    tokenizer,
    pairs: pd.DataFrame,
    batch_size: int,
    max_length: int,
    max_batch_tokens: int | None = None,
) -> pd.DataFrame:
    """``pairs`` with the judge's ``chosen_score``, ``rejected_score`` and their ``margin``,
    each response scored with its explicit prompt as a text pair, as responses are."""
    prompts = pairs["prompt"].tolist()
    scores = {
        side: score_pairs(
            model,
            tokenizer,
            prompts,
            pairs[side].tolist(),
            batch_size,
            max_length,
            max_batch_tokens=max_batch_tokens,
        )[0]
        for side in ("chosen", "rejected")
    }
    return pairs.assign(
        chosen_score=scores["chosen"],
        rejected_score=scores["rejected"],
        margin=[c - r for c, r in zip(scores["chosen"], scores["rejected"], strict=True)],
    )


def split_pairs(scored: pd.DataFrame, margin: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(kept, dropped): a pair is kept when the judge scores its chosen response above the
    rejected one by more than ``margin`` (0: ranked the same way as the data)."""
    keep = scored["margin"] > margin
    return scored[keep].reset_index(drop=True), scored[~keep].reset_index(drop=True)
