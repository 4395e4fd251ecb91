{#- The first `var('eda_top_n')` movies of movie_stats in `order_by` order, numbered from 1;
    `where` filters movies before ranking. Ties are broken by movie_id so runs agree. -#}
{% macro top_movies(order_by, where='true') %}
with ranked as (
    select
        row_number() over (order by {{ order_by }}, movie_id) as movie_rank,
        movie_id,
        title,
        release_year,
        genres,
        ratings_count,
        mean_rating,
        damped_mean_rating,
        rating_stddev
    from {{ ref('movie_stats') }}
    where {{ where }}
)

select *
from ranked
where movie_rank <= {{ var('eda_top_n') }}
{%- endmacro %}
