"""Real `dbt build` runs of the staging layer on small releases of each file family."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from movielens_samples import write_100k_release, write_csv_release, write_dat_release

from conftest import rows

STAGING = "movielake_staging"
# Unit tests run once in test_dbt_unit_tests; the builds here are about real files.
BUILD = ("build", "--exclude-resource-type", "unit_test")


def utc(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def quarantine(spark, entity: str) -> dict[int, str]:
    found = rows(
        spark,
        f"select line_number, reject_reason from {STAGING}.stg_movielens__quarantine "
        f"where entity = '{entity}'",
    )
    return {r["line_number"]: r["reject_reason"] for r in found}


@pytest.fixture(scope="module")
def csv_build(dbt, tmp_path_factory):
    folder = write_csv_release(tmp_path_factory.mktemp("ml-latest-small"))
    # the sample is a staging test: too small for the recommenders' splits and ALS
    result = dbt(
        *BUILD,
        "--select",
        "staging",
        "user_movie_sets",
        "--indirect-selection",
        "cautious",
        vars={"dataset": "ml-latest-small", "raw_dir": str(folder), "twins_min_ratings": 1},
    )
    return folder, result


def test_csv_build_succeeds(csv_build):
    _, result = csv_build
    assert result.success, result.exception
    statuses = {r.node.name: str(r.status) for r in result.result}
    assert statuses["stg_movielens__ratings"] == "success"
    assert statuses["user_movie_sets"] == "success"  # the Python model ran
    # the quarantine is not empty here, and says so as a warning, not an error
    assert statuses["no_rows_stg_movielens__quarantine_"] == "warn"


def test_csv_ratings_keep_valid_rows_and_latest_duplicate(csv_build, spark):
    got = rows(
        spark,
        f"select user_id, movie_id, rating, cast(rated_at as string) as rated_at "
        f"from {STAGING}.stg_movielens__ratings order by user_id, movie_id",
    )
    assert got == [
        {"user_id": 1, "movie_id": 1, "rating": 4.0, "rated_at": utc(964982703)},
        {"user_id": 1, "movie_id": 2, "rating": 5.0, "rated_at": utc(964990000)},
        {"user_id": 3, "movie_id": 4, "rating": 0.5, "rated_at": utc(964982224)},
        {"user_id": 3, "movie_id": 5, "rating": 5.0, "rated_at": utc(1000000000)},
    ]


def test_csv_ratings_quarantine_names_line_and_reason(csv_build, spark):
    folder, _ = csv_build
    assert quarantine(spark, "ratings") == {
        3: "duplicate rating of movie 2 by user 1 (the latest is kept)",
        5: "rating 7.0 outside 0.5-5.0",
        6: "rating 3.7 is not a multiple of 0.5",
        7: "rating 'abc' is not a number",
        8: "userId 'u3' is not a positive integer",
        9: "movieId 99 is not in the movies file",
        10: "timestamp 'yesterday' is not epoch seconds",
        11: "expected 4 fields, found 3",
        12: "empty line",
    }
    (row,) = rows(
        spark,
        f"select source_file, line from {STAGING}.stg_movielens__quarantine "
        "where entity = 'ratings' and line_number = 8",
    )
    assert row == {"source_file": str(folder / "ratings.csv"), "line": "u3,1,4.0,964982224"}


def test_recommenders_on_a_too_small_release_stop_with_a_clear_message(csv_build, dbt):
    """The sample's 4 valid ratings leave no validation rating to tune ALS on: als_tuning
    stops saying so (not with an MLlib error about an empty summarizer)."""
    folder, _ = csv_build
    result = dbt(
        "run",
        "--select",
        "rating_splits",
        "recommender_fit_ratings",
        "popularity_biases",
        "als_tuning",
        vars={"dataset": "ml-latest-small", "raw_dir": str(folder)},
    )
    assert not result.success
    (failed,) = [r for r in result.result if str(r.status) == "error"]
    assert failed.node.name == "als_tuning"
    assert "too small to tune ALS" in failed.message
    assert "Nothing has been added" not in failed.message


def test_csv_movies_titles_years_genres(csv_build, spark):
    got = rows(
        spark,
        f"select movie_id, title, release_year, genres "
        f"from {STAGING}.stg_movielens__movies order by movie_id",
    )
    assert got == [
        {
            "movie_id": 1,
            "title": "Toy Story",
            "release_year": 1995,
            "genres": ["Adventure", "Animation", "Children", "Comedy", "Fantasy"],
        },
        {
            "movie_id": 2,
            "title": "American President, The",
            "release_year": 1995,
            "genres": ["Comedy", "Drama", "Romance"],
        },
        {"movie_id": 3, "title": 'Bob "The Man" Smith', "release_year": 2001, "genres": []},
        {"movie_id": 4, "title": "Babylon 5", "release_year": None, "genres": ["Sci-Fi"]},
        {"movie_id": 5, "title": "Hyena Road", "release_year": 2015, "genres": ["Drama"]},
    ]
    assert quarantine(spark, "movies") == {
        7: "movieId 'x7' is not a positive integer",
        8: "expected 3 fields, found 2",
        9: "duplicate movieId 1 (its first line is kept)",
    }


def test_csv_tags_and_links(csv_build, spark):
    tags = rows(
        spark, f"select user_id, movie_id, tag from {STAGING}.stg_movielens__tags order by movie_id"
    )
    assert tags == [
        {"user_id": 1, "movie_id": 1, "tag": "pixar, funny"},
        {"user_id": 1, "movie_id": 2, "tag": "politics"},
    ]
    assert quarantine(spark, "tags") == {4: "movieId 42 is not in the movies file", 5: "empty tag"}
    links = rows(
        spark,
        f"select movie_id, imdb_id, tmdb_id from {STAGING}.stg_movielens__links order by movie_id",
    )
    assert links[:2] == [
        {"movie_id": 1, "imdb_id": "0114709", "tmdb_id": 862},
        {"movie_id": 2, "imdb_id": "0112346", "tmdb_id": None},
    ]
    assert quarantine(spark, "links") == {4: "imdbId 'tt123' is not a number"}


def test_csv_release_without_genome_has_empty_genome_tables(csv_build, spark):
    """ml-latest-small ships no tag genome: its tables are built, empty, like ml-1m's tags."""
    for table in ("stg_movielens__genome_scores", "stg_movielens__genome_tags"):
        assert spark.table(f"{STAGING}.{table}").count() == 0


def test_every_table_is_delta_under_the_data_home(csv_build, spark, lake_home):
    # (an incremental model's run leaves its session-scoped temporary view, listed here too)
    tables = [
        r["tableName"] for r in rows(spark, f"show tables in {STAGING}") if not r["isTemporary"]
    ]
    assert "stg_movielens__ratings" in tables and "base_movielens__ratings" in tables
    for schema, table in [(STAGING, t) for t in tables] + [("movielake_twins", "user_movie_sets")]:
        detail = spark.sql(f"describe detail {schema}.{table}").first()
        assert detail["format"] == "delta", table
        assert detail["location"] == f"file:{lake_home}/spark-warehouse/{schema}.db/{table}"


def test_python_model_wrote_movie_sets(csv_build, spark):
    got = rows(
        spark,
        "select user_id, movie_ids, set_size from movielake_twins.user_movie_sets order by user_id",
    )
    assert got == [
        {"user_id": 1, "movie_ids": [1, 2], "set_size": 2},
        {"user_id": 3, "movie_ids": [4, 5], "set_size": 2},
    ]


def test_dat_family_latin1_whole_stars(dbt, spark, tmp_path):
    folder = write_dat_release(tmp_path / "ml-1m")
    result = dbt(
        *BUILD,
        "--select",
        "staging",
        "--indirect-selection",
        "cautious",
        vars={"dataset": "ml-1m", "raw_dir": str(folder)},
    )
    assert result.success, result.exception
    movies = rows(
        spark,
        f"select movie_id, title, genres from {STAGING}.stg_movielens__movies order by movie_id",
    )
    assert movies == [
        {"movie_id": 1, "title": "Café Society", "genres": ["Comedy", "Children"]},
        {"movie_id": 2, "title": "Heat", "genres": ["Action", "Crime", "Thriller"]},
    ]
    assert quarantine(spark, "movies") == {3: "expected 3 fields, found 4"}
    assert quarantine(spark, "ratings") == {
        2: "rating 3.5 is not a multiple of 1.0",
        3: "rating 0.0 outside 1.0-5.0",
    }
    assert spark.table(f"{STAGING}.stg_movielens__ratings").count() == 3
    # ml-1m ships no tags, links or genome: their tables exist and are empty
    for entity in ("tags", "links", "genome_scores", "genome_tags"):
        assert spark.table(f"{STAGING}.stg_movielens__{entity}").count() == 0, entity


def test_100k_family_genre_flags(dbt, spark, tmp_path):
    folder = write_100k_release(tmp_path / "ml-100k")
    result = dbt(
        *BUILD,
        "--select",
        "staging",
        "--indirect-selection",
        "cautious",
        vars={"dataset": "ml-100k", "raw_dir": str(folder)},
    )
    assert result.success, result.exception
    movies = rows(
        spark,
        f"select movie_id, title, release_year, genres "
        f"from {STAGING}.stg_movielens__movies order by movie_id",
    )
    assert movies == [
        {
            "movie_id": 1,
            "title": "Toy Story",
            "release_year": 1995,
            "genres": ["Animation", "Children", "Comedy"],
        },
        {
            "movie_id": 2,
            "title": "GoldenEye",
            "release_year": 1995,
            "genres": ["Action", "Adventure", "Thriller"],
        },
        {"movie_id": 3, "title": "Belle époque", "release_year": 1992, "genres": []},
    ]
    assert quarantine(spark, "movies") == {4: "genre flags must be 0 or 1"}
    assert quarantine(spark, "ratings") == {
        4: "rating 6.0 outside 1.0-5.0",
        5: "expected 4 fields, found 3",
    }
    assert spark.table(f"{STAGING}.stg_movielens__ratings").count() == 3


def test_missing_required_file_fails_naming_it(dbt, tmp_path):
    folder = write_csv_release(tmp_path / "broken")
    (folder / "movies.csv").unlink()
    result = dbt(
        *BUILD,
        "--select",
        "staging",
        "--indirect-selection",
        "cautious",
        vars={"dataset": "ml-latest-small", "raw_dir": str(folder)},
    )
    assert not result.success
    assert f"required file {folder / 'movies.csv'} is missing" in str(
        result.exception or result.result
    )


def test_synthetic_release_builds_clean(synthetic_build, spark):
    """The generator's output passes staging untouched: nothing quarantined, nothing lost."""
    assert spark.table("synth_staging.stg_movielens__quarantine").count() == 0
    lines = spark.table("synth_staging.base_movielens__ratings").count()
    assert spark.table("synth_staging.stg_movielens__ratings").count() == lines > 5000
