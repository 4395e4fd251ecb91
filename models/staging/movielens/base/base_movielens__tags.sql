-- Every line of the tags file, parsed, with the reason it is rejected (null when valid).
{%- set release = movielens_release() %}
{%- set layout = release.entities.tags or {'separator': 'csv', 'fields': 4, 'header': none} %}

with lines as (
    {{ movielens_lines('tags', layout) }}
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
            {{ movielens_id_reason('user_id', 'userId', 0) }}
            {{ movielens_id_reason('movie_id', 'movieId', 1) }}
            when tag = '' then 'empty tag'
            {{ movielens_time_reasons('tagged_epoch', 3, release) }}
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
