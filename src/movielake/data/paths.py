"""Where things live: the project folder, the data home and the raw files of a release."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from movielake.data.releases import ENTITIES, Release, get_release
from movielake.data.storage import Location, configured_warehouse
from movielake.errors import MovieLakeError


class MissingDataError(MovieLakeError):
    """A release, or one of its files, is not where it should be."""


def project_dir() -> Path:
    """The MovieLake checkout: $MOVIELAKE_PROJECT_DIR, else the nearest dbt project above the
    current folder, else the checkout this package was installed from (editable install)."""
    if os.environ.get("MOVIELAKE_PROJECT_DIR"):
        return Path(os.environ["MOVIELAKE_PROJECT_DIR"]).resolve()
    for folder in (Path.cwd(), *Path.cwd().parents):
        if (folder / "dbt_project.yml").is_file() and (folder / "src" / "movielake").is_dir():
            return folder
    return Path(__file__).resolve().parents[3]  # src/movielake/data/paths.py


def data_home() -> Path:
    """$MOVIELAKE_HOME (default: .lakehouse/ in the project): warehouse, metastore, scratch
    files and fetched releases."""
    home = os.environ.get("MOVIELAKE_HOME")
    return Path(home).resolve() if home else project_dir() / ".lakehouse"


def tools_dir() -> Path:
    """What every data home shares (the servers' downloads and builds, the JVM's class
    archive): $MOVIELAKE_TOOLS_DIR, else ~/.cache/movielake."""
    return Path(os.environ.get("MOVIELAKE_TOOLS_DIR") or Path.home() / ".cache" / "movielake")


def warehouse_dir(home: Path | None = None) -> Location:
    """Where the build's tables live, <warehouse>/<schema>.db/<table>: MOVIELAKE_WAREHOUSE (a
    folder or a store URI, movielake.data.storage) or <data home>/spark-warehouse."""
    return configured_warehouse() or Location((home or data_home()) / "spark-warehouse")


def bundled_dir(release: str) -> Path:
    return project_dir() / "data" / "raw" / release


def fetched_dir(release: str) -> Path:
    return data_home() / "raw" / release


def previous_dir(release: str) -> Path:
    """Where `movielake fetch --force` parks the release it replaces until the new one is in."""
    return data_home() / "raw" / f".{release}.previous"


def finish_interrupted_fetch(release: str) -> None:
    """Complete a `fetch --force` that died between its two renames: the old release parked
    beside the folder is put back when the new one never arrived, dropped when it did."""
    target, previous = fetched_dir(release), previous_dir(release)
    if not previous.is_dir():
        return
    if target.exists():
        shutil.rmtree(previous)
    else:
        previous.rename(target)


def release_dir(release: str, raw_dir: str | None = None) -> Path | Location:
    """The folder dbt reads `release` from: an explicit raw_dir (a folder, or a URI on a store
    such as s3a://bucket/raw/ml-1m), else a fetched copy in the data home, else the copy
    bundled with the project."""
    if raw_dir and Location(raw_dir).remote:
        return Location(raw_dir)  # on a store: its files are checked by whoever can read it
    if raw_dir:
        folder = Path(raw_dir).resolve()
        if not folder.is_dir():
            raise MissingDataError(f"{release}: raw_dir {folder} is not a folder")
        return folder
    finish_interrupted_fetch(release)
    for folder in (fetched_dir(release), bundled_dir(release)):
        if folder.is_dir():
            return folder
    raise MissingDataError(
        f"{release}: no data in {fetched_dir(release)}; run `movielake fetch {release}` first"
    )


def release_files(name: str, raw_dir: str | None = None, is_file=None) -> dict[str, str | None]:
    """Absolute path (or URI) of each entity's file for a release (None where the release has
    no such entity, or an optional one whose file is absent). A required file that is missing
    is an error naming it. `is_file(path) -> bool` checks a file on a store (the build passes
    its Spark session's); local files are checked here."""
    release: Release = get_release(name)
    folder = release_dir(name, raw_dir)
    if isinstance(folder, Location):
        if is_file is None:
            raise MissingDataError(
                f"{name}: raw_dir {folder} is on a store; only a build (or "
                "a Spark session) can read it"
            )
        exists = is_file
    else:
        exists = lambda path: Path(path).is_file()  # noqa: E731
    files: dict[str, str | None] = {}
    for entity in ENTITIES:
        layout = release.layouts.get(entity)
        if layout is None:
            files[entity] = None
            continue
        path = folder / layout.file
        found = exists(str(path))
        if not found and entity in release.optional:
            files[entity] = None
            continue
        if not found:
            raise MissingDataError(
                f"{name}: required file {path} is missing ({entity} of a {release.family}-family "
                "release)"
            )
        files[entity] = str(path)
    return files


# --- the stream's own Delta tables, and where it finds dbt's --------------------------------


def stream_dir() -> Path:
    return data_home() / "stream"


def table_path(name: str) -> Path:
    """Delta tables the stream writes: bronze_ratings, quarantine, user_factors,
    recommendations."""
    return stream_dir() / name


def landing_dir() -> Path:
    return stream_dir() / "landing"


def schema_prefix() -> str:
    return os.environ.get("MOVIELAKE_SCHEMA", "movielake")


def warehouse_table(schema: str, table: str) -> Location:
    """Where the metastore keeps a dbt table (managed: <warehouse>/<schema>.db/<table>)."""
    return warehouse_dir() / f"{schema}.db" / table
