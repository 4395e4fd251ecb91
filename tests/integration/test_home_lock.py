"""One dbt run per data home: a second run fails at once and names the process that holds it;
the lock dies with its process (even by SIGKILL), so it never goes stale."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import PROJECT
from movielake.ops import home_lock


def dbt_subprocess(home: Path, *args: str, target: str = "local") -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "MOVIELAKE_HOME": str(home),
        "MOVIELAKE_TARGET": target,
        "DBT_PROFILES_DIR": str(PROJECT / "profiles"),
    }
    return subprocess.run(
        [
            str(Path(sys.executable).with_name("dbt")),
            *args,
            "--project-dir",
            str(PROJECT),
            "--target-path",
            str(home / "target"),
            "--log-path",
            str(home / "logs"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_second_run_on_a_busy_data_home_fails_at_once_naming_the_holder(lake_home):
    home_lock.acquire(lake_home)  # this process runs dbt in-process on lake_home
    for target in ("local", "connect"):
        run = dbt_subprocess(lake_home, "run", "--select", "base_movielens__links", target=target)
        assert run.returncode != 0
        assert f"data home {lake_home.resolve()} is in use by pid {os.getpid()} (" in run.stdout, (
            run.stdout[-3000:]
        )
        assert "Derby" not in run.stdout and "XSDB6" not in run.stdout


def test_the_lock_dies_with_its_process(tmp_path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from movielake.ops import home_lock; "
            "from pathlib import Path; home_lock.acquire(Path(sys.argv[1])); "
            "print('held', flush=True); "
            "time.sleep(600)",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        busy = home_lock.holder(tmp_path)
        assert busy and busy.startswith(f"pid {holder.pid} (")
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    deadline = time.time() + 10
    while home_lock.holder(tmp_path) and time.time() < deadline:
        time.sleep(0.1)
    assert home_lock.holder(tmp_path) is None  # the lock file is still there, its lock is not
    assert (tmp_path / "dbt.lock").exists()
