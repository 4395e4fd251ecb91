"""Shared plumbing of the recommender Python models: their settings and their inputs."""

from __future__ import annotations

import ast

from pyspark.sql import DataFrame
from pyspark.sql import functions as F


def setting(key: str, value, cast=str):
    """A var handed to a Python model through `config: meta:` (rendered to a string). Models
    pass `dbt.config.meta_get("<key>")` literally: dbt hands a Python model only the config
    keys its code names that way."""
    if value is None:
        raise ValueError(f"model config meta '{key}' is not set")
    if cast is list:
        parsed = ast.literal_eval(value) if isinstance(value, str) else value
        return list(parsed) if isinstance(parsed, (list, tuple)) else [parsed]
    return cast(value)


def fit_ratings(splits: DataFrame, scored_split: str) -> DataFrame:
    """What a model scored on `scored_split` is fit on: train for validation, train +
    validation for test (the same rule as the recommender_fit_ratings macro)."""
    fit_splits = {"validation": ["train"], "test": ["train", "validation"]}[scored_split]
    return (splits.where(F.col("split").isin(fit_splits))
            .select("user_id", "movie_id", "rating"))


def held_out(splits: DataFrame, scored_split: str, fit: DataFrame) -> DataFrame:
    """The scored split's ratings whose user and movie both occur in the fit data: the pairs
    every model can score (DESIGN.md section 7)."""
    return (splits.where(F.col("split") == scored_split)
            .select("user_id", "movie_id", "rating")
            .join(fit.select("user_id").distinct(), "user_id")
            .join(fit.select("movie_id").distinct(), "movie_id"))
