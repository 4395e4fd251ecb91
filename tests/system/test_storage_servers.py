"""The storage servers for real: versitygw (S3) and a single-node HDFS, each test in its own data
home and on free loopback ports; started, used, stopped, and checked to leave nothing behind.

The first run builds versitygw and fetches Hadoop's jars (minutes; `make objectstore-bin
hdfs-jars` does it ahead); afterwards the object store starts in about a second and HDFS in
about 10."""

from __future__ import annotations

import http.client
import os
import socket
import sys
import urllib.parse

import pytest

from movielake.cli import main
from movielake.ops import hdfs, objectstore
from movielake.ops.daemon import Daemon
from movielake.ops.procs import alive, port_open

pytestmark = pytest.mark.system
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A data home of the test's own; whatever it started is stopped afterwards."""
    monkeypatch.setenv("MOVIELAKE_HOME", str(tmp_path / "home"))
    yield tmp_path / "home"
    for module in (objectstore, hdfs):
        module.stop(log=lambda _m: None)


def test_objectstore_serves_s3_with_conditional_puts(home, capsys):
    port = free_port()
    info = objectstore.start(port=port)
    assert info["address"] == f"http://{HOST}:{port}"
    assert objectstore.status()["pid"] == info["pid"]
    assert (home / "objectstore" / "credentials").stat().st_mode & 0o077 == 0
    capsys.readouterr()
    assert main(["objectstore", "status"]) == 0
    out = capsys.readouterr().out
    assert f"export AWS_ENDPOINT_URL=http://{HOST}:{port}" in out
    assert "export MOVIELAKE_WAREHOUSE=s3a://movielake/warehouse" in out
    secret = info["env"]["AWS_SECRET_ACCESS_KEY"]
    assert secret not in (home / "objectstore" / "versitygw.log").read_text()

    from botocore.exceptions import ClientError

    s3 = objectstore.client(info)
    s3.create_bucket(Bucket="scratch")  # a bucket of our own, beside `movielake`
    s3.put_object(Bucket="movielake", Key="warehouse/a b.txt", Body=b"first")
    assert s3.get_object(Bucket="movielake", Key="warehouse/a b.txt")["Body"].read() == b"first"

    def refused(**call) -> bool:
        try:
            (s3.delete_object if "Body" not in call else s3.put_object)(
                Bucket="movielake", Key="lock", **call
            )
        except ClientError as exc:
            return exc.response["ResponseMetadata"]["HTTPStatusCode"] == 412
        return False

    # the warehouse lock's primitives: create-if-absent and compare-and-swap on the ETag
    s3.put_object(Bucket="movielake", Key="lock", Body=b"me", IfNoneMatch="*")
    assert refused(Body=b"you", IfNoneMatch="*")
    etag = s3.head_object(Bucket="movielake", Key="lock")["ETag"]
    assert refused(Body=b"me2", IfMatch='"stale"')
    etag2 = s3.put_object(Bucket="movielake", Key="lock", Body=b"me2", IfMatch=etag)["ETag"]
    assert refused(IfMatch=etag)
    assert s3.get_object(Bucket="movielake", Key="lock")["Body"].read() == b"me2"
    s3.delete_object(Bucket="movielake", Key="lock", IfMatch=etag2)
    assert (home / "objectstore" / "data" / "movielake" / "warehouse" / "a b.txt").is_file()

    assert objectstore.stop() is True
    assert not port_open(HOST, port) and not alive(info["pid"])
    assert not (home / "objectstore" / "versitygw.pid").exists()
    assert objectstore.status() is None


def test_objectstore_start_twice_and_stop_when_stopped(home):
    port = free_port()
    lines: list[str] = []
    first = objectstore.start(port=port, log=lines.append)
    again = objectstore.start(port=port, log=lines.append)
    assert again["pid"] == first["pid"] and "already running" in lines[-1]
    assert objectstore.stop(log=lines.append) is True
    assert objectstore.stop(log=lines.append) is False and lines[-1] == "objectstore: not running"
    # a restart keeps the keys and the objects
    assert objectstore.start(port=port)["env"] == first["env"]
    buckets = objectstore.client(first).list_buckets()["Buckets"]
    assert [b["Name"] for b in buckets] == ["movielake"]  # still there: ours


def test_objectstore_refuses_a_taken_port(home, capsys):
    with socket.socket() as squatter:
        squatter.bind((HOST, 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        assert main(["objectstore", "start", "--port", str(port)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("movielake objectstore start: port") and "\n" not in err
    assert objectstore.status() is None


def _webhdfs(method: str, url: str, body: bytes | None = None) -> tuple[int, str | None, bytes]:
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.netloc, timeout=30)
    try:
        connection.request(method, f"{parts.path}?{parts.query}", body=body)
        response = connection.getresponse()
        return response.status, response.getheader("Location"), response.read()
    finally:
        connection.close()


def test_hdfs_stores_files_and_stops_clean(home, capsys):
    port = free_port()
    lines: list[str] = []
    info = hdfs.start(port=port, log=lines.append)
    assert info["address"] == f"hdfs://{HOST}:{port}"
    assert hdfs.start(port=port, log=lines.append)["pid"] == info["pid"]
    assert "already running" in lines[-1]
    capsys.readouterr()
    assert main(["hdfs", "status"]) == 0
    out = capsys.readouterr().out
    assert f"export MOVIELAKE_WAREHOUSE=hdfs://{HOST}:{port}/movielake/warehouse" in out

    # WebHDFS: the NameNode redirects writes and reads to the DataNode, on loopback
    web = f"{info['http']}/webhdfs/v1/movielake/warehouse/t.txt"
    code, datanode, _ = _webhdfs("PUT", f"{web}?op=CREATE&user.name=test&overwrite=true")
    assert code == 307 and datanode.startswith(f"http://{HOST}:")
    assert _webhdfs("PUT", datanode, b"hello hdfs")[0] == 201
    code, datanode, _ = _webhdfs("GET", f"{web}?op=OPEN&user.name=test")
    assert code == 307 and _webhdfs("GET", datanode)[2] == b"hello hdfs"

    ports = list(info["ports"].values())
    assert hdfs.stop(log=lines.append) is True
    assert not any(port_open(HOST, p) for p in ports)
    assert not alive(info["pid"]) and not alive(info["datanode_pid"])
    assert not list((home / "hdfs").glob("*.pid"))
    assert hdfs.stop(log=lines.append) is False and lines[-1] == "hdfs: not running"
    assert main(["hdfs", "status"]) == 1


def test_daemon_ignores_a_stale_pid_file_and_kills_a_stubborn_server(tmp_path):
    daemon = Daemon("stubborn", tmp_path, ("stubborn-marker",))
    # a pid file naming a live process that is not ours (this one: other start time, no marker)
    daemon.pid_file.write_text(f'{{"pid": {os.getpid()}, "started": "1", "ports": []}}\n')
    assert daemon.running() is None and daemon.stop() is None and not daemon.pid_file.exists()
    port = free_port()
    script = (
        "import signal, socket, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        f"s = socket.create_server(('{HOST}', {port})); time.sleep(600)"
    )
    process = daemon.start([sys.executable, "-c", script, "stubborn-marker"], [port])
    daemon.wait_ready(process, lambda: port_open(HOST, port), timeout=30)
    assert daemon.running()["pid"] == process.pid
    record = daemon.stop(timeout=1)  # SIGTERM is ignored: SIGKILL after the deadline
    assert record["pid"] == process.pid and process.poll() is not None
    assert not port_open(HOST, port) and not daemon.pid_file.exists()
