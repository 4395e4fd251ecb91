-- The movies rated most often.
{{ top_movies(order_by='ratings_count desc, mean_rating desc') }}
