"""Streaming ingest end to end, on the shared synthetic build: a real Kafka broker (KRaft) started
by `movielake kafka`, ratings produced to it (malformed ones among them), `movielake stream`
(Spark Structured Streaming) killed with SIGKILL mid-way and restarted; then exactly the valid
ratings are in the bronze table once each, every bad message is quarantined with the staging
reason and its offset, and a user with new ratings has new recommendations."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import PROJECT, SYNTHETIC_SCHEMA, SYNTHETIC_VARS, rows

STREAM_TIMEOUT = 600


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def broker(lake_home):
    from movielake.ops import kafka

    assert kafka.start(port=_free_port(), controller_port=_free_port()) == 0
    try:
        yield kafka.bootstrap_servers()
    finally:
        broker = kafka.running()
        assert kafka.stop() == 0
        if broker:  # nothing left: no process, no listener
            assert not Path(f"/proc/{broker['pid']}").exists()
            assert not any(_listening(broker[p]) for p in ("port", "controller_port"))


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _stream_command(synthetic_release: Path, *extra: str) -> list[str]:
    dbt_vars = {"dataset": "synthetic", "raw_dir": str(synthetic_release), **SYNTHETIC_VARS}
    return [
        sys.executable,
        "-m",
        "movielake.cli",
        "stream",
        "--vars",
        json.dumps(dbt_vars),
        "--trigger-seconds",
        "0.5",
        *extra,
    ]


def _env() -> dict:
    return {**os.environ, "MOVIELAKE_SCHEMA": SYNTHETIC_SCHEMA, "PYTHONUNBUFFERED": "1"}


def _run_until(command, log: Path, until=None, timeout=STREAM_TIMEOUT) -> int | None:
    """Run the stream; with `until` (a test of its output), SIGKILL its whole process group
    (Python and the Spark JVM) as soon as the output passes it."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=_env(),
            cwd=PROJECT,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                return process.returncode
            if until and until(log.read_text(errors="replace")):
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                return None
            time.sleep(0.2)
        raise AssertionError(
            f"stream did not finish in {timeout}s; log:\n{log.read_text()[-3000:]}"
        )
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


# Malformed messages and the staging reason each must be quarantined with.
BAD = [
    ("1,1,7.0,964982224", "rating 7.0 outside 0.5-5.0"),
    ("1,2,3.7,964982224", "rating 3.7 is not a multiple of 0.5"),
    ("1,3,abc,964982224", "rating 'abc' is not a number"),
    ("u3,1,4.0,964982224", "userId 'u3' is not a positive integer"),
    ("3,99999,4.0,964982224", "movieId 99999 is not in the movies file"),
    ("3,1,4.0,yesterday", "timestamp 'yesterday' is not epoch seconds"),
    ("3,1,4.0", "expected 4 fields, found 3"),
    ("", "empty line"),
    ("userId,movieId,rating,timestamp", "userId 'userId' is not a positive integer"),
]


def _new_ratings(spark, count: int, user: int, built: list[int]) -> list[tuple]:
    """`count` new (user, movie, rating, epoch) for movies the users have not rated; `user`
    gives 5 stars to the movies of their built top-K, so that these must leave their list."""
    S = f"{SYNTHETIC_SCHEMA}_staging"
    rated = {
        (r["user_id"], r["movie_id"])
        for r in rows(spark, f"select user_id, movie_id from {S}.stg_movielens__ratings")
    }
    users = sorted({u for u, _ in rated})
    movies = sorted(
        r["movie_id"] for r in rows(spark, f"select movie_id from {S}.stg_movielens__movies")
    )
    new = [(user, m, 5.0, 1_700_000_000 + i) for i, m in enumerate(built)]
    # every 37th (user, movie) pair not rated yet: spread over users and movies
    pairs = [(u, m) for u in users for m in movies if u != user and (u, m) not in rated]
    for i, (u, m) in enumerate(pairs[::37][: count - len(new)]):
        new.append((u, m, float(1 + i % 9) / 2, 1_700_000_100 + i))
    assert len(new) == count
    return new


def test_kafka_stream_is_exactly_once_across_a_crash(
    spark, synthetic_build, synthetic_release, broker, lake_home, tmp_path, capsys, monkeypatch
):
    from movielake.data.paths import table_path
    from movielake.streaming.produce import produce

    R = f"{SYNTHETIC_SCHEMA}_recommenders"
    user = rows(spark, f"select min(user_id) as u from {R}.recommendations")[0]["u"]
    built = [
        r["movie_id"]
        for r in rows(
            spark, f"select movie_id from {R}.recommendations where user_id = {user} order by rank"
        )
    ]
    new = _new_ratings(spark, 300, user, built)

    # offsets: the topic has one partition, so the n-th message sent has offset n
    csv_part = [f"{u},{m},{r},{t}" for u, m, r, t in new[:200]] + [line for line, _ in BAD]
    json_part = [f"{u},{m},{r},{t}" for u, m, r, t in new[200:]] + ["{not json"]
    assert produce(csv_part, broker, dataset="synthetic", fmt="csv") == len(csv_part)
    assert produce(json_part, broker, dataset="synthetic", fmt="json") == len(json_part)
    expected_bad = {200 + i: reason for i, (_, reason) in enumerate(BAD)}
    expected_bad[len(csv_part) + 100] = "expected 4 fields, found 1"
    expected_valid = {(i if i < 200 else i + len(BAD)): rating for i, rating in enumerate(new)}

    log = tmp_path / "stream.log"
    # first run: batches of 100, killed (SIGKILL, no clean-up) once two batches are in
    killed = _run_until(
        _stream_command(synthetic_release, "--source", "kafka", "--max-per-batch", "100"),
        log,
        until=lambda text: "stream: batch 1:" in text,
    )
    assert killed is None, log.read_text()[-3000:]
    first_run = log.read_text()
    # second run: resumes from the checkpoint, processes what is left and exits
    assert (
        _run_until(
            _stream_command(
                synthetic_release, "--source", "kafka", "--available-now", "--max-per-batch", "100"
            ),
            log,
        )
        == 0
    ), log.read_text()[-3000:]

    bronze = rows(
        spark,
        f"select *, unix_timestamp(rated_at) as epoch "
        f"from delta.`{table_path('bronze_ratings')}` where source like 'kafka:%'",
    )
    assert len(bronze) == len(expected_valid), "a rating lost or written twice"
    assert {
        r["offset"]: (r["user_id"], r["movie_id"], r["rating"], r["epoch"]) for r in bronze
    } == expected_valid
    quarantine = rows(
        spark, f"select * from delta.`{table_path('quarantine')}` where source like 'kafka:%'"
    )
    assert len(quarantine) == len(expected_bad)
    assert {r["offset"]: r["reject_reason"] for r in quarantine} == expected_bad
    assert all(r["source"] == "kafka:ratings/0" for r in quarantine + bronze)

    # the crash happened after some batches were committed, and the rerun did not repeat them
    assert "stream: batch 1:" in first_run
    batches = rows(
        spark,
        f"select batch_id, count(*) as n from "
        f"delta.`{table_path('bronze_ratings')}` where source like 'kafka:%' "
        "group by batch_id",
    )
    assert len(batches) >= 3

    # recommendations followed the user's new ratings (fold-in), and the CLI shows them
    monkeypatch.setenv("MOVIELAKE_SCHEMA", SYNTHETIC_SCHEMA)
    from movielake.cli import main

    capsys.readouterr()
    assert main(["recommend", "--user", str(user)]) == 0
    shown = [
        int(line.split("(movie ")[1].split(",")[0]) for line in capsys.readouterr().out.splitlines()
    ]
    # the movies the user just rated were their built top-K: none of them is recommended now
    assert len(shown) == 10 and not set(shown) & set(built)
    factors_path = table_path("user_factors")  # written only when a batch has factors
    factors = (
        rows(spark, f"select * from delta.`{factors_path}` where user_id = {user}")
        if (factors_path / "_delta_log").is_dir()
        else []
    )
    served = rows(
        spark,
        f"select model from {SYNTHETIC_SCHEMA}_recommenders.served_models where job = 'top_k'",
    )[0]["model"]
    if served == "item_item":  # a user is their ratings times B: no factor to store
        assert factors == []
        assert rows(
            spark, f"select * from delta.`{table_path('recommendations')}` where user_id = {user}"
        )
    else:  # an ALS variant: the fold-in's user factor is stored
        assert factors and all(len(f["features"]) > 0 for f in factors)


def test_landing_folder_files_are_ingested_with_line_numbers(
    spark, synthetic_build, synthetic_release, tmp_path
):
    """No broker needed: CSV files dropped into the landing folder, each line parsed like a
    release file's (header on line 1 skipped, bad lines quarantined with their line number)."""
    from movielake.data.paths import landing_dir, table_path
    from movielake.streaming.produce import write_landing

    first = write_landing(
        ["5,10,4.0,1700000000", "5,11,9.0,1700000001", "6,12,3.0,1700000002"],
        landing_dir(),
        dataset="synthetic",
        name="a.csv",
    )
    second = write_landing(
        ["6,13,2.5,1700000003", "", "6,14,2.0,1700000004"],
        landing_dir(),
        dataset="synthetic",
        name="b.csv",
    )
    log = tmp_path / "landing.log"
    assert (
        _run_until(
            _stream_command(synthetic_release, "--source", "landing", "--available-now"), log
        )
        == 0
    ), log.read_text()[-3000:]
    bronze = rows(
        spark,
        f"select source, line_number, user_id, movie_id, rating from "
        f"delta.`{table_path('bronze_ratings')}` where source like 'file:%'",
    )
    assert sorted(
        (Path(r["source"][5:]).name, r["line_number"], r["user_id"], r["movie_id"], r["rating"])
        for r in bronze
    ) == [
        ("a.csv", 2, 5, 10, 4.0),
        ("a.csv", 4, 6, 12, 3.0),
        ("b.csv", 2, 6, 13, 2.5),
        ("b.csv", 4, 6, 14, 2.0),
    ]
    bad = rows(
        spark,
        f"select source, line_number, offset, reject_reason from "
        f"delta.`{table_path('quarantine')}` where source like 'file:%'",
    )
    assert sorted(
        (Path(r["source"][5:]).name, r["line_number"], r["offset"], r["reject_reason"]) for r in bad
    ) == [("a.csv", 3, None, "rating 9.0 outside 0.5-5.0"), ("b.csv", 3, None, "empty line")]
    assert first.name == "a.csv" and second.name == "b.csv"


def test_streamed_ratings_join_the_splits_incrementally(
    spark, dbt, synthetic_build, synthetic_release
):
    """After the streams above: `dbt run` merges only the streamed ratings into rating_splits
    (no release row moves, a re-rated pair keeps its split and the latest rating wins), and a
    full refresh gives the same table."""
    from movielake.data.paths import table_path

    R = f"{SYNTHETIC_SCHEMA}_recommenders"
    dbt_vars = {"dataset": "synthetic", "raw_dir": str(synthetic_release), **SYNTHETIC_VARS}
    splits_sql = (
        f"select user_id, movie_id, rating, unix_timestamp(rated_at) as t, split, "
        f"streamed_version from {R}.rating_splits"
    )
    before = {(r["user_id"], r["movie_id"]): r for r in rows(spark, splits_sql)}
    assert before and all(r["streamed_version"] is None for r in before.values())
    streamed = rows(
        spark,
        f"select user_id, movie_id, rating, unix_timestamp(rated_at) as t, "
        f"_metadata.row_commit_version as version, _metadata.row_id as row_id "
        f"from delta.`{table_path('bronze_ratings')}`",
    )
    assert len(streamed) > 300
    # a re-rating of a release pair, later than the release's own rating of it
    (u, m), old = min(before.items())
    rerated = {**old, "rating": 0.5 if old["rating"] != 0.5 else 1.0, "t": old["t"] + 60}
    spark.createDataFrame(
        [(u, m, rerated["rating"], rerated["t"])], "u int, m int, r double, t long"
    ).selectExpr(
        "u as user_id",
        "m as movie_id",
        "r as rating",
        "cast(t as timestamp) as rated_at",
        "'test:rerating' as source",
        "cast(null as bigint) as offset",
        "cast(null as bigint) as line_number",
        "cast(-1 as bigint) as batch_id",
        "current_timestamp() as ingested_at",
    ).write.format("delta").mode("append").save(str(table_path("bronze_ratings")))

    run = dbt(
        "run",
        "--select",
        "stg_stream__ratings",
        "rating_splits",
        schema=SYNTHETIC_SCHEMA,
        vars=dbt_vars,
    )
    assert run.success
    incremental = {(r["user_id"], r["movie_id"]): r for r in rows(spark, splits_sql)}
    by_pair: dict = {}
    for r in sorted(streamed, key=lambda r: (r["t"], r["version"], r["row_id"])):
        by_pair[(r["user_id"], r["movie_id"])] = r  # the latest wins
    by_pair[(u, m)] = rerated
    assert set(incremental) == set(before) | set(by_pair)
    for pair, row in incremental.items():
        if pair in before:  # no earlier row moves
            assert row["split"] == before[pair]["split"], pair
        if pair not in by_pair:
            assert row == before[pair]
            continue
        new = by_pair[pair]
        latest = new if pair not in before or new["t"] >= before[pair]["t"] else before[pair]
        assert (row["rating"], row["t"]) == (latest["rating"], latest["t"]), pair
        assert row["streamed_version"] is not None
    assert incremental[(u, m)]["rating"] == rerated["rating"]
    # a new pair's split follows from its seeded hash alone
    new_pairs = [p for p in by_pair if p not in before]
    draws = {
        (r["user_id"], r["movie_id"]): r["draw"]
        for r in rows(
            spark,
            (
                "select user_id, movie_id, "
                "pmod(xxhash64(42, user_id, movie_id), 1000000) / 1000000.0 "
                f"as draw from {R}.rating_splits where streamed_version is not null"
            ),
        )
    }
    for pair in new_pairs:
        d = float(draws[pair])
        assert incremental[pair]["split"] == (
            "test" if d < 0.1 else "validation" if d < 0.2 else "train"
        ), pair

    # nothing new: a second run changes nothing; a full refresh computes the same table
    assert dbt(
        "run",
        "--select",
        "stg_stream__ratings",
        "rating_splits",
        schema=SYNTHETIC_SCHEMA,
        vars=dbt_vars,
    ).success
    assert {(r["user_id"], r["movie_id"]): r for r in rows(spark, splits_sql)} == incremental
    full = dbt(
        "run",
        "--full-refresh",
        "--select",
        "stg_stream__ratings",
        "rating_splits",
        schema=SYNTHETIC_SCHEMA,
        vars=dbt_vars,
    )
    assert full.success
    assert {(r["user_id"], r["movie_id"]): r for r in rows(spark, splits_sql)} == incremental
