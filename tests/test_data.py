"""Training-set construction: every raw row ends up in a set or in the rejects file."""

import gzip
import json

import pytest

from hhalign.data import EmptyRawFile, TooManyRejects, build_training_sets, check_reject_fraction

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


@pytest.mark.parametrize("content", [b"", gzip.compress(b"", mtime=0), b"\n\n"])
def test_an_empty_raw_file_stops_naming_it(tmp_path, raw_file, content):
    """0 bytes, a gzip of nothing, blank lines: what an interrupted copy leaves. Before,
    the study trained without that subset and the rule returned 0."""
    empty = tmp_path / ("harmless-base.jsonl" if content == b"\n\n" else "harmless-base.jsonl.gz")
    empty.write_bytes(content)
    files = [("helpful-base", "train", raw_file), ("harmless-base", "train", empty)]
    with pytest.raises(
        EmptyRawFile, match=r"harmless-base.jsonl(.gz)? \(harmless-base/train\) has"
    ):
        build_training_sets(files)


def test_counts_per_raw_file_add_up(raw_file, tmp_path):
    other = tmp_path / "other.jsonl"
    other.write_text(json.dumps(GOOD) + "\n")
    result = build_training_sets([("a", "train", raw_file), ("b", "train", other)])
    by_file = result.by_file()
    assert by_file["b/train"] == {
        "rows_in": 1,
        "sft_out": 1,
        "dpo_out": 1,
        "sft_rejects": {},
        "dpo_rejects": {},
    }
    a = by_file["a/train"]
    assert a["rows_in"] == 7 and a["sft_out"] == 3 and a["dpo_out"] == 1
    for name in ("sft", "dpo"):
        assert a[f"{name}_out"] + sum(a[f"{name}_rejects"].values()) == a["rows_in"]
    assert a["dpo_rejects"]["prompt_mismatch"] == 1


def test_an_empty_raw_file_is_refused_where_it_is_fetched(tmp_path):
    """data.source local, the release copy's file empty: rule fetch_raw_data stops naming
    it, and leaves no output behind."""
    from hhalign.io import CorruptFileError
    from hhalign.raw import fetch_raw

    src = tmp_path / "release" / "harmless-base"
    src.mkdir(parents=True)
    (src / "train.jsonl.gz").write_bytes(gzip.compress(b"", mtime=0))
    data = {"source": "local", "local_dir": str(tmp_path / "release"), "train_split": "train"}
    out = tmp_path / "raw.jsonl.gz"
    with pytest.raises(CorruptFileError, match=r"release/harmless-base/train.jsonl.gz has no rows"):
        fetch_raw("harmless-base", "train", data, None, out)
    assert not out.exists()


def test_real_split_builds_with_few_rejects(real_harmless_test):
    result = build_training_sets([("harmless-base", "test", real_harmless_test)])
    assert result.rows_in == 2312
    assert dict(result.reject_counts("dpo")) == {"empty_completion": 4, "prompt_mismatch": 5}
    assert check_reject_fraction(result, 0.02)["dpo"] < 0.005
    assert all(r["prompt"].endswith("\n\nAssistant:") for r in result.dpo)
