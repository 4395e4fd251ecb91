"""Run a compiled dbt Python model in this process, on the session dbt's SQL already uses."""

from __future__ import annotations

import linecache
import traceback
from typing import Any, Dict

from dbt.adapters.base import PythonJobHelper
from dbt_common.exceptions import DbtRuntimeError

from movielake.session import spark_session


class SessionPythonJobHelper(PythonJobHelper):
    def __init__(self, parsed_model: Dict, credentials: Any) -> None:
        self.parsed_model = parsed_model
        self.credentials = credentials

    def submit(self, compiled_code: str) -> Any:
        model_id = self.parsed_model.get("unique_id", self.parsed_model.get("alias", "model"))
        # Name the code after the model file and register its text, so that a traceback points
        # at the model's own lines (dbt's compiled code starts with the model file verbatim).
        filename = self.parsed_model.get("original_file_path") or f"<{model_id}>"
        linecache.cache[filename] = (
            len(compiled_code), None, compiled_code.splitlines(keepends=True), filename
        )
        code = compile(compiled_code, filename, "exec")
        spark = spark_session(self.credentials.server_side_parameters)
        try:
            exec(code, {"spark": spark, "__name__": "__dbt_python_model__"})
        except Exception as exc:  # any failure of the user's code becomes a dbt error
            frames = traceback.format_exception(type(exc), exc, exc.__traceback__.tb_next)
            raise DbtRuntimeError(
                f"Python model {model_id} failed:\n{''.join(frames).rstrip()}"
            ) from exc
        return None
