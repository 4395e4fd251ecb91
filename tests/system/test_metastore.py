"""The shared Hive Metastore for real: PostgreSQL and the metastore started in a data home of the
test's own, then separate Spark applications (each its own JVM, as separate users' sessions
would be) using one catalog: `dbt build` writes its tables through it, a second application
opens a session and sees them, a third (`movielake sql` from another data home) reads them while
that session is still open (the embedded Derby metastore would refuse the second JVM), and the
open one drops a table with its files. Stopping leaves no process, pid file or listening port.

One metastore start and three applications in all: each application takes about a minute on
two cores (the Hive client's jars), so the steps share them rather than start their own.
The first run downloads the metastore and Spark's Hive 4.0.1 client jars (~380 MB, minutes;
`make metastore-fetch` does it ahead); afterwards the metastore starts in ~10 s."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from movielake.cli import main
from movielake.ops import metastore
from movielake.ops.procs import alive, port_open

pytestmark = pytest.mark.system
HOST = "127.0.0.1"

# A Spark application of another user: MovieLake's session settings plus the metastore client's,
# from the two variables `movielake metastore start` prints. It prints what it sees as one JSON
# line, keeps its session open until told, then drops the table and prints what is left.
APP = """
import json, os, sys
from pathlib import Path
from movielake.ops.metastore import client_conf
from movielake.spark.session import session_conf, spark_session

conf = session_conf()
conf.update(client_conf(os.environ["MOVIELAKE_METASTORE"],
                        Path(os.environ["MOVIELAKE_METASTORE_JARS"])))
conf.update({"spark.master": "local[1]", "spark.ui.enabled": "false"})
spark = spark_session(conf)
table = "shared_staging.stg_movielens__movies"
tables = [r.tableName for r in spark.sql("show tables in shared_staging").collect()]
detail = {r.col_name: r.data_type for r in spark.sql(f"describe table extended {table}").collect()}
count = spark.sql(f"select count(*) from {table}").first()[0]
print("RESULT " + json.dumps({"has_table": "stg_movielens__movies" in tables, "rows": count,
      "provider": detail.get("Provider"), "type": detail.get("Type")}), flush=True)
sys.stdin.readline()
spark.sql(f"drop table {table}")
tables = [r.tableName for r in spark.sql("show tables in shared_staging").collect()]
print("RESULT " + json.dumps({"has_table": "stg_movielens__movies" in tables}), flush=True)
spark.stop()
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@pytest.fixture
def home(monkeypatch):
    """A data home of the test's own, outside pytest's 0700 temporary folders: PostgreSQL runs
    as the `postgres` user and must reach its folder in here. Whatever started is stopped."""
    folder = Path(tempfile.mkdtemp(prefix="movielake-metastore-"))
    folder.chmod(0o755)
    monkeypatch.setenv("MOVIELAKE_HOME", str(folder))
    monkeypatch.delenv("MOVIELAKE_WAREHOUSE", raising=False)  # the warehouse is in this home
    yield folder
    metastore.stop(log=lambda _m: None)
    shutil.rmtree(folder, ignore_errors=True)


def spark_env(info: dict) -> dict[str, str]:
    return {
        **os.environ,
        **info["env"],
        "MOVIELAKE_DRIVER_MEMORY": "1g",
        "MOVIELAKE_SHUFFLE_PARTITIONS": "2",
    }


def results(output: str) -> list[dict]:
    return [
        json.loads(line.removeprefix("RESULT "))
        for line in output.splitlines()
        if line.startswith("RESULT ")
    ]


def test_a_build_through_the_metastore_is_seen_by_other_applications_at_once(home, capsys):
    port = free_port()
    info = metastore.start(port=port, log=lambda _m: None)
    uri = f"thrift://{HOST}:{port}"
    assert info["address"] == uri and port_open(HOST, port)
    assert info["env"] == {
        "MOVIELAKE_METASTORE": uri,
        "MOVIELAKE_METASTORE_JARS": str(metastore.client_jars_dir()),
    }
    assert any(Path(info["env"]["MOVIELAKE_METASTORE_JARS"]).glob("hive-exec-4.0.1*.jar"))
    assert metastore.status()["pid"] == info["pid"] and alive(info["postgres_pid"])
    folder = home / "metastore"
    for secret in (folder / "password", folder / "conf" / "metastore-site.xml"):
        assert secret.stat().st_mode & 0o077 == 0, secret
    password = (folder / "password").read_text().strip()
    assert password not in (folder / "metastore.log").read_text()
    capsys.readouterr()
    assert main(["metastore", "status"]) == 0
    out = capsys.readouterr().out
    assert f"export MOVIELAKE_METASTORE={uri}" in out
    assert f"export MOVIELAKE_METASTORE_JARS={metastore.client_jars_dir()}" in out

    # 1. dbt writes the staged movies through the shared catalog
    bin_dir = Path(sys.executable).parent
    project = Path(__file__).resolve().parents[2]
    env = {
        **spark_env(info),
        "MOVIELAKE_SCHEMA": "shared",
        "DBT_PROFILES_DIR": str(project / "profiles"),
    }
    build = subprocess.run(
        [
            str(bin_dir / "dbt"),
            "build",
            "--project-dir",
            str(project),
            "-s",
            "+stg_movielens__movies",
            "--target-path",
            str(home / "target"),
            "--log-path",
            str(home / "logs"),
            "--exclude-resource-type",
            "unit_test",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-2000:]
    table = home / "spark-warehouse" / "shared_staging.db" / "stg_movielens__movies"
    assert (table / "_delta_log").is_dir()

    # 2. another application opens a session on the same catalog and keeps it open...
    script = home / "app.py"
    script.write_text(APP)
    holder = subprocess.Popen(
        [sys.executable, str(script)],
        env=spark_env(info),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = holder.stdout.readline()
        while line and not line.startswith("RESULT "):
            line = holder.stdout.readline()
        # ml-latest-small's 9,742 movies, all staged; a managed Delta table
        assert results(line) == [
            {"has_table": True, "rows": 9742, "provider": "delta", "type": "MANAGED"}
        ], "the holding application saw another catalog"
        # 3. ...while `movielake sql` from another data home (another user's machine, as far as
        # the catalog can tell) reads the build's table
        elsewhere = home / "analyst"
        query = subprocess.run(
            [
                str(bin_dir / "movielake"),
                "sql",
                "-e",
                "select count(*) from shared_staging.stg_movielens__movies",
            ],
            env={
                **env,
                "MOVIELAKE_HOME": str(elsewhere),
                "MOVIELAKE_WAREHOUSE": str(home / "spark-warehouse"),
            },
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert query.returncode == 0, query.stderr[-3000:]
        assert query.stdout.split()[-1] == "9742"
        output, _ = holder.communicate("drop\n", timeout=600)
    finally:
        if holder.poll() is None:
            holder.kill()
    assert holder.returncode == 0
    assert results(output) == [{"has_table": False}]
    assert not table.exists()  # a managed table: dropped with its files
    # no application fell back to an embedded Derby
    assert not (home / "metastore_db").exists() and not (elsewhere / "metastore_db").exists()

    assert metastore.stop(log=lambda _m: None) is True
    assert metastore.status() is None
    assert not port_open(HOST, port) and not port_open(HOST, info["postgres_port"])
    assert not alive(info["pid"]) and not alive(info["postgres_pid"])
    assert not list(folder.glob("*.pid"))
    assert metastore.stop(log=lambda _m: None) is False
