"""The MovieLake adapter: SparkAdapter with an in-process Python submission method and the
MovieLens release registry exposed to Jinja."""

from __future__ import annotations

from typing import Dict, Optional, Type

from dbt.adapters.base import PythonJobHelper, available
from dbt.adapters.spark.impl import SparkAdapter
from dbt_common.exceptions import DbtRuntimeError

from dbt.adapters.movielake.connections import MovieLakeConnectionManager
from dbt.adapters.movielake.python_job import SessionPythonJobHelper
from movielake.data.dbt_vars import CHECKED as CHECKED_VARS
from movielake.data.dbt_vars import problems as var_problems
from movielake.data.paths import MissingDataError, release_files
from movielake.data.releases import get_release
from movielake.data.storage import Location


class MovieLakeAdapter(SparkAdapter):
    ConnectionManager = MovieLakeConnectionManager

    @property
    def default_python_submission_method(self) -> str:
        return "session"

    @property
    def python_submission_helpers(self) -> Dict[str, Type[PythonJobHelper]]:
        return {"session": SessionPythonJobHelper}

    @available
    def movielens_release(self, name: str) -> dict:
        """Layout of a MovieLens release (family, encoding, rating scale, files)."""
        try:
            return get_release(name).as_dict()
        except ValueError as exc:
            raise DbtRuntimeError(str(exc)) from None

    @available
    def movielens_files(self, name: str, raw_dir: Optional[str] = None) -> dict:
        """Absolute path of each entity's file; a missing required file is an error naming it."""
        try:
            return release_files(name, raw_dir or None, is_file=_store_is_file)
        except (MissingDataError, ValueError) as exc:
            raise DbtRuntimeError(str(exc)) from None

    @available
    def stream_bronze_path(self) -> str:
        """The Delta table `movielake stream` appends valid ratings to, or "" before the first
        stream has written one."""
        from movielake.data.paths import table_path

        path = table_path("bronze_ratings")
        return str(path) if (path / "_delta_log").is_dir() else ""

    @available
    def incremental_inputs(self, inputs: list, values: dict) -> str:
        """A digest of what an incremental model's earlier rows were computed from, besides the
        rows it takes incrementally: `values` (the dbt vars its rule reads) and, if `inputs`
        has "release", the release files' paths, sizes and times. When it moves, the model is
        rebuilt in full (macro reset_stale_incremental_models)."""
        import hashlib
        import json

        parts: dict = {"vars": values}
        if "release" in inputs:
            files = self.movielens_files(values["dataset"], values.get("raw_dir"))
            stats = {name: _file_stat(path) if path else None for name, path in files.items()}
            parts["release"] = {
                name: [files[name], *st] if st else None for name, st in sorted(stats.items())
            }
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:32]

    @available
    def stream_table_id(self) -> str:
        """The id Delta gave the stream's bronze table when it was created ("" when there is
        none): a reset stream makes a new table, whose versions start again at 0."""
        from deltalake import DeltaTable

        path = self.stream_bronze_path()
        return str(DeltaTable(path).metadata().id) if path else ""

    @available
    def checked_vars(self) -> list[str]:
        """The names of the dbt vars check_vars checks (movielake.data.dbt_vars)."""
        return list(CHECKED_VARS)

    @available
    def check_vars(self, values: dict) -> str:
        """Raise one error listing every dbt var with a value the project cannot use."""
        found = var_problems(dict(values))
        if found:
            raise DbtRuntimeError("bad dbt vars (nothing was built):\n  " + "\n  ".join(found))
        return ""


def _file_stat(path: str) -> tuple[int, int] | None:
    """(size, modification time) of a release file, local or on a store."""
    from pathlib import Path

    if Location(path).remote:
        from movielake.spark import files
        from movielake.spark.session import spark_session

        return files.stat(spark_session(), path)
    st = Path(path).stat()
    return st.st_size, st.st_mtime_ns


def _store_is_file(uri: str) -> bool:
    """Whether a release file on a store exists, asked through the build's Spark session."""
    from movielake.spark import files
    from movielake.spark.session import spark_session

    return files.stat(spark_session(), uri) is not None
