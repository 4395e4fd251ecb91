"""Shared plumbing of the recommender Python models: their settings and their inputs."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from movielake.data.settings import setting  # noqa: F401 - the recommender models import it here


def fit_ratings(fit_table: DataFrame, scored_split: str, timed: bool = False) -> DataFrame:
    """What a model scored on `scored_split` is fit on: its rows of recommender_fit_ratings,
    the one home of that rule (train for validation, train + validation for test); with
    `timed`, their rated_at too (item_item's time kernel)."""
    if scored_split not in ("validation", "test"):
        raise ValueError(f"scored_split must be 'validation' or 'test', not {scored_split!r}")
    return fit_table.where(F.col("scored_split") == scored_split).select(
        "user_id", "movie_id", "rating", *(["rated_at"] if timed else [])
    )


def held_out(splits: DataFrame, scored_split: str, fit: DataFrame) -> DataFrame:
    """The scored split's ratings whose user and movie both occur in the fit data: the pairs
    every model can score (docs/architecture.md section 4)."""
    return (
        splits.where(F.col("split") == scored_split)
        .select("user_id", "movie_id", "rating")
        .join(fit.select("user_id").distinct(), "user_id")
        .join(fit.select("movie_id").distinct(), "movie_id")
    )


def ratings_by_user(ratings: DataFrame) -> DataFrame:
    """One row per user: user_id, movies and ratings (arrays in the same order, taken from one
    list of pairs so they cannot drift apart); what mapInPandas scorers take a user's history
    as."""
    return (
        ratings.groupBy("user_id")
        .agg(F.collect_list(F.struct("movie_id", "rating")).alias("rated"))
        .select(
            "user_id",
            F.col("rated.movie_id").alias("movies"),
            F.col("rated.rating").alias("ratings"),
        )
    )
