-- twin_pair_correlations: its 'twins' pairs are exactly user_twins' pairs, and no random pair
-- is a twin pair.
with twins as (
    select
        user_a,
        user_b
    from {{ ref('user_twins') }}
),

compared as (
    select
        pair_group,
        user_a,
        user_b
    from {{ ref('twin_pair_correlations') }}
)

select
    twins.user_a,
    twins.user_b,
    compared.pair_group
from twins
full outer join compared
    on twins.user_a = compared.user_a and twins.user_b = compared.user_b
where
    (compared.pair_group = 'twins' and twins.user_a is null)
    or (compared.pair_group = 'random' and twins.user_a is not null)
    or compared.pair_group is null
