-- Every line of the ratings file, parsed, with the reason it is rejected (null when valid).
-- Of several valid ratings of one movie by one user the latest is kept, the others rejected;
-- every field is checked first, so only valid lines compete.
{%- set release = movielens_release() %}
{%- set layout = release.entities.ratings %}

with lines as (
    {{ movielens_lines('ratings', layout) }}
),

parsed as (
    select
        *,
        {{ movielens_id('get(cells, 0)') }} as user_id,
        {{ movielens_id('get(cells, 1)') }} as movie_id,
        {{ movielens_number('get(cells, 2)') }} as rating,
        {{ movielens_epoch('get(cells, 3)') }} as rated_epoch
    from lines
),

row_checked as (
    select
        *,
        case
            {{ movielens_line_checks(layout) }}
            {{ movielens_id_reason('user_id', 'userId', 0) }}
            {{ movielens_id_reason('movie_id', 'movieId', 1) }}
            when rating is null
                then concat('rating ', {{ movielens_quote('get(cells, 2)') }}, ' is not a number')
            when rating < {{ release.rating_min }} or rating > {{ release.rating_max }}
                then concat('rating ', rating, ' outside {{ release.rating_min }}-{{ release.rating_max }}')
            when rating / {{ release.rating_step }} != floor(rating / {{ release.rating_step }})
                then concat('rating ', rating, ' is not a multiple of {{ release.rating_step }}')
            {{ movielens_time_reasons('rated_epoch', 3, release) }}
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
    rating,
    timestamp_seconds(rated_epoch) as rated_at,
    {{ movielens_keep_one(
        'known_reject_reason', 'user_id, movie_id', 'rated_epoch desc, line_number desc',
        "concat('duplicate rating of movie ', movie_id, ' by user ', user_id, ' (the latest is kept)')"
    ) }} as reject_reason
from known_checked
