"""MovieLake's Spark session: the settings every session starts with (Delta Lake, loopback
binding, all state pinned under the data home or the shared warehouse) and the one way to get
the session, for the dbt adapter, the CLI and the models alike."""

from __future__ import annotations

import os
import sys
from importlib.metadata import version
from pathlib import Path

from movielake.data.paths import data_home, warehouse_dir
from movielake.data.storage import S3_SCHEMES, Location, s3_endpoint, s3_region
from movielake.spark import class_archive

LOOPBACK = "127.0.0.1"


def delta_package() -> str:
    """Maven coordinate of the Delta jar matching the installed pyspark and delta-spark."""
    spark_minor = ".".join(version("pyspark").split(".")[:2])
    return f"io.delta:delta-spark_{spark_minor}_2.13:{version('delta-spark')}"


def delta_jars() -> list[str]:
    """The Delta jars Ivy cached for delta_package() (present once a session has started)."""
    cache = Path(os.environ.get("MOVIELAKE_IVY_JARS", Path.home() / ".ivy2.5.2" / "jars"))
    return sorted(str(p) for p in cache.glob(f"io.delta_*-{version('delta-spark')}.jar"))


# Hadoop's S3 connector for pyspark's own Hadoop, with the three AWS SDK modules it uses
# instead of the SDK's 686 MB bundle (56 MB in all). Delta's jar depends on Hadoop client jars
# older than pyspark's: excluded, pyspark's own serve both.
AWS_SDK_VERSION = "2.35.4"
S3_EXCLUDES = (
    "software.amazon.awssdk:bundle,org.apache.hadoop:hadoop-client-api,"
    "org.apache.hadoop:hadoop-client-runtime"
)


def hadoop_version() -> str:
    """The Hadoop version pyspark bundles (its hadoop-client-api jar's)."""
    import pyspark

    jars = sorted((Path(pyspark.__file__).parent / "jars").glob("hadoop-client-api-*.jar"))
    if not jars:
        raise RuntimeError("pyspark ships no hadoop-client-api jar: cannot pick hadoop-aws")
    return jars[-1].stem.removeprefix("hadoop-client-api-")


def s3_packages() -> list[str]:
    return [
        f"org.apache.hadoop:hadoop-aws:{hadoop_version()}",
        *(
            f"software.amazon.awssdk:{m}:{AWS_SDK_VERSION}"
            for m in ("s3", "s3-transfer-manager", "sts")
        ),
    ]


def storage_settings(warehouse: Location) -> dict[str, str]:
    """Spark settings for a warehouse on a shared store (or any S3 store named by
    AWS_ENDPOINT_URL). S3: the connector's jars and the
    endpoint and region from AWS_ENDPOINT_URL / AWS_REGION; the keys are never put in a
    setting: with AWS_ACCESS_KEY_ID set the SDK reads them from the environment (driver and
    executors alike), otherwise its default chain (instance profile, IRSA, ~/.aws). HDFS needs
    nothing: pyspark's Hadoop client speaks it."""
    # an S3 endpoint configured: its release files may be read even with a local warehouse
    if warehouse.scheme not in S3_SCHEMES and not s3_endpoint():
        return {}
    conf = {
        "spark.jars.packages": ",".join([delta_package(), *s3_packages()]),
        "spark.jars.excludes": S3_EXCLUDES,
        "spark.hadoop.fs.s3a.endpoint.region": s3_region(),
        # EMR's s3:// is EMRFS; elsewhere route s3:// to the same connector
        "spark.hadoop.fs.s3.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
    }
    if os.environ.get("AWS_ACCESS_KEY_ID"):
        conf["spark.hadoop.fs.s3a.aws.credentials.provider"] = (
            "software.amazon.awssdk.auth.credentials.EnvironmentVariableCredentialsProvider"
        )
    endpoint = s3_endpoint()
    if endpoint:
        conf["spark.hadoop.fs.s3a.endpoint"] = endpoint
        # a self-hosted store names buckets in the path, not in the host name
        conf["spark.hadoop.fs.s3a.path.style.access"] = "true"
        conf["spark.hadoop.fs.s3a.connection.ssl.enabled"] = str(
            endpoint.startswith("https://")
        ).lower()
    return conf


HIVE_METASTORE_VERSION = "4.0.1"  # the shared metastore `movielake metastore` runs


def metastore_settings(uri: str | None = None, jars: str | None = None) -> dict[str, str]:
    """A client's settings for a shared Hive metastore (MOVIELAKE_METASTORE, thrift://host:port)
    with the Hive client jars of its version (MOVIELAKE_METASTORE_JARS, a folder): Spark's
    built-in Hive 2.3 client cannot talk to a Hive 4 metastore. Empty when none is set: the
    embedded Derby metastore of the data home, for one process at a time."""
    uri = uri or os.environ.get("MOVIELAKE_METASTORE")
    if not uri:
        return {}
    jars = jars or os.environ.get("MOVIELAKE_METASTORE_JARS")
    if not jars or not Path(jars).is_dir():
        raise RuntimeError(
            f"MOVIELAKE_METASTORE={uri} needs MOVIELAKE_METASTORE_JARS, the "
            "folder of its Hive client jars (`movielake metastore status` "
            "prints both)"
        )
    return {
        "spark.hadoop.hive.metastore.uris": uri,
        "spark.sql.hive.metastore.version": HIVE_METASTORE_VERSION,
        "spark.sql.hive.metastore.jars": "path",
        "spark.sql.hive.metastore.jars.path": f"{Path(jars).resolve().as_uri()}/*.jar",
    }


# What a tuning model may collect to score its settings on the driver (numpy) instead of in
# Spark jobs on the executors: small fits cost more in job overhead than in arithmetic.
DRIVER_BYTES = 256 * 2**20


def within_driver_budget(numbers: int) -> bool:
    """Whether `numbers` doubles (8 bytes each) fit in DRIVER_BYTES."""
    return 8 * numbers <= DRIVER_BYTES


# Inputs of at most this many rows are collected and computed on the driver (numpy) rather
# than in Spark jobs: on a small release the jobs' fixed costs exceed the arithmetic. The
# collect itself is cheap (500,000 rows of four numbers in 0.6 to 1.7 s here); larger inputs
# stay on the executors, which share the work and keep it out of the driver's memory.
LOCAL_ROWS = 500_000


def collected(frame):
    """The frame's rows on the driver (pandas), or None when it has more than LOCAL_ROWS."""
    rows = frame.limit(LOCAL_ROWS + 1).toPandas()
    return rows if len(rows) <= LOCAL_ROWS else None


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
        "spark.sql.shuffle.partitions": os.environ.get(
            "MOVIELAKE_SHUFFLE_PARTITIONS", str(max(16, 4 * cores))
        ),
        "spark.sql.adaptive.enabled": "true",
        "spark.sql.adaptive.coalescePartitions.enabled": "true",
        # size partitions by data (advisory 64 MB), not by the number of cores
        "spark.sql.adaptive.coalescePartitions.parallelismFirst": "false",
        # Delta rebuilds a table's snapshot (its list of files) with a shuffle of this many
        # partitions, 50 by default: each then runs 50 tasks on a table of a few dozen files.
        # A core's worth each is plenty for the logs we write (measured: an append to a
        # row-tracked table took 2.6 s with 50, 0.5 s with 1)
        "spark.databricks.delta.snapshotPartitions": os.environ.get(
            "MOVIELAKE_SNAPSHOT_PARTITIONS", str(cores)
        ),
    }


def session_conf(home: Path | None = None) -> dict[str, str]:
    """Static session configuration; a profile's server_side_parameters override entries."""
    home = home or data_home()
    tmp = home / "tmp"
    warehouse = warehouse_dir(home)
    # ALS checkpoints must be readable by every executor: on the shared store when there is one
    checkpoints = warehouse / "_checkpoints" if warehouse.remote else tmp / "checkpoints"
    log_conf = Path(__file__).with_name("log4j2.properties")
    java_opts = (
        f"-Dderby.system.home={home} -Djava.io.tmpdir={tmp} "
        f"-Dlog4j2.configurationFile=file:{log_conf}"
    )
    metastore = metastore_settings()
    conf = {
        "spark.master": "local[*]",
        "spark.app.name": "movielake",
        "spark.driver.host": LOOPBACK,
        "spark.driver.bindAddress": LOOPBACK,
        "spark.driver.extraJavaOptions": f"{java_opts} {class_archive.use_options()}".strip(),
        "spark.executor.extraJavaOptions": java_opts,
        "spark.jars.packages": delta_package(),
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        "spark.sql.catalogImplementation": "hive",
        # an analyst's `create table` without `using` makes a Delta table too, as dbt's do
        "spark.sql.sources.default": "delta",
        "spark.sql.warehouse.dir": str(warehouse),
        "spark.hadoop.javax.jdo.option.ConnectionURL": (
            f"jdbc:derby:;databaseName={home / 'metastore_db'};create=true"
        ),
        "spark.hadoop.hive.downloaded.resources.dir": str(tmp / "hive-resources"),
        "spark.hadoop.hive.exec.scratchdir": str(tmp / "hive-scratch"),
        "spark.local.dir": str(tmp / "spark-local"),
        # ALS checkpoints: here for every session and the server (Connect clients cannot set
        # it), and deleted by Spark once the checkpointed data is no longer referenced
        "spark.checkpoint.dir": str(checkpoints),
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
        **storage_settings(warehouse),
        **metastore,
    }
    if metastore:  # the catalog is the shared service's, not a Derby database in the home
        del conf["spark.hadoop.javax.jdo.option.ConnectionURL"]
    return conf


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
