"""The `movielake` command."""

from __future__ import annotations

import argparse
import os
import sys

from movielake.releases import DOWNLOADABLE, RELEASES


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


def _generate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from movielake.paths import fetched_dir
    from movielake.synthetic import generate

    out = Path(args.out) if args.out else fetched_dir("synthetic")
    counts = generate(out, users=args.users, movies=args.movies,
                      mean_ratings_per_user=args.ratings_per_user, seed=args.seed,
                      twins=args.twins)
    print(f"wrote {counts} to {out}; build it with: dbt build --vars '{{dataset: synthetic}}'"
          + (f" (and raw_dir: {out})" if args.out else ""))
    return 0


def _serve(args: argparse.Namespace) -> int:
    from movielake import server

    if args.stop:
        return server.stop()
    if args.status:
        return server.status()
    return server.start(host=args.host, connect_port=args.connect_port, jdbc_port=args.jdbc_port)


def _cluster(args: argparse.Namespace) -> int:
    from movielake.cluster import run_on_cluster

    command = args.command_args[1:] if args.command_args[:1] == ["--"] else args.command_args
    return run_on_cluster(command, workers=args.workers, cores=args.cores)


def _sql(args: argparse.Namespace) -> int:
    """spark-sql on the data home with MovieLake's settings (needs the metastore to be free)."""
    import os

    from movielake.procs import spark_home
    from movielake.spark_conf import prepare_environment, session_conf

    prepare_environment()
    command = [str(spark_home() / "bin" / "spark-sql")]
    for key, value in session_conf().items():
        command += ["--conf", f"{key}={value}"]
    os.execve(command[0], command + args.sql_args,
              {**os.environ, "SPARK_HOME": str(spark_home())})
    return 1  # not reached


def _vacuum(args: argparse.Namespace) -> int:
    from movielake.vacuum import vacuum

    return vacuum(args.schema_prefix, args.hours)


def _doctor(_args: argparse.Namespace) -> int:
    from movielake.doctor import doctor

    return doctor()


def _recommend(args: argparse.Namespace) -> int:
    from movielake.personal import PersonalRatingsError, recommend_from_lake

    try:
        for rank, movie_id, title, score in recommend_from_lake(args.ratings, args.k):
            print(f"{rank:3}. {title}  (movie {movie_id}, score {score:.3f})")
    except PersonalRatingsError as exc:
        print(f"movielake recommend: {exc}", file=sys.stderr)
        return 1
    return 0


def _report(args: argparse.Namespace) -> int:
    from movielake.report import ReportError, render

    try:
        out = render(args.schema_prefix, args.out)
    except ReportError as exc:
        print(f"movielake report: {exc}", file=sys.stderr)
        return 1
    print(f"report: {out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="movielake", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    fetch = commands.add_parser("fetch", help="download a MovieLens release into the data home")
    fetch.add_argument("release", choices=DOWNLOADABLE, metavar="RELEASE",
                       help=f"one of: {', '.join(DOWNLOADABLE)}")
    fetch.add_argument("--from", dest="source", metavar="PATH",
                       help="a local zip or folder instead of the GroupLens download")
    fetch.add_argument("--md5", help="expected md5 of the zip (default: GroupLens' .md5 file)")
    fetch.add_argument("--force", action="store_true", help="replace a release already fetched")
    fetch.set_defaults(func=_fetch)

    releases = commands.add_parser("releases", help="list the releases and where their data is")
    releases.set_defaults(func=_releases)

    gen = commands.add_parser(
        "generate", help="write MovieLens-shaped synthetic data (CSV family) for tests and benchmarks"
    )
    gen.add_argument("--users", type=int, default=1000)
    gen.add_argument("--movies", type=int, default=2000)
    gen.add_argument("--ratings-per-user", type=float, default=60.0,
                     help="mean ratings per user (log-normal, at least 20)")
    gen.add_argument("--twins", type=int, default=0, help="near-duplicate user pairs to plant")
    gen.add_argument("--seed", type=int, default=42)
    gen.add_argument("--out", help="folder (default: $MOVIELAKE_HOME/raw/synthetic)")
    gen.set_defaults(func=_generate)

    serve = commands.add_parser(
        "serve", help="start the Spark server (Connect + JDBC) that owns the metastore"
    )
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to bind (default loopback; 0.0.0.0 exposes it to the network)")
    serve.add_argument("--connect-port", type=int, default=15002)
    serve.add_argument("--jdbc-port", type=int, default=10000)
    state = serve.add_mutually_exclusive_group()
    state.add_argument("--status", action="store_true", help="is it running, are endpoints up")
    state.add_argument("--stop", action="store_true", help="stop it (by PID, whole process group)")
    serve.set_defaults(func=_serve)

    cluster = commands.add_parser(
        "cluster", help="run a command (default: dbt build) on a local Spark standalone cluster"
    )
    cluster.add_argument("--workers", type=int, default=1)
    cluster.add_argument("--cores", type=int, default=1, help="cores per worker")
    cluster.add_argument("command_args", nargs=argparse.REMAINDER, metavar="-- COMMAND",
                         help="command to run with MOVIELAKE_TARGET=cluster (default: dbt build)")
    cluster.set_defaults(func=_cluster)

    sql = commands.add_parser(
        "sql", help="spark-sql on the lakehouse (e.g. movielake sql -e 'show tables in movielake_staging')"
    )
    sql.add_argument("sql_args", nargs=argparse.REMAINDER, help="arguments for spark-sql")
    sql.set_defaults(func=_sql)

    vac = commands.add_parser(
        "vacuum", help="delete old versions' files of the Delta tables (VACUUM), keeping --hours"
    )
    vac.add_argument("--schema-prefix", default=os.environ.get("MOVIELAKE_SCHEMA", "movielake"),
                     help="prefix of the schemas to vacuum (default: $MOVIELAKE_SCHEMA, else movielake)")
    vac.add_argument("--hours", type=float, default=168.0,
                     help="history to keep (default 168, Delta's default; less needs no reader of "
                          "an older version running)")
    vac.set_defaults(func=_vacuum)

    doctor = commands.add_parser(
        "doctor", help="check Java, Spark and Delta (fetches the Delta jars on first use)"
    )
    doctor.set_defaults(func=_doctor)

    report = commands.add_parser(
        "report", help="draw the HTML report (plots and tables) from the lakehouse's tables"
    )
    report.add_argument("--schema-prefix", default=os.environ.get("MOVIELAKE_SCHEMA", "movielake"),
                        help="prefix of the schemas to read, as in <prefix>_eda "
                             "(default: $MOVIELAKE_SCHEMA, else movielake)")
    report.add_argument("--out", help="HTML file to write, PNGs beside it "
                                      "(default: $MOVIELAKE_HOME/report/index.html)")
    report.set_defaults(func=_report)

    recommend = commands.add_parser(
        "recommend", help="top-K movies for your ratings, from the built recommenders (no retraining)"
    )
    recommend.add_argument("--ratings", required=True, metavar="FILE",
                           help="CSV with header movie_id,rating (0.5-5.0 in half stars)")
    recommend.add_argument("--k", type=int, default=10, help="how many movies (default 10)")
    recommend.set_defaults(func=_recommend)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["sql"] and argv[1:2] not in (["-h"], ["--help"]):
        # everything after `sql` is spark-sql's: argparse would take `-e` as an option of ours
        return _sql(argparse.Namespace(sql_args=argv[1:]))
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
