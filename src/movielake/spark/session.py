"""MovieLake's Spark session: the settings every session starts with (Delta Lake, loopback
binding, all state pinned under the data home or the shared warehouse) and the one way to get
the session, for the dbt adapter, the CLI and the models alike."""

from __future__ import annotations

import os
import sys
from importlib.metadata import version
from pathlib import Path

from movielake.data.paths import data_home, warehouse_dir

LOOPBACK = "127.0.0.1"


def delta_package() -> str:
    """Maven coordinate of the Delta jar matching the installed pyspark and delta-spark."""
    spark_minor = ".".join(version("pyspark").split(".")[:2])
    return f"io.delta:delta-spark_{spark_minor}_2.13:{version('delta-spark')}"


def delta_jars() -> list[str]:
    """The Delta jars Ivy cached for delta_package() (present once a session has started)."""
    cache = Path(os.environ.get("MOVIELAKE_IVY_JARS", Path.home() / ".ivy2.5.2" / "jars"))
    return sorted(str(p) for p in cache.glob(f"io.delta_*-{version('delta-spark')}.jar"))


def machine() -> tuple[int, int]:
    """(cores, physical memory in bytes) of this machine."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return cores or 1, os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def task_slots(spark) -> int:
    """Tasks the session runs at once: its default parallelism (every executor core of a
    cluster, the cores of local[*]), or this machine's cores for a Spark Connect client, which
    has no SparkContext to ask."""
    return machine()[0] if is_connect(spark) else spark.sparkContext.defaultParallelism


def sized_settings() -> dict[str, str]:
    """Memory and shuffle settings derived from the machine (and, through adaptive query
    execution, from the data); MOVIELAKE_DRIVER_MEMORY / MOVIELAKE_SHUFFLE_PARTITIONS or a
    profile's server_side_parameters override them.

    - driver memory: half of physical memory, 2 to 32 GiB. With `local[*]` the driver JVM
      is also the executor, so this is the whole build's heap; the JVM only takes it as it
      needs it. A third (8 GiB on 24) was too little for the 5M-rating build, where
      item_item_weights and ALS tuning run at once in dbt's two threads.
    - shuffle partitions: an upper bound of 4 per core (at least 16); adaptive execution then
      coalesces each shuffle's output towards 64 MB partitions, so a 100K-rating build runs a
      few tasks per stage and a 20M-rating one as many as its data needs.
    - Delta snapshot partitions: one per core (MOVIELAKE_SNAPSHOT_PARTITIONS)."""
    cores, memory = machine()
    gib = max(2, min(32, memory // 2 // 2**30))
    return {
        "spark.driver.memory": os.environ.get("MOVIELAKE_DRIVER_MEMORY", f"{gib}g"),
        "spark.sql.shuffle.partitions": os.environ.get("MOVIELAKE_SHUFFLE_PARTITIONS",
                                                       str(max(16, 4 * cores))),
        "spark.sql.adaptive.enabled": "true",
        "spark.sql.adaptive.coalescePartitions.enabled": "true",
        # size partitions by data (advisory 64 MB), not by the number of cores
        "spark.sql.adaptive.coalescePartitions.parallelismFirst": "false",
        # Delta rebuilds a table's snapshot (its list of files) with a shuffle of this many
        # partitions, 50 by default: each then runs 50 tasks on a table of a few dozen files.
        # A core's worth each is plenty for the logs we write (measured: an append to a
        # row-tracked table took 2.6 s with 50, 0.5 s with 1)
        "spark.databricks.delta.snapshotPartitions": os.environ.get(
            "MOVIELAKE_SNAPSHOT_PARTITIONS", str(cores)),
    }


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
        "spark.driver.extraJavaOptions": java_opts,
        "spark.executor.extraJavaOptions": java_opts,
        "spark.jars.packages": delta_package(),
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        "spark.sql.catalogImplementation": "hive",
        # an analyst's `create table` without `using` makes a Delta table too, as dbt's do
        "spark.sql.sources.default": "delta",
        "spark.sql.warehouse.dir": str(warehouse_dir(home)),
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
        "spark.ui.showConsoleProgress": "false",
        # dbt runs `threads` models at once on this one session. Under FIFO, the stage
        # submitted first gets every core until its last task ends: at 20M ratings one
        # user_twins stage (16 tasks of 1.5 min) held movie_content_features' one-task jobs
        # back for minutes. FAIR shares the cores between the running stages.
        "spark.scheduler.mode": "FAIR",
        "spark.scheduler.allocation.file": str(Path(__file__).with_name("fairscheduler.xml")),
        **sized_settings(),
    }


def prepare_environment(home: Path | None = None) -> None:
    """Process-level settings that must exist before the JVM starts."""
    home = home or data_home()
    (home / "tmp").mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("SPARK_LOCAL_IP", LOOPBACK)
    # Python workers must run the interpreter that has the project's packages (numpy for MLlib).
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)


def spark_session(conf: dict[str, str] | None = None):
    """The process's Spark session with MovieLake's settings (or `conf`); created on first use.
    The builder mirrors dbt-spark's session cursor, so both find the same session. With
    SPARK_REMOTE set (e.g. sc://127.0.0.1:15002, see `movielake serve`) it is a Spark Connect
    session on that server instead, which owns all static settings."""
    from pyspark.sql import SparkSession

    remote = (conf or {}).get("spark.remote") or os.environ.get("SPARK_REMOTE")
    if remote:
        builder = SparkSession.builder.remote(remote)
        for key, value in (conf or {}).items():
            if key != "spark.remote":
                builder = builder.config(key, value)
        session = builder.getOrCreate()
        activate(session)
        return session
    prepare_environment()
    builder = SparkSession.builder.enableHiveSupport()
    for key, value in (conf if conf is not None else session_conf()).items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def activate(spark) -> None:
    """Make `spark` the calling thread's active session. A Spark Connect client keeps its
    active session per thread and MLlib's remote calls look it up there: a model run in a dbt
    worker thread, or a fit in a grid thread, fails with a bare AssertionError in
    pyspark.ml.util without it. A classic session is every thread's already."""
    if is_connect(spark):
        type(spark)._set_default_and_active_session(spark)


def is_connect(spark) -> bool:
    """Whether `spark` is a Spark Connect client (no SparkContext, per-thread active session)."""
    return type(spark).__module__.startswith("pyspark.sql.connect")
