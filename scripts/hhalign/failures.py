"""The last line of a failed job's log: its cause and the fix, in one line.

A full disk surfaces in many shapes: ``OSError: [Errno 28]`` without a path (a write to
an open file), safetensors' ``SafetensorError: ... (os error 28)``, torch's
``RuntimeError: ... file write failed``. Each is traced through the exception chain
and becomes one line naming what was being written, the free space there, and the fix.
"""

from __future__ import annotations

import errno
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
DISK_FULL_TEXTS = (
    "no space left on device",
    "disk quota exceeded",
    "os error 28",
    "os error 122",
    "file write failed",  # torch.save's message when the disk fills under it
)


def exception_chain(err: BaseException) -> Iterator[BaseException]:
    """``err``, then its causes and contexts, each once."""
    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        yield err
        err = err.__cause__ or err.__context__


def disk_full(err: BaseException) -> BaseException | None:
    """The exception in ``err``'s chain that says the disk (or quota) is full, if any."""
    for e in exception_chain(err):
        if isinstance(e, OSError) and e.errno in DISK_FULL_ERRNOS:
            return e
        if any(text in str(e).lower() for text in DISK_FULL_TEXTS):
            return e
    return None


def existing_parent(path: str | Path) -> Path:
    """``path`` or its nearest existing parent (for free-space queries)."""
    path = Path(path).absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def gigabytes(n: float) -> str:
    """A byte count in GB with two decimals."""
    return f"{n / 1e9:.2f} GB"


def results_root(path: str | Path) -> Path | None:
    """The results directory of a job's log or output path (the parent of ``logs``,
    ``models``, ``checkpoints``, ...), found by the layout every rule uses."""
    parts = Path(path).parts
    for marker in ("logs", "checkpoints", "models", "scores", "generations", "data", "train"):
        if marker in parts[1:]:
            return Path(*parts[: parts.index(marker, 1)])
    return None


def disk_full_line(full: BaseException, writing: Sequence[str], needed: int | None) -> str:
    """One line for a full disk: the path, the space, the fix."""
    path = getattr(full, "filename", None) or (
        writing[0]
        if len(writing) == 1
        else f"one of {', '.join(map(str, writing))}"
        if writing
        else "an output of this job"
    )
    target = getattr(full, "filename", None) or (writing[0] if writing else ".")
    where = existing_parent(target)
    free = shutil.disk_usage(where).free
    need = f", about {gigabytes(needed)} needed" if needed else ""
    root = results_root(target) or "results_dir"
    return (
        f"failed: no space left on the disk (or quota) while writing {path} "
        f"({gigabytes(free)} free under {where}{need}). Fix: free space under {root} "
        f"(checkpoints of interrupted runs live in {root}/checkpoints; finished runs' "
        f"models in {root}/models) or set results_dir on a larger disk, then rerun "
        f"(Snakemake resumes training from the last complete checkpoint)"
    )


def failure_line(err: BaseException, writing: Sequence[str] = (), needed: int | None = None) -> str:
    """The last line of a failed job's log: ``failed: <cause>``, with the fix where the
    cause is known (a full disk); ``writing`` names the job's outputs, ``needed`` the
    bytes one save takes where known."""
    full = disk_full(err)
    if full is not None:
        return disk_full_line(full, writing, needed)
    text = " ".join(str(err).split())
    return f"failed: {type(err).__name__}: {text}"


def directory_bytes(path: str | Path) -> int:
    """Total size of the files under ``path`` (0 when absent)."""
    path = Path(path)
    if not path.is_dir():
        return 0
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
