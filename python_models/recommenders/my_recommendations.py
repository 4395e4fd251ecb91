"""Top-K for a new user, from seeds/my_ratings.csv: the user is folded into the served ALS
model's item factors (regularised least squares, no retraining); rated movies are excluded.
`movielake recommend --ratings FILE` does the same from the stored tables."""

from movielake.personal import check_ratings, recommend
from movielake.recommenders import setting

COLUMNS = ["rank", "movie_id", "title", "score"]


def model(dbt, spark):
    k = setting("top_k", dbt.config.meta_get("top_k"), int)
    movies = dbt.ref("stg_movielens__movies").select("movie_id", "title").toPandas()
    mine = dbt.ref("my_ratings").toPandas()
    # a seed table keeps no line numbers (nor their order): name each row by its values
    rows = [(f"seeds/my_ratings.csv row movie_id={int(m)},rating={float(r)}", int(m), float(r))
            for m, r in zip(mine["movie_id"], mine["rating"])]
    check_ratings(rows, set(movies["movie_id"]))

    served = dbt.ref("served_models").where("job = 'top_k'").select("model")
    items = (dbt.ref("als_factors").where("scored_split = 'test' and side = 'item'")
             .join(served, "model").toPandas())
    top = recommend(items, items.iloc[0].to_dict() if len(items) else {}, rows, k)
    title = dict(zip(movies["movie_id"], movies["title"]))
    result = [(rank, movie, title[movie], score) for rank, (movie, score) in enumerate(top, 1)]
    return spark.createDataFrame(result, "rank int, movie_id int, title string, score double")
