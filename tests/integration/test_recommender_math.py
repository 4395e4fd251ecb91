"""Fold-in and metric code on cases small enough to check by hand or by a direct solver."""

from __future__ import annotations

import math

import numpy as np
import pytest

from movielake.serving.personal import (
    recommend,
)


def test_ranking_metrics_agree_on_the_driver_and_with_the_evaluators(spark, monkeypatch):
    """Random lists of 200 users (some with no list, some lists shorter than K)."""
    from movielake.spark import metrics, session

    rng = np.random.default_rng(3)
    recs, relevant = [], []
    for user in range(200):
        shown = rng.permutation(300)[: rng.integers(0, 12)]
        recs += [(user, int(m), rank) for rank, m in enumerate(shown, 1)]
        relevant += [(user, int(m)) for m in rng.permutation(300)[: rng.integers(1, 20)]]
    recs = spark.createDataFrame(recs, "user_id int, movie_id int, rank int")
    relevant = spark.createDataFrame(relevant, "user_id int, movie_id int")
    driver = metrics.ranking_metrics(recs, relevant, k=10, catalog_size=300)
    monkeypatch.setattr(session, "LOCAL_ROWS", 0)
    evaluators = metrics.ranking_metrics(recs, relevant, k=10, catalog_size=300)
    assert driver.keys() == evaluators.keys()
    assert driver["users_evaluated"] == evaluators["users_evaluated"] == 200
    for key in driver:
        assert driver[key] == pytest.approx(evaluators[key], rel=1e-12, abs=1e-15), key


@pytest.mark.parametrize("local_rows", [500_000, 0], ids=["driver", "evaluators"])
def test_ranking_metrics_on_a_hand_computed_case(spark, monkeypatch, local_rows):
    """Both ways to the figures: lists collected to the driver (small), MLlib's evaluators."""
    from movielake.spark import session
    from movielake.spark.metrics import ranking_metrics

    monkeypatch.setattr(session, "LOCAL_ROWS", local_rows)

    recs = spark.createDataFrame(
        [(1, 10, 1), (1, 11, 2), (1, 12, 3), (2, 20, 1), (2, 21, 2), (2, 22, 3)],
        "user_id int, movie_id int, rank int",
    )
    # user 1: hits at ranks 1 and 3 of {10, 12, 13}; user 2: a hit at rank 2 of {21};
    # user 3 has relevant items but no recommendations (scores 0)
    relevant = spark.createDataFrame(
        [(1, 10), (1, 12), (1, 13), (2, 21), (3, 30)], "user_id int, movie_id int"
    )
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


def test_driver_ranking_metrics_equal_mllibs_on_random_lists(spark):
    """The cold-start tables score their lists on the driver (movielake.algorithms.ranking):
    the same figures as MLlib's evaluators, on lists of every length up to past K, users
    without a list, and lists without a hit."""
    import pandas as pd

    from movielake.algorithms.ranking import ranking_metrics as driver_metrics
    from movielake.spark.metrics import ranking_metrics

    rng = np.random.default_rng(7)
    k, movies = 10, 60
    top, relevant = [], []
    for user in range(1, 41):
        length = rng.integers(0, 14)  # 0: no list; above k: ranks past K are ignored
        top += [(user, int(m), r + 1) for r, m in enumerate(rng.permutation(movies)[:length])]
        relevant += [(user, int(m)) for m in rng.choice(movies, rng.integers(1, 15))]
    top = pd.DataFrame(top, columns=["user_id", "movie_id", "rank"]).astype("int32")
    relevant = pd.DataFrame(relevant, columns=["user_id", "movie_id"]).astype("int32")
    mllib = ranking_metrics(
        spark.createDataFrame(top, "user_id int, movie_id int, rank int"),
        spark.createDataFrame(relevant, "user_id int, movie_id int"),
        k,
        movies,
    )
    driver = driver_metrics(top, relevant, k, movies)
    assert driver["users_evaluated"] == mllib["users_evaluated"] == 40
    for column, value in mllib.items():
        assert driver[column] == pytest.approx(value, rel=1e-12, abs=1e-15), column


def test_rating_metrics_on_a_hand_computed_case(spark):
    from movielake.spark.metrics import rating_metrics

    df = spark.createDataFrame(
        [(4.0, 3.0), (2.0, 2.5), (5.0, 5.0), (1.0, 3.0)], "rating double, prediction double"
    )
    got = rating_metrics(df)
    assert got["rmse"] == pytest.approx(math.sqrt((1 + 0.25 + 0 + 4) / 4))
    assert got["mae"] == pytest.approx((1 + 0.5 + 0 + 2) / 4)
    assert got["accuracy"] == pytest.approx(1 - got["mae"] / 5)
    with pytest.raises(ValueError, match="no scored pairs"):
        rating_metrics(df.limit(0))


def test_baseline_biases_are_one_formula_for_spark_columns_and_numpy(spark):
    """movielake.algorithms.baseline gives popularity_biases its Spark columns and a new user's
    fold-in its numpy bias: both equal the hand-computed damped means."""
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


def test_top_k_unseen_on_executors_matches_brute_force(spark):
    """als.top_k_unseen (mapInPandas over user blocks) against a plain numpy ranking."""
    from movielake.spark.als import top_k_unseen

    rng = np.random.default_rng(0)
    users, movies, rank, k = 37, 53, 3, 5
    uf, mf = rng.normal(size=(users, rank)), rng.normal(size=(movies, rank))
    ub, mb = rng.normal(size=users), rng.normal(size=movies)
    movie_ids = np.arange(movies) * 3 + 7  # sparse ids
    rows_ = [("user", u + 1, uf[u].tolist(), float(ub[u]), 3.5) for u in range(users)] + [
        ("item", int(movie_ids[m]), mf[m].tolist(), float(mb[m]), 3.5) for m in range(movies)
    ]
    factors = spark.createDataFrame(
        rows_, "side string, id int, features array<double>, bias double, global_mean double"
    )
    seen = {
        (u + 1, int(movie_ids[m]))
        for u in range(users)
        for m in range(movies)
        if rng.random() < 0.3
    }
    seen |= {(1, int(m)) for m in movie_ids[:-3]}  # user 1 has seen all but 3 movies
    seen.add((2, 99_999))  # a seen movie without factors is ignored
    seen_df = spark.createDataFrame(sorted(seen), "user_id int, movie_id int").repartition(3)
    got = top_k_unseen(factors, seen_df, k, batch=8).collect()

    expected = []
    for u in range(users):
        scores = 3.5 + ub[u] + mb + mf @ uf[u]
        options = [
            (-scores[m], int(movie_ids[m]))
            for m in range(movies)
            if (u + 1, int(movie_ids[m])) not in seen
        ]
        for rank_, (neg, movie) in enumerate(sorted(options)[:k], start=1):
            expected.append((u + 1, rank_, movie, -neg))
    assert sorted((r.user_id, r.rank, r.movie_id) for r in got) == [e[:3] for e in sorted(expected)]
    assert len([r for r in got if r.user_id == 1]) == 3  # fewer than K left unseen
    by_key = {(r.user_id, r.rank): r.score for r in got}
    assert all(abs(by_key[(u, r)] - s) < 1e-9 for u, r, _, s in expected)
    # restricted to some users (one without factors): the same rows for exactly those users
    wanted = spark.createDataFrame([(1,), (5,), (5,), (30,), (500,)], "user_id int")
    some = top_k_unseen(factors, seen_df, k, users=wanted, batch=8).collect()
    assert sorted((r.user_id, r.rank, r.movie_id) for r in some) == [
        e[:3] for e in sorted(expected) if e[0] in (1, 5, 30)
    ]


def test_als_result_does_not_depend_on_input_partitioning(spark):
    """The same ratings in 1 or 7 partitions (as on 1 core or on a cluster) fit the same
    model: the ALS blocks are set from the data, never from the core count."""
    from movielake.spark import als

    rng = np.random.default_rng(1)
    data = sorted(
        {
            (int(u), int(m), float(rng.integers(1, 6)))
            for u, m in zip(rng.integers(1, 80, 2000), rng.integers(1, 120, 2000))
        }
    )
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
    frame = pd.DataFrame(
        [
            (u, m, float(rng.integers(1, 11)) / 2)
            for u in range(1, 31)
            for m in range(100, 140)
            if rng.random() < 0.35
        ],
        columns=["user_id", "movie_id", "rating"],
    )
    return frame, spark.createDataFrame(frame, "user_id int, movie_id int, rating double")


# G multiplied on the driver (a small fit) and summed from the executors' partial blocks
GRAM_PATHS = pytest.mark.parametrize("local_rows", [500_000, 0], ids=["driver", "executors"])


@GRAM_PATHS
@pytest.mark.parametrize("weighting", ["binary", "rating"])
def test_item_item_weights_are_ease_on_the_spark_gram_matrix(
    spark, monkeypatch, weighting, local_rows
):
    from movielake.spark import item_item, session

    monkeypatch.setattr(session, "LOCAL_ROWS", local_rows)
    frame, ratings = _ratings(spark)
    counts = frame.movie_id.value_counts()
    items = np.sort(counts[counts >= 3].index.to_numpy())
    kept = frame[frame.movie_id.isin(items)]
    users = np.sort(kept.user_id.unique())
    x = np.zeros((len(users), len(items)))
    x[np.searchsorted(users, kept.user_id), np.searchsorted(items, kept.movie_id)] = (
        1.0 if weighting == "binary" else kept.rating
    )
    rows, seconds = item_item.fit(
        ratings, 5.0, weighting, min_ratings=3, max_items=1000, neighbours=0
    )
    got_items, b = item_item.dense(rows)
    assert seconds > 0 and list(got_items) == list(items)
    assert np.allclose(b, _ease(x, 5.0), atol=1e-5)
    assert np.all(np.diag(b) == 0)


@GRAM_PATHS
@pytest.mark.parametrize("weighting", ["binary", "rating"])
def test_item_item_time_kernel_weights_are_ease_on_the_spark_kernel_gram(
    spark, monkeypatch, weighting, local_rows
):
    """With tau > 0 the Gram matrix Spark sums is floor X^T X + K, K written out here per user
    (every pair, seconds from rated_at), and the stored B is EASE's on it."""
    import pandas as pd

    from movielake.spark import item_item, session

    monkeypatch.setattr(session, "LOCAL_ROWS", local_rows)
    frame, _ = _ratings(spark)
    rng = np.random.default_rng(8)
    # sessions: each user's ratings in bursts seconds to minutes apart, bursts days apart
    steps = rng.choice([0.0, 5.0, 120.0, 900.0, 86400.0 * 3], size=len(frame))
    frame["seconds"] = 1.2e9 + frame.groupby("user_id")["movie_id"].transform(
        lambda s: steps[s.index].cumsum()
    )
    frame["rated_at"] = pd.to_datetime(frame["seconds"], unit="s", utc=True)
    ratings = spark.createDataFrame(
        frame[["user_id", "movie_id", "rating", "rated_at"]],
        "user_id int, movie_id int, rating double, rated_at timestamp",
    )
    counts = frame.movie_id.value_counts()
    items = np.sort(counts[counts >= 3].index.to_numpy())
    kept = frame[frame.movie_id.isin(items)]
    tau, floor = 300.0, 0.2
    g = np.zeros((len(items), len(items)))
    for _, mine in kept.groupby("user_id"):
        at = np.searchsorted(items, mine.movie_id)
        x = np.ones(len(mine)) if weighting == "binary" else mine.rating.to_numpy()
        dt = np.abs(mine.seconds.to_numpy()[:, None] - mine.seconds.to_numpy()[None, :])
        g[np.ix_(at, at)] += np.outer(x, x) * (floor + np.exp(-dt / tau))
    got = item_item.gram(ratings, items, weighting, tau, floor)
    assert np.allclose(got, g, rtol=1e-9, atol=1e-3)
    plain = item_item.gram(ratings, items, weighting)
    assert not np.allclose(got, floor * plain)  # the kernel added something
    rows, _ = item_item.fit(ratings, 5.0, weighting, 3, 1000, neighbours=0, tau=tau, floor=floor)
    got_items, b = item_item.dense(rows)
    p = np.linalg.inv(g + 5.0 * np.eye(len(items)))
    expected = np.eye(len(items)) - p @ np.diag(1 / np.diag(p))
    assert list(got_items) == list(items)
    # pairs past the 10 tau window (under exp(-10) each) move B by far less than this
    assert np.allclose(b, expected, atol=1e-4)


def test_item_item_catalogue_cap_keeps_the_most_rated(spark, capsys):
    from movielake.spark import item_item

    frame, ratings = _ratings(spark)
    counts = (
        frame.groupby("movie_id")
        .size()
        .reset_index(name="n")
        .sort_values(["n", "movie_id"], ascending=[False, True])
    )
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
    """A user's fold-in (their ratings times B, movielake.serving.personal) ranks exactly as the
    model scores that user from the fit data (item_item.top_k_unseen), rated movies excluded."""
    from movielake.spark import item_item

    frame, ratings = _ratings(spark)
    rows, _ = item_item.fit(ratings, 5.0, "binary", 3, 1000, neighbours=0)
    weights = rows.assign(model=item_item.MODEL, weighting="binary")
    stored = spark.createDataFrame(weights)
    top = item_item.top_k_unseen(stored, ratings, ratings, 5).toPandas()
    for user_id in (1, 7, 30):
        mine = frame[frame.user_id == user_id]
        got = recommend(
            weights,
            weights.iloc[0].to_dict(),
            [("r", int(m), r) for m, r in zip(mine.movie_id, mine.rating)],
            5,
        )
        expected = top[top.user_id == user_id].sort_values("rank")
        assert [m for m, _ in got] == expected.movie_id.tolist()
        assert np.allclose([s for _, s in got], expected.score, atol=1e-5)
        assert not {m for m, _ in got} & set(mine.movie_id)


@pytest.mark.parametrize("variant", ["als_explicit", "als_residual", "als_implicit"])
def test_a_tuning_fit_scores_the_same_on_the_driver_and_on_spark(spark, variant):
    """als_tuning's two scoring paths on one fit: factor rows, joins and MLlib's evaluators on
    Spark against the collected arrays and movielake.algorithms.ranking on the driver. The
    validation pairs include a user and a movie without factors (dropped, or scored 0)."""
    import pandas as pd

    from movielake.algorithms import ranking
    from movielake.spark import als
    from movielake.spark.metrics import ranking_metrics, rating_metrics

    rng = np.random.default_rng(7)
    taste, kind = rng.normal(size=(60, 2)), rng.normal(size=(90, 2))
    rows_ = [
        (u + 1, 10 * m + 3, float(np.clip(np.round(2 * (3.2 + taste[u] @ kind[m])) / 2, 0.5, 5)))
        for u in range(60)
        for m in range(90)
        if rng.random() < 0.3
    ]
    frame = pd.DataFrame(rows_, columns=["user_id", "movie_id", "rating"])
    held_rows = rng.random(len(frame)) < 0.2
    schema = "user_id int, movie_id int, rating double"
    # user 999 and movie 99_999 occur only in validation: they have no factors
    validation = spark.createDataFrame(
        pd.concat(
            [
                frame[held_rows],
                pd.DataFrame([(999, 13, 5.0), (1, 99_999, 4.0)], columns=frame.columns),
            ]
        ),
        schema,
    ).cache()
    mean = float(frame[~held_rows]["rating"].mean())
    user_bias = frame[~held_rows].groupby("user_id")["rating"].mean() - mean
    item_bias = frame[~held_rows].groupby("movie_id")["rating"].mean() - mean
    biases = spark.createDataFrame(
        [("user", int(i), float(b), mean) for i, b in user_bias.items()]
        + [("movie", int(i), float(b), mean) for i, b in item_bias.items()],
        "entity string, entity_id int, bias double, global_mean double",
    )
    train = als.with_biases(spark.createDataFrame(frame[~held_rows], schema), biases).cache()
    relevant = validation.where("rating >= 3.5").cache()
    k, low, high = 5, 0.5, 5.0
    model = als.fit(train, variant, 3, 0.05, 2.0, 5, 42)

    factors = als.factor_rows(model, train, variant)
    local = als.collect_held_out(validation, relevant, train)
    arrays = als.collect_factors(model, variant, als.collect_biases(train))
    if variant == "als_implicit":
        top = als.top_k_unseen(factors, train, k, users=relevant)
        on_spark = ranking_metrics(top, relevant, k, 90)
        expected = (on_spark["precision_at_k"], on_spark["ndcg_at_k"])
        got = ranking.ranking_figures(arrays, local, k)
    else:
        on_spark = rating_metrics(als.predict(validation, factors, low, high))
        expected = (on_spark["rmse"], on_spark["mae"])
        got = ranking.rating_figures(arrays, local, low, high)
    assert all(0 < e < 5 for e in expected)  # not a trivial case
    assert got == pytest.approx(expected, abs=1e-9, rel=0)
    if variant == "als_residual":  # the biases reach the driver's factors
        assert arrays.global_mean == pytest.approx(mean)
        assert np.abs(arrays.user_bias).max() > 0 and np.abs(arrays.item_bias).max() > 0
    for f in (validation, train, relevant):
        f.unpersist()
