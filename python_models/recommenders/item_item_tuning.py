"""The item-item model's (EASE, movielake.spark.item_item) grid: each time kernel width tau
(0 = plain EASE) by each lambda, fit on train and scored on validation by P@K and NDCG@K, as
als_tuning scores als_implicit. The Gram matrix is computed once per tau and solved per
lambda. `selected` marks the highest P@K (then NDCG@K; the first in grid order on a tie, so
plain EASE, tau 0 listed first, keeps a tie).

Every lambda is fit on all of train (the model is the solve, whatever the users), but scored
on a seeded sample of at most `item_item_tuning_max_users` validation users (0: all), as ALS
tuning's last rung is: scoring is the grid's cost at scale (a sparse history times the
catalogue^2 B per user), and 20,000 users rank four lambdas as well as 138,000. Where the scored
users' histories and their whole score matrix fit in the driver's budget
(spark.session.DRIVER_BYTES, as ALS tuning's fits), each setting is scored on the driver (the
same top_k_frame and MLlib's metric definitions in numpy), else on the executors. Each
setting prints one progress line."""

import time
from typing import NamedTuple

from pyspark.sql import functions as F
from pyspark.sql import types as T

from movielake.algorithms import ease, ranking
from movielake.spark import item_item
from movielake.spark.metrics import comparable, ranking_metrics
from movielake.spark.recommenders import fit_ratings, held_out, setting
from movielake.spark.session import within_driver_budget

SCHEMA = T.StructType(
    [
        T.StructField("model", T.StringType()),
        T.StructField("time_tau", T.DoubleType()),
        T.StructField("time_floor", T.DoubleType()),
        T.StructField("reg_lambda", T.DoubleType()),
        T.StructField("weighting", T.StringType()),
        T.StructField("min_ratings", T.IntegerType()),
        T.StructField("items", T.IntegerType()),
        T.StructField("neighbours", T.IntegerType()),
        T.StructField("val_precision_at_k", T.DoubleType()),
        T.StructField("val_ndcg_at_k", T.DoubleType()),
        T.StructField("val_users", T.LongType()),
        T.StructField("fit_seconds", T.DoubleType()),
        T.StructField("selected", T.BooleanType()),
    ]
)


class Trial(NamedTuple):
    """One setting of the grid: a row of SCHEMA, in its order."""

    model: str
    time_tau: float
    time_floor: float | None
    reg_lambda: float
    weighting: str
    min_ratings: int
    items: int
    neighbours: int
    val_precision_at_k: float
    val_ndcg_at_k: float
    val_users: int
    fit_seconds: float
    selected: bool = False


def model(dbt, spark):
    lambdas = [float(v) for v in setting("lambdas", dbt.config.meta_get("lambdas"), list)]
    taus = [float(v) for v in setting("time_taus", dbt.config.meta_get("time_taus"), list)]
    floor = setting("time_floor", dbt.config.meta_get("time_floor"), float)
    weighting = setting("weighting", dbt.config.meta_get("weighting"))
    min_ratings = setting("min_ratings", dbt.config.meta_get("min_ratings"), int)
    max_items = setting("max_items", dbt.config.meta_get("max_items"), int)
    neighbours = setting("neighbours", dbt.config.meta_get("neighbours"), int)
    k = setting("top_k", dbt.config.meta_get("top_k"), int)
    threshold = setting("relevance_threshold", dbt.config.meta_get("relevance_threshold"), float)
    max_users = setting("tuning_max_users", dbt.config.meta_get("tuning_max_users"), int)
    seed = setting("seed", dbt.config.meta_get("seed"), int)

    splits = dbt.ref("rating_splits")
    fits = dbt.ref("recommender_fit_ratings")
    train = fit_ratings(fits, "validation", timed=any(t > 0 for t in taus)).cache()
    relevant = held_out(splits, "validation", train).where(F.col("rating") >= threshold)
    # the users scored: those with a relevant validation rating, a seeded sample of them at
    # scale (the first in the order of a seeded hash)
    scored = (
        relevant.select("user_id").distinct().orderBy(F.xxhash64("user_id", F.lit(seed)), "user_id")
    )
    if max_users > 0:
        scored = scored.limit(max_users)
    scored = scored.cache()
    relevant = relevant.join(F.broadcast(scored), "user_id").cache()
    users = scored.count()
    catalog = dbt.ref("stg_movielens__movies").count()
    history = train.join(F.broadcast(scored), "user_id")

    items = item_item.catalogue(train, min_ratings, max_items, " (tuning)")
    # on the driver: each setting is a numpy product and sort, not a shuffle of the histories
    # and a task closure of B per setting; 3 numbers per rating
    rated = history.count()
    on_driver = within_driver_budget(max(3 * rated, users * len(items)))
    if on_driver:
        history_rows = history.select("user_id", "movie_id", "rating").toPandas()
        relevant_rows = relevant.select("user_id", "movie_id").toPandas()
    print(
        f"item_item_tuning: {len(taus)} taus x {len(lambdas)} lambdas on {len(items):,} movies, "
        f"scored on {users:,} validation users ({rated:,} ratings) on the "
        + ("driver" if on_driver else "executors"),
        flush=True,
    )

    def score(b):
        if on_driver:
            top = ease.top_k_frame(items, b, weighting, history_rows, history_rows, k)
            return ranking.ranking_metrics(top, relevant_rows, k, catalog)
        top = item_item.top_k_scored(items, b, weighting, history, history, k)
        return ranking_metrics(top, relevant, k, catalog)

    rows = []
    grid = len(taus) * len(lambdas)
    for tau in taus:
        started = time.perf_counter()
        gram = item_item.gram(train, items, weighting, tau, floor)
        gram_seconds = time.perf_counter() - started
        print(f"item_item_tuning: tau {tau:g}s Gram matrix {gram_seconds:.1f}s", flush=True)
        for reg_lambda in lambdas:
            started = time.perf_counter()
            b = item_item.pruned(item_item.solve(gram, reg_lambda), neighbours)
            seconds = time.perf_counter() - started
            scores = score(b)
            rows.append(
                Trial(
                    item_item.MODEL,
                    tau,
                    floor if tau > 0 else None,
                    reg_lambda,
                    weighting,
                    min_ratings,
                    len(items),
                    neighbours,
                    scores["precision_at_k"],
                    scores["ndcg_at_k"],
                    users,
                    gram_seconds + seconds,
                )
            )
            print(
                f"item_item_tuning [{len(rows)}/{grid}] tau {tau:g}s lambda {reg_lambda:g}: "
                f"val P@{k} {scores['precision_at_k'] or 0:.4f} NDCG@{k} "
                f"{scores['ndcg_at_k'] or 0:.4f}; solve {seconds:.1f}s, total "
                f"{time.perf_counter() - started:.1f}s",
                flush=True,
            )
    best = max(rows, key=lambda r: comparable(r.val_precision_at_k, r.val_ndcg_at_k))
    rows = [r._replace(selected=r is best) for r in rows]
    for frame in (train, relevant, scored):
        frame.unpersist()
    return spark.createDataFrame(rows, SCHEMA)
