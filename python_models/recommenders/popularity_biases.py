"""The popularity baseline's parameters, per split it scores: the global mean, each movie's
damped bias and each user's damped bias over the movie biases. The formulas are
movielake.algorithms.baseline's, the same functions that give a new user's bias at fold-in."""

from pyspark.sql import functions as F

from movielake.algorithms.baseline import damped_bias, movie_residual, user_residual
from movielake.spark.recommenders import setting


def model(dbt, spark):
    item_damping = setting("item_damping", dbt.config.meta_get("item_damping"), float)
    user_damping = setting("user_damping", dbt.config.meta_get("user_damping"), float)
    fit = dbt.ref("recommender_fit_ratings").select("scored_split", "user_id", "movie_id", "rating")

    means = fit.groupBy("scored_split").agg(F.avg("rating").alias("global_mean"))
    # global_mean is one value per split: grouping by it carries it to the output rows
    rated = fit.join(means, "scored_split")
    movies = rated.groupBy("scored_split", "global_mean", "movie_id").agg(
        F.count(F.lit(1)).alias("n_ratings"),
        damped_bias(
            movie_residual(F.col("rating"), F.col("global_mean")), item_damping, F.sum, F.count
        ).alias("bias"),
    )
    users = (
        rated.join(
            movies.select("scored_split", "movie_id", F.col("bias").alias("movie_bias")),
            ["scored_split", "movie_id"],
        )
        .groupBy("scored_split", "global_mean", "user_id")
        .agg(
            F.count(F.lit(1)).alias("n_ratings"),
            damped_bias(
                user_residual(F.col("rating"), F.col("global_mean"), F.col("movie_bias")),
                user_damping,
                F.sum,
                F.count,
            ).alias("bias"),
        )
    )

    def entity(frame, kind: str, key: str):
        return frame.select(
            "scored_split",
            F.lit(kind).alias("entity"),
            F.col(key).cast("int").alias("entity_id"),
            F.col("n_ratings").cast("bigint").alias("n_ratings"),
            "bias",
            "global_mean",
        )

    return entity(movies, "movie", "movie_id").unionByName(entity(users, "user", "user_id"))
