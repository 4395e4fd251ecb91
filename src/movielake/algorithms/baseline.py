"""The popularity baseline's damped biases, written once (docs/architecture.md section 4).

    b_i = sum(r - mu) / (n_i + item damping)
    b_u = sum(r - mu - b_i) / (n_u + user damping)

The same functions build the biases of every training user in Spark (popularity_biases, where
the arguments are Spark columns and `total`/`count` are F.sum/F.count in a group-by) and the
bias of a new user in numpy (fold-in into als_residual: arrays, np.sum/np.size). Only + - /
and the two aggregates are used, so both kinds of argument give the same arithmetic."""

from __future__ import annotations

import numpy as np


def movie_residual(rating, global_mean):
    """What a movie's bias explains: the rating's deviation from the mean."""
    return rating - global_mean


def user_residual(rating, global_mean, movie_bias):
    """What a user's bias explains: the deviation left after the movie's bias."""
    return rating - global_mean - movie_bias


def damped_bias(residual, damping, total, count):
    """The residuals' sum over their count plus `damping`: an entity with few ratings gets a
    bias shrunk towards 0."""
    return total(residual) / (count(residual) + damping)


def new_user_bias(ratings, global_mean: float, movie_bias, damping: float) -> float:
    """b_u of a user outside the fit data, from their ratings and the rated movies' b_i."""
    residual = user_residual(
        np.asarray(ratings, dtype=float), global_mean, np.asarray(movie_bias, dtype=float)
    )
    return float(damped_bias(residual, damping, np.sum, np.size))
