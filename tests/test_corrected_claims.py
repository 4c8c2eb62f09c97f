"""Claims judged a third way, on judge-corrected rates (hhalign.corrected_claims): a person's
labels that undo the judge's taste for commas change the verdicts the commas carried, and
leave the others."""

import numpy as np
import pandas as pd
from test_strict import CFG, VARIANTS, world

from hhalign.claims import claims_table
from hhalign.corrected import cell_arrays, corrected_pairs
from hhalign.corrected_claims import corrected_columns, verdict_of
from hhalign.metrics import thresholds
from hhalign.sentences import claim_sentence
from hhalign.strict import strict_tables


def person(scores: pd.DataFrame, commas: np.ndarray) -> pd.DataFrame:
    """Every response labelled: people agree with the judge except on DPO's helpful
    responses marked in ``commas`` (the judge passes them; people say no)."""
    limits = thresholds(CFG["metrics"])
    rows = []
    for r in scores.itertuples():
        threshold, _ = limits[r.prompt_set]
        y = float(r.score > threshold)
        j = int(r.id.split("-")[1])
        if r.variant == "dpo" and r.prompt_set == "helpful" and commas[j]:
            y = 0.0
        rows.append(
            {
                "protocol": r.protocol,
                "variant": r.variant,
                "seed": 0,
                "prompt_set": r.prompt_set,
                "id": r.id,
                "y": y,
                "answer": "yes" if y else "no",
            }
        )
    return pd.DataFrame(rows)


def third_way(commas: np.ndarray) -> pd.DataFrame:
    scores, failing = world(np.zeros(50), np.zeros(50, dtype=bool))
    claims, pairs = claims_table(scores, VARIANTS, CFG)
    shifts = strict_tables(scores, failing, VARIANTS, CFG)[1]
    arrays = cell_arrays(scores, person(scores, commas), thresholds(CFG["metrics"]), VARIANTS)
    corrected = corrected_pairs(arrays, VARIANTS)
    return corrected_columns(claims, pairs, shifts, corrected, VARIANTS, CFG)


def test_people_who_agree_leave_every_verdict():
    out = third_way(np.zeros(50, dtype=bool))
    assert (out["corrected_verdict"] == out["verdict"]).all()
    assert (out["corrected_note"] == "").all()


def test_commas_the_judge_passed_lose_their_verdict():
    commas = np.arange(50) >= 25  # DPO's helpful passes beyond Base's are all commas
    out = third_way(commas)
    changed = out[out["corrected_verdict"] != out["verdict"]]
    assert len(changed) > 0
    assert (changed["corrected_note"].str.contains("corrected")).all()
    claim = out.set_index("claim").loc["dpo_beats_base_hpr"]  # HpR: dpo - base, +50 judged
    assert claim["verdict"] == "holds" and claim["corrected_verdict"] == "not separable"
    assert claim["difference"] == 50 and abs(claim["corrected_difference"]) < 1e-9
    means = out.set_index("claim").loc["dpo_lags_sft_helpful"]  # a mean score: no people's
    assert np.isnan(means["corrected_difference"])  # counterpart, its judged direction kept
    assert means["corrected_verdict"] == means["verdict"]
    assert "Corrected" in claim_sentence(changed.iloc[0])


def test_verdict_of_combines_as_judged():
    assert verdict_of([1, 1]) == "holds"
    assert verdict_of([1, 0]) == "not separable"
    assert verdict_of([-1]) == "reversed"
    assert verdict_of([1, -1]) == "refuted (1 of 2 parts reversed)"
