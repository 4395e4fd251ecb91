"""Movie twins on Spark: users whose sets of rated movies are most alike (Jaccard), found by
MinHash LSH and re-scored exactly on the executors (the exact numpy algebra, the brute-force
reference and the validation statistics are movielake.algorithms.twins).

- `lsh_top_pairs`: MLlib MinHashLSH signatures, banded (AND within a band, OR across bands) so
  that a very popular movie alone cannot put most users in one bucket; oversized buckets are
  dropped and counted; candidates are re-scored with exact Jaccard.
- `rank_pairs`: the best pairs in a stable order (the same order as the exact reference's).
"""

from __future__ import annotations

from dataclasses import dataclass

from movielake.algorithms.twins import jaccard_block


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


def lsh_top_pairs(
    sets,
    top_n: int,
    bands: int,
    band_rows: int,
    distance_threshold: float,
    max_bucket_size: int,
    seed: int,
    stats: LshStats | None = None,
):
    """Top `top_n` pairs by exact Jaccard among the LSH candidates of `sets` (a DataFrame with
    user_id, movie_ids (sorted array), set_size, movie_vector); columns PAIR_COLUMNS + pair_rank.

    A pair becomes a candidate when, in at least one of `bands` bands, its `band_rows` min-hashes
    all agree: probability 1 - (1 - J^r)^b for Jaccard J. band_rows = 1 is MLlib's own
    approxSimilarityJoin (OR only), where one popular movie hashing lowest for many users makes
    a bucket of most users. Buckets larger than `max_bucket_size` are dropped (true twins
    still meet in other bands); pairs with exact Jaccard distance above `distance_threshold`
    are never kept."""
    from pyspark.ml.feature import MinHashLSH
    from pyspark.ml.functions import vector_to_array
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    # MinHashLSH rejects empty vectors: drop them explicitly (user_movie_sets never has any).
    sets = sets.where(F.col("set_size") > 0)
    lsh = MinHashLSH(
        inputCol="movie_vector", outputCol="hashes", seed=seed, numHashTables=bands * band_rows
    )
    hashed = lsh.fit(sets).transform(sets)
    # hashes: array of 1-element vectors, one per hash function -> array<double>.
    signature = F.transform("hashes", lambda v: vector_to_array(v)[0])
    keys = (
        hashed.select("user_id", signature.alias("sig"))
        .select("user_id", "sig", F.explode(F.sequence(F.lit(0), F.lit(bands - 1))).alias("band"))
        .select(
            "user_id",
            "band",
            F.xxhash64(F.slice("sig", F.col("band") * band_rows + 1, band_rows)).alias("bucket"),
        )
    )
    bucket_size = F.count("*").over(Window.partitionBy("band", "bucket"))
    keys = keys.withColumn("bucket_size", bucket_size).where(F.col("bucket_size") > 1)
    keys = keys.persist()
    try:
        if stats is not None:
            big = keys.where(F.col("bucket_size") > max_bucket_size)
            row = big.agg(
                F.countDistinct("band", "bucket").alias("buckets"),
                F.countDistinct("user_id").alias("users"),
            ).first()
            stats.buckets_dropped, stats.users_in_dropped_buckets = row["buckets"], row["users"]
        kept = keys.where(F.col("bucket_size") <= max_bucket_size).select(
            "user_id", "band", "bucket"
        )
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
        return [
            F.least(first, second).alias("block_lo"),
            F.greatest(first, second).alias("block_hi"),
        ]

    keyed_pairs = pairs.select(
        *block_pair(F.pmod("user_a", F.lit(blocks)), F.pmod("user_b", F.lit(blocks))),
        "user_a",
        "user_b",
    )
    # Each set goes to every block pair its block is part of.
    own = F.pmod("user_id", F.lit(blocks))
    keyed_sets = sets.select(
        "user_id",
        "movie_ids",
        own.alias("own"),
        F.explode(F.sequence(F.lit(0), F.lit(blocks - 1))).alias("other"),
    ).select(*block_pair(F.col("own"), F.col("other")), "user_id", "movie_ids")
    return (
        keyed_pairs.groupBy("block_lo", "block_hi")
        .cogroup(keyed_sets.groupBy("block_lo", "block_hi"))
        # Two parameters exactly: Spark passes the group key too to a function of three.
        .applyInPandas(lambda pairs_, sets_: jaccard_block(pairs_, sets_), PAIR_SCHEMA)
    )


PAIR_SCHEMA = (
    "user_a long, user_b long, jaccard double, movies_in_common int, set_size_a int, set_size_b int"
)


def rank_pairs(scored, top_n: int):
    """The `top_n` best pairs, pair_rank 1 = highest Jaccard; ties broken by (user_a, user_b)
    so that the same data always gives the same table (and the same order as exact_top_pairs)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    order = Window.orderBy(F.col("jaccard").desc(), "user_a", "user_b")
    return scored.withColumn("pair_rank", F.row_number().over(order).cast("int")).where(
        F.col("pair_rank") <= top_n
    )
