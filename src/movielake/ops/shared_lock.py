"""One build per shared warehouse, across machines.

Delta on S3 commits safely only while one driver writes a table (its S3 log store cannot make
"create this version unless it exists" atomic). The data-home lock (home_lock) is a local
flock: two machines with their own data homes and the same MOVIELAKE_WAREHOUSE would not see
each other's. So a build on an S3 warehouse also takes `<warehouse>/_movielake/build.lock`, an
object created with S3's conditional put (If-None-Match: *): exactly one creator wins, as AWS
S3 and the servers `movielake objectstore` runs guarantee. The holder renews it as a lease
(If-Match on its own ETag) while the process lives and deletes it on exit; a lock whose lease
ran out (a killed build, a lost machine) is taken over with If-Match on the stale ETag, so two
takers cannot both win.

HDFS needs no such object: Delta's HDFS log store commits by atomic rename, so concurrent
writers cannot corrupt a table (docs/storage.md says what that leaves to the user).
"""

from __future__ import annotations

import atexit
import json
import os
import socket
import threading
import time
from urllib.parse import urlparse

from movielake.data.storage import S3_SCHEMES, Location, s3_endpoint, s3_region
from movielake.errors import MovieLakeError
from movielake.ops.procs import command_line

LEASE_SECONDS = 120.0  # a lock not renewed for this long belongs to a build that is gone
RENEW_SECONDS = 30.0
KEY = "_movielake/build.lock"


class WarehouseBusy(MovieLakeError):
    """Another build holds the shared warehouse."""


_held: dict[str, _Lease] = {}
_guard = threading.Lock()


def s3_client():
    """boto3's S3 client on the configured endpoint (keys from the environment, as every S3
    client reads them)."""
    import boto3
    from botocore.config import Config

    config = Config(
        s3={"addressing_style": "path"} if s3_endpoint() else {},
        retries={"max_attempts": 2},
        connect_timeout=5,
        read_timeout=15,
    )
    return boto3.client("s3", endpoint_url=s3_endpoint(), region_name=s3_region(), config=config)


def acquire(
    warehouse: Location, lease: float = LEASE_SECONDS, renew: float = RENEW_SECONDS, log=print
) -> bool:
    """Take the warehouse's build lock for this process (True; a no-op if held already), or
    raise WarehouseBusy naming the holder. False for a store that needs none (local, HDFS)."""
    if warehouse.scheme not in S3_SCHEMES:
        return False
    with _guard:
        if str(warehouse) not in _held:
            _held[str(warehouse)] = _Lease(warehouse, lease, renew, log)
    return True


def holder(warehouse: Location) -> dict | None:
    """The current lock's content (host, pid, command, since, expires), or None."""
    bucket, key = _address(warehouse)
    try:
        body = s3_client().get_object(Bucket=bucket, Key=key)["Body"].read()
    except Exception as exc:  # noqa: BLE001 - any missing or unreadable lock is "no holder"
        if _code(exc) in ("NoSuchKey", "404"):
            return None
        raise
    return json.loads(body)


def _address(warehouse: Location) -> tuple[str, str]:
    parsed = urlparse(warehouse.uri)
    prefix = parsed.path.strip("/")
    return parsed.netloc, f"{prefix}/{KEY}" if prefix else KEY


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


class _Lease:
    """A held lock object: renewed by a daemon thread, deleted at exit."""

    def __init__(self, warehouse: Location, lease: float, renew: float, log) -> None:
        self.warehouse, self.lease, self.log = warehouse, lease, log
        self.bucket, self.key = _address(warehouse)
        self.client = s3_client()
        self.etag = self._take()
        self.stopped = threading.Event()
        thread = threading.Thread(
            target=self._renew_every, args=(renew,), daemon=True, name="movielake-warehouse-lock"
        )
        thread.start()
        atexit.register(self.release)

    def _body(self) -> bytes:
        now = time.time()
        return json.dumps(
            {
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "command": command_line(os.getpid())[:300],
                "since": getattr(self, "since", now),
                "expires": now + self.lease,
            }
        ).encode()

    def _put(self, **condition) -> str:
        return self.client.put_object(
            Bucket=self.bucket,
            Key=self.key,
            Body=self._body(),
            ContentType="application/json",
            **condition,
        )["ETag"]

    def _take(self) -> str:
        self.since = time.time()
        try:
            return self._put(IfNoneMatch="*")
        except Exception as exc:  # noqa: BLE001 - botocore's ClientError, checked by code
            if _code(exc) not in ("PreconditionFailed", "412"):
                raise
        # someone holds it: theirs unless its lease ran out
        current = self.client.get_object(Bucket=self.bucket, Key=self.key)
        info = json.loads(current["Body"].read())
        if info.get("expires", 0) > time.time():
            raise WarehouseBusy(
                f"warehouse {self.warehouse} is in use by pid {info.get('pid')} on "
                f"{info.get('host')} ({info.get('command', '')[:120]}), since "
                f"{time.strftime('%Y-%m-%d %H:%M:%S %Z', time.localtime(info.get('since', 0)))}"
                "; one build writes a shared warehouse at a time: wait for it to finish"
            )
        try:
            etag = self._put(IfMatch=current["ETag"])
        except Exception as exc:  # noqa: BLE001
            if _code(exc) in ("PreconditionFailed", "412"):
                raise WarehouseBusy(
                    f"warehouse {self.warehouse}: another build took over its "
                    "expired lock at the same moment; try again"
                ) from None
            raise
        self.log(
            f"warehouse lock: took over the expired lock of pid {info.get('pid')} on "
            f"{info.get('host')}"
        )
        return etag

    def _renew_every(self, seconds: float) -> None:
        while not self.stopped.wait(seconds):
            try:
                self.etag = self._put(IfMatch=self.etag)
            except Exception as exc:  # noqa: BLE001 - a failed renewal is reported, not fatal
                self.log(
                    f"warehouse lock: could not renew {self.key} ({_code(exc) or exc}); "
                    "another build may take the warehouse over"
                )

    def release(self) -> None:
        if self.stopped.is_set():
            return
        self.stopped.set()
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.key, IfMatch=self.etag)
        except Exception:  # noqa: BLE001 - at exit: a lock not deleted expires by its lease
            pass
        with _guard:
            _held.pop(str(self.warehouse), None)
