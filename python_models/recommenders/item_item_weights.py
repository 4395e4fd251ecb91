"""The item-item model (EASE) at its selected lambda and time kernel (item_item_tuning), fit
twice like als_factors: on train (scored on validation) and on train + validation (scored once
on test, and served). Stored as B's rows, so scoring, serving and fold-in need no refit (nor
timestamps: the time kernel only shapes G)."""

import math

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
    # B is catalogue^2 numbers per split (4,749^2 on ml-latest-small: 330 MB): files of about
    # 16 MB of contiguous movie ids let a reader of a few movies' rows (one user's fold-in,
    # `movielake recommend`) open only their files, by Delta's per-file min/max of movie_id
    size = 2 * 12 * len(items) ** 2
    files = min(256, max(2, math.ceil(size / 16e6)))
    return parts[0].unionByName(parts[1]).repartitionByRange(files, "scored_split", "movie_id")
