select
    user_id,
    movie_id,
    tag,
    tagged_at
from {{ ref('base_movielens__tags') }}
where reject_reason is null
