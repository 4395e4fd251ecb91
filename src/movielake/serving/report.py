"""`movielake report`: one HTML page of plots and tables drawn from the lakehouse's Delta tables.

Every figure comes from an aggregate table (the EDA marts, and the recommenders' and twins'
tables when they have been built); the page never re-aggregates raw ratings. Images are PNGs
written beside the HTML file. Tables are read with movielake.serving.lake (no Spark);
`movielake app` draws the same figures with the functions below."""

from __future__ import annotations

import html
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: render straight to files

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from movielake.errors import MovieLakeError  # noqa: E402
from movielake.serving.lake import Lake  # noqa: E402

EDA_MARTS = (
    "rating_distribution",
    "monthly_activity",
    "genre_stats",
    "genre_trends",
    "rating_count_vs_mean",
    "mean_rating_by_count_bucket",
    "user_stats",
    "top_rated_movies",
    "most_rated_movies",
)
GENRES_IN_TRENDS = 6  # most-rated genres drawn in the trends plot
TREND_MIN_RATINGS = 30  # a genre-year needs this many ratings to be drawn (noise otherwise)


class ReportError(MovieLakeError):
    """The report cannot be drawn (e.g. the EDA marts have not been built)."""


def default_out() -> Path:
    from movielake.data.paths import data_home

    return data_home() / "report" / "index.html"


# --- What a section holds: the report writes it as HTML, `movielake app` draws it in Streamlit


@dataclass
class Text:
    text: str


@dataclass
class Figure:
    name: str  # file stem of the report's PNG
    figure: object  # a matplotlib figure; whoever shows it closes it


@dataclass
class Table:
    frame: pd.DataFrame


@dataclass
class Absent:
    """Tables a section needs that are not built (built_by: what makes them)."""

    tables: list[str]
    built_by: str | None = None


@dataclass
class Section:
    title: str
    parts: list


@dataclass
class Page:
    """The report being written: its folder, its HTML sections and the images saved so far."""

    folder: Path
    sections: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def progress(self, message: str) -> None:
        print(f"[report {time.monotonic() - self.started:6.1f}s] {message}", flush=True)

    def save(self, fig, name: str) -> str:
        """Writes the figure as <name>.png beside the page and returns its <img> tag."""
        file = f"{name}.png"
        fig.savefig(self.folder / file, dpi=110, bbox_inches="tight")
        plt.close(fig)
        self.images.append(file)
        self.progress(f"drew {file}")
        return f'<img src="{file}" alt="{html.escape(name)}">'

    def add(self, section: Section) -> None:
        parts = []
        for part in section.parts:
            if isinstance(part, Text):
                parts.append(f"<p>{html.escape(part.text)}</p>")
            elif isinstance(part, Figure):
                parts.append(self.save(part.figure, part.name))
            elif isinstance(part, Table):
                parts.append(_table_html(part.frame))
            elif isinstance(part, Absent):
                names = ", ".join(f"<code>{html.escape(t)}</code>" for t in part.tables)
                made_by = (
                    f" (made by {html.escape(part.built_by)}). Build it and run the "
                    "report again to see this section"
                    if part.built_by
                    else ""
                )
                parts.append(
                    f'<p class="absent">Not available: {names} not built yet{made_by}.</p>'
                )
                if len(section.parts) == 1:
                    self.progress(f"skipped '{section.title}': {', '.join(part.tables)} not built")
        self.sections.append(
            f"<section><h2>{html.escape(section.title)}</h2>\n" + "\n".join(parts) + "\n</section>"
        )


def _table_html(frame: pd.DataFrame) -> str:
    return frame.to_html(
        index=False, border=0, classes="data", na_rep="–", float_format=lambda v: f"{v:.4g}"
    )


# --- EDA figures: each takes the mart's rows and returns a matplotlib figure ---------------


def rating_distribution_figure(dist: pd.DataFrame):
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.bar(dist["rating"], dist["ratings_count"], width=0.4, color=sns.color_palette()[0])
    for x, n, share in zip(dist["rating"], dist["ratings_count"], dist["share_of_ratings"]):
        ax.annotate(f"{share:.0%}", (x, n), ha="center", va="bottom", fontsize=8)
    ax.set(
        title="Distribution of ratings",
        xlabel="Rating (stars)",
        ylabel="Ratings (count)",
        xticks=dist["rating"],
    )
    return fig


def monthly_activity_figure(monthly: pd.DataFrame):
    months = pd.to_datetime(monthly["month_start"])
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 6.5), sharex=True)
    top.plot(months, monthly["ratings_count"], lw=1)
    top.set(title="Monthly activity", ylabel="Ratings per month (count)")
    bottom.plot(months, monthly["active_users"], lw=1, label="active users")
    bottom.plot(months, monthly["new_users"], lw=1, label="first-time users")
    bottom.set(xlabel="Month (UTC)", ylabel="Users per month (count)")
    bottom.legend()
    return fig


def genre_means_figure(genres: pd.DataFrame):
    rated = genres[genres["ratings_count"] > 0].sort_values("mean_rating", ascending=False)
    fig, ax = plt.subplots(figsize=(9, 0.32 * len(rated) + 1.5))
    sns.barplot(data=rated, x="mean_rating", y="genre", color=sns.color_palette()[0], ax=ax)
    for i, (mean, n) in enumerate(zip(rated["mean_rating"], rated["ratings_count"])):
        ax.text(mean + 0.02, i, f"{mean:.2f} (n={n:,})", va="center", fontsize=8)
    ax.set(
        title="Mean rating by genre (n = ratings)",
        xlabel="Mean rating (stars)",
        ylabel="Genre",
        xlim=(0, 5.6),
    )
    return fig


def genre_trends_figure(trends: pd.DataFrame, genres: pd.DataFrame):
    top = genres.sort_values("ratings_count", ascending=False)["genre"].head(GENRES_IN_TRENDS)
    shown = trends[trends["genre"].isin(top) & (trends["ratings_count"] >= TREND_MIN_RATINGS)]
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.8))
    for ax, kind, column, ylabel, xlabel in (
        (left, "release", "mean_rating", "Mean rating (stars)", "Release year"),
        (
            right,
            "rating",
            "share_of_year_ratings",
            "Share of the year's ratings (fraction)",
            "Year rated (UTC)",
        ),
    ):
        part = shown[shown["year_kind"] == kind]
        if not part.empty:
            sns.lineplot(
                data=part,
                x="calendar_year",
                y=column,
                hue="genre",
                hue_order=list(top),
                ax=ax,
                lw=1.2,
            )
        ax.set(xlabel=xlabel, ylabel=ylabel)
    left.set_title(f"Mean rating by release year (genre-years with ≥{TREND_MIN_RATINGS} ratings)")
    right.set_title("Genre share of ratings by year rated")
    return fig


def count_vs_mean_figure(bins: pd.DataFrame):
    x = (bins["log_count_bin_start"] + bins["log_count_bin_end"]) / 2
    y = (bins["mean_rating_bin_start"] + bins["mean_rating_bin_end"]) / 2
    fig, ax = plt.subplots(figsize=(8, 5.5))
    cells = ax.hexbin(
        x,
        y,
        C=bins["movies_count"],
        reduce_C_function=np.sum,
        gridsize=30,
        cmap="viridis",
        bins="log",
        mincnt=1,
    )
    fig.colorbar(cells, ax=ax, label="Movies (count, log colour scale)")
    r = bins["pearson_log_count_vs_mean"].iloc[0]
    r_text = "undefined" if pd.isna(r) else f"{r:.3f}"
    ax.set(
        title=f"Ratings count vs mean rating per movie (Pearson r of log count = {r_text})",
        xlabel="Ratings per movie (log10 count)",
        ylabel="Mean rating (stars)",
    )
    return fig


def count_bucket_boxes_figure(buckets: pd.DataFrame):
    stats = [
        {
            "label": f"{row.count_bucket}\n(n={row.movies_count:,})",
            "whislo": row.min_mean_rating,
            "q1": row.q1_mean_rating,
            "med": row.median_mean_rating,
            "q3": row.q3_mean_rating,
            "whishi": row.max_mean_rating,
            "mean": row.mean_mean_rating,
            "fliers": [],
        }
        for row in buckets.itertuples()
    ]
    fig, ax = plt.subplots(figsize=(9, 5))
    ax.bxp(stats, showmeans=True)
    ax.set(
        title="Movies' mean rating by how often they were rated (whiskers: min and max)",
        xlabel="Ratings per movie (count bucket; n = movies)",
        ylabel="Movie mean rating (stars)",
    )
    return fig


def user_activity_figure(users: pd.DataFrame):
    fig, ax = plt.subplots(figsize=(8, 4.5))
    counts = users["ratings_count"]
    edges = np.logspace(0, np.log10(max(counts.max(), 2)), 40)
    ax.hist(counts, bins=edges, color=sns.color_palette()[2])
    ax.set(
        xscale="log",
        title="Ratings per user",
        xlabel="Ratings per user (count, log scale)",
        ylabel="Users (count)",
    )
    return fig


TOP_COLUMNS = [
    "movie_rank",
    "title",
    "release_year",
    "ratings_count",
    "mean_rating",
    "damped_mean_rating",
]


def use_theme() -> None:
    """The plots' look (seaborn's), for the report and the app alike."""
    sns.set_theme(style="whitegrid", context="notebook")


def eda_sections(lake: Lake) -> Iterator[Section]:
    """The EDA marts' sections, one at a time (ReportError when the marts are not built)."""
    missing = [lake.name(t) for t in EDA_MARTS if not lake.exists(t)]
    if missing:
        raise ReportError(
            f"the EDA marts are not built ({', '.join(missing)} missing); "
            "run `make run` (dbt build) first"
        )
    dist = lake.read("rating_distribution", order_by=["rating"])
    monthly = lake.read("monthly_activity", order_by=["month_start"])
    genres = lake.read("genre_stats")
    users = lake.read("user_stats")
    total = int(dist["ratings_count"].sum())
    yield Section(
        "Overview",
        [
            Text(
                f"{total:,} ratings by {len(users):,} users, from "
                f"{pd.to_datetime(monthly['month_start']).min():%B %Y} to "
                f"{pd.to_datetime(monthly['month_start']).max():%B %Y}; mean rating "
                f"{(dist['rating'] * dist['ratings_count']).sum() / total:.3f} stars."
            )
        ],
    )
    yield Section(
        "Rating distribution", [Figure("rating_distribution", rating_distribution_figure(dist))]
    )
    yield Section(
        "Monthly activity", [Figure("monthly_activity", monthly_activity_figure(monthly))]
    )
    yield Section("Mean rating by genre", [Figure("genre_means", genre_means_figure(genres))])
    trends = lake.read("genre_trends", order_by=["year_kind", "genre", "calendar_year"])
    yield Section(
        "Genre trends over the years", [Figure("genre_trends", genre_trends_figure(trends, genres))]
    )
    bins = lake.read("rating_count_vs_mean")
    buckets = lake.read("mean_rating_by_count_bucket", order_by=["bucket_start"])
    r = bins["pearson_log_count_vs_mean"].iloc[0] if len(bins) else None
    yield Section(
        "Popularity vs rating",
        [
            Text(
                f"Pearson correlation of log10(ratings count) and mean rating over "
                f"{int(bins['movies_total'].iloc[0]) if len(bins) else 0:,} rated movies: "
                f"{'undefined' if r is None or pd.isna(r) else f'{r:.3f}'}."
            ),
            Figure("rating_count_vs_mean", count_vs_mean_figure(bins)),
            Figure("mean_rating_by_count_bucket", count_bucket_boxes_figure(buckets)),
        ],
    )
    yield Section("User activity", [Figure("user_activity", user_activity_figure(users))])
    for table, title in (
        ("top_rated_movies", "Top-rated movies"),
        ("most_rated_movies", "Most-rated movies"),
    ):
        yield Section(title, [Table(lake.read(table, order_by=["movie_rank"])[TOP_COLUMNS])])


# --- Sections of other layers: drawn when their tables exist ----------------------------


def model_metrics_figure(metrics: pd.DataFrame):
    # K as a category: one colour per cut-off, not a colour scale
    test = metrics[metrics["split"] == "test"].assign(K=lambda f: "K=" + f["k"].astype(str))
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    sns.barplot(data=test, x="model", y="rmse", ax=left, color=sns.color_palette()[0])
    left.set(
        title="RMSE on the test split (lower is better)", xlabel="Model", ylabel="RMSE (stars)"
    )
    sns.barplot(data=test, x="model", y="precision_at_k", hue="K", ax=right)
    right.set(
        title="Precision@K on the test split", xlabel="Model", ylabel="Precision@K (fraction)"
    )
    for ax in (left, right):
        ax.tick_params(axis="x", rotation=20)
    return fig


def als_tuning_figure(tuning: pd.DataFrame):
    """Each variant's settings by regParam, a line per rank, from successive halving's first
    rung (where the grid is searched: a coordinate search draws a rank's line only through the
    settings it fit); the later rungs' refits on more users are stars."""
    if "rung" not in tuning:  # a table from before successive halving: one rung
        tuning = tuning.assign(rung=1)
    models = list(dict.fromkeys(tuning["model"]))
    fig, axes = plt.subplots(1, len(models), figsize=(6 * len(models), 4.5), squeeze=False)
    for ax, model in zip(axes[0], models):
        part = tuning[tuning["model"] == model].sort_values("reg_param")
        # als_implicit predicts no stars: it is tuned, and drawn, by validation P@K
        column, label = (
            ("val_rmse", "Validation RMSE (stars)")
            if part["val_rmse"].notna().any()
            else ("val_precision_at_k", "Validation Precision@K (fraction)")
        )
        first = part[part["rung"] == part["rung"].min()]
        for rank, grid in first.groupby("rank"):
            ax.plot(
                grid["reg_param"],
                grid[column],
                marker="o",
                label=f"rank {rank} ({int(grid['fit_users'].iloc[0]):,} users)"
                if "fit_users" in grid
                else f"rank {rank}",
            )
        later = part[part["rung"] > part["rung"].min()]
        if len(later):
            most = int(later["fit_users"].max())
            ax.scatter(
                later["reg_param"],
                later[column],
                marker="*",
                s=140,
                color="black",
                zorder=3,
                label=f"best refit on more users (up to {most:,})",
            )
        ax.set(
            xscale="log", title=f"ALS tuning: {model}", xlabel="regParam (log scale)", ylabel=label
        )
        ax.legend()
    return fig


def cold_start_figure(metrics: pd.DataFrame):
    """P@K of each model by how many ratings of the cold movie (0) or new user (1, 3, 5...)
    it was shown."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5), gridspec_kw={"width_ratios": [1, 2]})
    movies = metrics[metrics["scenario"] == "cold_movies"]
    sns.barplot(data=movies, x="model", y="precision_at_k", ax=left, color=sns.color_palette()[0])
    left.set(title="Cold movies (no rating known)", xlabel="Model", ylabel="Precision@K (fraction)")
    left.tick_params(axis="x", rotation=20)
    users = metrics[metrics["scenario"] == "new_users"]
    for model, part in users.groupby("model"):
        part = part.sort_values("known_ratings")
        right.plot(part["known_ratings"], part["precision_at_k"], marker="o", label=model)
    right.set(
        title="New users, by their first ratings",
        xlabel="Ratings known of the user",
        ylabel="Precision@K (fraction)",
        xticks=sorted(users["known_ratings"].unique()),
    )
    right.legend()
    return fig


def twin_correlations_figure(pairs: pd.DataFrame):
    fig, ax = plt.subplots(figsize=(8, 4.5))
    defined = pairs.dropna(subset=["pearson"])
    sns.histplot(
        data=defined,
        x="pearson",
        hue="pair_group",
        stat="density",
        common_norm=False,
        bins=np.linspace(-1, 1, 41),
        ax=ax,
    )
    ax.set(
        title="Pearson correlation of co-rated movies: twins vs random pairs",
        xlabel="Pearson correlation of the pair's ratings (r)",
        ylabel="Density (per unit r)",
    )
    return fig


def peers_section(lake: Lake) -> Section | None:
    """Our models' test figures beside the peers' (`make bench-peers` writes them), each as a
    ratio to the best peer's; None (no section) until the benchmark has run."""
    from movielake.serving.comparison import (
        COMPARISON_TABLE,
        PEERS_LAYER,
        PEERS_TABLE,
        ours,
        paired_table,
        side_by_side,
    )

    peers = lake.read_table(PEERS_LAYER, PEERS_TABLE)
    if peers is None or peers.empty or not lake.exists("model_metrics"):
        return None
    both = pd.concat([ours(lake), peers.sort_values("model")], ignore_index=True)
    parts = [
        Text(
            f"Each figure, and in brackets its ratio to the best peer's (K = "
            f"{int(peers['k'].iloc[0])}). Peers tuned on validation and refit on train + "
            "validation, scored with the same metric code (make bench-peers)."
        ),
        Table(side_by_side(both)),
    ]
    compared = lake.read_table(PEERS_LAYER, COMPARISON_TABLE)
    if compared is not None and not compared.empty:
        first = compared.iloc[0]
        parts += [
            Text(
                f"Is the lead more than the choice of users? The served top-K model against the "
                f"best top-K peer, user by user over the {int(first['users'])} test users: "
                f"{int(first['resamples'])} bootstrap resamples of the users (seed "
                f"{int(first['seed'])}), the difference of the means and the ratio with their "
                "95% intervals. An interval above 0 (ratio above 1) is a lead the users' draw "
                "does not explain."
            ),
            Table(paired_table(compared)),
        ]
    return Section("MovieLake and its peers (test split)", parts)


TWINS_SHOWN = 10  # pairs of user_twins tabled


def model_sections(lake: Lake) -> Iterator[Section]:
    """The recommenders' and the twins' sections; each says which tables are not built."""
    if lake.exists("model_metrics"):
        metrics = lake.read("model_metrics", order_by=["split", "model", "k"])
        yield Section(
            "Model metrics",
            [Figure("model_metrics", model_metrics_figure(metrics)), Table(metrics)],
        )
    else:
        yield Section(
            "Model metrics", [Absent([lake.name("model_metrics")], "the recommender models")]
        )
    peers = peers_section(lake)
    if peers is not None:
        yield peers
    if lake.exists("item_item_tuning"):
        yield Section(
            "Item-item tuning (validation)",
            [Table(lake.read("item_item_tuning", order_by=["reg_lambda"]))],
        )
    if lake.exists("als_tuning"):
        tuning = lake.read("als_tuning", order_by=["model", "rank", "reg_param"])
        yield Section("ALS tuning curves", [Figure("als_tuning", als_tuning_figure(tuning))])
    else:
        yield Section(
            "ALS tuning curves", [Absent([lake.name("als_tuning")], "the ALS tuning model")]
        )
    if lake.exists("cold_start_metrics"):
        cold = lake.read("cold_start_metrics", order_by=["scenario", "known_ratings", "model"])
        parts = [
            Text(
                "The hybrid (movie content mapped onto the als_implicit factors) against "
                "a content-only model, popularity and random, on movies held out whole "
                "and on users seen only by their first ratings (cold_start_metrics)."
            ),
            Figure("cold_start", cold_start_figure(cold)),
            Table(cold),
        ]
        if lake.exists("hybrid_tuning"):
            parts += [
                Text(
                    "Hybrid tuning on validation: the ridge penalty on held-out movies, "
                    "then the blend on rated ones:"
                ),
                Table(lake.read("hybrid_tuning", order_by=["stage", "reg_lambda", "blend"])),
            ]
        yield Section("Hybrid and cold start", parts)
    else:
        yield Section(
            "Hybrid and cold start",
            [Absent([lake.name("cold_start_metrics")], "the hybrid and cold-start models")],
        )
    tables = ("user_twins", "twin_pair_correlations", "twin_validation")
    built = {t for t in tables if lake.exists(t)}
    parts = []
    if "user_twins" in built:
        pairs = lake.read("user_twins", order_by=["pair_rank"])
        parts.append(
            Text(
                f"The {min(TWINS_SHOWN, len(pairs))} most alike pairs of users "
                f"(of {len(pairs)}), by the Jaccard similarity of their rated movies:"
            )
        )
        parts.append(Table(pairs.head(TWINS_SHOWN)))
    if "twin_pair_correlations" in built:
        pairs = lake.read("twin_pair_correlations")
        parts.append(Figure("twin_correlations", twin_correlations_figure(pairs)))
    if "twin_validation" in built:
        parts.append(Table(lake.read("twin_validation", order_by=["pair_group"])))
    missing = [lake.name(t) for t in tables if t not in built]
    if missing:
        parts.append(Absent(missing, None if parts else "the twins models"))
    yield Section("Taste twins", parts)


STYLE = """body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}
img{max-width:100%;display:block;margin:1em 0}table.data{border-collapse:collapse;font-size:90%}
table.data td,table.data th{padding:3px 8px;border-bottom:1px solid #ddd;text-align:left}
.absent{color:#8a4b00;background:#fff4e0;padding:.6em}"""


def render(schema_prefix: str | None = None, out: Path | str | None = None) -> Path:
    """Draws the report of the tables under `schema_prefix` into `out` (an .html file; its PNGs
    go beside it) and returns the HTML file's path."""
    lake = Lake(schema_prefix)
    out = Path(out) if out else default_out()
    out.parent.mkdir(parents=True, exist_ok=True)
    page = Page(out.parent)
    page.progress(f"reading the {lake.prefix}_* tables in {lake.warehouse}")
    use_theme()
    for section in eda_sections(lake):
        page.add(section)
    for section in model_sections(lake):
        page.add(section)
    out.write_text(
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>MovieLake report: {html.escape(lake.prefix)}</title><style>{STYLE}</style></head>"
        f"<body><h1>MovieLake report</h1><p>Tables <code>{html.escape(lake.prefix)}_*</code>, "
        f"drawn {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.</p>\n"
        + "\n".join(page.sections)
        + "\n</body></html>\n",
        encoding="utf-8",
    )
    page.progress(f"wrote {out} ({len(page.images)} images beside it)")
    return out
