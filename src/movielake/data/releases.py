"""The GroupLens MovieLens releases: which files each has and how they are laid out.

This registry is the single description of the releases. `movielake fetch` uses it to validate
archives, and the dbt adapter hands it to the staging models, which branch their parsing on it.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field

# The genre flag columns of ml-100k's u.item, in file order (its u.genre file). "unknown" marks a
# movie without genres; "Children's" is spelled "Children" from ml-20m on, so it is normalised.
ML100K_GENRES = (
    "unknown",
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
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)


@dataclass(frozen=True)
class FileLayout:
    """One entity's file: name, field separator, number of fields, header line."""

    file: str
    separator: str  # "csv" (RFC 4180 quoting), "::", "tab" or "|"
    fields: int
    header: str | None = None


CSV_FAMILY = {
    "ratings": FileLayout("ratings.csv", "csv", 4, "userId,movieId,rating,timestamp"),
    "movies": FileLayout("movies.csv", "csv", 3, "movieId,title,genres"),
    "tags": FileLayout("tags.csv", "csv", 4, "userId,movieId,tag,timestamp"),
    "links": FileLayout("links.csv", "csv", 3, "movieId,imdbId,tmdbId"),
}
# The tag genome: relevance in [0, 1] of every genome tag to each of the most rated movies.
GENOME = {
    "genome_scores": FileLayout("genome-scores.csv", "csv", 3, "movieId,tagId,relevance"),
    "genome_tags": FileLayout("genome-tags.csv", "csv", 2, "tagId,tag"),
}
DAT_FAMILY = {
    "ratings": FileLayout("ratings.dat", "::", 4),
    "movies": FileLayout("movies.dat", "::", 3),
    "tags": FileLayout("tags.dat", "::", 4),
}
ML100K_FAMILY = {
    "ratings": FileLayout("u.data", "tab", 4),
    "movies": FileLayout("u.item", "|", 5 + len(ML100K_GENRES)),
}


@dataclass(frozen=True)
class Release:
    name: str
    family: str  # "csv", "dat" or "100k"
    encoding: str  # text encoding of the files
    rating_step: float  # 1.0: whole stars 1-5; 0.5: half stars 0.5-5.0
    layouts: dict[str, FileLayout] = field(default_factory=dict)
    # Entities of `layouts` whose file may be absent: staged when present, else empty. Every
    # other layout is required (fetch rejects an archive without it, the build stops).
    optional: frozenset[str] = frozenset()
    downloadable: bool = True  # False: made by `movielake generate`, not GroupLens
    # Ratings and tags before January 1st of this year cannot belong to the release (MovieLens
    # collected its first ratings in 1995), nor can any made after the build.
    first_year: int = 1995

    def as_dict(self) -> dict:
        """Plain form for dbt's Jinja context."""
        return {
            "name": self.name,
            "family": self.family,
            "encoding": self.encoding,
            "rating_step": self.rating_step,
            "rating_min": self.rating_step,
            "rating_max": 5.0,
            "first_year": self.first_year,
            "first_epoch": calendar.timegm((self.first_year, 1, 1, 0, 0, 0)),
            "entities": {
                entity: {
                    "file": lay.file,
                    "separator": lay.separator,
                    "fields": lay.fields,
                    "header": lay.header,
                }
                for entity, lay in self.layouts.items()
            },
            "genre_flags": list(ML100K_GENRES) if self.family == "100k" else [],
        }

    def required_layouts(self) -> dict[str, FileLayout]:
        """The layouts whose file the release must ship."""
        return {e: lay for e, lay in self.layouts.items() if e not in self.optional}


def _csv(name: str, genome: str | None = None, **extra) -> Release:
    """A CSV-family release; genome: "required", "optional" or None (no genome files)."""
    layouts = dict(CSV_FAMILY) | (dict(GENOME) if genome else {})
    optional = frozenset(GENOME) if genome == "optional" else frozenset()
    return Release(name, "csv", "UTF-8", 0.5, layouts, optional, **extra)


RELEASES: dict[str, Release] = {
    r.name: r
    for r in (
        Release("ml-100k", "100k", "ISO-8859-1", 1.0, dict(ML100K_FAMILY)),
        Release(
            "ml-1m", "dat", "ISO-8859-1", 1.0, {e: DAT_FAMILY[e] for e in ("ratings", "movies")}
        ),
        Release("ml-10m", "dat", "UTF-8", 0.5, dict(DAT_FAMILY)),
        _csv("ml-20m", genome="required"),
        _csv("ml-25m", genome="required"),
        # ml-32m: the genome is staged when the copy carries it, else left empty
        _csv("ml-32m", genome="optional"),
        _csv("ml-latest-small"),
        _csv("ml-latest", genome="required"),
        # MovieLens-shaped synthetic data (movielake/data/synthetic.py), in the CSV family's layout;
        # `movielake generate --users` writes no genome, the ml-20m-like presets do.
        _csv("synthetic", genome="optional", downloadable=False),
    )
}

ENTITIES = ("ratings", "movies", "tags", "links", "genome_scores", "genome_tags")
DOWNLOADABLE = tuple(name for name, release in RELEASES.items() if release.downloadable)


def get_release(name: str) -> Release:
    try:
        return RELEASES[name]
    except KeyError:
        known = ", ".join(RELEASES)
        raise ValueError(f"unknown MovieLens release {name!r}; known releases: {known}") from None
