"""Checks made before a build or a session touches a warehouse on a shared store, so that a bad
setting is one line naming it rather than a minute of retries and a Java stack trace:
unreachable endpoint, wrong keys, missing bucket, and a data home whose embedded metastore
already catalogs tables in another warehouse."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse

from movielake.data.paths import data_home, warehouse_dir
from movielake.data.storage import (
    S3_SCHEMES,
    WAREHOUSE_VARIABLE,
    Location,
    StorageError,
    check_reachable,
    s3_endpoint,
    s3_region,
)

RECORD = "warehouse.txt"  # in the data home: the warehouse its Derby metastore catalogs


def check_warehouse(home: Path | None = None) -> Location:
    """The warehouse, checked: reachable, readable with the keys given, its bucket present, and
    the one this data home's metastore already points at. StorageError otherwise."""
    home = home or data_home()
    warehouse = warehouse_dir(home)
    if warehouse.remote:
        check_reachable(warehouse)
        if warehouse.scheme in S3_SCHEMES:
            check_s3_access(warehouse)
    if not os.environ.get("MOVIELAKE_METASTORE"):
        _check_same_warehouse(home, warehouse)
    return warehouse


def check_s3_access(location: Location) -> None:
    """List the warehouse's bucket with the configured keys (pyarrow's S3 client, no JVM)."""
    from pyarrow import fs

    parsed = urlparse(location.uri)
    endpoint = s3_endpoint()
    options = {"region": s3_region()}
    if endpoint:
        target = urlparse(endpoint)
        options.update(
            endpoint_override=target.netloc,
            scheme=target.scheme or "https",
            force_virtual_addressing=False,
        )
    if os.environ.get("AWS_ACCESS_KEY_ID"):
        options.update(
            access_key=os.environ["AWS_ACCESS_KEY_ID"],
            secret_key=os.environ.get("AWS_SECRET_ACCESS_KEY", ""),
            session_token=os.environ.get("AWS_SESSION_TOKEN") or None,
        )
    store = fs.S3FileSystem(
        **options,
        connect_timeout=5,
        request_timeout=10,
        retry_strategy=fs.AwsStandardS3RetryStrategy(max_attempts=1),
    )
    where = f"{WAREHOUSE_VARIABLE}={location}"
    try:
        # a listing first: its error body names a wrong key (a HEAD of the bucket has none)
        store.get_file_info(fs.FileSelector(f"{parsed.netloc}{parsed.path}", allow_not_found=True))
        info = store.get_file_info(parsed.netloc)
    except OSError as exc:
        raise StorageError(f"{where}: {_s3_reason(str(exc))}") from None
    if info.type == fs.FileType.NotFound:
        raise StorageError(
            f"{where}: bucket {parsed.netloc!r} does not exist at "
            f"{endpoint or 'AWS'} (create it first)"
        )


def _s3_reason(message: str) -> str:
    """One line for pyarrow's multi-line S3 error: which setting is wrong."""
    lowered = message.lower()
    if any(sign in lowered for sign in ("invalidaccesskeyid", "access key", "no user exists")):
        return "the S3 store does not know AWS_ACCESS_KEY_ID (wrong keys)"
    if "signaturedoesnotmatch" in lowered or "signature" in lowered:
        return "AWS_SECRET_ACCESS_KEY does not match AWS_ACCESS_KEY_ID (wrong keys)"
    if "access_denied" in lowered or "accessdenied" in lowered or "forbidden" in lowered:
        return "access denied with the configured keys (wrong keys or no permission)"
    return message.strip().splitlines()[0]


def _check_same_warehouse(home: Path, warehouse: Location) -> None:
    """The embedded metastore records each schema's location: moving the warehouse under it
    would build half the tables in the old place. Record the first, refuse another."""
    record = home / RECORD
    if record.is_file():
        before = record.read_text().strip()
        if before and before != str(warehouse):
            raise StorageError(
                f"data home {home} catalogs its tables in {before}, not {warehouse}: give this "
                f"warehouse its own data home (MOVIELAKE_HOME), or `make clean` this one"
            )
        return
    if (home / "metastore_db").is_dir() and warehouse.remote:
        raise StorageError(
            f"data home {home} already has a metastore for local tables: give "
            f"{warehouse} its own data home (MOVIELAKE_HOME)"
        )
    home.mkdir(parents=True, exist_ok=True)
    record.write_text(f"{warehouse}\n")
