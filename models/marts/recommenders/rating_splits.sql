-- Every rating assigned to train, validation or test, deterministically from `split_seed`.
-- Release ratings (stg_movielens__ratings), by `split_strategy`:
--   random: per user, each rating draws a seeded hash; the user's lowest draw always goes to
--   train (so every user has train data), users with fewer than 3 ratings keep all in train.
--   temporal: per user, the latest ratings go to test, the ones before them to validation.
-- Streamed ratings (stg_stream__ratings) of a new (user, movie) take their split from the
-- seeded hash alone, so no earlier row ever moves; a streamed re-rating keeps the pair's split
-- and the latest rating wins (a tie in time goes to the streamed one).
-- Incremental: a run merges only the streamed rows of bronze versions it has not seen; a full
-- refresh computes the same table from scratch.
{%- set strategy = var('split_strategy') %}
{%- set validation = var('split_validation_fraction') | float %}
{%- set test = var('split_test_fraction') | float %}
{%- if strategy not in ('random', 'temporal') %}
    {{ exceptions.raise_compiler_error("split_strategy must be 'random' or 'temporal', got '" ~ strategy ~ "'") }}
{%- endif %}
{{ config(
    materialized='incremental',
    incremental_strategy='merge',
    unique_key=['user_id', 'movie_id'],
    on_schema_change='fail',
    meta={'incremental_inputs': {
        'from': ['release', 'stream'],
        'vars': ['dataset', 'raw_dir', 'split_strategy', 'split_seed',
                 'split_validation_fraction', 'split_test_fraction']}},
    post_hook="{{ record_incremental_inputs() }}"
) }}
{%- set draw -%}
    pmod(xxhash64({{ var('split_seed') }}, user_id, movie_id), 1000000) / 1000000.0
{%- endset %}

with release_ratings as (
    select
        user_id,
        movie_id,
        rating,
        rated_at,
        -- uniform in [0, 1) from the seed and the pair: the same every build
        {{ draw }} as draw
    from {{ ref('stg_movielens__ratings') }}
),

streamed_ratings as (
    select
        user_id,
        movie_id,
        rating,
        rated_at,
        bronze_version,
        bronze_row_id
    from {{ ref('stg_stream__ratings') }}
    {% if is_incremental() %}
        where bronze_version > (select coalesce(max(done.streamed_version), -1) from {{ this }} as done)
    {% endif %}
),

-- read only on a full build
ranked as (  -- noqa: ST03
    select
        *,
        count(*) over (partition by user_id) as user_ratings,
        row_number() over (partition by user_id order by draw, movie_id) as draw_rank,
        row_number() over (partition by user_id order by rated_at desc, movie_id desc) as recency_rank
    from release_ratings
),

-- what the table holds before this run: everything on a full build, else the table itself
current_splits as (
    {% if is_incremental() %}
        select
            user_id,
            movie_id,
            rating,
            rated_at,
            split,
            streamed_version
        from {{ this }}
    {% else %}
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
            end as split,
            cast(null as bigint) as streamed_version
        from ranked
    {% endif %}
),

-- each pair's latest streamed rating among the rows taken, and the newest version touching it
latest_streamed as (
    select
        user_id,
        movie_id,
        rating,
        rated_at,
        {{ draw }} as draw,
        max(bronze_version) over (partition by user_id, movie_id) as streamed_version,
        row_number() over (
            partition by user_id, movie_id
            order by rated_at desc, bronze_version desc, bronze_row_id desc
        ) as recency
    from streamed_ratings
),

streamed_pairs as (
    select
        user_id,
        movie_id,
        rating,
        rated_at,
        draw,
        streamed_version
    from latest_streamed
    where recency = 1
),

merged as (
    select
        coalesce(current_splits.user_id, streamed_pairs.user_id) as user_id,
        coalesce(current_splits.movie_id, streamed_pairs.movie_id) as movie_id,
        case
            when streamed_pairs.user_id is null then current_splits.rating
            when current_splits.user_id is null then streamed_pairs.rating
            when streamed_pairs.rated_at >= current_splits.rated_at then streamed_pairs.rating
            else current_splits.rating
        end as rating,
        -- greatest skips nulls: either side alone, or the later of the two
        greatest(streamed_pairs.rated_at, current_splits.rated_at) as rated_at,
        coalesce(
            current_splits.split,
            case
                when streamed_pairs.draw < {{ test }} then 'test'
                when streamed_pairs.draw < {{ test + validation }} then 'validation'
                else 'train'
            end
        ) as split,
        greatest(streamed_pairs.streamed_version, current_splits.streamed_version) as streamed_version
    from streamed_pairs
    -- incremental: only the pairs the new rows touch are rewritten (merged on the pair)
    {{ 'left' if is_incremental() else 'full outer' }} join current_splits
        on
            streamed_pairs.user_id = current_splits.user_id
            and streamed_pairs.movie_id = current_splits.movie_id
)

select
    user_id,
    movie_id,
    rating,
    rated_at,
    split,
    streamed_version
from merged
