-- One row per genre: how many movies carry it, how often and how well they are rated. A movie
-- with several genres counts in each.
with movies_per_genre as (
    select
        genre,
        count(*) as movies_count
    from {{ ref('int_movie_genres_exploded') }}
    group by genre
),

ratings_per_genre as (
    select
        g.genre,
        {{ rating_aggregates('r.rating') }},
        count(distinct r.movie_id) as rated_movies_count,
        count(distinct r.user_id) as users_count
    from {{ ref('int_ratings_enriched') }} as r
    inner join {{ ref('int_movie_genres_exploded') }} as g
        on r.movie_id = g.movie_id
    group by g.genre
),

all_ratings as (
    select count(*) as total_ratings
    from {{ ref('int_ratings_enriched') }}
)

select
    m.genre,
    m.movies_count,
    coalesce(r.rated_movies_count, 0) as rated_movies_count,
    coalesce(r.ratings_count, 0) as ratings_count,
    coalesce(r.users_count, 0) as users_count,
    r.mean_rating,
    r.rating_stddev,
    coalesce(r.ratings_count, 0) / a.total_ratings as share_of_ratings
from movies_per_genre as m
left join ratings_per_genre as r
    on m.genre = r.genre
cross join all_ratings as a
