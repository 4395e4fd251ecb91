"""Personal recommendations for a new user: their ratings file checked, folded into the served
top-K model (an ALS variant's item factors, movielake.algorithms.foldin; or item_item's
weights, their ratings times B, movielake.algorithms.ease), the fold-in shrunk towards
popularity by how few ratings it saw (movielake.algorithms.shrinkage, when the served rows
carry its k), and the top K movies they have not rated."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

from movielake.algorithms import ease, hybrid
from movielake.algorithms.baseline import new_user_bias
from movielake.algorithms.foldin import fold_in
from movielake.algorithms.shrinkage import shrunk
from movielake.errors import MovieLakeError


class PersonalRatingsError(MovieLakeError, ValueError):
    """A personal ratings file that cannot be used; the message names the row."""


def read_ratings_file(path: str | Path) -> list[tuple[str, int, float]]:
    """(row label, movie_id, rating) for each row of a CSV with header movie_id,rating."""
    path = Path(path)
    if not path.is_file():
        raise PersonalRatingsError(f"{path}: no such file")
    # utf-8-sig: a spreadsheet's "CSV UTF-8" starts with a byte order mark, which is not data
    with path.open(newline="", encoding="utf-8-sig") as handle:
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
                    f"{record.get('movie_id')!r}, {record.get('rating')!r}"
                ) from None
    return rows


def rating_scale(ratings) -> tuple[float, float, float]:
    """(lowest, highest, step) of the ratings a release was built from: half stars 0.5-5.0,
    or whole stars 1-5 (ml-100k, ml-1m) when no rating has a fraction."""
    values = [float(r) for r in ratings]
    if not values:
        return 0.5, 5.0, 0.5
    step = 1.0 if all(v == int(v) for v in values) else 0.5
    return min(values), max(values), step


def split_known(rows, known_movies) -> tuple[list, list[str]]:
    """(the rows of movies in the catalog, a note for each other row). The build's seed holds
    real MovieLens ids; a generated release, or an older one, lacks some of them, and that
    must not stop the whole build (`movielake recommend` still refuses such a file)."""
    kept = [row for row in rows if row[1] in known_movies]
    notes = [
        f"{label}: movie {movie_id} is not in this release, skipped"
        for label, movie_id, _ in rows
        if movie_id not in known_movies
    ]
    return kept, notes


def check_ratings(rows, known_movies, scale: tuple[float, float, float] = (0.5, 5.0, 0.5)) -> None:
    """Every movie known to the catalog, rated once, on the release's scale (low, high, step)."""
    low, high, step = scale
    if not rows:
        raise PersonalRatingsError("no ratings given")
    seen: dict[int, str] = {}
    for label, movie_id, rating in rows:
        if movie_id not in known_movies:
            raise PersonalRatingsError(f"{label}: unknown movie id {movie_id}")
        if not low <= rating <= high or (rating / step) != int(rating / step):
            stars = "half" if step == 0.5 else "whole"
            raise PersonalRatingsError(
                f"{label}: rating {rating} is off the scale of the built release "
                f"({low:g}-{high:g} in {stars} stars)"
            )
        if movie_id in seen:
            raise PersonalRatingsError(
                f"{label}: movie {movie_id} already rated at {seen[movie_id]}"
            )
        seen[movie_id] = label


# Models whose factors are implicit-feedback ALS's: the hybrid maps content onto als_implicit's.
IMPLICIT = ("als_implicit", "hybrid")


def recommend(items, settings: dict, rows, k: int) -> list[tuple[int, float]]:
    """Top-K (movie_id, score) for a new user with `rows` (label, movie_id, rating).

    items: pandas frame of the served model's item rows: for an ALS variant (id, features,
    bias, global_mean) from als_factors, settings its model, reg_param, alpha, user_damping (one
    row of als_factors); for item_item (movie_id, neighbour_ids, weights, weighting) from
    item_item_weights, settings its model and weighting (one row of it). The hybrid's rows
    (hybrid_factors) are als_implicit's layout, cold movies included."""
    if settings.get("model") == ease.MODEL:
        return _recommend_item_item(items, settings, rows, k)
    return fold_in_user(items, settings, rows, k)[2]


def fold_in_user(items, settings: dict, rows, k: int):
    """(user factor, user bias, top-K (movie_id, score)) for a user with `rows`, folded into
    the served ALS variant's item factors, the scores shrunk towards popularity when the rows
    carry the rule (shrunk_to_popularity); see recommend()."""
    if items.empty:
        raise PersonalRatingsError("no served model's item factors: build the recommenders first")
    ids = items["id"].to_numpy()
    factors = np.vstack(items["features"].to_numpy())
    item_bias = items["bias"].to_numpy(dtype=float)
    mean = float(items["global_mean"].iloc[0])
    position = {int(movie): i for i, movie in enumerate(ids)}
    usable = [(position[m], r) for _, m, r in rows if m in position]
    if not usable:
        raise PersonalRatingsError(
            "none of the rated movies is known to the model "
            "(no one rated them in the training data)"
        )
    index = np.array([i for i, _ in usable])
    ratings = np.array([r for _, r in usable])
    variant = settings["model"]
    user_bias = 0.0
    if variant == "als_residual":
        user_bias = new_user_bias(ratings, mean, item_bias[index], float(settings["user_damping"]))
        target = ratings - mean - item_bias[index] - user_bias
    else:
        target = ratings
    user = fold_in(
        factors[index],
        target,
        float(settings["reg_param"]),
        implicit=variant in IMPLICIT,
        alpha=float(settings["alpha"]),
        all_item_factors=factors,
    )
    scores = shrunk_to_popularity(
        items, settings, ids, mean + user_bias + item_bias + factors @ user, len(usable)
    )
    rated = {m for _, m, _ in rows}
    order = [i for i in np.lexsort((ids, -scores)) if int(ids[i]) not in rated][:k]
    return user, user_bias, [(int(ids[i]), float(scores[i])) for i in order]


def with_new_user_rule(items, settings: dict, popularity, shrinkage) -> tuple:
    """(items, settings) of the served top-K model with what a new user's fold-in is shrunk
    towards (movielake.algorithms.shrinkage): a `popularity` column, each row's movie's ratings
    in the fit data (`popularity`: popularity_biases' movie rows of scored_split test,
    entity_id and n_ratings; 0 for a movie it lacks), and the k (served_models'
    new_user_shrinkage) in the settings. Unchanged when k is null (none tuned, or the rating
    job). The one rule for every reader: my_recommendations and movielake.serving.lake."""
    if shrinkage is None or pd.isna(shrinkage):
        return items, settings
    counts = popularity.set_index("entity_id")["n_ratings"]
    movie = items["movie_id"] if "movie_id" in items else items["id"]  # item_item: its B rows
    items = items.assign(popularity=movie.map(counts).fillna(0).astype(float))
    return items, {**settings, "new_user_shrinkage": float(shrinkage)}


def shrunk_to_popularity(items, settings: dict, ids, scores: np.ndarray, known: int):
    """`scores` of the movies `ids` for a user the model knows `known` ratings of, blended with
    their popularity by the k in `settings` (with_new_user_rule): the rule cold_start_metrics
    evaluates. Unchanged when there is no k or no popularity (the rating job, a lakehouse
    built before the rule, the hybrid's new-movie rows)."""
    k = settings.get("new_user_shrinkage")
    if k is None or pd.isna(k) or "popularity" not in items:
        return scores
    key = "movie_id" if "movie_id" in items else "id"
    popularity = items.set_index(key)["popularity"].reindex(np.asarray(ids)).fillna(0.0)
    return shrunk(scores, popularity.to_numpy(dtype=float), known, float(k))


def _recommend_item_item(weights, settings: dict, rows, k: int) -> list[tuple[int, float]]:
    """item_item fold-in: the new user's values of X (binarised or stars, as the model was
    fit) times the stored rows of B; no retraining."""
    if weights.empty:
        raise PersonalRatingsError("no served model's item weights: build the recommenders first")
    known = set(weights["movie_id"].astype(int))
    if not any(m in known for _, m, _ in rows):
        raise PersonalRatingsError(
            "none of the rated movies is known to the model (too few ratings in the training data)"
        )
    ids, scores = ease.fold_in_scores(
        weights, [m for _, m, _ in rows], [r for _, _, r in rows], settings["weighting"]
    )
    used = sum(m in known for m in {m for _, m, _ in rows})
    scores = shrunk_to_popularity(weights, settings, ids, scores, used)
    rated = {m for _, m, _ in rows}
    order = [i for i in np.lexsort((ids, -scores)) if int(ids[i]) not in rated][:k]
    return [(int(ids[i]), float(scores[i])) for i in order]


def new_movies(items, rows, slots: int) -> list[tuple[int, float]]:
    """The best `slots` new movies (movie_id, score) for a user with `rows`, by the hybrid:
    `items` its item rows (hybrid_factors, with `source`); new = source 'content', movies no
    rating of the fit data reaches. Empty when there are none or no rated movie is known."""
    if slots <= 0 or items is None or items.empty:
        return []
    fresh = set(items.loc[items["source"] == hybrid.NEW, "id"].astype(int))
    if not fresh:
        return []
    try:
        _, _, ranked = fold_in_user(items, items.iloc[0].to_dict(), rows, len(items))
    except PersonalRatingsError:
        return []
    return [(m, s) for m, s in ranked if m in fresh][:slots]


def recommend_places(
    items, settings: dict, new_items, slots: int, rows, k: int
) -> list[tuple[int, float, bool]]:
    """recommend()'s top-K with its last `slots` places given to the user's best new movies
    (new_movies, hybrid.with_new_movies): (movie_id, score, is_new) in rank order."""
    top = recommend(items, settings, rows, k)
    return hybrid.with_new_movies(top, new_movies(new_items, rows, slots), k, slots)


def recommend_from_lake(
    path: str | Path, k: int, lake=None
) -> list[tuple[int, int, str, float, bool, str | None]]:
    """(rank, movie_id, title, score, is_new, reason) for the ratings in `path`, from the tables
    a dbt build stored (served model's item factors, the hybrid's for the new-movie places,
    movie titles, movie_top_tags), read without Spark (movielake.serving.lake); the file is checked
    first. reason: why, in one phrase (movielake.serving.explain). A missing table raises
    movielake.serving.lake.NotBuiltError."""
    from movielake.serving.explain import Explainer
    from movielake.serving.lake import Lake

    rows = read_ratings_file(path)
    lake = lake or Lake()
    movies = lake.read("stg_movielens__movies", columns=["movie_id", "title"])
    items, settings = lake.served_item_factors("top_k", rated={m for _, m, _ in rows})
    # the built release's own scale, from the one-row-per-rating-value EDA mart
    stars = lake.read("rating_distribution", columns=["rating"])["rating"]
    check_ratings(rows, set(movies["movie_id"]), rating_scale(stars))
    title = dict(zip(movies["movie_id"], movies["title"]))
    new_items, slots = lake.new_movie_items()
    places = recommend_places(items, settings, new_items, slots, rows, k)
    # only the tags of the rated and the shown movies are needed
    wanted = sorted({m for _, m, _ in rows} | {m for m, _, _ in places})
    tags = (
        lake.read("movie_top_tags", filters=[("movie_id", "in", wanted)])
        if lake.exists("movie_top_tags") and wanted
        else None
    )
    explainer = Explainer(items, settings, new_items, tags, title)
    ratings = {movie: stars for _, movie, stars in rows}
    return [
        (rank, movie, title[movie], score, is_new, explainer.reason(ratings, movie, is_new)[0])
        for rank, (movie, score, is_new) in enumerate(places, 1)
    ]


def recommend_for_user(
    user_id: int, k: int, lake=None
) -> list[tuple[int, int, str, float, bool, str | None]]:
    """(rank, movie_id, title, score, is_new, reason) for a known user: the stream's latest
    fold-in when it has one (after the user's new ratings; the served model only, without
    reasons), else the built `recommendations` table; both read without Spark. A missing table
    raises movielake.serving.lake.NotBuiltError."""
    from movielake.serving.lake import Lake

    fresh = stream_recommendations(user_id)
    if fresh is not None:
        return [(*row, False, None) for row in fresh[:k]]
    lake = lake or Lake()
    built = lake.read("recommendations", filters=[("user_id", "=", int(user_id))], order_by="rank")
    if built.empty:
        raise PersonalRatingsError(f"user {user_id} has no recommendations (unknown user?)")
    is_new = built["new_movie"] if "new_movie" in built else [False] * len(built)
    reasons = built["reason"] if "reason" in built else [None] * len(built)
    return [
        (
            int(r.rank),
            int(r.movie_id),
            r.title,
            float(r.score),
            bool(n),
            why if isinstance(why, str) else None,
        )
        for r, n, why in zip(built.itertuples(), is_new, reasons)
    ][:k]


def stream_recommendations(user_id: int) -> list[tuple[int, int, str, float]] | None:
    """The latest top-K the stream wrote for a user, or None when it wrote none (read with
    deltalake: no JVM)."""
    from movielake.data.paths import table_path

    path = table_path("recommendations")
    if not (path / "_delta_log").is_dir():
        return None
    from deltalake import DeltaTable

    rows = DeltaTable(str(path)).to_pandas(filters=[("user_id", "=", int(user_id))])
    if rows.empty:
        return None
    latest = rows[rows.updated_at == rows.updated_at.max()].sort_values("rank")
    return [(int(r.rank), int(r.movie_id), r.title, float(r.score)) for r in latest.itertuples()]
