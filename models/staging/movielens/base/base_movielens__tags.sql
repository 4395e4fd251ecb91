-- Every line of the tags file, parsed, with the reason it is rejected (null when valid).
{%- set release = movielens_release() %}
{%- set layout = release.entities.tags or {'separator': 'csv', 'fields': 4, 'header': none} %}

with lines as (
    select
        source_file,
        line_number,
        line,
        {{ movielens_fields('line', layout.separator) }} as fields
    from {{ source('movielens', 'tags') }}
    where not {{ movielens_is_header(layout) }}
),

parsed as (
    select
        *,
        {{ movielens_id('get(fields, 0)') }} as user_id,
        {{ movielens_id('get(fields, 1)') }} as movie_id,
        trim(get(fields, 2)) as tag,
        {{ movielens_epoch('get(fields, 3)') }} as tagged_epoch
    from lines
),

row_checked as (
    select
        *,
        case
            {{ movielens_line_checks(layout) }}
            when user_id is null
                then concat('userId ', {{ movielens_quote('get(fields, 0)') }}, ' is not a positive integer')
            when movie_id is null
                then concat('movieId ', {{ movielens_quote('get(fields, 1)') }}, ' is not a positive integer')
            when tag = '' then 'empty tag'
            when tagged_epoch is null
                then concat('timestamp ', {{ movielens_quote('get(fields, 3)') }}, ' is not epoch seconds')
        end as row_reject_reason
    from parsed
),

movies as (
    select movie_id from {{ ref('base_movielens__movies') }} where reject_reason is null
)

select
    row_checked.source_file,
    row_checked.line_number,
    row_checked.line,
    row_checked.user_id,
    row_checked.movie_id,
    row_checked.tag,
    timestamp_seconds(row_checked.tagged_epoch) as tagged_at,
    coalesce(
        row_checked.row_reject_reason,
        if(movies.movie_id is null, concat('movieId ', row_checked.movie_id, ' is not in the movies file'), null)
    ) as reject_reason
from row_checked
left join movies on row_checked.movie_id = movies.movie_id
