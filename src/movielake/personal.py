"""Personal recommendations for a new user: their ratings file checked, folded into the served
top-K model (an ALS variant's item factors, movielake.foldin; or item_item's weights, their
ratings times B, movielake.item_item), and the top K movies they have not rated."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from movielake import item_item
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

    items: pandas frame of the served model's item rows: for an ALS variant (id, features,
    bias, global_mean) from als_factors, settings its model, reg_param, alpha, user_damping (one
    row of als_factors); for item_item (movie_id, neighbour_ids, weights, weighting) from
    item_item_weights, settings its model and weighting (one row of it)."""
    if items.empty:
        raise PersonalRatingsError("no served model's item factors: build the recommenders first")
    if settings.get("model") == item_item.MODEL:
        return _recommend_item_item(items, settings, rows, k)
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


def _recommend_item_item(weights, settings: dict, rows, k: int) -> list[tuple[int, float]]:
    """item_item fold-in: the new user's values of X (binarised or stars, as the model was
    fit) times the stored rows of B; no retraining."""
    known = set(weights["movie_id"].astype(int))
    if not any(m in known for _, m, _ in rows):
        raise PersonalRatingsError("none of the rated movies is known to the model "
                                   "(too few ratings in the training data)")
    ids, scores = item_item.fold_in_scores(weights, [m for _, m, _ in rows],
                                           [r for _, _, r in rows], settings["weighting"])
    rated = {m for _, m, _ in rows}
    order = [i for i in np.lexsort((ids, -scores)) if int(ids[i]) not in rated][:k]
    return [(int(ids[i]), float(scores[i])) for i in order]


def served_items(spark, prefix: str):
    """The served top-K model's stored item rows (its train + validation refit) as pandas,
    whatever its kind: als_factors' item rows, or item_item_weights' rows."""
    served = spark.sql(f"select model from {prefix}_recommenders.served_models "
                       "where job = 'top_k'").first()
    if served is None:
        raise PersonalRatingsError("no served top-K model: build the recommenders first")
    if served["model"] == item_item.MODEL:
        table = f"{prefix}_recommenders.item_item_weights"
        where = f"model = '{item_item.MODEL}' and scored_split = 'test'"
    else:
        table = f"{prefix}_recommenders.als_factors"
        where = f"model = '{served['model']}' and scored_split = 'test' and side = 'item'"
    return spark.sql(f"select * from {table} where {where}").toPandas()


def recommend_from_lake(path: str | Path, k: int) -> list[tuple[int, int, str, float]]:
    """(rank, movie_id, title, score) for the ratings in `path`, from the tables a dbt build
    stored (served model's item factors, movie titles); the file is checked before Spark starts."""
    import os

    rows = read_ratings_file(path)
    prefix = os.environ.get("MOVIELAKE_SCHEMA", "movielake")
    from movielake.session import spark_session

    try:
        spark = spark_session()
        movies = spark.table(f"{prefix}_staging.stg_movielens__movies") \
            .select("movie_id", "title").toPandas()
        items = served_items(spark, prefix)
    except Exception as exc:  # noqa: BLE001 - Spark raises several types for these
        text = str(exc)
        if "XSDB6" in text or "Another instance of Derby" in text or "metastore" in text.lower():
            raise PersonalRatingsError(
                "cannot open the lakehouse's metastore: is a dbt build (or another Spark "
                "process) running on this data home? Wait for it to finish.") from None
        if "TABLE_OR_VIEW_NOT_FOUND" in text or "SCHEMA_NOT_FOUND" in text:
            raise PersonalRatingsError(
                "no trained recommender found: build it first (make run, or dbt build "
                "-s +my_recommendations)") from None
        raise
    check_ratings(rows, set(movies["movie_id"]))
    title = dict(zip(movies["movie_id"], movies["title"]))
    top = recommend(items, items.iloc[0].to_dict() if len(items) else {}, rows, k)
    return [(rank, movie, title[movie], score) for rank, (movie, score) in enumerate(top, 1)]
