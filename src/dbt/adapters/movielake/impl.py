"""The MovieLake adapter: SparkAdapter with an in-process Python submission method and the
MovieLens release registry exposed to Jinja."""

from __future__ import annotations

from typing import Dict, Optional, Type

from dbt.adapters.base import PythonJobHelper, available
from dbt.adapters.spark.impl import SparkAdapter
from dbt_common.exceptions import DbtRuntimeError

from dbt.adapters.movielake.connections import MovieLakeConnectionManager
from dbt.adapters.movielake.python_job import SessionPythonJobHelper
from movielake.dbt_vars import problems as var_problems
from movielake.paths import MissingDataError, release_files
from movielake.releases import get_release


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
            return release_files(name, raw_dir or None)
        except (MissingDataError, ValueError) as exc:
            raise DbtRuntimeError(str(exc)) from None

    @available
    def check_vars(self, values: dict) -> str:
        """Raise one error listing every dbt var with a value the project cannot use."""
        found = var_problems(dict(values))
        if found:
            raise DbtRuntimeError("bad dbt vars (nothing was built):\n  " + "\n  ".join(found))
        return ""
