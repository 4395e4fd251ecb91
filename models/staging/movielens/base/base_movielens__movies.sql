-- Every line of the movies file, parsed, with the reason it is rejected (null when valid).
{%- set release = movielens_release() %}
{%- set layout = release.entities.movies %}
{%- set family = release.family %}

with lines as (
    {{ movielens_lines('movies', layout) }}
),

parsed as (
    select
        source_file,
        line_number,
        line,
        cells,
        record_issue,
        {{ movielens_id('get(cells, 0)') }} as movie_id,
        trim(get(cells, 1)) as raw_title,
        {%- if family == '100k' %}
            {{ movielens_genre_flags('cells', 5, release.genre_flags) }} as genres,
            {{ movielens_genre_flags_valid('cells', 5, release.genre_flags) }} as genres_valid
        {%- else %}
            {{ movielens_genres('get(cells, 2)') }} as genres,
            true as genres_valid
        {%- endif %}
    from lines
),

checked as (
    select
        *,
        case
            {{ movielens_line_checks(layout) }}
            {{ movielens_id_reason('movie_id', 'movieId', 0) }}
            when raw_title = '' then 'empty title'
            when not genres_valid then 'genre flags must be 0 or 1'
        end as row_reject_reason
    from parsed
)

select
    source_file,
    line_number,
    line,
    movie_id,
    {{ movielens_title('raw_title') }} as title,
    {{ movielens_year('raw_title') }} as release_year,
    genres,
    {{ movielens_keep_one(
        'row_reject_reason', 'movie_id', 'line_number',
        "concat('duplicate movieId ', movie_id, ' (its first line is kept)')"
    ) }} as reject_reason,
    {{ movielens_year_issue('raw_title') }} as release_year_issue
from checked
