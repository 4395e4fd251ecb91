"""The new-user blend (movielake.algorithms.shrinkage): a fold-in shrunk towards popularity by
w(n) = n / (n + k), without a JVM; the batch fold-ins its evaluation scores newcomers with, and
the serving side's attaching of the rule."""

from __future__ import annotations

import numpy as np
import pytest

from movielake.algorithms.shrinkage import scaled, shrunk, weight


def order(scores) -> list[int]:
    """Positions best first, ties to the lower position (as the serving code breaks them)."""
    return np.argsort(-np.asarray(scores), kind="stable").tolist()


def discordant(a, b) -> int:
    """Pairs of positions the two score rows order differently."""
    da, db = np.sign(np.subtract.outer(a, a)), np.sign(np.subtract.outer(b, b))
    return int((da * db < 0).sum() // 2)


FOLD = np.array([0.9, -0.2, 0.4, 0.05, 0.7, -1.3, 0.3])
POPULARITY = np.array([3.0, 120.0, 40.0, 80.0, 1.0, 0.0, 55.0])


def test_weight_is_n_over_n_plus_k():
    assert weight(1, 4.0) == pytest.approx(0.2)
    assert weight(5, 5.0) == pytest.approx(0.5)
    assert weight([0, 1, 3], 0.0).tolist() == [0.0, 1.0, 1.0]  # k = 0: the fold-in alone
    assert weight(3, np.inf) == 0.0  # k = infinity: popularity alone
    assert weight(0, 7.0) == 0.0
    for bad in (-1.0, float("nan")):
        with pytest.raises(ValueError):
            weight(1, bad)


def test_weight_grows_with_ratings_and_falls_with_k():
    w = weight(np.arange(0, 50), 6.0)
    assert np.all(np.diff(w) > 0) and w[-1] < 1
    assert np.all(np.diff([float(weight(3, k)) for k in (0.0, 1.0, 4.0, 16.0)]) < 0)


def test_scaled_maps_each_row_onto_zero_one_and_unscored_to_zero():
    got = scaled([[2.0, 4.0, 3.0, -np.inf], [5.0, 5.0, 5.0, 5.0]])
    assert got.tolist() == [[0.0, 1.0, 0.5, 0.0], [0.0, 0.0, 0.0, 0.0]]
    assert scaled([-np.inf, -np.inf]).tolist() == [0.0, 0.0]
    assert scaled([1.0, np.nan, 3.0]).tolist() == [0.0, 0.0, 1.0]


def test_no_rating_gives_popularitys_order_many_the_fold_ins():
    assert order(shrunk(FOLD, POPULARITY, 0, 3.0)) == order(POPULARITY)
    assert order(shrunk(FOLD, POPULARITY, 10**9, 3.0)) == order(FOLD)
    assert order(shrunk(FOLD, POPULARITY, 1, 0.0)) == order(FOLD)  # k = 0: no shrinkage
    assert order(shrunk(FOLD, POPULARITY, 1, np.inf)) == order(POPULARITY)


def test_the_order_moves_monotonely_from_popularitys_to_the_fold_ins():
    """Each pair of movies flips at most once as ratings come in: the blend's disagreements
    with the fold-in never grow with n, and those with popularity never shrink."""
    rng = np.random.default_rng(3)
    fold, popularity = rng.normal(size=40), rng.pareto(1.5, size=40)
    blends = [shrunk(fold, popularity, n, 5.0) for n in range(0, 200, 3)]
    to_fold = [discordant(b, fold) for b in blends]
    to_popularity = [discordant(b, popularity) for b in blends]
    assert to_fold[0] > 0 and to_fold[-1] < to_fold[0]
    assert all(a >= b for a, b in zip(to_fold, to_fold[1:]))
    assert all(a <= b for a, b in zip(to_popularity, to_popularity[1:]))


def test_rows_per_user_each_with_their_own_count():
    rows = np.vstack([FOLD, FOLD, np.full(len(FOLD), -np.inf)])
    got = shrunk(rows, POPULARITY, np.array([0, 10**9, 2]), 3.0)
    assert got.shape == rows.shape
    assert order(got[0]) == order(POPULARITY) and order(got[1]) == order(FOLD)
    # a user none of whose movies the model knows gets popularity, on its scale
    assert np.allclose(got[2], 0.6 * scaled(POPULARITY))
    assert np.allclose(shrunk(rows, POPULARITY, 2, 3.0)[0], shrunk(FOLD, POPULARITY, 2, 3.0))
    with pytest.raises(ValueError, match="popularity"):
        shrunk(rows, POPULARITY[:-1], 2, 3.0)


def test_the_evaluations_batch_fold_ins_are_the_one_user_ones():
    """implicit_scores and fold_in_matrix, which score the cold-start evaluation's newcomers,
    give each user what fold_in / fold_in_scores (the served path) give them alone."""
    import pandas as pd

    from movielake.algorithms import ease
    from movielake.algorithms.foldin import fold_in, implicit_scores

    rng = np.random.default_rng(8)
    ids = np.array([3, 5, 8, 13, 21, 34])
    factors = rng.normal(size=(6, 2))
    known = pd.DataFrame({"user_id": [1, 1, 2, 9], "movie_id": [5, 21, 8, 99], "rating": 4.0})
    scores, used = implicit_scores(known, [1, 2, 9], ids, factors, 0.1, 2.0)
    x = fold_in(
        factors[[1, 4]], [4.0, 4.0], 0.1, implicit=True, alpha=2.0, all_item_factors=factors
    )
    assert np.allclose(scores[0], factors @ x) and used.tolist() == [2, 1, 0]
    assert np.all(np.isneginf(scores[2]))  # movie 99 has no factors: nothing to fold in

    b = rng.normal(size=(6, 6))
    np.fill_diagonal(b, 0.0)
    rows = pd.DataFrame({"movie_id": ids, "neighbour_ids": [ids] * 6, "weights": list(b)})
    matrix, used = ease.fold_in_matrix(ids, b, "rating", known, [1, 2, 9])
    for row, user in enumerate([1, 2, 9]):
        mine = known[known.user_id == user]
        _, alone = ease.fold_in_scores(rows, mine.movie_id, mine.rating, "rating")
        assert np.allclose(matrix[row], alone)
    assert used.tolist() == [2, 1, 0]


def test_the_served_rule_attaches_popularity_and_k_to_either_kind_of_rows():
    """personal.with_new_user_rule (what every reader applies) and recommend: a one-rating
    user of an ALS model is shrunk towards the most rated movie; no k, no blend."""
    import pandas as pd

    from movielake.serving.personal import recommend, with_new_user_rule

    items = pd.DataFrame(
        {
            "id": [1, 2, 3, 4],
            "features": [[1.0, 0.0], [0.0, 1.0], [0.9, 0.1], [0.1, 0.9]],
            "bias": 0.0,
            "global_mean": 0.0,
        }
    )
    settings = {"model": "als_implicit", "reg_param": 0.1, "alpha": 1.0, "user_damping": 0}
    popularity = pd.DataFrame({"entity_id": [4, 2, 3], "n_ratings": [900, 5, 1]})
    rated = [("r", 1, 5.0)]
    assert with_new_user_rule(items, settings, popularity, None) == (items, settings)
    assert [m for m, _ in recommend(items, settings, rated, 3)][0] == 3  # the fold-in: like 1
    shrunk_items, shrunk_settings = with_new_user_rule(items, settings, popularity, 4.0)
    assert shrunk_items["popularity"].tolist() == [0.0, 5.0, 1.0, 900.0]
    assert shrunk_settings["new_user_shrinkage"] == 4.0
    assert [m for m, _ in recommend(shrunk_items, shrunk_settings, rated, 3)][0] == 4
    weights = pd.DataFrame({"movie_id": [2, 4], "weighting": "binary"})
    assert with_new_user_rule(weights, {}, popularity, 1.0)[0]["popularity"].tolist() == [5, 900]
