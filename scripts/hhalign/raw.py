"""Raw files from the Hub (HH-RLHF), a local directory (HH's release layout, in any
``data.format``), or the synthetic generator (in any format)."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

from hhalign.hub import explain
from hhalign.io import CorruptFileError, read_jsonl_lines, write_jsonl
from hhalign.synthetic import as_format, generate_rows


def release_path(subset: str, split: str) -> str:
    """Path of one file inside the dataset's release layout."""
    return f"{subset}/{split}.jsonl.gz"


def local_path(local_dir: str, subset: str, split: str) -> Path:
    """One file of a local directory: ``{subset}/{split}.jsonl.gz``, as the release, or
    ``{subset}/{split}.jsonl`` (uncompressed) where only that exists."""
    gz = Path(local_dir) / release_path(subset, split)
    plain = gz.with_suffix("")
    return plain if plain.is_file() and not gz.is_file() else gz


def fetch_from_hub(repo_id: str, revision: str, subset: str, split: str, out: Path) -> str:
    """Download one file of the dataset repo at ``revision``; return the resolved commit.

    This is the only place the pipeline downloads data.
    """
    from huggingface_hub import hf_hub_download

    name = release_path(subset, split)
    try:
        cached = Path(hf_hub_download(repo_id, name, repo_type="dataset", revision=revision))
        shutil.copyfile(cached, out)
    except Exception as err:
        out.unlink(missing_ok=True)  # a partial copy never becomes the rule's output
        raise explain(
            err, f"dataset {repo_id}@{revision} file {name}", "dataset", revision
        ) from err
    return cached.parents[1].name  # .../snapshots/<commit>/<subset>/<split>.jsonl.gz


def check_raw_file(path: Path, origin: str | Path, fix: str) -> int:
    """Read a raw file to its end once, here in the rule that writes it, so no later rule
    meets a truncated or empty file; return its line count. On failure the file is removed
    and the error names ``origin`` (where it came from) and ``fix``."""
    try:
        lines = sum(1 for _ in read_jsonl_lines(path))
    except CorruptFileError as err:
        path.unlink(missing_ok=True)
        raise CorruptFileError(f"{origin} is corrupt: {err.__cause__}. Fix: {fix}") from err
    if lines == 0:
        path.unlink(missing_ok=True)
        raise CorruptFileError(
            f"{origin} has no rows (an empty file, or a gzip of nothing: what an interrupted "
            f"copy or a failed download leaves). Fix: {fix}"
        )
    return lines


def fetch_raw(subset: str, split: str, data: dict, synthetic: dict | None, out: str | Path) -> str:
    """Write the raw file for (subset, split) to ``out``; return a line for the log."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    line = _write_raw(subset, split, data, synthetic, out)
    return f"{line}; {check_raw_file(out, *_origin(subset, split, data, out))} lines read back"


def _origin(subset: str, split: str, data: dict, out: Path) -> tuple[str, str]:
    """Where a raw file came from and how to get a good copy, for error messages."""
    if data["source"] == "local":
        src = local_path(data["local_dir"], subset, split)
        return str(src), f"replace {src} with a complete copy of the file"
    if data["source"] == "hub":
        return (
            f"{data['hub']['repo_id']}@{data['hub']['revision']} {release_path(subset, split)}",
            "delete that file from the Hugging Face cache (under HF_HUB_CACHE) and "
            "rerun to download it again",
        )
    return str(out), "rerun the rule to generate it again"


def _write_raw(subset: str, split: str, data: dict, synthetic: dict | None, out: Path) -> str:
    """Write the raw file from its source; return a line for the log."""
    source = data["source"]
    if source == "hub":
        commit = fetch_from_hub(data["hub"]["repo_id"], data["hub"]["revision"], subset, split, out)
        return f"downloaded {data['hub']['repo_id']}@{commit} {release_path(subset, split)}"
    if source == "local":
        src = local_path(data["local_dir"], subset, split)
        if not src.is_file():
            raise FileNotFoundError(
                f"{src} does not exist: data.local_dir must hold {{subset}}/{{split}}.jsonl.gz "
                f"(or .jsonl) files like the dataset's GitHub release"
            )
        if src.suffix == ".gz":
            shutil.copyfile(src, out)
        else:  # the raw copy is gzipped whatever the source; the same bytes every time
            out.write_bytes(gzip.compress(src.read_bytes(), mtime=0))
        return f"copied {src}"
    if source == "synthetic":
        n = synthetic["train_rows"] if split == data["train_split"] else synthetic["test_rows"]
        flipped = synthetic["flipped_fraction"] if split == data["train_split"] else 0.0
        rows = generate_rows(
            subset, split, n, synthetic["seed"], synthetic["malformed_fraction"], flipped
        )
        fmt = data.get("format", "hh")  # a config validated has it; direct calls may not
        write_jsonl(out, as_format(rows, fmt, f"{synthetic['seed']}/{subset}/{split}"))
        shown = "" if fmt == "hh" else f" in the {fmt} format"
        return f"generated {len(rows)} synthetic rows{shown} (seed {synthetic['seed']})"
    raise ValueError(f"unknown data.source {source!r}")
