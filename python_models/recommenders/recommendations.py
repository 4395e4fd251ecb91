"""Top-K unseen movies for every user, with titles, from the ALS variant served for top-K
(served_models), as refit on train + validation. Unseen = not rated in any split."""

from pyspark.sql import functions as F

from movielake import als
from movielake.recommenders import setting


def model(dbt, spark):
    k = setting("top_k", dbt.config.meta_get("top_k"), int)
    served = dbt.ref("served_models").where("job = 'top_k'").select("model")
    factors = (dbt.ref("als_factors").where("scored_split = 'test'")
               .join(served, "model"))
    seen = dbt.ref("rating_splits").select("user_id", "movie_id")
    titles = dbt.ref("stg_movielens__movies").select("movie_id", "title")
    return (als.top_k_unseen(factors, seen, k).join(titles, "movie_id")
            .select("user_id", F.col("rank").cast("int").alias("rank"), "movie_id", "title",
                    "score"))
