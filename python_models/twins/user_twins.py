"""Movie twins: the `top_n` pairs of users whose sets of rated movies are most alike.

MinHash LSH (MLlib) proposes candidate pairs, banded so that popular movies do not put most
users in one bucket; every candidate is re-scored with the exact Jaccard of the full sets
(movielake.spark.twins.lsh_top_pairs). Users below `twins_min_ratings` are not in user_movie_sets,
so tiny or empty sets never take part.
"""

from movielake.data.settings import setting
from movielake.spark.twins import LshStats, lsh_top_pairs


def model(dbt, spark):
    # dbt passes a meta key only when the code calls dbt.config.meta_get("<key>") literally.
    tables = setting("num_hash_tables", dbt.config.meta_get("num_hash_tables"), int)
    band_rows = setting("band_rows", dbt.config.meta_get("band_rows"), int)
    if band_rows < 1 or tables < band_rows or tables % band_rows:
        raise ValueError(
            f"twins_num_hash_tables ({tables}) must be a positive multiple of "
            f"twins_band_rows ({band_rows})"
        )
    stats = LshStats()
    pairs = lsh_top_pairs(
        dbt.ref("user_movie_sets"),
        top_n=setting("top_n", dbt.config.meta_get("top_n"), int),
        bands=tables // band_rows,
        band_rows=band_rows,
        distance_threshold=setting(
            "distance_threshold", dbt.config.meta_get("distance_threshold"), float
        ),
        max_bucket_size=setting("max_bucket_size", dbt.config.meta_get("max_bucket_size"), int),
        seed=setting("random_seed", dbt.config.meta_get("random_seed"), int),
        stats=stats,
    )
    print(
        f"user_twins: {stats.users} users, {stats.candidate_pairs} candidate pairs, "
        f"{stats.buckets_dropped} oversized buckets dropped "
        f"({stats.users_in_dropped_buckets} users in them)"
    )
    return pairs
