"""dbt adapter `movielake`: dbt-spark's session method plus in-process Python models."""

from dbt.adapters.base import AdapterPlugin

from dbt.adapters.movielake.connections import (
    MovieLakeConnectionManager,  # noqa: F401
    MovieLakeCredentials,
)
from dbt.adapters.movielake.impl import MovieLakeAdapter
from dbt.include import movielake

Plugin = AdapterPlugin(
    adapter=MovieLakeAdapter,  # type: ignore[arg-type]
    credentials=MovieLakeCredentials,
    include_path=movielake.PACKAGE_PATH,
    dependencies=["spark"],
)
