"""Code inputs: each rule reruns when the library modules its entry script imports change."""

from pathlib import Path

from support import ROOT

from hhalign.deps import code_inputs, imported_modules


def test_imported_modules_finds_every_import_form():
    source = (
        "import os\nimport hhalign.metrics\nfrom hhalign.io import read_jsonl\n"
        "from hhalign import tables\ndef f():\n    from hhalign.train import fit\n"
        "from .x import y\n"
    )
    assert imported_modules(source) == {"metrics", "io", "tables", "train"}


def names(entry: str) -> set[str]:
    return {Path(p).name for p in code_inputs(ROOT / "scripts" / entry)}


def test_reporting_code_is_not_an_input_of_training_and_the_reverse():
    assert {"make_tables.py", "metrics.py", "tables.py", "io.py"} <= names("make_tables.py")
    assert {"sft.py", "train.py", "cli.py", "models.py"} <= names("train_sft.py")
    assert "metrics.py" not in names("train_sft.py") | names("train_dpo.py")
    assert "sft.py" not in names("make_tables.py") | names("train_dpo.py")


def test_subpackage_modules_and_their_packages_are_inputs():
    found = code_inputs(ROOT / "scripts" / "run_benchmark.py")
    rel = {str(Path(p).relative_to(ROOT / "scripts" / "hhalign")) for p in found[1:]}
    assert {"bench/__init__.py", "bench/suite.py", "bench/stages.py", "tiny.py"} <= rel
    assert "metrics.py" not in rel
