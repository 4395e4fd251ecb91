"""`movielake kafka start|status|stop`: a single-node Apache Kafka broker (KRaft mode: the
broker is its own controller, no ZooKeeper) on loopback, for the streaming ingest.

Kafka's own jars come from Maven Central through Apache Ivy (the Ivy jar shipped inside pyspark,
the same resolver that fetches the Delta jars), so nothing but Java and the registries is needed.
The broker's data, configuration, log and PID file live in $MOVIELAKE_HOME/kafka/.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from movielake.data.paths import data_home, tools_dir
from movielake.errors import MovieLakeError
from movielake.ops.daemon import Daemon
from movielake.ops.maven import dependency, retrieve
from movielake.ops.procs import port_open

KAFKA_VERSION = "4.1.1"
# The broker (Scala 2.13 build) and an SLF4J binding so that its log goes to kafka.log.
KAFKA_MODULES = [
    ("org.apache.kafka", "kafka_2.13", KAFKA_VERSION),
    ("org.slf4j", "slf4j-simple", "1.7.36"),
]
PORT = 9092
CONTROLLER_PORT = 9093
HOST = "127.0.0.1"
MAIN_CLASS = "kafka.Kafka"


class KafkaError(MovieLakeError):
    """The broker could not be set up, started or stopped; the message says why."""


def jars_dir() -> Path:
    """Where the broker's jars are kept ($MOVIELAKE_KAFKA_JARS, else in the tools cache)."""
    default = tools_dir() / f"kafka-{KAFKA_VERSION}"
    return Path(os.environ.get("MOVIELAKE_KAFKA_JARS", default))


def fetch_jars(log=print) -> list[Path]:
    """Kafka's jars with their dependencies, resolved from Maven Central once (then cached)."""
    folder = jars_dir()
    done = folder / ".complete"
    if done.is_file():
        return sorted(folder.glob("*.jar"))
    log(f"kafka: resolving Kafka {KAFKA_VERSION} jars from Maven Central into {folder}")
    retrieve(folder, "kafka-broker", [dependency(*m) for m in KAFKA_MODULES], KafkaError)
    jars = sorted(folder.glob("*.jar"))
    if not any(j.name.startswith("kafka_2.13-") for j in jars):
        raise KafkaError(f"Ivy retrieved no Kafka jar into {folder}; see {folder / 'ivy.log'}")
    done.write_text(f"{len(jars)} jars\n")
    return jars


@dataclass
class BrokerFiles:
    folder: Path

    @property
    def properties(self) -> Path:
        return self.folder / "server.properties"

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def log(self) -> Path:
        return self.folder / "kafka.log"


def broker_files() -> BrokerFiles:
    return BrokerFiles(data_home() / "kafka")


def _daemon() -> Daemon:
    files = broker_files()
    return Daemon("kafka", files.folder, (MAIN_CLASS, str(files.properties)), KafkaError)


def running() -> dict | None:
    """{pid, port, controller_port} of the broker this data home started, if it still runs."""
    record = _daemon().running()
    if not record:
        return None
    return {
        "pid": record["pid"],
        "port": record["port"],
        "controller_port": record["controller_port"],
    }


def bootstrap_servers() -> str:
    """host:port of the running broker; KafkaError when none runs."""
    broker = running()
    if not broker:
        raise KafkaError("no Kafka broker running for this data home (movielake kafka start)")
    return f"{HOST}:{broker['port']}"


def _classpath() -> str:
    return ":".join(str(j) for j in fetch_jars())


def _write_properties(files: BrokerFiles, port: int, cport: int) -> None:
    files.properties.write_text(
        "\n".join(
            [
                "# Written by `movielake kafka start`: one node, broker and KRaft controller.",
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.voters=1@{HOST}:{cport}",
                f"listeners=PLAINTEXT://{HOST}:{port},CONTROLLER://{HOST}:{cport}",
                f"advertised.listeners=PLAINTEXT://{HOST}:{port}",
                "controller.listener.names=CONTROLLER",
                "inter.broker.listener.name=PLAINTEXT",
                "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                f"log.dirs={files.data}",
                "num.partitions=1",
                "offsets.topic.replication.factor=1",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "share.coordinator.state.topic.replication.factor=1",
                "share.coordinator.state.topic.min.isr=1",
                "group.initial.rebalance.delay.ms=0",
                "auto.create.topics.enable=true",
                "",
            ]
        )
    )


def _format_storage(files: BrokerFiles, classpath: str) -> None:
    """Format the log directory once (KRaft needs a cluster id written before first start)."""
    if (files.data / "meta.properties").is_file():
        return
    java = ["java", "-Xmx256m", "-cp", classpath, "kafka.tools.StorageTool"]
    uuid = subprocess.run(java + ["random-uuid"], capture_output=True, text=True)
    cluster_id = (
        uuid.stdout.strip().splitlines()[-1] if uuid.returncode == 0 and uuid.stdout else ""
    )
    if not cluster_id:
        raise KafkaError(f"kafka StorageTool random-uuid failed: {uuid.stderr.strip()[-500:]}")
    fmt = subprocess.run(
        java + ["format", "-t", cluster_id, "-c", str(files.properties)],
        capture_output=True,
        text=True,
    )
    if fmt.returncode != 0:
        raise KafkaError(f"kafka StorageTool format failed: {(fmt.stdout + fmt.stderr)[-800:]}")


def start(
    port: int = PORT, controller_port: int = CONTROLLER_PORT, timeout: float = 120.0, log=print
) -> int:
    """Start the broker in the background; returns once it accepts connections on `port`."""
    files = broker_files()
    broker = running()
    if broker:
        log(f"kafka: already running (pid {broker['pid']}) on {HOST}:{broker['port']}")
        return 0
    for taken in (port, controller_port):
        if port_open(HOST, taken):
            log(
                f"kafka: port {taken} on {HOST} is taken by another process "
                "(choose others with --port/--controller-port)"
            )
            return 1
    try:
        classpath = _classpath()
        files.folder.mkdir(parents=True, exist_ok=True)
        _write_properties(files, port, controller_port)
        _format_storage(files, classpath)
    except KafkaError as exc:
        log(f"kafka: {exc}")
        return 1
    command = [
        "java",
        "-Xmx512m",
        "-Xms256m",
        "-XX:+UseG1GC",
        "-Djava.awt.headless=true",
        f"-Djava.io.tmpdir={files.folder}",
        "-cp",
        classpath,
        MAIN_CLASS,
        str(files.properties),
    ]
    daemon = _daemon()
    try:
        process = daemon.start(
            command, [port, controller_port], port=port, controller_port=controller_port
        )
        log(f"kafka: starting broker (pid {process.pid}), log {files.log}")
        daemon.wait_ready(process, lambda: port_open(HOST, port), timeout)
    except KafkaError as exc:
        log(f"kafka: {exc}")
        return 1
    log(f"kafka: broker up on {HOST}:{port} (bootstrap servers), data in {files.data}")
    return 0


def status(log=print) -> int:
    broker = running()
    if not broker:
        log("kafka: not running")
        return 1
    up = port_open(HOST, broker["port"])
    log(
        f"kafka: running (pid {broker['pid']}) on {HOST}:{broker['port']} "
        f"({'listening' if up else 'not answering'}), log {broker_files().log}"
    )
    return 0 if up else 1


def stop(timeout: float = 60.0, log=print) -> int:
    """Stop the broker by PID (checked to be this data home's broker first); waits until both
    of its ports are closed."""
    try:
        record = _daemon().stop(timeout)
    except KafkaError as exc:
        log(f"kafka: {exc}")
        return 1
    log(f"kafka: stopped (pid {record['pid']})" if record else "kafka: not running")
    return 0
