"""Top-K for a new user, from seeds/my_ratings.csv, folded into the model served for top-K
(no retraining): an ALS variant's item factors (regularised least squares) or item_item's
weights (the ratings times B), shrunk towards popularity by how few ratings the user has
(served_models' new_user_shrinkage; movielake.algorithms.shrinkage); rated movies are
excluded. The last `new_movie_slots` places go to the best new movies by the hybrid, as in
`recommendations`; `reason` says why in one phrase (movielake.serving.explain). `movielake
recommend --ratings FILE` does the same from the stored tables."""

from movielake.serving.explain import Explainer
from movielake.serving.personal import (
    check_ratings,
    recommend_places,
    split_known,
    with_new_user_rule,
)
from movielake.spark import item_item
from movielake.spark.recommenders import setting

SCHEMA = "rank int, movie_id int, title string, score double, new_movie boolean, reason string"


def model(dbt, spark):
    k = setting("top_k", dbt.config.meta_get("top_k"), int)
    movies = dbt.ref("stg_movielens__movies").select("movie_id", "title").toPandas()
    mine = dbt.ref("my_ratings").toPandas()
    # a seed table keeps no line numbers (nor their order): name each row by its values
    rows = [
        (f"seeds/my_ratings.csv row movie_id={int(m)},rating={float(r)}", int(m), float(r))
        for m, r in zip(mine["movie_id"], mine["rating"])
    ]
    rows, notes = split_known(rows, set(movies["movie_id"]))
    for note in notes:
        print(f"my_recommendations: {note}", flush=True)
    if not rows:
        print(
            "my_recommendations: none of seeds/my_ratings.csv's movies is in this release: "
            "no recommendations",
            flush=True,
        )
        return spark.createDataFrame([], SCHEMA)
    check_ratings(rows, set(movies["movie_id"]))

    served = (
        dbt.ref("served_models")
        .where("job = 'top_k'")
        .select("model", "new_movie_slots", "new_user_shrinkage")
    )
    chosen = served.first()
    if chosen["model"] == item_item.MODEL:
        items = (
            dbt.ref("item_item_weights")
            .where("scored_split = 'test'")
            .join(served.select("model"), "model")
            .toPandas()
        )
    else:
        items = (
            dbt.ref("served_factors")
            .where("job = 'top_k' and side = 'item'")
            .orderBy("id")
            .toPandas()
        )
    slots = int(chosen["new_movie_slots"] or 0)
    new_items = (
        dbt.ref("hybrid_factors")
        .where("scored_split = 'test' and side = 'item'")
        .orderBy("id")
        .toPandas()
        if slots
        else None
    )
    settings = items.iloc[0].to_dict() if len(items) else {}
    popularity = (
        dbt.ref("popularity_biases")
        .where("scored_split = 'test' and entity = 'movie'")
        .select("entity_id", "n_ratings")
        .toPandas()
    )
    items, settings = with_new_user_rule(items, settings, popularity, chosen["new_user_shrinkage"])
    top = recommend_places(items, settings, new_items, slots, rows, k)
    title = dict(zip(movies["movie_id"], movies["title"]))
    explainer = Explainer(items, settings, new_items, dbt.ref("movie_top_tags").toPandas(), title)
    ratings = {movie: stars for _, movie, stars in rows}
    result = [
        (rank, movie, title[movie], score, is_new, explainer.reason(ratings, movie, is_new)[0])
        for rank, (movie, score, is_new) in enumerate(top, 1)
    ]
    return spark.createDataFrame(result, SCHEMA)
