"""The configuration reference (docs/configuration.md), generated from the config schema:
every key with its type, default and description. A test regenerates it and fails on drift.

    PYTHONPATH=scripts python -m hhalign.schema_doc > docs/configuration.md   (make docs)
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from hhalign.config import load_schema

HEADER = """# Configuration reference

Generated from `schemas/config.schema.yaml` by `make docs` (a test fails when this file and
the schema disagree). `config.yaml` is the paper's setup; presets (`presets/*.yaml`) and
`--config` override it, and every protocol may override sections under `protocol_overrides`.
Every key below has a default: a config that leaves it out gets that value.

| key | type | default | description |
| --- | --- | --- | --- |
"""


def type_of(node: dict) -> str:
    """A schema node's type, as one short string."""
    kind = node.get("type", "any")
    kinds = kind if isinstance(kind, list) else [kind]
    text = " or ".join(str(k) for k in kinds)
    if "enum" in node:
        text += ": " + ", ".join(json.dumps(v) for v in node["enum"])
    return text


def cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def rows(node: dict, prefix: str = "") -> Iterator[str]:
    """One table row per key, depth first, in the schema's order."""
    for key, child in node.get("properties", {}).items():
        name = f"{prefix}{key}"
        default = child.get("default", "")
        shown = json.dumps(default) if "default" in child else "(required)"
        yield (
            f"| `{name}` | {cell(type_of(child))} | `{cell(shown)}` | "
            f"{cell(child.get('description', ''))} |"
        )
        if child.get("type") == "object" or "properties" in child:
            yield from rows(child, f"{name}.")
        items = child.get("items")
        if isinstance(items, dict) and "properties" in items:
            yield from rows(items, f"{name}[].")


def reference() -> str:
    """The whole reference page."""
    return HEADER + "\n".join(rows(load_schema())) + "\n"


if __name__ == "__main__":
    print(reference(), end="")
