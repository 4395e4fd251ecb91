"""What the scale benchmarks share: where results go, the machine's load, and running a
command while sampling the peak memory of its process tree."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
RESULTS = PROJECT / "benchmarks" / "results"


def tree_memory(pid: int) -> int:
    """Proportional set size (PSS) of a process and all its descendants, in bytes (from /proc):
    a page shared by n processes counts 1/n in each, so the sum counts it once. Summing the
    resident sets (RSS) would count PySpark's forked Python workers' shared pages once per
    worker. VmRSS where smaps_rollup is missing."""
    children: dict[int, list[int]] = {}
    size: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            try:
                lines, key = (entry / "smaps_rollup").read_text().splitlines(), "Pss:"
            except OSError:
                lines, key = (entry / "status").read_text().splitlines(), "VmRSS:"
        except OSError:
            continue
        children.setdefault(int(stat[1]), []).append(int(entry.name))
        for line in lines:
            if line.startswith(key):
                size[int(entry.name)] = int(line.split()[1]) * 1024
                break
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        total += size.get(current, 0)
        todo.extend(children.get(current, []))
    return total


def run_measured(command: list[str], env: dict, log: Path) -> tuple[int, float, int]:
    """(exit code, wall seconds, peak memory of the process tree: tree_memory's PSS)."""
    peak = 0
    started = time.perf_counter()
    with log.open("w") as out:
        process = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=PROJECT
        )
        done = threading.Event()

        def sample():
            nonlocal peak
            while not done.wait(0.5):
                peak = max(peak, tree_memory(process.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        code = process.wait()
        done.set()
        sampler.join()
    return code, time.perf_counter() - started, peak


def load() -> str:
    return Path("/proc/loadavg").read_text().split(" ", 3)[:3].__str__()
