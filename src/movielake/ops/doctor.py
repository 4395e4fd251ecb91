"""`movielake doctor`: start Spark as dbt will, write and read a Delta table, report versions."""

from __future__ import annotations

import shutil
import subprocess
import time
from importlib.metadata import version

from movielake.data.paths import data_home
from movielake.spark.session import delta_package


def doctor(log=print) -> int:
    java = shutil.which("java")
    if not java:
        log(
            "doctor: java not found on PATH; MovieLake needs Java 17 "
            "(e.g. apt-get install openjdk-17-jre-headless)"
        )
        return 1
    java_version = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
    log(f"java: {java_version.splitlines()[0] if java_version else java}")
    log(
        f"pyspark {version('pyspark')}, delta jar {delta_package()}, dbt-core {version('dbt-core')}"
    )
    log(f"data home: {data_home()}")

    from movielake.spark.session import spark_session

    started = time.perf_counter()
    spark = spark_session()
    log(f"spark session up in {time.perf_counter() - started:.1f}s ({spark.sparkContext.master})")
    probe = data_home() / "tmp" / "doctor-delta"
    try:
        spark.range(3).write.format("delta").mode("overwrite").save(str(probe))
        detail = spark.sql(f"describe detail delta.`{probe}`").first()
        rows = spark.read.format("delta").load(str(probe)).count()
        if detail["format"] != "delta" or rows != 3:
            log(f"doctor: Delta probe failed (format {detail['format']}, {rows} rows)")
            return 1
        log("delta: write and read ok")
    finally:
        shutil.rmtree(probe, ignore_errors=True)
    return 0
