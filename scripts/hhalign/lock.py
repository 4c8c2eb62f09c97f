"""Locks that keep two runs out of one results directory or one checkpoint directory.

Snakemake locks its working directory's ``.snakemake/``, not ``results_dir``: two
checkouts pointed at one results tree would run the same jobs into the same files. A
training job orphaned by its dead Snakemake parent would share its checkpoints with a
rerun. Each lock is an ``fcntl.flock`` on a file that names its holder (PID, host,
working directory, command, start time). The kernel drops the flock when the holder
dies, however it dies, so a lock file left by a killed run is stale by construction:
the next run takes it over and says whose it was.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)


class LockedError(RuntimeError):
    """Another live process holds the lock; the message names it and the fix."""


@dataclass
class Lock:
    """A held lock: its file, the open handle that holds the flock, and the holder of a
    stale lock file it took over ({} when there was none)."""

    path: Path
    handle: IO[str]
    previous: dict

    def takeover_note(self, what: str) -> str:
        """A line saying whose stale lock was taken over ("" when none was)."""
        if not self.previous:
            return ""
        return (
            f"{what}: took over the lock of {describe(self.previous)}, which is no longer "
            f"running (it was killed, or its machine restarted)"
        )

    def release(self) -> None:
        """Remove the lock file, then drop the flock (safe to call twice)."""
        if self.handle.closed:
            return
        self.path.unlink(missing_ok=True)
        self.handle.close()


def holder() -> dict:
    """Who is taking a lock: enough for another user to find the process."""
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "cwd": os.getcwd(),
        "command": " ".join(sys.argv)[:300],
        "started": time.strftime("%Y-%m-%d %H:%M:%S %z"),
    }


def read_holder(path: Path) -> dict:
    """The holder recorded in a lock file ({} when unreadable or empty)."""
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def describe(who: dict) -> str:
    """One phrase naming a lock's holder."""
    if not who:
        return "an unknown process"
    return (
        f"PID {who.get('pid')} on host {who.get('host')} (since {who.get('started')}, "
        f"working directory {who.get('cwd')}: {who.get('command')})"
    )


def acquire(path: str | Path, what: str, fix: str) -> Lock:
    """Take the lock at ``path`` or raise ``LockedError`` naming its holder and ``fix``.

    ``what`` says what the lock guards, for messages. A lock file whose holder is gone
    (no flock on it) is taken over with a log line naming the old holder.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 (held until release)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise LockedError(
            f"{what} is in use by {describe(read_holder(path))} (lock file {path}). Fix: wait "
            f"for that run to finish, or stop it ({fix}); two runs writing one directory "
            f"overwrite each other's files"
        ) from None
    lock = Lock(path, handle, read_holder(path))
    if lock.previous:
        log.warning("%s", lock.takeover_note(what))
    handle.seek(0)
    handle.truncate()
    handle.write(json.dumps(holder()))
    handle.flush()
    return lock
