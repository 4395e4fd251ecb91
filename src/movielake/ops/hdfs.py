"""`movielake hdfs start|status|stop`: a single-node HDFS (one NameNode JVM, one DataNode JVM)
on loopback, with its metadata, blocks, configuration and logs in $MOVIELAKE_HOME/hdfs/.

The jars are Apache Hadoop's own from Maven Central, at the version pyspark bundles (its
hadoop-client-api jar), resolved once through the Ivy jar inside pyspark into a cache outside
the data home ($MOVIELAKE_TOOLS_DIR, default ~/.cache/movielake). No Hadoop distribution and no
shell scripts: the two daemons are started as plain `java` processes.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from xml.sax.saxutils import escape

from movielake.data.paths import data_home, tools_dir
from movielake.errors import MovieLakeError
from movielake.ops.daemon import HOST, Daemon, last_error_line
from movielake.ops.maven import dependency, retrieve
from movielake.ops.procs import port_open

HADOOP_VERSION = "3.5.0"  # = pyspark/jars/hadoop-client-api-*.jar: one Hadoop for client and server
MODULES = ("hadoop-common", "hadoop-hdfs", "hadoop-hdfs-client")
NAMENODE = "org.apache.hadoop.hdfs.server.namenode.NameNode"
DATANODE = "org.apache.hadoop.hdfs.server.datanode.DataNode"
PORT = 8020  # NameNode RPC, Hadoop's default
# the other four listeners: Hadoop's defaults when free, else any free port (recorded)
DEFAULT_PORTS = {"http": 9870, "dn_data": 9866, "dn_http": 9864, "dn_ipc": 9867}
# C1 only (TieredStopAtLevel=1): the two JVMs start in ~9 s instead of ~17 s on two cores; a
# laptop's HDFS is I/O-bound, the optimising compiler buys it little. Serial GC: small heaps.
JVM = [
    "java",
    "-Xmx512m",
    "-Xms64m",
    "-XX:TieredStopAtLevel=1",
    "-XX:+UseSerialGC",
    "-Djava.awt.headless=true",
    "-Djava.net.preferIPv4Stack=true",
]


class HdfsError(MovieLakeError):
    """HDFS could not be set up, started or stopped; the message says why."""


def jars_dir() -> Path:
    """Where Hadoop's jars are kept: $MOVIELAKE_TOOLS_DIR/hadoop-<version>."""
    return tools_dir() / f"hadoop-{HADOOP_VERSION}"


def home() -> Path:
    return data_home() / "hdfs"


def fetch_jars(log=print) -> list[Path]:
    """Hadoop's HDFS jars with their dependencies, resolved from Maven Central once."""
    folder = jars_dir()
    done = folder / ".complete"
    if done.is_file():
        return sorted(folder.glob("*.jar"))
    log(f"hdfs: resolving Hadoop {HADOOP_VERSION} jars from Maven Central into {folder}")
    retrieve(
        folder,
        "hdfs",
        [dependency("org.apache.hadoop", m, HADOOP_VERSION) for m in MODULES],
        HdfsError,
    )
    jars = sorted(folder.glob("*.jar"))
    if not (folder / f"hadoop-hdfs-{HADOOP_VERSION}.jar").is_file():
        raise HdfsError(f"Ivy retrieved no hadoop-hdfs jar into {folder}; see {folder / 'ivy.log'}")
    # The daemons' web servers look their webapps up as classpath folders, which the Maven jars
    # do not ship ("webapps/hdfs not found in CLASSPATH"): empty ones do (the UI is not needed).
    for app in ("hdfs", "datanode"):
        (folder / "webapps" / app).mkdir(parents=True, exist_ok=True)
    done.write_text(f"{len(jars)} jars\n")
    return jars


def _classpath() -> str:
    # conf/ first: the site files and log4j.properties; the jars folder for its webapps/
    return ":".join([str(home() / "conf"), str(jars_dir())] + [str(j) for j in fetch_jars()])


def _daemons() -> tuple[Daemon, Daemon]:
    conf = str(home() / "conf")
    return (
        Daemon("namenode", home(), (NAMENODE, conf), HdfsError),
        Daemon("datanode", home(), (DATANODE, conf), HdfsError),
    )


def _free_port(preferred: int, taken: set[int]) -> int:
    if preferred not in taken and not port_open(HOST, preferred):
        return preferred
    while True:
        with socket.socket() as sock:
            sock.bind((HOST, 0))
            port = sock.getsockname()[1]
        if port not in taken:
            return port


def _write_conf(ports: dict[str, int]) -> None:
    folder = home()
    addr = {name: f"{HOST}:{port}" for name, port in ports.items()}
    core = {"fs.defaultFS": f"hdfs://{addr['rpc']}", "hadoop.tmp.dir": str(folder / "tmp")}
    site = {
        "dfs.namenode.name.dir": str(folder / "name"),
        "dfs.datanode.data.dir": str(folder / "data"),
        "dfs.namenode.rpc-address": addr["rpc"],
        "dfs.namenode.http-address": addr["http"],
        "dfs.datanode.address": addr["dn_data"],
        "dfs.datanode.http.address": addr["dn_http"],
        "dfs.datanode.ipc.address": addr["dn_ipc"],
        # WebHDFS redirects clients to the DataNode by this name: keep it on loopback
        "dfs.datanode.hostname": HOST,
        "dfs.namenode.datanode.registration.ip-hostname-check": "false",
        "dfs.replication": "1",
        # else a restarted NameNode stays read-only (safe mode) 30 s after its blocks are back
        "dfs.namenode.safemode.extension": "0",
        "dfs.permissions.enabled": "false",  # one local user; HDFS's users are not the OS's
    }
    conf = folder / "conf"
    conf.mkdir(parents=True, exist_ok=True)
    for name, props in (("core-site.xml", core), ("hdfs-site.xml", site)):
        body = "".join(
            f"  <property><name>{k}</name><value>{escape(v)}</value></property>\n"
            for k, v in props.items()
        )
        (conf / name).write_text(
            f'<?xml version="1.0"?>\n<!-- Written by `movielake hdfs '
            f"start`. -->\n<configuration>\n{body}</configuration>\n"
        )
    # Hadoop logs through log4j 1.x (reload4j): to stdout, which the Daemon appends to its log.
    (conf / "log4j.properties").write_text(
        "\n".join(
            [
                "log4j.rootLogger=INFO,console",
                "log4j.appender.console=org.apache.log4j.ConsoleAppender",
                "log4j.appender.console.layout=org.apache.log4j.PatternLayout",
                "log4j.appender.console.layout.ConversionPattern=%d{ISO8601} %p %c{2}: %m%n",
                # one line per file operation and per block transfer: not needed on a laptop
                "log4j.logger.org.apache.hadoop.hdfs.server.namenode.FSNamesystem.audit=WARN",
                "log4j.logger.org.apache.hadoop.hdfs.server.datanode.DataNode.clienttrace=WARN",
                # a thousand "Added DIR lock" lines at each DataNode start
                "log4j.logger.org.apache.hadoop.hdfs.server.datanode.fsdataset.impl.FsDatasetImpl=WARN",
                "",
            ]
        )
    )


def _format(classpath: str, log) -> None:
    """Format the NameNode's metadata once; blocks of an older cluster would be refused."""
    folder = home()
    if (folder / "name" / "current" / "VERSION").is_file():
        return
    shutil.rmtree(folder / "data", ignore_errors=True)
    log(f"hdfs: formatting a new file system in {folder / 'name'}")
    with (folder / "format.log").open("a") as out:
        result = subprocess.run(
            JVM + ["-cp", classpath, NAMENODE, "-format", "-nonInteractive", "-force"],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=folder,
        )
    if result.returncode != 0:
        raise HdfsError(
            f"formatting the NameNode failed (exit {result.returncode}: "
            f"{last_error_line(folder / 'format.log')}); see {folder / 'format.log'}"
        )


def _jmx_state(http_port: int) -> dict:
    url = f"http://{HOST}:{http_port}/jmx?qry=Hadoop:service=NameNode,name=FSNamesystemState"
    with urllib.request.urlopen(url, timeout=5) as response:
        beans = json.load(response)["beans"]
    return beans[0] if beans else {}


def _ready(http_port: int) -> bool:
    """Writable: out of safe mode, and a live DataNode has reported space to put blocks in."""
    state = _jmx_state(http_port)
    return (
        state.get("FSState") == "Operational"
        and state.get("NumLiveDataNodes", 0) >= 1
        and state.get("CapacityRemaining", 0) > 0
    )


def _info(record: dict) -> dict:
    ports = record["named_ports"]
    address = f"hdfs://{HOST}:{ports['rpc']}"
    return {
        "address": address,
        "pid": record["pid"],
        "ports": ports,
        "http": f"http://{HOST}:{ports['http']}",
        "env": {"MOVIELAKE_WAREHOUSE": f"{address}/movielake/warehouse"},
    }


def status() -> dict | None:
    """{address, pid (NameNode's), datanode_pid, ports, http, env} when both daemons this data
    home started still run, else None."""
    namenode, datanode = (d.running() for d in _daemons())
    if not namenode or not datanode:
        return None
    return {**_info(namenode), "datanode_pid": datanode["pid"]}


def start(port: int | None = None, timeout: float = 120.0, log=print) -> dict:
    """Start the NameNode and the DataNode in the background (formatting the file system on
    first use); returns status() once HDFS takes writes."""
    namenode, datanode = _daemons()
    with namenode.lock():
        info = status()
        if info:
            log(
                f"hdfs: already running (pids {info['pid']}, {info['datanode_pid']}) "
                f"on {info['address']}"
            )
            return info
        if namenode.running() or datanode.running():
            log("hdfs: only one of its two daemons runs; restarting both")
            _stop_both(log=lambda _m: None)
        classpath = _classpath()
        ports = {"rpc": port or PORT}
        if port_open(HOST, ports["rpc"]):
            raise HdfsError(
                f"port {ports['rpc']} on {HOST} is taken by another process "
                "(choose another with --port)"
            )
        for name, preferred in DEFAULT_PORTS.items():
            ports[name] = _free_port(preferred, set(ports.values()))
        _write_conf(ports)
        _format(classpath, log)
        began = time.monotonic()
        nn = namenode.start(
            JVM + ["-cp", classpath, NAMENODE], [ports["rpc"], ports["http"]], named_ports=ports
        )
        dn = datanode.start(
            JVM + ["-cp", classpath, DATANODE],
            [ports["dn_data"], ports["dn_http"], ports["dn_ipc"]],
            named_ports=ports,
        )
        log(f"hdfs: starting NameNode (pid {nn.pid}) and DataNode (pid {dn.pid}), logs in {home()}")

        def ready() -> bool:
            if dn.poll() is not None:  # wait_ready watches the NameNode; this, the DataNode
                raise HdfsError(
                    f"the DataNode exited with code {dn.returncode} "
                    f"({datanode.last_words()}); see {datanode.log_file}"
                )
            return _ready(ports["http"])

        try:
            namenode.wait_ready(nn, ready, timeout)
        except HdfsError:
            _stop_both(log=lambda _m: None)
            raise
        info = status()
        if not info:
            raise HdfsError(f"HDFS came up but its daemons are gone; see the logs in {home()}")
        log(
            f"hdfs: up on {info['address']} after {time.monotonic() - began:.0f}s "
            f"(web UI {info['http']}), data in {home()}"
        )
        return info


def _stop_both(log) -> bool:
    namenode, datanode = _daemons()
    # DataNode first: stopped after its NameNode it would retry the connection for a while
    stopped = [record for record in (datanode.stop(), namenode.stop()) if record]
    for record in stopped:
        log(f"hdfs: stopped pid {record['pid']}")
    return bool(stopped)


def stop(log=print) -> bool:
    """Stop both daemons by PID (checked to be this data home's first); True if any ran. Raises
    HdfsError when one of their ports still listens afterwards."""
    namenode, _ = _daemons()
    with namenode.lock():
        if not _stop_both(log):
            log("hdfs: not running")
            return False
    log("hdfs: stopped; nothing left listening on its ports")
    return True


def print_env(info: dict, log=print) -> None:
    """The address and the variable to export, as shell lines."""
    log(f"hdfs: {info['address']} (NameNode pid {info['pid']}, web UI {info['http']})")
    for key, value in info["env"].items():
        log(f"export {key}={value}")
