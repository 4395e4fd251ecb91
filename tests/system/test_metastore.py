"""The shared Hive Metastore for real: PostgreSQL and the metastore started in a data home of the
test's own, then separate Spark applications (each its own JVM, as separate users' sessions
would be) using one catalog: one creates a Delta table, later ones list and read it, one of them
while another session is still open (the embedded Derby metastore would refuse the second JVM),
and the last drops it. Stopping leaves no process, pid file or listening port behind.

The first run downloads the metastore and Spark's Hive 4.0.1 client jars (~380 MB, minutes;
`make metastore-fetch` does it ahead); afterwards the metastore starts in ~10 s and each Spark
application takes a minute on two cores."""

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
ROWS = [[1, 10, 4.5], [2, 20, 3.0], [3, 30, 5.0]]

# One Spark application: MovieLake's session settings plus the metastore client's, from the two
# variables `movielake metastore start` prints. It prints its findings as one JSON line.
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
mode = sys.argv[1]
if mode == "write":
    spark.sql("create schema shared_demo")
    spark.sql("create table shared_demo.ratings (user_id int, movie_id int, rating double)")
    spark.sql("insert into shared_demo.ratings values (1, 10, 4.5), (2, 20, 3.0), (3, 30, 5.0)")

def seen():
    tables = [r.tableName for r in spark.sql("show tables in shared_demo").collect()]
    rows = [list(r) for r in spark.sql("select * from shared_demo.ratings order by 1").collect()]
    detail = spark.sql("describe table extended shared_demo.ratings").collect()
    info = {r.col_name: r.data_type for r in detail}
    return {"tables": tables, "rows": rows, "provider": info.get("Provider"),
            "type": info.get("Type")}

print("RESULT " + json.dumps(seen()), flush=True)
if mode == "hold":  # stay open until told, then drop the table
    sys.stdin.readline()
    spark.sql("drop table shared_demo.ratings")
    tables = [r.tableName for r in spark.sql("show tables in shared_demo").collect()]
    print("RESULT " + json.dumps({"tables": tables}), flush=True)
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


def run_app(script: Path, mode: str, info: dict) -> dict:
    done = subprocess.run(
        [sys.executable, str(script), mode],
        env=spark_env(info),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return results(done.stdout)[0]


def test_two_spark_applications_share_one_catalog(home, capsys):
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

    script = home / "app.py"
    script.write_text(APP)
    first = run_app(script, "write", info)
    assert first == {"tables": ["ratings"], "rows": ROWS, "provider": "delta", "type": "MANAGED"}
    table = home / "spark-warehouse" / "shared_demo.db" / "ratings"
    assert (table / "_delta_log").is_dir()

    # a second application, after the first has exited, keeps its session open...
    holder = subprocess.Popen(
        [sys.executable, str(script), "hold"],
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
        assert results(line) == [first], "the holding application saw another catalog"
        # ...while a third one reads the same catalog
        assert run_app(script, "read", info) == first
        output, _ = holder.communicate("drop\n", timeout=600)
    finally:
        if holder.poll() is None:
            holder.kill()
    assert holder.returncode == 0
    assert results(output) == [{"tables": []}]
    assert not table.exists()  # a managed table: dropped with its files
    assert not (home / "metastore_db").exists()  # no application fell back to Derby

    assert metastore.stop(log=lambda _m: None) is True
    assert metastore.status() is None
    assert not port_open(HOST, port) and not port_open(HOST, info["postgres_port"])
    assert not alive(info["pid"]) and not alive(info["postgres_pid"])
    assert not list(folder.glob("*.pid"))
    assert metastore.stop(log=lambda _m: None) is False


def test_a_build_through_the_metastore_is_seen_by_movielake_sql_elsewhere(home):
    """dbt writes through the shared catalog; `movielake sql` from another data home (another
    user's machine, as far as the catalog can tell) sees its tables while no Derby is made."""
    info = metastore.start(port=free_port(), log=lambda _m: None)
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
    assert query.stdout.split()[-1] == "9742"  # ml-latest-small's movies, all staged
    assert not (home / "metastore_db").exists() and not (elsewhere / "metastore_db").exists()
