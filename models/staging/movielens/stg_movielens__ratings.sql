select
    user_id,
    movie_id,
    rating,
    rated_at
from {{ ref('base_movielens__ratings') }}
where reject_reason is null
