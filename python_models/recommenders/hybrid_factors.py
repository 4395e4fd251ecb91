"""The hybrid model at its tuned penalty and blend (hybrid_tuning), built twice like
als_factors: from the als_implicit factors fit on train (scored_split validation) and on
train + validation (scored_split test). Every movie with content gets an item row, the movies
no rating reaches too (source 'content'); user rows are ALS's. Same columns as als_factors
plus the hybrid's settings, so the same scoring applies."""

from pyspark.sql import functions as F

from movielake.algorithms import hybrid
from movielake.spark import hybrid as spark_hybrid
from movielake.spark.recommenders import setting


def model(dbt, spark):
    buckets = setting("tag_buckets", dbt.config.meta_get("tag_buckets"), int)
    tuned = dbt.ref("hybrid_tuning").where("selected").first()
    content = hybrid.Content(dbt.ref("movie_content_features").toPandas(), buckets)
    factors = dbt.ref("als_factors").where("model = 'als_implicit'")

    parts = []
    for scored_split in ("validation", "test"):
        mine = factors.where(F.col("scored_split") == scored_split)
        setting_row = mine.select("rank", "reg_param", "alpha", "user_damping").first()
        item_rows = hybrid.item_factors(
            content,
            mine.where("side = 'item'").select("id", "features").toPandas(),
            tuned["reg_lambda"],
            tuned["blend"],
        )
        sources = spark.createDataFrame(
            item_rows[["id", "source"]].astype({"id": "int32"}), "id int, source string"
        )
        items = spark_hybrid.item_frame(spark, item_rows).join(sources, "id")
        users = (
            mine.where("side = 'user'")
            .select("side", "id", "features", "bias", "global_mean")
            .withColumn("source", F.lit("collaborative"))
        )
        parts.append(
            users.unionByName(items)
            .select(
                F.lit(hybrid.MODEL).alias("model"),
                F.lit(scored_split).alias("scored_split"),
                F.lit(setting_row["rank"]).alias("rank"),
                F.lit(setting_row["reg_param"]).alias("reg_param"),
                F.lit(setting_row["alpha"]).alias("alpha"),
                F.lit(setting_row["user_damping"]).alias("user_damping"),
                F.lit(tuned["reg_lambda"]).alias("reg_lambda"),
                F.lit(tuned["blend"]).alias("blend"),
                "side",
                "id",
                "features",
                "bias",
                "global_mean",
                "source",
            )
            .localCheckpoint()
        )
    return parts[0].unionByName(parts[1])
