"""The recommenders chain on the shared synthetic build (conftest.synthetic_build): splits,
baseline, ALS tuning and refits, metrics, recommendations, fold-in and `movielake recommend`."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import PROJECT, SYNTHETIC_SCHEMA, SYNTHETIC_VARS, rows
from movielake.algorithms.baseline import new_user_bias
from movielake.algorithms.foldin import fold_in
from movielake.serving.personal import recommend
from movielake.spark.metrics import comparable

R = f"{SYNTHETIC_SCHEMA}_recommenders"


def test_every_rating_is_split_once_with_train_for_every_user(spark, synthetic_build):
    staged = spark.table(f"{SYNTHETIC_SCHEMA}_staging.stg_movielens__ratings").count()
    counts = {
        r["split"]: r["n"]
        for r in rows(spark, f"select split, count(*) n from {R}.rating_splits group by split")
    }
    assert sum(counts.values()) == staged
    assert set(counts) == {"train", "validation", "test"}
    assert counts["test"] / staged == pytest.approx(0.1, abs=0.03)
    assert (
        rows(
            spark,
            f"""select count(*) n from {R}.rating_splits h
        left anti join {R}.rating_splits t on h.user_id = t.user_id and t.split = 'train'""",
        )[0]["n"]
        == 0
    )


def test_model_metrics_cover_every_model_and_split(spark, synthetic_build):
    metrics = {(r["model"], r["split"]): r for r in rows(spark, f"select * from {R}.model_metrics")}
    models = {"popularity", "als_explicit", "als_residual", "als_implicit", "item_item", "hybrid"}
    assert set(metrics) == {(m, s) for m in models for s in ("validation", "test")}
    for (model, _), row in metrics.items():
        assert row["k"] == 10 and row["users_evaluated"] > 100
        assert 0 <= row["precision_at_k"] <= 1 and 0 < row["catalog_coverage"] <= 1
        if model in ("als_implicit", "item_item", "hybrid"):
            assert row["rmse"] is None
        else:
            assert 0 < row["rmse"] < 2 and row["accuracy"] == pytest.approx(1 - row["mae"] / 5)
    # the synthetic release has a low-rank taste signal: some ALS variant must find it
    best_als = min(metrics[(m, "test")]["rmse"] for m in ("als_explicit", "als_residual"))
    assert best_als < metrics[("popularity", "test")]["rmse"]


def test_tuning_selects_one_setting_per_variant(spark, synthetic_build):
    tuning = rows(spark, f"select * from {R}.als_tuning")
    assert {r["model"] for r in tuning if r["selected"]} == {
        "als_explicit",
        "als_residual",
        "als_implicit",
    }
    assert len([r for r in tuning if r["selected"]]) == 3
    for r in tuning:
        assert r["fit_seconds"] > 0
        assert (r["val_rmse"] is None) == (r["model"] == "als_implicit")
    # successive halving, two rungs: the whole 2 x 1 grid on 33 users, then each variant's
    # best setting (1 of 2 with factor 3) on the seeded sample of als_tuning_max_users users
    first = [r for r in tuning if r["rung"] == 1]
    last = [r for r in tuning if r["rung"] == 2]
    assert len(first) == 6 and len(last) == 3 and len(tuning) == 9
    assert {r["fit_users"] for r in first} == {33}
    assert {r["fit_users"] for r in last} == {SYNTHETIC_VARS["als_tuning_max_users"]}
    assert all(r["selected"] for r in last)
    for model in ("als_explicit", "als_residual"):
        mine = [r for r in first if r["model"] == model]
        best = min(mine, key=lambda r: r["val_rmse"])
        assert [(r["rank"], r["reg_param"]) for r in last if r["model"] == model] == [
            (best["rank"], best["reg_param"])
        ]
    implicit = [r for r in first if r["model"] == "als_implicit"]
    best = max(implicit, key=lambda r: (r["val_precision_at_k"], r["val_ndcg_at_k"]))
    assert [(r["rank"], r["reg_param"]) for r in last if r["model"] == "als_implicit"] == [
        (best["rank"], best["reg_param"])
    ]
    # each rung was fit on its sample (nested: the larger holds the smaller), not all 150
    train = rows(spark, f"select count(*) n from {R}.rating_splits where split = 'train'")[0]["n"]
    assert (
        len({r["fit_ratings"] for r in first}) == 1 and len({r["fit_ratings"] for r in last}) == 1
    )
    assert 0 < first[0]["fit_ratings"] < last[0]["fit_ratings"] < train


def test_item_item_tuning_and_weights_are_ease_on_the_fit_data(spark, synthetic_build):
    """The stored weights are EASE's B, solved here directly in float64 from the fit ratings
    (this checks the Gram matrix Spark aggregated, with the selected time kernel if any, the
    solve and the stored layout)."""
    tuning = rows(spark, f"select * from {R}.item_item_tuning")
    assert sorted((r["time_tau"], r["reg_lambda"]) for r in tuning) == sorted(
        (float(t), float(v))
        for t in SYNTHETIC_VARS["item_item_time_taus"]
        for v in SYNTHETIC_VARS["item_item_lambdas"]
    )
    assert all((r["time_floor"] is None) == (r["time_tau"] == 0) for r in tuning)
    chosen = [r for r in tuning if r["selected"]]
    # rounded as the model's key rounds: summation order moves the last bits of tied settings
    assert len(chosen) == 1 and comparable(chosen[0]["val_precision_at_k"]) == comparable(
        max(r["val_precision_at_k"] for r in tuning)
    )
    assert all(r["fit_seconds"] > 0 and r["weighting"] == "binary" for r in tuning)
    # every lambda scored on the same seeded sample of item_item_tuning_max_users users
    scorable = spark.sql(f"""select count(distinct v.user_id) from {R}.rating_splits v
        join (select distinct user_id from {R}.rating_splits where split = 'train') t
          on v.user_id = t.user_id
        where v.split = 'validation'""").first()[0]
    assert scorable > SYNTHETIC_VARS["item_item_tuning_max_users"]
    assert {r["val_users"] for r in tuning} == {SYNTHETIC_VARS["item_item_tuning_max_users"]}

    fit = spark.sql(f"""select user_id, movie_id, cast(rated_at as double) seconds
        from {R}.rating_splits where split in ('train', 'validation')""").toPandas()
    counts = fit.movie_id.value_counts()
    items = np.sort(counts[counts >= chosen[0]["min_ratings"]].index.to_numpy())
    fit = fit[fit.movie_id.isin(items)]
    tau, floor = chosen[0]["time_tau"], chosen[0]["time_floor"]
    g = np.zeros((len(items), len(items)))
    for _, mine in fit.groupby("user_id"):  # x = 1 (binary); every pair of the user's ratings
        at = np.searchsorted(items, mine.movie_id)
        dt = np.abs(mine.seconds.to_numpy()[:, None] - mine.seconds.to_numpy()[None, :])
        g[np.ix_(at, at)] += 1.0 if tau == 0 else floor + np.exp(-dt / tau)
    p = np.linalg.inv(g + chosen[0]["reg_lambda"] * np.eye(len(items)))
    expected = -p / np.diag(p)[None, :]
    np.fill_diagonal(expected, 0.0)

    stored = spark.sql(f"""select * from {R}.item_item_weights
        where scored_split = 'test'""").toPandas()
    assert len(stored) == len(items) == chosen[0]["items"]
    assert set(stored.reg_lambda) == {chosen[0]["reg_lambda"]}
    assert set(stored.time_tau) == {tau}
    for row in stored.itertuples():
        i = np.searchsorted(items, row.movie_id)
        got = np.zeros(len(items))
        got[np.searchsorted(items, row.neighbour_ids)] = row.weights
        assert np.allclose(got, expected[i], rtol=1e-3, atol=1e-5), row.movie_id


def test_top_k_is_served_by_the_best_validation_model(spark, synthetic_build):
    served = {r["job"]: r for r in rows(spark, f"select * from {R}.served_models")}
    validation = rows(
        spark,
        f"""select model, precision_at_k, ndcg_at_k, rmse
        from {R}.model_metrics where split = 'validation' and model != 'popularity'""",
    )
    best = max(validation, key=lambda r: (r["precision_at_k"], r["ndcg_at_k"]))
    assert served["top_k"]["model"] == best["model"]
    assert (
        served["rating"]["model"]
        == min((r for r in validation if r["rmse"] is not None), key=lambda r: r["rmse"])["model"]
    )


def test_fit_ratings_are_train_for_validation_and_train_plus_validation_for_test(
    spark, synthetic_build
):
    """recommender_fit_ratings, the one home of the fit rule, against the splits."""
    splits = {
        (r["user_id"], r["movie_id"], r["rating"], r["split"])
        for r in rows(spark, f"select user_id, movie_id, rating, split from {R}.rating_splits")
    }
    fits = rows(spark, f"select * from {R}.recommender_fit_ratings")
    for scored, fit_on in (("validation", {"train"}), ("test", {"train", "validation"})):
        got = [
            (r["user_id"], r["movie_id"], r["rating"]) for r in fits if r["scored_split"] == scored
        ]
        assert len(got) == len(set(got))
        assert set(got) == {(u, m, r) for u, m, r, split in splits if split in fit_on}
    assert {r["scored_split"] for r in fits} == {"validation", "test"}


def test_served_factors_are_the_served_models_refit_rows(spark, synthetic_build):
    """served_factors holds, for each job, every test-refit row of its served model (an ALS
    variant's of als_factors, the hybrid's of hybrid_factors), and none for item_item."""
    from movielake.algorithms import hybrid
    from movielake.spark import item_item

    columns = "side, id, features, bias, global_mean"
    for job, model in (
        (r["job"], r["model"]) for r in rows(spark, f"select job, model from {R}.served_models")
    ):
        got = sorted(
            tuple(r)
            for r in spark.sql(
                f"select {columns} from {R}.served_factors where job = '{job}'"
            ).collect()
        )
        if model == item_item.MODEL:
            assert got == []
            continue
        table = "hybrid_factors" if model == hybrid.MODEL else "als_factors"
        expected = sorted(
            tuple(r)
            for r in spark.sql(
                f"select {columns} from {R}.{table} where scored_split = 'test' "
                f"and model = '{model}'"
            ).collect()
        )
        assert got and got == expected
        assert {
            r["model"]
            for r in rows(
                spark, f"select distinct model from {R}.served_factors where job = '{job}'"
            )
        } == {model}


def test_recommendations_come_from_the_served_model(spark, synthetic_build):
    """recommendations equals the served top-K model's own top-K for each user (ALS variant:
    user . item factors; item_item: train + validation ratings times B)."""
    from movielake.spark import als, item_item

    served = rows(spark, f"select model from {R}.served_models where job = 'top_k'")[0]["model"]
    seen = spark.table(f"{R}.rating_splits")
    if served == item_item.MODEL:
        fit = seen.where("split in ('train', 'validation')")
        top = item_item.top_k_unseen(
            spark.table(f"{R}.item_item_weights").where("scored_split = 'test'"), fit, seen, 10
        )
    else:
        top = als.top_k_unseen(
            spark.table(f"{R}.als_factors").where(f"scored_split = 'test' and model = '{served}'"),
            seen,
            10,
        )
    expected = {(r["user_id"], r["rank"], r["movie_id"]) for r in top.collect()}
    got = {
        (r["user_id"], r["rank"], r["movie_id"])
        for r in rows(spark, f"select user_id, rank, movie_id from {R}.recommendations")
    }
    assert got == expected


def test_recommendations_are_top_k_unseen_with_titles(spark, synthetic_build):
    recs = rows(spark, f"select * from {R}.recommendations")
    users = rows(spark, f"select count(distinct user_id) n from {R}.rating_splits")[0]["n"]
    assert len(recs) == users * 10
    assert all(r["title"].startswith("Synthetic Movie") for r in recs)
    assert (
        rows(
            spark,
            f"""select count(*) n from {R}.recommendations r
        inner join {R}.rating_splits s on r.user_id = s.user_id and r.movie_id = s.movie_id""",
        )[0]["n"]
        == 0
    )
    first = sorted((r for r in recs if r["user_id"] == recs[0]["user_id"]), key=lambda r: r["rank"])
    assert [r["rank"] for r in first] == list(range(1, 11))
    assert all(a["score"] >= b["score"] for a, b in zip(first, first[1:]))


def test_every_recommendation_says_why_as_the_driver_side_rule_does(spark, synthetic_build):
    """The table's reasons, computed on the executors, are movielake.serving.explain's on the driver
    (the rule my_recommendations, the CLI and the app use), and each names a movie the user
    rated in the data the served model was fit on."""
    import pandas as pd

    from movielake.serving.explain import Explainer

    recs = spark.table(f"{R}.recommendations").toPandas()
    served = rows(spark, f"select model from {R}.served_models where job = 'top_k'")[0]["model"]
    if served == "item_item":
        items = spark.table(f"{R}.item_item_weights").where("scored_split = 'test'").toPandas()
        settings = items.iloc[0].to_dict()
    else:
        items = (
            spark.table(f"{R}.served_factors")
            .where("job = 'top_k' and side = 'item'")
            .orderBy("id")
            .toPandas()
        )
        settings = {"model": served}
    hybrid_items = (
        spark.table(f"{R}.hybrid_factors")
        .where("scored_split = 'test' and side = 'item'")
        .orderBy("id")
        .toPandas()
    )
    tags = spark.table(f"{R}.movie_top_tags").toPandas()
    assert len(tags) and tags.groupby("movie_id")["tag_rank"].max().le(10).all()
    titles = spark.table(f"{SYNTHETIC_SCHEMA}_staging.stg_movielens__movies").toPandas()
    title = dict(zip(titles.movie_id, titles.title))
    explainer = Explainer(items, settings, hybrid_items, tags, title)
    fit = spark.table(f"{R}.recommender_fit_ratings").where("scored_split = 'test'").toPandas()
    for user, places in recs.groupby("user_id"):
        mine = fit[fit.user_id == user]
        ratings = dict(zip(mine.movie_id.astype(int), mine.rating.astype(float)))
        for r in places.itertuples():
            expected, because = explainer.reason(ratings, int(r.movie_id), bool(r.new_movie))
            assert (None if pd.isna(r.reason) else r.reason) == expected, (user, r.rank)
            assert because in ratings and r.reason == f"because you rated {title[because]}"


def _factors(spark, model):
    table = spark.sql(f"""select side, id, features from {R}.als_factors
        where model = '{model}' and scored_split = 'test'""").toPandas()
    items = table[table.side == "item"].set_index("id")["features"]
    users = table[table.side == "user"].set_index("id")["features"]
    settings = rows(
        spark,
        f"""select distinct reg_param, alpha from {R}.als_factors
        where model = '{model}'""",
    )[0]
    return items, users, settings


@pytest.mark.parametrize("model", ["als_explicit", "als_implicit"])
def test_fold_in_reproduces_the_trained_user_factors(spark, synthetic_build, model):
    """ALS's last half-step solves each user's factor from the final item factors: folding a
    training user in with the same objective must give the same vector back."""
    items, users, settings = _factors(spark, model)
    fit = spark.sql(f"""select user_id, movie_id, rating from {R}.rating_splits
        where split in ('train', 'validation')""").toPandas()
    all_items = np.vstack(items.to_numpy())
    for user_id in sorted(users.index)[:5]:
        mine = fit[fit.user_id == user_id]
        y = np.vstack(items.loc[mine.movie_id].to_numpy())
        got = fold_in(
            y,
            mine.rating.to_numpy(),
            settings["reg_param"],
            implicit=model == "als_implicit",
            alpha=settings["alpha"],
            all_item_factors=all_items,
        )
        expected = np.array(users.loc[user_id])
        assert np.allclose(got, expected, rtol=1e-3, atol=1e-4), (user_id, got, expected)


def test_fold_in_of_a_training_user_reproduces_als_residual(spark, synthetic_build):
    """personal.recommend's path for als_residual, given a training user's own ratings: the
    user's damped bias (baseline.new_user_bias) is the one popularity_biases stored, and the
    folded-in scores are the trained model's, mu + b_u + b_i + x_u . y_i."""
    table = spark.sql(f"""select * from {R}.als_factors
        where model = 'als_residual' and scored_split = 'test'""").toPandas()
    items = table[table.side == "item"].reset_index(drop=True)
    users = table[table.side == "user"].set_index("id")
    settings = table.iloc[0].to_dict()
    stored = {
        r["entity_id"]: r["bias"]
        for r in rows(
            spark,
            f"""select entity_id, bias
        from {R}.popularity_biases where scored_split = 'test' and entity = 'user'""",
        )
    }
    fit = spark.sql(f"""select user_id, movie_id, rating from {R}.rating_splits
        where split in ('train', 'validation')""").toPandas()
    item_bias = items.set_index("id")["bias"]
    item_factors = np.vstack(items["features"].to_numpy())
    mean = float(settings["global_mean"])
    assert mean != 0 and item_bias.abs().sum() > 0  # the residual model carries the baseline
    checked = 0
    for user_id in sorted(users.index)[:5]:
        mine = fit[fit.user_id == user_id]
        bias = new_user_bias(
            mine.rating.to_numpy(),
            mean,
            item_bias.loc[mine.movie_id].to_numpy(),
            float(settings["user_damping"]),
        )
        assert bias == pytest.approx(stored[user_id], abs=1e-9)
        assert bias == pytest.approx(users.loc[user_id, "bias"], abs=1e-9)

        labelled = [("train", int(m), float(r)) for m, r in zip(mine.movie_id, mine.rating)]
        top = recommend(items, settings, labelled, k=len(items))
        trained = (
            mean
            + bias
            + items["bias"].to_numpy()
            + item_factors @ np.array(users.loc[user_id, "features"])
        )
        expected = dict(zip(items["id"].astype(int), trained))
        assert len(top) == len(items) - len(mine)
        for movie, score in top:
            assert score == pytest.approx(expected[movie], rel=1e-3, abs=1e-3), (user_id, movie)
        checked += 1
    assert checked == 5


def test_item_item_fold_in_reproduces_the_model_scores_of_training_users(spark, synthetic_build):
    """Fold-in for item_item is the user's ratings times B: a training user folded in from
    their train + validation ratings gets the top-K the model itself scores for them."""
    from movielake.serving.personal import recommend
    from movielake.spark import item_item

    weights_df = spark.table(f"{R}.item_item_weights").where("scored_split = 'test'")
    weights = weights_df.toPandas()
    fit = spark.table(f"{R}.rating_splits").where("split in ('train', 'validation')")
    users = fit.select("user_id").distinct().orderBy("user_id").limit(5)
    model_top = item_item.top_k_unseen(weights_df, fit, fit, 10, users=users).toPandas()
    mine = fit.join(users, "user_id").toPandas()
    for user_id, ratings in mine.groupby("user_id"):
        got = recommend(
            weights,
            weights.iloc[0].to_dict(),
            [("r", int(m), float(r)) for m, r in zip(ratings.movie_id, ratings.rating)],
            10,
        )
        expected = model_top[model_top.user_id == user_id].sort_values("rank")
        assert [m for m, _ in got] == expected.movie_id.tolist(), user_id
        assert np.allclose([s for _, s in got], expected.score, rtol=1e-4, atol=1e-6)


def test_a_new_user_is_served_the_fold_in_shrunk_towards_popularity(spark, synthetic_build):
    """The readers without Spark (the CLI, the app, the stream) get the served top-K model with
    served_models' k and each movie's fit ratings, and a new user's list is the fold-in's
    scores blended with popularity by w(n) = n / (n + k); the rating model is not blended."""
    from movielake.algorithms import ease
    from movielake.algorithms.shrinkage import shrunk
    from movielake.serving.lake import Lake

    served = rows(spark, f"select * from {R}.served_models where job = 'top_k'")[0]
    lake = Lake(SYNTHETIC_SCHEMA)
    items, settings = lake.served_item_factors("top_k")
    assert served["new_user_shrinkage"] is not None  # every top-K model has a fold-in k
    assert settings["new_user_shrinkage"] == served["new_user_shrinkage"]
    counts = {
        r["entity_id"]: r["n_ratings"]
        for r in rows(
            spark,
            f"""select entity_id, n_ratings from {R}.popularity_biases
            where scored_split = 'test' and entity = 'movie'""",
        )
    }
    key = "movie_id" if served["model"] == ease.MODEL else "id"
    assert items["popularity"].tolist() == [float(counts.get(m, 0)) for m in items[key]]

    movie = int(max(counts, key=lambda m: (counts[m], -m)))  # one rating, of the most rated
    if served["model"] == ease.MODEL:
        ids, raw = ease.fold_in_scores(items, [movie], [4.0], settings["weighting"])
    else:
        ids = items["id"].to_numpy()
        factors = np.vstack(items["features"].to_numpy())
        user = fold_in(
            factors[ids == movie],
            np.array([4.0]),
            settings["reg_param"],
            implicit=True,
            alpha=settings["alpha"],
            all_item_factors=factors,
        )
        raw = factors @ user
    popularity = items.set_index(key)["popularity"].reindex(ids).to_numpy()
    expected = shrunk(raw, popularity, 1, settings["new_user_shrinkage"])
    order = [int(ids[i]) for i in np.lexsort((ids, -expected)) if ids[i] != movie][:10]
    got = recommend(items, settings, [("mine", movie, 4.0)], 10)
    assert [m for m, _ in got] == order
    assert np.allclose([s for _, s in got], [expected[list(ids).index(m)] for m in order])
    _, rating = lake.served_item_factors("rating")
    assert rating.get("new_user_shrinkage") is None


def test_my_recommendations_exclude_the_rated_movies(spark, synthetic_build):
    mine = rows(spark, f"select * from {R}.my_recommendations order by rank")
    rated = {
        r["movie_id"]
        for r in rows(spark, f"select movie_id from {SYNTHETIC_SCHEMA}_seeds.my_ratings")
    }
    assert [r["rank"] for r in mine] == list(range(1, 11))
    assert not rated & {r["movie_id"] for r in mine}
    assert all(r["title"].startswith("Synthetic Movie") for r in mine)


def test_cli_recommend_prints_titles_and_names_bad_rows(
    spark, synthetic_build, tmp_path, monkeypatch, capsys
):
    from movielake.cli import main

    monkeypatch.setenv("MOVIELAKE_SCHEMA", SYNTHETIC_SCHEMA)
    # the seed's ratings through the CLI give the list the dbt model stored
    assert main(["recommend", "--ratings", str(PROJECT / "seeds" / "my_ratings.csv")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 10 and all("Synthetic Movie" in line for line in out)
    printed = [int(line.split("(movie ")[1].split(",")[0]) for line in out]
    stored = rows(spark, f"select movie_id, reason from {R}.my_recommendations order by rank")
    assert printed == [r["movie_id"] for r in stored]
    # and each line ends with the stored reason, "because you rated <a rated movie>"
    rated = {
        r["title"]
        for r in rows(
            spark,
            f"""select title
        from {SYNTHETIC_SCHEMA}_seeds.my_ratings mine
        join {SYNTHETIC_SCHEMA}_staging.stg_movielens__movies using (movie_id)""",
        )
    }
    for line, row in zip(out, stored):
        assert row["reason"] and line.endswith(")  " + row["reason"])
        assert row["reason"].removeprefix("because you rated ") in rated

    bad = tmp_path / "bad.csv"
    bad.write_text("movie_id,rating\n1,5.0\n100000,4.0\n")
    assert main(["recommend", "--ratings", str(bad)]) == 1
    assert "bad.csv line 3: unknown movie id 100000" in capsys.readouterr().err
    bad.write_text("movie_id,rating\n1,7\n")
    assert main(["recommend", "--ratings", str(bad)]) == 1
    assert "bad.csv line 2: rating 7.0 is off the scale" in capsys.readouterr().err


def test_rebuilding_gives_the_same_splits_tuning_and_metrics(
    spark, dbt, synthetic_release, synthetic_build
):
    """Fixed seeds: a second build of the splits and of every model between them and the
    metrics reproduces them. Runs last in this module because it rewrites the shared tables
    (with equal content)."""

    def snapshot():
        splits = rows(
            spark,
            f"""select split, count(*) n, sum(hash(user_id, movie_id)) h
            from {R}.rating_splits group by split order by split""",
        )
        tuning = rows(
            spark,
            f"""select model, rank, reg_param, alpha, val_rmse, val_mae,
            val_precision_at_k, rung, selected from {R}.als_tuning
            order by model, rung, rank, reg_param""",
        )
        metrics = rows(spark, f"select * from {R}.model_metrics order by model, split")
        return splits, tuning, metrics

    before = snapshot()
    result = dbt(
        "run",
        "--full-refresh",
        "--select",
        "rating_splits+,+model_metrics",
        schema=SYNTHETIC_SCHEMA,
        vars={"dataset": "synthetic", "raw_dir": str(synthetic_release), **SYNTHETIC_VARS},
    )
    assert result.success
    after = snapshot()
    assert after[0] == before[0]
    for old, new in zip(before[1] + before[2], after[1] + after[2]):
        assert new.keys() == old.keys()
        for key, value in old.items():
            if isinstance(value, float):
                assert new[key] == pytest.approx(value, rel=1e-9, abs=1e-12), (old, key)
            else:
                assert new[key] == value, (old, key)
    assert len(after[1]) == len(before[1]) and len(after[2]) == len(before[2])


def test_ended_sessions_als_checkpoints_are_removed(spark, lake_home):
    """A killed or ended session's checkpoint folder does not stay forever: the next ALS fit's
    set-up removes every folder but its own session's."""
    from pathlib import Path

    from movielake.spark import als

    folder = lake_home / "tmp" / "checkpoints"
    stale = folder / "ended-session" / "rdd-7"
    stale.mkdir(parents=True)
    (stale / "part-00000").write_bytes(b"x" * 1024)
    als.set_checkpoint_dir(spark)
    current = Path(spark.sparkContext.getCheckpointDir().removeprefix("file:")).resolve()
    assert [p.resolve() for p in folder.iterdir()] == [current]
