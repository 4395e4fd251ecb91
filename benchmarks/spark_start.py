"""What the driver JVM's class archive saves: one small `dbt run` on a built data home, again
and again, alternating with and without the archive (movielake.spark.class_archive).

Each run is a whole dbt command as a user types it: dbt's parse, the Spark driver's start, the
models' SQL. The archive is renamed aside for the runs without it and always put back.

    python benchmarks/spark_start.py --home <built data home> [--rounds 3] [--select MODEL ...]
    (a release other than the default: --vars '{dataset: synthetic, raw_dir: ...}')

A script that prints figures, not a test: run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from movielake.spark import class_archive

PROJECT = Path(__file__).resolve().parents[1]


def one_run(home: Path, select: list[str], dbt_vars: str) -> float:
    command = [str(Path(sys.executable).with_name("dbt")), "run", "--select", *select]
    command += ["--project-dir", str(PROJECT), "--target-path", str(home / "target")]
    command += ["--log-path", str(home / "logs")] + (["--vars", dbt_vars] if dbt_vars else [])
    env = {**os.environ, "MOVIELAKE_HOME": str(home), "DBT_PROFILES_DIR": str(PROJECT / "profiles")}
    started = time.perf_counter()
    run = subprocess.run(command, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if run.returncode:
        sys.exit(f"dbt failed:\n{run.stdout[-3000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--select", nargs="+", default=["base_movielens__links"])
    parser.add_argument("--vars", default="")
    args = parser.parse_args()
    archive = class_archive.archive_path()
    if not archive.is_file():
        sys.exit(f"no class archive at {archive}: run `movielake doctor` first")
    aside = archive.with_name(archive.name + ".aside")
    times: dict[str, list[float]] = {"with archive": [], "without": []}
    for round_ in range(args.rounds):
        for mode in times:
            if mode == "without":
                archive.rename(aside)
            try:
                seconds = one_run(args.home.resolve(), args.select, args.vars)
            finally:
                if aside.exists():
                    aside.rename(archive)
            times[mode].append(seconds)
            print(f"round {round_ + 1} {mode:>12}: {seconds:6.1f} s", flush=True)
    with_, without = (statistics.mean(v) for v in times.values())
    print(f"mean with the archive {with_:.1f} s, without {without:.1f} s: {without - with_:+.1f} s")


if __name__ == "__main__":
    main()
