"""Movie twins on the shared synthetic build (3 planted near-duplicate user pairs), checked
against the brute-force reference; and the validation helpers on known samples."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

from conftest import rows
from movielake.algorithms.twins import exact_pairs_at_least, exact_top_pairs, permutation_test, random_pairs, recall_at

TWINS = "synth_twins"
PLANTED = [(145, 146), (147, 148), (149, 150)]


@pytest.fixture(scope="module")
def movie_sets(synthetic_build, spark):
    sets = defaultdict(list)
    for r in rows(spark, f"select user_id, movie_ids from {TWINS}.user_movie_sets"):
        sets[r["user_id"]] = r["movie_ids"]
    return dict(sets)


@pytest.fixture(scope="module")
def twins(synthetic_build, spark):
    return rows(spark, f"select * from {TWINS}.user_twins order by pair_rank")


def test_planted_twins_come_out_on_top(twins):
    assert len(twins) == 100
    assert sorted((t["user_a"], t["user_b"]) for t in twins[:3]) == PLANTED
    assert all(t["jaccard"] > 0.85 for t in twins[:3])
    assert twins[3]["jaccard"] < 0.85


def test_user_twins_are_exactly_scored_and_match_brute_force(twins, movie_sets):
    for t in twins:
        a, b = set(movie_sets[t["user_a"]]), set(movie_sets[t["user_b"]])
        assert t["user_a"] < t["user_b"]
        assert (t["movies_in_common"], t["set_size_a"], t["set_size_b"]) == (
            len(a & b), len(a), len(b))
        assert t["jaccard"] == pytest.approx(len(a & b) / len(a | b), abs=1e-12)
    assert [t["pair_rank"] for t in twins] == list(range(1, 101))
    exact = exact_top_pairs(movie_sets, 100)
    assert [p[:2] for p in exact[:3]] == PLANTED  # the reference agrees on the planted pairs
    found = [(t["user_a"], t["user_b"], t["jaccard"]) for t in twins]
    # LSH is approximate; with the default bands the top 100 here are nearly all found.
    assert recall_at(found, exact)["tie_aware_recall"] >= 0.9


def test_pair_correlations_match_numpy(synthetic_build, spark):
    pairs = rows(spark, f"select * from {TWINS}.twin_pair_correlations")
    assert {p["pair_group"] for p in pairs} == {"twins", "random"}
    assert sum(p["pair_group"] == "random" for p in pairs) == 100
    ratings = defaultdict(dict)
    for r in rows(spark, "select user_id, movie_id, rating from synth_staging.stg_movielens__ratings"):
        ratings[r["user_id"]][r["movie_id"]] = r["rating"]
    for p in pairs:
        common = sorted(set(ratings[p["user_a"]]) & set(ratings[p["user_b"]]))
        assert p["co_rated"] == len(common)
        x = np.array([ratings[p["user_a"]][m] for m in common])
        y = np.array([ratings[p["user_b"]][m] for m in common])
        if len(common) < 2:
            assert p["pearson"] is None and p["undefined_reason"] == "fewer_than_2_co_rated"
        elif x.std() == 0 or y.std() == 0:
            assert p["pearson"] is None and p["undefined_reason"] == "zero_variance"
        else:
            assert p["pearson"] == pytest.approx(np.corrcoef(x, y)[0, 1], abs=1e-9)
    planted = [p for p in pairs if (p["user_a"], p["user_b"]) in PLANTED]
    assert len(planted) == 3 and all(p["pearson"] > 0.8 for p in planted)


def test_validation_table_summarises_the_pairs(synthetic_build, spark):
    got = {r["pair_group"]: r for r in rows(spark, f"select * from {TWINS}.twin_validation")}
    pairs = rows(spark, f"select pair_group, pearson from {TWINS}.twin_pair_correlations")
    for group in ("twins", "random"):
        values = [p["pearson"] for p in pairs if p["pair_group"] == group and p["pearson"] is not None]
        row = got[group]
        assert row["pairs"] == 100
        assert row["pairs_with_correlation"] == len(values)
        assert row["mean_pearson"] == pytest.approx(np.mean(values))
        assert row["median_pearson"] == pytest.approx(np.median(values))
    assert got["twins"]["p_value"] == got["random"]["p_value"]
    assert 0 < got["twins"]["p_value"] <= 1
    assert got["twins"]["statistic"] == pytest.approx(
        got["twins"]["mean_pearson"] - got["random"]["mean_pearson"])


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
    sets = {u: sorted(rng.choice(80, rng.integers(3, 25), replace=False,
                                 p=popularity / popularity.sum()).tolist()) for u in range(300)}
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
    sets = {u: sorted(rng.choice(60, rng.integers(1, 20), replace=False).tolist())
            for u in range(3, 40)}
    sets[1 << 31] = sets[3][:]  # a large id: pairs are packed as (a << 32 | b)
    ids = sorted(sets)
    pairs = [(a, b) for a in ids for b in ids if a < b and rng.random() < 0.3]
    doubled = pairs + pairs[::3]
    frame = pd.DataFrame(doubled, columns=["user_a", "user_b"]).sample(frac=1, random_state=2)
    shuffled = list(sets.items())[::-1]
    out = jaccard_block(frame, pd.DataFrame({"user_id": [u for u, _ in shuffled],
                                              "movie_ids": [s for _, s in shuffled]}),
                         cells=cells)
    assert len(out) == len(set(pairs))
    for r in out.itertuples():
        a, b = set(sets[r.user_a]), set(sets[r.user_b])
        assert (r.movies_in_common, r.set_size_a, r.set_size_b) == (len(a & b), len(a), len(b))
        assert r.jaccard == pytest.approx(len(a & b) / len(a | b), abs=1e-12)
    empty = jaccard_block(frame.iloc[:0], pd.DataFrame({"user_id": [], "movie_ids": []}))
    assert len(empty) == 0
