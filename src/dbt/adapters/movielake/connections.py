"""Credentials and connection manager: a Spark session preconfigured for MovieLake."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Optional

from dbt.adapters.contracts.connection import ConnectionState
from dbt.adapters.spark.connections import (
    SparkConnectionManager,
    SparkConnectionMethod,
    SparkCredentials,
)
from dbt_common.exceptions import DbtRuntimeError

from movielake.data.storage import StorageError
from movielake.ops import home_lock, shared_lock
from movielake.ops.warehouse import check_warehouse
from movielake.spark.session import prepare_environment, session_conf


@dataclass
class MovieLakeCredentials(SparkCredentials):
    """Spark session credentials whose server_side_parameters start from MovieLake's defaults
    (Delta, loopback, state under $MOVIELAKE_HOME); the profile overrides any of them."""

    method: SparkConnectionMethod = SparkConnectionMethod.SESSION  # type: ignore[assignment]
    host: Optional[str] = "localhost"
    server_side_parameters: Dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if "spark.remote" not in self.server_side_parameters:
            self.server_side_parameters = {**session_conf(), **self.server_side_parameters}
            prepare_environment()
        # else: a Spark Connect client; the server (`movielake serve`) owns the static settings
        super().__post_init__()

    @property
    def type(self) -> str:
        return "movielake"

    def _connection_keys(self):
        return ("method", "schema", "server_side_parameters")


class MovieLakeConnectionManager(SparkConnectionManager):
    TYPE = "movielake"

    @classmethod
    def open(cls, connection):
        """Claim the data home before Spark touches it: one dbt run per data home, and no
        in-process metastore while `movielake serve` owns it."""
        if connection.state != ConnectionState.OPEN:
            remote = "spark.remote" in connection.credentials.server_side_parameters
            if not remote:
                from movielake.ops.server import running_pid

                pid = running_pid()
                if pid:
                    raise DbtRuntimeError(
                        f"`movielake serve` (pid {pid}) holds this data home's metastore: build "
                        "through it with MOVIELAKE_TARGET=connect, or stop it "
                        "(movielake serve --stop)"
                    )
            try:
                warehouse = check_warehouse()
                home_lock.acquire()
                # a shared warehouse: one build at a time across machines too
                shared_lock.acquire(warehouse)
            except (home_lock.DataHomeBusy, shared_lock.WarehouseBusy, StorageError) as exc:
                raise DbtRuntimeError(str(exc)) from None
        return super().open(connection)
