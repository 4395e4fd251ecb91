-- Each genome movie's tag genome as one vector: its relevance to every genome tag, in tag id
-- order (a pair the staging quarantined counts as 0 relevance, so vectors stay aligned).
with scores as (
    select
        movie_id,
        tag_id,
        relevance
    from {{ ref('stg_movielens__genome_scores') }}
),

genome_tags as (
    select array_sort(collect_list(tag_id)) as tag_ids
    from {{ ref('stg_movielens__genome_tags') }}
),

per_movie as (
    select
        movie_id,
        map_from_entries(collect_list(struct(tag_id, relevance))) as relevance_by_tag
    from scores
    group by movie_id
)

select
    per_movie.movie_id,
    transform(genome_tags.tag_ids, tag_id -> coalesce(per_movie.relevance_by_tag[tag_id], 0D))
        as genome
from per_movie
cross join genome_tags
