-- temporal split only: exact, per user. A user with n >= 3 ratings holds out his latest
-- floor(n * test) ratings as test and the floor(n * (test + validation)) - floor(n * test)
-- before them as validation; fails on each user whose counts differ, too few as surely as
-- too many, and on a held-out rating older than one of the user's training ratings.
with per_user as (
    select
        user_id,
        count(*) as ratings,
        count_if(split = 'test') as test_ratings,
        count_if(split = 'validation') as validation_ratings,
        max(if(split = 'train', rated_at, null)) as last_train_at,
        min(if(split != 'train', rated_at, null)) as first_held_out_at
    from {{ ref('rating_splits') }}
    group by user_id
),

expected as (
    select
        *,
        if(ratings < 3, 0, floor(ratings * {{ var('split_test_fraction') }})) as expected_test,
        if(
            ratings < 3,
            0,
            floor(ratings * ({{ var('split_test_fraction') }} + {{ var('split_validation_fraction') }}))
            - floor(ratings * {{ var('split_test_fraction') }})
        ) as expected_validation
    from per_user
)

select *
from expected
where
    '{{ var('split_strategy') }}' = 'temporal'
    and (
        test_ratings != expected_test
        or validation_ratings != expected_validation
        or first_held_out_at < last_train_at
    )
