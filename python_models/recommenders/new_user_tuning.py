"""The shrinkage k of a new user's fold-in towards popularity (movielake.algorithms.shrinkage:
w(n) = n / (n + k) on the fold-in, the rest on popularity), tuned on validation users, never
on the test users cold_start_metrics reports.

Validation users are drawn from cold_start_splits' `fit` users as that model draws its new
users (a seeded sample of up to `cold_start_new_users` users with at least
`cold_start_min_user_ratings` ratings, at most a tenth of those eligible; another seed salt)
and held out whole: als_implicit is fit on the other fit ratings at als_tuning's selected
setting, the hybrid's item rows are mapped onto it at hybrid_tuning's penalty and blend,
item_item is fit on them at item_item_tuning's setting, and each validation user is folded in
from their first n ratings by time (n in `cold_start_known_ratings`) and judged on their later
ones, as cold_start_metrics judges its new users (movielake.spark.cold_start). Per model
(hybrid, als_implicit, item_item: whichever served_models serves), each k of
`new_user_shrinkages` at each n; `selected` marks each model's k with the best mean P@K over
the n (then mean NDCG@K, then the smaller k). k = 0 is the fold-in alone.
"""

import math
import time

import numpy as np
import pandas as pd
from pyspark.sql import Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from movielake.algorithms import hybrid
from movielake.algorithms.shrinkage import shrunk
from movielake.spark import als, item_item
from movielake.spark.cold_start import (
    first_ratings,
    fit_item_item,
    fit_models,
    folded_scores,
    item_item_scores,
    list_metrics,
)
from movielake.spark.metrics import comparable
from movielake.spark.recommenders import setting

SCHEMA = T.StructType(
    [
        T.StructField("model", T.StringType()),
        T.StructField("shrinkage", T.DoubleType()),
        T.StructField("known_ratings", T.IntegerType()),
        T.StructField("users_evaluated", T.LongType()),
        T.StructField("val_precision_at_k", T.DoubleType()),
        T.StructField("val_ndcg_at_k", T.DoubleType()),
        T.StructField("selected", T.BooleanType()),
    ]
)
MODELS = (hybrid.MODEL, "als_implicit", item_item.MODEL)  # the top-K models with a fold-in


def model(dbt, spark):
    # (dbt finds the meta a model reads in its plain calls, not inside a comprehension)
    shrinkages = setting("shrinkages", dbt.config.meta_get("shrinkages"), list)
    shrinkages = sorted(float(v) for v in shrinkages)
    buckets = setting("tag_buckets", dbt.config.meta_get("tag_buckets"), int)
    seed = setting("seed", dbt.config.meta_get("seed"), int)
    max_iter = setting("max_iter", dbt.config.meta_get("max_iter"), int)
    block_setting = setting("num_blocks", dbt.config.meta_get("num_blocks"), int)
    new_users = setting("new_users", dbt.config.meta_get("new_users"), int)
    min_ratings = setting("min_user_ratings", dbt.config.meta_get("min_user_ratings"), int)
    known_counts = setting("known_ratings", dbt.config.meta_get("known_ratings"), list)
    known_counts = sorted(int(v) for v in known_counts)
    k = setting("top_k", dbt.config.meta_get("top_k"), int)
    threshold = setting("relevance_threshold", dbt.config.meta_get("relevance_threshold"), float)
    max_items = setting("max_items", dbt.config.meta_get("max_items"), int)
    als.set_checkpoint_dir(spark)
    started = time.perf_counter()

    chosen = dbt.ref("als_tuning").where("selected and model = 'als_implicit'").first()
    tuned = dbt.ref("hybrid_tuning").where("selected").first()
    ease_chosen = dbt.ref("item_item_tuning").where("selected").first()
    fit = (
        dbt.ref("cold_start_splits")
        .where("role = 'fit'")
        .select("user_id", "movie_id", "rating", "rated_at")
    )
    held = validation_users(fit, seed, new_users, min_ratings).cache()
    train = fit.join(held, "user_id", "left_anti").select("user_id", "movie_id", "rating").cache()
    content = hybrid.Content(dbt.ref("movie_content_features").toPandas(), buckets)
    fitted = fit_models(train, content, chosen, tuned, max_iter, seed, block_setting)
    item_rows = {hybrid.MODEL: fitted.hybrid_items, "als_implicit": fitted.als_items}
    ease_fit = fit_item_item(train, ease_chosen, max_items)
    # a validation user's ratings numbered by time, as cold_start_splits numbers a new user's
    order = Window.partitionBy("user_id").orderBy("rated_at", "movie_id")
    ratings = (
        fit.join(held, "user_id")
        .withColumn("user_rating_order", F.row_number().over(order))
        .select("user_id", "movie_id", "rating", "user_rating_order")
        .toPandas()
    )

    fitted_at = time.perf_counter()
    rows = []
    for n in known_counts:
        shown = first_ratings(ratings, n, threshold)
        popular = list_metrics(
            np.tile(fitted.counts, (len(shown.users), 1)),
            content.movie_ids,
            shown.users,
            shown.relevant,
            shown.exclude,
            k,
        )
        print(
            f"new_user_tuning: {n} known: popularity P@{k} {popular['precision_at_k'] or 0:.4f} "
            f"NDCG@{k} {popular['ndcg_at_k'] or 0:.4f} ({len(shown.users)} users)",
            flush=True,
        )
        for name in MODELS:
            if name == item_item.MODEL:
                scores, used = item_item_scores(shown.known, shown.users, ease_fit, content)
            else:
                scores, used = folded_scores(
                    shown.known, shown.users, item_rows[name], content, chosen
                )
            for shrinkage in shrinkages:
                result = list_metrics(
                    shrunk(scores, fitted.counts, used, shrinkage),
                    content.movie_ids,
                    shown.users,
                    shown.relevant,
                    shown.exclude,
                    k,
                )
                rows.append(
                    [
                        name,
                        shrinkage,
                        n,
                        result["users_evaluated"],
                        result["precision_at_k"],
                        result["ndcg_at_k"],
                        False,
                    ]
                )
                print(
                    f"new_user_tuning: {name} k={shrinkage:g}, {n} known: "
                    f"P@{k} {result['precision_at_k'] or 0:.4f} "
                    f"NDCG@{k} {result['ndcg_at_k'] or 0:.4f}",
                    flush=True,
                )
    frame = pd.DataFrame(rows, columns=SCHEMA.fieldNames())
    for name, mine in frame.groupby("model"):
        means = mine.groupby("shrinkage")[["val_precision_at_k", "val_ndcg_at_k"]].mean()
        best = max(
            means.index,
            key=lambda s: (
                comparable(means.loc[s, "val_precision_at_k"], means.loc[s, "val_ndcg_at_k"]),
                -s,
            ),
        )
        frame.loc[(frame["model"] == name) & (frame["shrinkage"] == best), "selected"] = True
        print(f"new_user_tuning: {name}: k = {best:g}", flush=True)
    print(
        f"new_user_tuning: fits and validation ratings {fitted_at - started:.1f}s, "
        f"{len(rows)} lists scored {time.perf_counter() - fitted_at:.1f}s",
        flush=True,
    )
    for cached in (held, train):
        cached.unpersist()
    return spark.createDataFrame(frame, SCHEMA)


def validation_users(fit, seed: int, new_users: int, min_ratings: int):
    """(user_id) of the validation users: cold_start_splits' draw of new users, made among the
    fit users with its own salt."""
    eligible = fit.groupBy("user_id").count().where(F.col("count") >= min_ratings)
    take = min(new_users, math.ceil(eligible.count() / 10))
    draw = F.pmod(F.xxhash64(F.lit(seed), F.lit("validation user"), "user_id"), F.lit(1000000))
    return eligible.orderBy(draw, "user_id").limit(take).select("user_id")
