"""The logic of `movielake app`'s "Rate & recommend" page, without any UI: title search,
recommendations for a set of ratings (the served model's fold-in, `personal.recommend`, the
same function as `movielake recommend`), predicted stars, the one-phrase explanations
(movielake.serving.explain: "because you rated X", "matches tags: ..."), and the ratings file
the app downloads and uploads (the format of seeds/my_ratings.csv)."""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from movielake.serving.explain import Explainer
from movielake.serving.lake import Lake
from movielake.serving.personal import (
    check_ratings,
    rating_scale,
    read_ratings_file,
    recommend,
    recommend_places,
)

# MovieLens writes leading articles at the end ("Matrix, The"); searches match either order.
_TRAILING_ARTICLE = re.compile(
    r"^(?P<rest>.*), (?P<article>The|A|An|Les|La|Le|L'|Il|Das|Der|Die|El)$"
)


def spoken_title(title: str) -> str:
    """'Matrix, The' -> 'The Matrix' (the form people type)."""
    match = _TRAILING_ARTICLE.match(title)
    if not match:
        return title
    article = match["article"]
    return f"{article}{'' if article.endswith(chr(39)) else ' '}{match['rest']}"


def label(title: str, year) -> str:
    """A movie as the app shows it: title and release year."""
    return f"{title} ({int(year)})" if pd.notna(year) else title


@dataclass(frozen=True)
class Scale:
    """The star scale of the built release: low..high in steps of `step`."""

    low: float
    high: float
    step: float

    @property
    def values(self) -> list[float]:
        count = int(round((self.high - self.low) / self.step)) + 1
        return [round(self.low + i * self.step, 1) for i in range(count)]

    @classmethod
    def from_distribution(cls, ratings: pd.Series) -> "Scale":
        """The scale the release's ratings use (rating_distribution's values), by the CLI's
        rule (personal.rating_scale)."""
        return cls(*rating_scale(ratings))


@dataclass(frozen=True)
class Recommendation:
    rank: int
    movie_id: int
    title: str
    year: int | None
    genres: str
    predicted_stars: float
    score: float
    because_movie_id: int | None
    because_title: str | None
    new_movie: bool = False  # a new-movie place: no ratings yet, ranked by the hybrid
    reason: str | None = None  # why, in one phrase (movielake.serving.explain)


class Advisor:
    """The catalog and the served models of one built lakehouse, loaded once."""

    def __init__(
        self,
        movies: pd.DataFrame,
        scale: Scale,
        top_k: tuple[pd.DataFrame, dict],
        rating: tuple[pd.DataFrame, dict],
        new: tuple[pd.DataFrame | None, int] = (None, 0),
        tags: pd.DataFrame | None = None,
    ) -> None:
        movies = movies.copy()
        movies["label"] = [label(t, y) for t, y in zip(movies["title"], movies["release_year"])]
        movies["genre_text"] = [
            ", ".join(g) if g is not None and len(g) else "(no genres)" for g in movies["genres"]
        ]
        keys = (movies["title"] + " " + movies["title"].map(spoken_title)).str.casefold()
        movies["search_key"] = keys
        if "ratings_count" not in movies:
            movies["ratings_count"] = 0
        movies["ratings_count"] = movies["ratings_count"].fillna(0).astype(int)
        self.movies = movies.set_index("movie_id", drop=False)
        self._known = set(self.movies.index)
        self.scale = scale
        self.top_k_items, self.top_k_settings = top_k
        self.rating_items, self.rating_settings = rating
        self.new_items, self.new_slots = new
        # the explanations name movies by their label ("The Matrix (1999)")
        self.explainer = Explainer(
            self.top_k_items,
            self.top_k_settings,
            self.new_items,
            tags,
            dict(zip(self.movies.index, self.movies["label"])),
        )

    @classmethod
    def load(cls, lake: Lake) -> "Advisor":
        """Reads the movies, the rating scale and both served models (NotBuiltError when one
        of their tables is missing)."""
        movies = lake.read(
            "stg_movielens__movies", columns=["movie_id", "title", "release_year", "genres"]
        )
        if lake.exists("movie_stats"):
            counts = lake.read("movie_stats", columns=["movie_id", "ratings_count"])
            movies = movies.merge(counts, on="movie_id", how="left")
        scale = Scale.from_distribution(
            lake.read("rating_distribution", columns=["rating"])["rating"]
        )
        tags = lake.read("movie_top_tags") if lake.exists("movie_top_tags") else None
        return cls(
            movies,
            scale,
            lake.served_item_factors("top_k"),
            lake.served_item_factors("rating"),
            lake.new_movie_items(),
            tags,
        )

    @property
    def top_k_model(self) -> str:
        return str(self.top_k_settings["model"])

    @property
    def rating_model(self) -> str:
        return str(self.rating_settings["model"])

    def search(self, query: str, limit: int = 10) -> pd.DataFrame:
        """Movies whose title contains every word typed (any case, either article order),
        titles starting with the query first, then the most rated."""
        words = query.casefold().split()
        if not words:
            return self.movies.iloc[:0]
        keys = self.movies["search_key"]
        hit = np.ones(len(keys), dtype=bool)
        for word in words:
            hit &= keys.str.contains(word, regex=False).to_numpy()
        found = self.movies[hit]
        text = query.casefold().strip()
        starts = found["title"].str.casefold().str.startswith(text) | found["title"].map(
            spoken_title
        ).str.casefold().str.startswith(text)
        order = pd.DataFrame(
            {"starts": ~starts, "count": -found["ratings_count"], "title": found["title"]},
            index=found.index,
        )
        return found.loc[order.sort_values(["starts", "count", "title"]).index].head(limit)

    def rows(self, ratings: dict[int, float]) -> list[tuple[str, int, float]]:
        """The ratings as personal.recommend takes them, checked against catalog and scale."""
        rows = [
            (f"your rating of movie {movie}", int(movie), float(stars))
            for movie, stars in ratings.items()
        ]
        self.check(rows)
        return rows

    def check(self, rows) -> None:
        """personal.check_ratings on this release's scale (whole stars where it has no halves)."""
        check_ratings(rows, self._known, (self.scale.low, self.scale.high, self.scale.step))

    def read_ratings(self, content: bytes, file_name: str) -> dict[int, float]:
        """An uploaded ratings file (the format of seeds/my_ratings.csv), read by the CLI's
        reader and checked; errors name the file and line."""
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / (Path(file_name).name or "ratings.csv")
            path.write_bytes(content)
            rows = read_ratings_file(path)
        self.check(rows)
        return {movie: stars for _, movie, stars in rows}

    def predicted_stars(self, rows, movie_ids: list[int]) -> dict[int, float]:
        """The served rating model's prediction for each movie, on the release's scale."""
        items = self.rating_items
        if self.rating_model != "als_implicit":
            # an explicit fold-in reads only the rated movies' factors: scoring just the rated
            # and the shown movies gives the same numbers as scoring the whole catalog
            wanted = {movie for _, movie, _ in rows} | set(movie_ids)
            items = items[items["id"].isin(wanted)]
        score = dict(recommend(items, self.rating_settings, rows, len(items)))
        return {
            m: float(np.clip(score[m], self.scale.low, self.scale.high))
            for m in movie_ids
            if m in score
        }

    def recommend(self, ratings: dict[int, float], k: int = 10) -> list[Recommendation]:
        """Top-K unrated movies for `ratings` (movie_id -> stars): ranked by the served top-K
        model's fold-in (its last places to the best new movies, as `movielake recommend`),
        with the served rating model's predicted stars (none for a new movie)."""
        rows = self.rows(ratings)
        top = recommend_places(
            self.top_k_items, self.top_k_settings, self.new_items, self.new_slots, rows, k
        )
        stars = self.predicted_stars(rows, [m for m, _, _ in top])
        result = []
        for rank, (movie, score, is_new) in enumerate(top, start=1):
            row = self.movies.loc[movie]
            reason, because = self.explainer.reason(ratings, movie, is_new)
            result.append(
                Recommendation(
                    rank,
                    movie,
                    str(row["title"]),
                    None if pd.isna(row["release_year"]) else int(row["release_year"]),
                    row["genre_text"],
                    stars.get(movie, float("nan")),
                    score,
                    because,
                    None if because is None else str(self.movies.loc[because, "label"]),
                    is_new,
                    reason,
                )
            )
        return result


def ratings_csv(ratings: dict[int, float]) -> str:
    """The ratings as seeds/my_ratings.csv writes them (header movie_id,rating)."""
    lines = ["movie_id,rating"] + [
        f"{movie},{float(stars):.1f}" for movie, stars in ratings.items()
    ]
    return "\n".join(lines) + "\n"
