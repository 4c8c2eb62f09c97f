"""Shared fixtures, the one tiny world every test module uses among them. Every test runs
offline: nothing may touch the Hugging Face Hub."""

import os
from pathlib import Path

from support import CORES, SHARED, tiny_config

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# A worker's torch and BLAS threads, and those of every process it starts, fit its share of
# the cores (set before numpy and torch are imported; support.worker_cores says why).
for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(name, CORES)

import pandas as pd  # noqa: E402
import pytest  # noqa: E402


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


@pytest.fixture(scope="session")
def tiny_cfg() -> dict:
    """The tiny preset's validated config."""
    return tiny_config()


@pytest.fixture(scope="session")
def tiny_rows() -> list[dict]:
    """Synthetic harmless-base training dialogues (the tiny world's corpus)."""
    from hhalign.synthetic import generate_rows

    return generate_rows("harmless-base", "train", 200, 0, 0.0)


@pytest.fixture(scope="session")
def tiny_world(tiny_cfg, tiny_rows, tmp_path_factory) -> dict:
    """The tiny world, built once per session from the tiny preset: the policy and judge
    (``models``: role -> (model, tokenizer); on disk under ``root/<role>``) and the SFT and
    DPO sets built from ``tiny_rows`` by the data stage (``root/{sft,dpo}.parquet``)."""
    import torch

    from hhalign.data import build_training_sets
    from hhalign.io import write_jsonl
    from hhalign.tiny import build_tiny_world

    root = tmp_path_factory.mktemp("tiny-world")
    raw = root / "raw.jsonl"
    write_jsonl(raw, tiny_rows)
    sets = build_training_sets([("harmless-base", "train", raw)])
    pd.DataFrame(sets.sft).to_parquet(root / "sft.parquet")
    pd.DataFrame(sets.dpo).to_parquet(root / "dpo.parquet")
    torch.manual_seed(0)
    models = build_tiny_world([r["text"] for r in sets.sft], tiny_cfg["tiny"])
    for role, (model, tok) in models.items():
        model.eval()
        model.save_pretrained(root / role)
        tok.save_pretrained(root / role)
    return {"root": root, "cfg": tiny_cfg, "models": models, "rows": tiny_rows}


# The modules whose shared runs take minutes, longest first. `make test` keeps this order
# (--no-loadscope-reorder), so the two workers start them side by side, one pair each (the
# Snakemake run of the DVC flow with the benchmark, the two policy runs with the Hub-cache
# run), and the short modules fill in around them.
LONG_FIRST = (
    "test_e2e.py",
    "test_policies.py",
    "test_methods_run.py",
    "test_bench.py",
    "test_hub.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Start the long modules first (stable: the rest keep their order)."""
    rank = {name: i for i, name in enumerate(LONG_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))
