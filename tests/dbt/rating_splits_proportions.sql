-- random split only (temporal: rating_splits_temporal_counts): fails when a held-out split's
-- share of the ratings is off its var by more than 3 points. On small data the tolerance
-- widens to 4 standard errors of a share of that many ratings.
with total as (
    select count(*) as ratings from {{ ref('rating_splits') }}
),

shares as (
    select
        split,
        count(*) / sum(count(*)) over () as held_out_share
    from {{ ref('rating_splits') }}
    group by split
),

targets as (
    select
        'validation' as split,
        {{ var('split_validation_fraction') }} as target_share
    union all
    select
        'test' as split,
        {{ var('split_test_fraction') }} as target_share
)

select
    targets.split,
    targets.target_share,
    coalesce(shares.held_out_share, 0) as held_out_share
from targets
cross join total
left join shares on targets.split = shares.split
where
    '{{ var('split_strategy') }}' = 'random'
    and abs(coalesce(shares.held_out_share, 0) - targets.target_share)
    > greatest(0.03, 4 * sqrt(targets.target_share * (1 - targets.target_share) / total.ratings))
