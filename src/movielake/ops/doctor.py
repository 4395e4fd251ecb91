"""`movielake doctor`: start Spark as dbt will, write and read a Delta table, report versions;
the first time, also write the driver JVM's class archive (movielake.spark.class_archive)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

from movielake.data.paths import data_home
from movielake.spark import class_archive
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

    archive = class_archive.archive_path()
    if archive.is_file():
        return probe(log=log)
    # No class archive yet: the check runs in a child whose JVM writes one as it exits
    # (HotSpot writes it only then), to a name of its own until it is complete.
    archive.parent.mkdir(parents=True, exist_ok=True)
    partial = archive.with_name(f"{archive.name}.{os.getpid()}.partial")
    try:
        code = subprocess.run(
            [sys.executable, "-m", "movielake.ops.doctor", str(partial)]
        ).returncode
        if code == 0 and partial.is_file():
            partial.replace(archive)
            log(f"class archive: {archive} ({archive.stat().st_size >> 20} MB), for faster starts")
        elif code == 0:  # a JDK without class data sharing: Spark starts, only not faster
            log("class archive: this JVM wrote none; Spark starts without one")
        return code
    finally:
        partial.unlink(missing_ok=True)


def probe(extra_java_options: str = "", log=print) -> int:
    """Start the session dbt would (`extra_java_options` added to the driver JVM's), write and
    read a Delta table on it: 0 when that works."""
    from movielake.spark.session import session_conf, spark_session

    conf = session_conf()
    key = "spark.driver.extraJavaOptions"
    conf[key] = f"{conf[key]} {extra_java_options}".strip()
    started = time.perf_counter()
    spark = spark_session(conf)
    log(f"spark session up in {time.perf_counter() - started:.1f}s ({spark.sparkContext.master})")
    folder = data_home() / "tmp" / "doctor-delta"
    try:
        spark.range(3).write.format("delta").mode("overwrite").save(str(folder))
        detail = spark.sql(f"describe detail delta.`{folder}`").first()
        rows = spark.read.format("delta").load(str(folder)).count()
        if detail["format"] != "delta" or rows != 3:
            log(f"doctor: Delta probe failed (format {detail['format']}, {rows} rows)")
            return 1
        log("delta: write and read ok")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


def _probe_writing_archive(target: Path) -> int:
    """The check in a child, its JVM writing the class archive to `target`; returns once the
    JVM has exited, so that the archive is complete."""
    from pyspark import SparkContext

    code = probe(class_archive.write_options(target))
    jvm = SparkContext._gateway.proc  # the JVM pyspark launched, ended by closing its stdin
    SparkContext._active_spark_context.stop()
    jvm.stdin.close()
    jvm.wait(timeout=300)
    return code


if __name__ == "__main__":
    sys.exit(_probe_writing_archive(Path(sys.argv[1])))
