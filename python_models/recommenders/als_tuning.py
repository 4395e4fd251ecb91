"""ALS grid search: every variant x rank x regParam fit on train and scored on validation.

als_explicit and als_residual (ALS on what the popularity baseline's biases miss) are scored by
validation RMSE/MAE; als_implicit (ratings as confidence 1 + alpha*r) predicts preference, not
stars, so it is scored by validation P@K and NDCG@K instead. `selected` marks each variant's
best: lowest RMSE, or highest P@K (then NDCG@K) for als_implicit.

At scale the grid is not refit on all of train: with more than `als_tuning_max_users` users in
train, every grid point is fit on the train ratings of a seeded sample of that many users (and
scored on their validation ratings); als_factors then refits only the chosen setting on the
full data. `fit_users` and `fit_ratings` say what each row was fit on. Grid points run
`als_parallelism` at a time in threads on the one Spark session (as MLlib's own
CrossValidator `parallelism` does), so the small jobs of one fit fill the cores another leaves
idle; each fit prints one progress line.
"""

import time
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

from pyspark.sql import functions as F
from pyspark.sql import types as T

from movielake import als
from movielake.metrics import comparable, ranking_metrics, rating_metrics
from movielake.recommenders import fit_ratings, held_out, setting
from movielake.session import activate

SCHEMA = T.StructType([
    T.StructField("model", T.StringType()), T.StructField("rank", T.IntegerType()),
    T.StructField("reg_param", T.DoubleType()), T.StructField("alpha", T.DoubleType()),
    T.StructField("val_rmse", T.DoubleType()), T.StructField("val_mae", T.DoubleType()),
    T.StructField("val_precision_at_k", T.DoubleType()),
    T.StructField("val_ndcg_at_k", T.DoubleType()),
    T.StructField("fit_users", T.LongType()), T.StructField("fit_ratings", T.LongType()),
    T.StructField("fit_seconds", T.DoubleType()), T.StructField("selected", T.BooleanType()),
])


class Trial(NamedTuple):
    """One fit of the grid: a row of SCHEMA, in its order."""
    model: str
    rank: int
    reg_param: float
    alpha: float
    val_rmse: float | None
    val_mae: float | None
    val_precision_at_k: float | None
    val_ndcg_at_k: float | None
    fit_users: int
    fit_ratings: int
    fit_seconds: float
    selected: bool = False


class ReleaseTooSmall(ValueError):
    """The release leaves nothing to tune on."""


def model(dbt, spark):
    ranks = [int(r) for r in setting("ranks", dbt.config.meta_get("ranks"), list)]
    reg_params = [float(r) for r in
                  setting("reg_params", dbt.config.meta_get("reg_params"), list)]
    alpha = setting("alpha", dbt.config.meta_get("alpha"), float)
    max_iter = setting("max_iter", dbt.config.meta_get("max_iter"), int)
    seed = setting("seed", dbt.config.meta_get("seed"), int)
    k = setting("top_k", dbt.config.meta_get("top_k"), int)
    threshold = setting("relevance_threshold", dbt.config.meta_get("relevance_threshold"),
                        float)
    max_users = setting("tuning_max_users", dbt.config.meta_get("tuning_max_users"), int)
    parallelism = max(1, setting("parallelism", dbt.config.meta_get("parallelism"), int))
    block_setting = setting("num_blocks", dbt.config.meta_get("num_blocks"), int)
    als.set_checkpoint_dir(spark)

    splits = dbt.ref("rating_splits")
    fits = dbt.ref("recommender_fit_ratings")
    biases = dbt.ref("popularity_biases").where("scored_split = 'validation'")
    train = als.with_biases(fit_ratings(fits, "validation"), biases)
    all_users = train.select("user_id").distinct().count()
    if max_users > 0 and all_users > max_users:
        # a seeded sample: the users with the smallest hashes (same sample every build)
        sample = (train.select("user_id").distinct()
                  .orderBy(F.xxhash64("user_id", F.lit(seed)), "user_id").limit(max_users))
        train = train.join(F.broadcast(sample), "user_id")
    train = train.cache()
    validation = held_out(splits, "validation", train).cache()
    fit_users, fit_count = train.select("user_id").distinct().count(), train.count()
    scorable = validation.count()
    if scorable == 0:
        held = splits.where("split = 'validation'").count()
        raise ReleaseTooSmall(
            f"als_tuning: the release is too small to tune ALS: none of its {held} validation "
            f"ratings has both its user and its movie in train ({fit_count} ratings by "
            f"{fit_users} users). Build a larger release, or leave the recommenders out "
            "(dbt build --exclude recommenders).")
    relevant = validation.where(F.col("rating") >= threshold).cache()
    low, high = train.agg(F.min("rating"), F.max("rating")).first()
    catalog = dbt.ref("stg_movielens__movies").count()
    blocks = als.num_blocks(fit_count, block_setting)
    grid = [(v, r, g) for v in als.VARIANTS for r in ranks for g in reg_params]
    print(f"als_tuning: {len(grid)} fits on {fit_count:,} train ratings of {fit_users:,} of "
          f"{all_users:,} users, {blocks} ALS blocks, {parallelism} at a time", flush=True)

    def run(point):
        index, (variant, rank, reg_param) = point
        started = time.perf_counter()
        fitted = als.fit(train, variant, rank, reg_param, alpha, max_iter, seed, blocks)
        seconds = time.perf_counter() - started
        factors = als.factor_rows(fitted, train, variant).cache()
        rmse = mae = precision = ndcg = None
        if variant == "als_implicit":
            top = als.top_k_unseen(factors, train, k, users=relevant)
            scores = ranking_metrics(top, relevant, k, catalog)
            precision, ndcg = scores["precision_at_k"], scores["ndcg_at_k"]
            figures = f"val P@{k} {precision or 0:.4f} NDCG@{k} {ndcg or 0:.4f}"
        else:
            scores = rating_metrics(als.predict(validation, factors, low, high))
            rmse, mae = scores["rmse"], scores["mae"]
            figures = f"val RMSE {rmse:.4f} MAE {mae:.4f}"
        factors.unpersist()
        print(f"als_tuning [{index + 1}/{len(grid)}] {variant} rank {rank} reg_param "
              f"{reg_param}: {figures}; fit {seconds:.1f}s, "
              f"total {time.perf_counter() - started:.1f}s", flush=True)
        return Trial(variant, rank, reg_param, alpha, rmse, mae, precision, ndcg, fit_users,
                     fit_count, seconds)

    with ThreadPoolExecutor(max_workers=parallelism, initializer=activate,
                            initargs=(spark,)) as pool:
        rows = list(pool.map(run, enumerate(grid)))
    best = set()
    for variant in als.VARIANTS:
        mine = [t for t in rows if t.model == variant]
        # a tie goes to the first setting in grid order
        best.add(max(mine, key=lambda t: comparable(t.val_precision_at_k, t.val_ndcg_at_k))
                 if variant == "als_implicit" else min(mine, key=lambda t: comparable(t.val_rmse)))
    rows = [t._replace(selected=t in best) for t in rows]
    train.unpersist()
    validation.unpersist()
    relevant.unpersist()
    return spark.createDataFrame(rows, SCHEMA)
