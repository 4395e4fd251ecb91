"""The `movielake` command."""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys

from movielake.data.releases import DOWNLOADABLE, RELEASES
from movielake.data.synthetic import PRESETS
from movielake.errors import MovieLakeError


def _fetch(args: argparse.Namespace) -> int:
    from movielake.data.fetch import fetch
    from movielake.data.paths import fetched_dir

    fetch(args.release, source=args.source, md5=args.md5, force=args.force)
    if args.out:
        _upload(fetched_dir(args.release), args.out)
    return 0


def _store_uri(out: str | None) -> str | None:
    """`out` when it names a folder on a store (s3a://, hdfs://), else None."""
    from movielake.data.storage import Location

    return out if out and Location(out).remote else None


def _upload(folder, uri: str) -> None:
    """Copy a release folder to a store, through a Spark session's Hadoop client."""
    from movielake.spark import files
    from movielake.spark.session import spark_session

    written = files.upload(spark_session(), folder, uri)
    print(f"copied {len(written)} files to {uri}; build it with raw_dir: {uri}")


def _releases(_args: argparse.Namespace) -> int:
    from movielake.data.paths import bundled_dir, fetched_dir

    # [file]: an optional file, staged when present
    files = {
        name: ", ".join(
            f"[{lay.file}]" if entity in release.optional else lay.file
            for entity, lay in release.layouts.items()
        )
        for name, release in RELEASES.items()
    }
    width = max(map(len, files.values()))
    for name, release in RELEASES.items():
        where = next((str(d) for d in (fetched_dir(name), bundled_dir(name)) if d.is_dir()), "-")
        print(f"{name:16} {release.family:5} {files[name]:{width}} {where}")
    return 0


def _generate(args: argparse.Namespace) -> int:
    import json
    import shutil
    import time
    from pathlib import Path

    from movielake.data.paths import data_home, fetched_dir
    from movielake.data.synthetic import PRESETS, generate, generate_release, scaled

    store = _store_uri(args.out)  # written here first, then copied to the store
    if args.preset is None and args.ratings is None:
        out = (
            data_home() / "tmp" / "generate-synthetic"
            if store
            else Path(args.out)
            if args.out
            else fetched_dir("synthetic")
        )
        counts = generate(
            out,
            users=args.users,
            movies=args.movies,
            mean_ratings_per_user=args.ratings_per_user,
            seed=args.seed,
            twins=args.twins,
        )
        print(
            f"wrote {counts} to {out}; build it with: dbt build --vars '{{dataset: synthetic}}'"
            + (f" (and raw_dir: {out})" if args.out and not store else "")
        )
        if store:
            _upload(out, store)
            shutil.rmtree(out, ignore_errors=True)
        return 0
    preset = PRESETS[args.preset or "ml-20m"]
    if args.ratings is not None:
        preset = scaled(preset, args.ratings)
    out = (
        data_home() / "tmp" / f"generate-{preset.release}"
        if store
        else Path(args.out)
        if args.out
        else fetched_dir(preset.release)
    )
    if (
        out.is_dir()
        and any(out.iterdir())
        and not (out / "generated.json").is_file()
        and not args.force
    ):
        raise MovieLakeError(
            f"{out} holds files not made by `movielake generate` (a fetched "
            "release?); pass --force to overwrite them, or --out elsewhere"
        )
    if (out / "generated.json").is_file():  # a previous generated release: replace it whole
        for stale in out.iterdir():
            if stale.is_file():
                stale.unlink()
    started = time.perf_counter()
    try:
        manifest = generate_release(
            out,
            preset,
            seed=args.seed,
            twins=args.twins,
            log=(lambda line: print(line, flush=True)),
        )
    except ValueError as exc:  # a preset that cannot be drawn
        raise MovieLakeError(str(exc)) from None
    print(
        f"wrote {json.dumps(manifest['counts'])} to {out} in "
        f"{time.perf_counter() - started:.0f}s; noise floor RMSE "
        f"{manifest['noise_floor_rmse']:.4f} (generated.json)"
    )
    raw = f", raw_dir: {store or out}" if args.out else ""
    if store:
        _upload(out, store)
        shutil.rmtree(out, ignore_errors=True)
    print(f"build it with: dbt build --vars '{{dataset: {preset.release}{raw}}}'")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from movielake.ops import server

    if args.stop:
        return server.stop()
    if args.status:
        return server.status()
    return server.start(host=args.host, connect_port=args.connect_port, jdbc_port=args.jdbc_port)


def _cluster(args: argparse.Namespace) -> int:
    from movielake.ops.cluster import run_on_cluster

    command = args.command_args[1:] if args.command_args[:1] == ["--"] else args.command_args
    return run_on_cluster(command, workers=args.workers, cores=args.cores)


def _sql(args: argparse.Namespace) -> int:
    """spark-sql on the data home with MovieLake's settings (needs the metastore to be free)."""
    import os

    from movielake.ops.procs import spark_home
    from movielake.ops.warehouse import check_warehouse
    from movielake.spark.session import prepare_environment, session_conf

    try:
        check_warehouse()
    except MovieLakeError as exc:
        print(f"movielake sql: {exc}", file=sys.stderr)
        return 1
    prepare_environment()
    command = [str(spark_home() / "bin" / "spark-sql")]
    for key, value in session_conf().items():
        command += ["--conf", f"{key}={value}"]
    os.execve(command[0], command + args.sql_args, {**os.environ, "SPARK_HOME": str(spark_home())})
    return 1  # not reached


def _vacuum(args: argparse.Namespace) -> int:
    from movielake.ops.vacuum import vacuum

    return vacuum(args.schema_prefix, args.hours)


def _doctor(_args: argparse.Namespace) -> int:
    from movielake.ops.doctor import doctor

    return doctor()


def _recommend(args: argparse.Namespace) -> int:
    from movielake.serving.personal import recommend_for_user, recommend_from_lake

    if (args.ratings is None) == (args.user is None):
        print("movielake recommend: give either --ratings FILE or --user ID", file=sys.stderr)
        return 2
    top = (
        recommend_for_user(args.user, args.k)
        if args.user is not None
        else recommend_from_lake(args.ratings, args.k)
    )
    for rank, movie_id, title, score, is_new, reason in top:
        # a new movie's score is the hybrid's, on another scale than the served model's
        notes = (["new: not rated in the training data, matched by content"] if is_new else []) + (
            [reason] if reason else []
        )
        print(
            f"{rank:3}. {title}  (movie {movie_id}, score {score:.3f})"
            + ("  " + "; ".join(notes) if notes else "")
        )
    return 0


def _report(args: argparse.Namespace) -> int:
    from movielake.serving.report import render

    out = render(args.schema_prefix, args.out)
    print(f"report: {out}")
    return 0


def _produce(args: argparse.Namespace) -> int:
    from movielake.streaming.produce import (
        ProduceError,
        file_lines,
        produce,
        release_lines,
        write_landing,
    )

    dbt_vars = json.loads(args.vars) if args.vars else {}
    dataset = dbt_vars.get("dataset", "ml-latest-small")
    if args.file:
        lines = file_lines(args.file, dataset)
    else:
        lines = release_lines(args.release or dataset, dbt_vars.get("raw_dir") or None)
    if args.limit:
        lines = itertools.islice(lines, args.limit)
    if args.landing:
        from movielake.data.paths import landing_dir

        print(f"produce: wrote {write_landing(list(lines), landing_dir(), dataset)}")
        return 0
    from movielake.ops.kafka import KafkaError, bootstrap_servers

    try:
        bootstrap = args.bootstrap or bootstrap_servers()
    except KafkaError as exc:
        raise ProduceError(f"{exc}, or use --bootstrap or --landing") from None
    produce(lines, bootstrap, topic=args.topic, dataset=dataset, fmt=args.format, rate=args.rate)
    return 0


def _stream(args: argparse.Namespace) -> int:
    from movielake.streaming.stream import run

    return run(
        source=args.source,
        topic=args.topic,
        bootstrap=args.bootstrap,
        dbt_vars=json.loads(args.vars) if args.vars else {},
        trigger_seconds=args.trigger_seconds,
        available_now=args.available_now,
        max_per_batch=args.max_per_batch,
        k=args.k,
    )


def _kafka(args: argparse.Namespace) -> int:
    from movielake.ops import kafka

    if args.action == "start":
        return kafka.start(port=args.port, controller_port=args.controller_port)
    if args.action == "status":
        return kafka.status()
    if args.action == "fetch":
        print(f"kafka: {len(kafka.fetch_jars())} jars in {kafka.jars_dir()}")
        return 0
    return kafka.stop()


def _objectstore(args: argparse.Namespace) -> int:
    from movielake.ops import objectstore

    if args.action == "build":
        print(f"objectstore: {objectstore.ensure_binary()}")
        return 0
    if args.action == "stop":
        objectstore.stop()
        return 0
    info = objectstore.start(port=args.port) if args.action == "start" else objectstore.status()
    if not info:
        print("objectstore: not running")
        return 1
    objectstore.print_env(info)  # the keys go to the user's terminal only, never to a log
    return 0


def _hdfs(args: argparse.Namespace) -> int:
    from movielake.ops import hdfs

    if args.action == "fetch":
        print(f"hdfs: {len(hdfs.fetch_jars())} jars in {hdfs.jars_dir()}")
        return 0
    if args.action == "stop":
        hdfs.stop()
        return 0
    info = hdfs.start(port=args.port) if args.action == "start" else hdfs.status()
    if not info:
        print("hdfs: not running")
        return 1
    hdfs.print_env(info)
    return 0


def _metastore(args: argparse.Namespace) -> int:
    from movielake.ops import metastore

    if args.action == "fetch":
        for name, path in metastore.fetch().items():
            print(f"metastore: {name} in {path}")
        return 0
    if args.action == "stop":
        metastore.stop()
        return 0
    if args.action == "start":
        metastore.start(port=args.port)  # prints the address and the variables to export
        return 0
    info = metastore.status()
    if not info:
        print("metastore: not running")
        return 1
    for line in metastore.describe(info):
        print(line)
    return 0 if info["postgres_pid"] else 1


def _app(args: argparse.Namespace) -> int:
    """Streamlit on movielake/app.py, loopback only; replaces this process (stop it by PID)."""
    from pathlib import Path

    import movielake

    if args.schema_prefix:
        os.environ["MOVIELAKE_SCHEMA"] = args.schema_prefix
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(Path(movielake.__file__).parent / "serving" / "app.py"),
        "--server.address",
        "127.0.0.1",
        "--server.port",
        str(args.port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
        "--client.toolbarMode",
        "viewer",
    ]
    print(f"MovieLake app on http://127.0.0.1:{args.port}/ (Ctrl-C stops it)", flush=True)
    os.execv(sys.executable, command)
    return 1  # not reached


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="movielake", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    fetch = commands.add_parser("fetch", help="download a MovieLens release into the data home")
    fetch.add_argument(
        "release",
        choices=DOWNLOADABLE,
        metavar="RELEASE",
        help=f"one of: {', '.join(DOWNLOADABLE)}",
    )
    fetch.add_argument(
        "--from",
        dest="source",
        metavar="PATH",
        help="a local zip or folder instead of the GroupLens download",
    )
    fetch.add_argument("--md5", help="expected md5 of the zip (default: GroupLens' .md5 file)")
    fetch.add_argument("--force", action="store_true", help="replace a release already fetched")
    fetch.add_argument(
        "--out",
        metavar="URI",
        help="also copy the release to a store folder (s3a://..., hdfs://...)",
    )
    fetch.set_defaults(func=_fetch)

    releases = commands.add_parser("releases", help="list the releases and where their data is")
    releases.set_defaults(func=_releases)

    gen = commands.add_parser(
        "generate",
        help="write a MovieLens-shaped synthetic release (a preset's files and "
        "counts, or the small CSV release of the tests)",
    )
    gen.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        metavar="NAME",
        help=f"a release's shape: {', '.join(PRESETS)}; written in its own files "
        "(default folder: $MOVIELAKE_HOME/raw/NAME)",
    )
    gen.add_argument(
        "--ratings", type=int, help="scale the preset (default ml-20m) to this many ratings"
    )
    gen.add_argument(
        "--force",
        action="store_true",
        help="overwrite a folder that holds files not made by generate",
    )
    gen.add_argument("--users", type=int, default=1000, help="without --preset: users")
    gen.add_argument("--movies", type=int, default=2000, help="without --preset: movies")
    gen.add_argument(
        "--ratings-per-user",
        type=float,
        default=60.0,
        help="without --preset: mean ratings per user (log-normal, at least 20)",
    )
    gen.add_argument("--twins", type=int, default=0, help="near-duplicate user pairs to plant")
    gen.add_argument("--seed", type=int, default=42)
    gen.add_argument(
        "--out",
        help="folder, or a store folder (s3a://..., hdfs://...); default: "
        "$MOVIELAKE_HOME/raw/<release>",
    )
    gen.set_defaults(func=_generate)

    serve = commands.add_parser(
        "serve", help="start the Spark server (Connect + JDBC) that owns the metastore"
    )
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default loopback; 0.0.0.0 exposes it to the network)",
    )
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
    cluster.add_argument(
        "command_args",
        nargs=argparse.REMAINDER,
        metavar="-- COMMAND",
        help="command to run with MOVIELAKE_TARGET=cluster (default: dbt build)",
    )
    cluster.set_defaults(func=_cluster)

    sql = commands.add_parser(
        "sql",
        help="spark-sql on the lakehouse (e.g. movielake sql -e 'show tables in movielake_eda')",
    )
    sql.add_argument("sql_args", nargs=argparse.REMAINDER, help="arguments for spark-sql")
    sql.set_defaults(func=_sql)

    vac = commands.add_parser(
        "vacuum", help="delete old versions' files of the Delta tables (VACUUM), keeping --hours"
    )
    vac.add_argument(
        "--schema-prefix",
        default=os.environ.get("MOVIELAKE_SCHEMA", "movielake"),
        help="prefix of the schemas to vacuum (default: $MOVIELAKE_SCHEMA, else movielake)",
    )
    vac.add_argument(
        "--hours",
        type=float,
        default=168.0,
        help="history to keep (default 168, Delta's default; less needs no reader of "
        "an older version running)",
    )
    vac.set_defaults(func=_vacuum)

    doctor = commands.add_parser(
        "doctor", help="check Java, Spark and Delta (fetches the Delta jars on first use)"
    )
    doctor.set_defaults(func=_doctor)

    report = commands.add_parser(
        "report", help="draw the HTML report (plots and tables) from the lakehouse's tables"
    )
    report.add_argument(
        "--schema-prefix",
        help="prefix of the schemas to read, as in <prefix>_eda "
        "(default: $MOVIELAKE_SCHEMA, else movielake)",
    )
    report.add_argument(
        "--out",
        help="HTML file to write, PNGs beside it (default: $MOVIELAKE_HOME/report/index.html)",
    )
    report.set_defaults(func=_report)

    kafka = commands.add_parser(
        "kafka", help="a single-node Apache Kafka broker (KRaft) on loopback, data in the data home"
    )
    kafka.add_argument(
        "action",
        choices=["start", "status", "stop", "fetch"],
        help="fetch: only resolve the broker's jars from Maven Central",
    )
    kafka.add_argument("--port", type=int, default=9092, help="broker port (default 9092)")
    kafka.add_argument(
        "--controller-port", type=int, default=9093, help="KRaft controller port (default 9093)"
    )
    kafka.set_defaults(func=_kafka)

    store = commands.add_parser(
        "objectstore",
        help="an S3-compatible object store (versitygw) on loopback, data in the data home",
    )
    store.add_argument(
        "action",
        choices=["start", "status", "stop", "build"],
        help="build: only build the server (once, with Go)",
    )
    store.add_argument("--port", type=int, help="port on 127.0.0.1 (default 9000)")
    store.set_defaults(func=_objectstore)

    hdfs = commands.add_parser(
        "hdfs", help="a single-node HDFS (NameNode + DataNode) on loopback, data in the data home"
    )
    hdfs.add_argument(
        "action",
        choices=["start", "status", "stop", "fetch"],
        help="fetch: only resolve Hadoop's jars from Maven Central",
    )
    hdfs.add_argument("--port", type=int, help="NameNode RPC port on 127.0.0.1 (default 8020)")
    hdfs.set_defaults(func=_hdfs)

    meta = commands.add_parser(
        "metastore",
        help="a shared Hive Metastore (with its PostgreSQL) on loopback, so that "
        "several Spark applications use one catalog",
    )
    meta.add_argument(
        "action",
        choices=["start", "status", "stop", "fetch"],
        help="fetch: only download the metastore and Spark's Hive client jars",
    )
    meta.add_argument(
        "--port",
        type=int,
        help="Thrift port on 127.0.0.1 (default 9083 when free, else a free one)",
    )
    meta.set_defaults(func=_metastore)

    prod = commands.add_parser(
        "produce",
        help="send ratings to the Kafka `ratings` topic (keyed by user), or to the "
        "stream's landing folder",
    )
    what = prod.add_mutually_exclusive_group()
    what.add_argument(
        "--file",
        help="a ratings file in the release's format: every data line "
        "is sent as it is (malformed ones too)",
    )
    what.add_argument(
        "--release",
        help="replay this release's ratings in timestamp order "
        "(default: the dataset var's release)",
    )
    prod.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="messages per second (default 0: as fast as possible)",
    )
    prod.add_argument("--limit", type=int, help="send only the first N")
    prod.add_argument(
        "--format",
        choices=["csv", "json"],
        default="csv",
        help="message value: the ratings line, or a JSON object with its fields",
    )
    prod.add_argument("--topic", default="ratings")
    prod.add_argument("--bootstrap", help="host:port (default: the broker `movielake kafka` runs)")
    prod.add_argument(
        "--landing",
        action="store_true",
        help="write one file into the landing folder instead of Kafka",
    )
    prod.add_argument("--vars", help="dbt vars as JSON, as for the build (dataset, raw_dir)")
    prod.set_defaults(func=_produce)

    stream = commands.add_parser(
        "stream",
        help="Spark Structured Streaming: ratings from Kafka (or the landing folder) "
        "into Delta, exactly once, and fold-in recommendations",
    )
    stream.add_argument(
        "--source",
        choices=["auto", "kafka", "landing"],
        default="auto",
        help="auto (default): Kafka when this data home's broker runs, else "
        "the landing folder $MOVIELAKE_HOME/stream/landing",
    )
    stream.add_argument("--topic", default="ratings")
    stream.add_argument(
        "--bootstrap", help="host:port (default: the broker `movielake kafka` runs)"
    )
    stream.add_argument("--vars", help="dbt vars as JSON, as for the build (dataset, raw_dir)")
    stream.add_argument(
        "--trigger-seconds", type=float, default=1.0, help="micro-batch interval (default 1)"
    )
    stream.add_argument(
        "--available-now", action="store_true", help="process what is there, then exit"
    )
    stream.add_argument(
        "--max-per-batch", type=int, help="at most this many messages (files) per micro-batch"
    )
    stream.add_argument("--k", type=int, default=10, help="recommendations per user (default 10)")
    stream.set_defaults(func=_stream)

    recommend = commands.add_parser(
        "recommend",
        help="top-K movies for your ratings, from the built recommenders (no retraining)",
    )
    recommend.add_argument(
        "--ratings", metavar="FILE", help="CSV with header movie_id,rating (0.5-5.0 in half stars)"
    )
    recommend.add_argument(
        "--user",
        type=int,
        metavar="ID",
        help="a known user: the stream's latest top-K for them (after new "
        "ratings), else the built recommendations table's",
    )
    recommend.add_argument("--k", type=int, default=10, help="how many movies (default 10)")
    recommend.set_defaults(func=_recommend)

    app = commands.add_parser(
        "app", help="the web app: rate movies and get recommendations, explore the lakehouse"
    )
    app.add_argument("--port", type=int, default=8501, help="port on 127.0.0.1 (default 8501)")
    app.add_argument(
        "--schema-prefix",
        help="prefix of the schemas to read (default: $MOVIELAKE_SCHEMA, else movielake)",
    )
    app.set_defaults(func=_app)
    return parser


# Commands that only read Delta tables with deltalake. Arrow's reader threads can abort the
# interpreter's teardown after the command has done its work, now and then ("terminate called
# without an active exception", exit 134: apache/arrow#34314, delta-rs#2184; here about one run
# in 15 of `recommend`). They start no JVM and hold no lock, so their process ends with
# os._exit once the output is flushed.
DELTA_READERS = ("recommend", "report")


def main(argv: list[str] | None = None) -> int:
    as_process = argv is None  # the console script, not a caller in Python (tests)
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["sql"] and argv[1:2] not in (["-h"], ["--help"]):
        # everything after `sql` is spark-sql's: argparse would take `-e` as an option of ours
        return _sql(argparse.Namespace(sql_args=argv[1:]))
    args = build_parser().parse_args(argv)
    try:
        code = args.func(args)
    except MovieLakeError as exc:  # the one place a user-facing error is printed
        command = " ".join(
            str(part)
            for part in (
                args.command,
                getattr(args, "release", None) if args.command == "fetch" else None,
                getattr(args, "action", None),
            )
            if part
        )
        print(f"movielake {command}: {exc}", file=sys.stderr)
        code = 1
    if as_process and args.command in DELTA_READERS:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


if __name__ == "__main__":
    sys.exit(main())
