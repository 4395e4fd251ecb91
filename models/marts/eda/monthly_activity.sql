-- One row per calendar month from the first rating to the last, months without ratings
-- included (as zeros), so time series have no silent gaps.
with firsts as (
    select
        user_id,
        min(rated_month) as first_month
    from {{ ref('int_ratings_enriched') }}
    group by user_id
),

activity as (
    select
        rated_month as month_start,
        {{ rating_aggregates() }},
        count(distinct user_id) as active_users,
        count(distinct movie_id) as rated_movies
    from {{ ref('int_ratings_enriched') }}
    group by rated_month
),

newcomers as (
    select
        first_month as month_start,
        count(*) as new_users
    from firsts
    group by first_month
),

months as (
    select explode(sequence(min(month_start), max(month_start), interval 1 month)) as month_start
    from activity
)

select
    m.month_start,
    coalesce(a.ratings_count, 0) as ratings_count,
    coalesce(a.active_users, 0) as active_users,
    coalesce(n.new_users, 0) as new_users,
    sum(coalesce(n.new_users, 0)) over (order by m.month_start) as cumulative_users,
    coalesce(a.rated_movies, 0) as rated_movies,
    a.mean_rating
from months as m
left join activity as a
    on m.month_start = a.month_start
left join newcomers as n
    on m.month_start = n.month_start
