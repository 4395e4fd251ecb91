"""Top-K unseen movies for every user, with titles, from the model served for top-K
(served_models) as refit on train + validation, whatever its kind: an ALS variant or the
hybrid (user . item factors from served_factors) or item_item (the user's train + validation
ratings times B). Unseen = not rated in any split. The last `new_movie_slots` places (a
served_models column) go to the user's best new movies, those no rating of the fit data
reaches, scored by the hybrid (movielake.algorithms.hybrid.with_new_movies); `new_movie` marks them.
`reason` says why in one phrase (movielake.serving.explain), computed on the executors: each user's
places meet their fit ratings, grouped by user, and the explainer (the served model's item
rows, the hybrid's, the movies' top tags) travels with the task."""

from functools import partial

from pyspark.sql import functions as F

from movielake.serving.explain import Explainer, explain_batches
from movielake.spark import als, item_item
from movielake.spark import hybrid as spark_hybrid
from movielake.spark.recommenders import fit_ratings, ratings_by_user, setting


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
    factors = spark_hybrid.new_movie_factors(
        dbt.ref("hybrid_factors").where("scored_split = 'test'")
    )
    if slots and factors.where("side = 'item'").limit(1).count():  # any new movie at all
        top = spark_hybrid.merge_new_movies(top, als.top_k_unseen(factors, seen, slots), k, slots)
    else:
        top = top.withColumn("new_movie", F.lit(False))
    top = top.withColumn("rank", F.col("rank").cast("int"))
    reasons = explained(dbt, spark, served, top, fit_ratings(fits, "test"), titles)
    return (
        top.join(titles, "movie_id")
        .join(reasons, ["user_id", "rank"], "left")
        .select("user_id", "rank", "movie_id", "title", "score", "new_movie", "reason")
    )


def explained(dbt, spark, served, top, history, titles):
    """(user_id, rank, reason) for every place of `top`, on the executors."""
    if served["model"] == item_item.MODEL:
        items = (
            dbt.ref("item_item_weights")
            .where((F.col("scored_split") == "test") & (F.col("model") == served["model"]))
            .toPandas()
        )
        settings = items.iloc[0].to_dict() if len(items) else {"model": served["model"]}
    else:
        items = (
            dbt.ref("served_factors")
            .where("job = 'top_k' and side = 'item'")
            .orderBy("id")
            .toPandas()
        )
        settings = {"model": served["model"]}
    new_items = (
        dbt.ref("hybrid_factors")
        .where("scored_split = 'test' and side = 'item'")
        .orderBy("id")
        .toPandas()
    )
    title = {int(m): t for m, t in titles.toPandas().itertuples(index=False)}
    explainer = Explainer(items, settings, new_items, dbt.ref("movie_top_tags").toPandas(), title)
    rated = ratings_by_user(history)
    places = (
        top.groupBy("user_id")
        .agg(F.collect_list(F.struct("rank", "movie_id", "new_movie")).alias("places"))
        .select(
            "user_id",
            F.col("places.rank").alias("ranks"),
            F.col("places.movie_id").alias("movie_ids"),
            F.col("places.new_movie").alias("new_movies"),
        )
    )
    # explaining is compute-bound: spread users over every core
    parts = int(spark.conf.get("spark.sql.shuffle.partitions"))
    return (
        places.join(rated, "user_id", "left")
        .repartition(parts, "user_id")
        .mapInPandas(
            partial(explain_batches, explainer=explainer), "user_id int, rank int, reason string"
        )
    )
