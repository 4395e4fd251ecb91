"""The recommenders' numpy side, without a JVM: ALS fold-in, EASE and hybrid list rules,
successive halving's rungs, explanations, personal ratings files, and movie twins' exact
algebra and validation statistics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from movielake.algorithms.foldin import fold_in
from movielake.algorithms.twins import (
    exact_pairs_at_least,
    exact_top_pairs,
    permutation_test,
    random_pairs,
)
from movielake.serving.personal import (
    PersonalRatingsError,
    check_ratings,
    rating_scale,
    read_ratings_file,
    recommend,
    split_known,
)


def test_permutation_test_separates_shifted_samples_only():
    rng = np.random.default_rng(0)
    low, high = rng.normal(0.0, 0.2, 100), rng.normal(0.3, 0.2, 100)
    diff, p = permutation_test(high, low, 2000, seed=1)
    assert diff > 0.2 and p == pytest.approx(1 / 2001)
    _, p_same = permutation_test(rng.normal(0, 0.2, 100), rng.normal(0, 0.2, 100), 2000, seed=1)
    assert p_same > 0.01
    _, p_reversed = permutation_test(low, high, 2000, seed=1)
    assert p_reversed > 0.99  # one-sided: twins below random is no evidence


def test_random_pairs_are_seeded_distinct_and_exclude_twins():
    users = list(range(1, 21))
    first = random_pairs(users, 50, seed=3, exclude={(1, 2)})
    assert first == random_pairs(users, 50, seed=3, exclude={(1, 2)})
    assert len(set(first)) == 50 and all(a < b for a, b in first) and (1, 2) not in first
    assert len(random_pairs([1, 2, 3], 10, seed=3)) == 3  # all there are


def test_exact_top_pairs_ties_and_tiny_inputs():
    sets = {1: [1, 2], 2: [1, 2], 3: [1, 2], 4: [9]}
    assert exact_top_pairs(sets, 2) == [(1, 2, 1.0, 2, 2, 2), (1, 3, 1.0, 2, 2, 2)]
    assert exact_top_pairs({1: [1]}, 5) == []


@pytest.mark.parametrize("threshold", [0.15, 0.4, 0.75, 1.0])
def test_prefix_filtering_finds_every_pair_brute_force_finds(threshold):
    """exact_pairs_at_least (the reference at scale) against the all-pairs product, on sets
    with skewed popularity, varied sizes and planted duplicates (Jaccard 1.0 and near it)."""
    rng = np.random.default_rng(5)
    popularity = 1.0 / np.arange(1, 81) ** 0.8
    sets = {
        u: sorted(
            rng.choice(
                80, rng.integers(3, 25), replace=False, p=popularity / popularity.sum()
            ).tolist()
        )
        for u in range(300)
    }
    sets[300], sets[301] = list(sets[7]), sets[8][:-1] + [79]
    users = np.repeat(list(sets), [len(s) for s in sets.values()])
    movies = np.concatenate([s for s in sets.values()])
    everything = exact_top_pairs(sets, len(sets) ** 2)
    expected = [p for p in everything if p.jaccard >= threshold - 1e-12]
    assert expected  # the case is not vacuous
    assert exact_pairs_at_least(users, movies, threshold, len(expected) + 10) == expected
    assert exact_pairs_at_least(users, movies, threshold, 3) == expected[:3]
    with pytest.raises(ValueError, match="candidate pairs"):
        exact_pairs_at_least(users, movies, 0.15, 10, max_candidates=10)


@pytest.mark.parametrize("cells", [1 << 25, 64, 1])
def test_block_jaccard_scores_each_distinct_pair_exactly(cells):
    """The cogroup body user_twins scores candidates with: duplicate pairs (a pair met in
    several bands) come out once, and chunking (small `cells` forces one first user, or one
    pair, per chunk) does not change a figure."""
    import pandas as pd

    from movielake.algorithms.twins import jaccard_block

    rng = np.random.default_rng(11)
    sets = {
        u: sorted(rng.choice(60, rng.integers(1, 20), replace=False).tolist()) for u in range(3, 40)
    }
    sets[1 << 31] = sets[3][:]  # a large id: pairs are packed as (a << 32 | b)
    ids = sorted(sets)
    pairs = [(a, b) for a in ids for b in ids if a < b and rng.random() < 0.3]
    doubled = pairs + pairs[::3]
    frame = pd.DataFrame(doubled, columns=["user_a", "user_b"]).sample(frac=1, random_state=2)
    shuffled = list(sets.items())[::-1]
    out = jaccard_block(
        frame,
        pd.DataFrame({"user_id": [u for u, _ in shuffled], "movie_ids": [s for _, s in shuffled]}),
        cells=cells,
    )
    assert len(out) == len(set(pairs))
    for r in out.itertuples():
        a, b = set(sets[r.user_a]), set(sets[r.user_b])
        assert (r.movies_in_common, r.set_size_a, r.set_size_b) == (len(a & b), len(a), len(b))
        assert r.jaccard == pytest.approx(len(a & b) / len(a | b), abs=1e-12)
    empty = jaccard_block(frame.iloc[:0], pd.DataFrame({"user_id": [], "movie_ids": []}))
    assert len(empty) == 0


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
    got = fold_in(all_items[rated], r, reg, implicit=True, alpha=alpha, all_item_factors=all_items)
    assert np.allclose(got, expected)


def test_fold_in_rejects_mismatched_input():
    with pytest.raises(ValueError):
        fold_in(np.ones((2, 3)), np.ones(3), 0.1)


def test_new_movies_take_the_last_places_without_repeats():
    from movielake.algorithms.hybrid import with_new_movies

    top = [(1, 0.9), (2, 0.8), (3, 0.7), (4, 0.6)]
    assert with_new_movies(top, [(7, 0.5), (8, 0.4)], 4, 1) == [
        (1, 0.9, False),
        (2, 0.8, False),
        (3, 0.7, False),
        (7, 0.5, True),
    ]
    # two places, one new movie already in the served part: the next new one, the place after
    assert with_new_movies(top, [(2, 0.5), (8, 0.4), (9, 0.3)], 4, 2) == [
        (1, 0.9, False),
        (2, 0.8, False),
        (8, 0.4, True),
        (9, 0.3, True),
    ]
    # fewer new movies than places: the served model keeps the rest
    assert with_new_movies(top, [(8, 0.4)], 4, 3) == [
        (1, 0.9, False),
        (2, 0.8, False),
        (3, 0.7, False),
        (8, 0.4, True),
    ]
    # no places, or no new movies: the served top-K unchanged
    assert with_new_movies(top, [(8, 0.4)], 4, 0) == [(m, s, False) for m, s in top]
    assert with_new_movies(top, [], 4, 2) == [(m, s, False) for m, s in top]
    # a new movie the served model also ranks (the hybrid served) is shown once, in its place
    assert with_new_movies([(1, 0.9), (8, 0.8)], [(8, 0.5), (9, 0.1)], 2, 1) == [
        (1, 0.9, False),
        (8, 0.5, True),
    ]
    assert with_new_movies([(8, 0.9), (1, 0.8)], [(8, 0.5), (9, 0.1)], 2, 1) == [
        (8, 0.9, False),
        (9, 0.1, True),
    ]


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
    items = pd.DataFrame(
        {"id": [1, 2, 3, 4], "features": [[1.0, 0.0], [0.0, 1.0], [2.0, 0.1], [0.1, 3.0]]}
    )
    # the hybrid's item factors reach the new movies 5 and 6 too
    hybrid_items = pd.DataFrame(
        {
            "id": [1, 2, 3, 4, 5, 6],
            "features": [[1.0, 0.0], [0.0, 1.0], [2.0, 0.1], [0.1, 3.0], [0.2, 1.0], [1.0, 0.3]],
        }
    )
    tags = pd.DataFrame(
        [
            (1, "dark", 1),
            (1, "space", 2),
            (2, "heist", 1),
            (2, "dark", 2),
            (5, "heist", 1),
            (5, "dark", 2),
            (5, "funny", 3),
            (6, "musical", 1),
        ],
        columns=["movie_id", "tag", "tag_rank"],
    )
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
    weights = pd.DataFrame(
        {
            "model": "item_item",
            "weighting": "rating",
            "movie_id": [1, 2, 3, 4],
            "neighbour_ids": [[3, 4], [3, 4], None, None],
            "weights": [[0.5, 0.1], [0.2, 0.4], None, None],
        }
    )
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
    assert split_known(rows, set()) == (
        [],
        [
            n + ", skipped"
            for n in (
                "seed row 1: movie 1 is not in this release",
                "seed row 2: movie 110 is not in this release",
                "seed row 3: movie 2 is not in this release",
            )
        ],
    )


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

    items = pd.DataFrame(
        {
            "id": [1, 2, 3, 4],
            "features": [[1.0, 0.0], [0.0, 1.0], [0.9, 0.1], [0.1, 0.9]],
            "bias": 0.0,
            "global_mean": 0.0,
        }
    )
    settings = {"model": "als_explicit", "reg_param": 0.01, "alpha": 1.0, "user_damping": 0}
    top = recommend(items, settings, [("r", 1, 5.0), ("r", 2, 1.0)], k=2)
    assert [movie for movie, _ in top] == [3, 4]  # likes the first factor: 3 before 4


def _timed_ratings(seed: int, weighting: str):
    """Ratings of several users (parallel arrays), with sessions (seconds apart), ties in time
    and far-apart ratings, over 12 items."""
    rng = np.random.default_rng(seed)
    user, pos, value, seconds = [], [], [], []
    for u in (7, 3, 11, 5):
        movies = rng.choice(12, size=int(rng.integers(2, 10)), replace=False)
        start = rng.uniform(1e9, 1.1e9)
        # a session (steps of 0-400 s, repeats: ties in time), then ratings days apart
        session = start + rng.choice([0.0, 0.0, 60.0, 400.0], size=len(movies) // 2).cumsum()
        later = start + rng.uniform(1e5, 1e7, len(movies) - len(session))
        times = np.concatenate([session, later])
        user += [u] * len(movies)
        pos += list(movies)
        stars = rng.choice([0.5, 1.0, 3.5, 4.0, 5.0], size=len(movies))
        value += list(np.ones(len(movies)) if weighting == "binary" else stars)
        seconds += list(times)
    order = rng.permutation(len(user))  # the kernel must not rely on the rows' order
    return tuple(np.asarray(a)[order] for a in (user, pos, value, seconds))


def _brute_force_gram(user, pos, value, seconds, n, tau, floor):
    """sum over users and every pair (i, j) of their ratings, self pairs included, of
    x_ui x_uj (floor + exp(-|t_ui - t_uj| / tau)): the definition, one pair at a time."""
    g = np.zeros((n, n))
    for u in np.unique(user):
        mine = np.flatnonzero(user == u)
        for a in mine:
            for b in mine:
                dt = abs(seconds[a] - seconds[b])
                g[pos[a], pos[b]] += value[a] * value[b] * (floor + math.exp(-dt / tau))
    return g


@pytest.mark.parametrize("weighting", ["binary", "rating"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_time_kernel_gram_is_the_brute_force_double_loop(weighting, seed):
    from movielake.algorithms.ease import gram_part

    user, pos, value, seconds = _timed_ratings(seed, weighting)
    for tau, floor in ((300.0, 0.2), (60.0, 0.0), (5e5, 1.0)):
        expected = _brute_force_gram(user, pos, value, seconds, 12, tau, floor)
        # every pair (an unbounded window): the definition to rounding
        exact = gram_part(user, pos, value, 12, seconds, tau, floor, window=np.inf)
        assert np.allclose(exact.toarray(), expected, rtol=1e-12, atol=1e-12)
        # the default window skips pairs past 10 tau: each off by under exp(-10) x value^2
        windowed = gram_part(user, pos, value, 12, seconds, tau, floor).toarray()
        assert np.allclose(windowed, expected, rtol=0, atol=25 * math.exp(-10) * len(user))
        assert np.allclose(windowed, windowed.T)
    # ties and sessions matter: the kernel is not a multiple of the co-counts
    plain = gram_part(user, pos, value, 12).toarray()
    kernel = gram_part(user, pos, value, 12, seconds, 300.0, 0.0).toarray()
    assert not np.allclose(kernel, plain * (kernel.sum() / plain.sum()))


def test_time_kernel_chunks_add_up_and_tau_zero_is_x_transpose_x():
    from movielake.algorithms.ease import gram_part, time_kernel

    user, pos, value, seconds = _timed_ratings(4, "rating")
    whole = time_kernel(user, pos, value, seconds, 12, 300.0).toarray()
    # a chunk of one pair: every pair added into K on its own
    assert np.allclose(time_kernel(user, pos, value, seconds, 12, 300.0, chunk=1).toarray(), whole)
    for weighting in ("binary", "rating"):
        user, pos, value, seconds = _timed_ratings(5, weighting)
        users = np.unique(user)
        x = np.zeros((len(users), 12))
        x[np.searchsorted(users, user), pos] = value
        # tau 0 ignores the times and the floor: exactly X^T X (stars are exact binary fractions)
        got = gram_part(user, pos, value, 12, seconds, 0.0, 0.2).toarray()
        assert np.array_equal(got, x.T @ x)
        assert np.array_equal(gram_part(user, pos, value, 12).toarray(), x.T @ x)
