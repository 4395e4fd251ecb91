-- The valid ratings; a ratings file without any stops the build here (movielens_require_ratings).
{{ config(pre_hook="{{ movielens_require_ratings() }}") }}

select
    user_id,
    movie_id,
    rating,
    rated_at
from {{ ref('base_movielens__ratings') }}
where reject_reason is null
