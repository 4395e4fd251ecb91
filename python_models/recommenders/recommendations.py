"""Top-K unseen movies for every user, with titles, from the model served for top-K
(served_models) as refit on train + validation, whatever its kind: an ALS variant or the
hybrid (user . item factors from served_factors) or item_item (the user's train + validation
ratings times B). Unseen = not rated in any split. The last `new_movie_slots` places (a
served_models column) go to the user's best new movies, those no rating of the fit data
reaches, scored by the hybrid (movielake.hybrid.with_new_movies); `new_movie` marks them."""

from pyspark.sql import functions as F

from movielake import als, hybrid, item_item
from movielake.recommenders import fit_ratings, setting


def model(dbt, spark):
    k = setting("top_k", dbt.config.meta_get("top_k"), int)
    served = dbt.ref("served_models").where("job = 'top_k'").first()
    splits = dbt.ref("rating_splits")
    fits = dbt.ref("recommender_fit_ratings")
    seen = splits.select("user_id", "movie_id")
    titles = dbt.ref("stg_movielens__movies").select("movie_id", "title")
    if served["model"] == item_item.MODEL:
        weights = dbt.ref("item_item_weights").where("scored_split = 'test'")
        top = item_item.top_k_unseen(weights, fit_ratings(fits, "test"), seen, k)
    else:
        top = als.top_k_unseen(dbt.ref("served_factors").where("job = 'top_k'"), seen, k)
    slots = int(served["new_movie_slots"] or 0)
    factors = hybrid.new_movie_factors(dbt.ref("hybrid_factors").where("scored_split = 'test'"))
    if slots and factors.where("side = 'item'").limit(1).count():  # any new movie at all
        top = hybrid.merge_new_movies(top, als.top_k_unseen(factors, seen, slots), k, slots)
    else:
        top = top.withColumn("new_movie", F.lit(False))
    return (top.join(titles, "movie_id")
            .select("user_id", F.col("rank").cast("int").alias("rank"), "movie_id", "title",
                    "score", "new_movie"))
