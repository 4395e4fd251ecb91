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
stop, seen, errors = Path(sys.argv[2]), [], []
while not stop.exists():
    try:
        row = spark.sql("select count(*) as n, sum(rating) as s "
                        "from movielake_staging.stg_movielens__ratings").first()
        seen.append([row["n"], row["s"]])
    except Exception as exc:  # any failure is what this test looks for
        errors.append(str(exc).splitlines()[0])
    time.sleep(0.2)
print(json.dumps({"seen": seen, "errors": errors}))
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


def test_reads_during_rebuilds_never_fail_or_see_partial_tables(server, tmp_path):
    home, _pid = server
    raw = write_csv_release(tmp_path / "ml-latest-small")
    first = dbt_through_server(home, raw, "run", "--select", "staging")
    assert first.returncode == 0, first.stdout[-3000:]

    stop = tmp_path / "stop"
    reader = subprocess.Popen([sys.executable, "-c", READER, f"sc://127.0.0.1:{CONNECT_PORT}",
                               str(stop)], stdout=subprocess.PIPE, text=True)
    time.sleep(5)
    for _ in range(2):  # rewrite the table twice while it is being read
        again = dbt_through_server(home, raw, "run", "--select", "stg_movielens__ratings")
        assert again.returncode == 0, again.stdout[-3000:]
    stop.touch()
    out, _ = reader.communicate(timeout=120)
    result = json.loads(out.strip().splitlines()[-1])
    assert result["errors"] == []
    assert len(result["seen"]) >= 10
    # the sample release has 4 valid ratings, summing to 14.5 stars: every read saw all of them
    assert {tuple(s) for s in result["seen"]} == {(4, 14.5)}


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
