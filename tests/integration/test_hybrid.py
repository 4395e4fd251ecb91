"""The hybrid content + collaborative model and the cold-start evaluation, on the shared
synthetic build (conftest.synthetic_build). The synthetic release's genres, tags and genome
follow its hidden taste factors, so content carries a signal for the models to find."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import SYNTHETIC_SCHEMA, rows
from movielake.spark.metrics import comparable

R = f"{SYNTHETIC_SCHEMA}_recommenders"
S = f"{SYNTHETIC_SCHEMA}_staging"


def test_content_features_describe_every_movie(spark, synthetic_build):
    movies = {r["movie_id"]: r for r in rows(spark, f"select * from {S}.stg_movielens__movies")}
    features = {r["movie_id"]: r for r in rows(spark, f"select * from {R}.movie_content_features")}
    assert set(features) == set(movies)
    vocabulary = next(iter(features.values()))["genre_vocabulary"]
    assert vocabulary == sorted({g for m in movies.values() for g in m["genres"]})
    tagged = {r["movie_id"] for r in rows(spark, f"select movie_id from {S}.stg_movielens__tags")}
    for movie_id, row in features.items():
        assert [g for g, flag in zip(vocabulary, row["genre_flags"]) if flag == 1.0] == sorted(
            movies[movie_id]["genres"]
        )
        assert row["release_year"] == movies[movie_id]["release_year"]
        assert bool(row["tag_buckets"]) == (movie_id in tagged)
        if row["tag_buckets"]:
            assert row["tag_buckets"] == sorted(row["tag_buckets"])
            assert all(0 <= b < 128 for b in row["tag_buckets"])
            assert np.linalg.norm(row["tag_weights"]) == pytest.approx(1.0)


def test_hybrid_tuning_picks_one_penalty_and_blend(spark, synthetic_build):
    tuning = rows(spark, f"select * from {R}.hybrid_tuning")
    cold = [r for r in tuning if r["stage"] == "cold_movies"]
    rated = [r for r in tuning if r["stage"] == "rated_movies"]
    assert sorted(r["reg_lambda"] for r in cold) == [1.0, 10.0, 100.0]
    assert sorted(r["blend"] for r in rated) == [0.0, 0.25, 0.5, 0.75]
    best_cold = max(
        cold, key=lambda r: (r["val_precision_at_k"], r["val_ndcg_at_k"], -r["reg_lambda"])
    )
    assert {r["reg_lambda"] for r in rated} == {best_cold["reg_lambda"]}
    (chosen,) = [r for r in tuning if r["selected"]]
    # The model's own key: metrics rounded (summation order moves the last bits), then the
    # smaller blend; a raw float max would let that noise pick between tied blends.
    best = max(
        rated, key=lambda r: (comparable(r["val_precision_at_k"], r["val_ndcg_at_k"]), -r["blend"])
    )
    assert chosen["blend"] == best["blend"]
    assert comparable(chosen["val_precision_at_k"]) == comparable(
        max(r["val_precision_at_k"] for r in rated)
    )


def test_every_movie_gets_hybrid_factors_unrated_ones_from_content(spark, synthetic_build):
    for split, fit in (("validation", "('train')"), ("test", "('train', 'validation')")):
        items = {
            r["id"]: r
            for r in rows(
                spark,
                f"""select id, source, features
            from {R}.hybrid_factors where side = 'item' and scored_split = '{split}'""",
            )
        }
        movies = {
            r["movie_id"] for r in rows(spark, f"select movie_id from {S}.stg_movielens__movies")
        }
        assert set(items) == movies
        rated = {
            r["movie_id"]
            for r in rows(
                spark,
                f"""select distinct movie_id
            from {R}.rating_splits where split in {fit}""",
            )
        }
        als_items = {
            r["id"]
            for r in rows(
                spark,
                f"""select id from {R}.als_factors
            where model = 'als_implicit' and side = 'item' and scored_split = '{split}'""",
            )
        }
        assert als_items <= rated
        assert {m for m, r in items.items() if r["source"] == "content"} == movies - als_items
        assert all(
            np.isfinite(r["features"]).all() and np.any(r["features"]) for r in items.values()
        )


def test_movies_without_ratings_get_content_factors_and_a_score(spark, synthetic_build):
    """Every movie of the small release has ratings, so a tenth of them are made unrated here:
    their ALS factors withheld, as for a movie just added to the movies file."""
    from movielake.algorithms import hybrid

    content = hybrid.Content(spark.table(f"{R}.movie_content_features").toPandas(), 128)
    factors = (
        spark.table(f"{R}.als_factors")
        .where("model = 'als_implicit' and scored_split = 'validation'")
        .toPandas()
    )
    items = factors[factors["side"] == "item"][["id", "features"]]
    users = np.vstack(factors[factors["side"] == "user"]["features"].to_numpy())
    tuned = rows(spark, f"select * from {R}.hybrid_tuning where selected")[0]
    cold = np.sort(items["id"].to_numpy())[::10]
    made = hybrid.item_factors(content, items, tuned["reg_lambda"], tuned["blend"], cold)
    assert set(made.loc[made["source"] == "content", "id"]) == set(cold)
    # a cold movie's factors are the map's prediction from the other movies, whatever the blend
    predicted = hybrid.item_factors(content, items, tuned["reg_lambda"], 1.0, cold)
    for frame in (made, predicted):
        frame.set_index("id", inplace=True)
    for movie in cold:
        assert np.allclose(made.loc[movie, "features"], predicted.loc[movie, "features"])
    # every user's ranking of the whole catalogue places every cold movie (a finite score)
    ranked = hybrid.top_k(
        users @ np.vstack(made["features"].to_numpy()).T,
        made.index.to_numpy(),
        list(range(len(users))),
        len(made),
    )
    per_user = ranked.groupby("user_id")["movie_id"].apply(set)
    assert len(per_user) == len(users)
    assert all(set(cold) <= movies for movies in per_user)


def test_new_movies_take_the_last_places_in_spark_and_in_a_fold_in(spark, synthetic_build):
    """With a tenth of the movies marked new (source 'content', as a movie just added to the
    movies file), recommendations' merge gives every user their served top 8 then their two
    best new movies by the hybrid; a new user's list (the CLI and the app) does the same."""
    from pyspark.sql import functions as F

    from movielake.algorithms import hybrid
    from movielake.serving.personal import new_movies, recommend, recommend_places
    from movielake.spark import als
    from movielake.spark import hybrid as spark_hybrid

    factors = spark.table(f"{R}.hybrid_factors").where("scored_split = 'test'")
    served = spark.table(f"{R}.recommendations").select("user_id", "rank", "movie_id", "score")
    # new movies are those no served list shows (no model but the hybrid can score them)
    listed = {r["movie_id"] for r in served.select("movie_id").distinct().collect()}
    ids = sorted(r["id"] for r in factors.where("side = 'item'").select("id").collect())
    fresh = [movie for movie in ids if movie not in listed][::2]
    assert len(fresh) >= 5
    marked = factors.withColumn(
        "source",
        F.when((F.col("side") == "item") & F.col("id").isin(fresh), F.lit(hybrid.NEW)).otherwise(
            F.col("source")
        ),
    )
    seen = spark.table(f"{R}.rating_splits").select("user_id", "movie_id")
    new = als.top_k_unseen(spark_hybrid.new_movie_factors(marked), seen, 2)
    merged = spark_hybrid.merge_new_movies(served, new, 10, 2).toPandas()
    served, new = served.toPandas(), new.toPandas()
    rated = seen.toPandas().groupby("user_id")["movie_id"].apply(set)
    assert merged["user_id"].nunique() == served["user_id"].nunique() == len(rated)
    for user, places in merged.groupby("user_id"):
        places = places.sort_values("rank")
        assert places["rank"].tolist() == list(range(1, 11))
        mine = served[served.user_id == user].sort_values("rank")
        assert places["movie_id"].tolist()[:8] == mine["movie_id"].tolist()[:8]
        best = new[new.user_id == user].sort_values("rank")["movie_id"].tolist()
        assert places["movie_id"].tolist()[8:] == best
        assert places["new_movie"].tolist() == [False] * 8 + [True] * 2
        assert set(best) <= set(fresh) and not set(best) & rated[user]

    # a new user: the hybrid's fold-in ranks the new movies, the served model the rest
    items = marked.where("side = 'item'").orderBy("id").toPandas()
    user = min(rated.index)
    fit = (
        spark.table(f"{R}.rating_splits")
        .where(f"split in ('train', 'validation') and user_id = {user}")
        .toPandas()
    )
    mine = [("r", int(m), float(r)) for m, r in zip(fit.movie_id, fit.rating)]
    picked = new_movies(items, mine, 2)
    assert len(picked) == 2 and {m for m, _ in picked} <= set(fresh)
    assert not {m for m, _ in picked} & set(fit.movie_id)
    everything = recommend(items, items.iloc[0].to_dict(), mine, len(items))
    assert picked == [(m, s) for m, s in everything if m in set(fresh)][:2]
    top_items = (
        spark.table(f"{R}.served_factors")
        .where("job = 'top_k' and side = 'item'")
        .orderBy("id")
        .toPandas()
    )
    if len(top_items):  # an ALS variant or the hybrid is served (item_item: weights instead)
        places = recommend_places(top_items, top_items.iloc[0].to_dict(), items, 2, mine, 10)
        top = recommend(top_items, top_items.iloc[0].to_dict(), mine, 10)
        assert [m for m, _, n in places if not n] == [
            m for m, _ in top if m not in {p for p, _ in picked}
        ][:8]
        assert [(m, s) for m, s, n in places if n] == picked


def test_cold_start_roles_hold_out_movies_and_users_whole(spark, synthetic_build):
    roles = rows(spark, f"select * from {R}.cold_start_splits")
    assert len(roles) == spark.table(f"{S}.stg_movielens__ratings").count()
    cold_movies = {r["movie_id"] for r in roles if r["role"] == "cold_movie"}
    fit = [r for r in roles if r["role"] == "fit"]
    assert not cold_movies & {r["movie_id"] for r in fit}
    movies = {r["movie_id"] for r in roles}
    assert len(cold_movies) / len(movies) == pytest.approx(0.1, abs=0.05)
    newcomers = {r["user_id"] for r in roles if r["role"] == "new_user"}
    assert newcomers and not newcomers & {r["user_id"] for r in fit}
    for user in newcomers:
        mine = sorted(
            (r for r in roles if r["user_id"] == user and r["role"] == "new_user"),
            key=lambda r: r["user_rating_order"],
        )
        assert [r["user_rating_order"] for r in mine] == list(range(1, len(mine) + 1))
        assert [r["rated_at"] for r in mine] == sorted(r["rated_at"] for r in mine)


def test_hybrid_ranks_cold_movies_better_than_content_popularity_and_random(spark, synthetic_build):
    metrics = {
        (r["scenario"], r["known_ratings"], r["model"]): r
        for r in rows(spark, f"select * from {R}.cold_start_metrics")
    }
    assert {m for s, _, m in metrics if s == "cold_movies"} == {
        "hybrid",
        "content",
        "popularity",
        "random",
    }
    fold_ins = ("hybrid", "als_implicit", "item_item")
    assert {(n, m) for s, n, m in metrics if s == "new_users"} == {
        (n, m)
        for n in (1, 3, 5)
        for m in (*fold_ins, *(f"{f}_shrunk" for f in fold_ins), "content", "popularity", "random")
    }
    cold = {
        m: metrics[("cold_movies", 0, m)] for m in ("hybrid", "content", "popularity", "random")
    }
    assert cold["hybrid"]["users_evaluated"] > 20
    for other in ("content", "popularity", "random"):
        assert cold["hybrid"]["ndcg_at_k"] > cold[other]["ndcg_at_k"], other
    for n in (1, 3, 5):
        assert (
            metrics[("new_users", n, "hybrid")]["precision_at_k"]
            > metrics[("new_users", n, "random")]["precision_at_k"]
        )


def test_new_user_shrinkage_is_tuned_on_validation_users_and_served(spark, synthetic_build):
    """new_user_tuning scores every k at every known count for each fold-in and selects the k
    with the best mean P@K (then NDCG@K, then the smaller k); served_models serves the served
    top-K model's k, and cold_start_metrics' shrunk rows use the same k: at k = 0 the shrunk
    model is the fold-in itself."""
    tuning = rows(spark, f"select * from {R}.new_user_tuning")
    grid = {0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0}
    chosen = {}
    for model in ("hybrid", "als_implicit", "item_item"):
        mine = [r for r in tuning if r["model"] == model]
        assert {(r["shrinkage"], r["known_ratings"]) for r in mine} == {
            (k, n) for k in grid for n in (1, 3, 5)
        }
        assert all(r["users_evaluated"] > 0 for r in mine)
        picked = {r["shrinkage"] for r in mine if r["selected"]}
        assert len(picked) == 1 and len([r for r in mine if r["selected"]]) == 3
        means = {
            k: comparable(
                np.mean([r["val_precision_at_k"] for r in mine if r["shrinkage"] == k]),
                np.mean([r["val_ndcg_at_k"] for r in mine if r["shrinkage"] == k]),
            )
            for k in grid
        }
        chosen[model] = max(grid, key=lambda k: (means[k], -k))
        assert picked == {chosen[model]}

    served = {r["job"]: r for r in rows(spark, f"select * from {R}.served_models")}
    assert served["rating"]["new_user_shrinkage"] is None
    assert served["top_k"]["new_user_shrinkage"] == chosen.get(served["top_k"]["model"])

    metrics = {
        (r["known_ratings"], r["model"]): r
        for r in rows(spark, f"select * from {R}.cold_start_metrics where scenario = 'new_users'")
    }
    for model, k in chosen.items():
        for n in (1, 3, 5):
            if k == 0:  # no shrinkage: the same lists
                for column in ("precision_at_k", "ndcg_at_k"):
                    assert metrics[(n, f"{model}_shrunk")][column] == pytest.approx(
                        metrics[(n, model)][column]
                    )
