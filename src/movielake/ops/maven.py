"""Tools from the registries for the servers MovieLake runs, kept outside any data home so that
every data home shares them: $MOVIELAKE_TOOLS_DIR, else ~/.cache/movielake. Jars come from Maven
Central through the Apache Ivy jar shipped inside pyspark, so nothing but Java is needed."""

from __future__ import annotations

import fcntl
import subprocess
from pathlib import Path

from movielake.data.paths import tools_dir
from movielake.errors import MovieLakeError
from movielake.ops.daemon import last_error_line
from movielake.ops.procs import spark_home


def dependency(org: str, name: str, rev: str, extra: str = 'conf="default->default"') -> str:
    """One <dependency> line of an ivy.xml."""
    return f'    <dependency org="{org}" name="{name}" rev="{rev}" {extra}/>'


def retrieve(folder: Path, module: str, lines: list[str], error: type[MovieLakeError]) -> None:
    """Resolve an ivy.xml's dependency (and exclude) `lines` and copy the artifacts into
    `folder`; `error` names the failure (Ivy's last error line, and its log). The cache is the
    tools' own: Spark's (~/.ivy2.5.2) holds entries naming resolvers that Ivy's default
    settings lack ("unknown resolver central"), whose lines bury a real error, and a cached pom
    whose parent such a resolver fetched then fails to load ("Impossible to load parent")."""
    ivy = sorted((spark_home() / "jars").glob("ivy-*.jar"))
    if not ivy:
        raise error(f"no Apache Ivy jar in {spark_home() / 'jars'} (is pyspark installed?)")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ivy.xml").write_text(
        '<ivy-module version="2.0" xmlns:m="http://ant.apache.org/ivy/maven">\n'
        f'  <info organisation="movielake" module="{module}"/>\n  <dependencies>\n'
        + "\n".join(lines)
        + "\n  </dependencies>\n</ivy-module>\n"
    )
    command = ["java", "-jar", str(ivy[-1]), "-ivy", str(folder / "ivy.xml"), "-confs",
               "default", "-cache", str(tools_dir() / "ivy-cache"), "-retrieve",
               str(folder / "[artifact]-[revision](-[classifier]).[ext]")]  # fmt: skip
    # Ivy's cache takes no concurrent writers: two resolutions at once (make test fetches Kafka's,
    # HDFS's and the metastore's jars side by side) half-write a shared parent pom and fail with
    # "Impossible to load parent". One resolution at a time, across processes.
    tools_dir().mkdir(parents=True, exist_ok=True)
    with (tools_dir() / "ivy-cache.lock").open("w") as lock, (folder / "ivy.log").open("w") as out:
        fcntl.flock(lock, fcntl.LOCK_EX)
        result = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        raise error(f"resolving {module} from Maven Central failed (Ivy exit "
                    f"{result.returncode}: {last_error_line(folder / 'ivy.log')}); "
                    f"see {folder / 'ivy.log'}")  # fmt: skip
