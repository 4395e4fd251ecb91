-- Streamed ratings, appended: each run takes only the bronze rows of Delta versions after the
-- newest one already here (a commit's rows are all visible once its version is, so nothing is
-- skipped or taken twice). A full refresh copies them all, and so does the first run after the
-- stream was reset (a new bronze table: reset_stale_incremental_models).
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    meta={'incremental_inputs': {'from': ['stream']}},
    post_hook="{{ record_incremental_inputs() }}"
) }}

with bronze as (
    select
        bronze_row_id,
        bronze_version,
        user_id,
        movie_id,
        rating,
        rated_at,
        ingested_at
    from {{ source('stream', 'bronze_ratings') }}
)

select
    bronze.bronze_row_id,
    bronze.bronze_version,
    bronze.user_id,
    bronze.movie_id,
    bronze.rating,
    bronze.rated_at,
    bronze.ingested_at
from bronze
{% if is_incremental() %}
    where bronze.bronze_version > (select coalesce(max(done.bronze_version), -1) from {{ this }} as done)
{% endif %}
