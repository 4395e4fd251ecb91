"""Movie twins: users whose sets of rated movies are most alike (Jaccard), and whether such users
also rate alike (Pearson). Shared by the `twins` dbt Python models, the benchmark and the tests.

- `lsh_top_pairs`: MLlib MinHashLSH signatures, banded (AND within a band, OR across bands) so
  that a very popular movie alone cannot put most users in one bucket; oversized buckets are
  dropped and counted; candidates are re-scored with exact Jaccard.
- `exact_top_pairs`: brute force over every pair (numpy, blocked), the reference for recall;
  `exact_pairs_at_least`: the same answer above a Jaccard threshold by prefix filtering, for
  releases too large for all pairs.
- `random_pairs`, `permutation_test`, `summarise`: the validation against random pairs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np


class Pair(NamedTuple):
    """One pair of users and how alike their movie sets are (a row of user_twins)."""

    user_a: int
    user_b: int
    jaccard: float
    movies_in_common: int
    set_size_a: int
    set_size_b: int


PAIR_COLUMNS = Pair._fields


@dataclass
class LshStats:
    """What the candidate generation did, for logs and the benchmark."""

    users: int = 0
    buckets_dropped: int = 0
    users_in_dropped_buckets: int = 0
    candidate_pairs: int = 0


def movie_sets(ratings, min_ratings: int):
    """ratings (user_id, movie_id, ...) -> one row per user with at least `min_ratings` (and
    never fewer than 1) distinct movies: user_id, movie_ids (sorted), set_size, movie_vector
    (0/1 SparseVector indexed by movie id), the input of lsh_top_pairs."""
    from pyspark.ml.linalg import SparseVector, VectorUDT
    from pyspark.sql import functions as F

    width = (ratings.agg(F.max("movie_id")).first()[0] or 0) + 1
    sets = (
        ratings.groupBy("user_id")
        .agg(F.sort_array(F.collect_set("movie_id")).alias("movie_ids"))
        .withColumn("set_size", F.size("movie_ids"))
        .where(F.col("set_size") >= max(1, min_ratings))
    )
    to_vector = F.udf(lambda ids: SparseVector(width, ids, [1.0] * len(ids)), VectorUDT())
    return sets.withColumn("movie_vector", to_vector("movie_ids"))


def lsh_top_pairs(sets, top_n: int, bands: int, band_rows: int, distance_threshold: float,
                  max_bucket_size: int, seed: int, stats: LshStats | None = None):
    """Top `top_n` pairs by exact Jaccard among the LSH candidates of `sets` (a DataFrame with
    user_id, movie_ids (sorted array), set_size, movie_vector); columns PAIR_COLUMNS + pair_rank.

    A pair becomes a candidate when, in at least one of `bands` bands, its `band_rows` min-hashes
    all agree: probability 1 - (1 - J^r)^b for Jaccard J. band_rows = 1 is MLlib's own
    approxSimilarityJoin (OR only), where one popular movie hashing lowest for many users makes
    a bucket of most users. Buckets larger than `max_bucket_size` are dropped (true twins
    still meet in other bands); pairs with exact Jaccard distance above `distance_threshold`
    are never kept."""
    from pyspark.ml.feature import MinHashLSH
    from pyspark.sql import Window
    from pyspark.sql import functions as F
    from pyspark.ml.functions import vector_to_array

    # MinHashLSH rejects empty vectors: drop them explicitly (user_movie_sets never has any).
    sets = sets.where(F.col("set_size") > 0)
    lsh = MinHashLSH(inputCol="movie_vector", outputCol="hashes", seed=seed,
                     numHashTables=bands * band_rows)
    hashed = lsh.fit(sets).transform(sets)
    # hashes: array of 1-element vectors, one per hash function -> array<double>.
    signature = F.transform("hashes", lambda v: vector_to_array(v)[0])
    keys = (
        hashed.select("user_id", signature.alias("sig"))
        .select("user_id", "sig", F.explode(F.sequence(F.lit(0), F.lit(bands - 1))).alias("band"))
        .select("user_id", "band",
                F.xxhash64(F.slice("sig", F.col("band") * band_rows + 1, band_rows))
                .alias("bucket"))
    )
    bucket_size = F.count("*").over(Window.partitionBy("band", "bucket"))
    keys = keys.withColumn("bucket_size", bucket_size).where(F.col("bucket_size") > 1)
    keys = keys.persist()
    try:
        if stats is not None:
            big = keys.where(F.col("bucket_size") > max_bucket_size)
            row = big.agg(F.countDistinct("band", "bucket").alias("buckets"),
                          F.countDistinct("user_id").alias("users")).first()
            stats.buckets_dropped, stats.users_in_dropped_buckets = row["buckets"], row["users"]
        kept = keys.where(F.col("bucket_size") <= max_bucket_size).select("user_id", "band",
                                                                          "bucket")
        left, right = kept.alias("l"), kept.alias("r")
        # Not deduplicated here: a pair met in several bands is scored once by _exact_jaccard.
        candidates = (
            left.join(right, ["band", "bucket"])
            .where(F.col("l.user_id") < F.col("r.user_id"))
            .select(F.col("l.user_id").alias("user_a"), F.col("r.user_id").alias("user_b"))
        )
        # Persisted so that counting the candidates does not redo the self-join.
        scored = _exact_jaccard(candidates, sets).persist()
        if stats is not None:
            stats.users = sets.count()
            stats.candidate_pairs = scored.count()
        ranked = rank_pairs(scored.where(F.col("jaccard") >= 1.0 - distance_threshold), top_n)
        # Materialise before unpersisting what it is built from.
        result = ranked.localCheckpoint(eager=True)
        scored.unpersist()
        return result
    finally:
        keys.unpersist()


JACCARD_BLOCKS = 8  # user blocks: the exact scoring runs as blocks x (blocks + 1) / 2 tasks


def _exact_jaccard(pairs, sets, blocks: int = JACCARD_BLOCKS):
    """pairs (user_a, user_b), duplicates allowed -> PAIR_COLUMNS, one row per distinct pair,
    Jaccard from the full movie sets.

    Users fall in `blocks` blocks by id; the pairs and the sets meet per pair of blocks in a
    cogroup, so each movie set is shuffled `blocks` times rather than once per candidate pair
    (tens of millions of candidates at 20M ratings, each carrying two arrays through two joins)."""
    from pyspark.sql import functions as F

    def block_pair(first, second):
        return [F.least(first, second).alias("block_lo"), F.greatest(first, second).alias("block_hi")]

    keyed_pairs = pairs.select(*block_pair(F.pmod("user_a", F.lit(blocks)),
                                           F.pmod("user_b", F.lit(blocks))), "user_a", "user_b")
    # Each set goes to every block pair its block is part of.
    own = F.pmod("user_id", F.lit(blocks))
    keyed_sets = (sets.select("user_id", "movie_ids",
                              own.alias("own"),
                              F.explode(F.sequence(F.lit(0), F.lit(blocks - 1))).alias("other"))
                  .select(*block_pair(F.col("own"), F.col("other")), "user_id", "movie_ids"))
    return (keyed_pairs.groupBy("block_lo", "block_hi")
            .cogroup(keyed_sets.groupBy("block_lo", "block_hi"))
            # Two parameters exactly: Spark passes the group key too to a function of three.
            .applyInPandas(lambda pairs_, sets_: _jaccard_block(pairs_, sets_), PAIR_SCHEMA))


PAIR_SCHEMA = ("user_a long, user_b long, jaccard double, movies_in_common int, "
               "set_size_a int, set_size_b int")


def _jaccard_block(pairs, sets, cells: int = 1 << 25):
    """cogroup body of _exact_jaccard: the distinct pairs of one block pair, scored against the
    sets of its users. Pairs go in chunks of first users: their sets become the rows of a dense
    0/1 matrix, and each pair's common movies are a gather of the second user's movies from its
    first user's row. A chunk holds at most `cells` matrix cells and about as many gathered
    movies, so memory stays bounded whatever the block's size."""
    import pandas as pd

    # one int64 per pair (user_a < user_b; MovieLens ids are positive and below 2**31), so that
    # np.unique both deduplicates and sorts the pairs by first user
    codes = np.unique(pairs["user_a"].to_numpy(np.int64) << 32 | pairs["user_b"].to_numpy(np.int64))
    if len(codes) == 0:
        return pd.DataFrame({name: [] for name in PAIR_COLUMNS})
    user_a, user_b = codes >> 32, codes & 0xFFFFFFFF
    order = np.argsort(sets["user_id"].to_numpy())
    ids = sets["user_id"].to_numpy(np.int64)[order]
    lists = sets["movie_ids"].to_numpy()[order]
    sizes = np.fromiter((len(x) for x in lists), dtype=np.int64, count=len(lists))
    starts = np.cumsum(sizes) - sizes
    # Movie ids -> columns 0..width-1 of the movies these sets hold.
    movies, flat = np.unique(np.concatenate(lists), return_inverse=True)
    width = len(movies)
    row_a, row_b = np.searchsorted(ids, user_a), np.searchsorted(ids, user_b)
    # codes are sorted, so each first user's pairs form one run; chunks are runs of runs.
    run_starts = np.flatnonzero(np.r_[True, row_a[1:] != row_a[:-1]])
    cost = np.add.reduceat(sizes[row_b], run_starts)
    by_cost = (np.cumsum(cost) - cost) // cells
    by_rows = np.arange(len(run_starts)) // max(1, cells // width)
    chunk_starts = run_starts[np.r_[True, (by_cost[1:] != by_cost[:-1]) | (by_rows[1:] != by_rows[:-1])]]
    common = np.empty(len(codes), dtype=np.int64)
    for lo, hi in zip(chunk_starts, np.r_[chunk_starts[1:], len(codes)]):
        firsts, local = np.unique(row_a[lo:hi], return_inverse=True)
        matrix = np.zeros((len(firsts), width), dtype=bool)
        matrix[np.repeat(np.arange(len(firsts)), sizes[firsts]),
               flat[_ranges(starts[firsts], sizes[firsts])]] = True
        seconds = row_b[lo:hi]
        hits = matrix[np.repeat(local, sizes[seconds]), flat[_ranges(starts[seconds], sizes[seconds])]]
        # Sets are never empty, so every pair's segment of hits is too.
        common[lo:hi] = np.add.reduceat(hits, np.cumsum(sizes[seconds]) - sizes[seconds])
    size_a, size_b = sizes[row_a], sizes[row_b]
    return pd.DataFrame({"user_a": user_a, "user_b": user_b,
                         "jaccard": common / (size_a + size_b - common),
                         "movies_in_common": common.astype(np.int32),
                         "set_size_a": size_a.astype(np.int32), "set_size_b": size_b.astype(np.int32)})


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The positions starts[i] .. starts[i] + lengths[i] - 1 for every i, concatenated."""
    offsets = np.cumsum(lengths) - lengths
    return np.repeat(starts - offsets, lengths) + np.arange(int(lengths.sum()))


def rank_pairs(scored, top_n: int):
    """The `top_n` best pairs, pair_rank 1 = highest Jaccard; ties broken by (user_a, user_b)
    so that the same data always gives the same table (and the same order as exact_top_pairs)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    order = Window.orderBy(F.col("jaccard").desc(), "user_a", "user_b")
    return (scored.withColumn("pair_rank", F.row_number().over(order).cast("int"))
            .where(F.col("pair_rank") <= top_n))


def exact_top_pairs(sets: dict[int, list[int]], top_n: int, block: int = 512) -> list[Pair]:
    """Brute force: Jaccard of every pair of users, the best `top_n` as Pairs in
    pair_rank order (same tie-break as rank_pairs). Intersections come from a dense 0/1 matrix
    product in row blocks, so memory stays at block x users."""
    users = sorted(sets)
    if len(users) < 2:
        return []
    movies = {m: i for i, m in enumerate(sorted({m for ids in sets.values() for m in ids}))}
    matrix = np.zeros((len(users), len(movies)), dtype=np.float32)
    for row, user in enumerate(users):
        matrix[row, [movies[m] for m in sets[user]]] = 1.0
    sizes = matrix.sum(axis=1)
    ids = np.array(users)
    class Candidate(NamedTuple):
        jaccard: float
        row_a: int
        row_b: int
        common: int

    best: list[Candidate] = []  # per block, pruned
    for start in range(0, len(users), block):
        stop = min(start + block, len(users))
        common = matrix[start:stop] @ matrix.T  # exact: integer counts < 2**24
        union = sizes[start:stop, None] + sizes[None, :] - common
        jaccard = common.astype(np.float64) / np.maximum(union, 1)
        rows_, cols = np.nonzero(np.arange(len(users))[None, :] > np.arange(start, stop)[:, None])
        values = jaccard[rows_, cols]
        keep = min(top_n, len(values))
        # Everything tied with the keep-th value is kept so the tie-break below is exact.
        cut = np.partition(values, len(values) - keep)[len(values) - keep]
        chosen = np.nonzero(values >= cut)[0]
        best.extend(Candidate(float(values[k]), start + int(rows_[k]), int(cols[k]),
                              int(common[rows_[k], cols[k]])) for k in chosen)
    best.sort(key=lambda c: (-c.jaccard, ids[c.row_a], ids[c.row_b]))
    return [Pair(int(ids[c.row_a]), int(ids[c.row_b]), c.jaccard, c.common, int(sizes[c.row_a]),
                 int(sizes[c.row_b])) for c in best[:top_n]]


def exact_pairs_at_least(users: np.ndarray, movies: np.ndarray, threshold: float,
                         top_n: int, max_candidates: int = 200_000_000) -> list[Pair]:
    """The exact best `top_n` pairs among those with Jaccard >= `threshold` (> 0), for releases
    too large for exact_top_pairs' all-pairs product: `users`, `movies` are the (user, movie)
    rows of the sets. Prefix filtering: with movies ordered rarest first, two sets with Jaccard
    >= t share a movie among each one's first |s| - ceil(t |s|) + 1, so only pairs sharing
    such a prefix movie (and with sizes within a factor t) are scored. Given the threshold of
    an approximate top-N, this is the reference it is checked against: every pair at or above
    that Jaccard is found. Raises ValueError past `max_candidates` pairs (a threshold too
    low for the data)."""
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    rows = np.unique(np.stack([np.asarray(users, np.int64), np.asarray(movies, np.int64)]),
                     axis=1)
    user_ids, row_user = np.unique(rows[0], return_inverse=True)
    movie_ids, row_movie = np.unique(rows[1], return_inverse=True)
    frequency = np.bincount(row_movie)
    token = np.empty(len(movie_ids), np.int64)  # rank of each movie, rarest first
    token[np.lexsort((movie_ids, frequency))] = np.arange(len(movie_ids))
    order = np.lexsort((token[row_movie], row_user))
    row_user, row_token = row_user[order], token[row_movie][order]
    sizes = np.bincount(row_user, minlength=len(user_ids))
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    position = np.arange(len(row_user)) - starts[row_user]
    prefix = sizes - np.ceil(threshold * sizes - 1e-9).astype(np.int64) + 1
    keep = position < prefix[row_user]
    p_user, p_token = row_user[keep], row_token[keep]
    by_token = np.argsort(p_token, kind="stable")
    p_user, p_token = p_user[by_token], p_token[by_token]
    bounds = np.flatnonzero(np.diff(p_token)) + 1
    groups = [g for g in np.split(p_user, bounds) if len(g) > 1]
    if sum(len(g) * (len(g) - 1) // 2 for g in groups) > max_candidates:
        raise ValueError(f"more than {max_candidates} candidate pairs at Jaccard {threshold}")
    pairs = []
    for group in groups:  # pairs of users (by position, a < b) sharing a prefix movie
        a, b = np.triu_indices(len(group), 1)
        a, b = np.minimum(group[a], group[b]), np.maximum(group[a], group[b])
        small, large = np.minimum(sizes[a], sizes[b]), np.maximum(sizes[a], sizes[b])
        fits = small >= threshold * large - 1e-9
        pairs.append(a[fits] * len(user_ids) + b[fits])
    if not pairs:
        return []
    code = np.unique(np.concatenate(pairs))
    a, b = code // len(user_ids), code % len(user_ids)
    from scipy import sparse

    x = sparse.csr_matrix((np.ones(len(row_user), np.float32), (row_user, row_token)),
                          shape=(len(user_ids), len(movie_ids)))
    common = np.concatenate([
        np.asarray(x[a[i:i + 1_000_000]].multiply(x[b[i:i + 1_000_000]]).sum(axis=1)).ravel()
        for i in range(0, len(a), 1_000_000)]).astype(np.int64)
    jaccard = common / (sizes[a] + sizes[b] - common)
    hit = jaccard >= threshold - 1e-12
    a, b, common, jaccard = a[hit], b[hit], common[hit], jaccard[hit]
    best = np.lexsort((user_ids[b], user_ids[a], -jaccard))[:top_n]
    return [Pair(int(user_ids[a[k]]), int(user_ids[b[k]]), float(jaccard[k]), int(common[k]),
                 int(sizes[a[k]]), int(sizes[b[k]])) for k in best]


def recall_at(found: list[tuple], exact: list[Pair]) -> dict[str, float]:
    """found: (user_a, user_b, jaccard, ...) rows (Pairs or user_twins rows); exact: Pairs.
    recall: share of the exact top pairs found (ties at the cut broken by user ids, as in
    both rankings); tie_aware: share of found pairs at least as similar as the exact last one
    (counts a pair tied with a missed one as a hit)."""
    if not exact:
        return {"recall": 1.0, "tie_aware_recall": 1.0}
    found = [(user_a, user_b, jaccard) for user_a, user_b, jaccard, *_ in found]
    found_pairs = {(user_a, user_b) for user_a, user_b, _ in found}
    hits = sum((e.user_a, e.user_b) in found_pairs for e in exact)
    floor = exact[-1].jaccard
    tie_hits = sum(1 for _, _, jaccard in found if jaccard >= floor - 1e-12)
    return {"recall": hits / len(exact), "tie_aware_recall": min(tie_hits, len(exact)) / len(exact)}


def random_pairs(users: list[int], count: int, seed: int,
                 exclude: set[tuple[int, int]] = frozenset()) -> list[tuple[int, int]]:
    """`count` distinct pairs (a < b) of distinct users drawn uniformly with `seed`, none of them
    in `exclude`; fewer only when there are not enough pairs."""
    users = sorted(set(users))
    possible = len(users) * (len(users) - 1) // 2 - len(exclude)
    count = max(0, min(count, possible))
    rng = np.random.default_rng(seed)
    chosen: dict[tuple[int, int], None] = {}
    while len(chosen) < count:
        a, b = rng.choice(len(users), size=2, replace=False)
        pair = (min(users[a], users[b]), max(users[a], users[b]))
        if pair not in exclude:
            chosen.setdefault(pair)
    return list(chosen)


def permutation_test(first: np.ndarray, second: np.ndarray, permutations: int,
                     seed: int) -> tuple[float, float]:
    """One-sided permutation test of mean(first) > mean(second): (observed difference of
    means, p-value). p = (1 + #shuffles with a difference >= observed) / (1 + permutations),
    never 0; NaN when either sample is empty."""
    first, second = np.asarray(first, float), np.asarray(second, float)
    if len(first) == 0 or len(second) == 0:
        return float("nan"), float("nan")
    observed = first.mean() - second.mean()
    pooled = np.concatenate([first, second])
    rng = np.random.default_rng(seed)
    at_least = 0
    for _ in range(permutations):
        shuffled = rng.permutation(pooled)
        at_least += shuffled[: len(first)].mean() - shuffled[len(first):].mean() >= observed - 1e-12
    return float(observed), float((1 + at_least) / (1 + permutations))


def summarise(values: np.ndarray) -> dict[str, float | None]:
    """mean, median and sample std of the defined correlations (None when there are none)."""
    values = np.asarray(values, float)
    if len(values) == 0:
        return {"mean_pearson": None, "median_pearson": None, "std_pearson": None}
    return {
        "mean_pearson": float(values.mean()),
        "median_pearson": float(np.median(values)),
        "std_pearson": float(values.std(ddof=1)) if len(values) > 1 else None,
    }
