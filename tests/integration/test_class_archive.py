"""The driver JVM's class archive: `make setup` (`movielake doctor`) writes it, every session
maps it, and a JVM that cannot use one starts as before, without a word on the build's output."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from movielake.spark import class_archive


def test_the_session_jvm_maps_the_archive_setup_wrote(spark):
    archive = class_archive.archive_path()
    assert archive.is_file(), "movielake doctor (make setup) writes it"
    pid = spark.sparkContext._jvm.ProcessHandle.current().pid()
    assert str(archive) in Path(f"/proc/{pid}/maps").read_text()


def test_a_jvm_that_cannot_use_the_archive_starts_without_a_word():
    # a JVM on another classpath (here none of Spark's jars) cannot use it: HotSpot warns
    # about that on stdout unless told not to, and a build's output is no place for it
    options = class_archive.use_options().split()
    assert options, "movielake doctor (make setup) writes the archive"
    run = subprocess.run(
        [shutil.which("java"), *options, "-version"], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    assert "version" in run.stderr
    assert "warning" not in (run.stdout + run.stderr).lower()
