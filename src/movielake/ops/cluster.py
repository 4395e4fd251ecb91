"""`movielake cluster`: a real Spark standalone cluster (one master, N workers) on loopback from
the installed pyspark, a command run against it (by default the full `dbt build` with the
`cluster` target), and the cluster stopped again by PID, whatever the command's outcome."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from movielake.data.paths import data_home
from movielake.ops.procs import alive, port_open, spark_home
from movielake.spark.session import machine

HOST = "127.0.0.1"


def _spawn(args: list[str], log_file: Path, env: dict[str, str]) -> subprocess.Popen:
    # a fresh log per run: the readiness checks read it, and must see only this run's lines
    with log_file.open("wb") as out:
        return subprocess.Popen(
            [str(spark_home() / "bin" / "spark-class"), *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )


def _wait_for(predicate, timeout: float, what: str, processes) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        dead = [p for p in processes if p.poll() is not None]
        if dead:
            raise RuntimeError(f"{what}: a cluster process exited with code {dead[0].returncode}")
        time.sleep(1.0)
    raise RuntimeError(f"{what}: not up after {timeout:.0f}s")


def _stop(processes: list[subprocess.Popen]) -> None:
    for process in reversed(processes):  # workers first, then the master
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@contextmanager
def standalone_cluster(
    workers: int = 1, cores: int = 1, memory: str = "2g", master_port: int = 7077, log=print
):
    """Yield the master URL of a running cluster; stop every process on exit."""
    folder = data_home() / "cluster"
    shutil.rmtree(folder / "work", ignore_errors=True)
    (folder / "work").mkdir(parents=True, exist_ok=True)
    if port_open(HOST, master_port):
        raise RuntimeError(f"port {master_port} on {HOST} is taken; is another master running?")
    env = {
        **os.environ,
        "SPARK_HOME": str(spark_home()),
        "SPARK_LOCAL_IP": HOST,
        "PYSPARK_PYTHON": sys.executable,
        "SPARK_WORKER_DIR": str(folder / "work"),
        "SPARK_NO_DAEMONIZE": "1",
    }
    url = f"spark://{HOST}:{master_port}"
    processes: list[subprocess.Popen] = []
    try:
        processes.append(
            _spawn(
                [
                    "org.apache.spark.deploy.master.Master",
                    "--host",
                    HOST,
                    "--port",
                    str(master_port),
                    "--webui-port",
                    "8090",
                ],
                folder / "master.log",
                env,
            )
        )
        _wait_for(lambda: port_open(HOST, master_port), 120, "master", processes)
        for index in range(workers):
            processes.append(
                _spawn(
                    [
                        "org.apache.spark.deploy.worker.Worker",
                        url,
                        "--host",
                        HOST,
                        "--cores",
                        str(cores),
                        "--memory",
                        memory,
                        "--webui-port",
                        str(8091 + index),
                    ],
                    folder / f"worker-{index}.log",
                    env,
                )
            )

        def registered() -> bool:
            master_log = (folder / "master.log").read_text(errors="replace")
            return master_log.count("Registering worker") >= workers

        _wait_for(registered, 120, "workers", processes)
        log(
            f"cluster up: {url}, {workers} worker(s) x {cores} core(s), {memory} each; pids "
            f"{' '.join(str(p.pid) for p in processes)}; logs in {folder}"
        )
        yield url
    finally:
        _stop(processes)
        left = [p.pid for p in processes if alive(p.pid)]
        log("cluster stopped" + (f" (still alive: {left})" if left else ""))


def worker_memory(workers: int) -> str:
    """Each worker's memory: MOVIELAKE_WORKER_MEMORY, else a quarter of this machine's memory
    shared by the workers (the driver keeps its own half), 2 to 8 GiB each. With 1 GiB, Spark's
    default executor, item_item's tasks (B, catalogue^2 floats, travels with each) died of
    OutOfMemoryError on ml-latest-small."""
    if os.environ.get("MOVIELAKE_WORKER_MEMORY"):
        return os.environ["MOVIELAKE_WORKER_MEMORY"]
    gib = machine()[1] // 4 // max(1, workers) // 2**30
    return f"{max(2, min(8, gib))}g"


def run_on_cluster(command: list[str], workers: int = 1, cores: int = 1, log=print) -> int:
    """Run `command` (default: dbt build) with the `cluster` target against a fresh cluster,
    whose executors take all of their worker's memory (MOVIELAKE_EXECUTOR_MEMORY)."""
    command = command or ["dbt", "build"]
    if command[0] == "dbt":
        command[0] = str(Path(sys.executable).with_name("dbt"))
    memory = worker_memory(workers)
    with standalone_cluster(workers=workers, cores=cores, memory=memory, log=log) as url:
        env = {
            **os.environ,
            "MOVIELAKE_TARGET": "cluster",
            "SPARK_MASTER_URL": url,
            "MOVIELAKE_EXECUTOR_MEMORY": os.environ.get("MOVIELAKE_EXECUTOR_MEMORY", memory),
        }
        started = time.perf_counter()
        code = subprocess.run(command, env=env).returncode
        log(f"`{' '.join(command)}` on {url}: exit {code} in {time.perf_counter() - started:.0f}s")
    return code
