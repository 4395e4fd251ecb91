"""Movie twins benchmark: MinHash LSH (user_twins' code, project defaults) against the exact
brute-force top pairs, measured in the same run: recall@N and timings, on the bundled
ml-latest-small and on a larger synthetic MovieLens-shaped release.

    python benchmarks/twins.py [--users 8000 --movies 4000] [--top-n 100]
                               [--num-hash-tables 50 --band-rows 2]

LSH time is the Spark job from movie sets to the top-N (sets cached and counted beforehand);
brute-force time is the numpy all-pairs search on the same sets, collected to the driver.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import yaml

from movielake.paths import project_dir
from movielake.session import spark_session
from movielake.synthetic import generate
from movielake.twins import LshStats, exact_top_pairs, lsh_top_pairs, movie_sets, recall_at


def defaults() -> dict:
    """The twins vars as dbt_project.yml sets them, so the benchmark measures what dbt builds."""
    return yaml.safe_load((project_dir() / "dbt_project.yml").read_text())["vars"]


def bench(spark, name: str, ratings_csv: Path, top_n: int, v: dict) -> None:
    ratings = (spark.read.option("header", True).csv(str(ratings_csv))
               .selectExpr("cast(userId as int) as user_id", "cast(movieId as int) as movie_id"))
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
    found = [tuple(r) for r in lsh_top_pairs(
        sets, top_n=top_n, bands=tables // rows, band_rows=rows,
        distance_threshold=float(v["twins_distance_threshold"]),
        max_bucket_size=int(v["twins_max_bucket_size"]), seed=int(v["twins_random_seed"]),
        stats=stats).select("user_a", "user_b", "jaccard").collect()]
    lsh_s = time.perf_counter() - start
    sets.unpersist()

    all_pairs = users * (users - 1) // 2
    recall = recall_at(found, exact)
    print(f"\n== {name}: {users} users, {ratings_count} ratings, {all_pairs} user pairs")
    print(f"  exact top-{top_n} Jaccard range: {exact[-1][2]:.3f} .. {exact[0][2]:.3f}")
    print(f"  brute force (numpy, all pairs): {brute_s:8.2f} s")
    print(f"  MinHash LSH ({tables} hashes = {tables // rows} bands x {rows} rows): "
          f"{lsh_s:8.2f} s  ({lsh_s / brute_s:.2f}x brute force)")
    print(f"  LSH candidate pairs: {stats.candidate_pairs} "
          f"({stats.candidate_pairs / max(all_pairs, 1):.2%} of all pairs); oversized buckets "
          f"dropped: {stats.buckets_dropped} ({stats.users_in_dropped_buckets} users)")
    print(f"  recall@{top_n}: {recall['recall']:.3f}   "
          f"tie-aware recall@{top_n}: {recall['tie_aware_recall']:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=8000)
    parser.add_argument("--movies", type=int, default=4000)
    parser.add_argument("--top-n", type=int, default=None)
    parser.add_argument("--num-hash-tables", type=int, default=None,
                        help="override the twins_num_hash_tables var (recall vs time)")
    parser.add_argument("--band-rows", type=int, default=None,
                        help="override the twins_band_rows var")
    args = parser.parse_args()
    v = defaults()
    if args.num_hash_tables:
        v["twins_num_hash_tables"] = args.num_hash_tables
    if args.band_rows:
        v["twins_band_rows"] = args.band_rows
    top_n = args.top_n or int(v["twins_top_n"])
    spark = spark_session()
    small = project_dir() / "data" / "raw" / "ml-latest-small" / "ratings.csv"
    bench(spark, "ml-latest-small", small, top_n, v)
    with tempfile.TemporaryDirectory() as tmp:
        counts = generate(Path(tmp), users=args.users, movies=args.movies,
                          mean_ratings_per_user=40, seed=7, twins=10)
        print(f"\n(synthetic release: {counts['ratings']} ratings, 10 planted twin pairs)")
        bench(spark, f"synthetic {args.users} users x {args.movies} movies",
              Path(tmp) / "ratings.csv", top_n, v)


if __name__ == "__main__":
    main()
