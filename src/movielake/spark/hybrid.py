"""The hybrid model's Spark side: its item rows as ALS factor rows, and new movies merged into
the served lists on the executors (the algebra is movielake.algorithms.hybrid)."""

from __future__ import annotations

import pandas as pd
from pyspark.sql import functions as F

from movielake.algorithms.hybrid import LIST_SCHEMA, NEW, with_new_movies


def item_frame(spark, item_rows: pd.DataFrame):
    """The hybrid's item rows as factor rows in movielake.spark.als's layout (side, id, features,
    bias, global_mean), to score with its top_k_unseen."""
    frame = pd.DataFrame(
        {
            "id": item_rows["id"].astype("int32"),
            "features": [[float(x) for x in f] for f in item_rows["features"]],
        }
    )
    return spark.createDataFrame(frame, "id int, features array<double>").select(
        F.lit("item").alias("side"),
        "id",
        "features",
        F.lit(0.0).alias("bias"),
        F.lit(0.0).alias("global_mean"),
    )


def merge_new_movies(top, new, k: int, slots: int):
    """with_new_movies for every user of two Spark frames of (user_id, rank, movie_id, score):
    the served top-K and the users' best new movies. Users are grouped on the executors."""
    both = top.withColumn("is_new", F.lit(False)).unionByName(new.withColumn("is_new", F.lit(True)))

    def merged(rows: pd.DataFrame) -> pd.DataFrame:
        rows = rows.sort_values("rank", kind="stable")
        served, fresh = rows[~rows["is_new"]], rows[rows["is_new"]]
        places = with_new_movies(
            zip(served["movie_id"], served["score"]),
            zip(fresh["movie_id"], fresh["score"]),
            k,
            slots,
        )
        return pd.DataFrame(
            {
                "user_id": int(rows["user_id"].iloc[0]),
                "rank": range(1, len(places) + 1),
                "movie_id": [m for m, _, _ in places],
                "score": [s for _, s, _ in places],
                "new_movie": [n for _, _, n in places],
            }
        )

    return both.groupBy("user_id").applyInPandas(merged, LIST_SCHEMA)


def new_movie_factors(factors):
    """hybrid_factors rows (one scored split) to score new movies: every user row and the item
    rows of new movies, in movielake.spark.als's layout."""
    return factors.where(f"side = 'user' or source = '{NEW}'")
