"""Code inputs: each rule reruns when the library modules its entry script imports change."""

from pathlib import Path

from hhalign.deps import code_inputs, imported_modules

ROOT = Path(__file__).resolve().parents[1]


def test_imported_modules_finds_every_import_form():
    source = (
        "import os\nimport hhalign.metrics\nfrom hhalign.io import read_jsonl\n"
        "from hhalign import report\ndef f():\n    from hhalign.train import fit\n"
        "from .x import y\n"
    )
    assert imported_modules(source) == {"metrics", "io", "report", "train"}


def names(entry: str) -> set[str]:
    return {Path(p).name for p in code_inputs(ROOT / "scripts" / entry)}


def test_reporting_code_is_not_an_input_of_training_and_the_reverse():
    assert {"make_tables.py", "metrics.py", "report.py", "io.py"} <= names("make_tables.py")
    assert {"sft.py", "train.py", "cli.py", "models.py"} <= names("train_sft.py")
    assert "metrics.py" not in names("train_sft.py") | names("train_dpo.py")
    assert "sft.py" not in names("make_tables.py") | names("train_dpo.py")
