"""`movielake fetch`: local zips and folders, downloads from a loopback server, and each way a
fetch can fail (bad checksum, unreachable network, corrupt or foreign archive)."""

from __future__ import annotations

import hashlib
import http.server
import socket
import threading
import zipfile
from pathlib import Path

import pytest
from movielens_samples import write_csv_release, write_dat_release

from movielake.cli import main
from movielake.data.paths import MissingDataError, release_files


@pytest.fixture()
def home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("MOVIELAKE_HOME", str(home))
    return home


def make_zip(folder: Path, archive: Path, top: str) -> Path:
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for file in sorted(folder.iterdir()):
            zf.write(file, f"{top}/{file.name}")
    return archive


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def leftovers(home: Path) -> list[Path]:
    """Anything a fetch left in its scratch space."""
    tmp = home / "tmp"
    return list(tmp.iterdir()) if tmp.exists() else []


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_fetch_from_local_zip_with_md5_sidecar(home, tmp_path, capsys):
    archive = make_zip(
        write_csv_release(tmp_path / "src"), tmp_path / "ml-latest-small.zip", "ml-latest-small"
    )
    Path(f"{archive}.md5").write_text(f"MD5 (ml-latest-small.zip) = {md5(archive)}\n")
    assert main(["fetch", "ml-latest-small", "--from", str(archive)]) == 0
    landed = home / "raw" / "ml-latest-small"
    assert sorted(p.name for p in landed.iterdir()) == [
        "links.csv",
        "movies.csv",
        "ratings.csv",
        "tags.csv",
    ]
    assert (landed / "ratings.csv").read_bytes() == (tmp_path / "src" / "ratings.csv").read_bytes()
    assert "md5" in capsys.readouterr().out
    assert leftovers(home) == []
    # a second fetch is a no-op; --force replaces the release
    assert main(["fetch", "ml-latest-small", "--from", str(archive)]) == 0
    assert "already" in capsys.readouterr().out
    assert main(["fetch", "ml-latest-small", "--from", str(archive), "--force"]) == 0
    assert (landed / "movies.csv").is_file()


def test_fetch_from_folder_with_other_top_level_name(home, tmp_path):
    # ml-10m's zip unpacks to ml-10M100K/: the release is found by its files, not its folder name
    source = write_dat_release(tmp_path / "ml-1m")
    assert main(["fetch", "ml-1m", "--from", str(source)]) == 0
    assert (home / "raw" / "ml-1m" / "ratings.dat").is_file()


def test_bad_checksum_lands_nothing(home, tmp_path, capsys):
    archive = make_zip(write_csv_release(tmp_path / "src"), tmp_path / "a.zip", "ml-latest-small")
    assert main(["fetch", "ml-latest-small", "--from", str(archive), "--md5", "0" * 32]) == 1
    assert "md5 checksum mismatch" in one_error_line(capsys)
    assert not (home / "raw" / "ml-latest-small").exists()
    assert leftovers(home) == []


def test_corrupt_archive(home, tmp_path, capsys):
    archive = make_zip(write_csv_release(tmp_path / "src"), tmp_path / "a.zip", "ml-latest-small")
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    assert main(["fetch", "ml-latest-small", "--from", str(truncated)]) == 1
    assert "not a valid zip archive" in one_error_line(capsys)

    # flip bytes inside a member's compressed data: the zip opens but its CRC check fails
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo("ml-latest-small/ratings.csv")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    for i in range(start + 5, start + 15):
        data[i] ^= 0xFF
    damaged = tmp_path / "damaged.zip"
    damaged.write_bytes(bytes(data))
    assert main(["fetch", "ml-latest-small", "--from", str(damaged)]) == 1
    assert "is corrupt" in one_error_line(capsys)
    assert not (home / "raw" / "ml-latest-small").exists()
    assert leftovers(home) == []


def test_archive_that_is_not_the_release(home, tmp_path, capsys):
    folder = write_csv_release(tmp_path / "src")
    (folder / "movies.csv").unlink()
    archive = make_zip(folder, tmp_path / "a.zip", "ml-latest-small")
    assert main(["fetch", "ml-latest-small", "--from", str(archive)]) == 1
    assert "is not a MovieLens ml-latest-small release: movies.csv missing" in one_error_line(
        capsys
    )
    # a CSV-family zip offered as ml-1m has no ratings.dat
    archive = make_zip(write_csv_release(tmp_path / "src2"), tmp_path / "b.zip", "ml-1m")
    assert main(["fetch", "ml-1m", "--from", str(archive)]) == 1
    assert "no ratings.dat in it" in one_error_line(capsys)
    assert not (home / "raw").exists() or list((home / "raw").iterdir()) == []


def test_genome_is_required_by_ml20m_and_optional_for_ml32m(home, tmp_path, capsys):
    folder = write_csv_release(tmp_path / "src")
    (folder / "genome-tags.csv").write_text("tagId,tag\n1,dark comedy\n")
    archive = make_zip(folder, tmp_path / "ml-20m.zip", "ml-20m")
    assert main(["fetch", "ml-20m", "--from", str(archive)]) == 1
    assert "is not a MovieLens ml-20m release: genome-scores.csv missing" in one_error_line(capsys)
    assert main(["fetch", "ml-32m", "--from", str(archive)]) == 0
    files = release_files("ml-32m")  # the fetched copy: one genome file of two
    assert files["genome_tags"] == str(home / "raw" / "ml-32m" / "genome-tags.csv")
    assert files["genome_scores"] is None and files["links"].endswith("links.csv")
    with pytest.raises(MissingDataError, match="required file .*genome-scores.csv is missing"):
        release_files("ml-20m", str(home / "raw" / "ml-32m"))


class _Files(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep test output quiet
        pass


@pytest.fixture()
def server(tmp_path):
    """A static file server on loopback standing in for GroupLens."""
    root = tmp_path / "www"
    root.mkdir()
    handler = lambda *a, **k: _Files(*a, directory=str(root), **k)  # noqa: E731
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_download_checks_published_md5(home, tmp_path, server, monkeypatch, capsys):
    root, url = server
    monkeypatch.setenv("MOVIELAKE_DOWNLOAD_URL", url)
    archive = make_zip(write_dat_release(tmp_path / "src"), root / "ml-1m.zip", "ml-1m")
    (root / "ml-1m.zip.md5").write_text(f"MD5 (ml-1m.zip) = {md5(archive)}\n")
    assert main(["fetch", "ml-1m"]) == 0
    assert (home / "raw" / "ml-1m" / "movies.dat").read_bytes() == (
        tmp_path / "src" / "movies.dat"
    ).read_bytes()

    (root / "ml-100k.zip").write_bytes(archive.read_bytes())
    (root / "ml-100k.zip.md5").write_text("MD5 (ml-100k.zip) = " + "f" * 32 + "\n")
    assert main(["fetch", "ml-100k"]) == 1
    assert "md5 checksum mismatch" in one_error_line(capsys)
    assert main(["fetch", "ml-10m"]) == 1  # not on the server
    assert "HTTP 404" in one_error_line(capsys)
    assert not (home / "raw" / "ml-100k").exists()
    assert leftovers(home) == []


def test_unreachable_network(home, monkeypatch, capsys):
    with socket.socket() as sock:  # a loopback port with nobody listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("MOVIELAKE_DOWNLOAD_URL", f"http://127.0.0.1:{port}")
    assert main(["fetch", "ml-25m"]) == 1
    err = one_error_line(capsys)
    assert err.startswith("movielake fetch ml-25m: cannot reach") and "network unreachable" in err
    assert leftovers(home) == []


def test_unknown_release_is_rejected(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["fetch", "ml-7m"])
    assert exit_info.value.code == 2


KILL_BETWEEN_RENAMES = r"""
import os, signal, sys
from pathlib import Path
from movielake.cli import main
from movielake.data.paths import MissingDataError, release_files
from movielake.data.paths import fetched_dir

real_rename = Path.rename
def rename(self, target):
    result = real_rename(self, target)
    if self == fetched_dir("ml-1m"):  # the old release just moved out: die before the new one
        os.kill(os.getpid(), signal.SIGKILL)
    return result
Path.rename = rename
sys.exit(main(["fetch", "ml-1m", "--from", sys.argv[1], "--force"]))
"""


def test_fetch_force_killed_mid_swap_never_loses_the_old_release(home, tmp_path):
    import os
    import subprocess
    import sys

    from movielake.data.paths import release_dir

    assert main(["fetch", "ml-1m", "--from", str(write_dat_release(tmp_path / "old"))]) == 0
    old = (home / "raw" / "ml-1m" / "ratings.dat").read_bytes()
    new = write_dat_release(tmp_path / "new")
    (new / "ratings.dat").write_text("9::9::1::978300760\n")
    killed = subprocess.run(
        [sys.executable, "-c", KILL_BETWEEN_RENAMES, str(new)],
        env={**os.environ, "MOVIELAKE_HOME": str(home)},
    )
    assert killed.returncode == -9
    assert not (home / "raw" / "ml-1m").exists()  # killed right between the two renames
    # the next use of the release finds the old copy back in place, intact
    assert release_dir("ml-1m") == home / "raw" / "ml-1m"
    assert (home / "raw" / "ml-1m" / "ratings.dat").read_bytes() == old
    assert not (home / "raw" / ".ml-1m.previous").exists()
    # and a fetch run to the end replaces it, leaving nothing parked
    assert main(["fetch", "ml-1m", "--from", str(new), "--force"]) == 0
    assert (home / "raw" / "ml-1m" / "ratings.dat").read_text() == "9::9::1::978300760\n"
    assert not (home / "raw" / ".ml-1m.previous").exists()
