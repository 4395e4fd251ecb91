-- The popularity baseline's rating prediction for every validation and test rating:
-- global mean + movie bias + user bias (a bias the fit data lacks counts as 0), clipped to
-- the lowest and highest rating in every split (the observed scale, not only the fit data's).
with rating_scale as (
    select
        min(rating) as low,
        max(rating) as high
    from {{ ref('rating_splits') }}
),

movies as (
    select * from {{ ref('popularity_biases') }}
    where entity = 'movie'
),

users as (
    select * from {{ ref('popularity_biases') }}
    where entity = 'user'
),

means as (
    select distinct
        scored_split,
        global_mean
    from {{ ref('popularity_biases') }}
)

select
    splits.split as scored_split,
    splits.user_id,
    splits.movie_id,
    splits.rating,
    least(
        rating_scale.high,
        greatest(rating_scale.low, means.global_mean + coalesce(movies.bias, 0) + coalesce(users.bias, 0))
    ) as prediction
from {{ ref('rating_splits') }} as splits
cross join rating_scale
inner join means on splits.split = means.scored_split
left join movies on splits.split = movies.scored_split and splits.movie_id = movies.entity_id
left join users on splits.split = users.scored_split and splits.user_id = users.entity_id
where splits.split in ('validation', 'test')
