"""The paired bootstrap of two models' per-user figures (movielake.algorithms.paired)."""

import numpy as np
import pandas as pd
import pytest

from movielake.algorithms.paired import paired_bootstrap


def figures(values, users=None) -> pd.DataFrame:
    users = np.arange(len(values)) if users is None else users
    return pd.DataFrame({"precision_at_k": values}, index=pd.Index(users, name="user_id"))


def test_a_constant_lead_has_no_spread_because_the_users_are_paired():
    spread = np.random.default_rng(1).uniform(0.0, 0.8, 300)  # users differ a lot
    row = paired_bootstrap(figures(spread + 0.1), figures(spread), ["precision_at_k"]).iloc[0]
    assert row["difference"] == pytest.approx(0.1)
    assert row["difference_low"] == pytest.approx(0.1)
    assert row["difference_high"] == pytest.approx(0.1)
    assert row["ratio_low"] > 1.0


def test_the_interval_of_a_noisy_difference_matches_its_standard_error():
    rng = np.random.default_rng(2)
    theirs = rng.uniform(0.0, 1.0, 2000)
    ours = theirs + rng.normal(0.02, 0.1, 2000)  # the difference's sd 0.1: se ~0.00224
    row = paired_bootstrap(figures(ours), figures(theirs), ["precision_at_k"], seed=3).iloc[0]
    assert row["difference_low"] < row["difference"] < row["difference_high"]
    width = row["difference_high"] - row["difference_low"]
    se = np.std(ours - theirs) / np.sqrt(2000)
    assert width == pytest.approx(2 * 1.96 * se, rel=0.15)
    assert row["difference_low"] > 0  # a lead of ~9 standard errors is not noise


def test_users_are_matched_by_id_not_by_position():
    ours = figures([1.0, 0.0, 0.0], users=[10, 20, 30])
    theirs = figures([0.0, 0.0, 1.0], users=[30, 20, 10])  # same figures, other order
    row = paired_bootstrap(ours, theirs, ["precision_at_k"]).iloc[0]
    assert row["difference_low"] == row["difference_high"] == 0.0


def test_different_users_on_each_side_are_refused():
    with pytest.raises(ValueError, match="same users"):
        paired_bootstrap(figures([0.1, 0.2]), figures([0.1, 0.2], users=[0, 5]), ["precision_at_k"])
