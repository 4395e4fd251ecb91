"""Movie twins' exact algebra in numpy: Jaccard of user movie sets scored a block of pairs at a
time, the brute-force top pairs (the reference for LSH's recall) and prefix filtering above a
threshold for releases too large for all pairs, and the validation against random pairs
(`random_pairs`, `permutation_test`, `summarise`)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd


class Pair(NamedTuple):
    """One pair of users and how alike their movie sets are (a row of user_twins)."""

    user_a: int
    user_b: int
    jaccard: float
    movies_in_common: int
    set_size_a: int
    set_size_b: int


PAIR_COLUMNS = Pair._fields


def jaccard_block(pairs, sets, cells: int = 1 << 25):
    """cogroup body of _exact_jaccard: the distinct pairs of one block pair, scored against the
    sets of its users. Pairs go in chunks of first users: their sets become the rows of a dense
    0/1 matrix, and each pair's common movies are a gather of the second user's movies from its
    first user's row. A chunk holds at most `cells` matrix cells and about as many gathered
    movies, so memory stays bounded whatever the block's size."""
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
    chunk_starts = run_starts[
        np.r_[True, (by_cost[1:] != by_cost[:-1]) | (by_rows[1:] != by_rows[:-1])]
    ]
    common = np.empty(len(codes), dtype=np.int64)
    for lo, hi in zip(chunk_starts, np.r_[chunk_starts[1:], len(codes)]):
        firsts, local = np.unique(row_a[lo:hi], return_inverse=True)
        matrix = np.zeros((len(firsts), width), dtype=bool)
        matrix[
            np.repeat(np.arange(len(firsts)), sizes[firsts]),
            flat[_ranges(starts[firsts], sizes[firsts])],
        ] = True
        seconds = row_b[lo:hi]
        hits = matrix[
            np.repeat(local, sizes[seconds]), flat[_ranges(starts[seconds], sizes[seconds])]
        ]
        # Sets are never empty, so every pair's segment of hits is too.
        common[lo:hi] = np.add.reduceat(hits, np.cumsum(sizes[seconds]) - sizes[seconds])
    size_a, size_b = sizes[row_a], sizes[row_b]
    return pd.DataFrame(
        {
            "user_a": user_a,
            "user_b": user_b,
            "jaccard": common / (size_a + size_b - common),
            "movies_in_common": common.astype(np.int32),
            "set_size_a": size_a.astype(np.int32),
            "set_size_b": size_b.astype(np.int32),
        }
    )


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The positions starts[i] .. starts[i] + lengths[i] - 1 for every i, concatenated."""
    offsets = np.cumsum(lengths) - lengths
    return np.repeat(starts - offsets, lengths) + np.arange(int(lengths.sum()))


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
        best.extend(
            Candidate(
                float(values[k]),
                start + int(rows_[k]),
                int(cols[k]),
                int(common[rows_[k], cols[k]]),
            )
            for k in chosen
        )
    best.sort(key=lambda c: (-c.jaccard, ids[c.row_a], ids[c.row_b]))
    return [
        Pair(
            int(ids[c.row_a]),
            int(ids[c.row_b]),
            c.jaccard,
            c.common,
            int(sizes[c.row_a]),
            int(sizes[c.row_b]),
        )
        for c in best[:top_n]
    ]


def exact_pairs_at_least(
    users: np.ndarray,
    movies: np.ndarray,
    threshold: float,
    top_n: int,
    max_candidates: int = 200_000_000,
) -> list[Pair]:
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
    rows = np.unique(np.stack([np.asarray(users, np.int64), np.asarray(movies, np.int64)]), axis=1)
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

    x = sparse.csr_matrix(
        (np.ones(len(row_user), np.float32), (row_user, row_token)),
        shape=(len(user_ids), len(movie_ids)),
    )
    common = np.concatenate(
        [
            np.asarray(
                x[a[i : i + 1_000_000]].multiply(x[b[i : i + 1_000_000]]).sum(axis=1)
            ).ravel()
            for i in range(0, len(a), 1_000_000)
        ]
    ).astype(np.int64)
    jaccard = common / (sizes[a] + sizes[b] - common)
    hit = jaccard >= threshold - 1e-12
    a, b, common, jaccard = a[hit], b[hit], common[hit], jaccard[hit]
    best = np.lexsort((user_ids[b], user_ids[a], -jaccard))[:top_n]
    return [
        Pair(
            int(user_ids[a[k]]),
            int(user_ids[b[k]]),
            float(jaccard[k]),
            int(common[k]),
            int(sizes[a[k]]),
            int(sizes[b[k]]),
        )
        for k in best
    ]


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


def random_pairs(
    users: list[int], count: int, seed: int, exclude: set[tuple[int, int]] = frozenset()
) -> list[tuple[int, int]]:
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


def permutation_test(
    first: np.ndarray, second: np.ndarray, permutations: int, seed: int
) -> tuple[float, float]:
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
        at_least += (
            shuffled[: len(first)].mean() - shuffled[len(first) :].mean() >= observed - 1e-12
        )
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
