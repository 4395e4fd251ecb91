-- Each rating with the facts about its movie and its time that the EDA marts group by.
select
    r.user_id,
    r.movie_id,
    r.rating,
    r.rated_at,
    trunc(r.rated_at, 'MM') as rated_month,
    year(r.rated_at) as rated_year,
    m.release_year
from {{ ref('stg_movielens__ratings') }} as r
inner join {{ ref('stg_movielens__movies') }} as m
    on r.movie_id = m.movie_id
