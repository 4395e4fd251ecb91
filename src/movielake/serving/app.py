"""`movielake app`: the Streamlit web app (started by `streamlit run` on this file).

Three pages over the built lakehouse, all read with movielake.serving.lake (no Spark): "Rate &
recommend" (movielake.serving.advisor), "Explore" (the report's sections,
movielake.serving.report) and "Lineage" (which Delta versions are being served). The schema
prefix is $MOVIELAKE_SCHEMA."""

from __future__ import annotations

import io

import matplotlib.pyplot as plt
import pandas as pd
import streamlit as st

from movielake.serving.advisor import Advisor, ratings_csv
from movielake.serving.lake import Lake, NotBuiltError
from movielake.serving.personal import PersonalRatingsError

# Tables behind the pages; the Lineage page lists their versions.
SERVED_TABLES = (
    "served_factors",
    "item_item_weights",
    "served_models",
    "stg_movielens__movies",
    "rating_distribution",
    "movie_stats",
)
EXPLORE_TABLES = (
    "rating_distribution",
    "monthly_activity",
    "genre_stats",
    "genre_trends",
    "rating_count_vs_mean",
    "mean_rating_by_count_bucket",
    "user_stats",
    "top_rated_movies",
    "most_rated_movies",
    "model_metrics",
    "als_tuning",
    "user_twins",
    "twin_pair_correlations",
    "twin_validation",
)
BUILD_HINT = "Build it with `make run` (or `dbt build`) on this data home, then reload this page."


def lake() -> Lake:
    return Lake()


def stamp(models) -> tuple:
    """The current Delta version of each table (None when not built): caches key on it, so a
    rebuild is picked up on the next interaction."""
    current = lake()
    return tuple(current.version(m).version if current.exists(m) else None for m in models)


@st.cache_resource(show_spinner="Loading the served models…", max_entries=2)
def load_advisor(prefix: str, home: str, versions: tuple) -> Advisor:
    return Advisor.load(Lake(prefix, home))


def not_built(exc: Exception) -> None:
    st.error(f"The lakehouse is not built yet: {exc}")
    st.info(BUILD_HINT)


def freshness_caption() -> None:
    current = lake()
    source = current.served_source()
    if current.exists(source):
        version = current.version(source)
        st.caption(
            f"Serving `{current.name(source)}` version {version.version}, written "
            f"{version.written_at:%Y-%m-%d %H:%M:%S} UTC (see Lineage)."
        )


# --- Rate & recommend ----------------------------------------------------------------------


def ratings() -> dict[int, float]:
    return st.session_state.setdefault("ratings", {})


def rate(advisor: Advisor) -> None:
    movie, stars = st.session_state.get("pick"), st.session_state.get("stars")
    if movie is not None and stars is not None:
        ratings()[int(movie)] = float(stars)
        st.session_state["notice"] = f"Rated {advisor.movies.loc[movie, 'label']}: {stars} stars."


def remove(movie: int) -> None:
    ratings().pop(movie, None)


def upload(advisor: Advisor) -> None:
    file = st.session_state.get("upload")
    if file is None:
        return
    try:
        st.session_state["ratings"] = advisor.read_ratings(file.getvalue(), file.name)
        st.session_state["notice"] = f"Loaded {len(ratings())} ratings from {file.name}."
    except PersonalRatingsError as exc:
        st.session_state["upload_error"] = str(exc)


def stars_text(value: float) -> str:
    return f"{value:g} ★"


def rate_page() -> None:
    st.title("Rate & recommend")
    current = lake()
    try:
        advisor = load_advisor(current.prefix, str(current.home), stamp(SERVED_TABLES))
    except NotBuiltError as exc:
        not_built(exc)
        return
    freshness_caption()
    left, right = st.columns([1, 1.4], gap="large")
    with left:
        st.subheader("Find and rate movies")
        query = st.text_input(
            "Find a movie", placeholder="part of a title, e.g. toy story", key="query"
        )
        if query.strip():
            found = advisor.search(query)
            if found.empty:
                st.warning(f"No movie title contains “{query.strip()}”.")
            else:
                mine = ratings()
                st.radio(
                    "Matching movies",
                    list(found.index),
                    key="pick",
                    format_func=lambda m: advisor.movies.loc[m, "label"]
                    + (f"  (rated {mine[m]:g})" if m in mine else ""),
                )
                scale = advisor.scale.values
                st.radio(
                    f"Your stars ({scale[0]:g}–{scale[-1]:g})",
                    scale,
                    key="stars",
                    index=len(scale) // 2 + len(scale) // 4,
                    horizontal=True,
                    format_func=stars_text,
                )
                st.button("Rate", type="primary", on_click=rate, args=(advisor,))
        if "notice" in st.session_state:
            st.success(st.session_state.pop("notice"))
        if "upload_error" in st.session_state:
            st.error(st.session_state.pop("upload_error"))
        st.subheader(f"Your ratings ({len(ratings())})")
        for movie, stars in list(ratings().items()):
            name, stars_col, button = st.columns([5, 1.3, 1.4], vertical_alignment="center")
            name.write(advisor.movies.loc[movie, "label"])
            stars_col.write(stars_text(stars))
            button.button("Remove", key=f"remove-{movie}", on_click=remove, args=(movie,))
        st.download_button(
            "Download ratings CSV",
            ratings_csv(ratings()),
            file_name="my_ratings.csv",
            mime="text/csv",
            disabled=not ratings(),
        )
        st.file_uploader(
            "Upload a ratings CSV (movie_id,rating)",
            type="csv",
            key="upload",
            on_change=upload,
            args=(advisor,),
        )
    with right:
        st.subheader("Recommended for you")
        if not ratings():
            st.info("No ratings yet: rate a few movies and your top 10 appears here.")
            return
        try:
            recs = advisor.recommend(ratings(), 10)
        except PersonalRatingsError as exc:
            st.warning(str(exc))
            return
        st.table(
            pd.DataFrame(
                {
                    "rank": [r.rank for r in recs],
                    "movie": [
                        advisor.movies.loc[r.movie_id, "label"] + (" (new)" if r.new_movie else "")
                        for r in recs
                    ],
                    "genres": [r.genres for r in recs],
                    "predicted stars": [
                        "–" if pd.isna(r.predicted_stars) else f"{r.predicted_stars:.1f}"
                        for r in recs
                    ],
                    "why": [r.reason or "–" for r in recs],
                    "movie_id": [r.movie_id for r in recs],
                }
            ).set_index("rank")
        )
        st.caption(
            f"Ranked by `{advisor.top_k_model}` (the served top-K model) with your "
            f"ratings folded in; predicted stars by `{advisor.rating_model}` (the served "
            "rating model); “why” names your rated movie that explains it best in the "
            "model that ranked it, or, for a new movie, the tags it shares with the "
            "movies you liked."
            + (
                f" A movie marked (new) has no ratings in the training data: the last "
                f"{advisor.new_slots} "
                "place(s) go to new movies, ranked by the hybrid's content factors."
                if advisor.new_slots
                else ""
            )
        )


# --- Explore -------------------------------------------------------------------------------


@st.cache_data(show_spinner="Drawing the figures…", max_entries=2)
def explore_sections(prefix: str, home: str, versions: tuple) -> list:
    """The report's sections with each figure drawn to PNG bytes (cached per build)."""
    from movielake.serving import report

    current = Lake(prefix, home)
    report.use_theme()
    drawn = []
    for section in [*report.eda_sections(current), *report.model_sections(current)]:
        parts = []
        for part in section.parts:
            if isinstance(part, report.Figure):
                buffer = io.BytesIO()
                part.figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
                plt.close(part.figure)
                parts.append(("image", buffer.getvalue()))
            elif isinstance(part, report.Table):
                parts.append(("table", part.frame))
            elif isinstance(part, report.Text):
                parts.append(("text", part.text))
            else:
                parts.append(("absent", f"Not available: {', '.join(part.tables)} not built yet."))
        drawn.append((section.title, parts))
    return drawn


def explore_page() -> None:
    from movielake.serving.report import ReportError

    st.title("Explore the lakehouse")
    current = lake()
    try:
        sections = explore_sections(current.prefix, str(current.home), stamp(EXPLORE_TABLES))
    except (ReportError, NotBuiltError) as exc:
        not_built(exc)
        return
    for title, parts in sections:
        st.subheader(title)
        for kind, value in parts:
            if kind == "image":
                st.image(value)
            elif kind == "table":
                st.dataframe(value, hide_index=True)
            elif kind == "text":
                st.write(value)
            else:
                st.info(value)


# --- Lineage and freshness -----------------------------------------------------------------


def lineage_page() -> None:
    st.title("Lineage and freshness")
    current = lake()
    st.write(
        f"Schema prefix `{current.prefix}`, data home `{current.home}`, Delta tables read "
        f"straight from `{current.warehouse}` (no Spark, no metastore)."
    )
    rows = []
    for model in dict.fromkeys(SERVED_TABLES + EXPLORE_TABLES):
        ref = current.ref(model)
        if current.exists(model):
            version = current.version(model)
            rows.append(
                (
                    model,
                    ref.name,
                    str(version.version),
                    f"{version.written_at:%Y-%m-%d %H:%M:%S} UTC",
                    str(ref.path),
                )
            )
        else:
            rows.append((model, ref.name, "–", "not built", str(ref.path)))
    table = pd.DataFrame(rows, columns=["model", "table", "Delta version", "written", "location"])
    source = current.served_source()
    if not current.exists(source):
        st.error(
            f"The lakehouse is not built yet: `{current.name(source)}` (the served "
            f"model's rows) is missing. {BUILD_HINT}"
        )
    else:
        version = current.version(source)
        st.success(
            f"Recommendations come from `{current.name(source)}` version "
            f"{version.version}, written {version.written_at:%Y-%m-%d %H:%M:%S} UTC."
        )
        if current.exists("served_models"):
            st.subheader("Served models (chosen on validation)")
            st.table(current.read("served_models", order_by=["job"]))
    st.subheader("Tables")
    st.table(table.set_index("model"))


def main() -> None:
    st.set_page_config(page_title="MovieLake", page_icon="🎬", layout="wide")
    pages = [
        st.Page(rate_page, title="Rate & recommend", url_path="rate", default=True),
        st.Page(explore_page, title="Explore", url_path="explore"),
        st.Page(lineage_page, title="Lineage", url_path="lineage"),
    ]
    st.navigation(pages).run()


if __name__ == "__main__":  # `streamlit run` executes this file as __main__
    main()
