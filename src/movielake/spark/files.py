"""Release files on a shared store (s3a://, hdfs://), through the Hadoop file system of the
Spark session's JVM: the same client, jars and settings that read them in a build, so whatever
the build can read, this can check and write. Local paths never need it."""

from __future__ import annotations

from pathlib import Path


def _fs(spark, uri: str):
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(uri)
    return path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), path


def stat(spark, uri: str) -> tuple[int, int] | None:
    """(size in bytes, modification time in ms) of a file, None when there is none."""
    fs, path = _fs(spark, uri)
    if not fs.exists(path):
        return None
    status = fs.getFileStatus(path)
    return (int(status.getLen()), int(status.getModificationTime())) if status.isFile() else None


def upload(spark, folder: Path, uri: str) -> list[str]:
    """Copy every file of a local folder to the folder `uri` (replacing files of the same
    name); returns the URIs written."""
    jvm = spark.sparkContext._jvm
    fs, target = _fs(spark, uri)
    fs.mkdirs(target)
    written = []
    for source in sorted(p for p in folder.iterdir() if p.is_file()):
        destination = jvm.org.apache.hadoop.fs.Path(f"{uri.rstrip('/')}/{source.name}")
        fs.copyFromLocalFile(False, True, jvm.org.apache.hadoop.fs.Path(str(source)), destination)
        written.append(str(destination.toString()))
    return written
