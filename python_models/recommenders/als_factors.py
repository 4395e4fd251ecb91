"""Each ALS variant's selected settings (als_tuning), fit twice: on train (scored on
validation) and refit on train + validation (scored once on test, and served). Stored as
factor rows, so scoring, serving and `movielake recommend` need no retraining."""

import time

from pyspark.sql import functions as F

from movielake.spark import als
from movielake.spark.recommenders import fit_ratings, setting


def model(dbt, spark):
    max_iter = setting("max_iter", dbt.config.meta_get("max_iter"), int)
    seed = setting("seed", dbt.config.meta_get("seed"), int)
    user_damping = setting("user_damping", dbt.config.meta_get("user_damping"), float)
    block_setting = setting("num_blocks", dbt.config.meta_get("num_blocks"), int)
    als.set_checkpoint_dir(spark)
    fits = dbt.ref("recommender_fit_ratings")
    chosen = dbt.ref("als_tuning").where("selected").collect()

    parts = []
    for scored_split in ("validation", "test"):
        biases = dbt.ref("popularity_biases").where(F.col("scored_split") == scored_split)
        fit = als.with_biases(fit_ratings(fits, scored_split), biases).cache()
        blocks = als.num_blocks(fit.count(), block_setting)
        for row in chosen:
            started = time.perf_counter()
            fitted = als.fit(
                fit,
                row["model"],
                row["rank"],
                row["reg_param"],
                row["alpha"],
                max_iter,
                seed,
                blocks,
            )
            print(
                f"als_factors: {row['model']} rank {row['rank']} reg_param "
                f"{row['reg_param']} on {scored_split} fit data: "
                f"{time.perf_counter() - started:.1f}s",
                flush=True,
            )
            parts.append(
                als.factor_rows(fitted, fit, row["model"])
                .select(
                    F.lit(row["model"]).alias("model"),
                    F.lit(scored_split).alias("scored_split"),
                    F.lit(row["rank"]).alias("rank"),
                    F.lit(row["reg_param"]).alias("reg_param"),
                    F.lit(row["alpha"]).alias("alpha"),
                    F.lit(user_damping).alias("user_damping"),
                    "side",
                    "id",
                    "features",
                    "bias",
                    "global_mean",
                )
                # materialise now: the next fit reuses the same cached input
                .localCheckpoint()
            )
    result = parts[0]
    for part in parts[1:]:
        result = result.unionByName(part)
    return result
