"""One row per model x split (validation, test): RMSE, MAE, accuracy, P@K, R@K, NDCG@K, MAP@K,
catalog coverage (docs/architecture.md section 4), computed by movielake.spark.metrics with MLlib's
evaluators.

Validation rows come from models fit on train, test rows from the refits on train +
validation. Rating metrics are over the split's pairs whose user and movie occur in the fit
data (what every model can score); ranking metrics over the users with relevant held-out
items, candidates excluding what the user rated in the fit data. als_implicit predicts
preference, not stars: it has no rating metrics, nor have item_item (movielake.spark.item_item,
scored from its stored weights like the ALS variants from their factors) and hybrid (scored
from its factor rows like als_implicit, every movie with content a candidate).
"""

from concurrent.futures import ThreadPoolExecutor

from pyspark.sql import functions as F
from pyspark.sql import types as T

from movielake.algorithms import hybrid
from movielake.spark import als, item_item
from movielake.spark.evaluation import stored_rows, top_lists
from movielake.spark.metrics import ranking_metrics, rating_metrics
from movielake.spark.recommenders import fit_ratings, held_out, setting
from movielake.spark.session import activate

COLUMNS = [
    "model",
    "split",
    "k",
    "rmse",
    "mae",
    "accuracy",
    "precision_at_k",
    "recall_at_k",
    "ndcg_at_k",
    "map_at_k",
    "catalog_coverage",
    "users_evaluated",
]
SCHEMA = T.StructType(
    [
        T.StructField("model", T.StringType()),
        T.StructField("split", T.StringType()),
        T.StructField("k", T.IntegerType()),
    ]
    + [T.StructField(c, T.DoubleType()) for c in COLUMNS[3:-1]]
    + [T.StructField("users_evaluated", T.LongType())]
)


def model(dbt, spark):
    k = setting("top_k", dbt.config.meta_get("top_k"), int)
    threshold = setting("relevance_threshold", dbt.config.meta_get("relevance_threshold"), float)
    splits = dbt.ref("rating_splits")
    fits = dbt.ref("recommender_fit_ratings")
    factors = dbt.ref("als_factors")
    dbt.ref("item_item_weights")  # read through stored_rows: dbt learns the dependency here
    dbt.ref("hybrid_factors")
    models = [r["model"] for r in factors.select("model").distinct().orderBy("model").collect()]
    catalog = dbt.ref("stg_movielens__movies").count()
    popular_predictions = dbt.ref("popularity_predictions")
    popular_top = dbt.ref("popularity_top_k")

    def evaluate(task):
        """One row: a model scored on one split (task: split, model name)."""
        split, name = task
        fit, pairs, relevant, low, high = data[split]
        mine = None
        if name == "popularity":
            scored = popular_predictions.where(F.col("scored_split") == split).join(
                pairs.select("user_id", "movie_id"), ["user_id", "movie_id"]
            )
            rating = rating_metrics(scored)
            top = popular_top.where(F.col("scored_split") == split)
        else:
            mine = stored_rows(name, split, dbt.ref)
            # factor rows are read twice (predictions, lists); EASE's weights once, and large
            mine = mine if name == item_item.MODEL else mine.cache()
            rating = (
                {}
                if name in ("als_implicit", hybrid.MODEL, item_item.MODEL)
                else rating_metrics(als.predict(pairs, mine, low, high))
            )
            top = top_lists(name, mine, fit, k, relevant)
        row = {
            "model": name,
            "split": split,
            "k": k,
            **rating,
            **ranking_metrics(top, relevant, k, catalog),
        }
        if mine is not None:
            mine.unpersist()
        return row

    data = {}
    for split in ("validation", "test"):
        fit = fit_ratings(fits, split).cache()
        pairs = held_out(splits, split, fit).cache()
        low, high = fit.agg(F.min("rating"), F.max("rating")).first()
        data[split] = (fit, pairs, pairs.where(F.col("rating") >= threshold), low, high)
    # two evaluations at a time, in threads on the one session (as als_tuning's grid): one's
    # small jobs and driver-side steps fill the cores the other's scoring leaves idle
    tasks = [
        (split, name)
        for split in data
        for name in ["popularity", *models, item_item.MODEL, hybrid.MODEL]
    ]
    with ThreadPoolExecutor(max_workers=2, initializer=activate, initargs=(spark,)) as pool:
        rows = list(pool.map(evaluate, tasks))
    for fit, pairs, *_ in data.values():
        fit.unpersist()
        pairs.unpersist()
    return spark.createDataFrame([[row.get(c) for c in COLUMNS] for row in rows], SCHEMA)
