"""Personal recommendations for a new user: their ratings file checked, folded into the served
ALS model's item factors (movielake.foldin), and the top K movies they have not rated."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from movielake.foldin import fold_in


class PersonalRatingsError(ValueError):
    """A personal ratings file that cannot be used; the message names the row."""


def read_ratings_file(path: str | Path) -> list[tuple[str, int, float]]:
    """(row label, movie_id, rating) for each row of a CSV with header movie_id,rating."""
    path = Path(path)
    if not path.is_file():
        raise PersonalRatingsError(f"{path}: no such file")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or {"movie_id", "rating"} - set(reader.fieldnames):
            raise PersonalRatingsError(f"{path}: the header must be movie_id,rating")
        rows = []
        for line, record in enumerate(reader, start=2):
            label = f"{path.name} line {line}"
            try:
                rows.append((label, int(record["movie_id"]), float(record["rating"])))
            except (TypeError, ValueError):
                raise PersonalRatingsError(
                    f"{label}: movie_id must be an integer and rating a number, got "
                    f"{record.get('movie_id')!r}, {record.get('rating')!r}") from None
    return rows


def check_ratings(rows, known_movies, low: float = 0.5, high: float = 5.0) -> None:
    """Every movie known to the catalog, rated once, on the half-star scale [low, high]."""
    if not rows:
        raise PersonalRatingsError("no ratings given")
    seen: dict[int, str] = {}
    for label, movie_id, rating in rows:
        if movie_id not in known_movies:
            raise PersonalRatingsError(f"{label}: unknown movie id {movie_id}")
        if not low <= rating <= high or (rating * 2) != int(rating * 2):
            raise PersonalRatingsError(
                f"{label}: rating {rating} is off the scale ({low}-{high} in half stars)")
        if movie_id in seen:
            raise PersonalRatingsError(f"{label}: movie {movie_id} already rated at {seen[movie_id]}")
        seen[movie_id] = label


def recommend(items, settings: dict, rows, k: int) -> list[tuple[int, float]]:
    """Top-K (movie_id, score) for a new user with `rows` (label, movie_id, rating).

    items: pandas frame of the served model's item rows (id, features, bias, global_mean);
    settings: its model, reg_param, alpha, user_damping (one row of als_factors)."""
    if items.empty:
        raise PersonalRatingsError("no served model's item factors: build the recommenders first")
    ids = items["id"].to_numpy()
    factors = np.vstack(items["features"].to_numpy())
    item_bias = items["bias"].to_numpy(dtype=float)
    mean = float(items["global_mean"].iloc[0])
    position = {int(movie): i for i, movie in enumerate(ids)}
    usable = [(position[m], r) for _, m, r in rows if m in position]
    if not usable:
        raise PersonalRatingsError("none of the rated movies is known to the model "
                                   "(no one rated them in the training data)")
    index = np.array([i for i, _ in usable])
    ratings = np.array([r for _, r in usable])
    variant = settings["model"]
    user_bias = 0.0
    if variant == "als_residual":
        # the new user's damped bias, as the baseline computes it for training users
        user_bias = float((ratings - mean - item_bias[index]).sum()
                          / (len(ratings) + float(settings["user_damping"])))
        target = ratings - mean - item_bias[index] - user_bias
    else:
        target = ratings
    user = fold_in(factors[index], target, float(settings["reg_param"]),
                   implicit=variant == "als_implicit", alpha=float(settings["alpha"]),
                   all_item_factors=factors)
    scores = mean + user_bias + item_bias + factors @ user
    rated = {m for _, m, _ in rows}
    order = [i for i in np.lexsort((ids, -scores)) if int(ids[i]) not in rated][:k]
    return [(int(ids[i]), float(scores[i])) for i in order]


def recommend_from_lake(path: str | Path, k: int, lake=None) -> list[tuple[int, int, str, float]]:
    """(rank, movie_id, title, score) for the ratings in `path`, from the tables a dbt build
    stored (served model's item factors, movie titles), read without Spark (movielake.lake);
    the file is checked first. A missing table raises movielake.lake.NotBuiltError."""
    from movielake.lake import Lake

    rows = read_ratings_file(path)
    lake = lake or Lake()
    movies = lake.read("stg_movielens__movies", columns=["movie_id", "title"])
    items, settings = lake.served_item_factors("top_k")
    check_ratings(rows, set(movies["movie_id"]))
    title = dict(zip(movies["movie_id"], movies["title"]))
    top = recommend(items, settings, rows, k)
    return [(rank, movie, title[movie], score) for rank, (movie, score) in enumerate(top, 1)]
