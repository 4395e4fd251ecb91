"""Per pair: how alike the two users rate the movies both rated (Pearson correlation), for the
movie twins (user_twins) and, as the baseline, as many random pairs of users from
user_movie_sets drawn with `twins_random_seed` (twin pairs excluded).

The correlation is undefined, and left null with the reason stated, when the pair has fewer than
2 co-rated movies or when either user gave all the co-rated movies the same rating.
"""

from pyspark.sql import functions as F
from pyspark.sql import types as T

from movielake.algorithms.twins import random_pairs
from movielake.data.settings import setting

PAIRS = T.StructType(
    [
        T.StructField("pair_group", T.StringType()),
        T.StructField("user_a", T.IntegerType()),
        T.StructField("user_b", T.IntegerType()),
    ]
)


def model(dbt, spark):
    seed = setting("random_seed", dbt.config.meta_get("random_seed"), int)
    twins = [
        (r.user_a, r.user_b) for r in dbt.ref("user_twins").select("user_a", "user_b").collect()
    ]
    users = [r.user_id for r in dbt.ref("user_movie_sets").select("user_id").collect()]
    drawn = random_pairs(users, len(twins), seed, exclude=set(twins))
    pairs = spark.createDataFrame(
        [("twins", a, b) for a, b in twins] + [("random", a, b) for a, b in drawn], PAIRS
    )

    ratings = dbt.ref("stg_movielens__ratings")
    rated_a = ratings.select(
        F.col("user_id").alias("user_a"), "movie_id", F.col("rating").alias("rating_a")
    )
    rated_b = ratings.select(
        F.col("user_id").alias("user_b"), "movie_id", F.col("rating").alias("rating_b")
    )
    co_rated = (
        pairs.join(rated_a, "user_a")
        .join(rated_b, ["user_b", "movie_id"])
        .groupBy("pair_group", "user_a", "user_b")
        .agg(
            F.count("*").cast("int").alias("co_rated"),
            F.corr("rating_a", "rating_b").alias("r"),
            F.least(F.stddev_pop("rating_a"), F.stddev_pop("rating_b")).alias("spread"),
        )
    )
    reason = F.when(F.col("co_rated") < 2, "fewer_than_2_co_rated").when(
        F.col("spread") == 0, "zero_variance"
    )
    return (
        pairs.join(co_rated, ["pair_group", "user_a", "user_b"], "left")
        .fillna(0, subset=["co_rated"])
        .withColumn("undefined_reason", reason)
        # Clamp float rounding (e.g. 1.0000000000000002) into the definition's range.
        .withColumn(
            "pearson", F.when(reason.isNull(), F.greatest(F.lit(-1.0), F.least(F.lit(1.0), "r")))
        )
        .select(
            "pair_group",
            "user_a",
            "user_b",
            "co_rated",
            F.col("pearson").cast("double"),
            "undefined_reason",
        )
    )
