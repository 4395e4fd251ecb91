-- The one rule for what a recommender is fit on, per split it is scored on: train for
-- 'validation' (tuning), train + validation for 'test' (the refit with the chosen settings).
-- Every recommender, SQL or Python, reads its fit data here. A view, not a table (it would
-- copy the ratings 1.9 times): a reader filtering on scored_split reads only its branch.
{{ config(materialized='view') }}

with splits as (
    select
        user_id,
        movie_id,
        rating,
        rated_at,
        split
    from {{ ref('rating_splits') }}
)

select
    'validation' as scored_split,
    user_id,
    movie_id,
    rating,
    rated_at
from splits
where split = 'train'
union all
select
    'test' as scored_split,
    user_id,
    movie_id,
    rating,
    rated_at
from splits
where split in ('train', 'validation')
