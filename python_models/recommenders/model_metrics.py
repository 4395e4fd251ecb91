"""One row per model x split (validation, test): RMSE, MAE, accuracy, P@K, R@K, NDCG@K, MAP@K,
catalog coverage (docs/architecture.md section 4), computed by movielake.metrics with MLlib's
evaluators.

Validation rows come from models fit on train, test rows from the refits on train +
validation. Rating metrics are over the split's pairs whose user and movie occur in the fit
data (what every model can score); ranking metrics over the users with relevant held-out
items, candidates excluding what the user rated in the fit data. als_implicit predicts
preference, not stars: it has no rating metrics, nor have item_item (movielake.item_item,
scored from its stored weights like the ALS variants from their factors) and hybrid (scored
from its factor rows like als_implicit, every movie with content a candidate).
"""

from pyspark.sql import functions as F
from pyspark.sql import types as T

from movielake import als, hybrid, item_item
from movielake.metrics import ranking_metrics, rating_metrics
from movielake.recommenders import fit_ratings, held_out, setting

COLUMNS = ["model", "split", "k", "rmse", "mae", "accuracy", "precision_at_k", "recall_at_k",
           "ndcg_at_k", "map_at_k", "catalog_coverage", "users_evaluated"]
SCHEMA = T.StructType(
    [T.StructField("model", T.StringType()), T.StructField("split", T.StringType()),
     T.StructField("k", T.IntegerType())]
    + [T.StructField(c, T.DoubleType()) for c in COLUMNS[3:-1]]
    + [T.StructField("users_evaluated", T.LongType())])


def model(dbt, spark):
    k = setting("top_k", dbt.config.meta_get("top_k"), int)
    threshold = setting("relevance_threshold", dbt.config.meta_get("relevance_threshold"),
                        float)
    splits = dbt.ref("rating_splits")
    fits = dbt.ref("recommender_fit_ratings")
    factors = dbt.ref("als_factors")
    weights = dbt.ref("item_item_weights")
    hybrid_rows = dbt.ref("hybrid_factors")
    models = [r["model"] for r in factors.select("model").distinct().orderBy("model").collect()]
    catalog = dbt.ref("stg_movielens__movies").count()
    popular_predictions = dbt.ref("popularity_predictions")
    popular_top = dbt.ref("popularity_top_k")

    rows = []
    for split in ("validation", "test"):
        fit = fit_ratings(fits, split).cache()
        pairs = held_out(splits, split, fit).cache()
        relevant = pairs.where(F.col("rating") >= threshold)
        low, high = fit.agg(F.min("rating"), F.max("rating")).first()

        scored = (popular_predictions.where(F.col("scored_split") == split)
                  .join(pairs.select("user_id", "movie_id"), ["user_id", "movie_id"]))
        rating = rating_metrics(scored)
        ranking = ranking_metrics(popular_top.where(F.col("scored_split") == split),
                                  relevant, k, catalog)
        rows.append({"model": "popularity", "split": split, "k": k, **rating, **ranking})

        for name in models:
            mine = factors.where((F.col("model") == name) & (F.col("scored_split") == split)) \
                .cache()
            rating = ({} if name == "als_implicit"
                      else rating_metrics(als.predict(pairs, mine, low, high)))
            ranking = ranking_metrics(als.top_k_unseen(mine, fit, k, users=relevant),
                                      relevant, k, catalog)
            rows.append({"model": name, "split": split, "k": k, **rating, **ranking})
            mine.unpersist()
        top = item_item.top_k_unseen(weights.where(F.col("scored_split") == split), fit, fit, k,
                                     users=relevant)
        rows.append({"model": item_item.MODEL, "split": split, "k": k,
                     **ranking_metrics(top, relevant, k, catalog)})
        mine = hybrid_rows.where(F.col("scored_split") == split)
        rows.append({"model": hybrid.MODEL, "split": split, "k": k,
                     **ranking_metrics(als.top_k_unseen(mine, fit, k, users=relevant),
                                       relevant, k, catalog)})
        fit.unpersist()
        pairs.unpersist()
    return spark.createDataFrame([[row.get(c) for c in COLUMNS] for row in rows], SCHEMA)
