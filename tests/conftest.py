"""Shared fixtures: one data home and one in-process Spark session for the whole test run.

dbt runs in this process (dbtRunner), so every build reuses the JVM that the first one started;
MOVIELAKE_HOME is pinned to a temporary folder before that happens."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def lake_home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("lakehouse")
    os.environ["MOVIELAKE_HOME"] = str(home)
    os.environ["MOVIELAKE_PROJECT_DIR"] = str(PROJECT)
    return home


class Dbt:
    """Runs dbt commands in this process against the project, with target/ and logs/ kept in
    the test's data home."""

    def __init__(self, home: Path) -> None:
        self.home = home

    def __call__(self, *args: str, vars: dict | None = None, project_dir: Path = PROJECT):
        from dbt.cli.main import dbtRunner

        argv = [
            *args,
            "--project-dir", str(project_dir),
            "--profiles-dir", str(PROJECT / "profiles"),
            "--target-path", str(self.home / "target" / project_dir.name),
            "--log-path", str(self.home / "logs"),
        ]
        if vars:
            argv += ["--vars", json.dumps(vars)]
        return dbtRunner().invoke(argv)


@pytest.fixture(scope="session")
def dbt(lake_home) -> Dbt:
    return Dbt(lake_home)


@pytest.fixture(scope="session")
def spark(lake_home):
    from movielake.session import spark_session

    return spark_session()


def rows(spark, sql: str) -> list[dict]:
    return [row.asDict() for row in spark.sql(sql).collect()]
