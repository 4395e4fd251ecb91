"""Top-K ranking metrics in numpy, for lists small enough to score on the driver (the
cold-start tables' few dozen users per list): P@K, R@K, NDCG@K, MAP@K and catalog coverage as
movielake.spark.metrics.ranking_metrics computes them with MLlib's RankingEvaluator
(docs/architecture.md, section 4). Those evaluators cost a handful of Spark jobs per list;
new_user_tuning scores 75 lists, cold_start_metrics 31. tests/integration/test_recommender_math
checks the two implementations agree.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def ranking_metrics(top: pd.DataFrame, relevant: pd.DataFrame, k: int, catalog_size: int) -> dict:
    """The metrics of `top` (user_id, movie_id, rank: 1 = best) against `relevant` (user_id,
    movie_id), averaged over the users with a relevant movie; a user with no list scores 0."""
    relevant = relevant[["user_id", "movie_id"]].drop_duplicates()
    users = np.sort(relevant["user_id"].unique())
    result: dict = {"users_evaluated": len(users)}
    if not len(users):
        return {**result, **dict.fromkeys(_COLUMNS), "catalog_coverage": _share(0, catalog_size)}
    lists = top.loc[
        (top["rank"] <= k) & top["user_id"].isin(users), ["user_id", "movie_id", "rank"]
    ]
    lists = lists.sort_values(["user_id", "rank"], kind="stable")
    # MLlib reads a list by position (0-based i), not by the rank value
    position = lists.groupby("user_id").cumcount().to_numpy()
    hit = (
        lists.merge(relevant.assign(hit=True), on=["user_id", "movie_id"], how="left")["hit"]
        .notna()
        .to_numpy()
    )
    row = np.searchsorted(users, lists["user_id"].to_numpy())
    hits = np.zeros((len(users), k), dtype=bool)
    hits[row, position] = hit
    n_relevant = relevant.groupby("user_id").size().reindex(users).to_numpy(dtype=float)

    found = hits.sum(axis=1)
    gain = 1.0 / np.log(np.arange(k) + 2.0)  # the log's base cancels in NDCG
    ideal = np.cumsum(gain)[np.minimum(n_relevant, k).astype(int) - 1]
    cumulative = np.cumsum(hits, axis=1)
    precision_sum = np.where(hits, cumulative / np.arange(1, k + 1), 0.0).sum(axis=1)
    return {
        **result,
        "precision_at_k": float(np.mean(found / k)),
        "recall_at_k": float(np.mean(found / n_relevant)),
        "ndcg_at_k": float(np.mean((hits * gain).sum(axis=1) / ideal)),
        "map_at_k": float(np.mean(precision_sum / np.minimum(n_relevant, k))),
        "catalog_coverage": _share(lists["movie_id"].nunique(), catalog_size),
    }


_COLUMNS = ("precision_at_k", "recall_at_k", "ndcg_at_k", "map_at_k")


def _share(covered: int, catalog_size: int) -> float | None:
    return covered / catalog_size if catalog_size else None
