"""The item-item model's (EASE, movielake.item_item) lambda grid: each lambda fit on train and
scored on validation by P@K and NDCG@K, as als_tuning scores als_implicit. The Gram matrix is
computed once and solved per lambda. `selected` marks the highest P@K (then NDCG@K)."""

import time
from typing import NamedTuple

from pyspark.sql import functions as F
from pyspark.sql import types as T

from movielake import item_item
from movielake.metrics import comparable, ranking_metrics
from movielake.recommenders import fit_ratings, held_out, setting

SCHEMA = T.StructType([
    T.StructField("model", T.StringType()), T.StructField("reg_lambda", T.DoubleType()),
    T.StructField("weighting", T.StringType()), T.StructField("min_ratings", T.IntegerType()),
    T.StructField("items", T.IntegerType()), T.StructField("neighbours", T.IntegerType()),
    T.StructField("val_precision_at_k", T.DoubleType()),
    T.StructField("val_ndcg_at_k", T.DoubleType()),
    T.StructField("fit_seconds", T.DoubleType()), T.StructField("selected", T.BooleanType()),
])


class Trial(NamedTuple):
    """One lambda of the grid: a row of SCHEMA, in its order."""
    model: str
    reg_lambda: float
    weighting: str
    min_ratings: int
    items: int
    neighbours: int
    val_precision_at_k: float
    val_ndcg_at_k: float
    fit_seconds: float
    selected: bool = False


def model(dbt, spark):
    lambdas = [float(v) for v in setting("lambdas", dbt.config.meta_get("lambdas"), list)]
    weighting = setting("weighting", dbt.config.meta_get("weighting"))
    min_ratings = setting("min_ratings", dbt.config.meta_get("min_ratings"), int)
    max_items = setting("max_items", dbt.config.meta_get("max_items"), int)
    neighbours = setting("neighbours", dbt.config.meta_get("neighbours"), int)
    k = setting("top_k", dbt.config.meta_get("top_k"), int)
    threshold = setting("relevance_threshold", dbt.config.meta_get("relevance_threshold"),
                        float)

    splits = dbt.ref("rating_splits")
    fits = dbt.ref("recommender_fit_ratings")
    train = fit_ratings(fits, "validation").cache()
    relevant = (held_out(splits, "validation", train)
                .where(F.col("rating") >= threshold).cache())
    catalog = dbt.ref("stg_movielens__movies").count()
    # the users scored: those with a relevant validation rating
    history = train.join(relevant.select("user_id").distinct(), "user_id")

    started = time.perf_counter()
    items = item_item.catalogue(train, min_ratings, max_items, " (tuning)")
    gram = item_item.gram(train, items, weighting)
    gram_seconds = time.perf_counter() - started

    rows = []
    for reg_lambda in lambdas:
        weights, seconds = item_item.fit(train, reg_lambda, weighting, min_ratings, max_items,
                                         neighbours, items=items, g=gram)
        ids, b = item_item.dense(weights)
        top = item_item.top_k_scored(ids, b, weighting, history, history, k)
        scores = ranking_metrics(top, relevant, k, catalog)
        rows.append(Trial(item_item.MODEL, reg_lambda, weighting, min_ratings, len(items),
                          neighbours, scores["precision_at_k"], scores["ndcg_at_k"],
                          gram_seconds + seconds))
    best = max(rows, key=lambda r: comparable(r.val_precision_at_k, r.val_ndcg_at_k))
    rows = [r._replace(selected=r is best) for r in rows]
    train.unpersist()
    relevant.unpersist()
    return spark.createDataFrame(rows, SCHEMA)
