"""The MovieLens-shaped generator: right files and columns, skew, planted twins, determinism."""

from __future__ import annotations

import csv
from collections import Counter, defaultdict

from movielake.synthetic import generate


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
