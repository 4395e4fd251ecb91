"""EASE (Steck, 2019), the item-item top-K model's algebra in numpy: with X the users x items
matrix of fit ratings (1 per rating, or the stars: `weighting`) and G = X^T X,
    P = (G + lambda I)^-1,   B = I - P diag(1/diag(P)), i.e. B_ij = -P_ij / P_jj and B_jj = 0,
and a user's score for movie j is sum_i x_ui B_ij. A new user is scored the same way (fold-in
is that product: no retraining). Stored rows keep each row's `neighbours` largest weights by
magnitude (0 keeps them all).

The time kernel ("TEASE") only changes G: with t_ui the second user u rated movie i,
    G_ij = sum_u x_ui x_uj (floor + exp(-|t_ui - t_uj| / tau)) = floor X^T X + K,
so movies rated in one sitting (minutes apart) count as more alike than movies the same user
rated years apart; tau = 0 is plain EASE (G = X^T X). The solve, the stored rows and scoring
are unchanged: a user's history times B, no timestamps. The Spark side (the Gram matrix on
the executors, reading and writing the rows) is movielake.spark.item_item.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse

MODEL = "item_item"  # the dbt model (and served model name) this algebra is
WEIGHTINGS = ("binary", "rating")
# Pairs of ratings further apart than this many tau weigh less than exp(-10) = 4.5e-5 of a
# same-second pair in K: skipped, so K costs the pairs inside a session, not every pair.
KERNEL_WINDOW = 10.0
KERNEL_CHUNK = 1 << 22  # pair entries gathered before they are added into K (memory bound)


def gram_part(
    user: np.ndarray,
    pos: np.ndarray,
    value: np.ndarray,
    n: int,
    seconds: np.ndarray | None = None,
    tau: float = 0.0,
    floor: float = 0.0,
    window: float = KERNEL_WINDOW,
) -> sparse.csr_matrix:
    """The Gram matrix (n x n, sparse) of some users' ratings, given as parallel arrays (user
    key, item position, value of X, rating time in seconds): X^T X when tau is 0, else
    floor * X^T X + K with K the time kernel of the module docstring over pairs at most
    `window` * tau seconds apart. Every rating of a user must be in the arrays."""
    user = np.asarray(user)
    pos = np.asarray(pos, dtype=np.int64)
    value = np.asarray(value, dtype=np.float64)
    _, row = np.unique(user, return_inverse=True)
    x = sparse.csr_matrix((value, (row, pos)), shape=(int(row.max(initial=-1)) + 1, n))
    g = (x.T.tocsr() @ x).tocsr()
    if tau <= 0:
        return g
    return floor * g + time_kernel(row, pos, value, np.asarray(seconds, float), n, tau, window)


def time_kernel(
    user: np.ndarray,
    pos: np.ndarray,
    value: np.ndarray,
    seconds: np.ndarray,
    n: int,
    tau: float,
    window: float = KERNEL_WINDOW,
    chunk: int = KERNEL_CHUNK,
) -> sparse.csr_matrix:
    """K_ij = sum_u x_ui x_uj exp(-|t_ui - t_uj| / tau) over pairs at most window * tau apart
    (a rating with itself adds x^2 to the diagonal). Each user's ratings are sorted by time;
    offset d pairs every rating with the d-th next one, and a rating whose d-th next is
    another user's or out of the window is dropped for all larger d (sorted: those are further
    still), so the loop runs over a shrinking active set and ends with the longest session.
    Work is the in-window pairs; memory is `chunk` pairs at a time, whatever a user's count."""
    order = np.lexsort((seconds, user))
    user, pos, value, seconds = user[order], pos[order], value[order], seconds[order]
    limit = window * tau
    k = sparse.csr_matrix((value * value, (pos, pos)), shape=(n, n))
    first, second, weight, pending = [], [], [], 0

    def flush(k):
        a, b, w = np.concatenate(first), np.concatenate(second), np.concatenate(weight)
        first.clear(), second.clear(), weight.clear()
        # each pair once in the loop: both (i, j) and (j, i) here
        pairs = (np.concatenate([w, w]), (np.concatenate([a, b]), np.concatenate([b, a])))
        return k + sparse.csr_matrix(pairs, shape=(n, n))

    active = np.arange(len(user) - 1)
    d = 1
    while active.size:
        later = active + d
        keep = later < len(user)
        active, later = active[keep], later[keep]
        dt = seconds[later] - seconds[active]
        keep = (user[later] == user[active]) & (dt <= limit)
        active, later, dt = active[keep], later[keep], dt[keep]
        if active.size:
            first.append(pos[active])
            second.append(pos[later])
            weight.append(value[active] * value[later] * np.exp(-dt / tau))
            pending += active.size
            if pending >= chunk:
                k, pending = flush(k), 0
        d += 1
    return flush(k) if first else k


def solve(g: np.ndarray, reg_lambda: float) -> np.ndarray:
    """EASE's B from the Gram matrix (float32 solve: half the time of float64, and ample for
    lambda >= 1 on counts)."""
    p = g.astype(np.float32)
    p[np.diag_indices_from(p)] += np.float32(reg_lambda)
    p = np.linalg.inv(p)
    b = p / (-np.diag(p))[None, :]
    np.fill_diagonal(b, 0.0)
    return b


def weight_rows(
    items: np.ndarray, b: np.ndarray, neighbours: int, rows: np.ndarray | None = None
) -> pd.DataFrame:
    """B as rows (movie_id, neighbour_ids, weights): row i's weights on the movies it scores,
    the `neighbours` largest by magnitude (all when 0 or at least the catalogue); only the
    rows at positions `rows` when given."""
    n = len(items)
    rows = np.arange(n) if rows is None else np.asarray(rows, dtype=np.int64)
    block = b[rows]
    keep = _kept(block, neighbours)
    weights = np.take_along_axis(block, keep, axis=1).astype(np.float64)
    return pd.DataFrame(
        {
            "movie_id": items[rows].astype("int32"),
            "neighbour_ids": list(items[keep].astype("int32")),
            "weights": list(weights),
        }
    )


def _kept(block: np.ndarray, neighbours: int) -> np.ndarray:
    """Column positions each row of `block` keeps, ascending: the `neighbours` largest weights
    by magnitude (all when 0 or at least the catalogue)."""
    n = block.shape[1]
    if neighbours <= 0 or neighbours >= n - 1:
        return np.tile(np.arange(n), (len(block), 1))
    keep = np.argpartition(-np.abs(block), neighbours - 1, axis=1)[:, :neighbours]
    keep.sort(axis=1)
    return keep


def pruned(b: np.ndarray, neighbours: int) -> np.ndarray:
    """B as its stored rows hold it (weight_rows then dense, without the rows): each row's
    kept weights, the others 0."""
    if neighbours <= 0 or neighbours >= len(b) - 1:
        return b
    keep = _kept(b, neighbours)
    out = np.zeros_like(b)
    np.put_along_axis(out, keep, np.take_along_axis(b, keep, axis=1), axis=1)
    return out


def dense(rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(item ids, B) from stored rows (pruned weights are 0)."""
    items = np.sort(rows["movie_id"].to_numpy(dtype=np.int64))
    pos = pd.Series(np.arange(len(items)), index=items)
    b = np.zeros((len(items), len(items)), dtype=np.float32)
    for movie, ids, weights in zip(rows["movie_id"], rows["neighbour_ids"], rows["weights"]):
        b[pos[int(movie)], pos.loc[np.asarray(ids, dtype=np.int64)].to_numpy()] = weights
    return items, b


def history_values(ratings: np.ndarray, weighting: str) -> np.ndarray:
    """A user's entries of X: 1 per rated movie (binary) or the stars (rating)."""
    if weighting not in WEIGHTINGS:
        raise ValueError(f"item_item weighting must be one of {WEIGHTINGS}, got {weighting!r}")
    ratings = np.asarray(ratings, dtype=float)
    return np.ones_like(ratings) if weighting == "binary" else ratings


def fold_in_scores(rows: pd.DataFrame, movie_ids, ratings, weighting: str):
    """(item ids, scores) for one user who rated `movie_ids` with `ratings`: their values of X
    times the stored rows of B (only the rated movies' rows are read). Movies outside the
    model's catalogue add nothing."""
    items = np.sort(rows["movie_id"].to_numpy(dtype=np.int64))
    pos = pd.Series(np.arange(len(items)), index=items)
    by_movie = rows.set_index("movie_id")
    values = dict(zip((int(m) for m in movie_ids), history_values(ratings, weighting)))
    scores = np.zeros(len(items))
    for movie, value in values.items():
        if movie in by_movie.index:
            row = by_movie.loc[movie]
            ids = np.asarray(row["neighbour_ids"], dtype=np.int64)
            scores[pos.loc[ids].to_numpy()] += value * np.asarray(row["weights"], dtype=float)
    return items, scores


def fold_in_matrix(
    items: np.ndarray, b: np.ndarray, weighting: str, known: pd.DataFrame, users
) -> tuple[np.ndarray, np.ndarray]:
    """(scores, used) for new users: each of `users`' rows of `known` (user_id, movie_id,
    rating) as values of X, times B (users x `items`); used: each user's rated movies inside
    the catalogue, the only ones that add to the scores. fold_in_scores for many users at once,
    on a dense B."""
    users = np.asarray(users)
    user_pos = pd.Series(np.arange(len(users)), index=users)
    item_pos = pd.Series(np.arange(len(items)), index=np.asarray(items, dtype=np.int64))
    mine = known[known["user_id"].isin(user_pos.index) & known["movie_id"].isin(item_pos.index)]
    rows = user_pos.loc[mine["user_id"]].to_numpy()
    x = sparse.csr_matrix(
        (
            history_values(mine["rating"].to_numpy(), weighting),
            (rows, item_pos.loc[mine["movie_id"]].to_numpy()),
        ),
        shape=(len(users), len(items)),
    )
    used = np.bincount(rows, minlength=len(users))
    return np.asarray(x @ b, dtype=np.float64), used


def top_k_frame(
    items: np.ndarray,
    b: np.ndarray,
    weighting: str,
    history: pd.DataFrame,
    known: pd.DataFrame,
    k: int,
    chunk: int = 1024,
) -> pd.DataFrame:
    """(user_id, rank, movie_id, score) for every user of `history` (user_id, movie_id,
    rating): their K best-scored movies not in `known` (user_id, movie_id), a block of users at
    a time (X_block @ B)."""
    columns = {"user_id": "int32", "rank": "int32", "movie_id": "int32", "score": "float64"}
    if history.empty or not len(items):
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in columns.items()})
    user_ids = np.sort(history["user_id"].unique())
    user_pos = pd.Series(np.arange(len(user_ids)), index=user_ids)
    item_pos = pd.Series(np.arange(len(items)), index=items)
    hist = history[history["movie_id"].isin(item_pos.index)]
    known = known[known["movie_id"].isin(item_pos.index) & known["user_id"].isin(user_pos.index)]
    x_u, x_i = user_pos.loc[hist["user_id"]].to_numpy(), item_pos.loc[hist["movie_id"]].to_numpy()
    x_v = history_values(hist["rating"].to_numpy(), weighting).astype(np.float32)
    s_u, s_i = user_pos.loc[known["user_id"]].to_numpy(), item_pos.loc[known["movie_id"]].to_numpy()
    take = min(k, len(items))
    parts = []
    for start in range(0, len(user_ids), chunk):
        stop = min(start + chunk, len(user_ids))
        mine = (x_u >= start) & (x_u < stop)
        # X's block is sparse (a user rates ~1% of the catalogue): a sparse-dense product does
        # nnz x catalogue work, against block x catalogue^2 for the dense one
        x = sparse.csr_matrix(
            (x_v[mine], (x_u[mine] - start, x_i[mine])), shape=(stop - start, len(items))
        )
        scores = np.asarray(x @ b, dtype=np.float64)
        mine = (s_u >= start) & (s_u < stop)
        scores[s_u[mine] - start, s_i[mine]] = -np.inf
        best = np.argpartition(-scores, take - 1, axis=1)[:, :take]
        top = np.take_along_axis(scores, best, axis=1)
        order = np.lexsort((items[best], -top), axis=1)  # score desc, then movie id
        best, top = np.take_along_axis(best, order, 1), np.take_along_axis(top, order, 1)
        keep = np.isfinite(top)  # a user who has seen nearly everything gets fewer than K
        parts.append(
            pd.DataFrame(
                {
                    "user_id": np.repeat(user_ids[start:stop], take).reshape(-1, take)[keep],
                    "rank": np.tile(np.arange(1, take + 1), (stop - start, 1))[keep],
                    "movie_id": items[best][keep],
                    "score": top[keep],
                }
            )
        )
    return pd.concat(parts, ignore_index=True).astype(columns)
