"""Run a compiled dbt Python model in this process, on the session dbt's SQL already uses."""

from __future__ import annotations

import linecache
import traceback
from pathlib import Path
from typing import Any, Dict

from dbt.adapters.base import PythonJobHelper
from dbt_common.exceptions import DbtRuntimeError

from movielake.spark.session import spark_session


def _project_dir() -> str:
    try:
        from dbt.flags import get_flags

        return str(getattr(get_flags(), "PROJECT_DIR", None) or ".")
    except Exception:  # outside a dbt invocation
        return "."


class SessionPythonJobHelper(PythonJobHelper):
    def __init__(self, parsed_model: Dict, credentials: Any) -> None:
        self.parsed_model = parsed_model
        self.credentials = credentials

    def _align_with_model_file(self, compiled_code: str) -> str:
        """dbt's compiled code holds the model file's (stripped) text verbatim after a few blank
        lines from the materialization's template. Re-pad it so that its line numbers are the
        model file's, and a traceback points at the lines the user wrote."""
        raw = self.parsed_model.get("raw_code") or ""
        start = compiled_code.find(raw) if raw else -1
        if start < 0 or compiled_code[:start].strip():
            return compiled_code
        path = Path(_project_dir(), self.parsed_model.get("original_file_path") or "")
        text = path.read_text() if path.is_file() else raw
        lead = text[: text.find(raw)].count("\n") if raw in text else 0
        return "\n" * lead + compiled_code[start:]

    def submit(self, compiled_code: str) -> Any:
        model_id = self.parsed_model.get("unique_id", self.parsed_model.get("alias", "model"))
        filename = self.parsed_model.get("original_file_path") or f"<{model_id}>"
        compiled_code = self._align_with_model_file(compiled_code)
        linecache.cache[filename] = (
            len(compiled_code),
            None,
            compiled_code.splitlines(keepends=True),
            filename,
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
