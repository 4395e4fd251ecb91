select
    movie_id,
    tag_id,
    relevance
from {{ ref('base_movielens__genome_scores') }}
where reject_reason is null
