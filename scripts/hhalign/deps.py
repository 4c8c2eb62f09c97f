"""Which library modules a rule's entry script runs, so Snakemake reruns it when they change.

Snakemake tracks a rule's own script but not the modules it imports. Each rule declares
``code_inputs(entry)`` as inputs: the entry script and every ``hhalign`` module it imports,
directly or through other modules. A fix to ``metrics.py`` then rebuilds the tables and
nothing upstream; a fix to ``sft.py`` reruns SFT and what follows.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = "hhalign"


def imported_modules(source: str) -> set[str]:
    """Names of the ``hhalign`` modules that a piece of Python source imports."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == PACKAGE and len(parts) > 1:
                found.add(parts[1])
    return found


def code_inputs(entry: str | Path) -> list[str]:
    """The entry script and every library module it imports, transitively, as paths."""
    entry = Path(entry)
    package = entry.parent / PACKAGE
    seen: set[str] = set()
    todo = imported_modules(entry.read_text())
    while todo:
        name = todo.pop()
        path = package / f"{name}.py"
        if name in seen or not path.is_file():
            continue
        seen.add(name)
        todo |= imported_modules(path.read_text()) - seen
    return [str(entry), *(str(package / f"{n}.py") for n in sorted(seen))]
