-- Every EDA mart that partitions the ratings accounts for each staged rating exactly once, and
-- the per-movie and per-user marts cover every movie and user with a rating. Returns a row
-- holding all the figures when any of them disagrees.
with staged as (
    select
        count(*) as ratings_total,
        count(distinct movie_id) as movies_total,
        count(distinct user_id) as users_total
    from {{ ref('stg_movielens__ratings') }}
),

movie_totals as (
    select
        coalesce(sum(ratings_count), 0) as ratings_total,
        count(*) as movies_total
    from {{ ref('movie_stats') }}
),

user_totals as (
    select
        coalesce(sum(ratings_count), 0) as ratings_total,
        count(*) as users_total
    from {{ ref('user_stats') }}
),

distribution_totals as (
    select coalesce(sum(ratings_count), 0) as ratings_total
    from {{ ref('rating_distribution') }}
),

month_totals as (
    select
        coalesce(sum(ratings_count), 0) as ratings_total,
        coalesce(sum(new_users), 0) as users_total
    from {{ ref('monthly_activity') }}
),

bin_totals as (
    select coalesce(sum(movies_count), 0) as movies_total
    from {{ ref('rating_count_vs_mean') }}
),

bucket_totals as (
    select coalesce(sum(movies_count), 0) as movies_total
    from {{ ref('mean_rating_by_count_bucket') }}
)

select
    s.ratings_total as staged_ratings,
    s.movies_total as staged_movies,
    s.users_total as staged_users,
    mv.ratings_total as movie_stats_ratings,
    mv.movies_total as movie_stats_movies,
    u.ratings_total as user_stats_ratings,
    u.users_total as user_stats_users,
    d.ratings_total as distribution_ratings,
    mo.ratings_total as monthly_ratings,
    mo.users_total as monthly_new_users,
    bi.movies_total as hexbin_movies,
    bu.movies_total as bucket_movies
from staged as s
cross join movie_totals as mv
cross join user_totals as u
cross join distribution_totals as d
cross join month_totals as mo
cross join bin_totals as bi
cross join bucket_totals as bu
where
    s.ratings_total != mv.ratings_total
    or s.ratings_total != u.ratings_total
    or s.ratings_total != d.ratings_total
    or s.ratings_total != mo.ratings_total
    or s.movies_total != mv.movies_total
    or s.movies_total != bi.movies_total
    or s.movies_total != bu.movies_total
    or s.users_total != u.users_total
    or s.users_total != mo.users_total
