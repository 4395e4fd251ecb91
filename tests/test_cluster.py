"""`movielake cluster`: the full dbt build on a real Spark standalone cluster (master + worker
on loopback from the installed pyspark), both stopped by PID afterwards.

Slow (three JVMs), so opt-in: MOVIELAKE_CLUSTER_TEST=1 make pytest PYTEST_ARGS=tests/test_cluster.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import PROJECT
from movielens_samples import write_csv_release

pytestmark = pytest.mark.skipif(os.environ.get("MOVIELAKE_CLUSTER_TEST") != "1",
                                reason="set MOVIELAKE_CLUSTER_TEST=1 to run the cluster build")


def test_full_build_on_standalone_cluster(tmp_path):
    home = tmp_path / "home"
    raw = write_csv_release(tmp_path / "ml-latest-small")
    # a previous run's log: readiness must be judged on this run's lines only
    (home / "cluster").mkdir(parents=True)
    (home / "cluster" / "master.log").write_text("stale run: Registering worker 127.0.0.1:1\n" * 3)
    movielake = Path(sys.executable).with_name("movielake")
    env = {**os.environ, "MOVIELAKE_HOME": str(home), "DBT_PROFILES_DIR": str(PROJECT / "profiles")}
    run = subprocess.run(
        [str(movielake), "cluster", "--", "dbt", "build", "--project-dir", str(PROJECT),
         "--target-path", str(home / "target"), "--log-path", str(home / "logs"),
         "--exclude-resource-type", "unit_test", "--vars", json.dumps({"raw_dir": str(raw)})],
        env=env, capture_output=True, text=True, timeout=1800)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "cluster up: spark://127.0.0.1:7077" in run.stdout
    assert "cluster stopped\n" in run.stdout  # and nothing left alive
    log = (home / "logs" / "dbt.log").read_text()
    assert "Completed successfully" in log
    assert "stale run" not in (home / "cluster" / "master.log").read_text()
    # the work ran on the cluster's executors, not in the driver
    assert any((home / "cluster" / "work").iterdir())
