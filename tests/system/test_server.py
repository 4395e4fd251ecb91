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
from movielens_samples import write_csv_release

from conftest import PROJECT
from movielake.ops.procs import alive, port_open

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
    from movielake.ops import server as srv

    home = tmp_path_factory.mktemp("served")
    saved = os.environ.get("MOVIELAKE_HOME")
    os.environ["MOVIELAKE_HOME"] = str(home)
    pid = None
    try:
        assert srv.start(connect_port=CONNECT_PORT, jdbc_port=JDBC_PORT) == 0
        assert srv.status() == 0
        pid = srv.running_pid()
        yield home, pid
    finally:
        os.environ["MOVIELAKE_HOME"] = str(home)
        srv.stop()
        os.environ["MOVIELAKE_HOME"] = saved or ""
    # stopped means gone: the process group and both endpoints
    assert pid is not None and not alive(pid)
    assert not port_open("127.0.0.1", CONNECT_PORT) and not port_open("127.0.0.1", JDBC_PORT)


def release_version(folder: Path, version: int) -> Path:
    """The sample release plus `version` extra 5-star ratings: each version's table has its own
    (count, sum), so a read of a half-written or mixed table matches no version."""
    write_csv_release(folder)
    with (folder / "ratings.csv").open("a", newline="") as out:
        for user in range(version):
            out.write(f"{100 + user},1,5.0,964982224\r\n")
    return folder


def dbt_through_server(
    home: Path, raw_dir: Path, *args: str, vars: dict | None = None
) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "MOVIELAKE_HOME": str(home),
        "MOVIELAKE_TARGET": "connect",
        "SPARK_REMOTE": f"sc://127.0.0.1:{CONNECT_PORT}",
        "DBT_PROFILES_DIR": str(PROJECT / "profiles"),
    }
    dbt = Path(sys.executable).with_name("dbt")
    return subprocess.run(
        [
            str(dbt),
            *args,
            "--project-dir",
            str(PROJECT),
            "--target-path",
            str(home / "target"),
            "--log-path",
            str(home / "logs"),
            "--vars",
            json.dumps({"raw_dir": str(raw_dir), **(vars or {})}),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def read_log(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_reads_during_rebuilds_never_fail_or_see_partial_tables(server, tmp_path):
    home, _pid = server
    first = dbt_through_server(
        home, release_version(tmp_path / "v0", 0), "run", "--select", "staging"
    )
    assert first.returncode == 0, first.stdout[-3000:]

    stop, log = tmp_path / "stop", tmp_path / "reads.jsonl"
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, f"sc://127.0.0.1:{CONNECT_PORT}", str(stop), str(log)]
    )
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
            version = len(windows) + 1
            again = dbt_through_server(
                home,
                release_version(tmp_path / f"v{version}", version),
                "run",
                "--select",
                "base_movielens__ratings",
                "stg_movielens__ratings",
            )
            windows.append((began, time.time()))
            assert again.returncode == 0, again.stdout[-3000:]
    finally:
        stop.touch()
        reader.wait(timeout=120)
    reads = read_log(log)
    assert [r["error"] for r in reads if "error" in r] == []
    assert overlapping(reads, windows) >= 10, (len(reads), windows)
    # version v has 4 + v valid ratings summing to 14.5 + 5v stars: every read saw exactly one
    # complete version, and the reads saw the table change
    versions = {(4 + v, 14.5 + 5 * v) for v in range(len(windows) + 1)}
    seen = {tuple(r["seen"]) for r in reads}
    assert seen <= versions, seen - versions
    assert len(seen) >= 2, seen


def overlapping(reads: list[dict], windows: list[tuple[float, float]]) -> int:
    """Reads that ran while a dbt rewrite was in progress."""
    return sum(any(r["start"] < end and r["end"] > began for began, end in windows) for r in reads)


def test_status_and_stop_leave_no_process(tmp_path, monkeypatch):
    from movielake.ops import server as srv

    monkeypatch.setenv("MOVIELAKE_HOME", str(tmp_path))
    assert srv.status() == 1  # nothing running in this data home
    assert srv.stop() == 0


def test_status_and_stop_leave_a_reused_pid_alone(tmp_path, monkeypatch):
    """The pid file names a process that is no longer the server (the PID was reused): it is
    not reported as the server, and never signalled."""
    from movielake.ops import server as srv
    from movielake.ops.procs import start_time

    monkeypatch.setenv("MOVIELAKE_HOME", str(tmp_path))
    other = subprocess.Popen(["sleep", "300"], start_new_session=True)
    try:
        (tmp_path / "server").mkdir()
        for recorded_start in ("1", start_time(other.pid)):  # wrong start time; not a server
            (tmp_path / "server" / "server.pid").write_text(
                json.dumps(
                    {
                        "pid": other.pid,
                        "started": recorded_start,
                        "ports": [CONNECT_PORT, JDBC_PORT],
                        "host": "127.0.0.1",
                        "connect_port": CONNECT_PORT,
                        "jdbc_port": JDBC_PORT,
                    }
                )
            )
            assert srv.running_pid() is None
            assert srv.status() == 1
            assert srv.stop() == 0
            time.sleep(0.5)
            assert other.poll() is None, "stop signalled a process that is not the server"
    finally:
        other.kill()
        other.wait()


def test_exposed_host_refused_without_a_token(tmp_path, monkeypatch):
    from movielake.ops import server as srv

    monkeypatch.setenv("MOVIELAKE_HOME", str(tmp_path))
    monkeypatch.delenv(srv.TOKEN_ENV, raising=False)
    said = []
    assert (
        srv.start(
            host="0.0.0.0", connect_port=CONNECT_PORT + 1, jdbc_port=JDBC_PORT + 1, log=said.append
        )
        == 2
    )
    assert "refusing to listen on 0.0.0.0 without authentication" in said[0]
    assert srv.running_pid() is None and not (tmp_path / "server" / "server.pid").exists()
    # with a token, JDBC (which has no authentication) would still listen on loopback only
    command = srv.server_command("0.0.0.0", CONNECT_PORT + 1, JDBC_PORT + 1)
    assert "hive.server2.thrift.bind.host=127.0.0.1" in command


def test_local_build_while_the_server_runs_says_to_use_connect(server):
    from test_home_lock import dbt_subprocess

    home, pid = server
    run = dbt_subprocess(home, "run", "--select", "base_movielens__links")
    assert run.returncode != 0
    assert (
        f"`movielake serve` (pid {pid}) holds this data home's metastore: build through it "
        "with MOVIELAKE_TARGET=connect" in run.stdout
    ), run.stdout[-3000:]


def test_server_binds_loopback_by_default(server):
    home, pid = server
    listening = subprocess.run(["ss", "-ltnp"], capture_output=True, text=True).stdout
    ours = [line for line in listening.splitlines() if f"pid={pid}," in line]
    ports = {line.split()[3].replace("[::ffff:127.0.0.1]", "127.0.0.1") for line in ours}
    assert f"127.0.0.1:{CONNECT_PORT}" in ports and f"127.0.0.1:{JDBC_PORT}" in ports
    # every port the server listens on (endpoints, UI, RPC, block manager) is on loopback
    assert all(p.startswith("127.0.0.1:") for p in ports), ports


GRID_IN_THREADS = r"""
import os, sys
from concurrent.futures import ThreadPoolExecutor
from pyspark.sql import SparkSession
from movielake.spark import als
from movielake.spark.session import activate
spark = SparkSession.builder.remote(sys.argv[1]).getOrCreate()
ratings = spark.createDataFrame(
    [(u, m, float(1 + (u * m) % 5)) for u in range(1, 21) for m in range(1, 16) if (u + m) % 3],
    "user_id int, movie_id int, rating double")
def fit(rank):
    return als.fit(ratings, "als_explicit", rank, 0.1, 1.0, 3, 42).rank
share = sys.argv[2] == "share"
pool = ThreadPoolExecutor(2, initializer=activate if share else None,
                          initargs=(spark,) if share else ())
try:
    print("ranks", sorted(f.result(timeout=240) for f in [pool.submit(fit, r) for r in (2, 3)]),
          flush=True)
    code = 0
except Exception as exc:
    print("failed:", type(exc).__name__, flush=True)
    code = 1
os._exit(code)  # no waiting for threads: the client's own would keep a failed run alive
"""


@pytest.mark.parametrize("share", [True, False])
def test_als_grid_fits_in_threads_over_connect(server, share):
    """als_tuning fits its grid in worker threads. Over Spark Connect MLlib looks up the
    thread's active session, which a new thread lacks (a bare AssertionError, found by the full
    build below): movielake.spark.session.activate gives it one; without it the same fits fail."""
    home, _pid = server
    env = {**os.environ, "MOVIELAKE_HOME": str(home)}
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            GRID_IN_THREADS,
            f"sc://127.0.0.1:{CONNECT_PORT}",
            "share" if share else "plain",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    if share:
        assert run.returncode == 0 and "ranks [2, 3]" in run.stdout, run.stderr[-3000:]
    else:
        assert run.returncode == 1 and "failed: AssertionError" in run.stdout, (
            run.stdout[-1000:] + run.stderr[-3000:]
        )


@pytest.mark.optional  # a second full build, through the server: -m optional runs it
def test_full_build_through_the_server(server, tmp_path):
    """Every model, ALS included (no SparkContext over Spark Connect), builds through the server."""
    from conftest import SYNTHETIC_VARS
    from movielake.data.synthetic import generate

    home, _pid = server
    raw = tmp_path / "synthetic"
    generate(raw, users=150, movies=300, mean_ratings_per_user=40, seed=11, twins=3)
    run = dbt_through_server(
        home,
        raw,
        "build",
        "--exclude-resource-type",
        "unit_test",
        vars={"dataset": "synthetic", **SYNTHETIC_VARS},
    )
    assert run.returncode == 0, run.stdout[-5000:]
    assert "ERROR=0" in run.stdout and "model movielake_recommenders.recommendations" in run.stdout
