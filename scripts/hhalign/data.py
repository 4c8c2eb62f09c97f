"""Build the SFT and DPO training sets from raw files (HH-RLHF's or another format, read
through ``hhalign.dataformats``), accounting for every row."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from hhalign.dataformats import FILTERED, SHAPE_REASONS, check_shape, label_fields, to_pair
from hhalign.dialogue import MalformedDialogue, dpo_row, sft_row
from hhalign.io import read_jsonl_lines


class EmptyRawFile(ValueError):
    """A raw training file without a single row; the message names it and the fix."""


class TooManyRejects(RuntimeError):
    """More rows were rejected than the configured fraction allows."""


@dataclass
class BuildResult:
    """The two training sets, the rejected rows and per-set counts."""

    sft: list[dict] = field(default_factory=list)
    dpo: list[dict] = field(default_factory=list)
    rejects: list[dict] = field(default_factory=list)
    rows_in: int = 0
    fmt: str = "hh"
    preference: str = "helpful"
    converted: int = 0  # rows of another format turned into transcript pairs
    conversion_rejects: Counter = field(default_factory=Counter)

    rows_by_file: Counter = field(default_factory=Counter)

    def reject_counts(self, dataset: str) -> Counter:
        """Rejects of one set ("sft" or "dpo") by reason."""
        return Counter(r["reason"] for r in self.rejects if r["dataset"] == dataset)

    def by_file(self) -> dict[str, dict]:
        """Per raw file ("subset/split"): rows in, and per set rows out and rejects by
        reason (rows in = out + rejects, for each set)."""
        out = {}
        for key, rows_in in self.rows_by_file.items():
            counts: dict = {"rows_in": rows_in}
            for name, rows in (("sft", self.sft), ("dpo", self.dpo)):
                mine = [r for r in rows if f"{r['subset']}/{r['split']}" == key]
                rejects = Counter(
                    r["reason"]
                    for r in self.rejects
                    if r["dataset"] == name and f"{r['subset']}/{r['split']}" == key
                )
                counts[f"{name}_out"] = len(mine)
                counts[f"{name}_rejects"] = dict(sorted(rejects.items()))
            out[key] = counts
        return out

    def conversion(self) -> dict:
        """How the rows of a format other than hh became transcript pairs: rows in,
        converted, and rejected by reason (PKU's labels_disagree: filtered on purpose)."""
        out = {"format": self.fmt, "rows_in": self.rows_in, "converted": self.converted}
        if self.fmt == "pku_saferlhf":
            out["preference"] = self.preference
        out["rejects"] = dict(sorted(self.conversion_rejects.items()))
        return out


def _reject(dataset: str, source: dict, reason: str, detail: str = "") -> dict:
    return {"dataset": dataset, **source, "reason": reason, "detail": detail}


def add_raw_row(result: BuildResult, source: dict, obj: object, error: str | None) -> None:
    """Turn one raw row into an SFT example and a DPO pair, or into rejects.

    ``source`` identifies the row (subset, split, row index) in every output.
    A row can be good for SFT (its chosen dialogue is fine) and still be
    rejected for DPO (say, identical chosen and rejected).
    """
    result.rows_in += 1
    result.rows_by_file[f"{source['subset']}/{source['split']}"] += 1
    if error is None and not (isinstance(obj, dict) and "chosen" in obj and "rejected" in obj):
        error = "missing_field: need 'chosen' and 'rejected'"
    if error is not None:
        reason = error.split(":")[0]
        result.rejects += [_reject(d, source, reason, error) for d in ("sft", "dpo")]
        return
    try:
        result.sft.append({**source, **sft_row(obj["chosen"])})
    except MalformedDialogue as err:
        result.rejects.append(_reject("sft", source, err.reason, str(err)))
    try:
        result.dpo.append({**source, **dpo_row(obj["chosen"], obj["rejected"])})
    except MalformedDialogue as err:
        result.rejects.append(_reject("dpo", source, err.reason, str(err)))


def add_format_row(result: BuildResult, source: dict, obj: object, error: str | None) -> None:
    """Turn one row of the result's format into a transcript pair, then into an SFT example
    and a DPO pair (``add_raw_row``); a row whose content cannot become a pair is rejected
    for both sets with its reason."""
    if result.fmt == "hh" or error is not None:
        add_raw_row(result, source, obj, error)
        return
    try:
        pair = to_pair(obj, result.fmt, result.preference)
    except MalformedDialogue as err:
        result.conversion_rejects[err.reason] += 1
        add_raw_row(result, source, None, str(err))
        return
    result.converted += 1
    add_raw_row(result, source, pair, None)


def build_training_sets(
    raw_files: Iterable[tuple[str, str, Path]], fmt: str = "hh", preference: str = "helpful"
) -> BuildResult:
    """Read (subset, split, path) raw files of ``fmt`` (``data.format``) in order and build
    both sets. A row whose fields are not the format's stops the build (``FormatError``)."""
    result = BuildResult(fmt=fmt, preference=preference)
    labels = label_fields(preference) if fmt == "pku_saferlhf" else ()
    for subset, split, path in raw_files:
        before = result.rows_in
        strict = True  # the first row that parses: a file of another format stops here
        for index, obj, error in read_jsonl_lines(path):
            if error is None:
                error = check_shape(obj, fmt, labels, str(path), index, "data.format", strict)
                strict = False
            source = {"subset": subset, "split": split, "row": index}
            add_format_row(result, source, obj, error)
        if result.rows_in == before:
            raise EmptyRawFile(
                f"{path} ({subset}/{split}) has no rows: the study would train without that "
                f"subset. Fix: replace it with a complete copy (or drop {subset} from "
                f"data.train_subsets on purpose) and rerun from rule fetch_raw_data"
            )
    return result


def check_reject_fraction(
    result: BuildResult, max_fraction: float, rejects_path: str | Path = "rejects.jsonl"
) -> dict[str, float]:
    """Return the reject fraction per set; raise TooManyRejects above ``max_fraction``.

    Rows a preference rule filters on purpose (``FILTERED``: PKU's labels_disagree) are not
    malformed and do not count; a set they leave empty stops the build all the same. Every
    row here has its format's fields (``check_shape`` stopped at any other), so raising the
    limit is a fix that exists, beside fixing the rows; the message gives the rejects' full
    reasons and ``rejects_path``, where each rejected row is listed.
    """
    if result.rows_in == 0:
        raise TooManyRejects("no raw rows were read: check data.train_subsets and the raw files")
    fractions = {}
    for name in ("sft", "dpo"):
        mine = [r for r in result.rejects if r["dataset"] == name]
        malformed = [r for r in mine if r["reason"] not in FILTERED]
        fractions[name] = len(malformed) / result.rows_in
        details = Counter(r["detail"] or r["reason"] for r in malformed).most_common(5)
        shown = "; ".join(f"{n} x {d!r}" for d, n in details)
        if fractions[name] > max_fraction:
            shapes = sum(r["reason"] in SHAPE_REASONS for r in malformed)
            fix = (
                f"{shapes} rows do not have data.format={result.fmt}'s fields (the "
                f"{' and '.join(SHAPE_REASONS)} rejects): fix those rows or data.format"
                if shapes
                else f"the rows have data.format={result.fmt}'s fields: fix the rows those "
                f"reasons name, or, if the rejects are expected, raise "
                f"data.max_reject_fraction in the config"
            )
            raise TooManyRejects(
                f"{name}: {len(malformed)} of {result.rows_in} rows rejected "
                f"({fractions[name]:.2%} > data.max_reject_fraction={max_fraction:.2%}); "
                f"reasons: {dict(Counter(r['reason'] for r in malformed))} (most common in "
                f"full: {shown}); every rejected row with its reason: {rejects_path}. "
                f"Fix: {fix}."
            )
        kept = len(getattr(result, name))
        if kept == 0:
            raise TooManyRejects(
                f"{name}: no rows left of {result.rows_in} "
                f"(rejects: {dict(Counter(r['reason'] for r in mine))}); every rejected row "
                f"with its reason: {rejects_path}. Fix: "
                + (
                    "choose data.preference helpful or safe (both_agree keeps only the rows "
                    "whose labels agree)"
                    if any(r["reason"] in FILTERED for r in mine)
                    else "check the raw files"
                )
            )
    return fractions
