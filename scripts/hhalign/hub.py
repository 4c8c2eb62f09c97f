"""Failures of the Hugging Face Hub in one line: what failed, why, and the fix.

huggingface_hub and transformers raise deep tracebacks whose cause sits several
exceptions down the chain. The data rule and the model loaders hand theirs to
``explain`` and raise ``HubError`` with a message a user can act on.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from pathlib import Path

from huggingface_hub.errors import (
    EntryNotFoundError,
    GatedRepoError,
    LocalEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

OFFLINE_FIX = {
    "dataset": (
        "set data.source: local with data.local_dir holding a copy of the release, or fill "
        "the Hugging Face cache on a machine with internet (README: a cluster without "
        "internet) and run with HF_HUB_OFFLINE=1"
    ),
    "model": (
        "point the model's source to local (name: a downloaded copy), or fill the Hugging "
        "Face cache on a machine with internet (README: a cluster without internet) and run "
        "with HF_HUB_OFFLINE=1"
    ),
}


class HubError(OSError):
    """A Hub download or load that failed; the message names the cause and the fix."""


def is_hub_id(path: str) -> bool:
    """True for a Hub repository id ("org/name"), False for a directory on disk."""
    return not Path(path).exists() and path.count("/") == 1 and not path.startswith((".", "/"))


def chain(err: BaseException) -> Iterator[BaseException]:
    """The exception and every exception it was raised from or during."""
    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        yield err
        err = err.__cause__ or err.__context__


def cause_and_fix(err: BaseException, kind: str, revision: str | None) -> tuple[str, str]:
    """(why, what to do) for a Hub failure, from the most specific error in the chain."""
    errs = list(chain(err))
    found = {type(e) for e in errs}

    def has(kind_: type) -> bool:
        return any(issubclass(t, kind_) for t in found)

    if has(GatedRepoError):
        return "the repository is gated", "accept its terms on the Hub, then set HF_TOKEN"
    if has(RepositoryNotFoundError):
        return "the repository does not exist or is private", "check the name (and HF_TOKEN)"
    if has(RevisionNotFoundError):
        return f"it has no revision {revision!r}", "check the pinned commit in config.yaml"
    if any(isinstance(e, OSError) and e.errno == errno.ENOSPC for e in errs):
        return "the disk filled during the download", "free space under HF_HOME (or move it)"
    if has(LocalEntryNotFoundError):
        return (
            "it is not in the local Hugging Face cache and the Hub cannot be reached "
            "(no network, or HF_HUB_OFFLINE=1)",
            OFFLINE_FIX[kind],
        )
    if has(EntryNotFoundError):
        return f"the file does not exist at revision {revision!r}", "check the file and revision"
    names = {t.__name__ for t in found}
    if names & {"ConnectError", "ConnectTimeout", "ConnectionError", "TimeoutException"}:
        return "the Hub is unreachable", OFFLINE_FIX[kind]
    return f"{type(err).__name__}: {err}".splitlines()[0], OFFLINE_FIX[kind]


def explain(err: BaseException, what: str, kind: str, revision: str | None) -> HubError:
    """A ``HubError`` for ``err``: ``what`` failed (repository, revision, file), why, the fix."""
    why, fix = cause_and_fix(err, kind, revision)
    return HubError(f"{what}: {why}. Fix: {fix}")


def cached_commit(repo_id: str, revision: str | None, filename: str, repo_type: str = "model"):
    """The commit of the Hugging Face cache's snapshot that holds ``filename`` at
    ``revision`` (a branch resolves through refs/), or None when it is not cached."""
    from huggingface_hub import try_to_load_from_cache

    path = try_to_load_from_cache(repo_id, filename, revision=revision, repo_type=repo_type)
    if not isinstance(path, str):
        return None
    parts = path.replace("\\", "/").split("/")
    return parts[parts.index("snapshots") + 1]
