-- Every line of the links file, parsed, with the reason it is rejected (null when valid).
{%- set release = movielens_release() %}
{%- set layout = release.entities.links or {'separator': 'csv', 'fields': 3, 'header': none} %}

with lines as (
    {{ movielens_lines('links', layout) }}
),

parsed as (
    select
        *,
        {{ movielens_id('get(cells, 0)') }} as movie_id,
        trim(get(cells, 1)) as imdb_id,
        trim(get(cells, 2)) as tmdb_field
    from lines
),

row_checked as (
    select
        *,
        case
            {{ movielens_line_checks(layout) }}
            {{ movielens_id_reason('movie_id', 'movieId', 0) }}
            when not imdb_id rlike '^[0-9]{1,10}$'
                then concat('imdbId ', {{ movielens_quote('imdb_id') }}, ' is not a number')
            when tmdb_field != '' and {{ movielens_id('tmdb_field') }} is null
                then concat('tmdbId ', {{ movielens_quote('tmdb_field') }}, ' is not a positive integer')
        end as row_reject_reason
    from parsed
),

{{ movielens_known_movie_ctes('row_checked') }}

select
    source_file,
    line_number,
    line,
    movie_id,
    imdb_id,
    {{ movielens_id('tmdb_field') }} as tmdb_id,
    {{ movielens_keep_one(
        'known_reject_reason', 'movie_id', 'line_number',
        "concat('duplicate movieId ', movie_id, ' (its first line is kept)')"
    ) }} as reject_reason
from known_checked
