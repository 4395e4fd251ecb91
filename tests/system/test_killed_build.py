"""A build killed with SIGKILL in the middle of writing a table loses nothing: the table reads at
its previous complete version (Delta commits a rewrite in one log entry, so the files the killed
writer left are never part of it), every other table of the data home reads, no stale lock stops
the next run, and the rerun writes the same rows as an uninterrupted build."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import PROJECT
from movielake.serving.lake import Lake

SCHEMA = "killed"
TABLE = "stg_movielens__ratings"


def dbt_command(home: Path, release: Path, *args: str) -> tuple[list[str], dict]:
    env = {
        **os.environ,
        "MOVIELAKE_HOME": str(home),
        "MOVIELAKE_SCHEMA": SCHEMA,
        "MOVIELAKE_TARGET": "local",
        "DBT_PROFILES_DIR": str(PROJECT / "profiles"),
    }
    command = [
        str(Path(sys.executable).with_name("dbt")),
        *args,
        "--project-dir",
        str(PROJECT),
        "--target-path",
        str(home / "target"),
        "--log-path",
        str(home / "logs"),
        "--vars",
        json.dumps({"dataset": "synthetic", "raw_dir": str(release)}),
    ]
    return command, env


def dbt_run(home: Path, release: Path, *args: str) -> subprocess.CompletedProcess:
    command, env = dbt_command(home, release, *args)
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)


def table_files(path: Path) -> set[str]:
    return {p.name for p in path.glob("*.parquet")}


def snapshot(lake: Lake, model: str):
    frame = lake.read(model).sort_values(["user_id", "movie_id"]).reset_index(drop=True)
    return lake.version(model).version, frame


def test_a_build_killed_mid_write_loses_nothing(tmp_path, synthetic_release):
    release = synthetic_release
    home = tmp_path / "home"
    first = dbt_run(home, release, "run", "--select", f"+{TABLE}")
    assert first.returncode == 0, first.stdout[-3000:]
    lake = Lake(SCHEMA, home)
    table = lake.ref(TABLE).path.path  # a local data home: its folder
    version, before = snapshot(lake, TABLE)
    assert len(before) > 1000
    others = {
        m: lake.version(m).version for m in ("base_movielens__ratings", "base_movielens__movies")
    }

    # rewrite the table and kill dbt (and its Spark JVM) once the new data files are on disk
    # but before Delta commits them
    old_files = table_files(table)
    command, env = dbt_command(home, release, "run", "--select", TABLE)
    killed = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.time() + 600
    try:
        while (
            not (table_files(table) - old_files)
            and killed.poll() is None
            and time.time() < deadline
        ):
            time.sleep(0.005)
    finally:
        os.killpg(killed.pid, signal.SIGKILL)
        killed.wait()
    orphans = table_files(table) - old_files
    assert orphans, "dbt finished or never wrote before it could be killed"
    assert lake.version(TABLE).version == version, "the kill came after the commit"

    # the interrupted table reads at its previous version, the killed writer's files unused
    assert snapshot(lake, TABLE)[1].equals(before)
    assert {m: lake.version(m).version for m in others} == others
    for model in others:
        assert len(lake.read(model)) > 0

    # no stale lock (data home, metastore): the next run goes through and writes the same rows
    rerun = dbt_run(home, release, "run", "--select", TABLE)
    assert rerun.returncode == 0, rerun.stdout[-3000:]
    new_version, after = snapshot(lake, TABLE)
    assert new_version > version
    assert after.equals(before)
