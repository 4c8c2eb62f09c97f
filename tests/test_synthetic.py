"""The synthetic generator: deterministic, varied, with the traps and malformed rows it promises."""

import gzip

from hhalign.data import build_training_sets
from hhalign.raw import fetch_raw
from hhalign.synthetic import SUBSETS, generate_rows

DATA = {"source": "synthetic", "train_split": "train"}
SYN = {
    "seed": 3,
    "train_rows": 300,
    "test_rows": 50,
    "malformed_fraction": 0.05,
    "flipped_fraction": 0.0,
}


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    a, b, c = tmp_path / "a.jsonl.gz", tmp_path / "b.jsonl.gz", tmp_path / "c.jsonl.gz"
    fetch_raw("harmless-base", "train", DATA, SYN, a)
    fetch_raw("harmless-base", "train", DATA, SYN, b)
    fetch_raw("harmless-base", "train", DATA, {**SYN, "seed": 4}, c)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()
    assert len(gzip.decompress(a.read_bytes()).splitlines()) == 300


def test_content_has_the_patterns_the_tiny_world_needs():
    rows = generate_rows("harmless-base", "train", 400, 0, 0.0)
    chosen = [r["chosen"] for r in rows]
    assert sum("kill" in c or "murder" in c for c in chosen) > 40
    assert any("skills" in c for c in chosen) and any("grape" in c for c in chosen)
    assert sum(c.count("\n\nHuman:") > 1 for c in chosen) > 40  # multi-turn
    assert len(set(chosen)) > 200  # varied, not one memorisable string
    refusals = [r for r in rows if "I won't help" in r["chosen"] or "I can't" in r["chosen"]]
    assert refusals and all(r["rejected"] != r["chosen"] for r in refusals)


def test_malformed_rows_are_generated_and_rejected(tmp_path):
    path = tmp_path / "t.jsonl.gz"
    fetch_raw("helpful-base", "train", DATA, SYN, path)
    result = build_training_sets([("helpful-base", "train", path)])
    assert 0 < sum(result.reject_counts("dpo").values()) < 0.15 * result.rows_in


def test_every_subset_generates():
    for subset in SUBSETS:
        assert len(generate_rows(subset, "test", 5, 0, 0.0)) == 5
