-- Every rating assigned to train, validation or test, deterministically from `split_seed`.
-- random: per user, each rating draws a seeded hash; the user's lowest draw always goes to
-- train (so every user has train data), users with fewer than 3 ratings keep all in train.
-- temporal: per user, the latest ratings go to test, the ones before them to validation.
{%- set strategy = var('split_strategy') %}
{%- set validation = var('split_validation_fraction') | float %}
{%- set test = var('split_test_fraction') | float %}
{%- if strategy not in ('random', 'temporal') %}
    {{ exceptions.raise_compiler_error("split_strategy must be 'random' or 'temporal', got '" ~ strategy ~ "'") }}
{%- endif %}

with ratings as (
    select
        user_id,
        movie_id,
        rating,
        rated_at,
        -- uniform in [0, 1) from the seed and the pair: the same every build
        pmod(xxhash64({{ var('split_seed') }}, user_id, movie_id), 1000000) / 1000000.0 as draw
    from {{ ref('stg_movielens__ratings') }}
),

ranked as (
    select
        *,
        count(*) over (partition by user_id) as user_ratings,
        row_number() over (partition by user_id order by draw, movie_id) as draw_rank,
        row_number() over (partition by user_id order by rated_at desc, movie_id desc) as recency_rank
    from ratings
)

select
    user_id,
    movie_id,
    rating,
    rated_at,
    case
        when user_ratings < 3 then 'train'
        {%- if strategy == 'random' %}
            when draw_rank = 1 then 'train'
            when draw < {{ test }} then 'test'
            when draw < {{ test + validation }} then 'validation'
        {%- else %}
            when recency_rank <= floor(user_ratings * {{ test }}) then 'test'
            when recency_rank <= floor(user_ratings * {{ test + validation }}) then 'validation'
        {%- endif %}
        else 'train'
    end as split
from ranked
