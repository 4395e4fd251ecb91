"""The bad-input corpus (tests/bad_input_corpus.py) through real staging builds: every good line
staged, every bad line quarantined with its exact reason, and the build goes on. The CSV build is
`dbt build -s staging` into schemas of its own, as a new user would type it (no extra flags),
so it also proves that selecting the staging layer works on a data home without its children;
its release (ml-25m) has the tag genome, so the genome files and their tests are in it too.
Also: a ratings file without a valid rating stops the build at staging with one message, and
bad vars stop it before anything is written."""

from __future__ import annotations

import bad_input_corpus as corpus
import pytest

from conftest import rows

BUILD_STAGING = ("build", "--select", "staging", "--exclude-resource-type", "unit_test")


def failure_text(result) -> str:
    """What a failed dbt invocation said: its exception, else its nodes' and hooks' messages."""
    if result.exception:
        return str(result.exception)
    return "\n".join(str(r.message) for r in result.result or [])


def schema_for(release: str) -> str:
    return "bad_" + release.replace("-", "_")


@pytest.fixture(scope="module", params=list(corpus.FAMILIES))
def corpus_build(request, dbt, tmp_path_factory):
    release = request.param
    folder = corpus.write(release, tmp_path_factory.mktemp(release))
    # the CSV corpus is built with its tests as a user types it; the others only run (their
    # family's tests run in test_staging_build), to keep CI short
    command = BUILD_STAGING if release == corpus.CSV_RELEASE else ("run", "--select", "staging")
    result = dbt(
        *command, schema=schema_for(release), vars={"dataset": release, "raw_dir": str(folder)}
    )
    return release, result


def test_build_continues(corpus_build):
    release, result = corpus_build
    assert result.success, (
        release,
        [
            (r.node.name, r.message)
            for r in result.result or []
            if str(r.status) in ("error", "fail")
        ]
        or result.exception,
    )
    statuses = {r.node.name: str(r.status) for r in result.result}
    assert statuses["stg_movielens__ratings"] == "success"
    if release == corpus.CSV_RELEASE:
        # what was selected is staging, and only the tests that belong to it
        assert not any(
            name.startswith(("int_", "movie_stats", "relationships_int")) for name in statuses
        )
        assert statuses["no_rows_stg_movielens__quarantine_"] == "warn"


def test_every_line_staged_or_quarantined_with_its_reason(corpus_build, spark):
    release, _ = corpus_build
    staging = f"{schema_for(release)}_staging"
    for entity, want in corpus.expected(release).items():
        got = {
            r["line_number"]: r["reject_reason"]
            for r in rows(
                spark, f"select line_number, reject_reason from {staging}.base_movielens__{entity}"
            )
        }
        assert got == want, (release, entity)
        quarantined = {
            r["line_number"]: r["reject_reason"]
            for r in rows(
                spark,
                f"select line_number, reject_reason "
                f"from {staging}.stg_movielens__quarantine "
                f"where entity = '{entity}'",
            )
        }
        assert quarantined == {n: reason for n, reason in want.items() if reason}, (release, entity)
        staged = spark.table(f"{staging}.stg_movielens__{entity}").count()
        assert staged == sum(reason is None for reason in want.values()), (release, entity)


def test_a_bad_time_never_displaces_a_valid_rating(corpus_build, spark):
    release, _ = corpus_build
    if release != corpus.CSV_RELEASE:
        pytest.skip("the planted pair is in the CSV corpus")
    got = rows(
        spark,
        f"select rating, cast(rated_at as string) as rated_at "
        f"from {schema_for(release)}_staging.stg_movielens__ratings "
        "where user_id = 1 and movie_id = 2",
    )
    assert got == [{"rating": 4.5, "rated_at": "2000-07-30 18:46:40"}]


def test_genome_keeps_the_first_of_duplicates_and_parses_relevance(corpus_build, spark):
    release, _ = corpus_build
    if release != corpus.CSV_RELEASE:
        pytest.skip("only the CSV corpus has a genome")
    staging = f"{schema_for(release)}_staging"
    assert rows(
        spark,
        f"select movie_id, tag_id, relevance from {staging}.stg_movielens__genome_scores "
        "order by movie_id, tag_id",
    ) == [
        {"movie_id": 1, "tag_id": 1, "relevance": 0.025000000000000022},
        {"movie_id": 1, "tag_id": 2, "relevance": 1.0},
        {"movie_id": 2, "tag_id": 1, "relevance": 0.0},
        {"movie_id": 2, "tag_id": 3, "relevance": 0.25},
    ]
    assert rows(
        spark, f"select tag_id, tag from {staging}.stg_movielens__genome_tags order by tag_id"
    ) == [
        {"tag_id": 1, "tag": "dark comedy"},
        {"tag_id": 2, "tag": "based on a book"},
        {"tag_id": 3, "tag": "twist ending, sort of"},
    ]


def test_implausible_title_year_is_left_empty_with_its_reason(corpus_build, spark):
    release, _ = corpus_build
    title = {
        corpus.CSV_RELEASE: "Future Film (3000)",
        "ml-10m": "Far Future (2500)",
        "ml-100k": "A\u00f1o Nuevo (0999)",
    }[release]
    year = title[-5:-1]
    (movie,) = rows(
        spark,
        f"select title, release_year, release_year_issue "
        f"from {schema_for(release)}_staging.base_movielens__movies "
        f"where title = '{title}'",
    )
    assert movie == {
        "title": title,
        "release_year": None,
        "release_year_issue": f"title year {int(year)} outside 1870-2100: release_year left empty",
    }


@pytest.mark.parametrize(
    "lines, message",
    [
        ([], "it has no data lines (empty or header only)"),
        (
            ["1,1,9.0,964982703", "1,1,4.0,1", "1,1,7.0,964982703"],
            "all 3 data line(s) quarantined; top reasons: 2 x rating … outside …-…; "
            "1 x timestamp … is before …, the release's first year",
        ),
    ],
)
def test_ratings_without_a_valid_line_fail_at_staging(dbt, tmp_path, lines, message):
    # built as the default ml-latest-small, which reads no genome files
    folder = corpus.write(corpus.CSV_RELEASE, tmp_path / "ml-latest-small")
    ratings = folder / "ratings.csv"
    ratings.write_text("\r\n".join(["userId,movieId,rating,timestamp", *lines]) + "\r\n")
    result = dbt(
        "run",
        "--select",
        "+stg_movielens__ratings",
        schema="bad_empty",
        vars={"raw_dir": str(folder)},
    )
    assert not result.success, result.exception
    errors = {r.node.name: r.message for r in result.result if str(r.status) == "error"}
    assert list(errors) == ["stg_movielens__ratings"], errors  # one clear error, at staging
    assert (
        f"no valid rating in {ratings}: {message} "
        "(every line and its reason: base_movielens__ratings)"
    ) in errors["stg_movielens__ratings"]


@pytest.mark.parametrize(
    "bad_vars, message",
    [
        ({"split_test_fraction": "abc"}, "split_test_fraction must be a number, got 'abc'"),
        (
            {"split_test_fraction": 0.5, "split_validation_fraction": 0.5},
            "split_validation_fraction + split_test_fraction must be below 1 "
            "(training needs the rest), got 0.5 + 0.5",
        ),
        # the release is read while dbt parses the models: it fails even earlier, as clearly
        ({"dataset": "ml-99m"}, "unknown MovieLens release 'ml-99m'; known releases: ml-100k, "),
        ({"raw_dir": "/tmp/it's here"}, "raw_dir must not contain quotes"),
        # every var with a rule is checked, not only those a list in the macro named
        ({"als_tuning_rungs": 0}, "als_tuning_rungs must be an integer from 1, got 0"),
        (
            {"als_tuning_search": "random"},
            "als_tuning_search must be one of 'coordinate', 'grid', got 'random'",
        ),
    ],
)
def test_bad_vars_fail_before_anything_is_written(dbt, spark, bad_vars, message):
    result = dbt("run", "--select", "base_movielens__links", schema="bad_vars", vars=bad_vars)
    assert not result.success
    said = failure_text(result)
    assert message in said, said
    assert "bad dbt vars (nothing was built)" in said or "dataset" in bad_vars, said
    # dbt makes the selected models' schemas before its on-run-start hooks; they stay empty
    schemas = [r["namespace"] for r in rows(spark, "show schemas like 'bad_vars*'")]
    # (session temp views, e.g. of unit tests run earlier in this process, are not tables)
    assert [
        (s, r["tableName"])
        for s in schemas
        for r in rows(spark, f"show tables in {s}")
        if not r["isTemporary"]
    ] == []
