"""`movielake metastore start|status|stop|fetch`: a shared Hive Metastore (HMS 4.0.1) on
loopback, backed by a private PostgreSQL, so that several Spark applications can use one catalog
at once (the embedded Derby metastore admits one JVM at a time).

Two processes, both in $MOVIELAKE_HOME/metastore/ with their pid files and logs:
- PostgreSQL (Debian's server binaries), listening on a free loopback port only (no Unix
  socket), password auth with a password generated once and kept 0600 in that folder;
- the metastore JVM (Thrift on 127.0.0.1:PORT), from Apache's standalone metastore release.

Everything is fetched from Maven Central through the Ivy jar inside pyspark, into a cache outside
the data home ($MOVIELAKE_TOOLS_DIR, default ~/.cache/movielake): the metastore release, the
Hadoop jars it expects beside it, a current PostgreSQL JDBC driver, and the Hive 4.0.1 client
jars that Spark loads to talk to it (Spark's built-in Hive 2.3 client fails against HMS 4 with
"Invalid method name: 'get_table'"). A client exports the two variables `start` prints:
MOVIELAKE_METASTORE (the thrift URI) and MOVIELAKE_METASTORE_JARS (that client jars folder);
client_conf() turns them into Spark settings.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import tarfile
import time
from pathlib import Path
from xml.sax.saxutils import escape

from movielake.data.paths import data_home, tools_dir, warehouse_dir
from movielake.errors import MovieLakeError
from movielake.ops.daemon import HOST, Daemon, last_error_line
from movielake.ops.maven import dependency, retrieve
from movielake.ops.procs import alive, port_open
from movielake.spark.session import HIVE_METASTORE_VERSION, hadoop_version, metastore_settings

HIVE_VERSION = HIVE_METASTORE_VERSION  # Spark 4.2's hive.v4_0: the newest its shims support
HADOOP_VERSION = "3.3.6"  # what Hive 4.0.1 is built against; the release tarball has no Hadoop
PG_JDBC_VERSION = "42.7.8"  # the tarball bundles 42.5.1; a current driver goes first
PORT = 9083  # Hive's default, used when free
MAIN_CLASS = "org.apache.hadoop.hive.metastore.HiveMetaStore"
SCHEMA_TOOL = "org.apache.hadoop.hive.metastore.tools.schematool.MetastoreSchemaTool"
DB_NAME, DB_USER = "metastore", "hive"
# Small heap, C1 only and serial GC: the metastore serves a few clients on a laptop; this way
# it starts in about half the time on two cores.
JVM = [
    "java",
    "-Xmx512m",
    "-Xms64m",
    "-XX:TieredStopAtLevel=1",
    "-XX:+UseSerialGC",
    "-Djava.awt.headless=true",
    "-Djava.net.preferIPv4Stack=true",
]


class MetastoreError(MovieLakeError):
    """The metastore or its database could not be set up, started or stopped; says why."""


# --- downloads --------------------------------------------------------------------------------


def server_dir() -> Path:
    """The metastore release (apache-hive-metastore-*-bin/) and, in lib/, Hadoop and the driver."""
    return tools_dir() / f"hive-metastore-{HIVE_VERSION}"


def client_jars_dir() -> Path:
    """The Hive client jars Spark loads (spark.sql.hive.metastore.jars.path): what
    MOVIELAKE_METASTORE_JARS names."""
    return tools_dir() / f"hive-{HIVE_VERSION}-client"


def _server_deps() -> list[str]:
    tarball = (
        '<artifact name="hive-standalone-metastore-server" type="tar.gz" ext="tar.gz" '
        'm:classifier="bin"/>'
    )
    return [
        f'    <dependency org="org.apache.hive" name="hive-standalone-metastore-server" '
        f'rev="{HIVE_VERSION}" transitive="false">{tarball}</dependency>',
        dependency("org.postgresql", "postgresql", PG_JDBC_VERSION, 'conf="default->master"'),
        # The metastore touches Hadoop's FileSystem, and its Warehouse class an HDFS exception
        # (from the server jar, taken alone); the client jar lets it use hdfs:// locations.
        dependency("org.apache.hadoop", "hadoop-common", HADOOP_VERSION),
        dependency("org.apache.hadoop", "hadoop-hdfs-client", HADOOP_VERSION),
        dependency(
            "org.apache.hadoop",
            "hadoop-hdfs",
            HADOOP_VERSION,
            'transitive="false" conf="default->master"',
        ),
        # the release ships its own log4j2 binding and has no use for ZooKeeper here
        '    <exclude org="org.slf4j" module="slf4j-reload4j"/>',
        '    <exclude org="ch.qos.reload4j"/>',
        '    <exclude org="org.apache.zookeeper"/>',
        '    <exclude org="org.apache.curator"/>',
    ]


def _client_deps() -> list[str]:
    """The set Spark's own `spark.sql.hive.metastore.jars=maven` resolves for 4.0.1 (its
    IsolatedClientLoader: four Hive modules, hive.v4_0's extra modules and exclusions, and the
    Hadoop client of pyspark's version), resolved once here instead of at every session start."""
    hive = [
        dependency("org.apache.hive", m, HIVE_VERSION)
        for m in ("hive-metastore", "hive-exec", "hive-common", "hive-serde")
    ]
    extra = [
        dependency(*coordinate.split(":"))
        for coordinate in (
            "org.apache.hadoop:hadoop-hdfs:3.3.6",
            "org.datanucleus:datanucleus-api-jdo:5.2.8",
            "org.datanucleus:datanucleus-rdbms:5.2.10",
            "org.datanucleus:javax.jdo:3.2.0-release",
            "org.springframework:spring-core:5.3.21",
            "org.springframework:spring-jdbc:5.3.21",
            "org.antlr:antlr4-runtime:4.9.3",
            "org.apache.derby:derby:10.14.2.0",
        )
    ]
    hadoop = [
        dependency("org.apache.hadoop", m, hadoop_version())
        for m in ("hadoop-client-api", "hadoop-client-runtime")
    ]
    excludes = [
        '    <exclude org="org.apache.calcite" module="calcite-druid"/>',
        '    <exclude org="org.apache.curator"/>',
        '    <exclude org="org.pentaho" module="pentaho-aggdesigner-algorithm"/>',
        '    <exclude org="org.apache.hive" module="hive-vector-code-gen"/>',
    ]
    return hive + extra + hadoop + excludes


def _release_dir() -> Path:
    return server_dir() / f"apache-hive-metastore-{HIVE_VERSION}-bin"


def fetch(log=print) -> dict[str, Path]:
    """Download what the metastore and its Spark clients need, once (about 78 MB for the server
    side and 300 MB of client jars); returns {"server": ..., "client_jars": ...}."""
    server, client = server_dir(), client_jars_dir()
    if not (server / ".complete").is_file():
        log(
            f"metastore: fetching Hive Metastore {HIVE_VERSION}, Hadoop {HADOOP_VERSION} jars "
            f"and the PostgreSQL driver into {server}"
        )
        shutil.rmtree(server, ignore_errors=True)  # a half-done earlier attempt
        retrieve(server / "lib", "hive-metastore-server", _server_deps(), MetastoreError)
        tarball = server / "lib" / f"hive-standalone-metastore-server-{HIVE_VERSION}-bin.tar.gz"
        try:
            with tarfile.open(tarball) as archive:
                archive.extractall(server, filter="data")
        except (OSError, tarfile.TarError) as exc:
            raise MetastoreError(f"unpacking {tarball} failed: {exc}") from None
        tarball.unlink()  # Ivy's cache keeps the download
        if not (_release_dir() / "lib").is_dir():
            raise MetastoreError(f"{tarball.name} did not hold {_release_dir().name}/lib")
        (server / ".complete").write_text(f"{HIVE_VERSION}\n")
    if not (client / ".complete").is_file():
        log(
            f"metastore: fetching the Hive {HIVE_VERSION} client jars for Spark into {client} "
            "(about 300 MB, once)"
        )
        shutil.rmtree(client, ignore_errors=True)
        retrieve(client, "hive-metastore-client", _client_deps(), MetastoreError)
        if not (client / f"hive-metastore-{HIVE_VERSION}.jar").is_file():
            raise MetastoreError(
                f"no hive-metastore-{HIVE_VERSION}.jar in {client}; see {client / 'ivy.log'}"
            )
        (client / ".complete").write_text(f"{len(list(client.glob('*.jar')))} jars\n")
    return {"server": server, "client_jars": client}


def client_conf(uri: str, jars_dir: Path) -> dict[str, str]:
    """The Spark settings of a client of the metastore at `uri` (thrift://host:port), with the
    Hive client jars of `jars_dir`: the session's own rule (what MOVIELAKE_METASTORE and
    MOVIELAKE_METASTORE_JARS give every session), for callers that pass them explicitly."""
    return metastore_settings(uri, str(jars_dir))


# --- PostgreSQL -------------------------------------------------------------------------------


def folder() -> Path:
    return data_home() / "metastore"


def _pg_bin() -> Path:
    """Folder of PostgreSQL's server programs: $MOVIELAKE_PG_BIN, else Debian's newest, else
    wherever `postgres` is on PATH."""
    if os.environ.get("MOVIELAKE_PG_BIN"):
        return Path(os.environ["MOVIELAKE_PG_BIN"])
    debian = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/postgres"),
        key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0,
    )
    found = debian[-1] if debian else shutil.which("postgres")
    if not found:
        raise MetastoreError(
            "PostgreSQL's server is not installed (apt-get install postgresql, "
            "or set MOVIELAKE_PG_BIN to the folder of its `postgres`)"
        )
    return Path(found).parent


def _as_db_owner(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run it as the `postgres` user (setpriv execs
    in place, so the pid we record is the server's own)."""
    if os.geteuid() != 0:
        return command
    return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"] + command


def _db_owner() -> tuple[int, int]:
    if os.geteuid() != 0:
        return os.getuid(), os.getgid()
    try:
        entry = pwd.getpwnam("postgres")
    except KeyError:
        raise MetastoreError(
            "running as root, but there is no `postgres` user to run "
            "PostgreSQL as (apt-get install postgresql creates it)"
        ) from None
    return entry.pw_uid, entry.pw_gid


def _check_reachable(path: Path, uid: int, gid: int) -> None:
    """The `postgres` user must be able to walk down to its data folder."""
    for parent in [path, *path.parents]:
        st = parent.stat()
        allowed = (
            st.st_mode & stat.S_IXOTH
            or (st.st_uid == uid and st.st_mode & stat.S_IXUSR)
            or (st.st_gid == gid and st.st_mode & stat.S_IXGRP)
        )
        if not allowed:
            raise MetastoreError(
                f"PostgreSQL runs as user postgres, which may not enter {parent} "
                f"(mode {stat.filemode(st.st_mode)}): `chmod o+x {parent}`, or "
                "use a data home it can reach"
            )


def _password() -> str:
    """The database password: generated on first use, kept 0600 in the metastore folder."""
    path = folder() / "password"
    if not path.is_file():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(24) + "\n")
    return path.read_text().strip()


def _pg_data() -> Path:
    return folder() / "postgres" / "data"


def _initdb(log) -> None:
    """Create the database cluster once; its bootstrap superuser is `hive`, with the password.
    The cluster holds the metastore's database only, so a second role would add nothing."""
    data = _pg_data()
    if (data / "PG_VERSION").is_file():
        return
    uid, gid = _db_owner()
    owned = data.parent
    owned.mkdir(parents=True, exist_ok=True)
    os.chown(owned, uid, gid)
    owned.chmod(0o700)
    shutil.rmtree(data, ignore_errors=True)  # a half-done earlier initdb
    pwfile = owned / "initdb.pw"  # read by initdb as its owner, deleted straight after
    fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(_password() + "\n")
    os.chown(pwfile, uid, gid)
    log(f"metastore: creating a PostgreSQL cluster in {data}")
    try:
        with (folder() / "initdb.log").open("w") as out:
            result = subprocess.run(
                _as_db_owner(
                    [
                        str(_pg_bin() / "initdb"),
                        "-D",
                        str(data),
                        "-U",
                        DB_USER,
                        f"--pwfile={pwfile}",
                        "-A",
                        "scram-sha-256",
                        "-E",
                        "UTF8",
                        "--no-locale",
                    ]
                ),
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=owned,
            )
    finally:
        pwfile.unlink(missing_ok=True)
    if result.returncode != 0:
        raise MetastoreError(
            f"initdb failed (exit {result.returncode}: "
            f"{last_error_line(folder() / 'initdb.log')}); see "
            f"{folder() / 'initdb.log'}"
        )


def _free_port(preferred: int | None = None) -> int:
    if preferred and not port_open(HOST, preferred):
        return preferred
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _pg_daemon() -> Daemon:
    return Daemon("postgres", folder(), ("postgres", str(_pg_data())), MetastoreError)


def _hms_daemon() -> Daemon:
    return Daemon("metastore", folder(), (MAIN_CLASS, str(folder() / "conf")), MetastoreError)


def _psql(port: int, sql: str, database: str = "postgres") -> str:
    """Run one statement as `hive` over TCP; its output, unaligned."""
    env = {**os.environ, "PGPASSWORD": _password(), "PGCONNECT_TIMEOUT": "10"}
    result = subprocess.run(
        [
            str(_pg_bin() / "psql"),
            "-h",
            HOST,
            "-p",
            str(port),
            "-U",
            DB_USER,
            "-d",
            database,
            "-v",
            "ON_ERROR_STOP=1",
            "-tAc",
            sql,
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    if result.returncode != 0:
        raise MetastoreError(f"psql on port {port} failed: {result.stderr.strip()[-300:]}")
    return result.stdout.strip()


def _start_postgres(log, timeout: float = 60.0) -> int:
    """Start the cluster (if not running) on a free loopback port; returns that port."""
    daemon = _pg_daemon()
    record = daemon.running()
    if record:
        return record["ports"][0]
    _check_reachable(folder(), *_db_owner())
    _initdb(log)
    port = _free_port()
    # no Unix socket: a folder for it is not ours to pick, and TCP on loopback is all we use
    command = _as_db_owner(
        [
            str(_pg_bin() / "postgres"),
            "-D",
            str(_pg_data()),
            "-c",
            f"listen_addresses={HOST}",
            "-c",
            f"port={port}",
            "-c",
            "unix_socket_directories=",
            "-c",
            "shared_buffers=32MB",
        ]
    )
    process = daemon.start(command, [port])
    ready = [str(_pg_bin() / "pg_isready"), "-q", "-h", HOST, "-p", str(port)]
    daemon.wait_ready(process, lambda: subprocess.run(ready).returncode == 0, timeout)
    log(f"metastore: PostgreSQL up (pid {process.pid}) on {HOST}:{port}")
    return port


def _stop_postgres(timeout: float = 30.0) -> dict | None:
    """Fast shutdown (SIGINT: roll back sessions, checkpoint, exit) by pid; the Daemon's
    SIGTERM/SIGKILL of the group only if that does not end it in time."""
    daemon = _pg_daemon()
    record = daemon.running()
    if record:
        os.kill(record["pid"], signal.SIGINT)
        deadline = time.monotonic() + timeout
        while alive(record["pid"]) and time.monotonic() < deadline:
            time.sleep(0.2)
    daemon.stop()  # drops the pid file; kills the group only if still alive
    return record


# --- the metastore ----------------------------------------------------------------------------


def _classpath() -> str:
    lib = server_dir() / "lib"
    # conf/ first (site file, log4j2 config); the current driver before the bundled one
    return ":".join(
        [
            str(folder() / "conf"),
            str(lib / f"postgresql-{PG_JDBC_VERSION}.jar"),
            str(_release_dir() / "lib" / "*"),
            str(lib / "*"),
        ]
    )


def _write_conf(port: int, pg_port: int) -> None:
    conf = folder() / "conf"
    conf.mkdir(parents=True, exist_ok=True)
    # MOVIELAKE_WAREHOUSE may name a store (hdfs://: the Hadoop jars here can reach it)
    warehouse = str(warehouse_dir())
    warehouse = warehouse if "://" in warehouse else Path(warehouse).as_uri()
    props = {
        "javax.jdo.option.ConnectionURL": f"jdbc:postgresql://{HOST}:{pg_port}/{DB_NAME}",
        "javax.jdo.option.ConnectionDriverName": "org.postgresql.Driver",
        "javax.jdo.option.ConnectionUserName": DB_USER,
        "javax.jdo.option.ConnectionPassword": _password(),
        "metastore.thrift.port": str(port),
        "metastore.thrift.bind.host": HOST,  # else it listens on every interface
        # where the `default` database lives; clients' own schemas carry their locations
        "metastore.warehouse.dir": warehouse,
        "metastore.warehouse.external.dir": warehouse,
        # the schema is made by the schema tool (DataNucleus's auto-create hung) and checked
        "datanucleus.schema.autoCreateAll": "false",
        "metastore.schema.verification": "true",
        # Hive 4 rewrites managed tables of clients that declare no capabilities (Spark) into
        # external ones; Spark's managed tables stay managed without the transformer
        "metastore.metadata.transformer.class": " ",
        # async logging needs the LMAX disruptor jar, which the release does not ship
        "metastore.async.log.enabled": "false",
        # the default list names a task of Hive's query engine, absent from the standalone
        # release ("HiveProtoEventsCleanerTask class not found"); ACID metrics are not needed
        "metastore.task.threads.always": "org.apache.hadoop.hive.metastore.events."
        "EventCleanerTask,org.apache.hadoop.hive.metastore."
        "RuntimeStatsCleanerTask",
        "metastore.server.min.threads": "8",  # 200 idle Thrift workers by default
    }
    body = "".join(
        f"  <property><name>{k}</name><value>{escape(v)}</value></property>\n"
        for k, v in props.items()
    )
    site = conf / "metastore-site.xml"
    fd = os.open(site, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds the password
    with os.fdopen(fd, "w") as handle:
        handle.write(
            '<?xml version="1.0"?>\n<!-- Written by `movielake metastore start`. -->\n'
            f"<configuration>\n{body}</configuration>\n"
        )
    # to stdout, which the Daemon appends to metastore.log; DataNucleus only when it errs
    (conf / "metastore-log4j2.properties").write_text(
        "\n".join(
            [
                "status = WARN",
                "appender.console.type = Console",
                "appender.console.name = console",
                "appender.console.target = SYSTEM_OUT",
                "appender.console.layout.type = PatternLayout",
                "appender.console.layout.pattern = %d{ISO8601} %5p [%t] %c{2}: %m%n",
                "logger.datanucleus.name = DataNucleus",
                "logger.datanucleus.level = ERROR",
                "rootLogger.level = INFO",
                "rootLogger.appenderRef.console.ref = console",
                "",
            ]
        )
    )


def _init_schema(pg_port: int, log) -> None:
    """Create the metastore's database and its tables with Hive's schema tool, once."""
    if not _psql(pg_port, f"select 1 from pg_database where datname = '{DB_NAME}'"):
        _psql(pg_port, f"create database {DB_NAME}")
    has_schema = _psql(
        pg_port,
        "select count(*) from information_schema.tables where table_name = 'VERSION'",
        DB_NAME,
    )
    if has_schema != "0":
        return
    log("metastore: creating the metastore schema in PostgreSQL (Hive's schema tool)")
    schema_log = folder() / "schema.log"
    with schema_log.open("w") as out:
        result = subprocess.run(
            JVM
            + [
                f"-Djava.io.tmpdir={folder() / 'tmp'}",
                "-cp",
                _classpath(),
                SCHEMA_TOOL,
                "-dbType",
                "postgres",
                "-initSchema",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=folder(),
            # the tool finds its SQL scripts under $METASTORE_HOME/scripts
            env={**os.environ, "METASTORE_HOME": str(_release_dir())},
        )
    if result.returncode != 0:
        raise MetastoreError(
            f"the schema tool failed (exit {result.returncode}: "
            f"{last_error_line(schema_log)}); see {schema_log}"
        )


def _info(record: dict, pg_record: dict | None) -> dict:
    uri = f"thrift://{HOST}:{record['ports'][0]}"
    return {
        "address": uri,
        "port": record["ports"][0],
        "pid": record["pid"],
        "postgres_pid": pg_record["pid"] if pg_record else None,
        "postgres_port": pg_record["ports"][0] if pg_record else None,
        "log": str(_hms_daemon().log_file),
        "env": {"MOVIELAKE_METASTORE": uri, "MOVIELAKE_METASTORE_JARS": str(client_jars_dir())},
    }


def status() -> dict | None:
    """{address, port, pid, postgres_pid, postgres_port, log, env} when this data home's
    metastore runs, else None (postgres_pid is None if its database died under it)."""
    record = _hms_daemon().running()
    return _info(record, _pg_daemon().running()) if record else None


def describe(info: dict) -> list[str]:
    """The address and the variables to export, as lines to print."""
    database = (
        f"PostgreSQL pid {info['postgres_pid']} on {HOST}:{info['postgres_port']}"
        if info["postgres_pid"]
        else "its PostgreSQL is NOT running"
    )
    return [
        f"metastore: {info['address']} (pid {info['pid']}; {database}), log {info['log']}",
        *(f"export {key}={value}" for key, value in info["env"].items()),
    ]


def start(port: int | None = None, timeout: float = 240.0, log=print) -> dict:
    """Start PostgreSQL and the metastore (fetching, creating the cluster and the schema on
    first use); returns status() once the metastore answers on its Thrift port. `port`: the
    metastore's (default 9083 when free, else any free one)."""
    hms = _hms_daemon()
    with hms.lock():
        info = status()
        if info:
            log("metastore: already running")
            for line in describe(info):
                log(line)
            return info
        if port and port_open(HOST, port):
            raise MetastoreError(
                f"port {port} on {HOST} is taken by another process (choose another with --port)"
            )
        port = port or _free_port(PORT)
        fetch(log)
        began = time.monotonic()
        for sub in ("conf", "tmp"):
            (folder() / sub).mkdir(parents=True, exist_ok=True)
        pg_was_running = bool(_pg_daemon().running())
        try:
            pg_port = _start_postgres(log)
            _write_conf(port, pg_port)  # the schema tool reads it too
            _init_schema(pg_port, log)
            process = hms.start(
                JVM + [f"-Djava.io.tmpdir={folder() / 'tmp'}", "-cp", _classpath(), MAIN_CLASS],
                [port],
            )
            log(f"metastore: starting the metastore (pid {process.pid}), log {hms.log_file}")
            hms.wait_ready(process, lambda: port_open(HOST, port), timeout)
        except BaseException:  # Ctrl-C too: leave nothing running that we started
            if not pg_was_running:
                _stop_postgres()
            raise
        info = status()
        if not info:
            raise MetastoreError(f"the metastore came up but is gone; see {hms.log_file}")
        log(f"metastore: up after {time.monotonic() - began:.0f}s")
        for line in describe(info):
            log(line)
        return info


def stop(log=print) -> bool:
    """Stop the metastore, then its PostgreSQL, by pid (each checked to be this data home's
    first); True if either ran. Raises MetastoreError if one of their ports still listens."""
    hms = _hms_daemon()
    with hms.lock():
        stopped = hms.stop()
        if stopped:
            log(f"metastore: stopped the metastore (pid {stopped['pid']})")
        pg = _stop_postgres()
        if pg:
            log(f"metastore: stopped PostgreSQL (pid {pg['pid']})")
        ports = [p for r in (stopped, pg) if r for p in r["ports"] if port_open(HOST, p)]
        if ports:
            raise MetastoreError(
                f"stopped, but something still listens on {HOST} port(s) "
                f"{', '.join(map(str, ports))}"
            )
        if not stopped and not pg:
            log("metastore: not running")
            return False
    log("metastore: stopped; nothing left listening on its ports")
    return True
