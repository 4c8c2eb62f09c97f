"""The labelling sample, its spreadsheet, reading labels back, and what labels give
(hhalign.labels, hhalign.corrected), on a synthetic score table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hhalign.corrected import (
    audit_against_people,
    cell_arrays,
    corrected_pairs,
    corrected_rates,
    judge_against_people,
    labels_html,
    labels_latex,
    labels_plan,
)
from hhalign.labels import join_labels, read_labels, sample_items, sheet_table
from hhalign.metrics import thresholds
from hhalign.responses import TYPES

VARIANTS = ["base", "sft", "dpo", "sft_dpo"]
LIMITS = thresholds(
    {"harmless_threshold": -3, "harmless_op": ">", "helpful_threshold": -2, "helpful_op": ">"}
)


def synthetic_scores(n: int = 40, seed: int = 0) -> pd.DataFrame:
    """A run's long score table: DPO writes commas that the judge likes."""
    rng = np.random.default_rng(seed)
    rows = []
    for prompt_set, v, i in (
        (s, v, i) for s in ("harmful", "helpful") for v in VARIANTS for i in range(n)
    ):
        degenerate = v == "dpo" and i % 2 == 0
        rows.append(
            {
                "protocol": "paper",
                "variant": v,
                "seed": 0,
                "prompt_set": prompt_set,
                "id": f"{prompt_set}-{i}",
                "prompt": f"\n\nHuman: question {i} of {prompt_set}?\n\nAssistant:",
                "response": ",,,,,,,," if degenerate else f"answer {i} by {v}",
                "score": 1.0 if degenerate else float(rng.normal(-2.5, 1.5)),
            }
        )
    return pd.DataFrame(rows)


def person(items: pd.DataFrame) -> pd.DataFrame:
    """A simulated person: agrees with the judge except on degenerate text (no), and unsure
    on every tenth item; marks degenerate text."""
    sheet = sheet_table(items)
    scores = items["score"]
    judge_yes = [s > LIMITS[p][0] for s, p in zip(scores, items["prompt_set"], strict=True)]
    degenerate = items["response"].str.startswith(",")
    sheet["answer"] = np.where(degenerate, "no", np.where(judge_yes, "yes", "no"))
    sheet.loc[sheet["item"] % 10 == 0, "answer"] = "unsure"
    sheet["degenerate"] = np.where(degenerate, "1", "")
    sheet["non_text"] = np.where(degenerate, "1", "")
    sheet["time"] = "2026-12-04T00:00:00Z"
    return sheet


@pytest.fixture
def labelled(tmp_path):
    scores = synthetic_scores()
    items = sample_items(scores, per_cell=20, seed=3)
    with_scores = items.merge(scores[["variant", "prompt_set", "id", "score"]])
    sheet = person(with_scores.sort_values("item").reset_index(drop=True))
    path = tmp_path / "labels.csv"
    sheet.to_csv(path, index=False)
    key = items.drop(columns=["prompt", "response", "question"])
    joined = join_labels(read_labels(str(path)), key).merge(
        scores[["variant", "prompt_set", "id", "score"]]
    )
    return scores, items, joined


def test_sample_is_stratified_blind_and_seeded():
    scores = synthetic_scores()
    items = sample_items(scores, per_cell=10, seed=3)
    assert len(items) == 2 * 4 * 10
    assert items.groupby(["variant", "prompt_set"]).size().eq(10).all()
    per_set = items.groupby("prompt_set")["id"].nunique()
    assert per_set.eq(10).all()  # the same prompts for every model
    assert items.equals(sample_items(scores, per_cell=10, seed=3))
    assert not items["item"].equals(items.sort_values(["variant", "id"])["item"])
    sheet = sheet_table(items)
    assert "variant" not in sheet and "model" not in sheet
    assert sheet["dialogue"].iloc[0].startswith("Human: question")


def test_sheet_reads_back(tmp_path):
    items = sample_items(synthetic_scores(), per_cell=5, seed=1)
    sheet = sheet_table(items)
    sheet.loc[0, "answer"], sheet.loc[1, "answer"], sheet.loc[2, "refusal"] = "Yes ", "unsure", "1"
    sheet.to_csv(tmp_path / "s.csv", index=False)
    back = read_labels(str(tmp_path / "s.csv"))
    assert back["item"].tolist() == sheet["item"].iloc[:3].tolist()
    assert back["answer"].tolist()[:2] == ["yes", "unsure"] and back["refusal"].iloc[2] == 1
    sheet.loc[0, "answer"] = "maybe"
    sheet.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(ValueError, match="yes, no or unsure"):
        read_labels(str(tmp_path / "bad.csv"))


def test_join_stops_on_unknown_or_stale_items(labelled, tmp_path):
    _, items, _ = labelled
    key = items.drop(columns=["prompt", "response", "question"])
    labels = pd.DataFrame({"item": [10_000], "answer": ["yes"]})
    with pytest.raises(ValueError, match="not in this run's sample"):
        join_labels(labels, key)
    stale = pd.DataFrame({"item": [1], "answer": ["yes"], "check": ["00000000"]})
    with pytest.raises(ValueError, match="text differs"):
        join_labels(stale, key)


def test_judge_and_audit_against_people(labelled):
    _, _, joined = labelled
    table = judge_against_people(joined, LIMITS, draws=50)
    assert set(table["prompt_set"]) == {"harmful", "helpful"}
    cells = table[[c for c in table if c.startswith("judge_")]].sum(axis=1)
    assert (cells == table["labelled"]).all()
    assert (table["judge_pass_people_no"] > 0).all()  # the commas
    assert (table["judge_fail_people_yes"] == 0).all()
    assert (table["accuracy"] < 1).all() and (table["kappa"] < 1).all()
    audit = joined[["protocol", "variant", "seed", "prompt_set", "id", *TYPES]].copy()
    audit[list(TYPES)] = 0
    audit["degenerate"] = joined["degenerate"]
    vs = audit_against_people(joined, audit).set_index("type")
    assert vs.loc["degenerate", "precision"] == 1 and vs.loc["degenerate", "recall"] == 1
    assert np.isnan(vs.loc["non_text", "precision"]) and vs.loc["non_text", "recall"] == 0


def test_corrected_rates_remove_the_judges_error(labelled):
    scores, _, joined = labelled
    arrays = cell_arrays(scores, joined, LIMITS, VARIANTS)
    table = corrected_rates(arrays, VARIANTS).set_index(["model", "metric"])
    dpo = table.loc[("dpo", "HmR")]
    assert dpo["judge"] > 50 and dpo["correction"] < -20  # half its answers are commas
    assert dpo["ci_low"] <= dpo["estimate"] <= dpo["ci_high"]
    assert abs(table.loc[("base", "HmR"), "correction"]) < 1e-9  # the person agrees there
    cas = table.loc[("dpo", "CAS")]
    half = (table.loc[("dpo", "HmR"), "estimate"] + table.loc[("dpo", "HpR"), "estimate"]) / 2
    assert cas["estimate"] == pytest.approx(half)
    pairs = corrected_pairs(arrays, VARIANTS).set_index(["a", "b", "metric"])
    row = pairs.loc[("base", "dpo", "HmR")]
    rates = table["estimate"]
    assert row["estimate"] == pytest.approx(rates[("base", "HmR")] - rates[("dpo", "HmR")])
    assert len(pairs) == 6 * 3


def test_the_report_section(labelled):
    scores, _, joined = labelled
    judge = judge_against_people(joined, LIMITS, draws=20)
    table = corrected_rates(cell_arrays(scores, joined, LIMITS, VARIANTS), VARIANTS)
    tex = labels_latex(judge, table)
    assert tex.count(r"\begin{tabular}") == 2 and "SFT+DPO" in tex
    page = labels_html(judge, judge.head(0), table, "tiny")
    assert "The judge against people" in page and "<table" in page


def test_the_labels_planner(labelled):
    """40 prompts: the judge's own part alone is about 30 points wide for DPO's HmR, so no
    number of labels brings it to 5 points (-1); 40 points takes more labels."""
    scores, _, joined = labelled
    arrays = cell_arrays(scores, joined, LIMITS, VARIANTS)
    plan = labels_plan(corrected_rates(arrays, VARIANTS, 40.0), 40.0).set_index(["model", "metric"])
    dpo = plan.loc[("dpo", "HmR")]
    assert dpo["ci_high"] - dpo["ci_low"] > 40 and dpo["more_labels"] > 0
    assert dpo["labels_for_width"] == dpo["n_labelled"] + dpo["more_labels"]
    narrow = labels_plan(corrected_rates(arrays, VARIANTS, 5.0), 5.0).set_index(["model", "metric"])
    assert narrow.loc[("dpo", "HmR"), "more_labels"] == -1
