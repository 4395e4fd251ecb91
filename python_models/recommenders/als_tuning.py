"""ALS tuning: each variant's rank x regParam grid searched by fits on train scored on validation.

als_explicit and als_residual (ALS on what the popularity baseline's biases miss) are scored by
validation RMSE/MAE; als_implicit (ratings as confidence 1 + alpha*r) predicts preference, not
stars, so it is scored by validation P@K and NDCG@K instead. `selected` marks each variant's
best in the last rung: lowest RMSE, or highest P@K (then NDCG@K) for als_implicit.

With `als_tuning_search: coordinate` (the default) the first rung does not fit the whole grid:
each variant's regParam is swept at the middle rank, then its ranks at the best regParam, and so
on until a sweep along each axis leaves the best setting where it was (algorithms.search), which
on a 4 x 4 grid fits 7 to 10 settings instead of 16; `grid` fits them all.

At scale the grid is not refit on all of train, but tuned by successive halving over users:
rung 1 searches the grid on the train ratings of a seeded sample of users, each later rung
refits each variant's best settings on `als_halving_factor` times as many users (1 in
`als_halving_factor` of the grid, then of the rung before: the same counts whatever the
search), and the last rung has `als_tuning_max_users` users (or all); a release with fewer
than `als_tuning_min_users` train users is tuned in one rung on all of them.
als_factors then refits only the chosen setting on the full data. `rung`, `fit_users` and
`fit_ratings` say what each row was fit on. Samples nest: users are taken in the order of a
seeded hash. Grid points run `als_parallelism` at a time in threads on the one Spark session
(as MLlib's own CrossValidator `parallelism` does), so the small jobs of one fit fill the cores
another leaves idle; each fit prints one progress line.
"""

import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import NamedTuple

from pyspark.sql import functions as F
from pyspark.sql import types as T

from movielake.algorithms import ranking
from movielake.algorithms.search import CoordinateSearch
from movielake.spark import als
from movielake.spark.metrics import comparable, ranking_metrics, rating_metrics
from movielake.spark.recommenders import fit_ratings, held_out, setting
from movielake.spark.session import activate

SCHEMA = T.StructType(
    [
        T.StructField("model", T.StringType()),
        T.StructField("rank", T.IntegerType()),
        T.StructField("reg_param", T.DoubleType()),
        T.StructField("alpha", T.DoubleType()),
        T.StructField("val_rmse", T.DoubleType()),
        T.StructField("val_mae", T.DoubleType()),
        T.StructField("val_precision_at_k", T.DoubleType()),
        T.StructField("val_ndcg_at_k", T.DoubleType()),
        T.StructField("rung", T.IntegerType()),
        T.StructField("fit_users", T.LongType()),
        T.StructField("fit_ratings", T.LongType()),
        T.StructField("fit_seconds", T.DoubleType()),
        T.StructField("selected", T.BooleanType()),
    ]
)


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
    rung: int
    fit_users: int
    fit_ratings: int
    fit_seconds: float
    selected: bool = False


class ReleaseTooSmall(ValueError):
    """The release leaves nothing to tune on."""


def best_first(trials: list[Trial]) -> list[Trial]:
    """One variant's trials, best first: highest P@K then NDCG@K for als_implicit, else lowest
    RMSE; a tie keeps grid order (the sort is stable)."""
    if trials and trials[0].model == "als_implicit":
        return sorted(
            trials, key=lambda t: comparable(t.val_precision_at_k, t.val_ndcg_at_k), reverse=True
        )
    return sorted(trials, key=lambda t: comparable(t.val_rmse))


def model(dbt, spark):
    ranks = [int(r) for r in setting("ranks", dbt.config.meta_get("ranks"), list)]
    reg_params = [float(r) for r in setting("reg_params", dbt.config.meta_get("reg_params"), list)]
    alpha = setting("alpha", dbt.config.meta_get("alpha"), float)
    max_iter = setting("max_iter", dbt.config.meta_get("max_iter"), int)
    seed = setting("seed", dbt.config.meta_get("seed"), int)
    k = setting("top_k", dbt.config.meta_get("top_k"), int)
    threshold = setting("relevance_threshold", dbt.config.meta_get("relevance_threshold"), float)
    max_users = setting("tuning_max_users", dbt.config.meta_get("tuning_max_users"), int)
    min_users = setting("tuning_min_users", dbt.config.meta_get("tuning_min_users"), int)
    rungs = setting("tuning_rungs", dbt.config.meta_get("tuning_rungs"), int)
    factor = setting("halving_factor", dbt.config.meta_get("halving_factor"), int)
    search = setting("tuning_search", dbt.config.meta_get("tuning_search"), str)
    parallelism = max(1, setting("parallelism", dbt.config.meta_get("parallelism"), int))
    block_setting = setting("num_blocks", dbt.config.meta_get("num_blocks"), int)
    als.set_checkpoint_dir(spark)

    splits = dbt.ref("rating_splits")
    fits = dbt.ref("recommender_fit_ratings")
    biases = dbt.ref("popularity_biases").where("scored_split = 'validation'")
    everyone = als.with_biases(fit_ratings(fits, "validation"), biases)
    # users in the order of a seeded hash: every rung's sample is a prefix of it, so the
    # samples nest and are the same every build
    order = (
        everyone.select("user_id").distinct().orderBy(F.xxhash64("user_id", F.lit(seed)), "user_id")
    )
    all_users = order.count()
    sizes = als.halving_rungs(all_users, max_users, rungs, factor, min_users)
    catalog = dbt.ref("stg_movielens__movies").count()
    points = [(v, r, g) for v in als.VARIANTS for r in ranks for g in reg_params]
    budget = len(ranks) * len(reg_params)  # settings per variant a rung keeps
    rows: list[Trial] = []
    pool = ThreadPoolExecutor(max_workers=parallelism, initializer=activate, initargs=(spark,))
    for rung, size in enumerate(sizes, 1):
        if rung > 1:
            budget = als.survivors(budget, factor)
            points = [
                (t.model, t.rank, t.reg_param)
                for v in als.VARIANTS
                for t in best_first([t for t in rows if t.rung == rung - 1 and t.model == v])[
                    :budget
                ]
            ]
        searching = rung == 1 and search == "coordinate"
        train = (
            everyone
            if size >= all_users
            else everyone.join(F.broadcast(order.limit(size)), "user_id")
        ).cache()
        validation = held_out(splits, "validation", train).cache()
        fit_users, fit_count = train.select("user_id").distinct().count(), train.count()
        held = validation.count()
        if held == 0:
            total = splits.where("split = 'validation'").count()
            raise ReleaseTooSmall(
                f"als_tuning: the release is too small to tune ALS: none of its {total} "
                f"validation ratings has both its user and its movie in train ({fit_count} "
                f"ratings by {fit_users} users). Build a larger release, or leave the "
                "recommenders out (dbt build --exclude recommenders)."
            )
        relevant = validation.where(F.col("rating") >= threshold).cache()
        low, high = train.agg(F.min("rating"), F.max("rating")).first()
        blocks = als.num_blocks(fit_count, block_setting)
        label = f"rung {rung}/{len(sizes)} " if len(sizes) > 1 else ""
        # small fits are scored on the driver (the same figures: algorithms.ranking), large
        # ones on the executors; the catalogue bounds the fit's movies
        on_driver = als.fits_on_driver(
            fit_users, catalog, max(r for _, r, _ in points), held + fit_count, parallelism
        )
        local = als.collect_held_out(validation, relevant, train) if on_driver else None
        biases = (
            als.collect_biases(train)
            if on_driver and any(v == "als_residual" for v, _, _ in points)
            else None
        )
        print(
            f"als_tuning: {label}{'a coordinate search of ' if searching else ''}"
            f"{len(points)} settings on {fit_count:,} train ratings of "
            f"{fit_users:,} of {all_users:,} users, {blocks} ALS blocks, {parallelism} at a "
            f"time, scored on the {'driver' if on_driver else 'executors'}",
            flush=True,
        )

        def run(
            point,
            rung=rung,
            train=train,
            validation=validation,
            relevant=relevant,
            low=low,
            high=high,
            blocks=blocks,
            fit_users=fit_users,
            fit_count=fit_count,
            label=label,
            total=f"{'at most ' if searching else ''}{len(points)}",
            local=local,
            biases=biases,
        ):
            index, (variant, rank, reg_param) = point
            started = time.perf_counter()
            fitted = als.fit(train, variant, rank, reg_param, alpha, max_iter, seed, blocks)
            seconds = time.perf_counter() - started
            rmse = mae = precision = ndcg = None
            if local is not None:
                factors = als.collect_factors(fitted, variant, biases)
                if variant == "als_implicit":
                    precision, ndcg = ranking.ranking_figures(factors, local, k)
                else:
                    rmse, mae = ranking.rating_figures(factors, local, low, high)
            else:
                factors = als.factor_rows(fitted, train, variant).cache()
                if variant == "als_implicit":
                    top = als.top_k_unseen(factors, train, k, users=relevant)
                    scores = ranking_metrics(top, relevant, k, catalog)
                    precision, ndcg = scores["precision_at_k"], scores["ndcg_at_k"]
                else:
                    scores = rating_metrics(als.predict(validation, factors, low, high))
                    rmse, mae = scores["rmse"], scores["mae"]
                factors.unpersist()
            if variant == "als_implicit":
                figures = f"val P@{k} {precision or 0:.4f} NDCG@{k} {ndcg or 0:.4f}"
            else:
                figures = f"val RMSE {rmse:.4f} MAE {mae:.4f}"
            print(
                f"als_tuning {label}[{index + 1}/{total}] {variant} rank {rank} reg_param "
                f"{reg_param}: {figures}; fit {seconds:.1f}s, "
                f"total {time.perf_counter() - started:.1f}s",
                flush=True,
            )
            return Trial(
                variant,
                rank,
                reg_param,
                alpha,
                rmse,
                mae,
                precision,
                ndcg,
                rung,
                fit_users,
                fit_count,
                seconds,
            )

        if not searching:
            rows += pool.map(run, enumerate(points))
        else:

            def best_of(variant, line):
                """The variant's scored settings on `line` (in grid order), best first."""
                trials = {(t.rank, t.reg_param): t for t in rows if t.model == variant}
                return [(t.rank, t.reg_param) for t in best_first([trials[p] for p in line])]

            searches = {
                v: CoordinateSearch((ranks, reg_params), partial(best_of, v), first_axis=1)
                for v in als.VARIANTS
            }
            # each round fits every variant's next sweep together, to keep the pool full
            while todo := [(v, *p) for v, s in searches.items() for p in s.pending()]:
                for trial in pool.map(run, enumerate(todo, len(rows))):
                    rows.append(trial)
                    searches[trial.model].record((trial.rank, trial.reg_param))
        for frame in (train, validation, relevant):
            frame.unpersist()
    pool.shutdown()
    best = {
        best_first([t for t in rows if t.rung == len(sizes) and t.model == v])[0]
        for v in als.VARIANTS
    }
    return spark.createDataFrame([t._replace(selected=t in best) for t in rows], SCHEMA)
