"""The one reader of a dbt Python model's settings.

A model's yml hands it dbt vars through `config: meta:`; dbt renders each to a string and gives
a Python model only the keys its code names literally, so a model calls
`setting("<key>", dbt.config.meta_get("<key>"), int)`. A missing key or a value of the wrong
type is an error naming the key, not a bare TypeError deep in the model."""

from __future__ import annotations

import ast

from movielake.errors import MovieLakeError


class SettingError(MovieLakeError, ValueError):
    """A model setting that is missing or cannot be read as its type."""


def setting(key: str, value, cast=str):
    """`value` (what meta_get returned for `key`) as `cast`: str, int, float, bool or list."""
    if value is None:
        raise SettingError(
            f"model config meta '{key}' is not set: add it under the model's "
            "`config: meta:` in its yml"
        )
    try:
        if cast is list:
            parsed = ast.literal_eval(value) if isinstance(value, str) else value
            return list(parsed) if isinstance(parsed, (list, tuple)) else [parsed]
        if cast is bool and isinstance(value, str):
            if value.strip().lower() not in ("true", "false"):
                raise ValueError(value)
            return value.strip().lower() == "true"
        return cast(value)
    except (ValueError, TypeError, SyntaxError):
        raise SettingError(
            f"model config meta '{key}' = {value!r} is not of type "
            f"{getattr(cast, '__name__', cast)}"
        ) from None
