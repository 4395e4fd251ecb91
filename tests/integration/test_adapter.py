"""The `movielake` dbt adapter: Python models run in-process on the session, write Delta, and a
failing model is a dbt error carrying the model's own traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import rows

OK_MODEL = """
def model(dbt, spark):
    return spark.range(3).withColumnRenamed("id", "n")
"""
FAILING_MODEL = """
def ratio(x):
    return 1 / x


def model(dbt, spark):
    return spark.range(int(ratio(0)))
"""


@pytest.fixture(scope="module")
def probe_project(tmp_path_factory) -> Path:
    project = tmp_path_factory.mktemp("adapter_probe")
    (project / "models").mkdir()
    (project / "dbt_project.yml").write_text(
        "name: adapter_probe\nversion: '1.0'\nconfig-version: 2\nprofile: movielake\n"
        "models:\n  adapter_probe:\n    +materialized: table\n    +schema: probe\n"
    )
    (project / "models" / "ok_model.py").write_text(OK_MODEL)
    (project / "models" / "failing_model.py").write_text(FAILING_MODEL)
    return project


@pytest.fixture(scope="module")
def probe_run(dbt, probe_project):
    return dbt("run", project_dir=probe_project)


def test_python_model_runs_in_process_and_writes_delta(probe_run, spark):
    statuses = {r.node.name: str(r.status) for r in probe_run.result}
    assert statuses["ok_model"] == "success"
    assert rows(spark, "select n from movielake_probe.ok_model order by n") == [
        {"n": 0},
        {"n": 1},
        {"n": 2},
    ]
    assert spark.sql("describe detail movielake_probe.ok_model").first()["format"] == "delta"


def test_python_model_failure_is_a_dbt_error_with_the_model_traceback(probe_run):
    assert not probe_run.success
    (failed,) = [r for r in probe_run.result if r.node.name == "failing_model"]
    assert str(failed.status) == "error"
    message = failed.message
    assert "Python model model.adapter_probe.failing_model failed" in message
    assert 'File "models/failing_model.py", line 7, in model' in message
    assert 'File "models/failing_model.py", line 3, in ratio' in message
    assert "return 1 / x" in message
    assert message.rstrip().endswith("ZeroDivisionError: division by zero")


def test_adapter_plugin_identity():
    from dbt.adapters.movielake import Plugin
    from dbt.adapters.movielake.connections import MovieLakeCredentials

    assert Plugin.adapter.type() == "movielake"
    assert Plugin.dependencies == ["spark"]
    creds = MovieLakeCredentials(schema="s", server_side_parameters={"spark.master": "local[1]"})
    assert creds.type == "movielake"
    params = creds.server_side_parameters
    # profile keys override the defaults; the defaults bring Delta and loopback binding
    assert params["spark.master"] == "local[1]"
    assert params["spark.sql.extensions"] == "io.delta.sql.DeltaSparkSessionExtension"
    assert params["spark.driver.bindAddress"] == "127.0.0.1"
