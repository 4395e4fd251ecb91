"""The item-item model (EASE) at its selected lambda (item_item_tuning), fit twice like
als_factors: on train (scored on validation) and on train + validation (scored once on test,
and served). Stored as B's rows, so scoring, serving and fold-in need no refit."""

from pyspark.sql import functions as F

from movielake import item_item
from movielake.recommenders import fit_ratings, setting


def model(dbt, spark):
    min_ratings = setting("min_ratings", dbt.config.meta_get("min_ratings"), int)
    max_items = setting("max_items", dbt.config.meta_get("max_items"), int)
    neighbours = setting("neighbours", dbt.config.meta_get("neighbours"), int)
    chosen = dbt.ref("item_item_tuning").where("selected").first()
    fits = dbt.ref("recommender_fit_ratings")

    parts = []
    for scored_split in ("validation", "test"):
        fit = fit_ratings(fits, scored_split).cache()
        rows, _ = item_item.fit(fit, chosen["reg_lambda"], chosen["weighting"], min_ratings,
                                max_items, neighbours, label=f" ({scored_split})")
        fit.unpersist()
        parts.append(
            spark.createDataFrame(rows, "movie_id int, neighbour_ids array<int>, "
                                        "weights array<double>")
            .select(F.lit(item_item.MODEL).alias("model"),
                    F.lit(scored_split).alias("scored_split"),
                    F.lit(float(chosen["reg_lambda"])).alias("reg_lambda"),
                    F.lit(chosen["weighting"]).alias("weighting"),
                    "movie_id", "neighbour_ids", "weights"))
    return parts[0].unionByName(parts[1])
