-- The genre marts count each rating once per genre of its movie: genre_stats and both views of
-- genre_trends (by release year, by rating year) must agree with staging joined to the genres.
-- Ratings of movies without a release year have no release-year row, so that side compares
-- only the dated movies. Returns a row holding the figures when any disagrees.
with movie_genres as (
    select
        movie_id,
        release_year,
        size(array_distinct(genres)) as genre_count
    from {{ ref('stg_movielens__movies') }}
),

expected as (
    select
        -- a movie without genres counts once, as "(no genres listed)"
        coalesce(sum(greatest(m.genre_count, 1)), 0) as per_genre,
        coalesce(sum(if(m.release_year is null, 0, greatest(m.genre_count, 1))), 0) as per_genre_dated
    from {{ ref('stg_movielens__ratings') }} as r
    inner join movie_genres as m
        on r.movie_id = m.movie_id
),

genre_totals as (
    select coalesce(sum(ratings_count), 0) as per_genre
    from {{ ref('genre_stats') }}
),

trend_totals as (
    select
        coalesce(sum(if(year_kind = 'rating', ratings_count, 0)), 0) as per_genre,
        coalesce(sum(if(year_kind = 'release', ratings_count, 0)), 0) as per_genre_dated
    from {{ ref('genre_trends') }}
)

select
    e.per_genre as expected_per_genre,
    e.per_genre_dated as expected_per_genre_dated,
    g.per_genre as genre_stats_ratings,
    t.per_genre as trends_by_rating_year,
    t.per_genre_dated as trends_by_release_year
from expected as e
cross join genre_totals as g
cross join trend_totals as t
where
    e.per_genre != g.per_genre
    or e.per_genre != t.per_genre
    or e.per_genre_dated != t.per_genre_dated
