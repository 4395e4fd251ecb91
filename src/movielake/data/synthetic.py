"""MovieLens-shaped synthetic releases, from the small test release to ml-latest's full size.

A preset (`PRESETS`) describes one GroupLens release: its counts, years, whether its users have
at least 20 ratings, half stars, tags and tag genome; `generate_release` writes it in that
release's own files and layout (`movielake.data.releases`), so the build reads it exactly as a
downloaded copy.

The ratings come from a known model. Each (user, movie) pair has a latent score
    z = user bias + movie bias + user factors . movie factors        (rank `RANK`)
and the drawn rating is z plus Gaussian noise, cut into stars at thresholds chosen so the star
histogram is the real one (4.0 the most common; whole stars before half stars existed). The
best any model can do is E[stars | z]; its RMSE on the drawn ratings, the *noise floor*, is
written to `generated.json` beside the files, with the hidden factors in `generator_truth.npz`.

Which movies a user rated is drawn without replacement from a long-tailed popularity, per
user; users' activity is log-normal. Everything is vectorised with numpy and written a block of
users at a time, so memory stays bounded (about 1M ratings in flight) at any size.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections import Counter
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from pyarrow import csv as pa_csv

from movielake.data.releases import ML100K_GENRES, get_release

GENRES = (
    "Action",
    "Adventure",
    "Animation",
    "Children",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "IMAX",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)
EPOCH_END = 1_537_800_000  # 2018-09-24, ml-latest-small's last rating
EPOCH_START = 828_000_000  # 1996-03-28, when MovieLens began
TAG_WORDS = (
    "atmospheric",
    "twist ending",
    "funny",
    "classic",
    "dark",
    "visually stunning",
    "slow",
    "based on a book",
    "quirky",
    "sci-fi",
)
NO_GENRES = "(no genres listed)"
RANK = 8  # rank of the hidden taste model
NOISE_SD = 0.6  # sd of the noise added to the latent score (latent units)
GENOME_TAGS = 1128
BLOCK_RATINGS = 1_000_000  # ratings generated and written per block of users

# Star histograms (share of ratings per value). Whole stars: ml-1m's; half stars: the
# half-star era of ml-latest-small / ml-20m. 4.0 is the most common value in both.
WHOLE_STARS = {1.0: 0.056, 2.0: 0.108, 3.0: 0.261, 4.0: 0.349, 5.0: 0.226}
HALF_STARS = {
    0.5: 0.014,
    1.0: 0.028,
    1.5: 0.018,
    2.0: 0.075,
    2.5: 0.055,
    3.0: 0.199,
    3.5: 0.130,
    4.0: 0.266,
    4.5: 0.085,
    5.0: 0.130,
}
HALF_STARS_FROM = 1_045_526_400  # 2003-02-18 UTC: MovieLens ratings before it are whole stars


def _epoch(day: str) -> int:
    return int(datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=timezone.utc).timestamp())


@dataclass(frozen=True)
class Preset:
    """One release's shape. `release`: the registry name whose file layout is written."""

    release: str
    ratings: int
    users: int
    movies: int
    tags: int
    first_day: str
    last_day: str
    min_per_user: int  # GroupLens' guarantee (20), or 1 where it gives none (ml-latest)
    half_stars: bool  # half stars from 2003-02-18 on (else whole stars only)
    genome_movies: int = 0  # movies with tag genome scores (the most rated ones); 0: no genome
    id_span: float = 1.0  # largest movie id / number of movies (ids are sparse in later releases)
    line_end: str = "\n"


# GroupLens' published counts (ml-latest: the 2023 full release, approximate genome size).
PRESETS: dict[str, Preset] = {
    "ml-100k": Preset("ml-100k", 100_000, 943, 1_682, 0, "1997-09-20", "1998-04-22", 20, False),
    "ml-1m": Preset(
        "ml-1m", 1_000_209, 6_040, 3_883, 0, "2000-04-25", "2003-02-28", 20, False, id_span=1.02
    ),
    "ml-10m": Preset(
        "ml-10m",
        10_000_054,
        69_878,
        10_681,
        95_580,
        "1995-01-09",
        "2009-01-05",
        20,
        True,
        id_span=6.1,
    ),
    "ml-20m": Preset(
        "ml-20m",
        20_000_263,
        138_493,
        27_278,
        465_564,
        "1995-01-09",
        "2015-03-31",
        20,
        True,
        genome_movies=10_381,
        id_span=4.8,
    ),
    "ml-25m": Preset(
        "ml-25m",
        25_000_095,
        162_541,
        62_423,
        1_093_360,
        "1995-01-09",
        "2019-11-21",
        20,
        True,
        genome_movies=13_816,
        id_span=3.35,
    ),
    "ml-latest": Preset(
        "ml-latest",
        33_832_162,
        330_975,
        86_537,
        2_328_315,
        "1995-01-09",
        "2023-07-20",
        1,
        True,
        genome_movies=16_376,
        id_span=3.34,
    ),
}


def scaled(preset: Preset, ratings: int) -> Preset:
    """`preset` grown or shrunk to `ratings`: users ~ ratings^0.85, movies ~ ratings^0.5 (how
    the real releases grow from ml-100k to ml-20m), tags and genome in proportion."""
    s = ratings / preset.ratings
    users = max(10, round(preset.users * s**0.85))
    movies = max(50, round(preset.movies * s**0.5))
    users = max(users, math.ceil(ratings / (0.5 * movies)))  # room for everyone's ratings
    users = min(users, ratings // max(1, preset.min_per_user))
    return replace(
        preset,
        ratings=ratings,
        users=users,
        movies=movies,
        tags=round(preset.tags * s),
        genome_movies=min(movies, round(preset.genome_movies * s**0.5)),
    )


def generate_release(
    folder: Path, preset: Preset, seed: int = 42, twins: int = 0, log=None
) -> dict:
    """Write `preset`'s release into `folder`; return the manifest (also `generated.json`).

    twins: near-duplicate user pairs planted as the last 2 * twins users, (u, u + 1): the
    second rates the first's movies but one, plus one other, at nearly the same stars, so that
    twins searches have known answers."""
    Generator(folder, preset, seed, twins, log).run()
    return json.loads((folder / "generated.json").read_text())


def generate(
    folder: Path,
    users: int = 200,
    movies: int = 400,
    mean_ratings_per_user: float = 40.0,
    seed: int = 42,
    rank: int = 4,
    twins: int = 0,
) -> dict[str, int]:
    """The small CSV-family release of the tests and `movielake generate --users`: ml-latest-
    small's layout (CRLF line ends, like our copy of it), at least 20 ratings per user, ratings
    from a rank-`rank` taste model strong enough for ALS to beat the popularity baseline at
    150 users (the tests rely on it). Writes ratings.csv, movies.csv, tags.csv, links.csv and a
    tag genome (genome-tags.csv, genome-scores.csv) into `folder`; returns row counts. The
    releases of `--preset` come from Generator below.

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
        copied = [
            (m, float(np.clip(r + rng.choice([-0.5, 0.0, 0.0, 0.5]), 0.5, 5.0)), t + 60)
            for m, r, t in base[1:]
        ]
        extra = next(m for m in rng.permutation(movies).tolist() if m not in {x[0] for x in base})
        copied.append((extra, 3.0, base[-1][2] + 120))
        seen[b] = copied

    for u in range(users):
        rows.extend((u + 1, m + 1, r, t) for m, r, t in seen[u])

    _write_csv(
        folder / "ratings.csv",
        ["userId", "movieId", "rating", "timestamp"],
        ([u, m, _star(r), t] for u, m, r, t in rows),
    )
    # Content follows the hidden taste, as in the real releases (and the presets): a movie's
    # genres are its best-fitting ones, a tag the best fit of three, and the most rated half of
    # the movies get a tag genome. Drawn from their own stream, so the ratings stay the same.
    content = np.random.default_rng([seed, 1])
    affinity = item_factors @ content.normal(0.0, 1.0, (rank, len(GENRES))) + content.normal(
        0.0, 0.3, (movies, len(GENRES))
    )
    ranked = np.argsort(-affinity, axis=1)
    movie_rows = []
    for m in range(movies):
        genres = [GENRES[g] for g in ranked[m, : content.integers(1, 4)]]
        title = (
            f"Synthetic Movie {m + 1}, The ({years[m]})"
            if m % 7 == 0
            else f"Synthetic Movie {m + 1} ({years[m]})"
        )
        movie_rows.append([m + 1, title, "|".join(sorted(genres))])
    _write_csv(folder / "movies.csv", ["movieId", "title", "genres"], movie_rows)

    tag_vectors = content.normal(0.0, 1.0, (rank, len(TAG_WORDS)))
    tag_rows = []
    for u, m, _r, t in rows[:: max(1, len(rows) // max(1, users // 2))]:
        options = content.choice(len(TAG_WORDS), 3, replace=False)
        best = options[np.argmax(item_factors[m - 1] @ tag_vectors[:, options])]
        tag_rows.append([u, m, TAG_WORDS[best], t + 30])
    _write_csv(folder / "tags.csv", ["userId", "movieId", "tag", "timestamp"], tag_rows)
    _write_csv(
        folder / "links.csv",
        ["movieId", "imdbId", "tmdbId"],
        ([m + 1, f"{1_000_000 + m:07d}", 10_000 + m if m % 10 else ""] for m in range(movies)),
    )
    rated = Counter(m for _u, m, _r, _t in rows)
    genome_movies = sorted(m for m, _n in rated.most_common(movies // 2))
    genome_vectors = content.normal(0.0, 1.0, (rank, GENOME_TAGS))
    logit = (
        3.0 * item_factors[np.asarray(genome_movies) - 1] @ genome_vectors
        - 2.3
        + content.normal(0.0, 0.5, (len(genome_movies), GENOME_TAGS))
    )
    relevance = np.round(1.0 / (1.0 + np.exp(-logit)), 3)
    _write_csv(
        folder / "genome-tags.csv",
        ["tagId", "tag"],
        ([i + 1, name] for i, name in enumerate(_genome_tag_names())),
    )
    _write_csv(
        folder / "genome-scores.csv",
        ["movieId", "tagId", "relevance"],
        (
            [m, i + 1, f"{relevance[row, i]:.3f}"]
            for row, m in enumerate(genome_movies)
            for i in range(GENOME_TAGS)
        ),
    )
    return {
        "ratings": len(rows),
        "movies": movies,
        "tags": len(tag_rows),
        "links": movies,
        "genome_scores": len(genome_movies) * GENOME_TAGS,
        "genome_tags": GENOME_TAGS,
    }


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


def _phi(x: np.ndarray) -> np.ndarray:
    """Standard normal CDF (Abramowitz and Stegun 7.1.26 erf, error < 1.5e-7)."""
    z = np.abs(x) / math.sqrt(2.0)
    t = 1.0 / (1.0 + 0.3275911 * z)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    erf = 1.0 - poly * np.exp(-z * z)
    return 0.5 * (1.0 + np.sign(x) * erf)


class Generator:
    def __init__(self, folder: Path, preset: Preset, seed: int, twins: int, log) -> None:
        p = preset
        if p.ratings < p.users * p.min_per_user:
            raise ValueError(
                f"{p.release}: {p.ratings} ratings cannot give {p.users} users "
                f"{p.min_per_user} each"
            )
        if p.min_per_user > 0.9 * p.movies:
            raise ValueError(
                f"{p.release}: {p.movies} movies are too few for {p.min_per_user} ratings per user"
            )
        if 2 * twins > p.users:
            raise ValueError(f"{twins} twin pairs need {2 * twins} users, have {p.users}")
        self.folder, self.p, self.seed, self.twins = Path(folder), p, seed, twins
        self.log = log or (lambda _msg: None)
        self.release = get_release(p.release)
        self.rng = np.random.default_rng(seed)
        self.start, self.end = _epoch(p.first_day), _epoch(p.last_day) + 86_399

    # ---- the hidden model and the marginals -------------------------------------------------
    def _draw_model(self) -> None:
        p, rng = self.p, self.rng
        m_ids = (
            np.arange(1, p.movies + 1)
            if p.id_span <= 1.0
            else np.sort(
                rng.choice(np.arange(1, int(p.movies * p.id_span) + 1), p.movies, replace=False)
            )
        )
        self.movie_ids = m_ids
        # Long-tailed popularity: weight (r + c)^-1.25 for popularity rank r, in random id order.
        c = max(3.0, p.movies / 60)
        weight = (rng.permutation(p.movies) + c) ** -1.25
        self.pop_cdf = np.cumsum(weight / weight.sum())
        self.pop_cdf[-1] = 1.0
        self.weight = weight
        log_pop = np.log(weight)
        self.item_bias = (
            rng.normal(0.0, 0.45, p.movies) + 0.12 * (log_pop - log_pop.mean()) / log_pop.std()
        )  # popular: liked
        self.item_f = rng.normal(0.0, 0.4, (p.movies, RANK))
        self.user_bias = rng.normal(0.0, 0.45, p.users)
        self.user_f = rng.normal(0.0, 0.4, (p.users, RANK))
        self.counts = self._activity()

    def _set_cuts(self, y: np.ndarray) -> None:
        """Star thresholds: the target histogram's quantiles of the noisy latent score (taken
        on the first block, about BLOCK_RATINGS ratings, the same for every block)."""
        self.scales = {}
        for name, hist in (("whole", WHOLE_STARS), ("half", HALF_STARS)):
            values = np.array(sorted(hist))
            cum = np.cumsum([hist[v] for v in values])[:-1] / sum(hist.values())
            self.scales[name] = (values, np.quantile(y, cum))

    def _activity(self) -> np.ndarray:
        """Ratings per user: at least min_per_user, log-normal above it, summing to `ratings`,
        none above 90% of the movies."""
        p, rng = self.p, self.rng
        cap = int(0.9 * p.movies)
        extra = p.ratings - p.users * p.min_per_user
        weight = rng.lognormal(0.0, 1.15, p.users)
        counts = np.full(p.users, p.min_per_user, dtype=np.int64)
        free = np.ones(p.users, dtype=bool)
        while extra > 0:
            share = np.floor(weight * free / (weight * free).sum() * extra).astype(np.int64)
            if share.sum() == 0:  # the last few: one each to random users with room
                pick = rng.choice(np.flatnonzero(counts < cap), extra, replace=False)
                counts[pick] += 1
                break
            counts += share
            over = np.maximum(counts - cap, 0)
            counts -= over
            extra = extra - share.sum() + over.sum()
            free &= counts < cap
        if self.twins:  # a planted twin rates as many movies as the user it copies
            a = np.arange(p.users - 2 * self.twins, p.users, 2)
            counts[a + 1] = counts[a]
        return counts

    def _latent(self, u: np.ndarray, m: np.ndarray) -> np.ndarray:
        return (
            self.user_bias[u]
            + self.item_bias[m]
            + np.einsum("ij,ij->i", self.user_f[u], self.item_f[m])
        )

    def _stars(self, y: np.ndarray, z: np.ndarray, half: np.ndarray):
        """(stars, E[stars | z]) for noisy latent y and noiseless z; `half`: half-star era."""
        stars = np.empty(len(y))
        expected = np.empty(len(y))
        for name, mask in (("whole", ~half), ("half", half)):
            if not mask.any():
                continue
            values, cuts = self.scales[name]
            stars[mask] = values[np.searchsorted(cuts, y[mask])]
            e = np.full(mask.sum(), values[0])
            for step, cut in zip(np.diff(values), cuts):
                e += step * _phi((z[mask] - cut) / NOISE_SD)
            expected[mask] = e
        return stars, expected

    # ---- which movies each user rated -------------------------------------------------------
    def _choose(self, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(local user index, movie index) pairs, each user's `counts` distinct movies drawn by
        popularity without replacement; sorted by user, then movie."""
        rng, n_movies = self.rng, self.p.movies
        n = len(counts)
        need = counts.astype(np.int64).copy()
        heavy = np.flatnonzero(need > n_movies // 8)  # exponential keys, one user at a time
        need[heavy] = 0
        kept = np.empty(0, dtype=np.int64)  # sorted keys user * n_movies + movie
        for _round in range(6):  # sequential draws by popularity, duplicates dropped
            users = np.flatnonzero(need > 0)
            if not len(users):
                break
            draws = np.ceil(need[users] * (1.25 + _round)).astype(np.int64) + 4
            u = np.repeat(users, draws)
            m = np.minimum(np.searchsorted(self.pop_cdf, rng.random(len(u))), n_movies - 1)
            fresh = u * n_movies + m
            _, first = np.unique(fresh, return_index=True)
            fresh = fresh[np.sort(first)]  # first draws, in draw order (grouped by user)
            if len(kept):
                at = np.minimum(np.searchsorted(kept, fresh), len(kept) - 1)
                fresh = fresh[kept[at] != fresh]
            owner = fresh // n_movies
            start = np.searchsorted(owner, owner, side="left")
            fresh = fresh[(np.arange(len(fresh)) - start) < need[owner]]
            kept = np.sort(np.concatenate([kept, fresh]))
            need -= np.bincount(fresh // n_movies, minlength=n)
        heavy = np.concatenate([heavy, np.flatnonzero(need > 0)])
        extra = []
        for user in heavy:  # Efraimidis-Spirakis: the largest u^(1/w) keys, without replacement
            lo, hi = np.searchsorted(kept, [user * n_movies, (user + 1) * n_movies])
            keys = rng.random(n_movies) ** (1.0 / (self.weight / self.weight.max()))
            keys[kept[lo:hi] % n_movies] = -1.0
            take = counts[user] - (hi - lo)
            extra.append(user * n_movies + np.argpartition(-keys, take - 1)[:take])
        if extra:
            kept = np.sort(np.concatenate([kept, *extra]))
        return kept // n_movies, kept % n_movies

    def _timestamps(self, local_u: np.ndarray, first: np.ndarray, span: np.ndarray) -> np.ndarray:
        t = first[local_u] + span[local_u] * self.rng.random(len(local_u)) ** 3
        return t.astype(np.int64)

    # ---- writing -------------------------------------------------------------------------------
    def _write_numbers(self, handle, columns: dict, separator: str) -> None:
        """Unquoted lines of numeric columns (and pre-formatted number strings), fast."""
        sep = {"csv": ",", "::": "\t", "tab": "\t", "|": "|"}[separator]
        buffer = io.BytesIO()
        pa_csv.write_csv(
            pa.table(columns),
            buffer,
            pa_csv.WriteOptions(
                include_header=False, quoting_style="none", delimiter=sep, eol=self.p.line_end
            ),
        )
        data = buffer.getvalue()
        handle.write(data.replace(b"\t", b"::") if separator == "::" else data)

    def _write_frame(self, handle, frame: pd.DataFrame, separator: str) -> None:
        """Lines of `frame` in the release's separator (csv: RFC 4180 quoting)."""
        p = self.p
        if separator == "csv":
            text = frame.to_csv(header=False, index=False, lineterminator=p.line_end)
        else:
            text = frame.to_csv(
                header=False,
                index=False,
                sep="\t",
                lineterminator=p.line_end,
                quoting=csv.QUOTE_NONE,
                escapechar="\\",
            )
            text = text.replace("\t", {"::": "::", "tab": "\t", "|": "|"}[separator])
        handle.write(text.encode(self.release.encoding))

    def _open(self, entity: str):
        layout = self.release.layouts[entity]
        handle = (self.folder / (layout.file + ".partial")).open("wb")
        if layout.header:
            handle.write((layout.header + self.p.line_end).encode(self.release.encoding))
        return handle, layout.separator

    def _star_text(self, stars: np.ndarray) -> pa.Array:
        """4.0 in the CSV family; 4 and 4.5 in the .dat and ml-100k files, as GroupLens writes."""
        return _fmt(stars, "%.1f" if self.release.family == "csv" else "%g")

    def run(self) -> None:
        p, rng = self.p, self.rng
        self.folder.mkdir(parents=True, exist_ok=True)
        self._draw_model()
        # users join over the release's years, more of them in later years (as MovieLens grew)
        first = (
            self.start + (self.end - 30 * 86_400 - self.start) * rng.random(p.users) ** 0.7
        ).astype(np.int64)
        span = np.minimum(rng.lognormal(np.log(120 * 86_400), 1.5, p.users), self.end - first)
        tag_vectors = rng.normal(0.0, 1.0, (RANK, GENOME_TAGS))
        tag_names = _genome_tag_names()
        taggers = rng.random(p.users) < 0.06  # few users tag, as in MovieLens

        bounds = self._blocks()
        ratings_out, ratings_sep = self._open("ratings")
        tags_out = self._open("tags") if "tags" in self.release.layouts else None
        total = sq_floor = sq_mean = sum_stars = 0.0
        hist: dict[float, int] = {}
        tags_written = tagger_seen = 0
        tagger_ratings = max(1, int((self.counts * taggers).sum()))
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            local_u, m = self._choose(self.counts[lo:hi])
            u = local_u + lo
            ts = self._timestamps(u, first, span)
            z = self._latent(u, m)
            y = z + rng.normal(0.0, NOISE_SD, len(z))
            if lo == 0:
                self._set_cuts(y)
            stars, expected = self._stars(
                y, z, ts >= HALF_STARS_FROM if p.half_stars else np.zeros(len(z), dtype=bool)
            )
            u, m, stars, expected, ts = self._plant_twins(lo, hi, u, m, stars, expected, ts)
            total += len(stars)
            sq_floor += float(((stars - expected) ** 2).sum())
            sum_stars += float(stars.sum())
            sq_mean += float((stars**2).sum())
            for value, count in zip(*np.unique(stars, return_counts=True)):
                hist[float(value)] = hist.get(float(value), 0) + int(count)
            self._write_numbers(
                ratings_out,
                {"u": u + 1, "m": self.movie_ids[m], "r": self._star_text(stars), "t": ts},
                ratings_sep,
            )
            if tags_out:  # this block's share of the tags, on ratings of its tagging users
                mine = np.flatnonzero(taggers[u])
                tagger_seen += len(mine)
                share = (
                    p.tags if hi == p.users else round(p.tags * tagger_seen / tagger_ratings)
                ) - tags_written
                if share > 0:
                    pick = rng.choice(mine if len(mine) else np.arange(len(u)), share)
                    # each tag: of 3 random genome tags, the one closest to the movie's taste
                    options = rng.integers(0, GENOME_TAGS, (share, 3))
                    affinity = np.einsum(
                        "ir,rik->ik", self.item_f[m[pick]], tag_vectors[:, options]
                    )
                    tag = options[np.arange(share), affinity.argmax(1)]
                    self._write_frame(
                        tags_out[0],
                        pd.DataFrame(
                            {
                                "u": u[pick] + 1,
                                "m": self.movie_ids[m[pick]],
                                "tag": np.asarray(tag_names, dtype=object)[tag],
                                "t": ts[pick] + rng.integers(0, 3_600, share),
                            }
                        ),
                        tags_out[1],
                    )
                    tags_written += share
            self.log(f"ratings: users {hi:,}/{p.users:,}, {int(total):,} ratings")
        ratings_out.close()
        if tags_out:
            tags_out[0].close()
        self._write_movies()
        genome = self._write_genome(tag_vectors, tag_names) if p.genome_movies else 0
        for entity, layout in self.release.layouts.items():
            partial = self.folder / (layout.file + ".partial")
            if entity in self.release.optional and not partial.exists():
                continue  # an optional file (the genome) this preset does not have
            partial.replace(self.folder / layout.file)

        mean = sum_stars / total
        counts = {"ratings": int(total), "users": p.users, "movies": p.movies, "tags": tags_written}
        if "links" in self.release.layouts:
            counts["links"] = p.movies
        if genome:
            counts["genome_scores"], counts["genome_tags"] = genome, GENOME_TAGS
        manifest = {
            "generator": "movielake.data.synthetic",
            "release": p.release,
            "seed": self.seed,
            "preset": asdict(p),
            "twins": self.twins,
            "counts": counts,
            "noise_floor_rmse": math.sqrt(sq_floor / total),
            "rating_mean": mean,
            "rating_sd": math.sqrt(sq_mean / total - mean * mean),
            "rating_histogram": {f"{k:.1f}": v / total for k, v in sorted(hist.items())},
            "model": {
                "rank": RANK,
                "noise_sd": NOISE_SD,
                "truth": "generator_truth.npz (user/movie ids, biases, factors, cuts)",
            },
        }
        (self.folder / "generated.json").write_text(json.dumps(manifest, indent=2) + "\n")
        np.savez_compressed(
            self.folder / "generator_truth.npz",
            user_ids=np.arange(1, p.users + 1),
            user_bias=self.user_bias,
            user_factors=self.user_f,
            movie_ids=self.movie_ids,
            movie_bias=self.item_bias,
            movie_factors=self.item_f,
            whole_cuts=self.scales["whole"][1],
            half_cuts=self.scales["half"][1],
        )

    def _blocks(self) -> list[int]:
        """User boundaries of blocks of about BLOCK_RATINGS ratings; twin pairs never split."""
        cum = np.cumsum(self.counts)
        bounds = [0]
        while bounds[-1] < self.p.users:
            target = (cum[bounds[-1] - 1] if bounds[-1] else 0) + BLOCK_RATINGS
            nxt = max(bounds[-1] + 1, int(np.searchsorted(cum, target, side="right")))
            first_twin = self.p.users - 2 * self.twins
            if nxt > first_twin:
                nxt = self.p.users if self.twins else nxt
            bounds.append(min(nxt, self.p.users))
        return bounds

    def _plant_twins(self, lo, hi, u, m, stars, expected, ts):
        first_twin = self.p.users - 2 * self.twins
        if not self.twins or hi <= first_twin:
            return u, m, stars, expected, ts
        rng, n_movies = self.rng, self.p.movies
        keep = u < first_twin
        parts = [(u[keep], m[keep], stars[keep], expected[keep], ts[keep])]
        scale_values = self.scales["half" if self.p.half_stars else "whole"][0]
        for a in range(first_twin, self.p.users, 2):
            mine = u == a
            am, astars, aexp, ats = m[mine], stars[mine], expected[mine], ts[mine]
            parts.append((u[mine], am, astars, aexp, ats))
            others = np.setdiff1d(np.arange(n_movies), am)
            extra = rng.choice(others)
            step = scale_values[1] - scale_values[0]
            bm = np.append(am[1:], extra)
            bstars = np.clip(
                np.append(astars[1:] + step * rng.choice([-1, 0, 0, 1], len(am) - 1), 3.0),
                scale_values[0],
                scale_values[-1],
            )
            bexp = np.append(aexp[1:], aexp[:1])
            bts = np.append(ats[1:] + 60, ats.max() + 120)
            order = np.argsort(bm)
            parts.append(
                (np.full(len(bm), a + 1), bm[order], bstars[order], bexp[order], bts[order])
            )
        return tuple(np.concatenate(col) for col in zip(*parts))

    def _write_movies(self) -> None:
        p, rng, family = self.p, self.rng, self.release.family
        end_year = int(self.p.last_day[:4])
        years = np.clip(
            end_year - np.floor(rng.exponential(14.0, p.movies)).astype(int), 1902, end_year
        )
        # genres follow the hidden taste: a movie's genres are its best-fitting ones
        affinity = self.item_f @ rng.normal(0.0, 1.0, (RANK, len(GENRES))) + rng.normal(
            0.0, 0.3, (p.movies, len(GENRES))
        )
        n_genres = rng.choice([1, 2, 3, 4], p.movies, p=[0.35, 0.35, 0.2, 0.1])
        order = np.argsort(-affinity, axis=1)
        none = rng.random(p.movies) < (0.005 if family == "csv" else 0.0)
        rows = []
        for i, movie in enumerate(self.movie_ids.tolist()):
            genres = sorted(GENRES[g] for g in order[i, : n_genres[i]])
            if i % 7 == 0:
                title = f"Synthetic Movie {movie}, The ({years[i]})"
            elif i % 11 == 0 and self.release.encoding != "UTF-8":
                title = f"Café Synthétique {movie} ({years[i]})"  # latin-1 files
            else:
                title = f"Synthetic Movie {movie} ({years[i]})"
            rows.append((movie, title, genres, bool(none[i]), int(years[i])))
        layout = self.release.layouts["movies"]
        with (self.folder / (layout.file + ".partial")).open("wb") as out:
            if layout.header:
                out.write((layout.header + p.line_end).encode(self.release.encoding))
            if family == "100k":
                lines = []
                for movie, title, genres, _none, year in rows:
                    flags = "|".join("1" if g in genres else "0" for g in ML100K_GENRES)
                    lines.append(
                        f"{movie}|{title}|01-Jan-{year}||http://us.imdb.com/M/"
                        f"title-exact?{movie}|{flags}"
                    )
                out.write(("\n".join(lines) + "\n").encode(self.release.encoding))
            else:
                spell = (
                    (lambda g: "Children's" if g == "Children" else g)
                    if p.release == "ml-1m"
                    else (lambda g: g)
                )
                frame = pd.DataFrame(
                    {
                        "id": [r[0] for r in rows],
                        "title": [r[1] for r in rows],
                        "genres": [
                            NO_GENRES if r[3] else "|".join(spell(g) for g in r[2]) for r in rows
                        ],
                    }
                )
                self._write_frame(out, frame, layout.separator)
        if "links" in self.release.layouts:
            links = pd.DataFrame(
                {
                    "movieId": self.movie_ids,
                    "imdbId": [f"{1_000_000 + m:07d}" for m in self.movie_ids],
                    "tmdbId": [str(10_000 + m) if m % 10 else "" for m in self.movie_ids],
                }
            )
            handle, sep = self._open("links")
            with handle:
                self._write_frame(handle, links, sep)
        if family == "100k":  # u.user, as ml-100k ships it (not read by the build)
            ages = rng.integers(7, 74, p.users)
            (self.folder / "u.user").write_bytes(
                "".join(
                    f"{u + 1}|{ages[u]}|{'MF'[u % 2]}|other|{10_000 + u}\n" for u in range(p.users)
                ).encode("latin-1")
            )
        elif p.release == "ml-1m":
            (self.folder / "users.dat").write_bytes(
                "".join(
                    f"{u + 1}::{'MF'[u % 2]}::25::0::{10_000 + u}\n" for u in range(p.users)
                ).encode("latin-1")
            )

    def _write_genome(self, tag_vectors: np.ndarray, tag_names: list[str]) -> int:
        """genome-tags.csv (tagId,tag) and genome-scores.csv (movieId,tagId,relevance): the
        most rated movies x every tag, relevance in [0, 1] a logistic function of the movie's
        hidden factors (so it carries the taste signal, as the real genome does)."""
        p, rng = self.p, self.rng
        handle, sep = self._open("genome_tags")
        with handle:
            self._write_frame(
                handle,
                pd.DataFrame({"tagId": np.arange(1, GENOME_TAGS + 1), "tag": tag_names}),
                sep,
            )
        chosen = np.sort(np.argsort(-self.weight)[: p.genome_movies])  # ids ascend with index
        tag_bias = rng.normal(-2.3, 0.8, GENOME_TAGS)
        written = 0
        out, sep = self._open("genome_scores")
        with out:
            for lo in range(0, len(chosen), 1000):
                block = chosen[lo : lo + 1000]
                logit = (
                    self.item_f[block] @ tag_vectors * 3.0
                    + tag_bias
                    + rng.normal(0.0, 0.5, (len(block), GENOME_TAGS))
                )
                relevance = 1.0 / (1.0 + np.exp(-logit))
                # relevance to 3 decimals, like the rounded values of the real genome
                self._write_numbers(
                    out,
                    {
                        "movieId": np.repeat(self.movie_ids[block], GENOME_TAGS),
                        "tagId": np.tile(np.arange(1, GENOME_TAGS + 1), len(block)),
                        "relevance": _fmt(np.round(relevance.ravel(), 3), "%.3f"),
                    },
                    sep,
                )
                written += relevance.size
        return written


def _fmt(values: np.ndarray, pattern: str) -> pa.Array:
    """Numbers with few distinct values as text, fast: each distinct value formatted once."""
    distinct, index = np.unique(values, return_inverse=True)
    return pa.array([pattern % v for v in distinct]).take(pa.array(index.ravel()))


def _genome_tag_names() -> list[str]:
    """1,128 distinct tag names, genome-like ("dark comedy", "based on a book", ...)."""
    first = [
        "dark",
        "funny",
        "slow",
        "quirky",
        "classic",
        "visually",
        "atmospheric",
        "bleak",
        "cult",
        "epic",
        "gritty",
        "light",
        "mind-bending",
        "nostalgic",
        "violent",
        "witty",
        "stylish",
        "tense",
        "heartwarming",
        "surreal",
        "satirical",
        "bittersweet",
        "campy",
        "cerebral",
        "dreamlike",
        "feel-good",
        "haunting",
        "intense",
        "lyrical",
        "melancholic",
        "moody",
        "offbeat",
        "poignant",
        "quiet",
        "raw",
        "romantic",
        "sentimental",
        "sharp",
        "whimsical",
        "absurd",
        "uplifting",
    ]
    second = [
        "comedy",
        "drama",
        "ending",
        "thriller",
        "romance",
        "sci-fi",
        "fantasy",
        "heist",
        "noir",
        "western",
        "musical",
        "documentary",
        "animation",
        "satire",
        "horror",
        "war",
        "mystery",
        "adventure",
        "crime",
        "family",
        "dialogue",
        "soundtrack",
        "cinematography",
        "plot",
        "story",
        "characters",
        "acting",
        "visuals",
    ]
    names = [f"{a} {b}" for a in first for b in second]
    return names[:GENOME_TAGS]
