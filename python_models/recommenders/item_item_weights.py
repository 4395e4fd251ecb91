"""The item-item model (EASE) at its selected lambda and time kernel (item_item_tuning), fit
twice like als_factors: on train (scored on validation) and on train + validation (scored once
on test, and served). Stored as B's rows, so scoring, serving and fold-in need no refit (nor
timestamps: the time kernel only shapes G)."""

from pyspark.sql import functions as F

from movielake.spark import item_item
from movielake.spark.recommenders import fit_ratings, setting


def model(dbt, spark):
    min_ratings = setting("min_ratings", dbt.config.meta_get("min_ratings"), int)
    max_items = setting("max_items", dbt.config.meta_get("max_items"), int)
    neighbours = setting("neighbours", dbt.config.meta_get("neighbours"), int)
    chosen = dbt.ref("item_item_tuning").where("selected").first()
    fits = dbt.ref("recommender_fit_ratings")
    tau, floor = float(chosen["time_tau"]), chosen["time_floor"]

    # B is catalogue^2 numbers per split (4,455^2 on ml-latest-small: 238 MB with their ids),
    # written as weight_frame's tasks make it: files of contiguous movie ids, no shuffle
    parts = []
    for scored_split in ("validation", "test"):
        fit = fit_ratings(fits, scored_split, timed=tau > 0).cache()
        items = item_item.catalogue(fit, min_ratings, max_items, f" ({scored_split})")
        g = item_item.gram(fit, items, chosen["weighting"], tau, floor or 0.0)
        b = item_item.solve(g, chosen["reg_lambda"])
        del g
        fit.unpersist()
        parts.append(
            item_item.weight_frame(spark, items, b, neighbours).select(
                F.lit(item_item.MODEL).alias("model"),
                F.lit(scored_split).alias("scored_split"),
                F.lit(float(chosen["reg_lambda"])).alias("reg_lambda"),
                F.lit(tau).alias("time_tau"),
                F.lit(floor).cast("double").alias("time_floor"),
                F.lit(chosen["weighting"]).alias("weighting"),
                "movie_id",
                "neighbour_ids",
                "weights",
            )
        )
    return parts[0].unionByName(parts[1])
