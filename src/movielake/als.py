"""Spark MLlib ALS for MovieLake: fitting the three variants, and scoring from stored factors.

A fitted model is kept as factor rows (the `als_factors` table): side ('user' | 'item'), id,
features, and a bias per row, plus the offset `global_mean`; a prediction is
    global_mean + user bias + item bias + user features . item features
which is plain ALS for `als_explicit` and `als_implicit` (biases and offset 0) and ALS on the
residuals over the popularity baseline for `als_residual`. Scoring from rows keeps tuning, test
scoring, serving and the CLI on one formula.
"""

from __future__ import annotations

import os

from pyspark.ml.recommendation import ALS, ALSModel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

VARIANTS = ("als_explicit", "als_residual", "als_implicit")
DOT = "aggregate(zip_with(u.features, i.features, (a, b) -> a * b), 0D, (acc, x) -> acc + x)"


def _is_connect(spark: SparkSession) -> bool:
    return type(spark).__module__.startswith("pyspark.sql.connect")


def set_checkpoint_dir(spark: SparkSession) -> None:
    """ALS honours checkpointInterval only with a checkpoint dir; without one long lineages
    overflow the stack. Every MovieLake session (and `movielake serve`) starts with
    spark.checkpoint.dir under the data home; a Spark Connect client has no SparkContext to
    set it on, and needs not."""
    from movielake.paths import data_home

    folder = data_home() / "tmp" / "checkpoints"
    folder.mkdir(parents=True, exist_ok=True)
    if not _is_connect(spark):
        spark.sparkContext.setCheckpointDir(str(folder))


def _parallelism(spark: SparkSession) -> int:
    """Cores Spark schedules on (over Spark Connect, where there is no SparkContext to ask,
    the server runs on this machine: its cores)."""
    if _is_connect(spark):
        return os.cpu_count() or 2
    return spark.sparkContext.defaultParallelism


def with_biases(ratings: DataFrame, biases: DataFrame) -> DataFrame:
    """ratings (user_id, movie_id, rating) plus global_mean, user_bias, item_bias from the
    popularity baseline's rows for one scored split, and residual = what the biases miss."""
    mean = biases.select(F.first("global_mean")).first()[0]
    users = biases.where("entity = 'user'").select(F.col("entity_id").alias("user_id"),
                                                    F.col("bias").alias("user_bias"))
    items = biases.where("entity = 'movie'").select(F.col("entity_id").alias("movie_id"),
                                                     F.col("bias").alias("item_bias"))
    return (ratings.join(users, "user_id", "left").join(items, "movie_id", "left")
            .fillna(0.0, ["user_bias", "item_bias"])
            .withColumn("global_mean", F.lit(float(mean)))
            .withColumn("residual",
                        F.col("rating") - F.col("global_mean") - F.col("user_bias")
                        - F.col("item_bias")))


def fit(ratings: DataFrame, variant: str, rank: int, reg_param: float, alpha: float,
        max_iter: int, seed: int) -> ALSModel:
    """Fit one variant; `ratings` must carry `residual` for als_residual (see with_biases)."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown ALS variant {variant!r}; expected one of {VARIANTS}")
    blocks = max(2, _parallelism(ratings.sparkSession))
    als = ALS(userCol="user_id", itemCol="movie_id",
              ratingCol="residual" if variant == "als_residual" else "rating",
              rank=rank, regParam=reg_param, maxIter=max_iter, seed=seed,
              implicitPrefs=variant == "als_implicit", alpha=alpha,
              coldStartStrategy="drop", checkpointInterval=5,
              # one block per core: the default 10 blocks mostly add task overhead here
              numUserBlocks=blocks, numItemBlocks=blocks)
    return als.fit(ratings)


def factor_rows(model: ALSModel, fitted: DataFrame, variant: str) -> DataFrame:
    """The model as factor rows; `fitted` is the training input (with_biases output for
    als_residual) from which the biases and offset are taken."""
    def side(name, factors, key, bias_col):
        rows = factors.select(F.col("id"), F.col("features").cast("array<double>")
                              .alias("features"))
        if variant == "als_residual":
            biases = fitted.select(F.col(key).alias("id"), F.col(bias_col).alias("bias")) \
                .distinct()
            rows = rows.join(biases, "id", "left")
        else:
            rows = rows.withColumn("bias", F.lit(0.0))
        return rows.select(F.lit(name).alias("side"), "id", "features",
                           F.coalesce("bias", F.lit(0.0)).alias("bias"))

    mean = (fitted.select(F.first("global_mean")).first()[0]
            if variant == "als_residual" else 0.0)
    return (side("user", model.userFactors, "user_id", "user_bias")
            .unionByName(side("item", model.itemFactors, "movie_id", "item_bias"))
            .withColumn("global_mean", F.lit(float(mean))))


def _sides(factors: DataFrame):
    users = factors.where("side = 'user'").select(
        F.col("id").alias("user_id"), F.col("features"), F.col("bias").alias("user_bias"),
        "global_mean").alias("u")
    items = factors.where("side = 'item'").select(
        F.col("id").alias("movie_id"), F.col("features"),
        F.col("bias").alias("item_bias")).alias("i")
    return users, items


def predict(pairs: DataFrame, factors: DataFrame, low: float, high: float) -> DataFrame:
    """pairs (user_id, movie_id, ...) with `prediction`, clipped to the rating scale [low, high];
    pairs whose user or movie has no factors are dropped (cold start)."""
    users, items = _sides(factors)
    raw = F.expr(f"u.global_mean + u.user_bias + i.item_bias + {DOT}")
    return (pairs.alias("p").join(users, "user_id").join(items, "movie_id")
            .select("p.*", F.least(F.lit(high), F.greatest(F.lit(low), raw))
                    .alias("prediction")))


def top_k_unseen(factors: DataFrame, seen: DataFrame, k: int,
                 users: DataFrame | None = None, chunk: int = 2048) -> DataFrame:
    """(user_id, rank, movie_id, score): each user's K best-scored movies among those not in
    `seen` (user_id, movie_id); all users with factors, or those in `users` (user_id).

    Scored on the driver with numpy, a block of users at a time (one matrix product per
    block): factors are small (users x rank, movies x rank), and a Spark cross join of every
    user with every movie costs minutes where this costs a second."""
    import numpy as np
    import pandas as pd

    spark = factors.sparkSession
    user_rows = factors.where("side = 'user'")
    if users is not None:
        user_rows = user_rows.join(users.select(F.col("user_id").alias("id")).distinct(), "id")
    u = user_rows.select("id", "features", "bias", "global_mean").toPandas()
    i = factors.where("side = 'item'").select("id", "features", "bias").toPandas()
    schema = "user_id int, rank int, movie_id int, score double"
    if u.empty or i.empty:
        return spark.createDataFrame([], schema)
    user_ids = u["id"].to_numpy()
    item_ids = i["id"].to_numpy()
    user_f, item_f = np.vstack(u["features"].to_numpy()), np.vstack(i["features"].to_numpy())
    offset = u["global_mean"].to_numpy(dtype=float) + u["bias"].to_numpy(dtype=float)
    item_bias = i["bias"].to_numpy(dtype=float)
    known = (seen.select("user_id", "movie_id").join(
        user_rows.select(F.col("id").alias("user_id")), "user_id").toPandas())
    user_pos = pd.Series(np.arange(len(user_ids)), index=user_ids)
    item_pos = pd.Series(np.arange(len(item_ids)), index=item_ids)
    known = known[known["movie_id"].isin(item_pos.index)]
    seen_u = user_pos.loc[known["user_id"]].to_numpy()
    seen_i = item_pos.loc[known["movie_id"]].to_numpy()

    parts = []
    for start in range(0, len(user_ids), chunk):
        stop = min(start + chunk, len(user_ids))
        scores = offset[start:stop, None] + item_bias[None, :] + user_f[start:stop] @ item_f.T
        mine = (seen_u >= start) & (seen_u < stop)
        scores[seen_u[mine] - start, seen_i[mine]] = -np.inf
        take = min(k, len(item_ids))
        best = np.argpartition(-scores, take - 1, axis=1)[:, :take]
        top = np.take_along_axis(scores, best, axis=1)
        order = np.lexsort((item_ids[best], -top), axis=1)  # score desc, then movie id
        best, top = np.take_along_axis(best, order, 1), np.take_along_axis(top, order, 1)
        keep = np.isfinite(top)  # a user who has seen nearly everything gets fewer than K
        parts.append(pd.DataFrame({
            "user_id": np.repeat(user_ids[start:stop], take).reshape(-1, take)[keep],
            "rank": np.tile(np.arange(1, take + 1), (stop - start, 1))[keep],
            "movie_id": item_ids[best][keep], "score": top[keep]}))
    frame = (pd.concat(parts, ignore_index=True) if parts
             else pd.DataFrame(columns=["user_id", "rank", "movie_id", "score"]))
    frame = frame.astype({"user_id": "int32", "rank": "int32", "movie_id": "int32",
                          "score": "float64"})
    return spark.createDataFrame(frame, schema)
