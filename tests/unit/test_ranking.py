"""movielake.algorithms.ranking without a JVM: prediction from factor arrays, top K unseen, and
the metrics as MLlib defines them, on cases computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from movielake.algorithms.ranking import (
    Factors,
    HeldOut,
    per_user_metrics,
    predict,
    ranking_figures,
    ranking_metrics,
    rating_errors,
    rating_figures,
    top_k,
    top_k_unseen,
)


def _factors(mean: float = 0.0) -> Factors:
    # users 1 and 3, movies 10, 20, 30, 40 (rank 2)
    return Factors(
        user_ids=np.array([1, 3]),
        user_f=np.array([[1.0, 0.0], [0.0, 2.0]]),
        user_bias=np.array([0.5, -0.5]),
        item_ids=np.array([10, 20, 30, 40]),
        item_f=np.array([[1.0, 1.0], [2.0, 0.0], [0.0, 1.0], [2.0, 0.5]]),
        item_bias=np.array([0.0, 0.25, 1.0, 0.0]),
        global_mean=mean,
    )


def test_predict_is_mean_plus_biases_plus_dot_clipped_and_drops_unknown_pairs():
    f = _factors(mean=3.0)
    users, movies = np.array([1, 3, 2, 1, 3]), np.array([10, 30, 10, 99, 20])
    got, known = predict(f, users, movies, low=0.5, high=5.0)
    assert known.tolist() == [True, True, False, False, True]
    # 3 + 0.5 + 0 + 1 = 4.5; 3 - 0.5 + 1 + 2 = 5.5 -> 5.0; 3 - 0.5 + 0.25 + 0 = 2.75
    assert got.tolist() == pytest.approx([4.5, 5.0, 2.75])


def test_rating_errors_by_hand():
    rmse, mae = rating_errors(np.array([4.0, 2.0, 5.0, 1.0]), np.array([3.0, 2.5, 5.0, 3.0]))
    assert rmse == pytest.approx(math.sqrt((1 + 0.25 + 0 + 4) / 4))
    assert mae == pytest.approx((1 + 0.5 + 0 + 2) / 4)
    with pytest.raises(ValueError, match="no scored pairs"):
        rating_errors(np.array([]), np.array([]))


def test_rating_figures_use_only_pairs_with_factors():
    f = _factors(mean=3.0)
    held = HeldOut(
        np.array([1, 2, 3]), np.array([10, 10, 20]), np.array([4.0, 1.0, 3.75]), *[[]] * 4
    )
    rmse, mae = rating_figures(f, held, 0.5, 5.0)
    # predictions 4.5 and 2.75 against 4.0 and 3.75; user 2 has no factors
    assert rmse == pytest.approx(math.sqrt((0.25 + 1.0) / 2))
    assert mae == pytest.approx((0.5 + 1.0) / 2)


def test_top_k_orders_by_score_then_movie_id_and_leaves_seen_out():
    scored = np.array([[1.0, 3.0, 3.0, 2.0, 0.5], [1.0, 1.0, 1.0, 1.0, 1.0]])
    ids = np.array([5, 6, 7, 8, 9])
    # row 0 has seen movie 8 and a movie without factors (99); row 1 has seen 5
    movies, top, keep = top_k(scored, ids, np.array([0, 0, 1]), np.array([8, 99, 5]), k=3)
    assert movies.tolist() == [[6, 7, 5], [6, 7, 8]]
    assert top[0].tolist() == [3.0, 3.0, 1.0]
    assert keep.all()


def test_top_k_keeps_fewer_when_a_user_has_seen_nearly_everything():
    ids = np.array([1, 2, 3])
    movies, _, keep = top_k(np.zeros((1, 3)), ids, np.array([0, 0]), np.array([1, 3]), k=2)
    assert movies[0][keep[0]].tolist() == [2]


def test_top_k_unseen_matches_brute_force_whatever_the_batch():
    rng = np.random.default_rng(3)
    users, movies, rank, k = 23, 31, 3, 4
    f = Factors(
        np.arange(users) * 2 + 1,
        rng.normal(size=(users, rank)),
        rng.normal(size=users),
        np.arange(movies) * 3 + 7,
        rng.normal(size=(movies, rank)),
        rng.normal(size=movies),
        0.7,
    )
    seen = [(u, m) for u in f.user_ids for m in f.item_ids if rng.random() < 0.3]
    seen_u, seen_m = np.array([s[0] for s in seen]), np.array([s[1] for s in seen])
    asked = np.array([9, 1, 2, 45, 33])  # 2 has no factors
    expected = []
    for u in asked:
        if u not in f.user_ids:
            expected.append([])
            continue
        j = int(np.flatnonzero(f.user_ids == u)[0])
        mine = {m for a, m in seen if a == u}
        s = {
            int(m): 0.7 + f.user_bias[j] + f.item_bias[i] + f.user_f[j] @ f.item_f[i]
            for i, m in enumerate(f.item_ids)
            if m not in mine
        }
        expected.append(sorted(s, key=lambda m: (-s[m], m))[:k])
    for batch in (1, 2, 1024):
        got = top_k_unseen(f, asked, seen_u, seen_m, k, batch=batch)
        assert [g.tolist() for g in got] == expected


def _metrics(lists: dict, labels: dict, k: int, catalog: int = 100) -> dict:
    """ranking_metrics of lists {user: [movie, ...] best first} against labels {user: [...]}."""
    top = pd.DataFrame(
        [(u, m, r) for u, ms in lists.items() for r, m in enumerate(ms, 1)],
        columns=["user_id", "movie_id", "rank"],
    )
    relevant = pd.DataFrame(
        [(u, m) for u, ms in labels.items() for m in ms], columns=["user_id", "movie_id"]
    )
    return ranking_metrics(top, relevant, k, catalog)


def test_ranking_metrics_follow_mllib_by_hand():
    # hits at ranks 1 and 3 of {10, 12, 13}
    got = _metrics({1: [10, 11, 12]}, {1: [10, 12, 13]}, 3)
    dcg = 1 / math.log(2) + 1 / math.log(4)
    ideal = 1 / math.log(2) + 1 / math.log(3) + 1 / math.log(4)
    assert got["precision_at_k"] == pytest.approx(2 / 3)
    assert got["recall_at_k"] == pytest.approx(2 / 3)
    assert got["ndcg_at_k"] == pytest.approx(dcg / ideal)
    assert got["map_at_k"] == pytest.approx((1 / 1 + 2 / 3) / 3)
    assert got["catalog_coverage"] == pytest.approx(3 / 100)
    # fewer predictions than k: precision still divides by k; NDCG's ideal has min(2, 3) hits
    got = _metrics({1: [5]}, {1: [5, 6]}, 3)
    assert got["precision_at_k"] == pytest.approx(1 / 3)
    assert got["ndcg_at_k"] == pytest.approx(
        (1 / math.log(2)) / (1 / math.log(2) + 1 / math.log(3))
    )
    # only the first k predictions count
    got = _metrics({1: [1, 2, 3, 4]}, {1: [4]}, 3)
    assert got["precision_at_k"] == got["ndcg_at_k"] == got["map_at_k"] == 0.0
    # no list scores 0; duplicate labels count once
    assert _metrics({}, {1: [7]}, 3)["precision_at_k"] == 0.0
    assert _metrics({1: [7]}, {1: [7, 7]}, 2)["ndcg_at_k"] == pytest.approx(1.0)


def test_driver_ranking_metrics_on_a_hand_computed_case():
    """The case tests/integration/test_recommender_math.py checks MLlib's evaluators on, plus a
    rank beyond K (ignored) and a repeated relevant row (counted once)."""
    top = pd.DataFrame(
        [(1, 10, 1), (1, 11, 2), (1, 12, 3), (1, 13, 4), (2, 20, 1), (2, 21, 2), (2, 22, 3)],
        columns=["user_id", "movie_id", "rank"],
    )
    relevant = pd.DataFrame(
        [(1, 10), (1, 12), (1, 13), (1, 13), (2, 21), (3, 30)], columns=["user_id", "movie_id"]
    )
    got = ranking_metrics(top, relevant, k=3, catalog_size=12)
    assert got["users_evaluated"] == 3
    assert got["precision_at_k"] == pytest.approx((2 / 3 + 1 / 3 + 0) / 3)
    assert got["recall_at_k"] == pytest.approx((2 / 3 + 1 + 0) / 3)
    dcg1 = 1 + 1 / math.log2(4)
    idcg1 = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert got["ndcg_at_k"] == pytest.approx((dcg1 / idcg1 + 1 / math.log2(3) + 0) / 3)
    assert got["map_at_k"] == pytest.approx(((1 / 1 + 2 / 3) / 3 + (1 / 2) / 1 + 0) / 3)
    assert got["catalog_coverage"] == pytest.approx(6 / 12)
    each = per_user_metrics(top, relevant, k=3)  # what a paired comparison resamples
    assert each.index.tolist() == [1, 2, 3]
    assert each["precision_at_k"].tolist() == pytest.approx([2 / 3, 1 / 3, 0])
    assert each["recall_at_k"].tolist() == pytest.approx([2 / 3, 1, 0])
    nobody = ranking_metrics(top, relevant.iloc[:0], k=3, catalog_size=12)
    assert nobody["users_evaluated"] == 0 and nobody["ndcg_at_k"] is None


def test_ranking_figures_rank_unseen_movies_for_the_relevant_users():
    f = _factors()
    # user 1 scores 10: 1.5, 20: 2.75, 30: 1.5, 40: 2.5 and has seen 20: top 2 = [40, 10];
    # user 3 scores 10: 1.5, 20: -0.25, 30: 2.5, 40: 0.5, nothing seen: top 2 = [30, 10];
    # user 5 has no factors
    held = HeldOut(
        *[np.array([])] * 3,
        relevant_users=np.array([3, 1, 5, 3, 1]),
        relevant_movies=np.array([20, 10, 10, 30, 20]),
        seen_users=np.array([1]),
        seen_movies=np.array([20]),
    )
    p, ndcg = ranking_figures(f, held, 2)
    # user 1: a hit at rank 2 of {10, 20}; user 3: a hit at rank 1 of {20, 30}; user 5: 0
    assert p == pytest.approx((1 / 2 + 1 / 2 + 0) / 3)
    ideal = 1 / math.log(2) + 1 / math.log(3)
    assert ndcg == pytest.approx(((1 / math.log(3)) / ideal + (1 / math.log(2)) / ideal) / 3)
    assert ranking_figures(f, held._replace(relevant_users=[], relevant_movies=[]), 2) == (
        None,
        None,
    )
