-- Each genome movie's tag genome as one vector: its relevance to every genome tag, in tag id
-- order (a pair the staging quarantined counts as 0 relevance, so vectors stay aligned).
-- Built as (movie x tag) grid left join scores, then one sorted list per movie: a lookup per
-- tag in a per-movie map would scan the map (Spark's map access is linear), tags^2 per movie.
with scores as (
    select
        movie_id,
        tag_id,
        relevance
    from {{ ref('stg_movielens__genome_scores') }}
),

genome_tags as (
    select tag_id
    from {{ ref('stg_movielens__genome_tags') }}
),

genome_movies as (
    select distinct movie_id
    from scores
),

grid as (
    select
        genome_movies.movie_id,
        genome_tags.tag_id
    from genome_movies
    cross join genome_tags
),

filled as (
    select
        grid.movie_id,
        grid.tag_id,
        coalesce(scores.relevance, 0D) as relevance
    from grid
    left join scores
        on grid.movie_id = scores.movie_id and grid.tag_id = scores.tag_id
)

select
    movie_id,
    transform(
        array_sort(collect_list(struct(tag_id, relevance))), entry -> entry.relevance
    ) as genome
from filled
group by movie_id
