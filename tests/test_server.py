"""`movielake serve`: one server owns the metastore; dbt builds through it (the `connect`
target) while an analyst's Spark Connect client reads the same table, and never sees an error
or a partly written table (Delta replaces a table atomically)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import PROJECT
from movielens_samples import write_csv_release

CONNECT_PORT, JDBC_PORT = 15102, 10100  # not the defaults, so a user's server is left alone
READER = r"""
import json, sys, time
from pathlib import Path
from pyspark.sql import SparkSession
spark = SparkSession.builder.remote(sys.argv[1]).getOrCreate()
stop, log = Path(sys.argv[2]), Path(sys.argv[3])
with log.open("a") as out:
    while not stop.exists():
        started = time.time()
        try:
            row = spark.sql("select count(*) as n, sum(rating) as s "
                            "from movielake_staging.stg_movielens__ratings").first()
            entry = {"start": started, "end": time.time(), "seen": [row["n"], row["s"]]}
        except Exception as exc:  # any failure is what this test looks for
            entry = {"start": started, "end": time.time(), "error": str(exc).splitlines()[0]}
        out.write(json.dumps(entry) + "\n")
        out.flush()
        time.sleep(0.2)
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A server on its own data home (the test process's own session holds the other one)."""
    from movielake import server as srv

    home = tmp_path_factory.mktemp("served")
    saved = os.environ.get("MOVIELAKE_HOME")
    os.environ["MOVIELAKE_HOME"] = str(home)
    try:
        assert srv.start(connect_port=CONNECT_PORT, jdbc_port=JDBC_PORT) == 0
        assert srv.status() == 0
        yield home, srv.running_pid()
    finally:
        srv.stop()
        os.environ["MOVIELAKE_HOME"] = saved or ""


def dbt_through_server(home: Path, raw_dir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "MOVIELAKE_HOME": str(home), "MOVIELAKE_TARGET": "connect",
           "SPARK_REMOTE": f"sc://127.0.0.1:{CONNECT_PORT}",
           "DBT_PROFILES_DIR": str(PROJECT / "profiles")}
    dbt = Path(sys.executable).with_name("dbt")
    return subprocess.run(
        [str(dbt), *args, "--project-dir", str(PROJECT), "--target-path", str(home / "target"),
         "--log-path", str(home / "logs"), "--vars", json.dumps({"raw_dir": str(raw_dir)})],
        env=env, capture_output=True, text=True, timeout=900)


def read_log(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_reads_during_rebuilds_never_fail_or_see_partial_tables(server, tmp_path):
    home, _pid = server
    raw = write_csv_release(tmp_path / "ml-latest-small")
    first = dbt_through_server(home, raw, "run", "--select", "staging")
    assert first.returncode == 0, first.stdout[-3000:]

    stop, log = tmp_path / "stop", tmp_path / "reads.jsonl"
    reader = subprocess.Popen([sys.executable, "-c", READER, f"sc://127.0.0.1:{CONNECT_PORT}",
                               str(stop), str(log)])
    try:
        deadline = time.time() + 180
        while not read_log(log) and time.time() < deadline:  # the client is connected
            time.sleep(1)
        assert read_log(log), "the reader never completed a query"
        # Rewrite the table while it is read; how many reads fit depends on the machine's
        # speed, so keep rewriting (at least twice) until enough reads overlapped a rewrite.
        windows: list[tuple[float, float]] = []
        while len(windows) < 2 or (overlapping(read_log(log), windows) < 10 and len(windows) < 6):
            began = time.time()
            again = dbt_through_server(home, raw, "run", "--select", "stg_movielens__ratings")
            windows.append((began, time.time()))
            assert again.returncode == 0, again.stdout[-3000:]
    finally:
        stop.touch()
        reader.wait(timeout=120)
    reads = read_log(log)
    assert [r["error"] for r in reads if "error" in r] == []
    assert overlapping(reads, windows) >= 10, (len(reads), windows)
    # the sample release has 4 valid ratings, summing to 14.5 stars: every read saw all of them
    assert {tuple(r["seen"]) for r in reads} == {(4, 14.5)}


def overlapping(reads: list[dict], windows: list[tuple[float, float]]) -> int:
    """Reads that ran while a dbt rewrite was in progress."""
    return sum(any(r["start"] < end and r["end"] > began for began, end in windows)
               for r in reads)


def test_status_and_stop_leave_no_process(tmp_path, monkeypatch):
    from movielake import server as srv

    monkeypatch.setenv("MOVIELAKE_HOME", str(tmp_path))
    assert srv.status() == 1  # nothing running in this data home
    assert srv.stop() == 0


def test_server_binds_loopback_by_default(server):
    home, pid = server
    listening = subprocess.run(["ss", "-ltnp"], capture_output=True, text=True).stdout
    ours = [line for line in listening.splitlines() if f"pid={pid}," in line]
    ports = {line.split()[3].replace("[::ffff:127.0.0.1]", "127.0.0.1") for line in ours}
    assert f"127.0.0.1:{CONNECT_PORT}" in ports and f"127.0.0.1:{JDBC_PORT}" in ports
    # every port the server listens on (endpoints, UI, RPC, block manager) is on loopback
    assert all(p.startswith("127.0.0.1:") for p in ports), ports
