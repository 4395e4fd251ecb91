"""Where the lakehouse keeps its tables: a local folder (the default, under the data home) or a
shared store named by a URI in MOVIELAKE_WAREHOUSE: `s3a://bucket/path` (any S3-compatible
store) or `hdfs://host:port/path`.

A `Location` is either, joined with `/` like a Path, so that the readers without Spark
(deltalake) and Spark's settings name the same table. S3 endpoint and keys come only from the
variables every S3 client reads (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AWS_REGION): they are handed to the readers in memory and never written into a setting, a
file or a message.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import urlparse

from movielake.errors import MovieLakeError

WAREHOUSE_VARIABLE = "MOVIELAKE_WAREHOUSE"
# s3a is Hadoop's S3 connector (the one pyspark's Hadoop ships); s3 is accepted where the
# platform maps it (EMR's EMRFS); hdfs is Hadoop's own client, built into pyspark; gs is
# Google's connector, which Dataproc installs (nothing here fetches it).
SCHEMES = ("s3a", "s3", "hdfs", "gs")
S3_SCHEMES = ("s3a", "s3")


class StorageError(MovieLakeError):
    """The configured store cannot be used; the message says which setting to change."""


class Location:
    """A local folder or a store URI; `/` joins a path part, str() is what Spark and deltalake
    are given."""

    def __init__(self, base: str | Path) -> None:
        text = str(base)
        if "://" in text and not text.startswith("file:"):
            self.uri: str | None = text.rstrip("/")
            self.path: Path | None = None
        else:
            self.uri = None
            self.path = Path(text.removeprefix("file://").removeprefix("file:"))

    @property
    def remote(self) -> bool:
        return self.uri is not None

    @property
    def scheme(self) -> str:
        return urlparse(self.uri).scheme if self.uri else "file"

    def __truediv__(self, part: str) -> Location:
        if self.path is not None:
            return Location(self.path / part)
        return Location(f"{self.uri}/{str(part).strip('/')}")

    def __str__(self) -> str:
        return self.uri if self.uri else str(self.path)

    def __repr__(self) -> str:
        return f"Location({str(self)!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, Location) and str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))

    def storage_options(self) -> dict[str, str]:
        """deltalake's options for this store (empty for a local folder)."""
        return s3_reader_options() if self.scheme in S3_SCHEMES else {}

    def is_delta_table(self) -> bool:
        """Whether a Delta table (its _delta_log) is here."""
        if self.path is not None:
            return (self.path / "_delta_log").is_dir()
        from deltalake import DeltaTable

        return DeltaTable.is_deltatable(str(self), storage_options=self.storage_options())


def configured_warehouse() -> Location | None:
    """MOVIELAKE_WAREHOUSE as a Location, or None when unset (the local default)."""
    value = os.environ.get(WAREHOUSE_VARIABLE, "").strip()
    if not value:
        return None
    location = Location(value)
    if location.remote and location.scheme not in SCHEMES:
        raise StorageError(
            f"{WAREHOUSE_VARIABLE}={value}: unsupported scheme "
            f"{location.scheme!r} (use one of {', '.join(SCHEMES)}, or a folder)"
        )
    if location.remote and not urlparse(location.uri).netloc:
        raise StorageError(
            f"{WAREHOUSE_VARIABLE}={value}: no bucket or host in the URI "
            "(e.g. s3a://bucket/warehouse, hdfs://127.0.0.1:8020/warehouse)"
        )
    return location


# --- S3: the same variables for Spark's connector, the readers and the checks ----------------


def s3_endpoint() -> str | None:
    return os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or None


def s3_region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def s3_reader_options() -> dict[str, str]:
    """deltalake's S3 options: the endpoint, plain HTTP when the endpoint says so, path-style
    addressing for a custom endpoint. Keys are read by deltalake from the same variables."""
    options = {"AWS_REGION": s3_region()}
    endpoint = s3_endpoint()
    if endpoint:
        options["AWS_ENDPOINT_URL"] = endpoint
        options["AWS_VIRTUAL_HOSTED_STYLE_REQUEST"] = "false"
        if endpoint.startswith("http://"):
            options["AWS_ALLOW_HTTP"] = "true"
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        if os.environ.get(key):
            options[key] = os.environ[key]
    return options


def check_reachable(location: Location, timeout: float = 5.0) -> None:
    """Fail fast, in one line, when the store's endpoint does not answer (before a Spark
    session spends a minute retrying): the S3 endpoint or the HDFS NameNode."""
    if not location.remote:
        return
    if location.scheme in S3_SCHEMES:
        endpoint = s3_endpoint()
        if not endpoint:
            return  # AWS itself: the SDK finds the regional endpoint
        parsed = urlparse(endpoint)
        host, port = parsed.hostname, parsed.port or (443 if parsed.scheme == "https" else 80)
        what = f"S3 endpoint {endpoint} (AWS_ENDPOINT_URL)"
    elif location.scheme == "hdfs":
        parsed = urlparse(location.uri)
        host, port = parsed.hostname, parsed.port or 8020
        what = f"HDFS NameNode {parsed.scheme}://{parsed.netloc} ({WAREHOUSE_VARIABLE})"
    else:
        return  # gs: Google's endpoint, reached by its own client
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        raise StorageError(f"{what} is unreachable: {exc.strerror or exc}") from None
