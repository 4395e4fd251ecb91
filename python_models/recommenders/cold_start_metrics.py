"""How each model copes with what it has never seen (cold_start_splits), by P@K, R@K, NDCG@K
and MAP@K (MLlib's definitions, movielake.spark.metrics; scored on the driver):

cold_movies: one als_implicit fit (als_tuning's selected setting) on the `fit` ratings, which
  hold no rating of the cold movies. Each user with ratings of cold movies (at most
  `cold_start_max_users`, a seeded sample) gets the cold movies ranked, all of them
  candidates; the relevant ones are those the user rated (at least `relevance_threshold`).
new_users: the held-out users show their first n ratings (by time, n in
  `cold_start_known_ratings`); every movie but those n is a candidate, the relevant ones are
  the user's later ratings.

Models: hybrid (its tuned penalty and blend from hybrid_tuning, on this fit's ALS factors; a
new user folded in on its item rows), als_implicit (new users only: a cold movie has no ALS
factors), content (cosine of the movie's content to the mean content of the user's liked
movies), popularity (most rated; a cold movie has no ratings, so it scores by its genres'
mean ratings per movie) and random (seeded). New users are also ranked by item_item (EASE at
item_item_tuning's setting, fit on the same ratings; a new user is their ratings times B) and
by each fold-in shrunk towards popularity by new_user_tuning's k (hybrid_shrunk,
als_implicit_shrunk, item_item_shrunk; movielake.algorithms.shrinkage): the rule
`movielake recommend`, the app and the stream serve a new user by.
The fit, the fold-in and the new users' lists are movielake.spark.cold_start's, shared with
new_user_tuning.
"""

import numpy as np
import pandas as pd
from pyspark.sql import functions as F
from pyspark.sql import types as T

from movielake.algorithms import hybrid
from movielake.algorithms.shrinkage import shrunk
from movielake.spark import als, item_item
from movielake.spark.cold_start import (
    first_ratings,
    fit_item_item,
    fit_models,
    folded_scores,
    item_item_scores,
    list_metrics,
)
from movielake.spark.recommenders import setting

METRICS = ["precision_at_k", "recall_at_k", "ndcg_at_k", "map_at_k"]
SCHEMA = T.StructType(
    [
        T.StructField("scenario", T.StringType()),
        T.StructField("known_ratings", T.IntegerType()),
        T.StructField("model", T.StringType()),
        T.StructField("k", T.IntegerType()),
    ]
    + [T.StructField(c, T.DoubleType()) for c in METRICS]
    + [T.StructField("users_evaluated", T.LongType()), T.StructField("candidates", T.LongType())]
)


def model(dbt, spark):
    buckets = setting("tag_buckets", dbt.config.meta_get("tag_buckets"), int)
    seed = setting("seed", dbt.config.meta_get("seed"), int)
    max_iter = setting("max_iter", dbt.config.meta_get("max_iter"), int)
    block_setting = setting("num_blocks", dbt.config.meta_get("num_blocks"), int)
    max_users = setting("max_users", dbt.config.meta_get("max_users"), int)
    known_counts = setting("known_ratings", dbt.config.meta_get("known_ratings"), list)
    known_counts = sorted(int(v) for v in known_counts)
    k = setting("top_k", dbt.config.meta_get("top_k"), int)
    threshold = setting("relevance_threshold", dbt.config.meta_get("relevance_threshold"), float)
    max_items = setting("max_items", dbt.config.meta_get("max_items"), int)
    als.set_checkpoint_dir(spark)

    chosen = dbt.ref("als_tuning").where("selected and model = 'als_implicit'").first()
    tuned = dbt.ref("hybrid_tuning").where("selected").first()
    ease_chosen = dbt.ref("item_item_tuning").where("selected").first()
    # each fold-in's shrinkage towards popularity, as tuned on validation users
    shrinkage = {
        r["model"]: r["shrinkage"]
        for r in dbt.ref("new_user_tuning").where("selected").select("model", "shrinkage").collect()
    }
    roles = dbt.ref("cold_start_splits")
    fit = roles.where("role = 'fit'").select("user_id", "movie_id", "rating").cache()
    features = dbt.ref("movie_content_features").toPandas()
    content = hybrid.Content(features, buckets)
    fitted = fit_models(fit, content, chosen, tuned, max_iter, seed, block_setting)
    hybrid_items, counts = fitted.hybrid_items, fitted.counts
    ease_fit = fit_item_item(fit, ease_chosen, max_items)
    genre_flags = np.vstack(features.sort_values("movie_id")["genre_flags"].map(np.asarray))
    context = Context(content, hybrid_items, counts, genre_flags, k, seed)

    rows = []
    # cold movies, ranked for (a sample of) the fit users who rated them
    cold = roles.where("role = 'cold_movie'").select("user_id", "movie_id", "rating")
    raters = (
        cold.join(fit.select("user_id").distinct(), "user_id")
        .select("user_id")
        .distinct()
        .orderBy(F.xxhash64("user_id", F.lit(seed)), "user_id")
        .limit(max_users)
    )
    cold_ids = np.sort(
        cold.select("movie_id").distinct().toPandas()["movie_id"].to_numpy(dtype=np.int64)
    )
    cold_ratings = cold.join(raters, "user_id").toPandas()
    history = fit.join(raters, "user_id").toPandas()
    user_f = (
        fitted.als_model.userFactors.join(raters.withColumnRenamed("user_id", "id"), "id")
        .toPandas()
        .sort_values("id")
    )
    users = user_f["id"].to_numpy(dtype=np.int64)
    cold_rows = np.vstack(hybrid_items.set_index("id").loc[cold_ids, "features"].to_numpy())
    scores = {
        hybrid.MODEL: np.vstack(user_f["features"].map(np.asarray)) @ cold_rows.T,
        hybrid.CONTENT: context.content_scores(history, users, cold_ids),
        "popularity": np.tile(context.genre_popularity(cold_ids), (len(users), 1)),
        "random": context.random(len(users), len(cold_ids)),
    }
    relevant = cold_ratings[cold_ratings["rating"] >= threshold]
    for name, matrix in scores.items():
        rows.append(
            ["cold_movies", 0, name, k, *context.metrics(matrix, cold_ids, users, relevant, {})]
        )

    # new users, by their first n ratings
    newcomers = (
        roles.where("role = 'new_user'")
        .select("user_id", "movie_id", "rating", "user_rating_order")
        .toPandas()
    )
    for n in known_counts:
        shown = first_ratings(newcomers, n, threshold)
        users, all_ids = shown.users, content.movie_ids
        hybrid_scores, hybrid_used = folded_scores(
            shown.known, users, hybrid_items, content, chosen
        )
        als_scores, als_used = folded_scores(shown.known, users, fitted.als_items, content, chosen)
        ease_scores, ease_used = item_item_scores(shown.known, users, ease_fit, content)
        scores = {
            hybrid.MODEL: hybrid_scores,
            "als_implicit": als_scores,
            hybrid.CONTENT: context.content_scores(shown.known, users, all_ids),
            "popularity": np.tile(counts, (len(users), 1)),
            "random": context.random(len(users), len(all_ids)),
            item_item.MODEL: ease_scores,
        }
        for name, matrix, used in (
            (hybrid.MODEL, hybrid_scores, hybrid_used),
            ("als_implicit", als_scores, als_used),
            (item_item.MODEL, ease_scores, ease_used),
        ):
            if name in shrinkage:
                scores[f"{name}_shrunk"] = shrunk(matrix, counts, used, shrinkage[name])
        for name, matrix in scores.items():
            rows.append(
                [
                    "new_users",
                    n,
                    name,
                    k,
                    *context.metrics(matrix, all_ids, users, shown.relevant, shown.exclude),
                ]
            )
    fit.unpersist()
    return spark.createDataFrame(rows, SCHEMA)


class Context:
    """What the scorers share: the content, the hybrid's item rows, fit counts per movie."""

    def __init__(self, content, hybrid_items, counts, genre_flags, k, seed):
        self.content, self.k = content, k
        self.hybrid_items, self.counts, self.genre_flags = hybrid_items, counts, genre_flags
        self.rng = np.random.default_rng(seed)

    def content_scores(self, history: pd.DataFrame, users, movie_ids) -> np.ndarray:
        profiles = hybrid.content_profiles(self.content, history)
        width = self.content.matrix.shape[1]
        matrix = (
            np.vstack([profiles.get(u, np.zeros(width)) for u in users])
            if len(users)
            else np.zeros((0, width))
        )
        return hybrid.content_scores(self.content, matrix, movie_ids)

    def genre_popularity(self, movie_ids) -> np.ndarray:
        """A movie's genres' mean fit ratings per movie (the popularity a cold movie has)."""
        per_genre = (self.genre_flags.T @ self.counts) / np.maximum(
            self.genre_flags.T @ (self.counts > 0), 1
        )
        flags = self.genre_flags[self.content.rows(movie_ids)]
        return (flags @ per_genre) / np.maximum(flags.sum(axis=1), 1)

    def random(self, users: int, movies: int) -> np.ndarray:
        return self.rng.random((users, movies))

    def metrics(self, scores, movie_ids, users, relevant: pd.DataFrame, exclude) -> list:
        result = list_metrics(scores, movie_ids, users, relevant, exclude, self.k)
        return [result[c] for c in METRICS] + [result["users_evaluated"], len(movie_ids)]
