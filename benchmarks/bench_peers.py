"""Peers benchmark: MovieLake's models side by side with the libraries a user would pick
instead, on MovieLake's own split, scored with MovieLake's own metric code.

Reads `rating_splits`, `recommender_fit_ratings` and `model_metrics` from a built data home (it
builds nothing); each peer is tuned on validation (fit on train) over the grid in PEERS below,
refit on train + validation with the best setting, and scored once on test with
movielake.spark.metrics, over the pairs and users
model_metrics scores (held-out pairs whose user and movie are in the fit data; every held-out
rating at least `relevance_threshold` relevant; candidates: every movie of the fit data the user
has not rated there). Rating peers (Surprise) are chosen by validation RMSE and have no top-K
figures; top-K peers (implicit, EASE) by validation P@K, then NDCG@K. Prints one table: every
figure, the seconds spent (tune = the whole grid, fit = the final refit) and each figure as a
ratio to the best peer's.

    make bench-peers                                   # installs the [bench] extra first
    python benchmarks/bench_peers.py --peers ease,implicit_als --schema-prefix synth

Needs the peers of the `bench` extra (scikit-surprise, implicit), in the project's virtualenv.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

METRICS = [
    "rmse",
    "mae",
    "precision_at_k",
    "recall_at_k",
    "ndcg_at_k",
    "map_at_k",
    "catalog_coverage",
]


def grid(**axes) -> list[dict]:
    return [dict(zip(axes, values)) for values in product(*axes.values())]


@dataclass
class Peer:
    name: str
    kind: str  # "rating" (predicts stars) or "top_k" (ranks movies)
    settings: list[dict] = field(default_factory=list)


PEERS = [  # the documented grids (README "Benchmarks")
    Peer("surprise_baseline_only", "rating", grid(reg_i=[5, 10, 20], reg_u=[5, 15])),
    Peer(
        "surprise_svd", "rating", grid(n_factors=[50, 100], reg_all=[0.02, 0.05], n_epochs=[20, 40])
    ),
    Peer("surprise_svdpp", "rating", grid(n_factors=[20], reg_all=[0.02, 0.05])),
    Peer("surprise_knn_baseline", "rating", grid(k=[20, 40])),
    Peer(
        "implicit_als",
        "top_k",
        grid(factors=[32, 64], regularization=[0.1, 1.0], alpha=[1.0, 10.0]),
    ),
    Peer("implicit_bpr", "top_k", grid(factors=[64, 128], learning_rate=[0.01, 0.05])),
    Peer("implicit_bm25", "top_k", grid(K=[50, 100, 200])),
    Peer("ease", "top_k", grid(reg_lambda=[100.0, 200.0, 400.0, 800.0])),
]


# ---- the peers: fit on a pandas frame of (user_id, movie_id, rating) ------------------------


class Surprise:
    def __init__(self, name: str, params: dict, fit: pd.DataFrame):
        from surprise import SVD, BaselineOnly, Dataset, KNNBaseline, Reader, SVDpp

        reader = Reader(rating_scale=(fit.rating.min(), fit.rating.max()))
        data = Dataset.load_from_df(fit[["user_id", "movie_id", "rating"]], reader)
        if name == "surprise_baseline_only":
            algo = BaselineOnly(bsl_options={"method": "als", **params}, verbose=False)
        elif name == "surprise_svd":
            algo = SVD(random_state=42, **params)
        elif name == "surprise_svdpp":
            algo = SVDpp(random_state=42, cache_ratings=True, **params)
        else:
            algo = KNNBaseline(
                k=params["k"],
                verbose=False,
                sim_options={"name": "pearson_baseline", "user_based": False},
            )
        self.algo = algo.fit(data.build_full_trainset())

    def predict(self, pairs: pd.DataFrame) -> np.ndarray:
        return np.array(
            [self.algo.predict(u, i).est for u, i in zip(pairs.user_id, pairs.movie_id)]
        )


class Matrix:
    """The fit data as a users x items CSR matrix, with the id maps."""

    def __init__(self, fit: pd.DataFrame, binary: bool = False):
        from scipy.sparse import csr_matrix

        self.users = np.sort(fit.user_id.unique())
        self.items = np.sort(fit.movie_id.unique())
        rows = np.searchsorted(self.users, fit.user_id)
        cols = np.searchsorted(self.items, fit.movie_id)
        values = np.ones(len(fit)) if binary else fit.rating.to_numpy(dtype=float)
        self.x = csr_matrix(
            (values.astype(np.float32), (rows, cols)), shape=(len(self.users), len(self.items))
        )

    def frame(self, users: np.ndarray, ids: np.ndarray, scores: np.ndarray) -> pd.DataFrame:
        keep = np.isfinite(scores) & (ids >= 0)
        k = ids.shape[1]
        return pd.DataFrame(
            {
                "user_id": np.repeat(self.users[users], k).reshape(-1, k)[keep],
                "rank": np.tile(np.arange(1, k + 1), (len(users), 1))[keep],
                "movie_id": self.items[np.where(ids >= 0, ids, 0)][keep],
            }
        )


class Implicit:
    def __init__(self, name: str, params: dict, fit: pd.DataFrame):
        from implicit.als import AlternatingLeastSquares
        from implicit.bpr import BayesianPersonalizedRanking
        from implicit.nearest_neighbours import BM25Recommender

        self.m = Matrix(fit, binary=name != "implicit_als")
        if name == "implicit_als":  # stars as confidence (scaled by alpha), as our als_implicit
            model = AlternatingLeastSquares(iterations=15, random_state=42, **params)
        elif name == "implicit_bpr":
            model = BayesianPersonalizedRanking(
                iterations=100, regularization=0.01, random_state=42, **params
            )
        else:
            model = BM25Recommender(K=params["K"], K1=1.2, B=0.75)
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1, "blas"):  # implicit's own threads; BLAS threads slow it
            model.fit(self.m.x, show_progress=False)
        self.model = model

    def recommend(self, user_ids: np.ndarray, k: int) -> pd.DataFrame:
        users = np.searchsorted(self.m.users, user_ids)
        ids, scores = self.model.recommend(
            users, self.m.x[users], N=k, filter_already_liked_items=True
        )
        return self.m.frame(users, ids, scores)


class Ease:
    """EASE as published: B = I - P diag(1/diag(P)), P = (X^T X + lambda I)^-1 over every
    movie of the fit data, X binary; the solve in float32 (half the time of float64)."""

    def __init__(self, name: str, params: dict, fit: pd.DataFrame, gram_cache: dict):
        self.m = Matrix(fit, binary=True)
        key = len(fit), int(fit.user_id.sum()), int(fit.movie_id.sum())
        if key not in gram_cache:
            gram_cache.clear()
            gram_cache[key] = (self.m.x.T @ self.m.x).toarray()
        p = gram_cache[key].astype(np.float32)
        p[np.diag_indices_from(p)] += np.float32(params["reg_lambda"])
        p = np.linalg.inv(p)
        self.b = p / (-np.diag(p))[None, :]
        np.fill_diagonal(self.b, 0.0)

    def recommend(self, user_ids: np.ndarray, k: int) -> pd.DataFrame:
        users = np.searchsorted(self.m.users, user_ids)
        x = self.m.x[users]
        scores = np.asarray(x @ self.b, dtype=np.float64)
        scores[x.nonzero()] = -np.inf
        best = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        top = np.take_along_axis(scores, best, axis=1)
        order = np.argsort(-top, axis=1, kind="stable")
        best, top = np.take_along_axis(best, order, 1), np.take_along_axis(top, order, 1)
        return self.m.frame(users, best, top)


# ---- the protocol ------------------------------------------------------------------------------


class Split:
    """One scored split's data, as model_metrics sees it (movielake.spark.recommenders)."""

    def __init__(self, spark, splits, fits, scored_split: str, threshold: float):
        from pyspark.sql import functions as F

        from movielake.spark.recommenders import fit_ratings, held_out

        self.fit_frame = fit_ratings(fits, scored_split).cache()
        self.fit = self.fit_frame.toPandas()
        pairs = held_out(splits, scored_split, self.fit_frame)
        self.pairs = pairs.toPandas()
        self.relevant = pairs.where(F.col("rating") >= threshold).select("user_id", "movie_id")
        self.relevant_rows = self.relevant.toPandas()
        self.relevant = spark.createDataFrame(self.relevant_rows)  # detach from the lake
        self.users = np.sort(self.pairs[self.pairs.rating >= threshold].user_id.unique())
        self.low, self.high = self.fit.rating.min(), self.fit.rating.max()


def evaluate(spark, peer: Peer, fitted, data: Split, k: int, catalog: int):
    """(figures, the top-K lists (None for a rating peer))."""
    from movielake.spark.metrics import ranking_metrics, rating_metrics

    if peer.kind == "rating":
        scored = data.pairs.assign(
            prediction=np.clip(fitted.predict(data.pairs), data.low, data.high)
        )
        return rating_metrics(spark.createDataFrame(scored[["rating", "prediction"]])), None
    top = fitted.recommend(data.users, k)
    frame = spark.createDataFrame(
        top.astype({"user_id": "int32", "rank": "int32", "movie_id": "int32"})
    )
    return ranking_metrics(frame, data.relevant, k, catalog), top


def make(peer: Peer, params: dict, fit: pd.DataFrame, gram_cache: dict):
    if peer.name.startswith("surprise_"):
        return Surprise(peer.name, params, fit)
    if peer.name.startswith("implicit_"):
        return Implicit(peer.name, params, fit)
    return Ease(peer.name, params, fit, gram_cache)


def run_peer(spark, peer: Peer, validation: Split, test: Split, k: int, catalog: int):
    """(the peer's row of test figures, its test top-K lists or None)."""
    gram_cache: dict = {}
    tried = []
    started = time.perf_counter()
    for params in peer.settings:
        fitted = make(peer, params, validation.fit, gram_cache)
        scores, _ = evaluate(spark, peer, fitted, validation, k, catalog)
        tried.append((params, scores))
        del fitted
        print(
            f"  {peer.name} {params}: "
            + ", ".join(
                f"{m} {scores[m]:.4f}"
                for m in ("rmse", "precision_at_k", "ndcg_at_k")
                if scores.get(m) is not None
            ),
            flush=True,
        )
    if peer.kind == "rating":
        params, _ = min(tried, key=lambda t: t[1]["rmse"])
    else:
        params, _ = max(tried, key=lambda t: (t[1]["precision_at_k"], t[1]["ndcg_at_k"]))
    tune = time.perf_counter() - started
    started = time.perf_counter()
    fitted = make(peer, params, test.fit, gram_cache)
    fit_seconds = time.perf_counter() - started
    scores, top = evaluate(spark, peer, fitted, test, k, catalog)
    return {
        "model": peer.name,
        "is_peer": True,
        "setting": ", ".join(f"{key} {value}" for key, value in params.items()),
        "tune_s": tune,
        "fit_s": fit_seconds,
        **{m: scores.get(m) for m in METRICS},
    }, top


def paired_comparison(spark, lake, test: Split, lists: dict, k: int) -> pd.DataFrame | None:
    """MovieLake's served top-K model against the best top-K peer of this run (test P@K, then
    NDCG@K), user by user on the test split: a bootstrap of the difference
    (movielake.algorithms.paired). None when no top-K peer ran or nothing is served."""
    from movielake.algorithms.paired import paired_bootstrap
    from movielake.algorithms.ranking import per_user_metrics
    from movielake.spark.evaluation import stored_rows, top_lists

    ours = lake.served_model("top_k")
    if not lists or ours is None:
        return None
    scored = {name: (row["precision_at_k"], row["ndcg_at_k"]) for name, (row, _) in lists.items()}
    peer = max(scored, key=scored.get)
    rows = stored_rows(ours, "test", lambda name: spark.table(lake.name(name)))
    mine = top_lists(ours, rows, test.fit_frame, k, test.relevant).toPandas()
    figures = paired_bootstrap(
        per_user_metrics(mine, test.relevant_rows, k),
        per_user_metrics(lists[peer][1], test.relevant_rows, k),
        ["precision_at_k", "recall_at_k", "ndcg_at_k", "map_at_k"],
    )
    return figures.assign(ours_model=ours, peer_model=peer, k=k)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schema-prefix", default=os.environ.get("MOVIELAKE_SCHEMA", "movielake"))
    parser.add_argument(
        "--peers",
        default=",".join(p.name for p in PEERS),
        help="comma-separated, run in this order; a subset of: " + ", ".join(p.name for p in PEERS),
    )
    parser.add_argument(
        "--add",
        action="store_true",
        help="keep the stored figures of the peers this run does not score",
    )
    parser.add_argument(
        "--relevance-threshold",
        type=float,
        default=None,
        help="default: the relevance_threshold var of dbt_project.yml",
    )
    args = parser.parse_args(argv)
    chosen = args.peers.split(",")
    unknown = set(chosen) - {p.name for p in PEERS}
    if unknown:
        parser.error(f"unknown peers: {', '.join(sorted(unknown))}")
    try:
        import implicit  # noqa: F401
        import surprise  # noqa: F401
    except ImportError as exc:
        print(
            f"peers not installed ({exc}): run `make bench-peers` (installs the [bench] extra)",
            file=sys.stderr,
        )
        return 1

    from pyspark.sql import functions as F

    from movielake.data.paths import project_dir
    from movielake.spark.session import spark_session

    threshold = args.relevance_threshold
    if threshold is None:
        project = yaml.safe_load((Path(project_dir()) / "dbt_project.yml").read_text())
        threshold = float(project["vars"]["relevance_threshold"])
    from movielake.serving.lake import Lake, schema_name

    spark = spark_session()
    lake = Lake(args.schema_prefix)  # table names as dbt gives them (its manifest)
    if not spark.catalog.tableExists(lake.name("model_metrics")):
        print(
            f"{lake.name('model_metrics')} not found: build the recommenders first (make run)",
            file=sys.stderr,
        )
        return 1
    k = spark.sql(f"select first(k) from {lake.name('model_metrics')}").first()[0]
    catalog = spark.table(lake.name("stg_movielens__movies")).count()
    splits = spark.createDataFrame(
        spark.table(lake.name("rating_splits"))
        .select("user_id", "movie_id", "rating", "split")
        .toPandas()
    )
    fits = spark.createDataFrame(spark.table(lake.name("recommender_fit_ratings")).toPandas())
    validation = Split(spark, splits, fits, "validation", threshold)
    test = Split(spark, splits, fits, "test", threshold)
    print(
        f"{splits.count()} ratings; {catalog} movies; K {k}; relevance threshold "
        f"{threshold}; test: {len(test.pairs)} pairs, {len(test.users)} users ranked"
    )

    from movielake.serving.comparison import (
        COMPARISON_TABLE,
        PEERS_LAYER,
        PEERS_TABLE,
        markdown,
        ours,
        paired_table,
        side_by_side,
    )

    # kept in the lake for `movielake report` (its side-by-side section), saved after each
    # peer; --add keeps the rows of peers an earlier run scored (e.g. the slow ones apart)
    layer = schema_name(lake.prefix, PEERS_LAYER)
    table = f"{layer}.{PEERS_TABLE}"
    spark.sql(f"create schema if not exists {layer}")
    earlier = (
        spark.table(table).where(~F.col("model").isin(chosen)).toPandas()
        if args.add and spark.catalog.tableExists(table)
        else pd.DataFrame()
    )
    done = []
    lists = {}  # the top-K peers' test lists: the paired comparison resamples them
    by_name = {peer.name: peer for peer in PEERS}
    for peer in (by_name[name] for name in chosen):  # in the order given
        row, top = run_peer(spark, peer, validation, test, k, catalog)
        done.append(row)
        if top is not None:
            lists[peer.name] = (row, top)
        peer_rows = pd.concat(
            [f for f in (earlier, pd.DataFrame(done).assign(k=k)) if not f.empty],
            ignore_index=True,
        )
        (
            spark.createDataFrame(
                peer_rows.astype({c: float for c in ["tune_s", "fit_s", *METRICS]}).astype(
                    {"k": int}
                )
            )
            .write.format("delta")
            .mode("overwrite")
            .option("overwriteSchema", "true")
            .saveAsTable(table)
        )
    both = pd.concat(
        [ours(lake), spark.table(table).orderBy("model").toPandas()], ignore_index=True
    )
    print(f"\n== Test figures (K = {k}); in brackets: ratio to the best peer ==")
    print(markdown(side_by_side(both)))
    compared = paired_comparison(spark, lake, test, lists, k)
    if compared is None:
        print("\nno paired comparison: no top-K peer ran this time, or nothing is served")
        return 0
    (
        spark.createDataFrame(compared)
        .write.format("delta")
        .mode("overwrite")
        .option("overwriteSchema", "true")
        .saveAsTable(f"{layer}.{COMPARISON_TABLE}")
    )
    first = compared.iloc[0]
    print(
        f"\n== Paired comparison over the {first['users']} test users: "
        f"{first['ours_model']} against {first['peer_model']}; {first['resamples']} bootstrap "
        f"resamples of users, seed {first['seed']}: mean difference [95% interval] =="
    )
    print(markdown(paired_table(compared)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
