"""Build the SFT and DPO training sets from raw HH-RLHF files, accounting for every row."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

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


def build_training_sets(raw_files: Iterable[tuple[str, str, Path]]) -> BuildResult:
    """Read (subset, split, path) raw files in order and build both sets."""
    result = BuildResult()
    for subset, split, path in raw_files:
        before = result.rows_in
        for index, obj, error in read_jsonl_lines(path):
            source = {"subset": subset, "split": split, "row": index}
            add_raw_row(result, source, obj, error)
        if result.rows_in == before:
            raise EmptyRawFile(
                f"{path} ({subset}/{split}) has no rows: the study would train without that "
                f"subset. Fix: replace it with a complete copy (or drop {subset} from "
                f"data.train_subsets on purpose) and rerun from rule fetch_raw_data"
            )
    return result


def check_reject_fraction(result: BuildResult, max_fraction: float) -> dict[str, float]:
    """Return the reject fraction per set; raise TooManyRejects above ``max_fraction``."""
    if result.rows_in == 0:
        raise TooManyRejects("no raw rows were read: check data.train_subsets and the raw files")
    fractions = {}
    for name in ("sft", "dpo"):
        counts = result.reject_counts(name)
        fractions[name] = sum(counts.values()) / result.rows_in
        if fractions[name] > max_fraction:
            raise TooManyRejects(
                f"{name}: {sum(counts.values())} of {result.rows_in} rows rejected "
                f"({fractions[name]:.2%} > data.max_reject_fraction={max_fraction:.2%}); "
                f"reasons: {dict(counts)}. Check the raw files, or raise the limit in the config."
            )
    return fractions
