"""Why a movie is recommended, in one phrase: the one home of that rule, used by the
`recommendations` table (on the executors), `my_recommendations`, `movielake recommend` and the
app.

- A new movie (a new-movie place: no ratings in the fit data, ranked by the hybrid's content
  factors) is explained by its content: "matches tags: dark, twist ending", the movie's own
  strongest tags (movie_top_tags) that the user's liked movies share, those shared by the most
  liked movies first. Liked = rated at least the user's own mean.
- Any other movie, and a new movie no liked tag matches: "because you rated X", the rated
  movie that explains it best in the model that ranked it. For item_item that is the rated
  movie adding most to the score (x_i * B[i, movie]); for an ALS variant or the hybrid (and
  for a new movie, in the hybrid's factors) the rated movie whose item factors are closest
  (cosine).
- None when neither applies (no rated movie in the model, no shared tag).
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from movielake.algorithms import ease

MAX_TAGS = 3  # tags named in one phrase


class Explainer:
    """Built once from the served top-K model's item rows (and settings), the hybrid's item
    rows for new movies, movie_top_tags and the titles; then `reason` per recommendation.
    Plain numpy and dicts, so it pickles into Spark tasks."""

    def __init__(
        self,
        items: pd.DataFrame,
        settings: dict,
        new_items: pd.DataFrame | None,
        tags: pd.DataFrame | None,
        titles: dict[int, str],
    ) -> None:
        self.model = str(settings.get("model", ""))
        self.titles = titles
        if self.model == ease.MODEL:
            # B as a dense matrix over the catalogue; rows not read (a fold-in reads only the
            # rated movies' rows) stay 0
            self._weighting = str(settings["weighting"])
            self._items = np.sort(items["movie_id"].to_numpy(dtype=np.int64))
            self._b = _dense_rows(items, self._items)
            self._unit, self._position = np.zeros((0, 0)), {}
        else:
            self._unit, self._position = unit_rows(items)
        self._new_unit, self._new_position = unit_rows(new_items)
        self._tags: dict[int, list[str]] = {}
        if tags is not None and len(tags):
            for movie, part in tags.sort_values(["movie_id", "tag_rank"]).groupby("movie_id"):
                self._tags[int(movie)] = part["tag"].tolist()

    def because(
        self, ratings: dict[int, float], movie_id: int, new_movie: bool = False
    ) -> int | None:
        """The rated movie that explains `movie_id` best (see the module's rule)."""
        if new_movie:
            return _closest(self._new_unit, self._new_position, list(ratings), movie_id)
        if self.model == ease.MODEL:
            column = np.searchsorted(self._items, movie_id)
            if column >= len(self._items) or self._items[column] != movie_id:
                return None
            rated = np.array([m for m in ratings], dtype=np.int64)
            rows = np.searchsorted(self._items, rated)
            inside = (rows < len(self._items)) & (
                self._items[np.minimum(rows, len(self._items) - 1)] == rated
            )
            if not inside.any():
                return None
            values = ease.history_values(
                np.array([ratings[int(m)] for m in rated[inside]], dtype=float), self._weighting
            )
            added = values * self._b[rows[inside], column]
            # largest contribution; a tie goes to the lower movie id
            best = np.lexsort((rated[inside], -added))[0]
            return int(rated[inside][best])
        return _closest(self._unit, self._position, list(ratings), movie_id)

    def matching_tags(self, ratings: dict[int, float], movie_id: int) -> list[str]:
        """`movie_id`'s tags that the user's liked movies share, most shared first (then the
        movie's own order), at most MAX_TAGS."""
        own = self._tags.get(int(movie_id))
        if not own or not ratings:
            return []
        mean = float(np.mean(list(ratings.values())))
        shared = Counter(
            tag
            for movie, stars in ratings.items()
            if stars >= mean
            for tag in self._tags.get(int(movie), ())
        )
        found = [tag for tag in own if shared[tag]]
        found.sort(key=lambda tag: -shared[tag])  # stable: ties keep the movie's order
        return found[:MAX_TAGS]

    def reason(
        self, ratings: dict[int, float], movie_id: int, new_movie: bool = False
    ) -> tuple[str | None, int | None]:
        """(the phrase, the rated movie it names, if any) for one recommendation."""
        if new_movie:
            tags = self.matching_tags(ratings, movie_id)
            if tags:
                return "matches tags: " + ", ".join(tags), None
        because = self.because(ratings, movie_id, new_movie)
        if because is None:
            return None, None
        return f"because you rated {self.titles.get(because, f'movie {because}')}", because


def unit_rows(items: pd.DataFrame | None) -> tuple[np.ndarray, dict[int, int]]:
    """Unit-length factor rows of an ALS-layout item frame (id, features), and movie id ->
    row."""
    if items is None or items.empty:
        return np.zeros((0, 0)), {}
    factors = np.vstack(items["features"].to_numpy()).astype(float)
    norms = np.linalg.norm(factors, axis=1, keepdims=True)
    return (
        factors / np.where(norms == 0, 1.0, norms),
        {int(movie): i for i, movie in enumerate(items["id"].to_numpy())},
    )


def _closest(
    unit: np.ndarray, position: dict[int, int], rated: list[int], movie_id: int
) -> int | None:
    """The rated movie whose unit factor row is closest (cosine) to `movie_id`'s."""
    known = [m for m in rated if m in position]
    if movie_id not in position or not known:
        return None
    similarity = unit[[position[m] for m in known]] @ unit[position[movie_id]]
    return known[int(np.argmax(similarity))]


def _dense_rows(rows: pd.DataFrame, items: np.ndarray) -> np.ndarray:
    """item_item's stored rows of B as a dense float32 matrix over `items` (sorted ids); a row
    whose weights were not read (null) stays 0."""
    b = np.zeros((len(items), len(items)), dtype=np.float32)
    present = rows[rows["neighbour_ids"].notna()]
    if present.empty:
        return b
    ids = [np.asarray(n, dtype=np.int64) for n in present["neighbour_ids"]]
    row_pos = np.repeat(
        np.searchsorted(items, present["movie_id"].to_numpy(dtype=np.int64)), [len(n) for n in ids]
    )
    col_pos = np.searchsorted(items, np.concatenate(ids))
    b[row_pos, col_pos] = np.concatenate(
        [np.asarray(w, dtype=np.float32) for w in present["weights"]]
    )
    return b


def explain_batches(frames, explainer: Explainer):
    """mapInPandas body for the recommendations table: one row per user (user_id, movies and
    ratings: what the served model was fit on, ranks, movie_ids, new_movies: the user's places)
    -> (user_id, rank, reason)."""
    for frame in frames:
        users, ranks, reasons = [], [], []
        for user, movies, stars, places, shown, new in zip(
            frame["user_id"],
            frame["movies"],
            frame["ratings"],
            frame["ranks"],
            frame["movie_ids"],
            frame["new_movies"],
        ):
            rated = (
                {}
                if movies is None
                else dict(zip((int(m) for m in movies), (float(s) for s in stars)))
            )
            for rank, movie, is_new in zip(places, shown, new):
                users.append(int(user))
                ranks.append(int(rank))
                reasons.append(explainer.reason(rated, int(movie), bool(is_new))[0])
        yield pd.DataFrame(
            {
                "user_id": pd.Series(users, dtype="int32"),
                "rank": pd.Series(ranks, dtype="int32"),
                "reason": pd.Series(reasons, dtype="object"),
            }
        )
