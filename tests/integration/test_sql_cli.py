"""`movielake sql`: spark-sql on a data home with MovieLake's settings, arguments passed through."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_sql_passes_spark_sql_options_and_writes_delta_under_the_data_home(tmp_path):
    movielake = Path(sys.executable).with_name("movielake")
    env = {**os.environ, "MOVIELAKE_HOME": str(tmp_path)}
    result = subprocess.run(
        [
            str(movielake),
            "sql",
            "-e",
            "create table probe (n int); insert into probe values (41); "
            "select n + 1 from probe; describe detail probe",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert "42" in lines
    detail = next(line for line in lines if line.startswith("delta"))
    assert str(tmp_path / "spark-warehouse" / "probe") in detail
