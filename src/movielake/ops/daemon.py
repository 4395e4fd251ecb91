"""One background server process that MovieLake starts and stops: its pid file, its log, and
whether the process the pid file names is still the one we started.

A pid alone is not enough to stop a server safely: once the server has died, the kernel may give
its pid to any other process. The pid file therefore also holds the process's start time and the
check looks for a marker in its command line; a record that fails either is stale and nothing is
signalled. The server runs in its own session (process group), so stopping it also stops any
helper it forked.
"""

from __future__ import annotations

import fcntl
import http.client
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from movielake.errors import MovieLakeError
from movielake.ops.procs import alive, command_line, port_open, start_time

HOST = "127.0.0.1"


class DaemonError(MovieLakeError):
    """A server could not be started or stopped; the message says why."""


class Daemon:
    """A server named `name` whose pid file <name>.pid and log <name>.log live in `folder`;
    `markers` are strings its command line must contain (e.g. a main class and a config path),
    `error` the exception class its failures raise."""

    def __init__(
        self,
        name: str,
        folder: Path,
        markers: tuple[str, ...],
        error: type[MovieLakeError] = DaemonError,
    ) -> None:
        self.name, self.folder, self.markers, self.error = name, folder, markers, error

    @property
    def pid_file(self) -> Path:
        return self.folder / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.folder / f"{self.name}.log"

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Serialise start and stop of this server across processes (two `start`s at once would
        both find it stopped and both launch it). An flock: a killed holder never leaves it."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with (self.folder / f"{self.name}.lock").open("w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def record(self) -> dict | None:
        """The pid file's contents (pid, started, ports and whatever start() was given)."""
        try:
            return json.loads(self.pid_file.read_text())
        except (OSError, ValueError):
            return None

    def running(self) -> dict | None:
        """The record, if the process it names is alive and is still the one we started."""
        record = self.record()
        if not record:
            return None
        pid = record.get("pid")
        if not isinstance(pid, int) or not alive(pid) or start_time(pid) != record.get("started"):
            return None
        cmdline = command_line(pid)
        return record if all(marker in cmdline for marker in self.markers) else None

    def start(
        self,
        command: list[str],
        ports: list[int],
        env: dict | None = None,
        cwd: Path | None = None,
        **extra,
    ) -> subprocess.Popen:
        """Launch `command` detached (own session, stdin closed, output appended to the log) and
        record it. Refuses when one of `ports` is already taken on loopback."""
        taken = [p for p in ports if port_open(HOST, p)]
        if taken:
            raise self.error(
                f"port {taken[0]} on {HOST} is taken by another process "
                "(choose another with --port)"
            )
        self.folder.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as out:
            process = subprocess.Popen(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                cwd=cwd or self.folder,
                env=env,
            )
        started = None
        while started is None and process.poll() is None:
            started = start_time(process.pid)
        record = {"pid": process.pid, "started": started, "ports": ports, **extra}
        scratch = self.pid_file.with_suffix(".pid.tmp")
        scratch.write_text(json.dumps(record) + "\n")
        scratch.replace(self.pid_file)  # readers never see half a record
        return process

    def wait_ready(
        self, process: subprocess.Popen, ready: Callable[[], bool], timeout: float
    ) -> None:
        """Poll `ready` until it holds; if the server exits or the timeout passes first, stop
        it and raise, naming its log."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                self.pid_file.unlink(missing_ok=True)
                raise self.error(
                    f"{self.name} exited with code {process.returncode} "
                    f"({self.last_words()}); see {self.log_file}"
                )
            try:
                if ready():
                    return
            except (OSError, ValueError, http.client.HTTPException):  # not answering yet
                pass
            time.sleep(0.5)
        self.stop()
        raise self.error(
            f"{self.name} not ready after {timeout:.0f}s, so stopped "
            f"({self.last_words()}); see {self.log_file}"
        )

    def last_words(self) -> str:
        """The log's last line that looks like an error (else its last line), shortened: for a
        one-line message that names the log for the rest."""
        return last_error_line(self.log_file)

    def stop(self, timeout: float = 30.0) -> dict | None:
        """SIGTERM the server's process group, SIGKILL it after `timeout`, wait until none of its
        ports listens, then drop the pid file. Returns the record of what was stopped, None when
        it was not running (a stale pid file is dropped without signalling anything)."""
        record = self.running()
        if not record:
            self.pid_file.unlink(missing_ok=True)
            return None
        pid = record["pid"]
        _signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if alive(pid):
            _signal_group(pid, signal.SIGKILL)
            while alive(pid):
                time.sleep(0.1)
        # the kernel closes the sockets with the process; a helper left in the group might not
        deadline = time.monotonic() + 10
        while self.listening(record) and time.monotonic() < deadline:
            time.sleep(0.2)
        self.pid_file.unlink(missing_ok=True)
        if self.listening(record):
            raise self.error(
                f"{self.name} (pid {pid}) stopped, but something still listens on "
                f"{HOST} port(s) {', '.join(map(str, self.listening(record)))}"
            )
        return record

    @staticmethod
    def listening(record: dict) -> list[int]:
        """The recorded ports that still accept connections on loopback."""
        return [p for p in record.get("ports", []) if port_open(HOST, p)]


def _signal_group(pid: int, signum: int) -> None:
    """Signal the server's process group (its own session: see Daemon.start)."""
    try:
        os.killpg(pid, signum)
    except ProcessLookupError:  # it exited in the meantime
        pass


def last_error_line(path: Path, width: int = 200) -> str:
    """The last line of `path` mentioning an error or exception (else its last line)."""
    try:
        lines = [
            line.strip() for line in path.read_text(errors="replace").splitlines() if line.strip()
        ]
    except OSError:
        return "no log"
    errors = [
        line
        for line in lines
        if any(word in line for word in ("ERROR", "Exception", "rror:", "FATAL"))
    ]
    line = (errors or lines or ["empty log"])[-1]
    return line if len(line) <= width else line[:width] + "..."
