"""MovieLake's models side by side with the peers (benchmarks/bench_peers.py): one table, each
figure with its ratio to the best peer's figure of the same column. Used by the benchmark's
printout and by the report, so both show the same table."""

from __future__ import annotations

import pandas as pd

# (column, heading, lower is better, decimals)
COLUMNS = [
    ("rmse", "RMSE", True, 4),
    ("mae", "MAE", True, 4),
    ("precision_at_k", "P@K", False, 4),
    ("recall_at_k", "R@K", False, 4),
    ("ndcg_at_k", "NDCG@K", False, 4),
    ("map_at_k", "MAP@K", False, 4),
    ("catalog_coverage", "coverage", False, 4),
    ("tune_s", "tune s", True, 0),
    ("fit_s", "fit s", True, 0),
]
PEERS_LAYER, PEERS_TABLE = "benchmarks", "peer_metrics"  # the benchmark writes <prefix>_benchmarks
COMPARISON_TABLE = "peer_comparison"  # the served top-K model against the best peer, per user
HEADINGS = {c: heading for c, heading, *_ in COLUMNS}


def side_by_side(frame: pd.DataFrame) -> pd.DataFrame:
    """frame: one row per model (model, is_peer, setting, and the COLUMNS' figures; missing
    figures null). Returns strings: 'figure (ratio x)' where a peer has the figure."""
    peers = frame[frame["is_peer"]]
    out = pd.DataFrame({"model": frame["model"]})
    for column, heading, lower, digits in COLUMNS:
        values = pd.to_numeric(frame[column], errors="coerce")
        known = pd.to_numeric(peers[column], errors="coerce").dropna()
        best = (known.min() if lower else known.max()) if len(known) else None
        out[heading] = [
            ""
            if pd.isna(v)
            else f"{v:.{digits}f}" + (f" ({v / best:.2f}x)" if best not in (None, 0) else "")
            for v in values
        ]
    out["setting"] = frame["setting"].fillna("")
    return out


def markdown(table: pd.DataFrame) -> str:
    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in table.itertuples(False)]
    return "\n".join(lines)


def ours(lake) -> pd.DataFrame:
    """MovieLake's test rows of model_metrics (label says which job each serves), with the
    seconds its tuning tables recorded: tune = every setting fit, fit = the selected one.
    `lake`: a movielake.serving.lake.Lake (read without Spark)."""
    tuning: dict[str, dict] = {}
    for table, setting in (
        ("als_tuning", lambda r: f"rank {r['rank']}, reg {r['reg_param']:g}, alpha {r['alpha']:g}"),
        (
            "item_item_tuning",
            lambda r: f"lambda {r['reg_lambda']:g}, {r['weighting']}, {r['items']} movies",
        ),
    ):
        if not lake.exists(table):
            continue
        for name, rows in lake.read(table).groupby("model"):
            chosen = rows[rows["selected"]]
            tuning[name] = {
                "tune_s": float(rows["fit_seconds"].sum()),
                "fit_s": float(chosen["fit_seconds"].max()) if len(chosen) else None,
                "setting": setting(chosen.iloc[0]) if len(chosen) else "",
            }
    served: dict[str, list[str]] = {}
    if lake.exists("served_models"):
        for job, model in lake.read("served_models", order_by="job")[["job", "model"]].itertuples(
            index=False
        ):
            served.setdefault(model, []).append(job)
    metrics = lake.read("model_metrics", filters=[("split", "=", "test")], order_by="model")
    rows = []
    for r in metrics.to_dict("records"):
        name = r["model"]
        extra = tuning.get(name, {})
        label = f"MovieLake {name}" + (
            f" (served: {', '.join(served[name])})" if name in served else ""
        )
        rows.append(
            {
                "model": label,
                "is_peer": False,
                "setting": extra.get("setting") or "",
                "tune_s": extra.get("tune_s"),
                "fit_s": extra.get("fit_s"),
                **{c: r[c] for c, *_ in COLUMNS if c not in ("tune_s", "fit_s")},
            }
        )
    return pd.DataFrame(rows)


def paired_table(compared: pd.DataFrame) -> pd.DataFrame:
    """The paired comparison (bench_peers' peer_comparison rows) as strings: each metric, both
    means, the difference with its bootstrap interval and the ratio with its interval."""
    return pd.DataFrame(
        {
            "metric": [HEADINGS.get(m, m) for m in compared["metric"]],
            compared["ours_model"].iloc[0]: [f"{v:.4f}" for v in compared["ours"]],
            compared["peer_model"].iloc[0]: [f"{v:.4f}" for v in compared["theirs"]],
            "difference [95%]": [
                f"{d:+.4f} [{lo:+.4f}, {hi:+.4f}]"
                for d, lo, hi in compared[
                    ["difference", "difference_low", "difference_high"]
                ].itertuples(index=False)
            ],
            "ratio [95%]": [
                f"{r:.3f} [{lo:.3f}, {hi:.3f}]"
                for r, lo, hi in compared[["ratio", "ratio_low", "ratio_high"]].itertuples(
                    index=False
                )
            ],
        }
    )
