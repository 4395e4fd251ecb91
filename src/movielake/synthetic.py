"""MovieLens-shaped synthetic data: the same CSV files and columns as ml-latest-small, with the
skew of the real thing (a few very popular movies, a few very active users) and ratings drawn
from a low-rank taste model, so recommenders have real signal to find.

Used by the tests (small, fast) and by benchmarks (large); `movielake generate` writes it.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

GENRES = (
    "Action", "Adventure", "Animation", "Children", "Comedy", "Crime", "Documentary", "Drama",
    "Fantasy", "Film-Noir", "Horror", "IMAX", "Musical", "Mystery", "Romance", "Sci-Fi",
    "Thriller", "War", "Western",
)
TAG_WORDS = ("atmospheric", "twist ending", "funny", "classic", "dark", "visually stunning",
             "slow", "based on a book", "quirky", "sci-fi")
EPOCH_START = 828_000_000  # 1996-03-28, when MovieLens began
EPOCH_END = 1_537_800_000  # 2018-09-24, ml-latest-small's last rating


def generate(
    folder: Path,
    users: int = 200,
    movies: int = 400,
    mean_ratings_per_user: float = 40.0,
    seed: int = 42,
    rank: int = 4,
    twins: int = 0,
) -> dict[str, int]:
    """Write ratings.csv, movies.csv, tags.csv and links.csv into `folder`; return row counts.

    twins: number of planted near-duplicate user pairs. For each, the second user of the pair
    rates almost exactly the movies of the first with ratings close to the first's, so that
    set-similarity (twins) searches have known answers. Planted pairs are (u, u + 1) for the
    last 2 * twins user ids."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)

    # Movies: Zipf-like popularity, genres, release years, latent taste vectors.
    popularity = 1.0 / np.arange(1, movies + 1) ** 0.9
    rng.shuffle(popularity)
    popularity /= popularity.sum()
    years = rng.integers(1930, 2019, size=movies)
    item_bias = rng.normal(0.0, 0.45, size=movies)
    item_factors = rng.normal(0.0, 0.5, size=(movies, rank))

    # Users: log-normal activity (every user has at least 20 ratings, as in MovieLens).
    activity = np.maximum(20, rng.lognormal(np.log(mean_ratings_per_user) - 0.5, 1.0, size=users))
    activity = np.minimum(activity, movies * 0.8).astype(int)
    user_bias = rng.normal(0.0, 0.35, size=users)
    user_factors = rng.normal(0.0, 0.5, size=(users, rank))

    rows: list[tuple[int, int, float, int]] = []
    seen: dict[int, list[tuple[int, float, int]]] = {}
    for u in range(users):
        chosen = rng.choice(movies, size=activity[u], replace=False, p=popularity)
        first = rng.integers(EPOCH_START, EPOCH_END - 86_400 * 30)
        stamps = np.sort(first + rng.integers(0, 86_400 * 365, size=len(chosen)))
        stamps = np.minimum(stamps, EPOCH_END)
        raw = 3.5 + user_bias[u] + item_bias[chosen] + item_factors[chosen] @ user_factors[u]
        raw += rng.normal(0.0, 0.6, size=len(chosen))
        stars = np.clip(np.round(raw * 2) / 2, 0.5, 5.0)
        seen[u] = list(zip(chosen.tolist(), stars.tolist(), stamps.tolist()))

    # Planted twins: user b copies user a's movies (minus one, plus one) and near ratings.
    for k in range(twins):
        a, b = users - 2 * twins + 2 * k, users - 2 * twins + 2 * k + 1
        base = seen[a]
        copied = [(m, float(np.clip(r + rng.choice([-0.5, 0.0, 0.0, 0.5]), 0.5, 5.0)), t + 60)
                  for m, r, t in base[1:]]
        extra = next(m for m in rng.permutation(movies).tolist() if m not in {x[0] for x in base})
        copied.append((extra, 3.0, base[-1][2] + 120))
        seen[b] = copied

    for u in range(users):
        rows.extend((u + 1, m + 1, r, t) for m, r, t in seen[u])

    _write_csv(folder / "ratings.csv", ["userId", "movieId", "rating", "timestamp"],
               ([u, m, _star(r), t] for u, m, r, t in rows))
    movie_rows = []
    for m in range(movies):
        genres = rng.choice(GENRES, size=rng.integers(1, 4), replace=False)
        title = f"Synthetic Movie {m + 1}, The ({years[m]})" if m % 7 == 0 else \
            f"Synthetic Movie {m + 1} ({years[m]})"
        movie_rows.append([m + 1, title, "|".join(sorted(genres))])
    _write_csv(folder / "movies.csv", ["movieId", "title", "genres"], movie_rows)

    tag_rows = []
    for u, m, _r, t in rows[:: max(1, len(rows) // max(1, users // 2))]:
        tag_rows.append([u, m, str(rng.choice(TAG_WORDS)), t + 30])
    _write_csv(folder / "tags.csv", ["userId", "movieId", "tag", "timestamp"], tag_rows)
    _write_csv(folder / "links.csv", ["movieId", "imdbId", "tmdbId"],
               ([m + 1, f"{1_000_000 + m:07d}", 10_000 + m if m % 10 else ""]
                for m in range(movies)))
    return {"ratings": len(rows), "movies": movies, "tags": len(tag_rows), "links": movies}


def _star(value: float) -> str:
    return f"{value:.1f}"


def _write_csv(path: Path, header: list[str], rows) -> None:
    """CSV as GroupLens writes it: header line, minimal quoting, CRLF line ends."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    tmp = path.with_suffix(path.suffix + ".partial")
    tmp.write_text(buffer.getvalue(), encoding="utf-8")
    tmp.replace(path)
