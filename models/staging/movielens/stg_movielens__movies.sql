select
    movie_id,
    title,
    release_year,
    genres
from {{ ref('base_movielens__movies') }}
where reject_reason is null
