"""`movielake cluster`: the full dbt build on a real Spark standalone cluster (master + 2
single-core workers on loopback from the installed pyspark), both stopped by PID afterwards,
on the generated release the other tests build, big enough for every model; its metrics
equal those of the local build the other tests share (same release, same vars).

Runs in CI (about 6 minutes: one more full build, four JVMs) so that the cluster build cannot
silently break. MOVIELAKE_SKIP_CLUSTER_TEST=1 skips it on a machine without the memory for
four more JVMs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import PROJECT, SYNTHETIC_SCHEMA, SYNTHETIC_VARS, rows

pytestmark = pytest.mark.skipif(os.environ.get("MOVIELAKE_SKIP_CLUSTER_TEST") == "1",
                                reason="MOVIELAKE_SKIP_CLUSTER_TEST=1")

# Local and cluster builds may sum the same numbers in a different order (other partitions
# per core); the ALS blocks do not depend on the cores, so metrics agree to this tolerance.
TOLERANCE = 1e-4

METRICS_SQL = ("select model, split, rmse, mae, precision_at_k, ndcg_at_k, map_at_k "
               "from {schema}_recommenders.model_metrics order by model, split")
# the cluster build's metrics, read in a process of its own (this one holds the metastore)
METRICS = ("import json; from movielake.spark.session import spark_session; "
           "print('JSON' + json.dumps([r.asDict() for r in spark_session().sql("
           f"{METRICS_SQL.format(schema='movielake')!r}).collect()]))")


def cluster_build(home: Path, raw: Path) -> list[dict]:
    env = {**os.environ, "MOVIELAKE_HOME": str(home),
           "DBT_PROFILES_DIR": str(PROJECT / "profiles")}
    bin_dir = Path(sys.executable).parent
    dbt = [str(bin_dir / "dbt"), "build", "--project-dir", str(PROJECT),
           "--target-path", str(home / "target"), "--log-path", str(home / "logs"),
           "--exclude-resource-type", "unit_test",
           "--vars", json.dumps({"dataset": "synthetic", "raw_dir": str(raw), **SYNTHETIC_VARS})]
    command = [str(bin_dir / "movielake"), "cluster", "--workers", "2", "--", *dbt]
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=3600)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "cluster up: spark://127.0.0.1:7077" in run.stdout
    assert "cluster stopped\n" in run.stdout  # and nothing left alive
    # the work ran on the cluster's executors, not in the driver
    assert any((home / "cluster" / "work").iterdir())
    assert "stale run" not in (home / "cluster" / "master.log").read_text()
    out = subprocess.run([sys.executable, "-c", METRICS], env=env, capture_output=True,
                         text=True)
    line = next(x for x in out.stdout.splitlines() if x.startswith("JSON"))
    return json.loads(line[4:])


def test_cluster_build_matches_the_local_build(spark, synthetic_build, synthetic_release,
                                               tmp_path):
    local = rows(spark, METRICS_SQL.format(schema=SYNTHETIC_SCHEMA))
    remote = cluster_build(tmp_path / "cluster", synthetic_release)
    assert [(r["model"], r["split"]) for r in local] == [(r["model"], r["split"]) for r in remote]
    # every model, scored on validation and test
    assert sorted((r["model"], r["split"]) for r in local) == sorted(
        (model, split) for model in ("popularity", "als_explicit", "als_residual", "als_implicit",
                                     "item_item", "hybrid") for split in ("validation", "test"))
    for a, b in zip(local, remote):
        for key in ("rmse", "mae", "precision_at_k", "ndcg_at_k", "map_at_k"):
            if a[key] is None:
                assert b[key] is None
            else:
                assert b[key] == pytest.approx(a[key], abs=TOLERANCE), (a["model"], key)
