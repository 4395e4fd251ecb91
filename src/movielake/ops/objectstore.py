"""`movielake objectstore start|status|stop`: an S3-compatible object store on loopback, for a
warehouse at s3a://movielake/warehouse.

The server is Versity's S3 gateway (versitygw, Apache-2.0) with its POSIX backend: a bucket is a
folder of $MOVIELAKE_HOME/objectstore/data and an object a file in it, its metadata in extended
attributes (a sidecar folder where the file system has none). It is built once from the Go
module proxy into a cache outside the data home ($MOVIELAKE_TOOLS_DIR, default
~/.cache/movielake). Its root keys are generated on first start and kept, mode 0600, in
$MOVIELAKE_HOME/objectstore/credentials (the AWS shared-credentials format); the server gets them
through its environment, never its command line, and they are not written to any log.
"""

from __future__ import annotations

import configparser
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from movielake.data.paths import data_home, tools_dir
from movielake.errors import MovieLakeError
from movielake.ops.daemon import HOST, Daemon, last_error_line

VERSITYGW_VERSION = "v1.8.0"
MODULE = "github.com/versity/versitygw/cmd/versitygw"
PORT = 9000
REGION = "us-east-1"
BUCKET = "movielake"


class ObjectStoreError(MovieLakeError):
    """The object store could not be built, started, stopped or reached; the message says why."""


def home() -> Path:
    return data_home() / "objectstore"


def binary_path() -> Path:
    """Where the gateway's binary is kept: $MOVIELAKE_TOOLS_DIR/versitygw-<version>/versitygw."""
    return tools_dir() / f"versitygw-{VERSITYGW_VERSION}" / "versitygw"


def ensure_binary(log=print) -> Path:
    """The versitygw binary, built with `go install` on first use (a few minutes)."""
    target = binary_path()
    if target.is_file() and os.access(target, os.X_OK):
        return target
    go = shutil.which("go") or "/usr/local/go/bin/go"
    if not os.access(go, os.X_OK):
        raise ObjectStoreError(
            "Go is needed once to build versitygw and was not found "
            "(install it, or put `go` on PATH)"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    log(f"objectstore: building versitygw {VERSITYGW_VERSION} with {go} (once, a few minutes)")
    # built in a scratch folder and moved in whole: an interrupted build leaves no binary
    build_log = target.parent / "build.log"
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch, build_log.open("w") as out:
        env = {**os.environ, "GOBIN": scratch, "CGO_ENABLED": "0"}  # static: no C toolchain
        result = subprocess.run(
            [
                go,
                "install",
                "-trimpath",
                "-ldflags",
                f"-s -w -X main.Version={VERSITYGW_VERSION}",
                f"{MODULE}@{VERSITYGW_VERSION}",
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        built = Path(scratch) / "versitygw"
        if result.returncode != 0 or not built.is_file():
            raise ObjectStoreError(
                f"building versitygw failed (exit {result.returncode}: "
                f"{last_error_line(build_log)}); see {build_log}"
            )
        built.replace(target)
    return target


def credentials() -> tuple[str, str]:
    """The root (access key, secret key), generated on first use."""
    path = home() / "credentials"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        access = "MLK" + secrets.token_hex(8).upper()
        body = (
            f"[default]\naws_access_key_id = {access}\n"
            f"aws_secret_access_key = {secrets.token_hex(20)}\n"
        )
        try:  # created 0600 in one step: never readable by others, not even briefly
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another start got there first: use its keys
            pass
        else:
            with os.fdopen(fd, "w") as out:
                out.write(body)
    parser = configparser.ConfigParser()
    parser.read(path)
    try:
        return (parser["default"]["aws_access_key_id"], parser["default"]["aws_secret_access_key"])
    except KeyError:
        raise ObjectStoreError(f"{path} holds no [default] keys; delete it to get new ones")


def _daemon() -> Daemon:
    return Daemon("versitygw", home(), ("versitygw", str(home() / "data")), ObjectStoreError)


def _info(record: dict) -> dict:
    address = f"http://{HOST}:{record['port']}"
    access, secret = credentials()
    return {
        "address": address,
        "pid": record["pid"],
        "port": record["port"],
        "bucket": BUCKET,
        "data": str(home() / "data"),
        "env": {
            "AWS_ENDPOINT_URL": address,
            "AWS_ACCESS_KEY_ID": access,
            "AWS_SECRET_ACCESS_KEY": secret,
            "AWS_REGION": REGION,
            "MOVIELAKE_WAREHOUSE": f"s3a://{BUCKET}/warehouse",
        },
    }


def status() -> dict | None:
    """{address, pid, port, bucket, data, env} of the store this data home started, if it
    still runs; env holds the variables a client needs (keys included)."""
    record = _daemon().running()
    return _info(record) if record else None


def _has_xattrs(folder: Path) -> bool:
    probe = folder / ".xattr-probe"
    probe.touch()
    try:
        os.setxattr(probe, "user.movielake", b"1")
        return True
    except OSError:
        return False
    finally:
        probe.unlink()


def start(port: int | None = None, timeout: float = 60.0, log=print) -> dict:
    """Start the store in the background (building it first if needed) and make sure the
    `movielake` bucket exists; returns status()."""
    daemon = _daemon()
    with daemon.lock():
        info = status()
        if info:
            log(f"objectstore: already running (pid {info['pid']}) on {info['address']}")
            return info
        binary = ensure_binary(log)
        port = port or PORT
        access, secret = credentials()
        data = home() / "data"
        data.mkdir(parents=True, exist_ok=True)
        backend = ["posix"]
        if not _has_xattrs(data):  # e.g. tmpfs: metadata goes to files beside the data
            (home() / "meta").mkdir(exist_ok=True)
            backend += ["--sidecar", str(home() / "meta")]
        command = [
            str(binary),
            "--port",
            f"{HOST}:{port}",
            "--region",
            REGION,
            "--quiet",
            *backend,
            str(data),
        ]
        env = {**os.environ, "ROOT_ACCESS_KEY_ID": access, "ROOT_SECRET_ACCESS_KEY": secret}
        began = time.monotonic()
        process = daemon.start(command, [port], env=env, port=port)
        log(f"objectstore: starting versitygw (pid {process.pid}), log {daemon.log_file}")
        record = daemon.record()
        daemon.wait_ready(process, lambda: _answers(_info(record)), timeout)
        try:
            client(_info(record)).create_bucket(Bucket=BUCKET)
        except Exception as exc:  # noqa: BLE001 - botocore's ClientError, checked by code
            code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
            if code != "BucketAlreadyOwnedByYou":  # from an earlier start
                daemon.stop()
                raise ObjectStoreError(f"creating bucket {BUCKET} failed: {code or exc}") from None
        log(
            f"objectstore: up on http://{HOST}:{port} after {time.monotonic() - began:.1f}s, "
            f"bucket {BUCKET}, data in {data}"
        )
        return _info(record)


def stop(log=print) -> bool:
    """Stop the store by PID (checked to be this data home's first); True if it ran. Raises
    ObjectStoreError when its port still listens afterwards."""
    daemon = _daemon()
    with daemon.lock():
        record = daemon.stop()
    if not record:
        log("objectstore: not running")
        return False
    log(f"objectstore: stopped (pid {record['pid']}); nothing left listening on {record['port']}")
    return True


def print_env(info: dict, log=print) -> None:
    """The address and the variables to export, as shell lines (keys included: for a terminal,
    not for a log file)."""
    log(f"objectstore: {info['address']} (pid {info['pid']}), bucket {info['bucket']}")
    for key, value in info["env"].items():
        log(f"export {key}={value}")


def client(info: dict):
    """boto3's S3 client for the store `info` describes (start() / status())."""
    import boto3
    from botocore.config import Config

    env = info["env"]
    return boto3.client(
        "s3",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env["AWS_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


def _answers(info: dict) -> bool:
    try:
        client(info).list_buckets()
        return True
    except Exception:  # noqa: BLE001 - not up yet: refused, reset, or 5xx while starting
        return False
