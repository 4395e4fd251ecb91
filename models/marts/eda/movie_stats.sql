-- One row per rated movie: how often and how well it is rated, and over which period.
with per_movie as (
    select
        movie_id,
        {{ rating_aggregates() }},
        sum(rating) as rating_total,
        min(rated_at) as first_rated_at,
        max(rated_at) as last_rated_at
    from {{ ref('int_ratings_enriched') }}
    group by movie_id
),

overall as (
    select avg(rating) as global_mean_rating
    from {{ ref('int_ratings_enriched') }}
)

select
    p.movie_id,
    m.title,
    m.release_year,
    m.genres,
    p.ratings_count,
    p.mean_rating,
    {{ damped_mean('p.rating_total', 'p.ratings_count', 'o.global_mean_rating') }} as damped_mean_rating,
    p.rating_stddev,
    p.first_rated_at,
    p.last_rated_at
from per_movie as p
inner join {{ ref('stg_movielens__movies') }} as m
    on p.movie_id = m.movie_id
cross join overall as o
