-- The best-rated movies by mean rating, among those with enough ratings to trust the mean.
{{ top_movies(
    order_by='mean_rating desc, ratings_count desc',
    where='ratings_count >= ' ~ var('eda_top_rated_min_ratings')
) }}
