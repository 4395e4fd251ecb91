"""The `movielake` command."""

from __future__ import annotations

import argparse
import sys

from movielake.releases import RELEASES


def _fetch(args: argparse.Namespace) -> int:
    from movielake.fetch import FetchError, fetch

    try:
        fetch(args.release, source=args.source, md5=args.md5, force=args.force)
    except FetchError as exc:
        print(f"movielake fetch {args.release}: {exc}", file=sys.stderr)
        return 1
    return 0


def _releases(_args: argparse.Namespace) -> int:
    from movielake.paths import bundled_dir, fetched_dir

    for name, release in RELEASES.items():
        where = next((str(d) for d in (fetched_dir(name), bundled_dir(name)) if d.is_dir()), "-")
        files = ", ".join(lay.file for lay in release.layouts.values())
        print(f"{name:16} {release.family:5} {files:45} {where}")
    return 0


def _doctor(_args: argparse.Namespace) -> int:
    from movielake.doctor import doctor

    return doctor()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="movielake", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    fetch = commands.add_parser("fetch", help="download a MovieLens release into the data home")
    fetch.add_argument("release", choices=sorted(RELEASES), metavar="RELEASE",
                       help=f"one of: {', '.join(RELEASES)}")
    fetch.add_argument("--from", dest="source", metavar="PATH",
                       help="a local zip or folder instead of the GroupLens download")
    fetch.add_argument("--md5", help="expected md5 of the zip (default: GroupLens' .md5 file)")
    fetch.add_argument("--force", action="store_true", help="replace a release already fetched")
    fetch.set_defaults(func=_fetch)

    releases = commands.add_parser("releases", help="list the releases and where their data is")
    releases.set_defaults(func=_releases)

    doctor = commands.add_parser(
        "doctor", help="check Java, Spark and Delta (fetches the Delta jars on first use)"
    )
    doctor.set_defaults(func=_doctor)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
