-- Every line of the tags file, parsed, with the reason it is rejected (null when valid).
{%- set release = movielens_release() %}
{%- set layout = release.entities.tags or {'separator': 'csv', 'fields': 4, 'header': none} %}

with lines as (
    select
        source_file,
        line_number,
        line,
        {{ movielens_fields('line', layout.separator) }} as cells
    from {{ source('movielens', 'tags') }}
    where not {{ movielens_is_header(layout) }}
),

parsed as (
    select
        *,
        {{ movielens_id('get(cells, 0)') }} as user_id,
        {{ movielens_id('get(cells, 1)') }} as movie_id,
        trim(get(cells, 2)) as tag,
        {{ movielens_epoch('get(cells, 3)') }} as tagged_epoch
    from lines
),

row_checked as (
    select
        *,
        case
            {{ movielens_line_checks(layout) }}
            when user_id is null
                then concat('userId ', {{ movielens_quote('get(cells, 0)') }}, ' is not a positive integer')
            when movie_id is null
                then concat('movieId ', {{ movielens_quote('get(cells, 1)') }}, ' is not a positive integer')
            when tag = '' then 'empty tag'
            when tagged_epoch is null
                then concat('timestamp ', {{ movielens_quote('get(cells, 3)') }}, ' is not epoch seconds')
        end as row_reject_reason
    from parsed
),

{{ movielens_known_movie_ctes('row_checked') }}

select
    source_file,
    line_number,
    line,
    user_id,
    movie_id,
    tag,
    timestamp_seconds(tagged_epoch) as tagged_at,
    known_reject_reason as reject_reason
from known_checked
