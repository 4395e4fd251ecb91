-- How many ratings give each number of stars, and their share of all ratings.
with per_value as (
    select
        rating,
        count(*) as ratings_count
    from {{ ref('int_ratings_enriched') }}
    group by rating
)

select
    rating,
    ratings_count,
    ratings_count / sum(ratings_count) over () as share_of_ratings,
    sum(ratings_count) over (order by rating) / sum(ratings_count) over () as cumulative_share
from per_value
