"""How each model copes with what it has never seen (cold_start_splits), by P@K, R@K, NDCG@K
and MAP@K (movielake.spark.metrics):

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
mean ratings per movie) and random (seeded).
"""

import numpy as np
import pandas as pd
from pyspark.sql import functions as F
from pyspark.sql import types as T

from movielake.algorithms import hybrid
from movielake.algorithms.foldin import fold_in
from movielake.spark import als
from movielake.spark.metrics import ranking_metrics
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
    als.set_checkpoint_dir(spark)

    chosen = dbt.ref("als_tuning").where("selected and model = 'als_implicit'").first()
    tuned = dbt.ref("hybrid_tuning").where("selected").first()
    roles = dbt.ref("cold_start_splits")
    fit = roles.where("role = 'fit'").select("user_id", "movie_id", "rating").cache()
    fitted = als.fit(
        fit,
        "als_implicit",
        chosen["rank"],
        chosen["reg_param"],
        chosen["alpha"],
        max_iter,
        seed,
        als.num_blocks(fit.count(), block_setting),
    )
    als_items = fitted.itemFactors.select(
        "id", F.col("features").cast("array<double>").alias("features")
    ).toPandas()
    features = dbt.ref("movie_content_features").toPandas()
    content = hybrid.Content(features, buckets)
    hybrid_items = hybrid.item_factors(content, als_items, tuned["reg_lambda"], tuned["blend"])
    counts = (
        fit.groupBy("movie_id")
        .count()
        .toPandas()
        .set_index("movie_id")["count"]
        .reindex(content.movie_ids, fill_value=0)
        .to_numpy(dtype=float)
    )
    genre_flags = np.vstack(features.sort_values("movie_id")["genre_flags"].map(np.asarray))
    context = Context(spark, content, hybrid_items, counts, genre_flags, k, threshold, seed)

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
        fitted.userFactors.join(raters.withColumnRenamed("user_id", "id"), "id")
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
        known = newcomers[newcomers["user_rating_order"] <= n]
        later = newcomers[(newcomers["user_rating_order"] > n) & (newcomers["rating"] >= threshold)]
        users = np.sort(later["user_id"].unique())
        exclude = {u: set(m) for u, m in known.groupby("user_id")["movie_id"]}
        all_ids = content.movie_ids
        scores = {
            hybrid.MODEL: context.folded(known, users, hybrid_items, chosen),
            "als_implicit": context.folded(known, users, als_items, chosen),
            hybrid.CONTENT: context.content_scores(known, users, all_ids),
            "popularity": np.tile(counts, (len(users), 1)),
            "random": context.random(len(users), len(all_ids)),
        }
        for name, matrix in scores.items():
            rows.append(
                ["new_users", n, name, k, *context.metrics(matrix, all_ids, users, later, exclude)]
            )
    fit.unpersist()
    return spark.createDataFrame(rows, SCHEMA)


class Context:
    """What the scorers share: the content, the hybrid's item rows, fit counts per movie."""

    def __init__(self, spark, content, hybrid_items, counts, genre_flags, k, threshold, seed):
        self.spark, self.content, self.k, self.threshold = spark, content, k, threshold
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

    def folded(self, known: pd.DataFrame, users, item_rows: pd.DataFrame, chosen) -> np.ndarray:
        """Each user's implicit ALS fold-in on `item_rows`, scored against every movie with
        content (-inf where `item_rows` has no factors)."""
        rows = item_rows.set_index("id")
        y_all = np.vstack(rows["features"].map(np.asarray).to_numpy())
        position = pd.Series(np.arange(len(rows)), index=rows.index)
        out = np.full((len(users), len(self.content.movie_ids)), -np.inf)
        columns = self.content.rows(rows.index.to_numpy())
        mine = known.groupby("user_id")
        for i, user in enumerate(users):
            seen = mine.get_group(user) if user in mine.groups else known.iloc[:0]
            seen = seen[seen["movie_id"].isin(rows.index)]
            if seen.empty:
                continue
            x = fold_in(
                y_all[position[seen["movie_id"]].to_numpy()],
                seen["rating"].to_numpy(),
                chosen["reg_param"],
                implicit=True,
                alpha=chosen["alpha"],
                all_item_factors=y_all,
            )
            out[i, columns] = y_all @ x
        return out

    def metrics(self, scores, movie_ids, users, relevant: pd.DataFrame, exclude) -> list:
        top = hybrid.top_k(scores, movie_ids, users, self.k, exclude)
        relevant = relevant[relevant["user_id"].isin(users)][["user_id", "movie_id"]]
        result = ranking_metrics(
            self.spark.createDataFrame(top, hybrid.TOP_K_SCHEMA),
            self.spark.createDataFrame(relevant.astype("int32"), "user_id int, movie_id int"),
            self.k,
            len(movie_ids),
        )
        return [result[c] for c in METRICS] + [result["users_evaluated"], len(movie_ids)]
