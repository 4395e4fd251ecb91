"""Model metrics as defined once in docs/architecture.md section 4, on Spark DataFrames with
MLlib's evaluators: rating error (RMSE, MAE, accuracy = 1 - MAE/5) and top-K ranking quality."""

from __future__ import annotations

from pyspark.ml.evaluation import RankingEvaluator
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from movielake.algorithms import ranking
from movielake.spark import session

RANKING_METRICS = {  # our column name -> MLlib RankingEvaluator metric
    "precision_at_k": "precisionAtK",
    "recall_at_k": "recallAtK",
    "ndcg_at_k": "ndcgAtK",
    "map_at_k": "meanAveragePrecisionAtK",
}


def comparable(*values: float | None) -> tuple:
    """Metric values as a key for choosing a setting: rounded to 9 decimals (None as 0).
    MLlib's evaluators sum over users in the order partitions arrive, so two settings with the
    same result can differ in the last bits; such a tie must go to the rule that follows the
    metrics (the smaller setting), not to that noise, or rebuilds choose differently."""
    return tuple(round(v or 0.0, 9) for v in values)


def rating_metrics(
    predictions: DataFrame, label: str = "rating", prediction: str = "prediction"
) -> dict:
    """RMSE, MAE and accuracy over the scored pairs (rows with a null/NaN prediction must have
    been dropped, as ALS's coldStartStrategy="drop" does)."""
    # one aggregation job for both figures (RegressionEvaluator would scan the input twice)
    error = F.col(prediction).cast("double") - F.col(label).cast("double")
    row = predictions.agg(
        F.sqrt(F.avg(error * error)).alias("rmse"),
        F.avg(F.abs(error)).alias("mae"),
        F.count(F.lit(1)).alias("n"),
    ).first()
    if not row["n"]:
        raise ValueError("rating_metrics: no scored pairs to evaluate")
    return {"rmse": row["rmse"], "mae": row["mae"], "accuracy": 1.0 - row["mae"] / 5.0}


def ranking_metrics(recommended: DataFrame, relevant: DataFrame, k: int, catalog_size: int) -> dict:
    """P@K, R@K, NDCG@K, MAP@K over the users that have relevant items, and catalog coverage.

    recommended: (user_id, movie_id, rank) with rank 1..K; relevant: (user_id, movie_id).
    A user with relevant items but no recommendations scores 0 on every ranking metric."""
    # on the driver (algorithms.ranking: the same definitions) when the relevant pairs and
    # their users' lists are small (session.LOCAL_ROWS each); else MLlib's evaluators, six jobs
    wanted = session.collected(relevant.select("user_id", "movie_id"))
    if wanted is not None and wanted["user_id"].nunique() * k <= session.LOCAL_ROWS:
        # only the relevant users' lists count (as below), K rows at most each: decided before
        # the lists are computed, so that they are never computed twice (the users go back from
        # the driver, so that `relevant` is not computed twice either)
        users = relevant.sparkSession.createDataFrame(
            wanted[["user_id"]].drop_duplicates().astype("int64")
        )
        top = (
            recommended.where(F.col("rank") <= k)
            .join(F.broadcast(users), "user_id", "left_semi")
            .select("user_id", "movie_id", "rank")
            .toPandas()
        )
        return ranking.ranking_metrics(top, wanted, k, catalog_size)
    predicted = (
        recommended.where(F.col("rank") <= k)
        .groupBy("user_id")
        .agg(F.array_sort(F.collect_list(F.struct("rank", "movie_id"))).alias("recs"))
        .select(
            "user_id",
            F.transform("recs", lambda r: r["movie_id"].cast("double")).alias("prediction"),
        )
    )
    labels = relevant.groupBy("user_id").agg(
        F.collect_set(F.col("movie_id").cast("double")).alias("label")
    )
    per_user = (
        labels.join(predicted, "user_id", "left")
        .select(
            "user_id",
            "label",
            F.coalesce("prediction", F.array().cast("array<double>")).alias("prediction"),
        )
        .cache()
    )
    users = per_user.count()
    result: dict = {"users_evaluated": users}
    for column, metric in RANKING_METRICS.items():
        result[column] = (
            RankingEvaluator(metricName=metric, k=k).evaluate(per_user) if users else None
        )
    covered = per_user.select(F.explode("prediction").alias("m")).distinct().count()
    result["catalog_coverage"] = covered / catalog_size if catalog_size else None
    per_user.unpersist()
    return result
