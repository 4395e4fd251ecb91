"""`make bench-peers` on the shared synthetic build: peers tuned on validation, refit, scored on
test with movielake.spark.metrics, printed beside MovieLake's models, and kept for the report."""

from __future__ import annotations

import importlib.util
import sys

import pytest

from conftest import PROJECT, SYNTHETIC_SCHEMA, rows


def bench():
    spec = importlib.util.spec_from_file_location(
        "bench_peers", PROJECT / "benchmarks" / "bench_peers.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_peers"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_peers_are_scored_beside_our_models(spark, synthetic_build, capsys):
    peers = ["surprise_baseline_only", "implicit_bm25", "ease"]
    assert bench().main(["--schema-prefix", SYNTHETIC_SCHEMA, "--peers", ",".join(peers)]) == 0
    out = capsys.readouterr().out
    table = [line for line in out.splitlines() if line.startswith("| ")]
    names = [line.split(" | ")[0][2:] for line in table[1:]]
    assert set(peers) <= set(names)
    assert {"MovieLake popularity", "MovieLake item_item"} <= {n.split(" (")[0] for n in names}
    # every peer's own figure is 1.00x of itself when it is the best peer of the column
    assert "(1.00x)" in out

    stored = {
        r["model"]: r
        for r in rows(spark, f"select * from {SYNTHETIC_SCHEMA}_benchmarks.peer_metrics")
    }
    assert set(stored) == set(peers)
    assert stored["surprise_baseline_only"]["rmse"] < 2
    for name in ("implicit_bm25", "ease"):
        assert 0 < stored[name]["precision_at_k"] <= 1 and stored[name]["k"] == 10

    # the served top-K model against the best top-K peer, user by user: the per-user means
    # reproduce model_metrics' and peer_metrics' figures, and each interval holds its estimate
    assert "Paired comparison over the" in out
    compared = {
        r["metric"]: r
        for r in rows(spark, f"select * from {SYNTHETIC_SCHEMA}_benchmarks.peer_comparison")
    }
    served = rows(
        spark,
        f"select model from {SYNTHETIC_SCHEMA}_recommenders.served_models where job = 'top_k'",
    )[0]["model"]
    ours = rows(
        spark,
        f"select * from {SYNTHETIC_SCHEMA}_recommenders.model_metrics "
        f"where split = 'test' and model = '{served}'",
    )[0]
    best = max(("implicit_bm25", "ease"), key=lambda n: stored[n]["precision_at_k"])
    for metric in ("precision_at_k", "recall_at_k", "ndcg_at_k", "map_at_k"):
        row = compared[metric]
        assert (row["ours_model"], row["peer_model"]) == (served, best)
        assert row["ours"] == pytest.approx(ours[metric], abs=1e-9)
        assert row["theirs"] == pytest.approx(stored[best][metric], abs=1e-9)
        assert row["users"] == ours["users_evaluated"]
        assert row["difference_low"] <= row["difference"] <= row["difference_high"]
        assert row["difference_low"] < row["difference_high"]  # the users differ: a spread

    # --add scores a subset again and keeps the other peers' rows
    assert bench().main(["--schema-prefix", SYNTHETIC_SCHEMA, "--peers", "ease", "--add"]) == 0
    again = rows(spark, f"select model from {SYNTHETIC_SCHEMA}_benchmarks.peer_metrics")
    assert sorted(r["model"] for r in again) == sorted(peers)


def test_unknown_peer_is_refused(capsys):
    with pytest.raises(SystemExit):
        bench().main(["--peers", "lightfm"])
    assert "unknown peers: lightfm" in capsys.readouterr().err
