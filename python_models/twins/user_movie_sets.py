"""Each user's "movie-watching style": the set of movies they rated, ignoring the values.

The first step of the movie-twins job (MinHash LSH needs one sparse 0/1 vector per user). Users
with fewer than `twins_min_ratings` ratings (and any empty set) are left out on purpose: on tiny
sets the Jaccard similarity is mostly noise, and MinHashLSH rejects empty vectors outright.
"""

from movielake.data.settings import setting
from movielake.spark.twins import movie_sets


def model(dbt, spark):
    min_ratings = setting("min_ratings", dbt.config.meta_get("min_ratings"), int)
    return movie_sets(dbt.ref("stg_movielens__ratings"), min_ratings)
