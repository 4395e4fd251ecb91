"""A fitted recommender's top-K lists from its stored rows, the same way for model_metrics and
for the peers benchmark's paired comparison: which table holds a model's rows and which scorer
reads them."""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from movielake.algorithms import hybrid
from movielake.spark import als, item_item


def stored_rows(name: str, split: str, table: Callable[[str], DataFrame]) -> DataFrame:
    """Model `name`'s rows fit for `split` (validation: fit on train; test: on train +
    validation). table: a model name -> its DataFrame (dbt.ref, or the lake's tables)."""
    if name == item_item.MODEL:
        rows = table("item_item_weights")
    elif name == hybrid.MODEL:
        rows = table("hybrid_factors")
    else:  # the ALS variants share one table
        rows = table("als_factors").where(F.col("model") == name)
    return rows.where(F.col("scored_split") == split)


def top_lists(name: str, rows: DataFrame, fit: DataFrame, k: int, users: DataFrame) -> DataFrame:
    """(user_id, rank, movie_id, score) for the users of `users` that `fit` holds: their K best
    movies not rated in `fit`, from stored_rows' rows."""
    if name == item_item.MODEL:  # scored from the user's history in the fit data
        return item_item.top_k_unseen(rows, fit, fit, k, users=users)
    return als.top_k_unseen(rows, fit, k, users=users)
