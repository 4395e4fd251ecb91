"""`movielake vacuum`: delete the data files that old versions of the lakehouse's Delta tables
keep. Every rebuild writes a new version of each table and leaves the previous version's files
for readers and time travel; without a vacuum they pile up."""

from __future__ import annotations

DEFAULT_HOURS = 168.0  # Delta's own default retention: a week of time travel


def vacuum(prefix: str = "movielake", hours: float = DEFAULT_HOURS, log=print) -> int:
    """VACUUM every Delta table in the <prefix>_* schemas, keeping `hours` of history.
    Under Delta's 7-day default a query still reading an old version could lose its files, so
    Delta refuses it unless asked explicitly (as `hours` below the default does here)."""
    from movielake.spark.session import spark_session

    spark = spark_session()
    if hours < DEFAULT_HOURS:
        spark.conf.set("spark.databricks.delta.retentionDurationCheck.enabled", "false")
    tables = 0
    for schema in sorted(r[0] for r in spark.sql(f"show schemas like '{prefix}_*'").collect()):
        for row in spark.sql(f"show tables in {schema}").collect():
            name = f"{schema}.{row['tableName']}"
            if (
                row["isTemporary"]
                or spark.sql(f"describe detail {name}").first()["format"] != "delta"
            ):
                continue  # views (e.g. the raw sources) and non-Delta tables
            spark.sql(f"vacuum {name} retain {hours:g} hours")
            tables += 1
    log(f"vacuumed {tables} Delta table(s) in {prefix}_*, keeping {hours:g} hours of history")
    return 0
