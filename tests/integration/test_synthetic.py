"""The MovieLens-shaped generator: each preset's files, counts and marginals, the known model
behind the ratings, the genome, planted twins, determinism."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from movielake.data.synthetic import (
    GENOME_TAGS,
    HALF_STARS_FROM,
    PRESETS,
    _epoch,
    generate,
    generate_release,
    scaled,
)


def read(path):
    with path.open(newline="", encoding="utf-8") as stream:
        return list(csv.reader(stream))


def test_generated_release_is_movielens_shaped(tmp_path):
    counts = generate(tmp_path / "a", users=120, movies=300, seed=7, twins=2)
    ratings = read(tmp_path / "a" / "ratings.csv")
    assert ratings[0] == ["userId", "movieId", "rating", "timestamp"]
    assert (tmp_path / "a" / "ratings.csv").read_bytes().count(b"\r\n") == len(ratings)
    assert len(ratings) - 1 == counts["ratings"]
    stars = {float(r[2]) for r in ratings[1:]}
    assert stars <= {x / 2 for x in range(1, 11)} and len(stars) >= 8
    per_user = Counter(r[0] for r in ratings[1:])
    assert len(per_user) == 120 and min(per_user.values()) >= 19
    per_movie = Counter(r[1] for r in ratings[1:])
    top, median = per_movie.most_common(1)[0][1], sorted(per_movie.values())[len(per_movie) // 2]
    assert top > 5 * median  # a long tail, as in MovieLens
    assert len({(r[0], r[1]) for r in ratings[1:]}) == counts["ratings"]  # no duplicate pairs

    sets = defaultdict(set)
    for user, movie, *_ in ratings[1:]:
        sets[int(user)].add(movie)
    for a, b in [(117, 118), (119, 120)]:  # planted pairs: the last 2 * twins users
        jaccard = len(sets[a] & sets[b]) / len(sets[a] | sets[b])
        assert jaccard > 0.85

    movies = read(tmp_path / "a" / "movies.csv")
    assert movies[0] == ["movieId", "title", "genres"] and len(movies) == 301
    assert any("," in title for _, title, _ in movies[1:])  # quoted titles occur
    assert read(tmp_path / "a" / "links.csv")[0] == ["movieId", "imdbId", "tmdbId"]
    assert read(tmp_path / "a" / "tags.csv")[0] == ["userId", "movieId", "tag", "timestamp"]


def test_same_seed_same_files(tmp_path):
    generate(tmp_path / "a", users=50, movies=100, seed=3)
    generate(tmp_path / "b", users=50, movies=100, seed=3)
    for name in ("ratings.csv", "movies.csv", "tags.csv", "links.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


# ---- presets: each release's own files, counts and marginals -------------------------------


def load_ratings(folder: Path, release: str) -> pd.DataFrame:
    names = ["user", "movie", "rating", "ts"]
    if release == "ml-100k":
        return pd.read_csv(folder / "u.data", sep="\t", names=names)
    if release in ("ml-1m", "ml-10m"):
        return pd.read_csv(folder / "ratings.dat", sep="::", names=names, engine="python")
    return pd.read_csv(folder / "ratings.csv", names=names, header=0)


def check_marginals(ratings: pd.DataFrame, preset, manifest) -> None:
    assert len(ratings) == preset.ratings == manifest["counts"]["ratings"]
    per_user = ratings.groupby("user").size()
    assert len(per_user) == preset.users and per_user.min() >= preset.min_per_user
    assert not ratings.duplicated(["user", "movie"]).any()
    per_movie = ratings.groupby("movie").size().sort_values(ascending=False)
    assert per_movie.iloc[0] > 10 * per_movie.median()  # long-tailed popularity
    shares = ratings["rating"].value_counts(normalize=True)
    assert shares.idxmax() == 4.0
    low, high = _epoch(preset.first_day), _epoch(preset.last_day) + 86_400
    assert ratings["ts"].between(low, high).all()
    halves = ratings["rating"] % 1 != 0
    if preset.half_stars:
        assert halves.any() and (ratings.loc[halves, "ts"] >= HALF_STARS_FROM).all()
    else:
        assert not halves.any() and ratings["rating"].between(1, 5).all()
    # the noise floor: below the ratings' spread, and what the known model's best guess misses
    assert 0.3 < manifest["noise_floor_rmse"] < 0.85 * ratings["rating"].std()


def test_ml100k_preset_full_size(tmp_path):
    preset = PRESETS["ml-100k"]
    manifest = generate_release(tmp_path, preset, seed=1)
    assert {"u.data", "u.item", "u.user", "generated.json"} <= {p.name for p in tmp_path.iterdir()}
    ratings = load_ratings(tmp_path, "ml-100k")
    check_marginals(ratings, preset, manifest)
    items = (tmp_path / "u.item").read_bytes().decode("latin-1").splitlines()
    assert len(items) == 1682 and all(len(line.split("|")) == 24 for line in items)
    assert any("é" in line for line in items)  # latin-1, as GroupLens writes it


def test_ml1m_preset_scaled_dat_latin1(tmp_path):
    preset = scaled(PRESETS["ml-1m"], 60_000)
    manifest = generate_release(tmp_path, preset, seed=2)
    check_marginals(load_ratings(tmp_path, "ml-1m"), preset, manifest)
    movies = (tmp_path / "movies.dat").read_bytes().decode("latin-1").splitlines()
    assert len(movies) == preset.movies and all(len(m.split("::")) == 3 for m in movies)
    assert any("Children's" in m for m in movies)  # ml-1m's spelling
    assert (tmp_path / "users.dat").is_file()


def test_ml20m_preset_scaled_csv_family_with_genome(tmp_path):
    preset = scaled(PRESETS["ml-20m"], 80_000)
    manifest = generate_release(tmp_path, preset, seed=3)
    ratings = load_ratings(tmp_path, "ml-20m")
    check_marginals(ratings, preset, manifest)
    assert (tmp_path / "ratings.csv").read_text().splitlines()[1].count(",") == 3
    tags = pd.read_csv(tmp_path / "tags.csv")
    assert list(tags.columns) == ["userId", "movieId", "tag", "timestamp"]
    assert len(tags) == preset.tags == manifest["counts"]["tags"]
    links = pd.read_csv(tmp_path / "links.csv")
    assert len(links) == preset.movies and links["tmdbId"].isna().any()
    movies = pd.read_csv(tmp_path / "movies.csv")
    assert set(ratings["movie"]) <= set(movies["movieId"])
    assert movies["movieId"].max() > 2 * len(movies)  # sparse ids, as in ml-20m

    genome_tags = pd.read_csv(tmp_path / "genome-tags.csv")
    assert list(genome_tags.columns) == ["tagId", "tag"] and len(genome_tags) == GENOME_TAGS
    assert genome_tags["tag"].is_unique
    scores = pd.read_csv(tmp_path / "genome-scores.csv")
    assert list(scores.columns) == ["movieId", "tagId", "relevance"]
    assert len(scores) == preset.genome_movies * GENOME_TAGS
    assert scores["relevance"].between(0, 1).all()
    # relevance carries the hidden item factors: they explain much of its logit
    truth = np.load(tmp_path / "generator_truth.npz")
    factors = dict(zip(truth["movie_ids"], truth["movie_factors"]))
    matrix = scores.pivot(index="movieId", columns="tagId", values="relevance")
    logit = np.log(matrix.clip(0.001, 0.999) / (1 - matrix.clip(0.001, 0.999))).to_numpy()
    x = np.column_stack([np.vstack([factors[m] for m in matrix.index]), np.ones(len(matrix))])
    residual = logit - x @ np.linalg.lstsq(x, logit, rcond=None)[0]
    assert 1 - residual.var() / logit.var() > 0.5


def test_ratings_come_from_the_known_model(tmp_path):
    preset = scaled(PRESETS["ml-20m"], 40_000)
    manifest = generate_release(tmp_path, preset, seed=4)
    ratings = load_ratings(tmp_path, "ml-20m")
    truth = np.load(tmp_path / "generator_truth.npz")
    user = pd.Series(np.arange(len(truth["user_ids"])), index=truth["user_ids"])[ratings["user"]]
    movie = pd.Series(np.arange(len(truth["movie_ids"])), index=truth["movie_ids"])[
        ratings["movie"]
    ]
    u, m = user.to_numpy(), movie.to_numpy()
    z = (
        truth["user_bias"][u]
        + truth["movie_bias"][m]
        + (truth["user_factors"][u] * truth["movie_factors"][m]).sum(1)
    )

    # a straight line through the true latent score nearly reaches the noise floor; the
    # biases alone (no factors) do clearly worse
    def line_rmse(x):
        design = np.column_stack([x, np.ones(len(x))])
        fit = np.linalg.lstsq(design, ratings["rating"], rcond=None)[0]
        return float(np.sqrt(np.mean((ratings["rating"] - design @ fit) ** 2)))

    floor = manifest["noise_floor_rmse"]
    assert line_rmse(z) < 1.1 * floor
    assert line_rmse(truth["user_bias"][u] + truth["movie_bias"][m]) > line_rmse(z) + 0.03


def test_ml_latest_preset_allows_users_below_20(tmp_path):
    preset = scaled(PRESETS["ml-latest"], 30_000)
    assert preset.min_per_user == 1
    generate_release(tmp_path, preset, seed=5)
    per_user = load_ratings(tmp_path, "ml-latest").groupby("user").size()
    assert per_user.min() >= 1 and (per_user < 20).any()


def test_presets_carry_the_published_counts():
    assert (PRESETS["ml-20m"].ratings, PRESETS["ml-20m"].users, PRESETS["ml-20m"].movies) == (
        20_000_263,
        138_493,
        27_278,
    )
    assert PRESETS["ml-1m"].ratings == 1_000_209 and not PRESETS["ml-1m"].half_stars
    small = scaled(PRESETS["ml-20m"], 1_000_000)
    assert small.ratings == 1_000_000 and small.users < PRESETS["ml-20m"].users


def test_cli_generate_preset_and_refuses_a_fetched_release(tmp_path):
    movielake = Path(sys.executable).with_name("movielake")
    run = subprocess.run(
        [
            str(movielake),
            "generate",
            "--preset",
            "ml-1m",
            "--ratings",
            "20000",
            "--out",
            str(tmp_path / "gen"),
        ],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    manifest = json.loads((tmp_path / "gen" / "generated.json").read_text())
    assert manifest["counts"]["ratings"] == 20_000 and "noise floor RMSE" in run.stdout
    assert "dataset: ml-1m" in run.stdout
    real = tmp_path / "real"
    real.mkdir()
    (real / "ratings.dat").write_text("1::1::5::978300760\n")
    run = subprocess.run(
        [str(movielake), "generate", "--preset", "ml-1m", "--ratings", "20000", "--out", str(real)],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 1 and "--force" in run.stderr
    assert (real / "ratings.dat").read_text() == "1::1::5::978300760\n"


# ml-100k's family is staged in test_staging_build already; these add the .dat and genome layouts
@pytest.mark.parametrize("name", ["ml-1m", "ml-20m"])
def test_staging_reads_a_generated_release_as_a_downloaded_one(dbt, spark, tmp_path, name):
    """Every generated line is valid to the staging models of its release: nothing quarantined,
    every rating, movie, tag and genome line staged (ml-1m has no genome: empty tables)."""
    preset = scaled(PRESETS[name], 8_000)
    counts = generate_release(tmp_path, preset, seed=6)["counts"]
    result = dbt(
        "run", "--select", "staging", schema="gen", vars={"dataset": name, "raw_dir": str(tmp_path)}
    )
    assert result.success, [(r.node.name, r.message) for r in result.result or []]
    staged = spark.sql(
        "select (select count(*) from gen_staging.stg_movielens__ratings) as ratings, "
        "(select count(*) from gen_staging.stg_movielens__movies) as movies, "
        "(select count(*) from gen_staging.stg_movielens__tags) as tags, "
        "(select count(*) from gen_staging.stg_movielens__genome_scores) as genome_scores, "
        "(select count(*) from gen_staging.stg_movielens__genome_tags) as genome_tags, "
        "(select count(*) from gen_staging.stg_movielens__quarantine) as quarantined"
    ).first()
    assert staged["quarantined"] == 0
    entities = ("ratings", "movies", "tags", "genome_scores", "genome_tags")
    assert {e: staged[e] for e in entities} == {e: counts.get(e, 0) for e in entities}
    if name == "ml-20m":  # every genome tag for each of the most rated movies
        assert counts["genome_tags"] == GENOME_TAGS
        assert counts["genome_scores"] == preset.genome_movies * GENOME_TAGS > 0
