"""`movielake vacuum`: an overwritten Delta table's old files go, its current version stays."""

from __future__ import annotations

from movielake.cli import main


def test_vacuum_deletes_old_versions_files_only(spark, lake_home):
    spark.sql("create schema if not exists vac_demo")
    spark.range(100).write.format("delta").mode("overwrite").saveAsTable("vac_demo.numbers")
    spark.range(5).write.format("delta").mode("overwrite").saveAsTable("vac_demo.numbers")
    folder = lake_home / "spark-warehouse" / "vac_demo.db" / "numbers"

    def data_files():
        return sorted(p.name for p in folder.glob("*.parquet"))

    before = data_files()
    assert main(["vacuum", "--schema-prefix", "vac", "--hours", "0"]) == 0
    after = data_files()
    assert after and set(after) < set(before)  # the first version's files are gone
    assert spark.table("vac_demo.numbers").count() == 5
