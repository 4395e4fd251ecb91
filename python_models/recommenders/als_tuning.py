"""ALS grid search: every variant x rank x regParam fit on train and scored on validation.

als_explicit and als_residual (ALS on what the popularity baseline's biases miss) are scored by
validation RMSE/MAE; als_implicit (ratings as confidence 1 + alpha*r) predicts preference, not
stars, so it is scored by validation P@K and NDCG@K instead. `selected` marks each variant's
best: lowest RMSE, or highest P@K (then NDCG@K) for als_implicit.
"""

import time
from typing import NamedTuple

from pyspark.sql import functions as F
from pyspark.sql import types as T

from movielake import als
from movielake.metrics import ranking_metrics, rating_metrics
from movielake.recommenders import fit_ratings, held_out, setting

SCHEMA = T.StructType([
    T.StructField("model", T.StringType()), T.StructField("rank", T.IntegerType()),
    T.StructField("reg_param", T.DoubleType()), T.StructField("alpha", T.DoubleType()),
    T.StructField("val_rmse", T.DoubleType()), T.StructField("val_mae", T.DoubleType()),
    T.StructField("val_precision_at_k", T.DoubleType()),
    T.StructField("val_ndcg_at_k", T.DoubleType()),
    T.StructField("fit_seconds", T.DoubleType()), T.StructField("selected", T.BooleanType()),
])


class Trial(NamedTuple):
    """One fit of the grid: a row of SCHEMA, in its order."""
    model: str
    rank: int
    reg_param: float
    alpha: float
    val_rmse: float | None
    val_mae: float | None
    val_precision_at_k: float | None
    val_ndcg_at_k: float | None
    fit_seconds: float
    selected: bool = False


def model(dbt, spark):
    ranks = [int(r) for r in setting("ranks", dbt.config.meta_get("ranks"), list)]
    reg_params = [float(r) for r in
                  setting("reg_params", dbt.config.meta_get("reg_params"), list)]
    alpha = setting("alpha", dbt.config.meta_get("alpha"), float)
    max_iter = setting("max_iter", dbt.config.meta_get("max_iter"), int)
    seed = setting("seed", dbt.config.meta_get("seed"), int)
    k = setting("top_k", dbt.config.meta_get("top_k"), int)
    threshold = setting("relevance_threshold", dbt.config.meta_get("relevance_threshold"),
                        float)
    als.set_checkpoint_dir(spark)

    splits = dbt.ref("rating_splits")
    biases = dbt.ref("popularity_biases").where("scored_split = 'validation'")
    train = als.with_biases(fit_ratings(splits, "validation"), biases).cache()
    validation = held_out(splits, "validation", train).cache()
    relevant = validation.where(F.col("rating") >= threshold)
    low, high = train.agg(F.min("rating"), F.max("rating")).first()
    catalog = dbt.ref("stg_movielens__movies").count()

    rows = []
    for variant in als.VARIANTS:
        for rank in ranks:
            for reg_param in reg_params:
                started = time.perf_counter()
                fitted = als.fit(train, variant, rank, reg_param, alpha, max_iter, seed)
                seconds = time.perf_counter() - started
                factors = als.factor_rows(fitted, train, variant).cache()
                rmse = mae = precision = ndcg = None
                if variant == "als_implicit":
                    top = als.top_k_unseen(factors, train, k, users=relevant)
                    scores = ranking_metrics(top, relevant, k, catalog)
                    precision, ndcg = scores["precision_at_k"], scores["ndcg_at_k"]
                else:
                    scores = rating_metrics(als.predict(validation, factors, low, high))
                    rmse, mae = scores["rmse"], scores["mae"]
                factors.unpersist()
                rows.append(Trial(variant, rank, reg_param, alpha, rmse, mae, precision, ndcg,
                                  seconds))
    best = set()
    for variant in als.VARIANTS:
        mine = [t for t in rows if t.model == variant]
        best.add(max(mine, key=lambda t: (t.val_precision_at_k, t.val_ndcg_at_k))
                 if variant == "als_implicit" else min(mine, key=lambda t: t.val_rmse))
    rows = [t._replace(selected=t in best) for t in rows]
    train.unpersist()
    validation.unpersist()
    return spark.createDataFrame(rows, SCHEMA)
