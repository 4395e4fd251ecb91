"""The hybrid model's (movielake.algorithms.hybrid) two settings, tuned on validation in two stages.

cold_movies: for each `hybrid_lambdas` penalty, the content -> factor map is fit on the
  validation als_implicit item factors of all but a seeded 10% of movies; the held-out movies
  get factors from their content alone and are ranked, among themselves, for the users with
  validation ratings of them (at most `cold_start_max_users`, a seeded sample). The penalty
  with the best P@K (then NDCG@K) is kept: it decides how good a cold movie's factors are.
rated_movies: at that penalty, for each `hybrid_blends` share, the blended factors of every
  movie are scored on validation exactly as als_implicit is in als_tuning. `selected` marks
  the best blend's row (highest P@K, then NDCG@K, then the smaller blend).
"""

import time
from typing import NamedTuple

import numpy as np
from pyspark.sql import functions as F
from pyspark.sql import types as T

from movielake.algorithms import hybrid
from movielake.spark import als
from movielake.spark import hybrid as spark_hybrid
from movielake.spark.metrics import comparable, ranking_metrics
from movielake.spark.recommenders import fit_ratings, held_out, setting

SCHEMA = T.StructType(
    [
        T.StructField("model", T.StringType()),
        T.StructField("stage", T.StringType()),
        T.StructField("reg_lambda", T.DoubleType()),
        T.StructField("blend", T.DoubleType()),
        T.StructField("movies", T.IntegerType()),
        T.StructField("users_evaluated", T.LongType()),
        T.StructField("val_precision_at_k", T.DoubleType()),
        T.StructField("val_ndcg_at_k", T.DoubleType()),
        T.StructField("fit_seconds", T.DoubleType()),
        T.StructField("selected", T.BooleanType()),
    ]
)
HELD_OUT_SHARE = 0.1


class Trial(NamedTuple):
    """One setting tried: a row of SCHEMA, in its order."""

    model: str
    stage: str
    reg_lambda: float
    blend: float
    movies: int
    users_evaluated: int
    val_precision_at_k: float | None
    val_ndcg_at_k: float | None
    fit_seconds: float
    selected: bool = False


def model(dbt, spark):
    lambdas = [float(v) for v in setting("lambdas", dbt.config.meta_get("lambdas"), list)]
    blends = setting("blends", dbt.config.meta_get("blends"), list)
    blends = sorted(float(v) for v in blends)
    buckets = setting("tag_buckets", dbt.config.meta_get("tag_buckets"), int)
    seed = setting("seed", dbt.config.meta_get("seed"), int)
    max_users = setting("max_users", dbt.config.meta_get("max_users"), int)
    k = setting("top_k", dbt.config.meta_get("top_k"), int)
    threshold = setting("relevance_threshold", dbt.config.meta_get("relevance_threshold"), float)

    factors = (
        dbt.ref("als_factors")
        .where("model = 'als_implicit' and scored_split = 'validation'")
        .cache()
    )
    items = factors.where("side = 'item'").select("id", "features").toPandas()
    content = hybrid.Content(dbt.ref("movie_content_features").toPandas(), buckets)
    splits = dbt.ref("rating_splits")
    fits = dbt.ref("recommender_fit_ratings")
    train = fit_ratings(fits, "validation").cache()
    relevant = held_out(splits, "validation", train).where(F.col("rating") >= threshold).cache()
    catalog = dbt.ref("stg_movielens__movies").count()

    # stage 1: movies whose ALS factors the map never sees, ranked for their raters
    ids = np.sort(items["id"].to_numpy(dtype=np.int64))
    held = np.sort(
        np.random.default_rng(seed).choice(
            ids, max(1, round(HELD_OUT_SHARE * len(ids))), replace=False
        )
    )
    is_held = F.col("movie_id").isin([int(m) for m in held])
    held_relevant = relevant.where(is_held)
    raters = (
        held_relevant.select("user_id")
        .distinct()
        .orderBy(F.xxhash64("user_id", F.lit(seed)), "user_id")
        .limit(max_users)
    )
    cold_relevant = held_relevant.join(raters, "user_id").cache()
    users = (
        factors.where("side = 'user'")
        .join(raters.withColumnRenamed("user_id", "id"), "id")
        .select("id", "features")
        .toPandas()
        .sort_values("id")
    )
    user_f = np.vstack(users["features"].to_numpy()) if len(users) else np.zeros((0, 1))
    seen = {
        u: set(m)
        for u, m in train.join(raters, "user_id")
        .where(is_held)
        .toPandas()
        .groupby("user_id")["movie_id"]
    }
    rows, cold = [], {}
    for reg_lambda in lambdas:
        started = time.perf_counter()
        rows_for = hybrid.item_factors(content, items, reg_lambda, 0.0, held_out=held)
        mine = rows_for[rows_for["id"].isin(held)]
        item_f = np.vstack(mine["features"].to_numpy())
        top = hybrid.top_k(
            user_f @ item_f.T, mine["id"].to_numpy(), users["id"].tolist(), k, exclude=seen
        )
        seconds = time.perf_counter() - started
        scores = ranking_metrics(
            spark.createDataFrame(top, hybrid.TOP_K_SCHEMA), cold_relevant, k, len(held)
        )
        cold[reg_lambda] = scores
        rows.append(
            Trial(
                hybrid.MODEL,
                "cold_movies",
                reg_lambda,
                0.0,
                len(held),
                scores["users_evaluated"],
                scores["precision_at_k"],
                scores["ndcg_at_k"],
                seconds,
            )
        )
        print(
            f"hybrid_tuning: lambda {reg_lambda:g} on {len(held)} held-out movies: "
            f"P@{k} {scores['precision_at_k'] or 0:.4f}",
            flush=True,
        )
    best_lambda = max(
        lambdas, key=lambda v: (comparable(cold[v]["precision_at_k"], cold[v]["ndcg_at_k"]), -v)
    )

    # stage 2: the blend for movies with ratings, at the chosen penalty
    user_rows = factors.where("side = 'user'").select(
        "side", "id", "features", "bias", "global_mean"
    )
    for blend in blends:
        started = time.perf_counter()
        item_rows = hybrid.item_factors(content, items, best_lambda, blend)
        seconds = time.perf_counter() - started
        table = user_rows.unionByName(spark_hybrid.item_frame(spark, item_rows))
        scores = ranking_metrics(
            als.top_k_unseen(table, train, k, users=relevant), relevant, k, catalog
        )
        rows.append(
            Trial(
                hybrid.MODEL,
                "rated_movies",
                best_lambda,
                blend,
                len(item_rows),
                scores["users_evaluated"],
                scores["precision_at_k"],
                scores["ndcg_at_k"],
                seconds,
            )
        )
        print(
            f"hybrid_tuning: lambda {best_lambda:g} blend {blend:g}: "
            f"val P@{k} {scores['precision_at_k'] or 0:.4f}",
            flush=True,
        )
    chosen = max(
        (r for r in rows if r.stage == "rated_movies"),
        key=lambda r: (comparable(r.val_precision_at_k, r.val_ndcg_at_k), -r.blend),
    )
    rows = [r._replace(selected=r is chosen) for r in rows]
    for frame in (factors, train, relevant, cold_relevant):
        frame.unpersist()
    return spark.createDataFrame(rows, SCHEMA)
