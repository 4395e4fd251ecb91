"""Movie twins benchmark: MinHash LSH (user_twins' code, project defaults) against the exact
brute-force top pairs, measured in the same run: recall@N and timings, on the bundled
ml-latest-small and on a larger synthetic MovieLens-shaped release.

    python benchmarks/twins.py [--users 8000 --movies 4000] [--top-n 100]
                               [--num-hash-tables 100 --band-rows 2] [--mllib-join]

LSH time is the Spark job from movie sets to the top-N (sets cached and counted beforehand);
brute-force time is the numpy all-pairs search on the same sets, collected to the driver.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import yaml

from movielake.algorithms.twins import exact_top_pairs, recall_at
from movielake.data.paths import project_dir
from movielake.data.synthetic import generate
from movielake.spark.session import spark_session
from movielake.spark.twins import LshStats, lsh_top_pairs, movie_sets


def defaults() -> dict:
    """The twins vars as dbt_project.yml sets them, so the benchmark measures what dbt builds."""
    return yaml.safe_load((project_dir() / "dbt_project.yml").read_text())["vars"]


def bench(spark, name: str, ratings_csv: Path, top_n: int, v: dict, with_mllib: bool) -> None:
    ratings = (
        spark.read.option("header", True)
        .csv(str(ratings_csv))
        .selectExpr("cast(userId as int) as user_id", "cast(movieId as int) as movie_id")
    )
    sets = movie_sets(ratings, int(v["twins_min_ratings"])).persist()
    users = sets.count()
    local = {r.user_id: r.movie_ids for r in sets.select("user_id", "movie_ids").collect()}
    ratings_count = sum(len(m) for m in local.values())

    start = time.perf_counter()
    exact = exact_top_pairs(local, top_n)
    brute_s = time.perf_counter() - start

    stats = LshStats()
    tables, rows = int(v["twins_num_hash_tables"]), int(v["twins_band_rows"])
    start = time.perf_counter()
    found = [
        tuple(r)
        for r in lsh_top_pairs(
            sets,
            top_n=top_n,
            bands=tables // rows,
            band_rows=rows,
            distance_threshold=float(v["twins_distance_threshold"]),
            max_bucket_size=int(v["twins_max_bucket_size"]),
            seed=int(v["twins_random_seed"]),
            stats=stats,
        )
        .select("user_a", "user_b", "jaccard")
        .collect()
    ]
    lsh_s = time.perf_counter() - start
    mllib = mllib_join(sets, top_n, tables, v) if with_mllib else None
    sets.unpersist()

    all_pairs = users * (users - 1) // 2
    recall = recall_at(found, exact)
    print(f"\n== {name}: {users} users, {ratings_count} ratings, {all_pairs} user pairs")
    print(f"  exact top-{top_n} Jaccard range: {exact[-1].jaccard:.3f} .. {exact[0].jaccard:.3f}")
    print(f"  brute force (numpy, all pairs): {brute_s:8.2f} s")
    print(
        f"  MinHash LSH ({tables} hashes = {tables // rows} bands x {rows} rows): "
        f"{lsh_s:8.2f} s  ({lsh_s / brute_s:.2f}x brute force)"
    )
    print(
        f"  LSH candidate pairs: {stats.candidate_pairs} "
        f"({stats.candidate_pairs / max(all_pairs, 1):.2%} of all pairs); oversized buckets "
        f"dropped: {stats.buckets_dropped} ({stats.users_in_dropped_buckets} users)"
    )
    print(
        f"  recall@{top_n}: {recall['recall']:.3f}   "
        f"tie-aware recall@{top_n}: {recall['tie_aware_recall']:.3f}"
    )
    if mllib:
        seconds, pairs, found = mllib
        mine = recall_at(found, exact)
        print(
            f"  MLlib approxSimilarityJoin ({tables} hashes, OR of single hashes): "
            f"{seconds:8.2f} s  ({seconds / lsh_s:.2f}x banded LSH); pairs within the "
            f"threshold: {pairs} ({pairs / max(all_pairs, 1):.2%} of all pairs); "
            f"recall@{top_n}: {mine['recall']:.3f} (tie-aware {mine['tie_aware_recall']:.3f})"
        )


def mllib_join(sets, top_n: int, tables: int, v: dict):
    """MLlib's own approxSimilarityJoin on the same sets and hash count, for comparison."""
    from pyspark.ml.feature import MinHashLSH
    from pyspark.sql import functions as F

    from movielake.spark.twins import rank_pairs

    spark = sets.sparkSession
    # Spark plans to broadcast one side of the self-join and runs out of driver memory at
    # 8,000 users; a shuffle join is the fair comparison.
    spark.conf.set("spark.sql.autoBroadcastJoinThreshold", "-1")
    try:
        start = time.perf_counter()
        model = MinHashLSH(
            inputCol="movie_vector",
            outputCol="hashes",
            numHashTables=tables,
            seed=int(v["twins_random_seed"]),
        ).fit(sets)
        joined = (
            model.approxSimilarityJoin(
                sets, sets, float(v["twins_distance_threshold"]), distCol="distance"
            )
            .where(F.col("datasetA.user_id") < F.col("datasetB.user_id"))
            .select(
                F.col("datasetA.user_id").alias("user_a"),
                F.col("datasetB.user_id").alias("user_b"),
                (1.0 - F.col("distance")).alias("jaccard"),
            )
            .persist()
        )
        pairs = joined.count()
        found = [
            tuple(r)
            for r in rank_pairs(joined, top_n).select("user_a", "user_b", "jaccard").collect()
        ]
        seconds = time.perf_counter() - start
        joined.unpersist()
    finally:  # the banded LSH of the next data set runs with Spark's own join planning
        spark.conf.unset("spark.sql.autoBroadcastJoinThreshold")
    return seconds, pairs, found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=8000)
    parser.add_argument("--movies", type=int, default=4000)
    parser.add_argument("--top-n", type=int, default=None)
    parser.add_argument(
        "--num-hash-tables",
        type=int,
        default=None,
        help="override the twins_num_hash_tables var (recall vs time)",
    )
    parser.add_argument(
        "--band-rows", type=int, default=None, help="override the twins_band_rows var"
    )
    parser.add_argument(
        "--mllib-join",
        action="store_true",
        help="also time MLlib's plain approxSimilarityJoin (ml-latest-small: 27 s; "
        "8,000 synthetic users: not done in 30 min)",
    )
    args = parser.parse_args()
    v = defaults()
    if args.num_hash_tables:
        v["twins_num_hash_tables"] = args.num_hash_tables
    if args.band_rows:
        v["twins_band_rows"] = args.band_rows
    top_n = args.top_n or int(v["twins_top_n"])
    spark = spark_session()
    small = project_dir() / "data" / "raw" / "ml-latest-small" / "ratings.csv"
    bench(spark, "ml-latest-small", small, top_n, v, args.mllib_join)
    with tempfile.TemporaryDirectory() as tmp:
        counts = generate(
            Path(tmp),
            users=args.users,
            movies=args.movies,
            mean_ratings_per_user=40,
            seed=7,
            twins=10,
        )
        print(f"\n(synthetic release: {counts['ratings']} ratings, 10 planted twin pairs)")
        bench(
            spark,
            f"synthetic {args.users} users x {args.movies} movies",
            Path(tmp) / "ratings.csv",
            top_n,
            v,
            args.mllib_join,
        )


if __name__ == "__main__":
    main()
