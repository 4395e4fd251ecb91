"""Fold-in and metric code on cases small enough to check by hand or by a direct solver."""

from __future__ import annotations

import math

import numpy as np
import pytest

from movielake.algorithms.foldin import fold_in
from movielake.serving.personal import (PersonalRatingsError, check_ratings, rating_scale, read_ratings_file,
                                recommend, split_known)


def test_explicit_fold_in_solves_the_als_wr_normal_equations():
    rng = np.random.default_rng(3)
    y = rng.normal(size=(7, 3))
    r = rng.uniform(0.5, 5, size=7)
    reg = 0.2
    # min |r - Yx|^2 + reg*n*|x|^2  ==  least squares on [Y; sqrt(reg*n) I] x = [r; 0]
    stacked = np.vstack([y, math.sqrt(reg * len(r)) * np.eye(3)])
    expected, *_ = np.linalg.lstsq(stacked, np.concatenate([r, np.zeros(3)]), rcond=None)
    assert np.allclose(fold_in(y, r, reg), expected)


def test_implicit_fold_in_solves_the_weighted_normal_equations():
    rng = np.random.default_rng(4)
    all_items = rng.normal(size=(9, 2))
    rated = [1, 4, 6]
    r = np.array([4.0, 1.0, 5.0])
    reg, alpha = 0.1, 2.0
    # c = 1 everywhere, 1 + alpha*r on rated items; p = 1 on rated items, 0 elsewhere
    c = np.ones(9)
    p = np.zeros(9)
    c[rated] += alpha * r
    p[rated] = 1.0
    w = np.sqrt(c)
    stacked = np.vstack([all_items * w[:, None], math.sqrt(reg * 3) * np.eye(2)])
    expected, *_ = np.linalg.lstsq(stacked, np.concatenate([p * w, np.zeros(2)]), rcond=None)
    got = fold_in(all_items[rated], r, reg, implicit=True, alpha=alpha,
                  all_item_factors=all_items)
    assert np.allclose(got, expected)


def test_fold_in_rejects_mismatched_input():
    with pytest.raises(ValueError):
        fold_in(np.ones((2, 3)), np.ones(3), 0.1)


def test_ranking_metrics_on_a_hand_computed_case(spark):
    from movielake.spark.metrics import ranking_metrics

    recs = spark.createDataFrame(
        [(1, 10, 1), (1, 11, 2), (1, 12, 3), (2, 20, 1), (2, 21, 2), (2, 22, 3)],
        "user_id int, movie_id int, rank int")
    # user 1: hits at ranks 1 and 3 of {10, 12, 13}; user 2: a hit at rank 2 of {21};
    # user 3 has relevant items but no recommendations (scores 0)
    relevant = spark.createDataFrame(
        [(1, 10), (1, 12), (1, 13), (2, 21), (3, 30)], "user_id int, movie_id int")
    got = ranking_metrics(recs, relevant, k=3, catalog_size=12)
    assert got["users_evaluated"] == 3
    assert got["precision_at_k"] == pytest.approx((2 / 3 + 1 / 3 + 0) / 3)
    assert got["recall_at_k"] == pytest.approx((2 / 3 + 1 + 0) / 3)
    dcg1 = 1 + 1 / math.log2(4)
    idcg1 = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    ndcg2 = (1 / math.log2(3)) / 1
    assert got["ndcg_at_k"] == pytest.approx((dcg1 / idcg1 + ndcg2 + 0) / 3)
    # MAP@K: sum of precision at each hit / min(|relevant|, K)
    ap1 = (1 / 1 + 2 / 3) / 3
    ap2 = (1 / 2) / 1
    assert got["map_at_k"] == pytest.approx((ap1 + ap2 + 0) / 3)
    assert got["catalog_coverage"] == pytest.approx(6 / 12)


def test_rating_metrics_on_a_hand_computed_case(spark):
    from movielake.spark.metrics import rating_metrics

    df = spark.createDataFrame([(4.0, 3.0), (2.0, 2.5), (5.0, 5.0), (1.0, 3.0)],
                               "rating double, prediction double")
    got = rating_metrics(df)
    assert got["rmse"] == pytest.approx(math.sqrt((1 + 0.25 + 0 + 4) / 4))
    assert got["mae"] == pytest.approx((1 + 0.5 + 0 + 2) / 4)
    assert got["accuracy"] == pytest.approx(1 - got["mae"] / 5)
    with pytest.raises(ValueError, match="no scored pairs"):
        rating_metrics(df.limit(0))


def test_baseline_biases_are_one_formula_for_spark_columns_and_numpy(spark):
    """movielake.algorithms.baseline gives popularity_biases its Spark columns and a new user's fold-in
    its numpy bias: both equal the hand-computed damped means."""
    from pyspark.sql import functions as F

    from movielake.algorithms.baseline import damped_bias, new_user_bias, user_residual

    mean, damping = 3.5, 2.0
    ratings, movie_bias = [4.0, 2.0, 5.0], [0.25, -0.5, 1.0]
    by_hand = ((4 - 3.5 - 0.25) + (2 - 3.5 + 0.5) + (5 - 3.5 - 1.0)) / (3 + 2)
    assert new_user_bias(ratings, mean, movie_bias, damping) == pytest.approx(by_hand)
    frame = spark.createDataFrame(list(zip(ratings, movie_bias)), "rating double, b double")
    residual = user_residual(F.col("rating"), F.lit(mean), F.col("b"))
    got = frame.agg(damped_bias(residual, damping, F.sum, F.count).alias("b_u")).first()["b_u"]
    assert got == pytest.approx(by_hand)


def test_new_movies_take_the_last_places_without_repeats():
    from movielake.algorithms.hybrid import with_new_movies

    top = [(1, 0.9), (2, 0.8), (3, 0.7), (4, 0.6)]
    assert with_new_movies(top, [(7, 0.5), (8, 0.4)], 4, 1) == [
        (1, 0.9, False), (2, 0.8, False), (3, 0.7, False), (7, 0.5, True)]
    # two places, one new movie already in the served part: the next new one, the place after
    assert with_new_movies(top, [(2, 0.5), (8, 0.4), (9, 0.3)], 4, 2) == [
        (1, 0.9, False), (2, 0.8, False), (8, 0.4, True), (9, 0.3, True)]
    # fewer new movies than places: the served model keeps the rest
    assert with_new_movies(top, [(8, 0.4)], 4, 3) == [
        (1, 0.9, False), (2, 0.8, False), (3, 0.7, False), (8, 0.4, True)]
    # no places, or no new movies: the served top-K unchanged
    assert with_new_movies(top, [(8, 0.4)], 4, 0) == [(m, s, False) for m, s in top]
    assert with_new_movies(top, [], 4, 2) == [(m, s, False) for m, s in top]
    # a new movie the served model also ranks (the hybrid served) is shown once, in its place
    assert with_new_movies([(1, 0.9), (8, 0.8)], [(8, 0.5), (9, 0.1)], 2, 1) == [
        (1, 0.9, False), (8, 0.5, True)]
    assert with_new_movies([(8, 0.9), (1, 0.8)], [(8, 0.5), (9, 0.1)], 2, 1) == [
        (8, 0.9, False), (9, 0.1, True)]


def test_successive_halving_rungs_grow_by_the_factor_to_the_sample():
    from movielake.spark.als import halving_rungs, survivors

    # ML-20M's 138,493 train users, a last rung of 20,000: 2,222 -> 6,666 -> 20,000
    assert halving_rungs(138_493, 20_000, 3, 3, 2000) == [2222, 6666, 20_000]
    # fewer users than the sample: the last rung is all of them
    assert halving_rungs(10_853, 20_000, 3, 3, 2000) == [2000, 3617, 10_853]
    # no rung below min_users; equal sizes are one rung; a small release gets one rung
    assert halving_rungs(10_000, 20_000, 4, 3, 2000) == [2000, 3333, 10_000]
    assert halving_rungs(610, 20_000, 3, 3, 2000) == [610]
    assert halving_rungs(5000, 0, 1, 3, 100) == [5000]  # 0: all users, one rung: the old grid
    # of 16 settings a variant keeps 6, then 2, then 1; never none
    assert [survivors(n, 3) for n in (16, 6, 2, 1)] == [6, 2, 1, 1]


def test_explanations_name_the_rated_movie_or_the_shared_tags():
    import pandas as pd

    from movielake.serving.explain import Explainer

    titles = {1: "Alien", 2: "Heat", 3: "Up", 4: "Big", 5: "New One", 6: "New Two"}
    # served ALS-layout item factors: movie 3 points like movie 1, movie 4 like movie 2
    items = pd.DataFrame({"id": [1, 2, 3, 4], "features": [[1.0, 0.0], [0.0, 1.0],
                                                             [2.0, 0.1], [0.1, 3.0]]})
    # the hybrid's item factors reach the new movies 5 and 6 too
    hybrid_items = pd.DataFrame({"id": [1, 2, 3, 4, 5, 6],
                                 "features": [[1.0, 0.0], [0.0, 1.0], [2.0, 0.1], [0.1, 3.0],
                                              [0.2, 1.0], [1.0, 0.3]]})
    tags = pd.DataFrame([(1, "dark", 1), (1, "space", 2), (2, "heist", 1), (2, "dark", 2),
                         (5, "heist", 1), (5, "dark", 2), (5, "funny", 3), (6, "musical", 1)],
                        columns=["movie_id", "tag", "tag_rank"])
    explainer = Explainer(items, {"model": "als_implicit"}, hybrid_items, tags, titles)
    liked = {1: 4.5, 2: 4.5}
    assert explainer.reason(liked, 3) == ("because you rated Alien", 1)
    assert explainer.reason(liked, 4) == ("because you rated Heat", 2)
    # a new movie: its own tags the liked movies share, most shared first (dark: 2 movies)
    assert explainer.reason(liked, 5, new_movie=True) == ("matches tags: dark, heist", None)
    # a movie rated below the user's mean is not liked: its tags do not count
    assert explainer.reason({1: 5.0, 2: 1.0}, 5, new_movie=True) == ("matches tags: dark", None)
    # no shared tag: the rated movie closest in the hybrid's factors
    assert explainer.reason(liked, 6, new_movie=True) == ("because you rated Alien", 1)
    # nothing to say about a movie the model does not know
    assert explainer.reason(liked, 99) == (None, None)

    # item_item: the rated movie adding most to the score, x_i * B[i, movie]; a row of B not
    # read (a fold-in reads only the rated movies' rows) adds nothing
    weights = pd.DataFrame({"model": "item_item", "weighting": "rating",
                            "movie_id": [1, 2, 3, 4],
                            "neighbour_ids": [[3, 4], [3, 4], None, None],
                            "weights": [[0.5, 0.1], [0.2, 0.4], None, None]})
    explainer = Explainer(weights, weights.iloc[0].to_dict(), None, None, titles)
    assert explainer.because({1: 5.0, 2: 4.0}, 3) == 1  # 2.5 against 0.8
    assert explainer.because({1: 1.0, 2: 4.0}, 3) == 2  # 0.5 against 0.8
    assert explainer.because({1: 5.0, 2: 4.0}, 4) == 2  # 0.5 against 1.6
    assert explainer.because({3: 5.0}, 4) == 3  # adds 0, still the only rated movie there
    assert explainer.because({1: 5.0}, 99) is None


def test_the_builds_personal_ratings_skip_movies_the_release_lacks():
    rows = [("seed row 1", 1, 4.0), ("seed row 2", 110, 3.5), ("seed row 3", 2, 5.0)]
    kept, notes = split_known(rows, {1, 2})
    assert kept == [rows[0], rows[2]]
    assert notes == ["seed row 2: movie 110 is not in this release, skipped"]
    assert split_known(rows, set()) == ([], [n + ", skipped" for n in (
        "seed row 1: movie 1 is not in this release", "seed row 2: movie 110 is not in this release",
        "seed row 3: movie 2 is not in this release")])


def test_personal_ratings_errors_name_the_row(tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text("movie_id,rating\n1,4.0\n99999,3.0\n")
    rows = read_ratings_file(path)
    with pytest.raises(PersonalRatingsError, match="mine.csv line 3: unknown movie id 99999"):
        check_ratings(rows, {1, 2})
    path.write_text("movie_id,rating\n1,4.0\n2,5.5\n")
    with pytest.raises(PersonalRatingsError, match="line 3: rating 5.5 is off the scale"):
        check_ratings(read_ratings_file(path), {1, 2})
    path.write_text("movie_id,rating\n1,4.25\n")
    with pytest.raises(PersonalRatingsError, match="line 2: rating 4.25"):
        check_ratings(read_ratings_file(path), {1, 2})
    path.write_text("movie_id,rating\nabc,4\n")
    with pytest.raises(PersonalRatingsError, match="line 2: movie_id must be an integer"):
        read_ratings_file(path)


def test_personal_ratings_saved_by_a_spreadsheet_with_a_bom(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("movie_id,rating\r\n1,4.5\r\n2,3\r\n".encode("utf-8-sig"))
    assert read_ratings_file(path) == [("excel.csv line 2", 1, 4.5), ("excel.csv line 3", 2, 3.0)]


def test_personal_ratings_checked_on_the_built_release_scale(tmp_path):
    whole_stars = rating_scale([1.0, 2.0, 3.0, 4.0, 5.0])  # ml-100k, ml-1m
    assert whole_stars == (1.0, 5.0, 1.0)
    assert rating_scale([0.5, 3.5, 5.0]) == (0.5, 5.0, 0.5)
    check_ratings([("r", 1, 4.0), ("r", 2, 1.0)], {1, 2}, whole_stars)
    with pytest.raises(PersonalRatingsError, match=r"rating 3.5 is off the scale .*\(1-5 in whole"):
        check_ratings([("r", 1, 3.5)], {1}, whole_stars)
    with pytest.raises(PersonalRatingsError, match="rating 0.5 is off the scale"):
        check_ratings([("r", 1, 0.5)], {1}, whole_stars)


def test_recommend_excludes_rated_movies_and_ranks_by_score():
    import pandas as pd

    items = pd.DataFrame({"id": [1, 2, 3, 4], "features": [[1.0, 0.0], [0.0, 1.0], [0.9, 0.1],
                                                          [0.1, 0.9]],
                          "bias": 0.0, "global_mean": 0.0})
    settings = {"model": "als_explicit", "reg_param": 0.01, "alpha": 1.0, "user_damping": 0}
    top = recommend(items, settings, [("r", 1, 5.0), ("r", 2, 1.0)], k=2)
    assert [movie for movie, _ in top] == [3, 4]  # likes the first factor: 3 before 4


def test_top_k_unseen_on_executors_matches_brute_force(spark):
    """als.top_k_unseen (mapInPandas over user blocks) against a plain numpy ranking."""
    from movielake.spark.als import top_k_unseen

    rng = np.random.default_rng(0)
    users, movies, rank, k = 37, 53, 3, 5
    uf, mf = rng.normal(size=(users, rank)), rng.normal(size=(movies, rank))
    ub, mb = rng.normal(size=users), rng.normal(size=movies)
    movie_ids = np.arange(movies) * 3 + 7  # sparse ids
    rows_ = ([("user", u + 1, uf[u].tolist(), float(ub[u]), 3.5) for u in range(users)]
             + [("item", int(movie_ids[m]), mf[m].tolist(), float(mb[m]), 3.5)
                for m in range(movies)])
    factors = spark.createDataFrame(
        rows_, "side string, id int, features array<double>, bias double, global_mean double")
    seen = {(u + 1, int(movie_ids[m])) for u in range(users) for m in range(movies)
            if rng.random() < 0.3}
    seen |= {(1, int(m)) for m in movie_ids[:-3]}  # user 1 has seen all but 3 movies
    seen.add((2, 99_999))  # a seen movie without factors is ignored
    seen_df = spark.createDataFrame(sorted(seen), "user_id int, movie_id int").repartition(3)
    got = top_k_unseen(factors, seen_df, k, batch=8).collect()

    expected = []
    for u in range(users):
        scores = 3.5 + ub[u] + mb + mf @ uf[u]
        options = [(-scores[m], int(movie_ids[m])) for m in range(movies)
                   if (u + 1, int(movie_ids[m])) not in seen]
        for rank_, (neg, movie) in enumerate(sorted(options)[:k], start=1):
            expected.append((u + 1, rank_, movie, -neg))
    assert sorted((r.user_id, r.rank, r.movie_id) for r in got) == [e[:3] for e in
                                                                     sorted(expected)]
    assert len([r for r in got if r.user_id == 1]) == 3  # fewer than K left unseen
    by_key = {(r.user_id, r.rank): r.score for r in got}
    assert all(abs(by_key[(u, r)] - s) < 1e-9 for u, r, _, s in expected)
    # restricted to some users (one without factors): the same rows for exactly those users
    wanted = spark.createDataFrame([(1,), (5,), (5,), (30,), (500,)], "user_id int")
    some = top_k_unseen(factors, seen_df, k, users=wanted, batch=8).collect()
    assert sorted((r.user_id, r.rank, r.movie_id) for r in some) == [
        e[:3] for e in sorted(expected) if e[0] in (1, 5, 30)]


def test_als_result_does_not_depend_on_input_partitioning(spark):
    """The same ratings in 1 or 7 partitions (as on 1 core or on a cluster) fit the same
    model: the ALS blocks are set from the data, never from the core count."""
    from movielake.spark import als

    rng = np.random.default_rng(1)
    data = sorted({(int(u), int(m), float(rng.integers(1, 6)))
                   for u, m in zip(rng.integers(1, 80, 2000), rng.integers(1, 120, 2000))})
    frame = spark.createDataFrame(data, "user_id int, movie_id int, rating double")
    predictions = []
    for parts in (1, 7):
        ratings = frame.repartition(parts).cache()
        model = als.fit(ratings, "als_explicit", 4, 0.1, 1.0, 5, 42, als.num_blocks(len(data)))
        scored = model.transform(frame).orderBy("user_id", "movie_id").toPandas()
        predictions.append(scored["prediction"].to_numpy())
        ratings.unpersist()
    assert np.allclose(predictions[0], predictions[1], atol=1e-6)
    assert als.num_blocks(20_000_263) == 21 and als.num_blocks(100) == 2
    assert als.num_blocks(100, 9) == 9


def _ease(x: np.ndarray, reg_lambda: float) -> np.ndarray:
    """EASE written out from its definition, in float64: B = I - P diag(1/diag(P))."""
    p = np.linalg.inv(x.T @ x + reg_lambda * np.eye(x.shape[1]))
    return np.eye(x.shape[1]) - p @ np.diag(1 / np.diag(p))


def _ratings(spark, seed: int = 5):
    import pandas as pd

    rng = np.random.default_rng(seed)
    frame = pd.DataFrame([(u, m, float(rng.integers(1, 11)) / 2) for u in range(1, 31)
                          for m in range(100, 140) if rng.random() < 0.35],
                         columns=["user_id", "movie_id", "rating"])
    return frame, spark.createDataFrame(frame, "user_id int, movie_id int, rating double")


@pytest.mark.parametrize("weighting", ["binary", "rating"])
def test_item_item_weights_are_ease_on_the_spark_gram_matrix(spark, weighting):
    from movielake.spark import item_item

    frame, ratings = _ratings(spark)
    counts = frame.movie_id.value_counts()
    items = np.sort(counts[counts >= 3].index.to_numpy())
    kept = frame[frame.movie_id.isin(items)]
    users = np.sort(kept.user_id.unique())
    x = np.zeros((len(users), len(items)))
    x[np.searchsorted(users, kept.user_id), np.searchsorted(items, kept.movie_id)] = (
        1.0 if weighting == "binary" else kept.rating)
    rows, seconds = item_item.fit(ratings, 5.0, weighting, min_ratings=3, max_items=1000,
                                  neighbours=0)
    got_items, b = item_item.dense(rows)
    assert seconds > 0 and list(got_items) == list(items)
    assert np.allclose(b, _ease(x, 5.0), atol=1e-5)
    assert np.all(np.diag(b) == 0)


def test_item_item_catalogue_cap_keeps_the_most_rated(spark, capsys):
    from movielake.spark import item_item

    frame, ratings = _ratings(spark)
    counts = frame.groupby("movie_id").size().reset_index(name="n").sort_values(
        ["n", "movie_id"], ascending=[False, True])
    got = item_item.catalogue(ratings, 1, 10)
    assert list(got) == sorted(counts.movie_id.iloc[:10])
    assert "more than item_item_max_items = 10" in capsys.readouterr().out


def test_item_item_pruning_keeps_the_largest_weights(spark):
    from movielake.spark import item_item

    _, ratings = _ratings(spark)
    full, _ = item_item.fit(ratings, 5.0, "binary", 1, 1000, neighbours=0)
    pruned, _ = item_item.fit(ratings, 5.0, "binary", 1, 1000, neighbours=4)
    _, b = item_item.dense(full)
    _, p = item_item.dense(pruned)
    assert all(len(ids) == 4 for ids in pruned.neighbour_ids)
    for row_full, row_pruned in zip(b, p):
        kept = row_pruned != 0
        assert kept.sum() == 4 and np.allclose(row_pruned[kept], row_full[kept])
        assert np.abs(row_full[~kept]).max() <= np.abs(row_full[kept]).min() + 1e-7
    # tuning prunes the solved B in place of storing and reading back its rows: the same B
    items = item_item.catalogue(ratings, 1, 1000)
    solved = item_item.solve(item_item.gram(ratings, items, "binary"), 5.0)
    assert np.array_equal(item_item.pruned(solved, 4), p)
    assert np.array_equal(item_item.pruned(solved, 0), b)


def test_item_item_fold_in_is_the_models_own_scoring(spark):
    """A user's fold-in (their ratings times B, movielake.serving.personal) ranks exactly as the model
    scores that user from the fit data (item_item.top_k_unseen), rated movies excluded."""
    from movielake.spark import item_item

    frame, ratings = _ratings(spark)
    rows, _ = item_item.fit(ratings, 5.0, "binary", 3, 1000, neighbours=0)
    weights = rows.assign(model=item_item.MODEL, weighting="binary")
    stored = spark.createDataFrame(weights)
    top = item_item.top_k_unseen(stored, ratings, ratings, 5).toPandas()
    for user_id in (1, 7, 30):
        mine = frame[frame.user_id == user_id]
        got = recommend(weights, weights.iloc[0].to_dict(),
                        [("r", int(m), r) for m, r in zip(mine.movie_id, mine.rating)], 5)
        expected = top[top.user_id == user_id].sort_values("rank")
        assert [m for m, _ in got] == expected.movie_id.tolist()
        assert np.allclose([s for _, s in got], expected.score, atol=1e-5)
        assert not {m for m, _ in got} & set(mine.movie_id)
