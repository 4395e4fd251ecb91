-- monthly_activity has exactly one row per month from the month of the first staged rating to
-- the month of the last: it starts and ends there and has no gaps. Returns a row on mismatch.
with span as (
    select
        trunc(min(rated_at), 'MM') as first_month,
        trunc(max(rated_at), 'MM') as last_month
    from {{ ref('stg_movielens__ratings') }}
),

months as (
    select
        min(month_start) as first_month,
        max(month_start) as last_month,
        count(*) as month_rows
    from {{ ref('monthly_activity') }}
)

select
    s.first_month as expected_first,
    m.first_month as got_first,
    s.last_month as expected_last,
    m.last_month as got_last,
    m.month_rows
from span as s
cross join months as m
where
    s.first_month is not null
    and (
        m.first_month is null
        or s.first_month != m.first_month
        or s.last_month != m.last_month
        or m.month_rows != cast(months_between(s.last_month, s.first_month) as int) + 1
    )
