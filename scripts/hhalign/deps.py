"""Which library modules a rule's entry script runs, so Snakemake reruns it when they change.

Snakemake tracks a rule's own script but not the modules it imports. Each rule declares
``code_inputs(entry)`` as inputs: the entry script and every ``hhalign`` module it imports,
directly or through other modules. A fix to ``metrics.py`` then rebuilds the tables and
nothing upstream; a fix to ``sft.py`` reruns SFT and what follows.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

PACKAGE = "hhalign"


def imported_modules(source: str, package: Path = Path(__file__).parent) -> set[str]:
    """Dotted names (below ``hhalign``) of the modules of ``package`` that a piece of Python
    source imports, with the packages above them (importing ``x.y`` runs ``x/__init__``)."""
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
            if parts[0] == PACKAGE:
                # a submodule and every package above it (importing it runs their __init__)
                found |= {".".join(parts[1:i]) for i in range(2, len(parts) + 1)}
    return {name for name in found if module_path(package, name)}


def module_path(package: Path, name: str) -> Path | None:
    """The file of a dotted module name inside ``package`` (a module or a subpackage), or
    None where the name is not a module (an imported function or class)."""
    base = package.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def file_imports(path: Path, package: Path) -> frozenset[str]:
    """``imported_modules`` of one file, parsed once per version of the file: every rule's
    inputs share the library's modules (a workflow parse went from 413 parses to 45)."""
    stat = path.stat()
    return _file_imports(str(path), str(package), stat.st_mtime_ns, stat.st_size)


@cache
def _file_imports(path: str, package: str, mtime_ns: int, size: int) -> frozenset[str]:
    return frozenset(imported_modules(Path(path).read_text(), Path(package)))


def code_inputs(entry: str | Path) -> list[str]:
    """The entry script and every library module it imports, transitively, as paths."""
    entry = Path(entry)
    package = entry.parent / PACKAGE
    seen: dict[str, Path] = {}
    todo = set(file_imports(entry, package))
    while todo:
        name = todo.pop()
        seen[name] = path = module_path(package, name)
        todo |= file_imports(path, package) - set(seen)
    return [str(entry), *(str(seen[n]) for n in sorted(seen))]
