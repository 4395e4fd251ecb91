"""Spark MLlib ALS for MovieLake: fitting the three variants, and scoring from stored factors.

A fitted model is kept as factor rows (the `als_factors` table): side ('user' | 'item'), id,
features, and a bias per row, plus the offset `global_mean`; a prediction is
    global_mean + user bias + item bias + user features . item features
which is plain ALS for `als_explicit` and `als_implicit` (biases and offset 0) and ALS on the
residuals over the popularity baseline for `als_residual`. Scoring from rows keeps tuning, test
scoring, serving and the CLI on one formula.
"""

from __future__ import annotations

import shutil
from functools import partial
from pathlib import Path

import numpy as np
from pyspark.ml.recommendation import ALS, ALSModel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from movielake.algorithms import ranking
from movielake.spark.session import is_connect, task_slots, within_driver_budget

VARIANTS = ("als_explicit", "als_residual", "als_implicit")
DOT = "aggregate(zip_with(u.features, i.features, (a, b) -> a * b), 0D, (acc, x) -> acc + x)"


def set_checkpoint_dir(spark: SparkSession) -> None:
    """ALS honours checkpointInterval only with a checkpoint dir; without one long lineages
    overflow the stack. Every MovieLake session (and `movielake serve`) starts with
    spark.checkpoint.dir: under the data home, or on the shared store when the warehouse is
    there (a cluster's executors write them). A Spark Connect client has no SparkContext to
    set it on, and needs not (docs/architecture.md section 5)."""
    from movielake.data.paths import data_home
    from movielake.data.storage import Location

    if is_connect(spark):
        return
    configured = spark.sparkContext.getConf().get("spark.checkpoint.dir", None)
    target = Location(configured or data_home() / "tmp" / "checkpoints")
    if target.remote:
        # on the store, Spark deletes each checkpoint once its data is no longer referenced
        # (spark.cleaner.referenceTracking.cleanCheckpoints); a killed build's are left there
        spark.sparkContext.setCheckpointDir(str(target))
        return
    folder = target.path
    folder.mkdir(parents=True, exist_ok=True)
    spark.sparkContext.setCheckpointDir(str(folder))
    # Spark cleans a checkpoint when its RDD is collected, not what a killed or ended
    # session left: drop every other session's folder. Safe: only a build fits ALS here,
    # and one build holds the data home at a time (movielake.ops.home_lock).
    current = Path(spark.sparkContext.getCheckpointDir().removeprefix("file:")).resolve()
    for stale in folder.iterdir():
        if stale.resolve() != current:
            shutil.rmtree(stale, ignore_errors=True)


def with_biases(ratings: DataFrame, biases: DataFrame) -> DataFrame:
    """ratings (user_id, movie_id, rating) plus global_mean, user_bias, item_bias from the
    popularity baseline's rows for one scored split, and residual = what the biases miss."""
    mean = biases.select(F.first("global_mean")).first()[0]
    users = biases.where("entity = 'user'").select(
        F.col("entity_id").alias("user_id"), F.col("bias").alias("user_bias")
    )
    items = biases.where("entity = 'movie'").select(
        F.col("entity_id").alias("movie_id"), F.col("bias").alias("item_bias")
    )
    return (
        ratings.join(users, "user_id", "left")
        .join(items, "movie_id", "left")
        .fillna(0.0, ["user_bias", "item_bias"])
        .withColumn("global_mean", F.lit(float(mean)))
        .withColumn(
            "residual",
            F.col("rating") - F.col("global_mean") - F.col("user_bias") - F.col("item_bias"),
        )
    )


def num_blocks(ratings: int, setting: int = 0) -> int:
    """ALS user and item blocks: `setting` if positive, else one per million ratings (2 to
    64). Never the core count: ALS draws its initial factors per block, so the blocks decide
    the result, and a laptop and a cluster must fit the same model."""
    return setting if setting > 0 else max(2, min(64, -(-ratings // 1_000_000)))


def halving_rungs(users: int, max_users: int, rungs: int, factor: int, min_users: int) -> list[int]:
    """Users each rung of successive halving fits on, smallest first. The last rung has
    min(users, max_users) (all users when max_users is 0); each earlier one `factor` times
    fewer, but never fewer than min_users. Rungs that come out the same size are one rung, so a
    release smaller than min_users is tuned once on everything."""
    top = users if max_users <= 0 else min(users, max_users)
    sizes: list[int] = []
    for step in range(max(1, rungs) - 1, -1, -1):
        size = min(top, max(min_users, top // max(1, factor) ** step))
        if not sizes or size > sizes[-1]:
            sizes.append(size)
    return sizes


def survivors(count: int, factor: int) -> int:
    """Settings of a variant kept for the next rung: the best 1/factor, at least one."""
    return max(1, -(-count // max(1, factor)))


def fit(
    ratings: DataFrame,
    variant: str,
    rank: int,
    reg_param: float,
    alpha: float,
    max_iter: int,
    seed: int,
    blocks: int = 2,
) -> ALSModel:
    """Fit one variant; `ratings` must carry `residual` for als_residual (see with_biases);
    blocks: see num_blocks."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown ALS variant {variant!r}; expected one of {VARIANTS}")
    als = ALS(
        userCol="user_id",
        itemCol="movie_id",
        ratingCol="residual" if variant == "als_residual" else "rating",
        rank=rank,
        regParam=reg_param,
        maxIter=max_iter,
        seed=seed,
        implicitPrefs=variant == "als_implicit",
        alpha=alpha,
        coldStartStrategy="drop",
        # Spark's default: one checkpoint per 10 iterations cuts the lineage as often as long
        # fits need, and a 10-iteration fit writes one checkpoint instead of two
        checkpointInterval=10,
        numUserBlocks=blocks,
        numItemBlocks=blocks,
    )
    return als.fit(ratings)


def factor_rows(model: ALSModel, fitted: DataFrame, variant: str) -> DataFrame:
    """The model as factor rows; `fitted` is the training input (with_biases output for
    als_residual) from which the biases and offset are taken."""

    def side(name, factors, key, bias_col):
        rows = factors.select(
            F.col("id"), F.col("features").cast("array<double>").alias("features")
        )
        if variant == "als_residual":
            biases = fitted.select(F.col(key).alias("id"), F.col(bias_col).alias("bias")).distinct()
            rows = rows.join(biases, "id", "left")
        else:
            rows = rows.withColumn("bias", F.lit(0.0))
        return rows.select(
            F.lit(name).alias("side"),
            "id",
            "features",
            F.coalesce("bias", F.lit(0.0)).alias("bias"),
        )

    mean = fitted.select(F.first("global_mean")).first()[0] if variant == "als_residual" else 0.0
    return (
        side("user", model.userFactors, "user_id", "user_bias")
        .unionByName(side("item", model.itemFactors, "movie_id", "item_bias"))
        .withColumn("global_mean", F.lit(float(mean)))
    )


def _sides(factors: DataFrame):
    users = (
        factors.where("side = 'user'")
        .select(
            F.col("id").alias("user_id"),
            F.col("features"),
            F.col("bias").alias("user_bias"),
            "global_mean",
        )
        .alias("u")
    )
    items = (
        factors.where("side = 'item'")
        .select(F.col("id").alias("movie_id"), F.col("features"), F.col("bias").alias("item_bias"))
        .alias("i")
    )
    return users, items


def predict(pairs: DataFrame, factors: DataFrame, low: float, high: float) -> DataFrame:
    """pairs (user_id, movie_id, ...) with `prediction`, clipped to the rating scale [low, high];
    pairs whose user or movie has no factors are dropped (cold start)."""
    users, items = _sides(factors)
    raw = F.expr(f"u.global_mean + u.user_bias + i.item_bias + {DOT}")
    return (
        pairs.alias("p")
        .join(users, "user_id")
        .join(items, "movie_id")
        .select("p.*", F.least(F.lit(high), F.greatest(F.lit(low), raw)).alias("prediction"))
    )


def fits_on_driver(users: int, items: int, rank: int, pairs: int, fits: int = 1) -> bool:
    """Whether `fits` models of `users` and `items` at `rank` (features and a bias each) and
    `pairs` pairs of ratings (user, movie, rating) fit the driver's scoring budget. Scoring a
    tuning fit on the driver (movielake.algorithms.ranking) takes two small collects where the
    Spark path runs about ten jobs and, for als_implicit, a Python worker; the budget holds the
    factors of every fit running at once and the rung's validation and fit pairs. The ranking's
    scores (at most ranking.MAX_SCORES per running fit) come on top of it."""
    return within_driver_budget(fits * (users + items) * (rank + 1) + 3 * pairs)


def _ids_and(frame: DataFrame, key: str, value: str) -> tuple[np.ndarray, np.ndarray]:
    rows = frame.select(key, value).distinct().toPandas().sort_values(key)
    return rows[key].to_numpy(dtype=np.int64), rows[value].to_numpy(dtype=np.float64)


def collect_biases(fitted: DataFrame) -> dict:
    """als_residual's biases and offset as factor_rows takes them from the training input
    (with_biases output), on the driver: {"user": (ids, biases), "item": (ids, biases),
    "global_mean": offset}; collect once, use for every fit on that input."""
    return {
        "user": _ids_and(fitted, "user_id", "user_bias"),
        "item": _ids_and(fitted, "movie_id", "item_bias"),
        "global_mean": float(fitted.select(F.first("global_mean")).first()[0]),
    }


def collect_factors(model: ALSModel, variant: str, biases: dict | None = None) -> ranking.Factors:
    """The model on the driver, as factor_rows gives it: features as doubles, and for
    als_residual the biases and offset of collect_biases (a missing bias is 0), else 0."""
    rows = (
        model.userFactors.select(F.lit(True).alias("user"), "id", "features")
        .unionByName(model.itemFactors.select(F.lit(False).alias("user"), "id", "features"))
        .toPandas()
    )
    residual = variant == "als_residual"

    def side(is_user: bool, name: str):
        part = rows[rows["user"] == is_user].sort_values("id")
        ids = part["id"].to_numpy(dtype=np.int64)
        features = np.array(part["features"].tolist(), dtype=np.float64).reshape(len(ids), -1)
        bias = np.zeros(len(ids))
        if residual:
            known_ids, values = biases[name]
            pos, known = ranking.positions(known_ids, ids)
            bias[known] = values[pos[known]]
        return ids, features, bias

    return ranking.Factors(
        *side(True, "user"), *side(False, "item"), biases["global_mean"] if residual else 0.0
    )


def collect_held_out(pairs: DataFrame, relevant: DataFrame, seen: DataFrame) -> ranking.HeldOut:
    """ranking.HeldOut of pairs (user_id, movie_id, rating) to predict, relevant pairs to rank
    for, and the fit data's pairs (seen): only the relevant users' are collected."""
    held = pairs.select("user_id", "movie_id", "rating").toPandas()
    wanted = relevant.select("user_id", "movie_id").toPandas()
    seen = (
        seen.join(relevant.select("user_id").distinct(), "user_id", "left_semi")
        .select("user_id", "movie_id")
        .toPandas()
    )

    def ids(frame, column):
        return frame[column].to_numpy(dtype=np.int64)

    return ranking.HeldOut(
        ids(held, "user_id"),
        ids(held, "movie_id"),
        held["rating"].to_numpy(dtype=np.float64),
        ids(wanted, "user_id"),
        ids(wanted, "movie_id"),
        ids(seen, "user_id"),
        ids(seen, "movie_id"),
    )


def top_k_unseen(
    factors: DataFrame, seen: DataFrame, k: int, users: DataFrame | None = None, batch: int = 1024
) -> DataFrame:
    """(user_id, rank, movie_id, score): each user's K best-scored movies among those not in
    `seen` (user_id, movie_id); all users with factors, or those in `users` (user_id).

    Runs on the executors: each user row carries its seen movie ids (grouped by user, a
    shuffle), the item factors travel with the task (Spark broadcasts a large task closure),
    and mapInPandas scores a batch of users at a time with one matrix product. Nothing of size
    O(ratings) or O(users x movies) reaches the driver; only the item factors pass through it
    (movies x rank: 86,000 x 64 doubles = 44 MB at ml-latest's size)."""
    user_rows = factors.where("side = 'user'")
    if users is not None:
        wanted = users.select(F.col("user_id").alias("id")).distinct()
        user_rows = user_rows.join(wanted, "id")
        # group only the wanted users' seen pairs, not every pair of `seen`
        seen = seen.join(wanted.withColumnRenamed("id", "user_id"), "user_id", "left_semi")
    items = factors.where("side = 'item'").select("id", "features", "bias").toPandas()
    schema = "user_id int, rank int, movie_id int, score double"
    if items.empty:
        return factors.sparkSession.createDataFrame([], schema)
    items = items.sort_values("id")
    item_ids = items["id"].to_numpy(dtype=np.int64)
    item_f = np.vstack(items["features"].to_numpy()).astype(np.float64)
    item_bias = items["bias"].to_numpy(dtype=np.float64)
    per_user = (
        seen.select(F.col("user_id").alias("id"), "movie_id")
        .groupBy("id")
        .agg(F.collect_list("movie_id").alias("seen"))
    )
    # scoring is compute-bound: one partition per task slot, so every core scores (adaptive
    # execution would pack this small-in-bytes input into one) and no more (each extra task
    # pays for a Python worker and a copy of the item factors: 2 took half the time of 16 on
    # ml-latest-small)
    parts = task_slots(factors.sparkSession)
    scored = (
        user_rows.select("id", "features", "bias", "global_mean")
        .join(per_user, "id", "left")
        .repartition(parts, "id")
    )
    return scored.mapInPandas(
        partial(
            _score_batches, item_ids=item_ids, item_f=item_f, item_bias=item_bias, k=k, batch=batch
        ),
        schema,
    )


def _score_batches(frames, item_ids, item_f, item_bias, k: int, batch: int):
    """mapInPandas body of top_k_unseen: score users against every item, mask what each has
    seen, keep the K best (movielake.algorithms.ranking.top_k: score desc, then movie id)."""
    import pandas as pd

    take = min(k, len(item_ids))
    batch = ranking.batch_rows(batch, len(item_ids))
    for frame in frames:
        for start in range(0, len(frame), batch):
            part = frame.iloc[start : start + batch]
            n = len(part)
            user_f = np.vstack(part["features"].to_numpy()).astype(np.float64)
            offset = part["global_mean"].to_numpy(dtype=np.float64) + part["bias"].to_numpy(
                dtype=np.float64
            )
            scores = ranking.scores(user_f, offset, item_f, item_bias)
            seen = [
                np.asarray(m if m is not None else [], dtype=np.int64)
                for m in part["seen"].to_numpy()
            ]
            rows = np.repeat(np.arange(n), [len(m) for m in seen])
            movies = np.concatenate(seen) if seen else np.empty(0, dtype=np.int64)
            best, top, keep = ranking.top_k(scores, item_ids, rows, movies, k)
            yield pd.DataFrame(
                {
                    "user_id": np.repeat(part["id"].to_numpy(), take).reshape(n, take)[keep],
                    "rank": np.tile(np.arange(1, take + 1), (n, 1))[keep],
                    "movie_id": best[keep],
                    "score": top[keep],
                }
            ).astype({"user_id": "int32", "rank": "int32", "movie_id": "int32"})
