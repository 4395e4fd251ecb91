"""Streaming benchmark: sustained ingest rate and end-to-end latency from produce to updated
recommendations, with a real broker, `movielake stream` and a producer running. A script that
prints figures, not a test.

    make bench-stream                     # or: python benchmarks/bench_stream.py
    python benchmarks/bench_stream.py --vars '{dataset: synthetic}' --messages 20000 --rate 500

Needs a built lakehouse (staging and the recommenders) in $MOVIELAKE_HOME. It starts the broker
when none runs (and stops it after), a stream on a fresh topic and checkpoint, then:
  1. latency: the release's ratings replayed in timestamp order at --rate messages/s; each
     message's latency is the time from its send to the end of the micro-batch that stored it
     and wrote the new user factors and recommendations of its user to Delta (the stream's
     progress line names the batch's offsets);
  2. sustained ingest: --messages ratings sent as fast as possible; the rate is the messages
     over the time from the first send to the end of the batch that stored the last one.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid

import yaml

BATCH = re.compile(
    r"stream: batch (\d+): (\d+) ratings, (\d+) quarantined, (\d+) users "
    r"re-folded in ([\d.]+)s, offsets (\d+)-(\d+)"
)
STEPS = re.compile(r"\[([^\]]*)\]\s*$")
STEP = re.compile(r"([a-z][a-z -]*?) ([\d.]+)")


class StreamWatcher:
    """Runs `movielake stream` and stamps every finished batch (offset range) on arrival."""

    def __init__(self, command: list[str]) -> None:
        self.batches: list[tuple[float, int, int, int]] = []  # (done at, first, last, users)
        self.lines: list[str] = []
        self.steps: list[dict[str, float]] = []  # seconds per step of each batch
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            now = time.monotonic()
            self.lines.append(line.rstrip())
            match = BATCH.search(line)
            if match:
                self.batches.append((now, int(match[6]), int(match[7]), int(match[4])))
                steps = STEPS.search(line)
                self.steps.append(
                    dict((name.strip(), float(seconds)) for name, seconds in STEP.findall(steps[1]))
                    if steps
                    else {}
                )

    def done_at(self, offset: int) -> float | None:
        for when, first, last, _users in self.batches:
            if first <= offset <= last:
                return when
        return None

    def wait_for(self, offset: int, timeout: float) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            when = self.done_at(offset)
            if when is not None:
                return when
            if self.process.poll() is not None:
                raise RuntimeError("the stream exited:\n" + "\n".join(self.lines[-30:]))
            time.sleep(0.05)
        raise RuntimeError(
            f"offset {offset} not stored after {timeout}s:\n" + "\n".join(self.lines[-30:])
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(120)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def send(producer, topic: str, lines: list[str], separator: str, rate: float) -> list[tuple]:
    """Send lines at `rate`/s (0: flat out); (send time, offset) of each message."""
    from movielake.streaming.produce import message

    futures = []
    started = time.monotonic()
    for n, line in enumerate(lines):
        key, value = message(line, separator, "csv")
        futures.append((time.monotonic(), producer.send(topic, key=key, value=value)))
        if rate > 0:
            ahead = started + (n + 1) / rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
    producer.flush()
    return [(sent, future.get(timeout=60).offset) for sent, future in futures]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vars", default="{}", help="dbt vars of the build (YAML), e.g. dataset")
    parser.add_argument(
        "--rate",
        type=float,
        default=200.0,
        help="replay rate of the latency phase, messages/s (default 200)",
    )
    parser.add_argument(
        "--seconds", type=float, default=60.0, help="length of the latency phase (default 60 s)"
    )
    parser.add_argument(
        "--messages",
        type=int,
        default=20000,
        help="messages of the sustained phase (default 20000)",
    )
    parser.add_argument("--trigger-seconds", type=float, default=0.5)
    args = parser.parse_args(argv)

    from kafka import KafkaProducer

    from movielake.data.releases import get_release
    from movielake.ops import kafka
    from movielake.streaming.produce import release_lines

    dbt_vars = yaml.safe_load(args.vars) or {}
    dataset = dbt_vars.get("dataset", "ml-latest-small")
    separator = get_release(dataset).layouts["ratings"].separator
    history = release_lines(dataset, dbt_vars.get("raw_dir") or None)
    needed = int(args.rate * args.seconds) + args.messages
    lines = (history * (needed // len(history) + 1))[:needed]

    started_broker = kafka.running() is None
    if started_broker and kafka.start() != 0:
        return 1
    topic = f"bench-{uuid.uuid4().hex[:8]}"
    load = os.getloadavg()
    watcher = StreamWatcher(
        [
            sys.executable,
            "-m",
            "movielake.cli",
            "stream",
            "--source",
            "kafka",
            "--topic",
            topic,
            "--vars",
            json.dumps(dbt_vars),
            "--trigger-seconds",
            str(args.trigger_seconds),
        ]
    )
    producer = KafkaProducer(bootstrap_servers=kafka.bootstrap_servers(), acks="all", linger_ms=5)
    try:
        # warm-up: the stream's JVM, the rules and the item factors are loaded
        warm = send(producer, topic, lines[:1], separator, 0)
        watcher.wait_for(warm[-1][1], timeout=900)

        phase = lines[: int(args.rate * args.seconds)]
        sent = send(producer, topic, phase, separator, args.rate)
        watcher.wait_for(sent[-1][1], timeout=600)
        latencies = [watcher.done_at(offset) - at for at, offset in sent]
        phase_batches = [
            (b, steps) for b, steps in zip(watcher.batches, watcher.steps) if b[2] >= sent[0][1]
        ]

        bulk = send(producer, topic, lines[len(phase) :], separator, 0)
        done = watcher.wait_for(bulk[-1][1], timeout=1800)
        rate = len(bulk) / (done - bulk[0][0])
        send_rate = len(bulk) / (bulk[-1][0] - bulk[0][0])
        stored = [b for b in watcher.batches if b[1] >= bulk[0][1]]
    finally:
        producer.close()
        watcher.stop()
        if started_broker:
            kafka.stop()

    load_after = os.getloadavg()
    print(
        f"== Streaming benchmark on {dataset} (machine load {load[0]:.1f} before, "
        f"{load_after[0]:.1f} after; {os.cpu_count()} cores) =="
    )
    print(
        f"latency phase: {len(sent)} ratings replayed at {args.rate:g}/s, trigger "
        f"{args.trigger_seconds:g}s"
    )
    folded = sum(b[3] for b in watcher.batches)
    target = (
        "new user factors and recommendations in Delta"
        if folded
        else "stored in bronze (no served recommender in this data home: no fold-in)"
    )
    print(
        f"  produce -> {target}: "
        f"p50 {percentile(latencies, 50):.2f}s, p95 {percentile(latencies, 95):.2f}s, "
        f"max {max(latencies):.2f}s"
    )
    sizes = [b[2] - b[1] + 1 for b, _ in phase_batches]
    print(
        f"  {len(sizes)} batches of {min(sizes)}-{max(sizes)} messages; mean seconds per step "
        "of a batch: "
        + ", ".join(
            f"{name} {sum(s.get(name, 0) for _, s in phase_batches) / len(sizes):.2f}"
            for name in dict.fromkeys(n for _, s in phase_batches for n in s)
        )
    )
    print(
        f"sustained phase: {len(bulk)} ratings sent flat out ({send_rate:.0f}/s from the "
        f"producer), stored in {len(stored)} batches"
    )
    print(
        f"  ingest rate (bronze + quarantine{' + fold-in of every batch' if folded else ''}): "
        f"{rate:.0f} ratings/s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
