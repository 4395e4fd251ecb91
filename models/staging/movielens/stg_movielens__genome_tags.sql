select
    tag_id,
    tag
from {{ ref('base_movielens__genome_tags') }}
where reject_reason is null
