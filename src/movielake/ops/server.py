"""`movielake serve`: one long-lived Spark server that owns the metastore, so that dbt and any
number of analysts can use the lakehouse at the same time.

The embedded Derby metastore admits one JVM; this JVM is it. It runs Spark's Thrift JDBC server
(for beeline and BI tools) with the Spark Connect plugin (for pyspark clients and dbt's
`connect` target), both bound to loopback unless told otherwise.
"""

from __future__ import annotations

import os
import sys

from movielake.data.paths import data_home
from movielake.ops import home_lock
from movielake.ops.daemon import Daemon, DaemonError
from movielake.ops.procs import alive, port_open, spark_home
from movielake.ops.warehouse import check_warehouse
from movielake.spark.session import delta_jars, prepare_environment, session_conf

CONNECT_PORT = 15002
JDBC_PORT = 10000
SERVER_NAME = "movielake-server"  # spark-submit --name: how --status/--stop recognise it
# Spark Connect's pre-shared bearer token (read by the server and by pyspark clients alike).
TOKEN_ENV = "SPARK_CONNECT_AUTHENTICATE_TOKEN"


def _daemon() -> Daemon:
    return Daemon("server", data_home() / "server", (SERVER_NAME,))


def running_pid() -> int | None:
    """PID of the server this data home started, if that very process is still running: the
    PID must be alive, have the start time recorded when it was started, and be the server's
    command line, so a PID the system has since given to another process is never ours."""
    record = _daemon().running()
    return record["pid"] if record else None


def _exposed(host: str) -> bool:
    return host not in ("127.0.0.1", "localhost", "::1")


def server_command(host: str, connect_port: int, jdbc_port: int) -> list[str]:
    conf = session_conf()
    conf.pop("spark.app.name", None)
    conf.update(
        {
            "spark.plugins": "org.apache.spark.sql.connect.SparkConnectPlugin",
            "spark.connect.grpc.binding.address": host,
            "spark.connect.grpc.binding.port": str(connect_port),
            # dbt-spark relies on non-ANSI semantics; the server serves dbt too.
            "spark.sql.ansi.enabled": "false",
            # Spark Connect hands out java.time values; Delta's min/max-from-metadata shortcut then
            # fails on a date column (ClassCastException LocalDate -> java.sql.Date, Delta 4.4):
            # let Spark compute such aggregates (dbt test eda_monthly_activity_covers_span)
            "spark.databricks.delta.optimizeMetadataQuery.enabled": "false",
            # JDBC sessions resolve the Delta catalog through the system class loader, which does
            # not see jars added by spark.jars.packages: put them on the driver's class path too.
            "spark.driver.extraClassPath": ":".join(delta_jars()),
        }
    )
    if host != "127.0.0.1":
        conf["spark.driver.bindAddress"] = host
    command = [
        str(spark_home() / "bin" / "spark-submit"),
        "--class",
        "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2",
        "--name",
        SERVER_NAME,
    ]
    for key, value in conf.items():
        command += ["--conf", f"{key}={value}"]
    command += [
        "spark-internal",
        # JDBC has no authentication here: it never leaves loopback
        "--hiveconf",
        "hive.server2.thrift.bind.host=127.0.0.1",
        "--hiveconf",
        f"hive.server2.thrift.port={jdbc_port}",
    ]
    return command


def start(
    host: str = "127.0.0.1",
    connect_port: int = CONNECT_PORT,
    jdbc_port: int = JDBC_PORT,
    timeout: float = 240.0,
    log=print,
) -> int:
    """Start the server in the background and wait until both endpoints answer."""
    if _exposed(host) and not os.environ.get(TOKEN_ENV):
        log(
            f"serve: refusing to listen on {host} without authentication: set {TOKEN_ENV} to a "
            'secret token (clients send it; see README "Failure modes"), or keep the default '
            "loopback host"
        )
        return 2
    pid = running_pid()
    if pid:
        log(f"server already running (pid {pid}); `movielake serve --status` shows its endpoints")
        return 0
    busy = home_lock.holder()
    if busy:
        log(f"serve: this data home's metastore is in use by {busy}; wait for it to finish")
        return 1
    if port_open(host, connect_port):
        log(f"serve: port {connect_port} on {host} is taken by another process")
        return 1
    check_warehouse()  # a bad store setting: one line now, not a failed server later
    prepare_environment()
    env = {
        **os.environ,
        "SPARK_HOME": str(spark_home()),
        "PYSPARK_PYTHON": sys.executable,
        "SPARK_LOCAL_IP": host if host != "0.0.0.0" else "127.0.0.1",
    }
    daemon = _daemon()
    try:
        process = daemon.start(
            server_command(host, connect_port, jdbc_port),
            [connect_port, jdbc_port],
            env=env,
            cwd=data_home(),
            host=host,
            connect_port=connect_port,
            jdbc_port=jdbc_port,
        )
        log(f"starting Spark server (pid {process.pid}), log: {daemon.log_file}")
        daemon.wait_ready(
            process,
            lambda: port_open(host, connect_port) and port_open("127.0.0.1", jdbc_port),
            timeout,
        )
    except DaemonError as exc:
        log(f"serve: {exc}")
        return 1
    log(
        f"Spark Connect: sc://{host}:{connect_port}   (SPARK_REMOTE for pyspark and dbt)"
        + (f", clients must send {TOKEN_ENV}" if os.environ.get(TOKEN_ENV) else "")
    )
    log(f"JDBC:          jdbc:hive2://127.0.0.1:{jdbc_port}/   (beeline, BI tools)")
    return 0


def status(log=print) -> int:
    daemon = _daemon()
    record = daemon.running()
    if not record:
        log("server: not running" + _stale_note())
        return 1
    host, connect_port, jdbc_port = record["host"], record["connect_port"], record["jdbc_port"]
    connect_up = port_open(host, connect_port)
    jdbc_up = port_open("127.0.0.1", jdbc_port)
    log(f"server: running (pid {record['pid']}), log {daemon.log_file}")
    log(f"Spark Connect sc://{host}:{connect_port} {'up' if connect_up else 'not answering'}")
    log(f"JDBC jdbc:hive2://127.0.0.1:{jdbc_port}/ {'up' if jdbc_up else 'not answering'}")
    return 0 if connect_up and jdbc_up else 1


def _stale_note() -> str:
    """Why a pid file that names no running server is ignored (nothing is signalled)."""
    record = _daemon().record() or {}
    if isinstance(record.get("pid"), int) and alive(record["pid"]):
        return f" (pid {record['pid']} in {_daemon().pid_file} is now another process: left alone)"
    return ""


def stop(timeout: float = 60.0, log=print) -> int:
    """Stop the server and everything it started (its whole process group), by PID."""
    note = _stale_note()
    record = _daemon().stop(timeout)
    log(f"server stopped (pid {record['pid']})" if record else "server: not running" + note)
    return 0
