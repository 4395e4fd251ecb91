"""The Spark settings every MovieLake session starts with: Delta Lake, loopback binding, and all
state (warehouse, metastore, scratch space) pinned under the data home."""

from __future__ import annotations

import os
import sys
from importlib.metadata import version
from pathlib import Path

from movielake.paths import data_home

LOOPBACK = "127.0.0.1"


def delta_package() -> str:
    """Maven coordinate of the Delta jar matching the installed pyspark and delta-spark."""
    spark_minor = ".".join(version("pyspark").split(".")[:2])
    return f"io.delta:delta-spark_{spark_minor}_2.13:{version('delta-spark')}"


def delta_jars() -> list[str]:
    """The Delta jars Ivy cached for delta_package() (present once a session has started)."""
    cache = Path(os.environ.get("MOVIELAKE_IVY_JARS", Path.home() / ".ivy2.5.2" / "jars"))
    return sorted(str(p) for p in cache.glob(f"io.delta_*-{version('delta-spark')}.jar"))


def session_conf(home: Path | None = None) -> dict[str, str]:
    """Static session configuration; a profile's server_side_parameters override entries."""
    home = home or data_home()
    tmp = home / "tmp"
    log_conf = Path(__file__).with_name("log4j2.properties")
    java_opts = (
        f"-Dderby.system.home={home} -Djava.io.tmpdir={tmp} "
        f"-Dlog4j2.configurationFile=file:{log_conf}"
    )
    return {
        "spark.master": "local[*]",
        "spark.app.name": "movielake",
        "spark.driver.host": LOOPBACK,
        "spark.driver.bindAddress": LOOPBACK,
        "spark.driver.memory": "6g",
        "spark.driver.extraJavaOptions": java_opts,
        "spark.executor.extraJavaOptions": java_opts,
        "spark.jars.packages": delta_package(),
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        "spark.sql.catalogImplementation": "hive",
        # an analyst's `create table` without `using` makes a Delta table too, as dbt's do
        "spark.sql.sources.default": "delta",
        "spark.sql.warehouse.dir": str(home / "spark-warehouse"),
        "spark.hadoop.javax.jdo.option.ConnectionURL": (
            f"jdbc:derby:;databaseName={home / 'metastore_db'};create=true"
        ),
        "spark.hadoop.hive.downloaded.resources.dir": str(tmp / "hive-resources"),
        "spark.hadoop.hive.exec.scratchdir": str(tmp / "hive-scratch"),
        "spark.local.dir": str(tmp / "spark-local"),
        # ALS checkpoints: here for every session and the server (Connect clients cannot set
        # it), and deleted by Spark once the checkpointed data is no longer referenced
        "spark.checkpoint.dir": str(tmp / "checkpoints"),
        "spark.cleaner.referenceTracking.cleanCheckpoints": "true",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": "16",
        "spark.ui.showConsoleProgress": "false",
    }


def prepare_environment(home: Path | None = None) -> None:
    """Process-level settings that must exist before the JVM starts."""
    home = home or data_home()
    (home / "tmp").mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("SPARK_LOCAL_IP", LOOPBACK)
    # Python workers must run the interpreter that has the project's packages (numpy for MLlib).
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
