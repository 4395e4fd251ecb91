"""One way to get MovieLake's Spark session, for the dbt adapter and the CLI alike."""

from __future__ import annotations

import os

from movielake.spark_conf import prepare_environment, session_conf


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
