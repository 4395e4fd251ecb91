-- One row per (movie, genre); a movie without genres gets the MovieLens label for that, so
-- every movie is counted in the genre marts.
select
    movie_id,
    release_year,
    genre
from {{ ref('stg_movielens__movies') }}
    lateral view explode(
        case when size(genres) = 0 then array('(no genres listed)') else array_distinct(genres) end
    ) exploded as genre
