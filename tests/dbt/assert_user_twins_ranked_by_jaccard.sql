-- user_twins: pair_rank runs 1, 2, ... without gaps, and Jaccard never rises with the rank.
with ranked as (
    select
        pair_rank,
        jaccard,
        lag(pair_rank) over (order by pair_rank) as previous_rank,
        lag(jaccard) over (order by pair_rank) as previous_jaccard
    from {{ ref('user_twins') }}
)

select *
from ranked
where
    (previous_rank is null and pair_rank != 1)
    or pair_rank != previous_rank + 1
    or jaccard > previous_jaccard
