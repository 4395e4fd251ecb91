-- The cold-start evaluation's roles, deterministic from `split_seed`, independent of
-- rating_splits: a seeded `cold_start_movie_fraction` of movies is held out whole
-- (cold_movie: none of their ratings is fit on), and a seeded sample of up to
-- `cold_start_new_users` users (and at most a tenth of them) with at least
-- `cold_start_min_user_ratings` ratings (outside the cold movies) is held out whole too
-- (new_user: a model sees only their first few ratings, by time, and must rank the rest).
-- Everything else is `fit`.
with ratings as (
    select
        user_id,
        movie_id,
        rating,
        rated_at,
        pmod(xxhash64({{ var('split_seed') }}, 'cold movie', movie_id), 1000000) / 1000000.0
        < {{ var('cold_start_movie_fraction') }} as cold_movie
    from {{ ref('stg_movielens__ratings') }}
),

user_draws as (
    select
        user_id,
        row_number() over (
            order by pmod(xxhash64({{ var('split_seed') }}, 'new user', user_id), 1000000), user_id
        ) as draw_rank,
        count(*) over () as eligible_users
    from ratings
    where not cold_movie
    group by user_id
    having count(*) >= {{ var('cold_start_min_user_ratings') }}
),

new_users as (
    select user_id
    from user_draws
    where draw_rank <= least({{ var('cold_start_new_users') }}, ceil(eligible_users / 10))
)

select
    ratings.user_id,
    ratings.movie_id,
    ratings.rating,
    ratings.rated_at,
    case
        when ratings.cold_movie then 'cold_movie'
        when new_users.user_id is not null then 'new_user'
        else 'fit'
    end as role,  -- noqa: RF04
    -- a new user's ratings in the order they were made (1 = first), outside the cold movies
    if(
        new_users.user_id is not null and not ratings.cold_movie,
        row_number() over (
            partition by ratings.user_id, ratings.cold_movie
            order by ratings.rated_at, ratings.movie_id
        ),
        null
    ) as user_rating_order
from ratings
left join new_users on ratings.user_id = new_users.user_id
