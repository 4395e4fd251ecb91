"""Shared fixtures: one data home and one in-process Spark session for the whole test run.

dbt runs in this process (dbtRunner), so every build reuses the JVM that the first one started;
MOVIELAKE_HOME is pinned to a temporary folder before that happens."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]
TIERS = ("unit", "integration", "system")


def pytest_collection_modifyitems(config, items):
    """Each test carries its tier's marker (its folder): `-m unit` is the fast gate."""
    for item in items:
        tier = Path(str(item.fspath)).parent.name
        if tier in TIERS:
            item.add_marker(getattr(pytest.mark, tier))


@pytest.fixture(scope="session")
def lake_home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("lakehouse")
    os.environ["MOVIELAKE_HOME"] = str(home)
    os.environ["MOVIELAKE_PROJECT_DIR"] = str(PROJECT)
    # The tests' releases are small; the default heap (half of the machine) would let this
    # session's JVM and the extra builds of the system tests (a cluster among them) claim more
    # than the machine has: the kernel then kills one of them.
    os.environ.setdefault("MOVIELAKE_DRIVER_MEMORY", "6g")
    return home


class Dbt:
    """Runs dbt commands in this process against the project, with target/ and logs/ kept in
    the test's data home."""

    def __init__(self, home: Path) -> None:
        self.home = home

    def __call__(
        self,
        *args: str,
        vars: dict | None = None,
        project_dir: Path = PROJECT,
        schema: str = "movielake",
    ):
        """schema: prefix of every schema the run writes (<schema>_staging, ...), so that test
        modules building different data do not overwrite each other's tables."""
        from dbt.cli.main import dbtRunner

        argv = [
            *args,
            "--project-dir",
            str(project_dir),
            "--profiles-dir",
            str(PROJECT / "profiles"),
            "--target-path",
            str(self.home / "target" / project_dir.name),
            "--log-path",
            str(self.home / "logs"),
        ]
        if vars:
            argv += ["--vars", json.dumps(vars)]
        os.environ["MOVIELAKE_SCHEMA"] = schema
        try:
            return dbtRunner().invoke(argv)
        finally:
            os.environ.pop("MOVIELAKE_SCHEMA", None)


@pytest.fixture(scope="session")
def dbt(lake_home) -> Dbt:
    return Dbt(lake_home)


@pytest.fixture(scope="session")
def spark(lake_home):
    from movielake.spark.session import spark_session

    return spark_session()


SYNTHETIC_SCHEMA = "synth"
# Vars that keep the synthetic build quick (recommenders: a 2 x 1 ALS grid instead of 4 x 4,
# two item_item lambdas instead of four), with the ALS grid tuned as large releases are: by
# successive halving in two rungs, 33 then 100 of the 150 users; item_item's lambdas are scored
# on 50 of them, as a large release's on a sample.
SYNTHETIC_VARS = {
    "als_ranks": [4, 8],
    "als_reg_params": [0.1],
    "als_tuning_max_users": 100,
    "als_tuning_rungs": 2,
    "als_tuning_min_users": 30,
    "item_item_lambdas": [20, 200],
    "item_item_time_taus": [0, 300],
    "item_item_tuning_max_users": 50,
}


@pytest.fixture(scope="session")
def synthetic_release(tmp_path_factory) -> Path:
    """A small MovieLens-shaped release (CSV family) with 3 planted twin pairs."""
    from movielake.data.synthetic import generate

    folder = tmp_path_factory.mktemp("synthetic")
    generate(folder, users=150, movies=300, mean_ratings_per_user=40, seed=11, twins=3)
    return folder


@pytest.fixture(scope="session")
def synthetic_build(dbt, synthetic_release):
    """One `dbt build` of the whole project on the synthetic release, into the `synth_*`
    schemas; modules that test marts and models read from it instead of building again."""
    result = dbt(
        "build",
        "--exclude-resource-type",
        "unit_test",
        schema=SYNTHETIC_SCHEMA,
        vars={"dataset": "synthetic", "raw_dir": str(synthetic_release), **SYNTHETIC_VARS},
    )
    assert result.success, [
        (r.node.name, r.message) for r in result.result or [] if str(r.status) in ("error", "fail")
    ]
    return result


def rows(spark, sql: str) -> list[dict]:
    return [row.asDict() for row in spark.sql(sql).collect()]


def free_port() -> int:
    """A port nothing listens on now (the servers' defaults may be taken on a shared machine)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def object_store(lake_home):
    """A real S3-compatible store (versitygw) for the tests that need one, stopped after."""
    from movielake.ops import objectstore

    info = objectstore.start(port=free_port(), log=lambda _: None)
    yield info
    objectstore.stop(log=lambda _: None)


@pytest.fixture(scope="session")
def hdfs(lake_home):
    """A real single-node HDFS for the tests that need one, stopped after."""
    from movielake.ops import hdfs

    info = hdfs.start(port=free_port(), log=lambda _: None)
    yield info
    hdfs.stop(log=lambda _: None)


def release_on_store(uri: str, env: dict) -> str:
    """The tests' generated release (conftest's synthetic_release, same draw) written straight
    to a store folder by `movielake generate --out URI`."""
    run = subprocess.run(
        [
            str(Path(sys.executable).parent / "movielake"),
            "generate",
            "--users",
            "150",
            "--movies",
            "300",
            "--ratings-per-user",
            "40",
            "--seed",
            "11",
            "--twins",
            "3",
            "--out",
            uri,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    assert f"to {uri}" in run.stdout
    return uri
