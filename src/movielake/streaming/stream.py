"""`movielake stream`: new ratings from Kafka (or a landing folder) into Delta, exactly once.

Each micro-batch of messages is parsed by the staging model `base_movielens__ratings` itself:
dbt compiles it once (rendered SQL kept under the stream's folder), the stream runs that SQL
with the model's source (the release's lines) replaced by the batch's messages, so every rule
and reject reason is the staging one. Valid ratings are appended to the bronze table, rejected
messages to the stream quarantine with their reason and offset (or file and line).

Exactly once: Spark's checkpoint records which offsets (files) make up each batch before it
runs, and every Delta write of batch N carries (txnAppId, txnVersion=N); after a crash Spark
reruns the unfinished batch with the same content and Delta skips the writes it already
committed. The stream's Spark session has no Hive metastore (all tables are Delta paths), so it
runs beside a `dbt build`.

After each batch the users with new ratings are folded into the served model's item factors
(movielake.serving.personal, as `movielake recommend`): their factors and top-K go to Delta tables.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import time
import uuid
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path

from movielake.data.paths import (
    landing_dir,
    project_dir,
    schema_prefix,
    stream_dir,
    table_path,
    warehouse_table,
)
from movielake.data.releases import get_release
from movielake.errors import MovieLakeError

RULES_MODEL = "base_movielens__ratings"
LINES_VIEW = "stream_lines"
# Kafka messages are data lines, never a file's first (header) line: a message's line number is
# its offset + 2, which keeps the header rule off it and orders same-second ratings by offset.
KAFKA_LINE_OFFSET = 2


class StreamError(MovieLakeError):
    """The stream cannot start; the message says why."""


def kafka_package() -> str:
    return f"org.apache.spark:spark-sql-kafka-0-10_2.13:{version('pyspark')}"


# --- the staging rules, rendered once by dbt ---------------------------------------------------


def _rules_inputs(dbt_vars: dict) -> str:
    project = project_dir()
    digest = hashlib.sha256(json.dumps([dbt_vars, schema_prefix()], sort_keys=True).encode())
    for path in sorted((project / "macros" / "staging").glob("*.sql")) + [
        project / "models" / "staging" / "movielens" / "base" / f"{RULES_MODEL}.sql",
        project / "dbt_project.yml",
    ]:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def staging_rules(dbt_vars: dict | None = None, log=print) -> dict:
    """{sql, source, refs} of the compiled staging model: its SQL, the relation of its source
    (the release's lines) and {relation: model} of the models it reads. Compiled by dbt once
    per version of the model, macros, vars and schema prefix (no Spark needed)."""
    dbt_vars = dbt_vars or {}
    cache = stream_dir() / "rules" / f"{RULES_MODEL}-{_rules_inputs(dbt_vars)}.json"
    if cache.is_file():
        return json.loads(cache.read_text())
    from dbt.cli.main import dbtRunner

    project = project_dir()
    target = stream_dir() / "dbt-target"
    log(f"stream: compiling the staging rules ({RULES_MODEL}) with dbt")
    argv = [
        "compile",
        "-s",
        RULES_MODEL,
        "--no-populate-cache",
        "--log-level",
        "none",
        "--project-dir",
        str(project),
        "--profiles-dir",
        str(project / "profiles"),
        "--target-path",
        str(target),
        "--log-path",
        str(stream_dir() / "dbt-logs"),
    ]
    if dbt_vars:
        argv += ["--vars", json.dumps(dbt_vars)]
    result = dbtRunner().invoke(argv)
    if not result.success or not result.result:
        raise StreamError(
            f"dbt could not compile {RULES_MODEL}: {result.exception or result.result}"
        )
    node = result.result.results[0].node
    manifest = json.loads((target / "manifest.json").read_text())
    source, refs = None, {}
    for dependency in node.depends_on.nodes:
        if dependency == "source.movielake.movielens.ratings":
            source = manifest["sources"][dependency]["relation_name"]
        elif dependency.startswith("model."):
            model = manifest["nodes"][dependency]
            refs[model["relation_name"]] = [model["schema"], model["alias"]]
        else:
            raise StreamError(f"{RULES_MODEL} reads {dependency}, which the stream cannot supply")
    if source is None:
        raise StreamError(f"{RULES_MODEL} does not read the movielens ratings source")
    rules = {"sql": node.compiled_code, "source": source, "refs": refs}
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(rules))
    return rules


def batch_sql(rules: dict) -> str:
    """The model's SQL over the batch's lines (view `stream_lines`) and the built tables."""
    sql = rules["sql"]
    if rules["source"] not in sql:
        raise StreamError(f"{rules['source']} not found in the compiled {RULES_MODEL}")
    sql = sql.replace(rules["source"], LINES_VIEW)
    for relation, (schema, table) in rules["refs"].items():
        path = warehouse_table(schema, table)
        if not path.is_delta_table():
            raise StreamError(
                f"{RULES_MODEL} needs {schema}.{table}, which is not built in "
                f"{path}: run `dbt build -s staging` first"
            )
        sql = sql.replace(relation, f"delta.`{path}`")
    return sql


# --- the Spark side -------------------------------------------------------------------------


def stream_session(kafka: bool):
    """A Spark session with Delta (and Spark's Kafka source) and no Hive metastore."""
    from movielake.spark.session import session_conf, spark_session

    conf = session_conf()
    packages = [conf["spark.jars.packages"]] + ([kafka_package()] if kafka else [])
    conf.update(
        {
            "spark.app.name": "movielake-stream",
            "spark.jars.packages": ",".join(packages),
            "spark.sql.catalogImplementation": "in-memory",
            "spark.driver.memory": os.environ.get("MOVIELAKE_STREAM_MEMORY", "2g"),
            "spark.sql.shuffle.partitions": "4",
            "spark.ui.enabled": "false",
            "spark.sql.streaming.stopGracefullyOnShutdown": "true",
            # a table the stream creates gets a checkpoint every 100 commits, not 10: one commit
            # per batch, and writing a checkpoint took a batch 2-3 s longer
            "spark.databricks.delta.properties.defaults.checkpointInterval": "100",
        }
    )
    return spark_session(conf)


def kafka_lines(spark, bootstrap: str, topic: str, max_per_batch: int | None):
    from pyspark.sql import functions as F

    reader = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", bootstrap)
        .option("subscribe", topic)
        .option("startingOffsets", "earliest")
        .option("failOnDataLoss", "true")
    )
    if max_per_batch:
        reader = reader.option("maxOffsetsPerTrigger", str(max_per_batch))
    return reader.load().select(
        F.concat(F.lit(f"kafka:{topic}/"), F.col("partition").cast("string")).alias("source_file"),
        (F.col("offset") + KAFKA_LINE_OFFSET).alias("line_number"),
        F.col("value").cast("string").alias("message"),
    )


def landing_lines(spark, folder: Path, max_per_batch: int | None):
    """One row per new file (whole text); split into numbered lines in each batch."""
    from pyspark.sql import functions as F

    folder.mkdir(parents=True, exist_ok=True)
    reader = spark.readStream.format("text").option("wholetext", "true")
    if max_per_batch:
        reader = reader.option("maxFilesPerTrigger", str(max_per_batch))
    return reader.load(str(folder)).select(
        F.col("_metadata.file_path").alias("source_file"), F.col("value").alias("content")
    )


def _numbered(batch, is_kafka: bool):
    """Landing files as lines numbered from 1, like the release's source views."""
    from pyspark.sql import functions as F

    if is_kafka:
        return batch
    lines = F.split(F.regexp_replace("content", r"(\r?\n)$", ""), r"\r?\n", -1)
    return batch.select("source_file", F.posexplode(lines).alias("pos", "message")).select(
        "source_file", (F.col("pos") + 1).cast("bigint").alias("line_number"), "message"
    )


def _as_lines(batch, separator: str):
    """`line` in the release's ratings format: a JSON message {userId, movieId, rating,
    timestamp} becomes the separated line of its four values (a missing key: one field less);
    any other message is the line itself."""
    from pyspark.sql import functions as F

    sep = {"csv": ",", "tab": "\t"}.get(separator, separator)
    fields = F.from_json("message", "map<string,string>")
    as_line = F.concat_ws(
        sep, *[fields[key] for key in ("userId", "movieId", "rating", "timestamp")]
    )
    is_json = F.ltrim("message").startswith("{") & fields.isNotNull()
    return batch.withColumn("line", F.when(is_json, as_line).otherwise(F.col("message")))


class Recommender:
    """The served top-K model (reloaded when a build rewrites served_factors) and the fold-in of
    users with new ratings: personal.recommend, the same function as `movielake recommend`."""

    def __init__(self, k: int, log=print) -> None:
        from movielake.serving.lake import Lake

        prefix = schema_prefix()
        self.k = k
        self.log = log
        self.lake = Lake(prefix)
        self.version = None
        self.items = None
        self.settings = None
        self.titles = {}

    def ready(self, spark) -> bool:
        from movielake.serving.lake import NotBuiltError

        # served_factors is written after served_models and item_item_weights: a new version
        # of it means the served model's rows are complete
        if not self.lake.exists("served_factors"):
            if self.version != "missing":
                self.log("stream: no served recommender built yet; ingesting only")
            self.version = "missing"
            return False
        current = self.lake.version("served_factors").version
        if current != self.version:
            try:
                self.items, self.settings = self.lake.served_item_factors("top_k")
            except NotBuiltError as exc:
                self.log(f"stream: {exc}; ingesting only")
                self.version = "missing"
                return False
            movies = self.lake.read("stg_movielens__movies", columns=["movie_id", "title"])
            self.titles = dict(zip(movies["movie_id"], movies["title"]))
            self.version = current
            self.log(
                f"stream: serving {self.settings.get('model')} ({len(self.items)} movies, "
                f"served_factors version {current})"
            )
        return len(self.items) > 0

    def fold_in(self, users: list[int], bronze: Path, batch_id: int, lap=None):
        """(factor rows, recommendation rows) for `users`: all their ratings (release and
        stream; the latest per movie) folded into the served model. An ALS variant gives each
        user a factor row; item_item has no user factors (a user is their ratings times B)."""
        import pandas as pd
        from deltalake import DeltaTable

        from movielake.serving.personal import PersonalRatingsError, fold_in_user, recommend
        from movielake.spark import item_item

        # read with deltalake, not Spark: no job to schedule, and Delta's per-file min/max of
        # user_id skips files without these users
        wanted = [("user_id", "in", sorted(int(u) for u in users))]
        columns = ["user_id", "movie_id", "rating", "rated_at"]
        release = self.lake.read("stg_movielens__ratings", columns=columns, filters=wanted)
        streamed = DeltaTable(str(bronze)).to_pandas(columns=columns, filters=wanted)
        history = pd.concat([release.assign(order=0), streamed.assign(order=1)])
        history = history.sort_values(["rated_at", "order"]).drop_duplicates(
            ["user_id", "movie_id"], keep="last"
        )
        if lap:
            lap("history")
        # a Python datetime: Spark's row check refuses a pandas Timestamp for a timestamp field
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        model = self.settings["model"]
        factor_rows, rec_rows = [], []
        for user, rows in history.groupby("user_id"):
            ratings = [("stream", int(m), float(r)) for m, r in zip(rows.movie_id, rows.rating)]
            try:
                if model == item_item.MODEL:
                    top = recommend(self.items, self.settings, ratings, self.k)
                else:
                    factor, bias, top = fold_in_user(self.items, self.settings, ratings, self.k)
                    factor_rows.append(
                        (
                            int(user),
                            model,
                            [float(x) for x in factor],
                            float(bias),
                            len(ratings),
                            batch_id,
                            now,
                        )
                    )
            except PersonalRatingsError:
                continue  # none of the user's movies is known to the model
            rec_rows += [
                (int(user), rank, movie, self.titles.get(movie), score, model, batch_id, now)
                for rank, (movie, score) in enumerate(top, start=1)
            ]
        if lap:
            lap("fold-in")
        return factor_rows, rec_rows


FACTOR_SCHEMA = (
    "user_id int, model string, features array<double>, user_bias double, "
    "ratings_used int, batch_id bigint, updated_at timestamp"
)
RECOMMENDATION_SCHEMA = (
    "user_id int, rank int, movie_id int, title string, score double, "
    "model string, batch_id bigint, updated_at timestamp"
)


def _app_id(checkpoint: Path) -> str:
    """The writer id of this checkpoint's Delta transactions: a new checkpoint (a new
    stream, batch ids from 0 again) must not be mistaken for replays of an old one."""
    checkpoint.mkdir(parents=True, exist_ok=True)
    marker = checkpoint / "movielake-app-id"
    if not marker.is_file():
        marker.write_text(f"movielake-stream-{uuid.uuid4()}\n")
    return marker.read_text().strip()


def _say(message: str) -> None:
    print(message, flush=True)  # progress lines are read by whoever runs the stream


def run(
    source: str = "auto",
    topic: str = "ratings",
    bootstrap: str | None = None,
    dbt_vars: dict | None = None,
    trigger_seconds: float = 1.0,
    available_now: bool = False,
    max_per_batch: int | None = None,
    k: int = 10,
    log=_say,
) -> int:
    """Run the stream until stopped (SIGTERM/SIGINT), or, with available_now, until every
    message (file) present at start is processed."""
    from movielake.ops import kafka

    dbt_vars = dbt_vars or {}
    if source == "auto":
        source = "kafka" if bootstrap or kafka.running() else "landing"
    is_kafka = source == "kafka"
    if is_kafka and not bootstrap:
        bootstrap = kafka.bootstrap_servers()
    release = get_release(dbt_vars.get("dataset", "ml-latest-small"))
    separator = release.layouts["ratings"].separator
    sql = batch_sql(staging_rules(dbt_vars, log=log))

    spark = stream_session(kafka=is_kafka)
    checkpoint = stream_dir() / "checkpoints" / (f"kafka-{topic}" if is_kafka else "landing")
    app_id = _app_id(checkpoint)
    bronze, quarantine = table_path("bronze_ratings"), table_path("quarantine")
    factors_table, recs_table = table_path("user_factors"), table_path("recommendations")
    recommender = Recommender(k, log=log)

    def write(frame, path: Path, batch_id: int, **properties) -> None:
        (
            frame.write.format("delta")
            .mode("append")
            .options(**properties)
            .option("txnAppId", app_id)
            .option("txnVersion", batch_id)
            .save(str(path))
        )

    def process(batch, batch_id: int) -> None:
        started = time.monotonic()
        phases = {}  # seconds per step, for the progress line (where a batch's time goes)

        def lap(name: str) -> None:
            phases[name] = time.monotonic() - started - sum(phases.values())

        session = batch.sparkSession
        lines = _as_lines(_numbered(batch, is_kafka), separator)
        lines.createOrReplaceTempView(LINES_VIEW)
        parsed = (
            session.sql(sql)
            .join(
                lines.select("source_file", "line_number", "message"),
                ["source_file", "line_number"],
            )
            .persist()
        )
        position = (
            "cast(line_number - {0} as bigint) as offset, cast(null as bigint) as line_number"
            if is_kafka
            else "cast(null as bigint) as offset, line_number"
        )
        position = position.format(KAFKA_LINE_OFFSET)
        valid = parsed.where("reject_reason is null").selectExpr(
            "user_id",
            "movie_id",
            "rating",
            "rated_at",
            "source_file as source",
            *position.split(", "),
            f"cast({batch_id} as bigint) as batch_id",
            "current_timestamp() as ingested_at",
        )
        rejected = parsed.where("reject_reason is not null").selectExpr(
            "source_file as source",
            *position.split(", "),
            "message",
            "reject_reason",
            f"cast({batch_id} as bigint) as batch_id",
            "current_timestamp() as ingested_at",
        )
        counts = parsed.selectExpr(
            "count_if(reject_reason is null) as ok",
            "count_if(reject_reason is not null) as bad",
            "min(line_number) as first",
            "max(line_number) as last",
            "collect_set(user_id) filter (where reject_reason is null) as users",
        ).first()
        users = list(counts.users)
        lap("parse")
        # an empty batch writes nothing: a Delta commit costs a fraction of a second, and a
        # replayed batch finds nothing to skip either way
        if counts.ok:
            # bronze keeps row ids and commit versions: dbt's stg_stream__ratings takes only
            # the rows of versions it has not seen (a table property, set when the first batch
            # creates the table; the other tables go without: it costs each commit ~0.4 s)
            write(valid, bronze, batch_id, **{"delta.enableRowTracking": "true"})
            lap("bronze")
        if counts.bad:
            write(rejected, quarantine, batch_id)
            lap("quarantine")
        parsed.unpersist()
        folded = 0
        if users and recommender.ready(session):
            lap("load model")
            factor_rows, rec_rows = recommender.fold_in(users, bronze, batch_id, lap=lap)
            if factor_rows:  # item_item has no user factors
                write(session.createDataFrame(factor_rows, FACTOR_SCHEMA), factors_table, batch_id)
                lap("factors")
            write(session.createDataFrame(rec_rows, RECOMMENDATION_SCHEMA), recs_table, batch_id)
            lap("recommendations")
            folded = len({row[0] for row in rec_rows})  # item_item writes no factor rows
        span = (
            f", offsets {counts.first - KAFKA_LINE_OFFSET}-{counts.last - KAFKA_LINE_OFFSET}"
            if is_kafka and counts.first is not None
            else ""
        )
        steps = " ".join(f"{name} {seconds:.2f}" for name, seconds in phases.items())
        log(
            f"stream: batch {batch_id}: {counts.ok} ratings, {counts.bad} quarantined, "
            f"{folded} users re-folded in {time.monotonic() - started:.1f}s{span} "
            f"[{steps}]"
        )

    if is_kafka:
        log(f"stream: Kafka topic {topic} on {bootstrap} -> {bronze}")
        frame = kafka_lines(spark, bootstrap, topic, max_per_batch)
    else:
        log(f"stream: landing folder {landing_dir()} -> {bronze}")
        frame = landing_lines(spark, landing_dir(), max_per_batch)
    writer = frame.writeStream.foreachBatch(process).option(
        "checkpointLocation", str(checkpoint / "spark")
    )
    writer = (
        writer.trigger(availableNow=True)
        if available_now
        else writer.trigger(processingTime=f"{trigger_seconds} seconds")
    )
    query = writer.start()

    def stop(_signum, _frame):
        log("stream: stopping after the current batch")
        query.stop()

    signal.signal(signal.SIGTERM, stop)
    try:
        while query.isActive:  # short waits, so that the SIGTERM handler gets to run
            query.awaitTermination(1)
    except KeyboardInterrupt:
        query.stop()
    if query.exception():
        log(f"stream: failed: {query.exception()}")
        return 1
    return 0
