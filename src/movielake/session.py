"""One way to get MovieLake's Spark session, for the dbt adapter and the CLI alike."""

from __future__ import annotations

from movielake.spark_conf import prepare_environment, session_conf


def spark_session(conf: dict[str, str] | None = None):
    """The process's Spark session with MovieLake's settings (or `conf`); created on first use.
    The builder mirrors dbt-spark's session cursor, so both find the same session."""
    from pyspark.sql import SparkSession

    prepare_environment()
    builder = SparkSession.builder.enableHiveSupport()
    for key, value in (conf if conf is not None else session_conf()).items():
        builder = builder.config(key, value)
    return builder.getOrCreate()
