-- Per genre and year, how much and how well the genre is rated, once by the movies' release
-- year and once by the year the ratings were made (`year_kind`). `share_of_year_ratings` is the
-- genre's part of that year's ratings, comparable across years of very different volume.
{% set years = {'release': 'r.release_year', 'rating': 'r.rated_year'} %}
with genre_ratings as (
    select
        g.genre,
        r.movie_id,
        r.rating,
        r.release_year,
        r.rated_year
    from {{ ref('int_ratings_enriched') }} as r
    inner join {{ ref('int_movie_genres_exploded') }} as g
        on r.movie_id = g.movie_id
),

{% for kind, column in years.items() %}
    {{ kind }}_years as (
        select
            '{{ kind }}' as year_kind,
            r.genre,
            {{ column }} as calendar_year,
            {{ rating_aggregates('r.rating') }},
            count(distinct r.movie_id) as movies_count
        from genre_ratings as r
        where {{ column }} is not null
        group by r.genre, {{ column }}
    ),

    {{ kind }}_year_totals as (
        select
            {{ column }} as calendar_year,
            count(*) as year_ratings
        from {{ ref('int_ratings_enriched') }} as r
        where {{ column }} is not null
        group by {{ column }}
    ),
{% endfor %}

trends as (
    {% for kind in years %}
        select
            y.year_kind,
            y.genre,
            y.calendar_year,
            y.ratings_count,
            y.movies_count,
            y.mean_rating,
            y.rating_stddev,
            y.ratings_count / t.year_ratings as share_of_year_ratings
        from {{ kind }}_years as y
        inner join {{ kind }}_year_totals as t
            on y.calendar_year = t.calendar_year
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
)

select * from trends
