"""Code inputs: each rule reruns when the library modules its entry script imports change."""

from pathlib import Path

import pytest
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


def library_graph() -> dict[str, set[str]]:
    """module -> the package modules it imports (any import form, anywhere in the file)."""
    package = ROOT / "scripts" / "hhalign"
    graph = {}
    for path in package.rglob("*.py"):
        rel = path.relative_to(package).with_suffix("")
        name = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        parents = {".".join(rel.parts[:i]) for i in range(1, len(rel.parts))}
        graph[name] = imported_modules(path.read_text(), package) - {name, ""} - parents
    return graph


TRAINING = ("train_sft.py", "train_dpo.py")
# What training must never count as its code: evaluation, judging, scoring, the config
# validation, the claims and the run plan (issue 40: a docstring fix in the judge code reran
# all training, hours on a GPU).
NOT_TRAINING = {
    "judges.py",
    "scoring.py",
    "generation.py",
    "config.py",
    "plan.py",
    "claims.py",
    "comparisons.py",
    "responses.py",
    "metrics.py",
    "batching.py",
}


def test_training_code_inputs_hold_no_evaluation_judge_config_claims_or_plan_module():
    for entry in TRAINING:
        assert not names(entry) & NOT_TRAINING, (entry, names(entry) & NOT_TRAINING)
    for entry in ("generate_responses.py", "score_responses.py", "build_datasets.py"):
        assert not names(entry) & {"judges.py", "config.py", "plan.py", "claims.py"}, entry
    assert "judges.py" not in names("build_tiny_models.py")  # the tiny policy's world


def test_table1_does_not_depend_on_the_response_audit():
    """Before: make_tables imported claims, which imported responses (for its tokens)."""
    assert not names("make_tables.py") & {"responses.py", "strict.py", "figures.py"}


def test_the_library_import_graph_is_acyclic():
    """claims and responses imported each other (hidden by a function-level import)."""
    graph, state = library_graph(), {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            assert state.get(nxt) != "open", f"import cycle: {' -> '.join([*path, nxt])}"
            if nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])


def test_library_modules_import_the_package_at_the_top():
    """One import rule: package modules are imported at the top; only one that brings a heavy
    library (torch, trl) may be deferred, its reason on the line ("# imports torch: ...")."""
    import ast

    for path in (ROOT / "scripts" / "hhalign").rglob("*.py"):
        lines = path.read_text().splitlines()
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.FunctionDef):
                continue
            for inner in ast.walk(node):
                if isinstance(inner, ast.ImportFrom) and (inner.module or "").startswith("hhalign"):
                    line = lines[inner.lineno - 1]
                    assert "  # imports " in line, f"{path.name}:{inner.lineno}: {line.strip()}"


def test_code_inputs_are_relative_to_the_working_directory():
    """A moved checkout must see the same input paths (rules/common.smk: code)."""
    text = (ROOT / "rules" / "common.smk").read_text()
    assert "os.path.relpath(p) for p in paths" in text
    assert "workflow.basedir}/scripts" not in (ROOT / "rules" / "train.smk").read_text()


@pytest.mark.dag
def test_every_package_import_of_the_entry_scripts_and_tests_resolves():
    """Entry scripts run only inside Snakemake jobs, so a name moved out of a module breaks a
    rule, not a unit test (a merge left two rules importing io.read_score_files after it
    moved to readers): every ``from hhalign... import name`` must resolve."""
    import ast
    import importlib

    files = [*(ROOT / "scripts").glob("*.py"), *(ROOT / "scripts" / "hhalign").rglob("*.py")]
    missing = []
    for path in [*files, *(ROOT / "tests").glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.ImportFrom) and (node.module or "").startswith("hhalign")):
                continue
            module = importlib.import_module(node.module)
            for alias in node.names:
                if not hasattr(module, alias.name):
                    try:
                        importlib.import_module(f"{node.module}.{alias.name}")
                    except ImportError:
                        missing.append(f"{path.name}: {node.module}.{alias.name}")
    assert not missing, missing


def test_library_modules_and_functions_stay_readable():
    """One job per module: no library module over 450 lines, no function in scripts/ over 60
    (docs/development.md)."""
    import ast

    long_modules, long_functions = [], []
    for path in sorted((ROOT / "scripts").rglob("*.py")):
        text = path.read_text()
        name = str(path.relative_to(ROOT))
        if "hhalign" in path.parts and len(text.splitlines()) > 450:
            long_modules.append(name)
        for node in ast.walk(ast.parse(text)):
            function = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            if function and node.end_lineno - node.lineno + 1 > 60:
                long_functions.append(f"{name}:{node.lineno} {node.name}")
    assert not long_modules and not long_functions, long_modules + long_functions
