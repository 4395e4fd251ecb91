"""`movielake report` on the shared synthetic build: every plot is a real image that the HTML
links, the figures shown are the marts' own, and the sections of the recommenders and twins
appear when their tables exist and say so plainly when they do not."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import numpy as np
import pytest

from conftest import SYNTHETIC_SCHEMA, rows
from movielake.cli import main

EDA = f"{SYNTHETIC_SCHEMA}_eda"
EDA_IMAGES = {
    "rating_distribution.png",
    "monthly_activity.png",
    "genre_means.png",
    "genre_trends.png",
    "rating_count_vs_mean.png",
    "mean_rating_by_count_bucket.png",
    "user_activity.png",
}
MODEL_IMAGES = {"model_metrics.png", "als_tuning.png", "cold_start.png", "twin_correlations.png"}


def render(prefix: str, out: Path) -> tuple[int, str]:
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(["report", "--schema-prefix", prefix, "--out", str(out)])
    return code, printed.getvalue()


def linked_images(page: Path) -> set[str]:
    return set(re.findall(r'<img src="([^"]+)"', page.read_text()))


def assert_real_png(path: Path) -> None:
    import matplotlib.image as mpimg

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path
    pixels = mpimg.imread(path)
    height, width = pixels.shape[:2]
    assert height >= 250 and width >= 400, (path, pixels.shape)
    # a drawn plot, not a blank canvas: many distinct colours and real contrast
    rgb = pixels[..., :3].reshape(-1, 3)
    assert rgb.std() > 0.05, path
    assert len(np.unique(rgb, axis=0)) > 50, path


def alias_eda_marts(spark, prefix: str) -> None:
    """Delta copies <prefix>_eda.* of the synthetic build's marts: a prefix whose other layers
    we control, whatever the rest of the project builds (the report reads Delta files, so
    views would not do)."""
    from movielake.serving.report import EDA_MARTS

    spark.sql(f"create database if not exists {prefix}_eda")
    for mart in EDA_MARTS:
        spark.sql(
            f"create or replace table {prefix}_eda.{mart} using delta as select * from {EDA}.{mart}"
        )


@pytest.fixture(scope="module")
def synth_report(synthetic_build, spark, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "index.html"
    code, printed = render(SYNTHETIC_SCHEMA, out)
    assert code == 0, printed
    return out, printed


def test_report_images_are_real_and_all_linked(synth_report):
    page, printed = synth_report
    written = {p.name for p in page.parent.glob("*.png")}
    assert EDA_IMAGES <= written
    assert linked_images(page) == written  # every image is on the page, and nothing else
    for name in written:
        assert_real_png(page.parent / name)
    # progress is printed while it works, and names the page at the end
    assert printed.count("drew ") == len(written)
    assert str(page) in printed.splitlines()[-1]


def test_report_shows_the_marts_figures(synth_report, spark):
    page, _ = synth_report
    text = page.read_text()
    r = rows(
        spark, f"select distinct pearson_log_count_vs_mean as r from {EDA}.rating_count_vs_mean"
    )
    assert len(r) == 1 and -1 <= r[0]["r"] <= 1
    assert f"{r[0]['r']:.3f}" in text
    for table in ("top_rated_movies", "most_rated_movies"):
        titles = [
            x["title"] for x in rows(spark, f"select title from {EDA}.{table} order by movie_rank")
        ]
        assert titles and all(t in text for t in titles), table
    total = rows(spark, f"select sum(ratings_count) as n from {EDA}.rating_distribution")[0]["n"]
    assert f"{total:,} ratings" in text


def test_count_vs_mean_correlation_matches_movie_stats(synthetic_build, spark):
    # the mart's correlation, recomputed from the per-movie mart with numpy
    stats = spark.table(f"{EDA}.movie_stats").select("ratings_count", "mean_rating").toPandas()
    expected = np.corrcoef(np.log10(stats["ratings_count"]), stats["mean_rating"])[0, 1]
    got = rows(
        spark, f"select distinct pearson_log_count_vs_mean as r from {EDA}.rating_count_vs_mean"
    )
    assert got[0]["r"] == pytest.approx(expected, abs=1e-9)


def test_sections_say_plainly_when_tables_are_absent(synthetic_build, spark, tmp_path):
    alias_eda_marts(spark, "rpta")
    page = tmp_path / "index.html"
    code, printed = render("rpta", page)
    assert code == 0, printed
    text = page.read_text()
    for table in (
        "rpta_recommenders.model_metrics",
        "rpta_recommenders.als_tuning",
        "rpta_recommenders.cold_start_metrics",
        "rpta_twins.user_twins",
        "rpta_twins.twin_pair_correlations",
        "rpta_twins.twin_validation",
    ):
        assert re.search(rf'<p class="absent">Not available:[^\n]*{re.escape(table)}', text), table
    assert linked_images(page) == EDA_IMAGES
    assert not MODEL_IMAGES & {p.name for p in tmp_path.glob("*.png")}
    assert "not built" in printed


TUNING_SCHEMA = (
    "model string, rank int, reg_param double, alpha double, val_rmse double, "
    "val_mae double, val_precision_at_k double, val_ndcg_at_k double, "
    "rung int, fit_users bigint, fit_seconds double, selected boolean"
)


def tuning_rows() -> list[tuple]:
    """als_tuning's rows as the model writes them: the rating variants have validation RMSE
    and MAE; als_implicit has none, only P@K and NDCG@K. Rung 1 is the whole grid on 500
    users; rung 2 refits each variant's best two on 1,500."""
    found = []
    for model in ("als_explicit", "als_residual", "als_implicit"):
        for rung, users, ranks, regs in (
            (1, 500, (8, 16), (0.01, 0.05, 0.1, 0.5)),
            (2, 1500, (8,), (0.05, 0.1)),
        ):
            for rank in ranks:
                for reg in regs:
                    off = float(abs(np.log10(reg) + 1))  # plain floats: Spark refuses numpy's
                    if model == "als_implicit":
                        p = 0.12 - off / 20 + rank / 1000 + rung / 100
                        found.append(
                            (
                                model,
                                rank,
                                reg,
                                1.0,
                                None,
                                None,
                                p,
                                p * 1.4,
                                rung,
                                users,
                                3.0,
                                rung == 2 and reg == 0.1,
                            )
                        )
                    else:
                        rmse = 0.85 + off / 10 + rank / 100 - rung / 100
                        found.append(
                            (
                                model,
                                rank,
                                reg,
                                1.0,
                                rmse,
                                rmse * 0.78,
                                None,
                                None,
                                rung,
                                users,
                                3.0,
                                rung == 2 and reg == 0.1,
                            )
                        )
    return found


def test_als_tuning_figure_draws_every_variant():
    """Each variant's panel plots its tuning criterion: RMSE, or P@K for als_implicit (whose
    RMSE is null: plotting it gives an empty panel)."""
    import pandas as pd

    from movielake.serving.report import als_tuning_figure

    columns = [c.split()[0] for c in TUNING_SCHEMA.split(", ")]
    fig = als_tuning_figure(pd.DataFrame(tuning_rows(), columns=columns))
    assert len(fig.axes) == 3
    for ax in fig.axes:
        drawn = np.concatenate(
            [np.asarray(line.get_ydata(), dtype=float) for line in ax.get_lines()]
        )
        assert drawn.size == 8 and np.isfinite(drawn).all(), ax.get_title()
        # the second rung's two refits, as stars
        stars = np.concatenate([c.get_offsets() for c in ax.collections])
        assert len(stars) == 2 and np.isfinite(stars).all(), ax.get_title()
    implicit = next(ax for ax in fig.axes if ax.get_title().endswith("als_implicit"))
    assert "Precision@K" in implicit.get_ylabel()


def write_model_tables(spark, prefix: str) -> None:
    """Small Delta tables with the recommenders' and twins' published schemas."""
    spark.sql(f"create database if not exists {prefix}_recommenders")
    spark.sql(f"create database if not exists {prefix}_twins")
    rng = np.random.default_rng(3)
    # implicit ALS predicts no ratings: its error metrics are null
    metrics = [
        (
            model,
            split,
            10,
            rmse,
            mae,
            None if mae is None else 1 - mae / 5,
            p,
            p * 0.6,
            p * 1.3,
            p * 0.5,
            0.1 + i / 10,
            140,
        )
        for i, (model, rmse, mae, p) in enumerate(
            [
                ("popularity", 0.97, 0.76, 0.09),
                ("als", 0.88, 0.68, 0.04),
                ("als_implicit", None, None, 0.12),
            ]
        )
        for split in ("validation", "test")
    ]
    spark.createDataFrame(
        metrics,
        "model string, split string, k int, rmse double, mae double, "
        "accuracy double, precision_at_k double, recall_at_k double, "
        "ndcg_at_k double, map_at_k double, catalog_coverage double, "
        "users_evaluated bigint",
    ).write.format("delta").mode("overwrite").saveAsTable(f"{prefix}_recommenders.model_metrics")
    spark.createDataFrame(tuning_rows(), TUNING_SCHEMA).write.format("delta").mode(
        "overwrite"
    ).saveAsTable(f"{prefix}_recommenders.als_tuning")
    cold = [
        ("cold_movies", 0, model, 10, p, p * 2, p * 1.5, p, 40, 30)
        for model, p in (
            ("hybrid", 0.3117),
            ("content", 0.11),
            ("popularity", 0.05),
            ("random", 0.03),
        )
    ]
    cold += [
        ("new_users", n, model, 10, p * n**0.3, p, p, p, 15, 300)
        for n in (1, 3, 5)
        for model, p in (
            ("hybrid", 0.2),
            ("als_implicit", 0.19),
            ("popularity", 0.25),
            ("random", 0.02),
        )
    ]
    spark.createDataFrame(
        cold,
        "scenario string, known_ratings int, model string, k int, "
        "precision_at_k double, recall_at_k double, ndcg_at_k double, "
        "map_at_k double, users_evaluated bigint, candidates bigint",
    ).write.format("delta").mode("overwrite").saveAsTable(
        f"{prefix}_recommenders.cold_start_metrics"
    )
    # what benchmarks/bench_peers.py writes: one row per peer, test figures
    spark.sql(f"create database if not exists {prefix}_benchmarks")
    spark.createDataFrame(
        [
            (
                "ease",
                True,
                "reg_lambda 200.0",
                None,
                None,
                0.1,
                0.08,
                0.14,
                0.06,
                0.05,
                4.0,
                1.0,
                10,
            ),
            (
                "surprise_svd",
                True,
                "n_factors 50",
                0.9,
                0.7,
                None,
                None,
                None,
                None,
                None,
                9.0,
                2.0,
                10,
            ),
        ],
        "model string, is_peer boolean, setting string, rmse double, mae double, "
        "precision_at_k double, recall_at_k double, ndcg_at_k double, map_at_k double, "
        "catalog_coverage double, tune_s double, fit_s double, k bigint",
    ).write.format("delta").mode("overwrite").saveAsTable(f"{prefix}_benchmarks.peer_metrics")
    # and its paired comparison of the served top-K model with the best peer
    spark.createDataFrame(
        [
            ("precision_at_k", 0.12, 0.1, 0.02, 0.004, 0.036, 1.2, 1.04, 1.37),
            ("ndcg_at_k", 0.15, 0.14, 0.01, -0.003, 0.023, 1.07, 0.98, 1.17),
        ],
        "metric string, ours double, theirs double, difference double, "
        "difference_low double, difference_high double, ratio double, ratio_low double, "
        "ratio_high double",
    ).selectExpr(
        "*",
        "554L as users",
        "2000L as resamples",
        "0L as seed",
        "'item_item' as ours_model",
        "'ease' as peer_model",
        "10L as k",
    ).write.format("delta").mode("overwrite").saveAsTable(f"{prefix}_benchmarks.peer_comparison")
    pairs = [
        (group, int(a), int(a) + 1, 12, float(np.clip(r, -1, 1)))
        for group, centre in (("twins", 0.8), ("random", 0.0))
        for a, r in zip(range(0, 120, 2), rng.normal(centre, 0.2, 60))
    ]
    pairs.append(("random", 999, 1000, 1, None))  # undefined correlation
    spark.createDataFrame(
        [(10, 11, 0.75, 30, 35, 35, 1), (20, 21, 0.5, 20, 30, 30, 2)],
        "user_a int, user_b int, jaccard double, movies_in_common int, "
        "set_size_a int, set_size_b int, pair_rank int",
    ).write.format("delta").mode("overwrite").saveAsTable(f"{prefix}_twins.user_twins")
    spark.createDataFrame(
        pairs, "pair_group string, user_a int, user_b int, co_rated int, pearson double"
    ).write.format("delta").mode("overwrite").saveAsTable(f"{prefix}_twins.twin_pair_correlations")
    spark.createDataFrame(
        [("twins", 60, 0.8123, 1e-12), ("random", 61, 0.0042, None)],
        "pair_group string, pairs bigint, mean_pearson double, p_value double",
    ).write.format("delta").mode("overwrite").saveAsTable(f"{prefix}_twins.twin_validation")


def test_sections_render_when_tables_exist(synthetic_build, spark, tmp_path):
    alias_eda_marts(spark, "rptp")
    write_model_tables(spark, "rptp")
    page = tmp_path / "index.html"
    code, printed = render("rptp", page)
    assert code == 0, printed
    text = page.read_text()
    assert "Not available" not in text
    assert linked_images(page) == EDA_IMAGES | MODEL_IMAGES
    for name in MODEL_IMAGES:
        assert_real_png(tmp_path / name)
    assert "0.812" in text and "als_implicit" in text  # the validation and metrics tables
    assert "Hybrid and cold start" in text and "0.3117" in text  # the cold-start table
    # side by side: our als_implicit P@K 0.12 is 1.20x the best peer's (ease, 0.1)
    assert "MovieLake als_implicit" in text and "0.1200 (1.20x)" in text
    assert "0.8800 (0.98x)" in text  # our als RMSE against surprise_svd's 0.9
    assert "over the 554 test users" in text  # the paired comparison, under the peers' table
    assert "+0.0200 [+0.0040, +0.0360]" in text and "1.070 [0.980, 1.170]" in text


def test_report_without_eda_marts_fails_with_a_message(synthetic_build, tmp_path, capsys):
    assert (
        main(["report", "--schema-prefix", "nothing_here", "--out", str(tmp_path / "r.html")]) == 1
    )
    assert "make run" in capsys.readouterr().err
