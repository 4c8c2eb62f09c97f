"""Small, deterministic file helpers (JSON lines, gzip with a fixed mtime, score files)."""

from __future__ import annotations

import csv
import gzip
import json
import logging
import sys
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import pandas as pd

from hhalign.failures import failure_line


def open_text(path: str | Path) -> TextIO:
    """Open a text file for reading, transparently gunzipping when it ends in .gz."""
    path = Path(path)
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


class CorruptFileError(OSError):
    """A file that cannot be read to its end (truncated gzip, bad bytes); names the file."""


def read_jsonl_lines(path: str | Path) -> Iterator[tuple[int, Any | None, str | None]]:
    """Yield (row index, parsed object or None, error or None) for each line.

    Blank lines are not rows. A line that is not JSON yields an error instead
    of raising, so the caller can account for it as a reject. A file that cannot
    be read to its end (a truncated download) raises ``CorruptFileError`` naming it.
    """
    index = 0
    try:
        with open_text(path) as f:
            for line in f:
                if not line.strip():
                    continue
                try:
                    yield index, json.loads(line), None
                except json.JSONDecodeError as err:
                    yield index, None, f"invalid_json: {err.msg}"
                index += 1
    except (EOFError, gzip.BadGzipFile, zlib.error, UnicodeDecodeError) as err:
        raise CorruptFileError(
            f"{path} is corrupt after {index} rows ({type(err).__name__}: {err}); it was "
            f"probably cut short while downloading or copying. Fix: delete it and fetch it again"
        ) from err


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


def stage_logger(
    name: str,
    log_file: str | Path | None = None,
    writing: Iterable[str] = (),
    stale: Iterable[str] = (),
) -> logging.Logger:
    """A logger that writes to stderr and, when given, to the rule's log file.

    The handlers sit on the package logger ``hhalign``, so what library modules log
    (``hhalign.models``: which commit a revision resolved to) lands in the same log.
    ``writing`` names the job's outputs, for the failure line of a full disk; ``stale``,
    files made from what this job writes that a failure leaves stale (Snakemake removes a
    failed job's own outputs, not those of the jobs after it): a failure removes them.
    """
    package = logging.getLogger("hhalign")
    package.setLevel(logging.INFO)
    package.handlers.clear()
    fmt = logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s")
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    if log_file:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, mode="w", encoding="utf-8"))
    for h in handlers:
        h.setFormatter(fmt)
        package.addHandler(h)
    package.propagate = False
    logger = logging.getLogger(f"hhalign.{name}")
    logger.handlers.clear()
    logger.setLevel(logging.INFO)
    logger.propagate = True
    if log_file:
        log_uncaught_exceptions(logger, [str(w) for w in writing], [str(f) for f in stale])
    return logger


def log_failure(
    logger: logging.Logger, err: BaseException, writing: list[str], needed: int | None = None
) -> None:
    """Log ``err``'s traceback, then, as the last line, its cause and fix (``failures``).

    Progress bars still open are closed first, so none prints after the cause.
    """
    from tqdm import tqdm

    for bar in list(getattr(tqdm, "_instances", ())):
        bar.close()
    logger.error("traceback:", exc_info=(type(err), err, err.__traceback__))
    logger.error("%s", failure_line(err, writing, needed))


def remove_stale(logger: logging.Logger, stale: Iterable[str]) -> None:
    """Remove the files in ``stale`` that exist, saying so."""
    for path in map(Path, stale):
        if path.is_file():
            path.unlink()
            logger.warning("removed %s: it was made from what this job failed to write", path)


def log_uncaught_exceptions(
    logger: logging.Logger, writing: list[str] = (), stale: list[str] = ()
) -> None:
    """Send an uncaught exception's traceback and cause to ``logger`` (the rule's log file
    and stderr), so a failing job's log ends with why it failed; Snakemake points users to
    that file. The ``stale`` files a failure leaves are removed first."""

    def hook(kind, value, tb):
        remove_stale(logger, stale)
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, value, tb)
            return
        log_failure(logger, value, list(writing))

    sys.excepthook = hook


class StageFileError(ValueError):
    """A file one stage wrote and another reads that is not what its writer writes (rows,
    ids, columns, scores); the message names the file, its rows and ids, the rule that
    wrote it and the fix (``hhalign.readers``)."""


class ScoreFileError(StageFileError):
    """A score file with a missing or non-numeric score; the message names file, rows, fix."""


BOOL_TEXT = {"True": True, "False": False, "true": True, "false": False, "": None}
SCORE_COLUMNS = ["id", "prompt", "response", "score", "empty_response", "truncated_input"]


def score_frame(rows: list[dict], scores: list[float], truncated: list) -> pd.DataFrame:
    """The one builder of a score file's table (every judge kind, the audit import): a row
    per response with its prompt id, its ``sample`` index where the responses were sampled
    (``generation.samples`` > 1), prompt, response, score, whether the response is empty,
    and whether the judge's input was cut (None: not recorded)."""
    samples = {"sample": [r["sample"] for r in rows]} if rows and "sample" in rows[0] else {}
    return pd.DataFrame(
        {
            "id": [r["id"] for r in rows],
            **samples,
            "prompt": [r["prompt"] for r in rows],
            "response": [r["response"] for r in rows],
            "score": scores,
            "empty_response": [not str(r["response"]).strip() for r in rows],
            "truncated_input": truncated,
        },
        columns=SCORE_COLUMNS[:1] + list(samples) + SCORE_COLUMNS[1:],
    )


def read_csv_text(path: str | Path, name: str, fix: str) -> pd.DataFrame:
    """A CSV file as text columns; one that is empty or does not parse (cut in the middle
    of a quoted field) stops naming the file (as ``name``), what pandas says and ``fix``."""
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError as err:
        raise ScoreFileError(f"{name}: the file is empty (not even a header). {fix}") from err
    except pd.errors.ParserError as err:
        raise ScoreFileError(
            f"{name}: not a whole CSV file ({str(err).strip()}): it was probably cut short "
            f"(a full disk, a killed copy). {fix}"
        ) from err


def read_scores(path: str | Path, name: str | None = None, fix: str | None = None) -> pd.DataFrame:
    """One score file of rule score_responses (or the audit import).

    Text columns stay text (a response reading "NaN" or "null" is a response); the
    ``score`` column is parsed as numbers. A file that does not parse, or a score that is
    empty, not a number, NaN or infinite, stops the run naming the file, the rows (1-based,
    after the header) with their ids, and the fix (``name`` and ``fix``: as
    ``hhalign.readers`` names the file and the rule that wrote it).
    """
    name = name or str(path)
    fix = fix or (
        f"Fix: rescore this file (delete it, or `snakemake {path} --forcerun "
        "score_responses`), or correct the rows by hand"
    )
    df = read_csv_text(path, name, fix)
    if "score" not in df.columns:
        raise ScoreFileError(f"{name}: no 'score' column (columns: {list(df.columns)}). {fix}")
    scores = pd.to_numeric(df["score"].str.strip(), errors="coerce")
    bad = np.flatnonzero(~np.isfinite(scores.to_numpy(dtype=float)))
    if len(bad):
        shown = ", ".join(
            f"row {i + 1} (id {df['id'].iloc[i] if 'id' in df else '?'}: {df['score'].iloc[i]!r})"
            for i in bad[:10]
        )
        more = f" and {len(bad) - 10} more" if len(bad) > 10 else ""
        raise ScoreFileError(
            f"{name}: {len(bad)} score(s) missing or not a finite number: {shown}{more}. {fix}"
        )
    df["score"] = scores.astype(float)
    if "sample" in df.columns:
        samples = pd.to_numeric(df["sample"], errors="coerce")
        if samples.isna().any():
            rows = [int(i) + 1 for i in np.flatnonzero(samples.isna())][:10]
            raise ScoreFileError(f"{name}: rows {rows} have no whole sample index. {fix}")
        df["sample"] = samples.astype(int)
    for col in ("empty_response", "truncated_input"):
        if col in df.columns:
            unknown = set(df[col]) - set(BOOL_TEXT)
            if unknown:
                raise ScoreFileError(
                    f"{name}: column {col} has non-boolean values {unknown}. {fix}"
                )
            df[col] = df[col].map(BOOL_TEXT)
    return df


def scored_line(table: pd.DataFrame, what: str, seconds: float) -> str:
    """A scoring job's log line for one score table: rows, mean, empty and truncated."""
    return (
        f"{what}: {len(table)} responses scored, mean {table['score'].mean():.3f}, empty "
        f"{int(table['empty_response'].sum())}, truncated inputs "
        f"{int(table['truncated_input'].sum())}; {seconds:.1f} s"
    )


def write_scores(df: pd.DataFrame, path: str | Path) -> None:
    """Write a score table with every text field quoted: generated responses hold carriage
    returns, which pandas writes unquoted, so the file read back as shifted rows."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False, quoting=csv.QUOTE_NONNUMERIC)
