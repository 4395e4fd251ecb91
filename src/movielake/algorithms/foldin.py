"""Fold a new user into trained ALS item factors: the user's half-step of ALS, no retraining.

Spark's ALS solves, for each user u with rated items I(u) and item factors y_i,
  explicit:  min_x  sum_i (r_ui - x.y_i)^2 + reg * n_u * |x|^2              (ALS-WR: n_u = |I(u)|)
  implicit:  min_x  sum_all_i c_ui (p_ui - x.y_i)^2 + reg * n_u+ * |x|^2
             with c_ui = 1 + alpha*|r_ui| on rated items (1 elsewhere), p_ui = [r_ui > 0],
             n_u+ = number of positive ratings.
The same normal equations are solved here, so folding in a training user gives back (up to the
last ALS iteration's update order) the user factor ALS itself learned.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def fold_in(
    item_factors: np.ndarray,
    ratings: np.ndarray,
    reg_param: float,
    implicit: bool = False,
    alpha: float = 1.0,
    all_item_factors: np.ndarray | None = None,
    item_gram: np.ndarray | None = None,
) -> np.ndarray:
    """The user factor for `ratings` (one per row of `item_factors`, the rated items' factors).
    For implicit feedback `all_item_factors` (every item's factors, for Y^T Y) is required, or
    `item_gram`, that Y^T Y computed once by a caller folding in many users."""
    y = np.asarray(item_factors, dtype=float)
    r = np.asarray(ratings, dtype=float)
    if y.ndim != 2 or len(y) != len(r) or len(r) == 0:
        raise ValueError("need one item factor row per rating, and at least one rating")
    rank = y.shape[1]
    if implicit:
        if item_gram is None:
            if all_item_factors is None:
                raise ValueError("implicit fold-in needs every item's factors (Y^T Y)")
            full = np.asarray(all_item_factors, dtype=float)
            item_gram = full.T @ full
        extra = alpha * np.abs(r)  # c_ui - 1 on the rated items
        a = item_gram + (y * extra[:, None]).T @ y
        b = y.T @ np.where(r > 0, 1.0 + extra, 0.0)
        n = int((r > 0).sum())
    else:
        a = y.T @ y
        b = y.T @ r
        n = len(r)
    a = a + reg_param * n * np.eye(rank)
    return np.linalg.solve(a, b)


def implicit_scores(
    known: pd.DataFrame, users, item_ids, item_factors: np.ndarray, reg_param: float, alpha: float
) -> tuple[np.ndarray, np.ndarray]:
    """(scores, used): each of `users` folded into implicit ALS item factors (`item_factors`,
    one row per id of `item_ids`) from their rows of `known` (user_id, movie_id, rating), and
    scored against every item: scores[u, i] = x_u . y_i. used[u]: the user's ratings of movies
    that have factors, the only ones the fold-in sees; a user with none gets a row of -inf.
    The evaluation's batch of what movielake.serving.personal does for one user."""
    y_all = np.asarray(item_factors, dtype=float)
    position = pd.Series(np.arange(len(y_all)), index=np.asarray(item_ids, dtype=np.int64))
    out = np.full((len(users), len(y_all)), -np.inf)
    used = np.zeros(len(users), dtype=np.int64)
    mine = known.groupby("user_id")
    gram = y_all.T @ y_all  # once, not per user: it was most of a batch's time
    for i, user in enumerate(users):
        seen = mine.get_group(user) if user in mine.groups else known.iloc[:0]
        seen = seen[seen["movie_id"].isin(position.index)]
        if seen.empty:
            continue
        used[i] = len(seen)
        x = fold_in(
            y_all[position[seen["movie_id"]].to_numpy()],
            seen["rating"].to_numpy(),
            reg_param,
            implicit=True,
            alpha=alpha,
            item_gram=gram,
        )
        out[i] = y_all @ x
    return out, used
