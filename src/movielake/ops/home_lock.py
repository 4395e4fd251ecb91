"""One dbt run per data home at a time.

Two runs on one data home would both write its tables (and, with the local or cluster target,
the second one would die on the embedded metastore with a Derby stack trace). Every dbt
connection therefore takes an exclusive lock on $MOVIELAKE_HOME/dbt.lock first and fails at once,
naming the process that holds it. The lock is an flock: the kernel drops it when its process
ends, even by SIGKILL, so a killed run never leaves a stale lock behind. A process keeps it
until it exits (its Spark session, and the metastore with it, lives as long).
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path

from movielake.data.paths import data_home
from movielake.errors import MovieLakeError
from movielake.ops.procs import command_line

_held: dict[Path, int] = {}  # data home -> open lock file descriptor of this process
# dbt opens its connections from several threads at once: one of them takes the flock, the
# others must wait for it here (a second flock of the same process would fail as if another
# process held the home)
_guard = threading.Lock()


class DataHomeBusy(MovieLakeError):
    """Another process holds the data home."""


def _lock_file(home: Path) -> Path:
    return home / "dbt.lock"


def holder(home: Path | None = None) -> str | None:
    """Who holds the data home's lock ("pid N: command line, since ..."), or None if free."""
    home = home or data_home()
    path = _lock_file(home)
    if home.resolve() in _held or not path.exists():
        return None
    with path.open("r") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return handle.read().strip() or "another process"
        fcntl.flock(handle, fcntl.LOCK_UN)
    return None


def acquire(home: Path | None = None) -> None:
    """Lock the data home for this process (a no-op when it already holds it)."""
    home = (home or data_home()).resolve()
    with _guard:
        if home not in _held:
            _lock(home)


def _lock(home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    fd = os.open(_lock_file(home), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        who = os.read(fd, 4096).decode(errors="replace").strip() or "another process"
        os.close(fd)
        raise DataHomeBusy(
            f"data home {home} is in use by {who}; wait for it to finish (or give this run "
            "its own data home with MOVIELAKE_HOME)"
        ) from None
    os.ftruncate(fd, 0)
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    os.write(fd, f"pid {os.getpid()} ({command_line(os.getpid())}), since {started}\n".encode())
    _held[home] = fd
