select
    movie_id,
    imdb_id,
    tmdb_id
from {{ ref('base_movielens__links') }}
where reject_reason is null
