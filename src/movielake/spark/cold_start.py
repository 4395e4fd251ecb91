"""The cold-start evaluation's shared steps, used by cold_start_metrics (its test users) and
new_user_tuning (validation users), so that both fit, fold in and score alike: one als_implicit
fit and the hybrid's item rows on it, one item_item fit (EASE at item_item_tuning's setting), a
newcomer shown their first n ratings by time (every movie but those n is a candidate, the
relevant ones are their later ratings of at least the threshold), each fold-in's scores of
every movie with content, and a score matrix's top K scored by P@K, R@K, NDCG@K and MAP@K
(movielake.algorithms.ranking: MLlib's definitions, on the driver)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from movielake.algorithms import ease, hybrid
from movielake.algorithms.foldin import implicit_scores
from movielake.algorithms.ranking import ranking_metrics
from movielake.spark import als, item_item


class Fitted(NamedTuple):
    """The models of one cold-start fit."""

    als_model: object  # the als_implicit ALSModel (its user factors rank cold movies)
    als_items: pd.DataFrame  # (id, features) of ALS's item factors
    hybrid_items: pd.DataFrame  # the hybrid's item rows: every movie with content
    counts: np.ndarray  # fit ratings of each movie with content (popularity), content order


def fit_models(
    fit: DataFrame, content: hybrid.Content, chosen, tuned, max_iter: int, seed: int, blocks: int
) -> Fitted:
    """als_implicit on `fit` (user_id, movie_id, rating) at als_tuning's `chosen` row, the
    hybrid's item rows on it at hybrid_tuning's `tuned` row, and each movie's fit ratings."""
    fitted = als.fit(
        fit,
        "als_implicit",
        chosen["rank"],
        chosen["reg_param"],
        chosen["alpha"],
        max_iter,
        seed,
        als.num_blocks(fit.count(), blocks),
    )
    als_items = fitted.itemFactors.select(
        "id", F.col("features").cast("array<double>").alias("features")
    ).toPandas()
    counts = (
        fit.groupBy("movie_id")
        .count()
        .toPandas()
        .set_index("movie_id")["count"]
        .reindex(content.movie_ids, fill_value=0)
        .to_numpy(dtype=float)
    )
    return Fitted(
        fitted,
        als_items,
        hybrid.item_factors(content, als_items, tuned["reg_lambda"], tuned["blend"]),
        counts,
    )


class ItemItem(NamedTuple):
    """One item_item fit: B over its catalogue, pruned as its stored rows are."""

    items: np.ndarray  # the catalogue's movie ids, sorted
    b: np.ndarray
    weighting: str


def fit_item_item(fit: DataFrame, chosen, max_items: int) -> ItemItem:
    """EASE on `fit` at item_item_tuning's `chosen` row (lambda, weighting, min_ratings,
    neighbours), as item_item_weights fits it."""
    items = item_item.catalogue(fit, chosen["min_ratings"], max_items, " (cold start)")
    b = item_item.solve(item_item.gram(fit, items, chosen["weighting"]), chosen["reg_lambda"])
    return ItemItem(items, ease.pruned(b, chosen["neighbours"]), chosen["weighting"])


class Newcomers(NamedTuple):
    """What the models see of the newcomers at n known ratings, and what they are judged by."""

    known: pd.DataFrame  # each user's first n ratings (user_id, movie_id, rating, ...)
    relevant: pd.DataFrame  # their later ratings of at least the threshold
    users: np.ndarray  # sorted: the users with a relevant later rating
    exclude: dict  # user -> the movies they showed (never a candidate)


def first_ratings(ratings: pd.DataFrame, n: int, threshold: float) -> Newcomers:
    """`ratings` (user_id, movie_id, rating, user_rating_order: 1 = first by time) cut at n."""
    known = ratings[ratings["user_rating_order"] <= n]
    later = ratings[(ratings["user_rating_order"] > n) & (ratings["rating"] >= threshold)]
    return Newcomers(
        known,
        later,
        np.sort(later["user_id"].unique()),
        {u: set(m) for u, m in known.groupby("user_id")["movie_id"]},
    )


def folded_scores(
    known: pd.DataFrame, users, item_rows: pd.DataFrame, content: hybrid.Content, chosen
) -> tuple[np.ndarray, np.ndarray]:
    """(scores, used): each user's implicit fold-in on `item_rows` (id, features) at `chosen`'s
    reg_param and alpha, scored against every movie with content (-inf where `item_rows` has
    no factors); used: the ratings each fold-in saw (movielake.algorithms.foldin)."""
    rows = item_rows.set_index("id")
    scores, used = implicit_scores(
        known,
        users,
        rows.index.to_numpy(),
        np.vstack(rows["features"].map(np.asarray).to_numpy()),
        chosen["reg_param"],
        chosen["alpha"],
    )
    out = np.full((len(users), len(content.movie_ids)), -np.inf)
    out[:, content.rows(rows.index.to_numpy())] = scores
    return out, used


def item_item_scores(
    known: pd.DataFrame, users, model: ItemItem, content: hybrid.Content
) -> tuple[np.ndarray, np.ndarray]:
    """(scores, used) as folded_scores, of each user's item_item fold-in (their ratings times
    B; -inf for a movie outside its catalogue)."""
    scores, used = ease.fold_in_matrix(model.items, model.b, model.weighting, known, users)
    out = np.full((len(users), len(content.movie_ids)), -np.inf)
    out[:, content.rows(model.items)] = scores
    return out, used


def list_metrics(
    scores: np.ndarray, movie_ids, users, relevant: pd.DataFrame, exclude, k: int
) -> dict:
    """ranking_metrics of each user's top K of `movie_ids` by `scores` (a row per user, ties to
    the lower movie id, `exclude`d movies skipped) against `relevant` (user_id, movie_id).
    Scored on the driver (movielake.algorithms.ranking, MLlib's definitions): a few dozen
    users' lists, where MLlib's evaluators would cost several Spark jobs each."""
    top = hybrid.top_k(scores, movie_ids, users, k, exclude)
    relevant = relevant[relevant["user_id"].isin(users)][["user_id", "movie_id"]]
    return ranking_metrics(top, relevant, k, len(movie_ids))
