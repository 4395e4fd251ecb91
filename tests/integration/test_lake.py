"""movielake.serving.lake on the shared synthetic build: table locations resolved as dbt named
them, rows read with deltalake equal to Spark's, clear errors for tables not built, and the
Spark-free CLI working while another process holds the metastore."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from conftest import PROJECT, SYNTHETIC_SCHEMA, SYNTHETIC_VARS, rows
from movielake.serving.lake import Lake, NotBuiltError, default_schema_prefix


@pytest.fixture(scope="module")
def manifest(dbt, synthetic_build, synthetic_release, lake_home):
    """The synthetic build's manifest: other modules' dbt runs share target/ and leave it
    parsed for their own schema prefix, so parse again for this one."""
    result = dbt(
        "parse",
        schema=SYNTHETIC_SCHEMA,
        vars={"dataset": "synthetic", "raw_dir": str(synthetic_release), **SYNTHETIC_VARS},
    )
    assert result.success, result.exception
    return lake_home / "target" / PROJECT.name / "manifest.json"


def test_every_model_and_seed_resolves_to_dbt_relation_and_its_delta_files(manifest):
    nodes = [
        n
        for n in json.loads(manifest.read_text())["nodes"].values()
        if n["resource_type"] in ("model", "seed")
    ]
    assert len(nodes) > 30
    from_manifest = Lake(SYNTHETIC_SCHEMA, manifest=manifest)
    from_rule = Lake(SYNTHETIC_SCHEMA, manifest=manifest.with_name("absent.json"))
    for node in nodes:
        ref = from_manifest.ref(node["name"])
        assert ref == from_rule.ref(node["name"]), node["name"]
        assert ref.name == f"{node['schema']}.{node['alias']}"
        assert node["relation_name"].replace("`", "") == ref.name
        if node["config"]["materialized"] in ("table", "seed"):
            assert ref.path.is_delta_table(), ref


def test_prefix_defaults_to_movielake_schema(monkeypatch):
    monkeypatch.setenv("MOVIELAKE_SCHEMA", "other")
    assert default_schema_prefix() == "other"
    assert Lake().name("user_twins") == "other_twins.user_twins"
    monkeypatch.delenv("MOVIELAKE_SCHEMA")
    assert Lake().name("stg_movielens__ratings") == "movielake_staging.stg_movielens__ratings"
    with pytest.raises(KeyError, match="no_such_model"):
        Lake().ref("no_such_model")


@pytest.mark.parametrize(
    "model", ["stg_movielens__movies", "movie_stats", "served_models", "twin_validation"]
)
def test_rows_read_without_spark_equal_spark_rows(spark, synthetic_build, model):
    lake = Lake(SYNTHETIC_SCHEMA)
    ours = lake.read(model)
    theirs = spark.table(lake.name(model)).toPandas()
    for column in ours.columns:  # deltalake's timestamps are UTC-aware, Spark's naive UTC
        if isinstance(ours[column].dtype, pd.DatetimeTZDtype):
            ours[column] = ours[column].dt.tz_convert("UTC").dt.tz_localize(None)
    assert list(ours.columns) == list(theirs.columns)
    key = list(ours.columns[:2])
    norm = lambda f: f.sort_values(key).reset_index(drop=True).astype(str)  # noqa: E731
    pd.testing.assert_frame_equal(norm(ours), norm(theirs))


def test_version_is_the_latest_delta_commit(spark, synthetic_build):
    lake = Lake(SYNTHETIC_SCHEMA)
    history = rows(spark, f"describe history {lake.name('als_factors')}")
    assert lake.version("als_factors").version == max(h["version"] for h in history)


def test_tables_not_built_raise_a_clear_error(lake_home):
    lake = Lake("nothing_here")
    assert not lake.exists("als_factors")
    with pytest.raises(
        NotBuiltError,
        match=r"nothing_here_recommenders\.served_models is not "
        r"built .*make run",
    ):
        lake.served_item_factors()


def test_cli_recommend_runs_while_this_process_holds_the_metastore(
    spark, synthetic_build, lake_home
):
    """This test process's Spark session owns the embedded metastore (Derby admits one JVM); the
    CLI in a second process must still answer, from the Delta files alone."""
    spark.sql(f"show tables in {SYNTHETIC_SCHEMA}_recommenders").collect()
    env = {**os.environ, "MOVIELAKE_HOME": str(lake_home), "MOVIELAKE_SCHEMA": SYNTHETIC_SCHEMA}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "movielake.cli",
            "recommend",
            "--ratings",
            str(PROJECT / "seeds" / "my_ratings.csv"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    printed = [int(line.split("(movie ")[1].split(",")[0]) for line in done.stdout.splitlines()]
    stored = [
        r["movie_id"]
        for r in rows(
            spark,
            f"select movie_id from {SYNTHETIC_SCHEMA}_recommenders.my_recommendations "
            "order by rank",
        )
    ]
    assert printed == stored

    env["MOVIELAKE_SCHEMA"] = "nothing_here"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "movielake.cli",
            "recommend",
            "--ratings",
            str(PROJECT / "seeds" / "my_ratings.csv"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "not built" in done.stderr and "Traceback" not in done.stderr
