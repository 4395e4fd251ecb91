"""The item-item top-K model (`item_item`): EASE's closed form on the item Gram matrix.

With X the users x items matrix of the fit ratings (1 per rating, or the stars: `weighting`),
    G = X^T X (computed on the executors),   P = (G + lambda I)^-1 (solved on the driver),
    B = I - P diag(1/diag(P)), i.e. B_ij = -P_ij / P_jj and B_jj = 0,
and a user's score for movie j is sum_i x_ui B_ij: their own rating vector times B. A new user is
scored the same way (fold-in is that product: no retraining). With the time kernel (tau > 0
seconds) G = floor X^T X + K, K weighting pairs of a user's ratings by how close in time they
were (algorithms.ease); nothing else changes.

The solve holds G and P in driver memory (n^2 floats each) and costs O(n^3), so the catalogue is
the movies with at least `min_ratings` fit ratings, capped at `max_items` (the most rated kept,
the rest logged as dropped): those movies can then neither be recommended nor count as history.
B is stored row by row (the weights of rated movie i on every other movie), each row pruned to
its `neighbours` largest weights by magnitude (0 keeps them all).
"""

from __future__ import annotations

import time
from functools import partial

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from movielake.algorithms.ease import (  # noqa: F401 - the models call them through this module
    MODEL,
    WEIGHTINGS,
    dense,
    fold_in_scores,
    gram_part,
    history_values,
    pruned,
    solve,
    top_k_frame,
    weight_rows,
)
from movielake.spark.recommenders import ratings_by_user
from movielake.spark.session import collected, is_connect, machine, task_slots

SCHEMA = "user_id int, rank int, movie_id int, score double"


def _values(ratings: DataFrame, weighting: str):
    if weighting not in WEIGHTINGS:
        raise ValueError(f"item_item weighting must be one of {WEIGHTINGS}, got {weighting!r}")
    return F.lit(1.0) if weighting == "binary" else F.col("rating").cast("double")


def catalogue(fit: DataFrame, min_ratings: int, max_items: int, label: str = "") -> np.ndarray:
    """The movie ids the model covers, sorted: at least `min_ratings` fit ratings, and at most
    `max_items` of them (the most rated; ties by lower id), the cut reported on stdout."""
    counts = (
        fit.groupBy("movie_id")
        .count()
        .where(F.col("count") >= min_ratings)
        .toPandas()
        .sort_values(["count", "movie_id"], ascending=[False, True])
    )
    if len(counts) > max_items:
        print(
            f"item_item{label}: {len(counts)} movies have >= {min_ratings} ratings, more than "
            f"item_item_max_items = {max_items}; keeping the {max_items} most rated (the "
            f"others, down to {int(counts['count'].iloc[max_items])} ratings, are left out)"
        )
        counts = counts.iloc[:max_items]
    return np.sort(counts["movie_id"].to_numpy(dtype=np.int64))


def gram(
    fit: DataFrame, items: np.ndarray, weighting: str, tau: float = 0.0, floor: float = 0.0
) -> np.ndarray:
    """G = X^T X over the catalogue `items`, on the executors; with a time kernel (tau > 0
    seconds; `fit` then needs rated_at) floor * X^T X + K (algorithms.ease.gram_part). The
    ratings are grouped by user into one partition per core; each task multiplies its users'
    sparse rows (scipy: work in proportion to the sum of each user's count squared; the kernel
    adds each user's in-window pairs) and writes its partial G as dense row blocks; a second
    stage adds the partial blocks of each row range, and the driver reads the sums one
    partition at a time. Neither the ratings nor a pair per co-rated movie pass
    through the JVM's memory, and the driver receives catalogue^2 floats, once. A fit of at
    most session.LOCAL_ROWS ratings is collected and multiplied on the driver instead: the
    tasks' partial G (catalogue^2 floats each) cost more to move and add than to compute."""
    spark = fit.sparkSession
    n = len(items)
    positions = spark.createDataFrame(
        pd.DataFrame({"movie_id": items.astype("int32"), "pos": np.arange(n, dtype="int32")})
    )
    timed = [F.col("rated_at").cast("double").alias("t")] if tau > 0 else []
    x = fit.join(F.broadcast(positions), "movie_id").select(
        "user_id", "pos", _values(fit, weighting).alias("w"), *timed
    )
    local = collected(x)
    if local is not None:
        seconds = local["t"].to_numpy(dtype=np.float64) if tau > 0 else None
        g = gram_part(
            local["user_id"].to_numpy(),
            local["pos"].to_numpy(),
            local["w"].to_numpy(dtype=np.float64),
            n,
            seconds,
            tau,
            floor,
        )
        return g.toarray()
    # Each task writes a whole partial G, so few tasks: as many as this machine's cores run at
    # once (a Spark Connect client has no SparkContext to ask).
    parts = machine()[0]
    blocks = (
        x.repartition(parts, "user_id")
        .mapInPandas(partial(_gram_blocks, n=n, tau=tau, floor=floor), GRAM_BLOCK_SCHEMA)
        .groupBy("first_row")
        .applyInPandas(_sum_blocks, GRAM_BLOCK_SCHEMA)
    )
    g = np.zeros((n, n))
    for row in blocks.toLocalIterator():
        values = np.frombuffer(row["values"], dtype=np.float64).reshape(-1, n)
        g[row["first_row"] : row["first_row"] + len(values)] = values
    return g


GRAM_BLOCK_SCHEMA = "first_row int, values binary"
GRAM_BLOCK_BYTES = 32 << 20  # rows of G per block: 32 MiB of float64


def _gram_blocks(frames, n: int, tau: float = 0.0, floor: float = 0.0):
    """mapInPandas body of gram: a whole partition (a user's ratings are all in one partition,
    and must be multiplied together, so the batches are joined first) -> its partial G as row
    blocks of float64 bytes."""
    frames = [f for f in frames if not f.empty]
    if not frames:
        return
    frame = pd.concat(frames, ignore_index=True)
    g = gram_part(
        frame["user_id"].to_numpy(),
        frame["pos"].to_numpy(),
        frame["w"].to_numpy(dtype=np.float64),
        n,
        frame["t"].to_numpy(dtype=np.float64) if tau > 0 else None,
        tau,
        floor,
    )
    del frame
    step = max(1, GRAM_BLOCK_BYTES // (8 * n))
    for first in range(0, n, step):
        block = g[first : first + step].toarray()
        yield pd.DataFrame({"first_row": [first], "values": [block.tobytes()]})


def _sum_blocks(frame: pd.DataFrame) -> pd.DataFrame:
    """applyInPandas body of gram: the partial blocks of one row range -> their sum."""
    total = sum(np.frombuffer(v, dtype=np.float64) for v in frame["values"])
    return pd.DataFrame({"first_row": [frame["first_row"].iloc[0]], "values": [total.tobytes()]})


WEIGHT_SCHEMA = "movie_id int, neighbour_ids array<int>, weights array<double>"
# B's rows written per task, and so per file of the table: about 16 MB (12 bytes a weight with
# its id), so that a reader of a few movies' rows opens only their files (Delta's per-file
# min/max of movie_id); at most 128 files per fit
WEIGHT_TASK_BYTES = 16_000_000
WEIGHT_MAX_TASKS = 128


def _gib(size: str) -> float:
    """A JVM memory setting ("2g", "1536m", "4096k", bytes) in GiB."""
    units = {"k": 2**-20, "m": 2**-10, "g": 1.0, "t": 1024.0}
    size = size.strip().lower().removesuffix("b")
    return float(size[:-1]) * units[size[-1]] if size[-1] in units else float(size) / 2**30


def check_executor_memory(spark, b: np.ndarray) -> None:
    """Fail before the job, naming the setting, when B cannot fit in an executor: each task
    holds B, its serialised copy and a block of scores (a lost executor would only be retried
    on another of the same size). A local session's executor is the driver: nothing to check."""
    if is_connect(spark) or spark.sparkContext.master.startswith("local"):
        return
    memory = spark.conf.get("spark.executor.memory", "1g")
    need = 3 * b.nbytes / 2**30 + 0.5  # B, its pickle, its copy in the task; 0.5: the rest
    if need > 0.6 * _gib(memory):  # Spark leaves ~60% of the heap to tasks and caching
        raise MemoryError(
            f"item_item: B over {len(b)} movies needs about {need:.1f} GiB in each executor, "
            f"more than spark.executor.memory = {memory} allows; raise MOVIELAKE_EXECUTOR_MEMORY "
            f"(and the workers' memory) to at least {need / 0.6:.0f}g, or lower the "
            "item_item_max_items var"
        )


def weight_frame(spark, items: np.ndarray, b: np.ndarray, neighbours: int) -> DataFrame:
    """weight_rows as a DataFrame made on the executors: B travels with the tasks (a Spark
    broadcast, which may spill to disk) and each task writes a block of its rows. Built on
    the driver instead, the rows (catalogue^2 ids and weights: 1.2 GB at 10,000 movies) would
    sit in the JVM heap as a local relation until the table is written. Each partition holds
    a run of consecutive rows (ascending movie ids) of about WEIGHT_TASK_BYTES, so a table
    written from it has files of contiguous movie ids without a shuffle."""
    check_executor_memory(spark, b)
    n = len(items)
    tasks = min(WEIGHT_MAX_TASKS, max(1, -(-n * n * 12 // WEIGHT_TASK_BYTES)))
    return spark.range(0, n, 1, tasks).mapInPandas(
        partial(_weight_batches, items=items, b=b, neighbours=neighbours), WEIGHT_SCHEMA
    )


def _weight_batches(frames, items: np.ndarray, b: np.ndarray, neighbours: int):
    """mapInPandas body of weight_frame: row positions -> weight_rows."""
    for frame in frames:
        if not frame.empty:
            yield weight_rows(items, b, neighbours, frame["id"].to_numpy())


def fit(
    fit_ratings: DataFrame,
    reg_lambda: float,
    weighting: str,
    min_ratings: int,
    max_items: int,
    neighbours: int,
    items: np.ndarray | None = None,
    g: np.ndarray | None = None,
    label: str = "",
    tau: float = 0.0,
    floor: float = 0.0,
) -> tuple[pd.DataFrame, float]:
    """The stored rows of one fitted model and the seconds the fit took (Gram + solve). Pass
    `items` and `g` from an earlier fit on the same data to reuse them (a lambda grid)."""
    started = time.perf_counter()
    if items is None:
        items = catalogue(fit_ratings, min_ratings, max_items, label)
    if g is None:
        g = gram(fit_ratings, items, weighting, tau, floor)
    rows = weight_rows(items, solve(g, reg_lambda), neighbours)
    return rows, time.perf_counter() - started


def load(rows: DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """dense() of stored rows, read a partition at a time with each row's arrays packed into
    bytes on the executors: B's catalogue^2 weights never sit in the driver's heap at once
    (toPandas would collect them all there first)."""
    items = np.sort(
        np.array([r["movie_id"] for r in rows.select("movie_id").collect()], dtype=np.int64)
    )
    pos = pd.Series(np.arange(len(items)), index=items)
    b = np.zeros((len(items), len(items)), dtype=np.float32)
    packed = rows.select("movie_id", "neighbour_ids", "weights").mapInPandas(
        _pack_rows, "movie_id int, neighbour_ids binary, weights binary"
    )
    for row in packed.toLocalIterator():
        ids = np.frombuffer(row["neighbour_ids"], dtype=np.int32).astype(np.int64)
        b[pos[row["movie_id"]], pos.loc[ids].to_numpy()] = np.frombuffer(
            row["weights"], dtype=np.float64
        )
    return items, b


def _pack_rows(frames):
    """mapInPandas body of load: each row's arrays as raw bytes (int32 ids, float64 weights)."""
    for frame in frames:
        yield pd.DataFrame(
            {
                "movie_id": frame["movie_id"],
                "neighbour_ids": [
                    np.asarray(v, dtype=np.int32).tobytes() for v in frame["neighbour_ids"]
                ],
                "weights": [np.asarray(v, dtype=np.float64).tobytes() for v in frame["weights"]],
            }
        )


def top_k_unseen(
    rows: DataFrame, history: DataFrame, seen: DataFrame, k: int, users: DataFrame | None = None
) -> DataFrame:
    """top_k_scored from one fitted model's stored rows (one model, one scored split), for the
    users of `history` (the data the model was fit on), or those of them in `users`."""
    meta = rows.select("weighting").distinct().collect()
    if len(meta) != 1:
        raise ValueError(f"top_k_unseen needs one fitted model's rows, got {len(meta)}")
    items, b = load(rows)
    if users is not None:
        history = history.join(users.select("user_id").distinct(), "user_id")
    return top_k_scored(items, b, meta[0]["weighting"], history, seen, k)


def top_k_scored(
    items: np.ndarray, b: np.ndarray, weighting: str, history: DataFrame, seen: DataFrame, k: int
) -> DataFrame:
    """(user_id, rank, movie_id, score): top_k_frame for every user of `history` (user_id,
    movie_id, rating), their movies in `seen` excluded, on the executors as als.top_k_unseen
    does: each user's history and seen movies grouped into one row (a shuffle), B travels with
    the task (Spark broadcasts a large task closure: catalogue^2 float32, 90 MB on
    ml-latest-small), and top_k_frame scores a block of users at a time. Nothing of size
    O(ratings) reaches the driver."""
    spark = history.sparkSession
    check_executor_memory(spark, b)
    if not len(items):
        return spark.createDataFrame([], SCHEMA)
    rated = ratings_by_user(history)
    known = seen.groupBy("user_id").agg(F.collect_list("movie_id").alias("seen"))
    parts = task_slots(spark)  # as als.top_k_unseen: one partition per task slot
    return (
        rated.join(known, "user_id", "left")
        .repartition(parts, "user_id")
        .mapInPandas(partial(_score_batches, items=items, b=b, weighting=weighting, k=k), SCHEMA)
    )


def _score_batches(frames, items: np.ndarray, b: np.ndarray, weighting: str, k: int):
    """mapInPandas body of top_k_scored: one row per user -> top_k_frame's rows."""
    for frame in frames:
        if frame.empty:
            continue
        # blocks of users in id order, whatever order the shuffle delivered them in
        frame = frame.sort_values("user_id", kind="stable")
        counts = frame["movies"].map(len).to_numpy()
        history = pd.DataFrame(
            {
                "user_id": np.repeat(frame["user_id"].to_numpy(), counts),
                "movie_id": np.concatenate(frame["movies"].to_numpy()).astype(np.int64),
                "rating": np.concatenate(frame["ratings"].to_numpy()).astype(float),
            }
        )
        seen = frame["seen"].map(lambda s: [] if s is None else s)
        known = pd.DataFrame(
            {
                "user_id": np.repeat(frame["user_id"].to_numpy(), seen.map(len).to_numpy()),
                "movie_id": np.concatenate(
                    [np.asarray(s, dtype=np.int64) for s in seen] + [np.zeros(0, dtype=np.int64)]
                ),
            }
        )
        yield top_k_frame(items, b, weighting, history, known, k)
