"""Training-set construction: every raw row ends up in a set or in the rejects file."""

import json

import pytest

from hhalign.data import TooManyRejects, build_training_sets, check_reject_fraction

GOOD = {"chosen": "\n\nHuman: hi\n\nAssistant: hello", "rejected": "\n\nHuman: hi\n\nAssistant: go"}
ROWS = [
    GOOD,
    {"chosen": GOOD["chosen"], "rejected": GOOD["chosen"]},  # sft ok, dpo identical
    {"chosen": "\n\nHuman: hi", "rejected": GOOD["rejected"]},  # no assistant turn
    {"chosen": "\n\nHuman: hi\n\nAssistant: ", "rejected": GOOD["rejected"]},  # empty
    {"chosen": GOOD["chosen"], "rejected": "\n\nHuman: yo\n\nAssistant: go"},  # mismatch
    {"chosen": GOOD["chosen"]},  # missing field
]


@pytest.fixture
def raw_file(tmp_path):
    path = tmp_path / "train.jsonl"
    lines = [json.dumps(r) for r in ROWS] + ["{not json"]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_every_row_is_accounted_for(raw_file):
    result = build_training_sets([("harmless-base", "train", raw_file)])
    assert result.rows_in == 7
    assert dict(result.reject_counts("sft")) == {
        "no_assistant_turn": 1,
        "empty_completion": 1,
        "missing_field": 1,
        "invalid_json": 1,
    }
    assert dict(result.reject_counts("dpo")) == {
        "identical_chosen_rejected": 1,
        "no_assistant_turn": 1,
        "empty_completion": 1,
        "prompt_mismatch": 1,
        "missing_field": 1,
        "invalid_json": 1,
    }
    for name, rows in (("sft", result.sft), ("dpo", result.dpo)):
        assert len(rows) + sum(result.reject_counts(name).values()) == result.rows_in
    assert [r["row"] for r in result.sft] == [0, 1, 4]
    assert result.dpo[0] == {
        "subset": "harmless-base",
        "split": "train",
        "row": 0,
        "prompt": "\n\nHuman: hi\n\nAssistant:",
        "chosen": " hello",
        "rejected": " go",
        "chosen_text": GOOD["chosen"],
        "rejected_text": GOOD["rejected"],
    }
    reject = next(r for r in result.rejects if r["reason"] == "prompt_mismatch")
    assert reject["row"] == 4 and reject["dataset"] == "dpo"


def test_too_many_rejects_fails_naming_the_limit(raw_file):
    result = build_training_sets([("harmless-base", "train", raw_file)])
    with pytest.raises(TooManyRejects, match="max_reject_fraction"):
        check_reject_fraction(result, 0.5)
    assert check_reject_fraction(result, 0.9)["dpo"] == pytest.approx(6 / 7)


def test_no_rows_is_an_error(tmp_path):
    empty = tmp_path / "e.jsonl"
    empty.write_text("")
    with pytest.raises(TooManyRejects, match="no raw rows"):
        check_reject_fraction(build_training_sets([("a", "train", empty)]), 0.1)


def test_real_split_builds_with_few_rejects(real_harmless_test):
    result = build_training_sets([("harmless-base", "test", real_harmless_test)])
    assert result.rows_in == 2312
    assert dict(result.reject_counts("dpo")) == {"empty_completion": 4, "prompt_mismatch": 5}
    assert check_reject_fraction(result, 0.02)["dpo"] < 0.005
    assert all(r["prompt"].endswith("\n\nAssistant:") for r in result.dpo)
