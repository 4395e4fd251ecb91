"""The hybrid content + collaborative model: movie content (movie_content_features) mapped
onto ALS item factors, so that a movie nobody has rated still gets factors.

    X  one row per movie: genre flags, release year, hashed tag TF-IDF, genome relevance, each
       block centred and scaled so that its rows have unit mean squared norm (no block
       dominates the ridge penalty by its width alone)
    V  the als_implicit item factors of the movies that have them
    W  = argmin |X_w W - V|^2 + lambda |W|^2 over those movies (ridge, closed form)

A movie's hybrid factors are (1 - blend) v + blend x W when ALS has a factor for it, x W when
not (a cold movie). blend and lambda are tuned on validation (hybrid_tuning). A user's
factors are ALS's, so scores, top-K and fold-in are the ALS ones (movielake.spark.als,
movielake.algorithms.foldin) on the hybrid's item rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

MODEL = "hybrid"
CONTENT = "content"  # the content-only baseline of the cold-start evaluation
TOP_K_SCHEMA = "user_id int, rank int, movie_id int, score double"


class Content:
    """The content matrix of every movie in movie_content_features (`frame`: its rows)."""

    def __init__(self, frame: pd.DataFrame, tag_buckets: int) -> None:
        frame = frame.sort_values("movie_id")
        self.movie_ids = frame["movie_id"].to_numpy(dtype=np.int64)
        n = len(frame)
        blocks = []
        genres = (
            np.vstack(frame["genre_flags"].map(np.asarray).to_numpy()) if n else np.zeros((0, 0))
        )
        blocks.append(genres)
        year = pd.to_numeric(frame["release_year"], errors="coerce").to_numpy(dtype=float)
        known = ~np.isnan(year)
        year_z = np.zeros(n)
        if known.any():
            year_z[known] = (year[known] - year[known].mean()) / max(year[known].std(), 1.0)
        blocks.append(np.column_stack([year_z, (~known).astype(float)]))
        tags = np.zeros((n, tag_buckets))
        for row, (buckets, weights) in enumerate(zip(frame["tag_buckets"], frame["tag_weights"])):
            if buckets is not None and len(buckets):
                tags[row, np.asarray(buckets, dtype=np.int64)] = np.asarray(weights, dtype=float)
        blocks.append(tags)
        if "genome" in frame and frame["genome"].notna().any():
            width = max(len(g) for g in frame["genome"] if g is not None)
            genome = np.zeros((n, width + 1))
            for row, values in enumerate(frame["genome"]):
                if values is not None and len(values):
                    genome[row, : len(values)] = values
                else:
                    genome[row, width] = 1.0  # "no genome": its own column, not a zero vector
            blocks.append(genome)
        self.matrix = np.hstack([_scaled(b) for b in blocks if b.shape[1]])

    def rows(self, movie_ids) -> np.ndarray:
        """Row positions of `movie_ids` (all must be in the content table)."""
        pos = np.searchsorted(self.movie_ids, np.asarray(movie_ids, dtype=np.int64))
        return np.minimum(pos, len(self.movie_ids) - 1)


def _scaled(block: np.ndarray) -> np.ndarray:
    centred = block - block.mean(axis=0, keepdims=True)
    scale = np.sqrt((centred**2).sum(axis=1).mean())
    return centred / scale if scale > 0 else centred


def fit_map(x: np.ndarray, v: np.ndarray, reg_lambda: float) -> tuple[np.ndarray, np.ndarray]:
    """Ridge map from content rows `x` to factor rows `v`: (W, mean of v). Solved in the
    content dimension (d x d), or through the movies' Gram matrix when there are fewer movies
    than content columns."""
    mean = v.mean(axis=0)
    target = v - mean
    n, d = x.shape
    if d <= n:
        w = np.linalg.solve(x.T @ x + reg_lambda * np.eye(d), x.T @ target)
    else:
        w = x.T @ np.linalg.solve(x @ x.T + reg_lambda * np.eye(n), target)
    return w, mean


def item_factors(
    content: Content, als_items: pd.DataFrame, reg_lambda: float, blend: float, held_out=None
) -> pd.DataFrame:
    """The hybrid's item rows (id, features, source) for every movie with content.

    als_items: (id, features) of the ALS item factors the map learns from; held_out: movie ids
    whose ALS factors are ignored (treated as cold), for tuning the map on movies it has not
    seen."""
    # in movie id order: the solve's sums, and so near-ties in the tuning, must not depend on
    # the order the factor table's files were read in
    als_items = als_items.sort_values("id", kind="stable")
    ids = als_items["id"].to_numpy(dtype=np.int64)
    v = np.vstack(als_items["features"].to_numpy()).astype(float)
    keep = np.isin(ids, content.movie_ids)
    if held_out is not None:
        keep &= ~np.isin(ids, np.asarray(held_out, dtype=np.int64))
    ids, v = ids[keep], v[keep]
    w, mean = fit_map(content.matrix[content.rows(ids)], v, reg_lambda)
    predicted = mean + content.matrix @ w
    features = predicted.copy()
    warm = content.rows(ids)
    features[warm] = (1.0 - blend) * v + blend * predicted[warm]
    source = np.full(len(content.movie_ids), "content", dtype=object)
    source[warm] = "collaborative" if blend == 0 else "blend"
    return pd.DataFrame({"id": content.movie_ids, "features": list(features), "source": source})


def content_profiles(content: Content, ratings: pd.DataFrame) -> dict:
    """user_id -> unit profile: the user's rated movies' unit content rows, each weighted by
    its rating minus the user's mean rating (liked movies pull, disliked ones push), or
    plainly averaged when all the ratings are equal (one rating, or a constant rater)."""
    unit = _unit(content.matrix)
    profiles = {}
    for user, mine in ratings.groupby("user_id"):
        rows = unit[content.rows(mine["movie_id"])]
        stars = mine["rating"].to_numpy(dtype=float)
        weights = stars - stars.mean()
        profile = weights @ rows if np.any(weights) else rows.mean(axis=0)
        profiles[user] = profile / (np.linalg.norm(profile) or 1.0)
    return profiles


def _unit(matrix: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norm > 0, norm, 1.0)


def content_scores(content: Content, profiles: np.ndarray, movie_ids) -> np.ndarray:
    """Cosine similarity of each profile row to each movie's content."""
    return profiles @ _unit(content.matrix[content.rows(movie_ids)]).T


def top_k(
    scores: np.ndarray, movie_ids: np.ndarray, users, k: int, exclude: dict | None = None
) -> pd.DataFrame:
    """(user_id, rank, movie_id, score): each row's K best of `movie_ids` (ties by movie id),
    skipping `exclude[user]` (movie ids)."""
    scores = np.array(scores, dtype=float)
    movie_ids = np.asarray(movie_ids, dtype=np.int64)
    order = np.argsort(movie_ids)
    movie_ids, scores = movie_ids[order], scores[:, order]
    for row, user in enumerate(users):
        seen = np.asarray(list((exclude or {}).get(user, ())), dtype=np.int64)
        if len(seen):
            pos = np.minimum(np.searchsorted(movie_ids, seen), len(movie_ids) - 1)
            scores[row, pos[movie_ids[pos] == seen]] = -np.inf
    take = min(k, len(movie_ids))
    best = np.argsort(-scores, axis=1, kind="stable")[:, :take]
    top = np.take_along_axis(scores, best, axis=1)
    keep = np.isfinite(top)
    n = len(users)
    return pd.DataFrame(
        {
            "user_id": np.repeat(np.asarray(users), take).reshape(n, take)[keep],
            "rank": np.tile(np.arange(1, take + 1), (n, 1))[keep],
            "movie_id": movie_ids[best][keep],
            "score": top[keep],
        }
    ).astype({"user_id": "int32", "rank": "int32", "movie_id": "int32"})


# --- new movies in the served lists ---------------------------------------------------------

NEW = "content"  # hybrid_factors' source of a movie no rating of the fit data reaches
LIST_SCHEMA = "user_id int, rank int, movie_id int, score double, new_movie boolean"


def with_new_movies(top, new, k: int, slots: int) -> list[tuple[int, float, bool]]:
    """One user's K places: the served model's `top` ((movie_id, score), best first) with its
    last places given to the user's best new movies (`new`, best first, scored by the hybrid):
    at most `slots` of them, none already in the list. Fewer new movies than slots leave the
    places to the served model. (movie_id, score, is_new) in rank order."""
    slots = max(0, min(slots, k))
    served = [(int(m), float(s)) for m, s in top]
    kept = served[: k - slots]
    taken = {m for m, _ in kept}
    fresh = [(int(m), float(s)) for m, s in new if int(m) not in taken][:slots]
    taken |= {m for m, _ in fresh}
    rest = [(m, s) for m, s in served[k - slots :] if m not in taken]
    kept += rest[: k - len(kept) - len(fresh)]
    return [(m, s, False) for m, s in kept] + [(m, s, True) for m, s in fresh]
