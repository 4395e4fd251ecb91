"""Fetch a MovieLens release into the data home: download (or take a local zip or folder), check
its md5, check it is the release it claims to be, and only then move it into place."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from pathlib import Path

from movielake.data.paths import data_home, fetched_dir, finish_interrupted_fetch, previous_dir
from movielake.data.releases import Release, get_release
from movielake.errors import MovieLakeError

DEFAULT_BASE_URL = "https://files.grouplens.org/datasets/movielens"
TIMEOUT_SECONDS = 30
_MD5 = re.compile(r"\b([0-9a-fA-F]{32})\b")


class FetchError(MovieLakeError):
    """A fetch that failed; its message is the one line shown to the user."""


def base_url() -> str:
    return os.environ.get("MOVIELAKE_DOWNLOAD_URL", DEFAULT_BASE_URL).rstrip("/")


def md5_of(path: Path) -> str:
    digest = hashlib.md5()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def parse_md5(text: str, source: str) -> str:
    """GroupLens publishes "MD5 (ml-1m.zip) = <hex>"; md5sum writes "<hex>  file"."""
    match = _MD5.search(text)
    if not match:
        raise FetchError(f"{source} holds no md5 checksum")
    return match.group(1).lower()


def _download(url: str, target: Path, log) -> None:
    try:
        with (
            urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response,
            target.open("wb") as out,
        ):
            total = int(response.headers.get("Content-Length") or 0)
            done, reported = 0, 0
            for block in iter(lambda: response.read(1 << 20), b""):
                out.write(block)
                done += len(block)
                if total and done * 10 // total > reported:
                    reported = done * 10 // total
                    log(f"  {done / 1e6:.1f} of {total / 1e6:.1f} MB")
    except urllib.error.HTTPError as exc:
        raise FetchError(f"download of {url} failed: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise FetchError(f"cannot reach {url}: {reason} (network unreachable?)") from None


def _fetch_text(url: str) -> str:
    target = Path(tempfile.mkstemp(dir=_tmp_dir(), suffix=".md5")[1])
    try:
        _download(url, target, lambda _msg: None)
        return target.read_text(errors="replace")
    finally:
        target.unlink(missing_ok=True)


def _tmp_dir() -> Path:
    folder = data_home() / "tmp"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _release_root(tree: Path, release: Release, origin: str) -> Path:
    """The folder in `tree` that holds the release's files; error when it is not that release."""
    first = release.layouts["ratings"].file
    candidates = sorted(p.parent for p in tree.rglob(first))
    if not candidates:
        raise FetchError(f"{origin} is not a MovieLens {release.name} release: no {first} in it")
    root = candidates[0]
    missing = [
        lay.file for lay in release.required_layouts().values() if not (root / lay.file).is_file()
    ]
    if missing:
        raise FetchError(
            f"{origin} is not a MovieLens {release.name} release: {', '.join(missing)} missing"
        )
    return root


def _unpack(archive: Path, into: Path, origin: str) -> None:
    try:
        with zipfile.ZipFile(archive) as zf:
            for member in zf.namelist():
                resolved = (into / member).resolve()
                if not resolved.is_relative_to(into.resolve()):
                    raise FetchError(f"{origin}: unsafe path {member!r} in the archive")
            bad = zf.testzip()
            if bad is not None:
                raise FetchError(f"{origin} is corrupt: CRC error in {bad}")
            zf.extractall(into)
    except zipfile.BadZipFile as exc:
        raise FetchError(f"{origin} is not a valid zip archive ({exc})") from None
    except (EOFError, zlib.error, zipfile.LargeZipFile, NotImplementedError) as exc:
        raise FetchError(f"{origin} is corrupt and cannot be unpacked ({exc})") from None


def fetch(
    name: str,
    source: str | None = None,
    md5: str | None = None,
    force: bool = False,
    log=print,
) -> Path:
    """Land release `name` in <data home>/raw/<name>/ and return that folder.

    source: a local zip or folder instead of the GroupLens download. md5: the expected checksum
    of the zip (for a local zip, a `<zip>.md5` file beside it is used when present)."""
    release = get_release(name)
    target = fetched_dir(name)
    finish_interrupted_fetch(name)
    if target.is_dir() and not force:
        log(f"{name} is already in {target} (use --force to fetch it again)")
        return target

    work = Path(tempfile.mkdtemp(prefix=f"fetch-{name}-", dir=_tmp_dir()))
    try:
        if source and Path(source).is_dir():
            origin = str(Path(source).resolve())
            staged = work / "tree"
            shutil.copytree(source, staged)
        else:
            if source:
                archive = Path(source)
                origin = str(archive)
                if not archive.is_file():
                    raise FetchError(f"{origin}: no such file or folder")
                sidecar = Path(f"{archive}.md5")
                if md5 is None and sidecar.is_file():
                    md5 = parse_md5(sidecar.read_text(errors="replace"), str(sidecar))
            else:
                url = f"{base_url()}/{name}.zip"
                origin = url
                if md5 is None:
                    md5 = parse_md5(_fetch_text(f"{url}.md5"), f"{url}.md5")
                archive = work / f"{name}.zip"
                log(f"downloading {url}")
                _download(url, archive, log)
            if md5 is not None:
                actual = md5_of(archive)
                if actual != md5.lower():
                    raise FetchError(
                        f"{origin}: md5 checksum mismatch (expected {md5.lower()}, got {actual})"
                    )
                log(f"md5 {actual} ok")
            else:
                log(f"{origin}: no md5 checksum given, archive integrity checked by zip CRC only")
            staged = work / "tree"
            staged.mkdir()
            _unpack(archive, staged, origin)

        root = _release_root(staged, release, origin)
        # Swap in the complete folder only now, so a failure never leaves a partial release.
        # The old copy waits beside it (not in the scratch folder) until the new one is in: a
        # run killed between the two renames leaves it where the next run puts it back.
        target.parent.mkdir(parents=True, exist_ok=True)
        previous = previous_dir(name)
        if target.exists():
            target.rename(previous)
        root.rename(target)
        shutil.rmtree(previous, ignore_errors=True)
        log(f"{name} ready in {target}")
        return target
    finally:
        shutil.rmtree(work, ignore_errors=True)
