"""The hybrid content + collaborative model and the cold-start evaluation, on the shared
synthetic build (conftest.synthetic_build). The synthetic release's genres, tags and genome
follow its hidden taste factors, so content carries a signal for the models to find."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import SYNTHETIC_SCHEMA, rows

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
        assert [g for g, flag in zip(vocabulary, row["genre_flags"]) if flag == 1.0] == \
            sorted(movies[movie_id]["genres"])
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
    best_cold = max(cold, key=lambda r: (r["val_precision_at_k"], r["val_ndcg_at_k"],
                                         -r["reg_lambda"]))
    assert {r["reg_lambda"] for r in rated} == {best_cold["reg_lambda"]}
    (chosen,) = [r for r in tuning if r["selected"]]
    assert chosen["val_precision_at_k"] == max(r["val_precision_at_k"] for r in rated)


def test_every_movie_gets_hybrid_factors_unrated_ones_from_content(spark, synthetic_build):
    for split, fit in (("validation", "('train')"), ("test", "('train', 'validation')")):
        items = {r["id"]: r for r in rows(spark, f"""select id, source, features
            from {R}.hybrid_factors where side = 'item' and scored_split = '{split}'""")}
        movies = {r["movie_id"] for r in rows(spark, f"select movie_id from {S}.stg_movielens__movies")}
        assert set(items) == movies
        rated = {r["movie_id"] for r in rows(spark, f"""select distinct movie_id
            from {R}.rating_splits where split in {fit}""")}
        als_items = {r["id"] for r in rows(spark, f"""select id from {R}.als_factors
            where model = 'als_implicit' and side = 'item' and scored_split = '{split}'""")}
        assert als_items <= rated
        assert {m for m, r in items.items() if r["source"] == "content"} == movies - als_items
        assert all(np.isfinite(r["features"]).all() and np.any(r["features"])
                   for r in items.values())


def test_movies_without_ratings_get_content_factors_and_a_score(spark, synthetic_build):
    """Every movie of the small release has ratings, so a tenth of them are made unrated here:
    their ALS factors withheld, as for a movie just added to the movies file."""
    from movielake import hybrid

    content = hybrid.Content(spark.table(f"{R}.movie_content_features").toPandas(), 128)
    factors = spark.table(f"{R}.als_factors").where(
        "model = 'als_implicit' and scored_split = 'validation'").toPandas()
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
    ranked = hybrid.top_k(users @ np.vstack(made["features"].to_numpy()).T,
                          made.index.to_numpy(), list(range(len(users))), len(made))
    per_user = ranked.groupby("user_id")["movie_id"].apply(set)
    assert len(per_user) == len(users)
    assert all(set(cold) <= movies for movies in per_user)


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
        mine = sorted((r for r in roles if r["user_id"] == user and r["role"] == "new_user"),
                      key=lambda r: r["user_rating_order"])
        assert [r["user_rating_order"] for r in mine] == list(range(1, len(mine) + 1))
        assert [r["rated_at"] for r in mine] == sorted(r["rated_at"] for r in mine)


def test_hybrid_ranks_cold_movies_better_than_content_popularity_and_random(spark,
                                                                            synthetic_build):
    metrics = {(r["scenario"], r["known_ratings"], r["model"]): r
               for r in rows(spark, f"select * from {R}.cold_start_metrics")}
    assert {m for s, _, m in metrics if s == "cold_movies"} == \
        {"hybrid", "content", "popularity", "random"}
    assert {(n, m) for s, n, m in metrics if s == "new_users"} == \
        {(n, m) for n in (1, 3, 5)
         for m in ("hybrid", "als_implicit", "content", "popularity", "random")}
    cold = {m: metrics[("cold_movies", 0, m)] for m in ("hybrid", "content", "popularity",
                                                        "random")}
    assert cold["hybrid"]["users_evaluated"] > 20
    for other in ("content", "popularity", "random"):
        assert cold["hybrid"]["ndcg_at_k"] > cold[other]["ndcg_at_k"], other
    for n in (1, 3, 5):
        assert metrics[("new_users", n, "hybrid")]["precision_at_k"] > \
            metrics[("new_users", n, "random")]["precision_at_k"]
