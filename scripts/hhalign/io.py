"""Small, deterministic file helpers (JSON lines, gzip with a fixed mtime)."""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO


def open_text(path: str | Path) -> TextIO:
    """Open a text file for reading, transparently gunzipping when it ends in .gz."""
    path = Path(path)
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def read_jsonl_lines(path: str | Path) -> Iterator[tuple[int, Any | None, str | None]]:
    """Yield (row index, parsed object or None, error or None) for each line.

    Blank lines are not rows. A line that is not JSON yields an error instead
    of raising, so the caller can account for it as a reject.
    """
    with open_text(path) as f:
        index = 0
        for line in f:
            if not line.strip():
                continue
            try:
                yield index, json.loads(line), None
            except json.JSONDecodeError as err:
                yield index, None, f"invalid_json: {err.msg}"
            index += 1


def read_jsonl(path: str | Path) -> list[dict]:
    """Read a JSON-lines file that must be well formed (our own outputs)."""
    rows = []
    for index, obj, err in read_jsonl_lines(path):
        if err is not None:
            raise ValueError(f"{path}: line {index + 1}: {err}")
        rows.append(obj)
    return rows


def write_jsonl(path: str | Path, rows: Iterable[dict]) -> int:
    """Write rows as JSON lines (UTF-8); return the count.

    A .gz path is compressed with mtime 0 and no file name in the header, so
    the same rows always give the same bytes.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(row, ensure_ascii=False) + "\n" for row in rows]
    data = "".join(lines).encode("utf-8")
    path.write_bytes(gzip.compress(data, mtime=0) if path.suffix == ".gz" else data)
    return len(lines)


def write_json(path: str | Path, obj: Any) -> None:
    """Write one JSON document, indented and with sorted keys."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def stage_logger(name: str, log_file: str | Path | None = None) -> logging.Logger:
    """A logger that writes to stderr and, when given, to the rule's log file."""
    logger = logging.getLogger(f"hhalign.{name}")
    logger.setLevel(logging.INFO)
    logger.handlers.clear()
    fmt = logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s")
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    if log_file:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, mode="w", encoding="utf-8"))
    for h in handlers:
        h.setFormatter(fmt)
        logger.addHandler(h)
    logger.propagate = False
    return logger
