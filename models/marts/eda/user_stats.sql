-- One row per user who rated: how much, how generously and over which period.
select
    user_id,
    {{ rating_aggregates() }},
    count(distinct rated_month) as active_months,
    min(rated_at) as first_rated_at,
    max(rated_at) as last_rated_at
from {{ ref('int_ratings_enriched') }}
group by user_id
