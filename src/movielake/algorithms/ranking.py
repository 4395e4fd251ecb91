"""Scoring and ranking metrics in numpy, for what is small enough for the driver: ALS tuning
fits (their factor arrays and the rung's validation pairs) and the cold-start tables' few dozen
users per list. The Spark evaluators (movielake.spark.metrics) cost a handful of jobs per list;
these give the same figures, MLlib's definitions to the letter (docs/architecture.md, section 4);
tests/integration/test_recommender_math checks the two agree.

- A prediction is global_mean + user bias + item bias + x_u . y_i (movielake.spark.als); a
  user's top K unseen movies are the K best scores among the movies the model knows, minus those
  the user rated in the fit data, ties broken by movie id.
- RMSE = sqrt(mean((r̂ - r)²)), MAE = mean(|r̂ - r|) (RegressionEvaluator).
- RankingMetrics, over the users with a relevant movie (a user with no list scores 0), reading a
  list by position: precisionAt(k) = hits in the first k / k; recallAt(k) = hits / |labels|;
  ndcgAt(k) = DCG of the hits with gain(i) = 1/log(i + 2) over the ideal DCG of min(|labels|, k)
  hits; meanAveragePrecisionAt(k) = the sum of the precision at each hit / min(|labels|, k).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

MAX_SCORES = 1 << 24  # scores held at once when ranking: 16M doubles = 128 MB


class Factors(NamedTuple):
    """A fitted model as arrays: ids ascending, one row of features and one bias per id."""

    user_ids: np.ndarray
    user_f: np.ndarray
    user_bias: np.ndarray
    item_ids: np.ndarray
    item_f: np.ndarray
    item_bias: np.ndarray
    global_mean: float


def positions(ids: np.ndarray, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(position in `ids` (ascending), known) for each of `wanted`; unknown ones get a valid
    position that `known` masks out."""
    wanted = np.asarray(wanted, dtype=np.int64)
    if len(ids) == 0:
        return np.zeros(len(wanted), dtype=np.int64), np.zeros(len(wanted), dtype=bool)
    pos = np.minimum(np.searchsorted(ids, wanted), len(ids) - 1)
    return pos, ids[pos] == wanted


def predict(
    factors: Factors, users: np.ndarray, movies: np.ndarray, low: float, high: float
) -> tuple[np.ndarray, np.ndarray]:
    """(predictions clipped to [low, high], known) for the pairs (users[j], movies[j]): only the
    pairs whose user and movie both have factors (`known`) are predicted, as Spark's join does."""
    u, known_u = positions(factors.user_ids, users)
    i, known_i = positions(factors.item_ids, movies)
    known = known_u & known_i
    u, i = u[known], i[known]
    raw = (
        factors.global_mean
        + factors.user_bias[u]
        + factors.item_bias[i]
        + np.einsum("ij,ij->i", factors.user_f[u], factors.item_f[i])
    )
    return np.clip(raw, low, high), known


def scores(
    user_f: np.ndarray, offset: np.ndarray, item_f: np.ndarray, item_bias: np.ndarray
) -> np.ndarray:
    """users x items scores; offset is each user's global_mean + user bias."""
    return offset[:, None] + item_bias[None, :] + user_f @ item_f.T


def batch_rows(batch: int, items: int) -> int:
    """Users to score at once: at most `batch`, and at most MAX_SCORES scores."""
    return max(1, min(batch, MAX_SCORES // max(1, items)))


def top_k(
    scored: np.ndarray, item_ids: np.ndarray, seen_rows: np.ndarray, seen_movies: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(movie ids, scores, keep), each users x min(k, items): each row's best scores, score
    descending then movie id, with the pairs (seen_rows[j], seen_movies[j]) left out (seen
    movies without factors are skipped). `scored` is overwritten. keep is False past the end
    of a user who has seen nearly everything (fewer than K candidates); it is a prefix."""
    take = min(k, len(item_ids))
    pos, known = positions(item_ids, seen_movies)
    scored[np.asarray(seen_rows)[known], pos[known]] = -np.inf
    best = np.argpartition(-scored, take - 1, axis=1)[:, :take]
    top = np.take_along_axis(scored, best, axis=1)
    order = np.lexsort((item_ids[best], -top), axis=1)
    best, top = np.take_along_axis(best, order, 1), np.take_along_axis(top, order, 1)
    return item_ids[best], top, np.isfinite(top)


def top_k_unseen(
    factors: Factors,
    users: np.ndarray,
    seen_users: np.ndarray,
    seen_movies: np.ndarray,
    k: int,
    batch: int = 1024,
) -> list[np.ndarray]:
    """Each of `users`' (distinct) top K unseen movie ids, best first (empty for a user without
    factors); seen: the fit data's pairs (seen_users[j], seen_movies[j])."""
    users = np.asarray(users, dtype=np.int64)
    seen_users = np.asarray(seen_users, dtype=np.int64)
    seen_movies = np.asarray(seen_movies, dtype=np.int64)
    out = [np.empty(0, dtype=np.int64)] * len(users)
    if len(factors.item_ids) == 0 or k <= 0:
        return out
    pos, known = positions(factors.user_ids, users)
    ranked = np.flatnonzero(known)
    step = batch_rows(batch, len(factors.item_ids))
    for start in range(0, len(ranked), step):
        rows = ranked[start : start + step]
        at = pos[rows]
        scored = scores(
            factors.user_f[at],
            factors.global_mean + factors.user_bias[at],
            factors.item_f,
            factors.item_bias,
        )
        # seen pairs of this batch's users, by their row in the batch
        order = np.argsort(users[rows], kind="stable")
        batch_users = users[rows][order]
        where, mine = positions(batch_users, seen_users)
        movies, _, keep = top_k(scored, factors.item_ids, order[where[mine]], seen_movies[mine], k)
        for j, row in enumerate(rows):
            out[row] = movies[j][keep[j]]
    return out


def rating_errors(ratings: np.ndarray, predictions: np.ndarray) -> tuple[float, float]:
    """(RMSE, MAE) of predictions against ratings."""
    if len(ratings) == 0:
        raise ValueError("rating_errors: no scored pairs to evaluate")
    error = np.asarray(predictions, dtype=np.float64) - np.asarray(ratings, dtype=np.float64)
    return float(np.sqrt(np.mean(error * error))), float(np.mean(np.abs(error)))


class HeldOut(NamedTuple):
    """A validation set as arrays: the pairs to predict (users, movies, ratings), the relevant
    pairs to rank for, and the fit data's pairs the ranking leaves out (seen)."""

    users: np.ndarray
    movies: np.ndarray
    ratings: np.ndarray
    relevant_users: np.ndarray
    relevant_movies: np.ndarray
    seen_users: np.ndarray
    seen_movies: np.ndarray


def rating_figures(factors: Factors, held: HeldOut, low: float, high: float) -> tuple[float, float]:
    """(RMSE, MAE) of the clipped predictions of the held-out pairs that have factors."""
    predicted, known = predict(factors, held.users, held.movies, low, high)
    return rating_errors(held.ratings[known], predicted)


def ranking_figures(factors: Factors, held: HeldOut, k: int) -> tuple[float | None, float | None]:
    """(P@K, NDCG@K) of the top K unseen over the users with relevant pairs (None without)."""
    if len(held.relevant_users) == 0:
        return None, None
    relevant = pd.DataFrame(
        {
            "user_id": np.asarray(held.relevant_users, dtype=np.int64),
            "movie_id": np.asarray(held.relevant_movies, dtype=np.int64),
        }
    )
    users = np.unique(relevant["user_id"].to_numpy())
    lists = top_k_unseen(factors, users, held.seen_users, held.seen_movies, k)
    top = pd.DataFrame(
        {
            "user_id": np.repeat(users, [len(m) for m in lists]),
            "movie_id": np.concatenate(lists) if lists else np.empty(0, dtype=np.int64),
            "rank": np.concatenate([np.arange(1, len(m) + 1) for m in lists])
            if lists
            else np.empty(0, dtype=np.int64),
        }
    )
    scores = ranking_metrics(top, relevant, k, len(factors.item_ids))
    return scores["precision_at_k"], scores["ndcg_at_k"]


def ranking_metrics(top: pd.DataFrame, relevant: pd.DataFrame, k: int, catalog_size: int) -> dict:
    """The metrics of `top` (user_id, movie_id, rank: 1 = best) against `relevant` (user_id,
    movie_id), averaged over the users with a relevant movie; a user with no list scores 0."""
    each = per_user_metrics(top, relevant, k)
    result: dict = {"users_evaluated": len(each)}
    if not len(each):
        return {**result, **dict.fromkeys(_COLUMNS), "catalog_coverage": _share(0, catalog_size)}
    shown = top.loc[(top["rank"] <= k) & top["user_id"].isin(each.index), "movie_id"]
    return {
        **result,
        **{column: float(each[column].mean()) for column in _COLUMNS},
        "catalog_coverage": _share(shown.nunique(), catalog_size),
    }


def per_user_metrics(top: pd.DataFrame, relevant: pd.DataFrame, k: int) -> pd.DataFrame:
    """One row per user with a relevant movie (index user_id, ascending): that user's
    precision_at_k, recall_at_k, ndcg_at_k and map_at_k; ranking_metrics is their mean, and a
    paired comparison of two models (algorithms.paired) resamples them."""
    relevant = relevant[["user_id", "movie_id"]].drop_duplicates()
    users = np.sort(relevant["user_id"].unique())
    lists = top.loc[
        (top["rank"] <= k) & top["user_id"].isin(users), ["user_id", "movie_id", "rank"]
    ]
    lists = lists.sort_values(["user_id", "rank"], kind="stable")
    # MLlib reads a list by position (0-based i), not by the rank value
    position = lists.groupby("user_id").cumcount().to_numpy()
    hit = (
        lists.merge(relevant.assign(hit=True), on=["user_id", "movie_id"], how="left")["hit"]
        .notna()
        .to_numpy()
    )
    row = np.searchsorted(users, lists["user_id"].to_numpy())
    hits = np.zeros((len(users), k), dtype=bool)
    hits[row, position] = hit
    n_relevant = relevant.groupby("user_id").size().reindex(users).to_numpy(dtype=float)

    found = hits.sum(axis=1)
    gain = 1.0 / np.log(np.arange(k) + 2.0)  # the log's base cancels in NDCG
    ideal = np.cumsum(gain)[np.minimum(n_relevant, k).astype(int) - 1]
    cumulative = np.cumsum(hits, axis=1)
    precision_sum = np.where(hits, cumulative / np.arange(1, k + 1), 0.0).sum(axis=1)
    return pd.DataFrame(
        {
            "precision_at_k": found / k,
            "recall_at_k": found / n_relevant,
            "ndcg_at_k": (hits * gain).sum(axis=1) / ideal,
            "map_at_k": precision_sum / np.minimum(n_relevant, k),
        },
        index=pd.Index(users, name="user_id"),
    )


_COLUMNS = ("precision_at_k", "recall_at_k", "ndcg_at_k", "map_at_k")


def _share(covered: int, catalog_size: int) -> float | None:
    return covered / catalog_size if catalog_size else None
