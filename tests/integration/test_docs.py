"""The dbt docs site is complete: every model, source and exposure is described, and every
column of every built table carries a description (checked against the real tables of the
shared synthetic build, so a column added in SQL but not in YAML is caught)."""

from __future__ import annotations

import json

from conftest import PROJECT, SYNTHETIC_SCHEMA


def manifest(lake_home) -> dict:
    return json.loads((lake_home / "target" / PROJECT.name / "manifest.json").read_text())


def test_every_model_and_column_is_described(synthetic_build, lake_home, spark):
    undocumented = []
    for node in manifest(lake_home)["nodes"].values():
        if node["resource_type"] != "model" or node["config"]["materialized"] == "ephemeral":
            continue
        if not node["description"].strip():
            undocumented.append(node["name"])
        described = {name for name, col in node["columns"].items() if col["description"].strip()}
        # the manifest names the schemas of the last run; the synthetic build wrote synth_*
        schema = f"{SYNTHETIC_SCHEMA}_{node['schema'].split('_', 1)[1]}"
        for column in spark.table(f"{schema}.{node['alias']}").columns:
            if column not in described:
                undocumented.append(f"{node['name']}.{column}")
    assert not undocumented


def test_sources_and_exposures_are_described(synthetic_build, lake_home):
    found = manifest(lake_home)
    for source in found["sources"].values():
        assert source["description"].strip() and source["source_description"].strip(), source[
            "name"
        ]
        assert all(c["description"].strip() for c in source["columns"].values()), source["name"]
    report = found["exposures"]["exposure.movielake.movielake_report"]
    assert report["description"].strip()
    assert {"model.movielake.movie_stats", "model.movielake.rating_count_vs_mean"} <= set(
        report["depends_on"]["nodes"]
    )


def test_every_model_has_a_grain_test(synthetic_build, lake_home):
    """A key test on every model: `unique` on a column or `unique_combination` on columns,
    each key column also in the model's `not_null_columns` (null keys slip past a uniqueness
    test)."""
    found = manifest(lake_home)
    keys: dict[str, list[list[str]]] = {}
    not_null: dict[str, set[str]] = {}
    for node in found["nodes"].values():
        meta = node.get("test_metadata") or {}
        if node["resource_type"] != "test" or not node.get("attached_node"):
            continue
        model, kwargs = node["attached_node"], meta.get("kwargs", {})
        if meta.get("name") == "unique":
            keys.setdefault(model, []).append([kwargs["column_name"]])
        elif meta.get("name") == "unique_combination":
            keys.setdefault(model, []).append(list(kwargs["columns"]))
        elif meta.get("name") == "not_null_columns":
            not_null.setdefault(model, set()).update(kwargs["columns"])
    missing = []
    for unique_id, node in found["nodes"].items():
        if node["resource_type"] != "model":
            continue
        grains = [
            cols for cols in keys.get(unique_id, []) if set(cols) <= not_null.get(unique_id, set())
        ]
        if not grains:
            missing.append(node["name"])
    assert not missing, f"models without a not-null key test: {missing}"


CONTRACTED = {
    "stg_movielens__ratings",
    "stg_movielens__movies",
    "stg_movielens__tags",
    "stg_movielens__links",
    "stg_movielens__quarantine",
    "served_models",
}


def test_staging_and_served_marts_have_enforced_contracts(synthetic_build, lake_home):
    """The tables the CLI and the report read keep their columns and types: a SQL model whose
    select drifts from its yml fails its build. (dbt-spark checks contracts of SQL models
    only, so the Python models have none.)"""
    nodes = [n for n in manifest(lake_home)["nodes"].values() if n["resource_type"] == "model"]
    eda = {n["name"] for n in nodes if n["fqn"][1:3] == ["marts", "eda"]}
    assert len(eda) >= 10
    for node in nodes:
        if node["name"] in CONTRACTED | eda:
            assert node["language"] == "sql" and node["contract"]["enforced"], node["name"]
            assert all(c.get("data_type") for c in node["columns"].values()), node["name"]
