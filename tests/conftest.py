"""Shared fixtures. Every test runs offline: nothing may touch the Hugging Face Hub."""

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


@pytest.fixture
def real_harmless_test() -> Path:
    """The real harmless-base test split from ../shared (skipped when absent)."""
    path = SHARED / "hh-rlhf" / "harmless-base" / "test.jsonl.gz"
    if not path.is_file():
        pytest.skip(f"real data not available at {path}")
    return path


@pytest.fixture
def paper_ratings() -> Path:
    """The authors' released reward scores from ../shared (skipped when absent)."""
    path = SHARED / "paper-release" / "ratings.csv"
    if not path.is_file():
        pytest.skip(f"released ratings not available at {path}")
    return path


@pytest.fixture
def synthetic_helpful() -> list[dict]:
    """A stand-in helpful-base test split (the real one is not in ../shared)."""
    from hhalign.synthetic import generate_rows

    return generate_rows("helpful-base", "test", 200, 0, 0.0)
