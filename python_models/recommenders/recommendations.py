"""Top-K unseen movies for every user, with titles, from the model served for top-K
(served_models) as refit on train + validation, whatever its kind: an ALS variant or the
hybrid (user . item factors from served_factors; the hybrid's cover movies nobody rated) or
item_item (the user's train + validation ratings times B). Unseen = not rated in any split."""

from pyspark.sql import functions as F

from movielake import als, item_item
from movielake.recommenders import fit_ratings, setting


def model(dbt, spark):
    k = setting("top_k", dbt.config.meta_get("top_k"), int)
    served = dbt.ref("served_models").where("job = 'top_k'").select("model")
    splits = dbt.ref("rating_splits")
    fits = dbt.ref("recommender_fit_ratings")
    seen = splits.select("user_id", "movie_id")
    titles = dbt.ref("stg_movielens__movies").select("movie_id", "title")
    if served.first()["model"] == item_item.MODEL:
        weights = dbt.ref("item_item_weights").where("scored_split = 'test'")
        top = item_item.top_k_unseen(weights, fit_ratings(fits, "test"), seen, k)
    else:
        top = als.top_k_unseen(dbt.ref("served_factors").where("job = 'top_k'"), seen, k)
    return (top.join(titles, "movie_id")
            .select("user_id", F.col("rank").cast("int").alias("rank"), "movie_id", "title",
                    "score"))
