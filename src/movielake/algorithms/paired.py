"""A paired comparison of two models over the same users: is one model's lead larger than what
the choice of users could give by chance?

Both models are scored per user on the same held-out data (ranking.per_user_metrics); a
bootstrap draws the users with replacement, the same draw for both models, and recomputes the
mean difference and the ratio of the means. The interval is the percentile interval of those
resamples. Pairing matters: most of a figure's spread comes from which users are in the split,
and that spread cancels in the difference.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def paired_bootstrap(
    ours: pd.DataFrame,
    theirs: pd.DataFrame,
    metrics: list[str],
    resamples: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> pd.DataFrame:
    """ours, theirs: one row per user (index user_id), a column per metric. One row per metric:
    each side's mean, the difference of the means and its interval, the ratio of the means and
    its interval, the users compared. Users must be the same on both sides."""
    if not ours.index.sort_values().equals(theirs.index.sort_values()):
        raise ValueError(
            f"a paired comparison needs the same users on both sides: {len(ours)} users against "
            f"{len(theirs)}, {len(ours.index.symmetric_difference(theirs.index))} not shared"
        )
    theirs = theirs.reindex(ours.index)
    users = len(ours)
    if not users:
        raise ValueError("a paired comparison needs at least one user")
    draws = np.random.default_rng(seed).integers(0, users, size=(resamples, users))
    tail = (1.0 - level) / 2.0
    rows = []
    for metric in metrics:
        a = ours[metric].to_numpy(dtype=float)
        b = theirs[metric].to_numpy(dtype=float)
        mean_a, mean_b = a[draws].mean(axis=1), b[draws].mean(axis=1)
        difference = np.quantile(mean_a - mean_b, [tail, 1.0 - tail])
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.quantile(mean_a / mean_b, [tail, 1.0 - tail])
        rows.append(
            {
                "metric": metric,
                "ours": a.mean(),
                "theirs": b.mean(),
                "difference": a.mean() - b.mean(),
                "difference_low": difference[0],
                "difference_high": difference[1],
                "ratio": a.mean() / b.mean() if b.mean() else np.nan,
                "ratio_low": ratio[0],
                "ratio_high": ratio[1],
                "users": users,
                "resamples": resamples,
                "seed": seed,
            }
        )
    return pd.DataFrame(rows)
