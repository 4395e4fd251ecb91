"""`movielake produce`: ratings as messages on the `ratings` topic, keyed by user.

Two inputs: a ratings file (every data line sent as it is, malformed ones included, so that the
stream's quarantine sees them), or a release's ratings replayed in timestamp order at a chosen
rate. Messages are CSV lines in the release's ratings format (`userId,movieId,rating,timestamp`
for the CSV family) or JSON objects with those four keys.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path

from movielake.data.releases import get_release
from movielake.errors import MovieLakeError

TOPIC = "ratings"
FIELDS = ("userId", "movieId", "rating", "timestamp")
SEPARATORS = {"csv": ",", "tab": "\t", "::": "::", "|": "|"}


class ProduceError(MovieLakeError):
    """Nothing could be produced; the message says why."""


def _split(line: str, separator: str) -> list[str]:
    if separator == "csv":
        return next(csv.reader(io.StringIO(line)), [""])
    return line.split(SEPARATORS[separator])


def file_lines(path: str | Path, dataset: str = "ml-latest-small") -> Iterator[list[str] | str]:
    """The data lines of a ratings file in `dataset`'s layout (its header line skipped)."""
    layout = get_release(dataset).layouts["ratings"]
    release = get_release(dataset)
    path = Path(path)
    if not path.is_file():
        raise ProduceError(f"{path}: no such file")
    with path.open(encoding=release.encoding, newline="") as handle:
        for number, line in enumerate(handle, start=1):
            line = line.rstrip("\r\n")
            if number == 1 and layout.header and line == layout.header:
                continue
            yield line


def release_lines(dataset: str, raw_dir: str | None = None) -> list[str]:
    """A release's valid-looking ratings lines, oldest first (ties: file order). Lines whose
    timestamp is not a number are left out here: replay is for valid history."""
    from movielake.data.paths import release_files

    layout = get_release(dataset).layouts["ratings"]
    keyed = []
    for order, line in enumerate(file_lines(release_files(dataset, raw_dir)["ratings"], dataset)):
        fields = _split(line, layout.separator)
        if len(fields) == layout.fields and fields[3].strip().isdigit():
            keyed.append((int(fields[3]), order, line))
    keyed.sort()
    return [line for _, _, line in keyed]


def message(line: str, separator: str, fmt: str) -> tuple[bytes, bytes]:
    """(key, value) of a ratings line: the key is the user id field as written."""
    fields = _split(line, separator)
    key = fields[0].strip().encode()
    if fmt == "json":
        value = (
            json.dumps(dict(zip(FIELDS, fields))).encode()
            if len(fields) == len(FIELDS)
            else line.encode()
        )  # not four fields: sent as it is, the stream rejects it
    else:
        value = line.encode()
    return key, value


def produce(
    lines,
    bootstrap: str,
    topic: str = TOPIC,
    dataset: str = "ml-latest-small",
    fmt: str = "csv",
    rate: float = 0.0,
    log=print,
) -> int:
    """Send every line (at `rate` messages/s; 0: as fast as possible); returns the count."""
    from kafka import KafkaProducer

    separator = get_release(dataset).layouts["ratings"].separator
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, retries=5)
    sent = 0
    started = time.monotonic()
    try:
        for line in lines:
            key, value = message(line, separator, fmt)
            producer.send(topic, key=key, value=value)
            sent += 1
            if rate > 0:
                ahead = started + sent / rate - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
        producer.flush()
    finally:
        producer.close()
    elapsed = time.monotonic() - started
    log(f"produce: {sent} messages to {topic} on {bootstrap} in {elapsed:.1f}s")
    return sent


def write_landing(
    lines, folder: Path, dataset: str = "ml-latest-small", name: str | None = None
) -> Path:
    """Drop `lines` as one ratings file into the landing folder (written aside, then renamed in
    one step, so the stream never reads half a file)."""
    layout = get_release(dataset).layouts["ratings"]
    folder.mkdir(parents=True, exist_ok=True)
    name = name or f"ratings-{time.time_ns()}.csv"
    staging = folder / f".{name}.tmp"
    body = "\n".join(lines) + "\n"
    staging.write_text(
        (layout.header + "\n" if layout.header else "") + body,
        encoding=get_release(dataset).encoding,
    )
    target = folder / name
    staging.rename(target)
    return target
