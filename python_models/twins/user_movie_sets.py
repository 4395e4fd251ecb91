"""Each user's "movie-watching style": the set of movies they rated, ignoring the values.

The first step of the movie-twins job (MinHash LSH needs one sparse 0/1 vector per user). Users
with fewer than `twins_min_ratings` ratings are left out on purpose: on tiny sets the Jaccard
similarity is mostly noise, and MinHashLSH rejects empty vectors outright.
"""

from pyspark.ml.linalg import SparseVector, VectorUDT
from pyspark.sql import functions as F


def model(dbt, spark):
    min_ratings = int(dbt.config.meta_get("min_ratings"))
    ratings = dbt.ref("stg_movielens__ratings")
    # Vector width: one slot per movie id (ids are positive ints).
    width = ratings.agg(F.max("movie_id")).first()[0] + 1

    sets = (
        ratings.groupBy("user_id")
        .agg(F.sort_array(F.collect_set("movie_id")).alias("movie_ids"))
        .withColumn("set_size", F.size("movie_ids"))
        .where(F.col("set_size") >= min_ratings)
    )
    to_vector = F.udf(
        lambda ids: SparseVector(width, ids, [1.0] * len(ids)), VectorUDT()
    )
    return sets.withColumn("movie_vector", to_vector("movie_ids"))
