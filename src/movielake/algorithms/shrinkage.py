"""A new user's fold-in shrunk towards popularity by how little is known of them: the one home
of that rule, used by cold_start_metrics and new_user_tuning (the evaluation and the tuning),
my_recommendations, `movielake recommend`, the app and the stream (movielake.serving.personal).

    w(n)  = n / (n + k)                      n: the user's ratings the model knows, k >= 0
    score = w(n) * scaled(fold-in) + (1 - w(n)) * scaled(popularity)

One rating says little about a user: their folded-in factor scores movies like the one movie
they rated, while the most rated movies are the safer bet (on ml-latest-small, plain popularity
beat the fold-in on a new user's first ratings). The weight moves from popularity to the
fold-in as ratings come in. `scaled` maps a row of scores onto [0, 1] by its minimum and
maximum over the model's catalogue, so that the two scores, on unrelated scales, can be added;
a score that is not finite (a movie the model has no factors for) counts as the minimum.
Between two movies the blend is linear in w, so their order flips at most once as n grows:
popularity's order at n = 0 (or k = infinity), the fold-in's as n outgrows k (at k = 0, from the
first rating). k is tuned on validation users (new_user_tuning).
"""

from __future__ import annotations

import numpy as np


def weight(known, shrinkage: float) -> np.ndarray:
    """w(n) = n / (n + k), the fold-in's share, for `known` ratings (a count, or one per row);
    0 when nothing is known, whatever k."""
    if not shrinkage >= 0:  # also refuses NaN
        raise ValueError(f"shrinkage k must be >= 0, got {shrinkage}")
    n = np.asarray(known, dtype=float)
    if np.any(n < 0):
        raise ValueError("a user cannot have fewer than 0 known ratings")
    with np.errstate(invalid="ignore", divide="ignore"):
        w = n / (n + shrinkage)
    return np.where(n > 0, np.nan_to_num(w, nan=0.0), 0.0)


def scaled(scores) -> np.ndarray:
    """Each row of `scores` (or the one row) mapped onto [0, 1] by its finite minimum and
    maximum; non-finite scores become 0, a row without spread all 0."""
    s = np.array(scores, dtype=float)
    finite = np.isfinite(s)
    low = np.min(np.where(finite, s, np.inf), axis=-1, keepdims=True)
    high = np.max(np.where(finite, s, -np.inf), axis=-1, keepdims=True)
    spread = high - low
    ok = np.isfinite(spread) & (spread > 0)
    with np.errstate(invalid="ignore"):
        out = np.where(ok, (s - low) / np.where(ok, spread, 1.0), 0.0)
    return np.where(finite, out, 0.0)


def shrunk(scores, popularity, known, shrinkage: float) -> np.ndarray:
    """The blended scores of `scores` (fold-in scores: one row, or a row per user; movies in
    the order of `popularity`, one value per movie, e.g. its fit ratings) for users with
    `known` ratings (a count, or one per row), shrinkage k."""
    s = np.asarray(scores, dtype=float)
    pop = np.asarray(popularity, dtype=float)
    if s.shape[-1] != pop.shape[-1]:
        raise ValueError("need one popularity value per scored movie")
    w = weight(known, shrinkage)
    if s.ndim == 2:
        w = np.broadcast_to(w, (s.shape[0],))[:, None]
    return w * scaled(s) + (1.0 - w) * scaled(pop)
