"""The app's logic without a browser (movielake.serving.advisor) on the shared synthetic build:
title search, recommendations equal to the CLI's fold-in, predicted stars, "because you rated"
explanations and the ratings file."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import SYNTHETIC_SCHEMA
from movielake.algorithms.foldin import fold_in
from movielake.serving.advisor import Advisor, Scale, label, ratings_csv, spoken_title
from movielake.serving.lake import Lake
from movielake.serving.personal import PersonalRatingsError, recommend_from_lake

RATINGS = {7: 5.0, 12: 1.5, 40: 4.0}


@pytest.fixture(scope="module")
def advisor(synthetic_build) -> Advisor:
    return Advisor.load(Lake(SYNTHETIC_SCHEMA))


def test_search_finds_part_of_a_title_in_any_case_and_article_order(advisor):
    found = advisor.search("MOVIE 7")
    assert 0 < len(found) <= 10
    assert all("movie" in t.casefold() and "7" in t for t in found["title"])
    # no title starts with "movie 7": the most rated come first
    assert list(found["ratings_count"]) == sorted(found["ratings_count"], reverse=True)
    # MovieLens writes "Synthetic Movie 8, The" (every 7th synthetic title, from 1, has "The");
    # people type "The Synthetic Movie 8", and titles starting so come first (8 and 85)
    found = advisor.search("the synthetic movie 8")
    year = advisor.movies.loc[8, "release_year"]
    assert f"Synthetic Movie 8, The ({year})" in list(found["label"])
    assert found.index.get_loc(8) < 2
    every = advisor.search("syNTHetic movie 12", limit=1000)
    assert set(every.index) == {m for m, t in advisor.movies["title"].items() if "12" in t}
    assert advisor.search("no such film at all").empty
    assert advisor.search("   ").empty


def test_titles_show_the_year_and_the_article_in_front():
    assert label("Matrix, The", 1999) == "Matrix, The (1999)"
    assert label("Untitled", None) == "Untitled"
    assert spoken_title("Matrix, The") == "The Matrix"
    assert spoken_title("Lost in Translation") == "Lost in Translation"


def test_scale_is_the_release_ones(advisor):
    assert advisor.scale == Scale(0.5, 5.0, 0.5)
    assert advisor.scale.values[:3] == [0.5, 1.0, 1.5] and len(advisor.scale.values) == 10
    import pandas as pd

    assert Scale.from_distribution(pd.Series([1.0, 2.0, 3.0, 4.0, 5.0])).values == [
        1.0,
        2.0,
        3.0,
        4.0,
        5.0,
    ]


def test_recommendations_are_the_clis_fold_in(advisor, tmp_path):
    recs = advisor.recommend(RATINGS, 10)
    path = tmp_path / "mine.csv"
    path.write_text(ratings_csv(RATINGS))
    cli = recommend_from_lake(path, 10, Lake(SYNTHETIC_SCHEMA))
    assert [(r.movie_id, r.score, r.new_movie) for r in recs] == [
        (m, s, n) for _, m, _, s, n, _ in cli
    ]
    assert len(recs) == 10 and not set(RATINGS) & {r.movie_id for r in recs}
    assert [r.rank for r in recs] == list(range(1, 11))
    for r in recs:
        assert r.title == advisor.movies.loc[r.movie_id, "title"]
        assert r.genres and r.year == advisor.movies.loc[r.movie_id, "release_year"]


def test_predicted_stars_are_the_rating_models_fold_in(advisor):
    """Recomputed here from the served rating model's factors (explicit or residual ALS)."""
    items, settings = advisor.rating_items, advisor.rating_settings
    position = {int(m): i for i, m in enumerate(items["id"])}
    factors = np.vstack(items["features"].to_numpy())
    bias = items["bias"].to_numpy(dtype=float)
    mean = float(settings["global_mean"])
    rated = [m for m in RATINGS if m in position]
    stars = np.array([RATINGS[m] for m in rated])
    index = [position[m] for m in rated]
    user_bias = 0.0
    target = stars
    if settings["model"] == "als_residual":
        user_bias = (stars - mean - bias[index]).sum() / (len(stars) + settings["user_damping"])
        target = stars - mean - bias[index] - user_bias
    user = fold_in(factors[index], target, settings["reg_param"])
    for r in advisor.recommend(RATINGS, 10):
        expected = (
            mean + user_bias + bias[position[r.movie_id]] + factors[position[r.movie_id]] @ user
        )
        assert r.predicted_stars == pytest.approx(float(np.clip(expected, 0.5, 5.0)), abs=1e-9)
        assert 0.5 <= r.predicted_stars <= 5.0


def test_because_you_rated_names_the_rated_movie_that_explains_it_best(advisor):
    """ALS variant served: the rated movie whose item factors are closest (cosine).
    item_item served: the rated movie that adds most to the score (x_i * B[i, movie])."""
    recommended = advisor.recommend(RATINGS, 10)
    assert recommended
    if advisor.top_k_model == "item_item":
        rows = advisor.top_k_items.set_index("movie_id")
        weighting = advisor.top_k_settings["weighting"]
        for r in recommended:
            added = {}
            for m, stars in RATINGS.items():
                if m in rows.index:
                    weights = dict(zip(rows.loc[m, "neighbour_ids"], rows.loc[m, "weights"]))
                    value = 1.0 if weighting == "binary" else stars
                    added[m] = value * float(weights.get(r.movie_id, 0.0))
            assert r.because_movie_id == max(added, key=lambda m: (added[m], -m))
            assert r.because_title == advisor.movies.loc[r.because_movie_id, "label"]
        return
    items = advisor.top_k_items.set_index("id")["features"]
    for r in recommended:
        target = np.asarray(items[r.movie_id], dtype=float)
        cosine = {
            m: float(np.dot(items[m], target) / (np.linalg.norm(items[m]) * np.linalg.norm(target)))
            for m in RATINGS
            if m in items.index
        }
        assert r.because_movie_id == max(cosine, key=cosine.get)
        assert r.because_title == advisor.movies.loc[r.because_movie_id, "label"]


def test_one_rating_is_enough_and_bad_ratings_are_named(advisor):
    assert len(advisor.recommend({7: 4.0}, 10)) == 10
    with pytest.raises(PersonalRatingsError, match="no ratings"):
        advisor.recommend({}, 10)
    with pytest.raises(PersonalRatingsError, match="unknown movie id 99999"):
        advisor.recommend({99999: 4.0}, 10)
    with pytest.raises(PersonalRatingsError, match="off the scale"):
        advisor.recommend({7: 5.5}, 10)


def test_ratings_file_round_trips_and_errors_name_the_line(advisor):
    text = ratings_csv(RATINGS)
    assert text.splitlines()[0] == "movie_id,rating"  # the header of seeds/my_ratings.csv
    assert advisor.read_ratings(text.encode(), "mine.csv") == RATINGS
    with pytest.raises(PersonalRatingsError, match="mine.csv line 3: rating 7.0 is off the scale"):
        advisor.read_ratings(b"movie_id,rating\n7,4.0\n12,7\n", "mine.csv")
    with pytest.raises(PersonalRatingsError, match="mine.csv line 2: movie_id must be an integer"):
        advisor.read_ratings(b"movie_id,rating\nseven,4.0\n", "mine.csv")
    with pytest.raises(PersonalRatingsError, match="header must be movie_id,rating"):
        advisor.read_ratings(b"id,stars\n7,4\n", "mine.csv")
