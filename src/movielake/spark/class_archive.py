"""The driver JVM's class archive (HotSpot's class data sharing): the classes a Spark session
loads, parsed and verified once and mapped from a file at every later start.

A fresh driver spends seconds loading and verifying Spark's and Hive's classes before its first
answer, and every `dbt` command, `movielake sql` and test session starts one: with the archive a
small `dbt run` took 35.4 s instead of 40.2 s on 2 cores (benchmarks/results/class_archive.txt).
`movielake doctor` (run by `make setup`) writes the archive beside the other shared tools; a JVM
that cannot use it (another JDK, another classpath) ignores it and loads its classes as before,
so it is never wrong, only not faster. Only the driver uses it: a cluster's executors have
their own classpath.
"""

from __future__ import annotations

import hashlib
from importlib.metadata import version
from pathlib import Path

from movielake.data.paths import tools_dir

# The JVM reports an archive it cannot use (or classes it leaves out when writing one) as
# warnings on its stdout, which is the build's output: a fallback, not a problem.
QUIET = "-Xlog:cds=off -Xlog:cds+dynamic=off"


def archive_path() -> Path:
    """One archive per installed pyspark (its folder: the JVM checks the classpath by its paths,
    so two virtualenvs of one release need two) and Delta release."""
    import pyspark

    where = hashlib.sha1(str(Path(pyspark.__file__).resolve().parent).encode()).hexdigest()[:10]
    name = f"driver-spark{version('pyspark')}-delta{version('delta-spark')}-{where}.jsa"
    return tools_dir() / "jvm" / name


def use_options() -> str:
    """Driver JVM options that map the archive, or '' while there is none."""
    path = archive_path()
    return f"-XX:SharedArchiveFile={path} {QUIET}" if path.is_file() else ""


def write_options(target: Path) -> str:
    """Driver JVM options that write the classes the JVM loaded to `target` when it exits."""
    return f"-XX:ArchiveClassesAtExit={target} {QUIET}"
