"""Every "Fix:" a message gives names only config keys that exist: the dotted keys of every
fix text in the library and the entry scripts, collected from the source, are looked up in
the config schema."""

import ast
import re
from pathlib import Path

import yaml
from support import ROOT

SCHEMA = yaml.safe_load((ROOT / "schemas" / "config.schema.yaml").read_text())
# A dotted name (``release.local_dir``, ``judges[].guard.labels``), a part of it possibly a
# placeholder of an f-string (``{}``): ``prompts.n_{what}``, ``release.{key}``.
DOTTED = re.compile(
    r"(?<![\w./{}-])([a-z][a-z0-9_]*(?:\[\])?(?:\.(?:[a-z0-9_]*\{\}|[a-z0-9_]+(?:\[\])?))+)"
)
FILE_TYPES = {"json", "jsonl", "yaml", "yml", "csv", "md", "tex", "html", "py", "gz", "smk", "txt"}


def resolve(node: dict) -> dict:
    """A schema node with its ``$ref`` followed."""
    while "$ref" in node:
        node = SCHEMA["$defs"][node["$ref"].split("/")[-1]]
    return node


def children(node: dict, part: str) -> dict | None:
    """The schema node of ``part`` (``name`` or ``name[]``) under ``node``, or None."""
    name, items = part.removesuffix("[]"), part.endswith("[]")
    child = resolve(node).get("properties", {}).get(name)
    if child is None:
        return None
    return resolve(resolve(child)["items"]) if items else resolve(child)


def problem(key: str) -> str | None:
    """Why a dotted name in a fix is not a config key (None when it is one, or when it is not
    meant as one: its first part is no top-level section, or it names a file)."""
    parts = key.split(".")
    if parts[0].removesuffix("[]") not in SCHEMA["properties"] or parts[-1] in FILE_TYPES:
        return None
    node = resolve(SCHEMA)
    for i, part in enumerate(parts):
        if part == "{}":
            return f"{key}: a key built at run time, not one the message names"
        if part.endswith("{}"):  # a key's first letters, its end a placeholder
            names = resolve(node).get("properties", {})
            ok = any(n.startswith(part[:-2]) for n in names) and len(part) > 2
            return None if ok else f"{key}: no key under {'.'.join(parts[:i])} starts so"
        node = children(node, part)
        if node is None:
            return f"{key}: no such key ({part} under {'.'.join(parts[:i]) or 'the top level'})"
    return None


def text(node: ast.AST) -> str:
    """A string literal's text, an f-string's with ``{}`` for each placeholder."""
    if isinstance(node, ast.Constant):
        return node.value
    return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)


def fix_texts(path: Path) -> list[tuple[int, str]]:
    """(line, text) of each fix in a module: the part after "Fix:" of a string literal, and
    every string assigned to or returned as a fix (a name or function with "fix" in it)."""
    tree = ast.parse(path.read_text())
    inner = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in ast.walk(n)} - {
        id(n) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr)
    }
    fixes = set()
    for n in ast.walk(tree):
        named = isinstance(n, ast.Assign) and any("fix" in ast.unparse(t) for t in n.targets)
        if named or (isinstance(n, ast.FunctionDef) and "fix" in n.name):
            fixes |= {id(v) for v in ast.walk(n)}
    out = []
    for n in ast.walk(tree):
        if id(n) in inner or not isinstance(n, ast.Constant | ast.JoinedStr):
            continue
        if isinstance(n, ast.Constant) and not isinstance(n.value, str):
            continue
        s = text(n)
        if "Fix:" in s:
            out.append((n.lineno, s.split("Fix:", 1)[1]))
        elif id(n) in fixes:
            out.append((n.lineno, s))
    return out


def test_the_key_check_sees_real_and_invented_keys():
    assert problem("release.local_dir") is None and problem("judges[].guard.labels") is None
    assert problem("prompts.n_{}") is None and problem("data.yaml") is None
    assert "no such key" in problem("release.prompts_harmful")
    assert "built at run time" in problem("release.{}")


def test_every_fix_names_only_config_keys_that_exist():
    wrong = []
    for path in sorted((ROOT / "scripts").rglob("*.py")):
        for line, fix in fix_texts(path):
            for key in DOTTED.findall(fix):
                if why := problem(key):
                    wrong.append(f"{path.relative_to(ROOT)}:{line}: {why}")
    assert not wrong, "\n".join(wrong)
