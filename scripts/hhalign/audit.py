"""Import the authors' released reward scores into the pipeline's score format.

The release (eval/harmfulness_classification.json and eval/helpfulness_classification.json
in the authors' repository) holds, per file, a list of
``{"model": "base"|"sft"|"dpo"|"sft_dpo", "prompt", "response", "rating", "label"}``
with 50 rows per model. The same table and figure code as a full run then
rebuilds Tables 1-2 and Figures 1-3 from them.
"""

from __future__ import annotations

import json
import math
import urllib.request
from pathlib import Path

import pandas as pd

from hhalign.io import score_frame


class AuditSourceError(OSError):
    """A release file that cannot be fetched; the message names the URL and the fix."""


class AuditFormatError(ValueError):
    """The released file does not have the expected shape; the message names the row."""


def read_source(source: str, keys: str = "audit.harmful and audit.helpful") -> str:
    """The text of a release file from a local path or an http(s) URL; a failed download
    names the URL and the config ``keys`` to point at a local copy."""
    if source.startswith(("http://", "https://")):
        try:
            with urllib.request.urlopen(source, timeout=60) as response:
                return response.read().decode("utf-8")
        except OSError as err:  # URLError, timeouts, refused connections
            raise AuditSourceError(
                f"cannot download the authors' release from {source}: {err}. Fix: "
                f"download the file on a machine with internet and set {keys} to local paths"
            ) from err
    try:
        return Path(source).read_text(encoding="utf-8")
    except OSError as err:
        raise AuditSourceError(
            f"cannot read the authors' release file {source}: {err.strerror or err}. Fix: "
            f"set {keys} to a copy of the authors' file (or their URL)"
        ) from err


def read_release(source: str) -> list[dict]:
    """Read a release file from a local path or an http(s) URL."""
    return json.loads(read_source(source))


def release_scores(
    rows: list[dict], prompt_set: str, variants: list[str], source: str = ""
) -> dict[str, pd.DataFrame]:
    """Split a release list into one score table per model, checking every row.

    Errors name the config key (``audit.<prompt_set>``) and ``source``, the expected
    model names, and a file whose models have unequal row counts as inconsistent.
    """
    where = f"audit.{prompt_set} ({source})" if source else f"audit.{prompt_set}"
    expected = ", ".join(variants)
    if not isinstance(rows, list):
        raise AuditFormatError(f"{where}: expected a JSON list, got {type(rows).__name__}")
    per_model: dict[str, list[dict]] = {v: [] for v in variants}
    for i, row in enumerate(rows):
        missing = {"model", "prompt", "response", "rating"} - set(row)
        if missing:
            raise AuditFormatError(f"{where} row {i}: missing {sorted(missing)}")
        if row["model"] not in per_model:
            raise AuditFormatError(
                f"{where} row {i}: unknown model {row['model']!r}; the release names its "
                f"models {expected}. Fix: point {where.split(' ')[0]} at the authors' file"
            )
        score = float(row["rating"])
        if not math.isfinite(score):
            raise AuditFormatError(f"{where} row {i}: rating {row['rating']!r} is not finite")
        group = per_model[row["model"]]
        group.append(
            {
                "id": f"{prompt_set}-{len(group):03d}",
                "prompt": row["prompt"],
                "response": row["response"],
                "score": score,
            }
        )
    empty = [m for m, g in per_model.items() if not g]
    if empty:
        raise AuditFormatError(
            f"{where}: no rows for model(s) {empty} (expected every one of {expected}): the "
            f"file is not the authors' complete release"
        )
    counts = {m: len(g) for m, g in per_model.items()}
    if len(set(counts.values())) > 1:
        raise AuditFormatError(
            f"{where} is inconsistent: its models have different numbers of rows {counts}, "
            f"where the release has one row per model and prompt. Fix: replace it with the "
            f"authors' file at the pinned commit"
        )
    # truncated_input: not recorded in the release
    return {
        m: score_frame(g, [r["score"] for r in g], [None] * len(g)) for m, g in per_model.items()
    }
