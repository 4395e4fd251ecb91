"""Spark MLlib ALS for MovieLake: fitting the three variants, and scoring from stored factors.

A fitted model is kept as factor rows (the `als_factors` table): side ('user' | 'item'), id,
features, and a bias per row, plus the offset `global_mean`; a prediction is
    global_mean + user bias + item bias + user features . item features
which is plain ALS for `als_explicit` and `als_implicit` (biases and offset 0) and ALS on the
residuals over the popularity baseline for `als_residual`. Scoring from rows keeps tuning, test
scoring, serving and the CLI on one formula.
"""

from __future__ import annotations

from pyspark.ml.recommendation import ALS, ALSModel
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

VARIANTS = ("als_explicit", "als_residual", "als_implicit")
DOT = "aggregate(zip_with(u.features, i.features, (a, b) -> a * b), 0D, (acc, x) -> acc + x)"


def set_checkpoint_dir(spark: SparkSession) -> None:
    """ALS honours checkpointInterval only with a checkpoint dir; without one long lineages
    overflow the stack (DESIGN.md section 5)."""
    from movielake.paths import data_home

    folder = data_home() / "tmp" / "checkpoints"
    folder.mkdir(parents=True, exist_ok=True)
    spark.sparkContext.setCheckpointDir(str(folder))


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
    als = ALS(userCol="user_id", itemCol="movie_id",
              ratingCol="residual" if variant == "als_residual" else "rating",
              rank=rank, regParam=reg_param, maxIter=max_iter, seed=seed,
              implicitPrefs=variant == "als_implicit", alpha=alpha,
              coldStartStrategy="drop", checkpointInterval=5)
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
                 users: DataFrame | None = None) -> DataFrame:
    """(user_id, rank, movie_id, score): each user's K best-scored movies among those not in
    `seen` (user_id, movie_id); all users with factors, or those in `users` (user_id)."""
    user_rows, items = _sides(factors)
    if users is not None:
        user_rows = user_rows.join(users.select("user_id").distinct(), "user_id").alias("u")
    scored = (user_rows.crossJoin(items)
              .select("u.user_id", "i.movie_id",
                      F.expr(f"u.global_mean + u.user_bias + i.item_bias + {DOT}")
                      .alias("score"))
              .join(seen.select("user_id", "movie_id"), ["user_id", "movie_id"], "left_anti"))
    order = Window.partitionBy("user_id").orderBy(F.desc("score"), F.asc("movie_id"))
    return (scored.withColumn("rank", F.row_number().over(order)).where(F.col("rank") <= k)
            .select("user_id", "rank", "movie_id", "score"))
