-- Each movie's strongest tags by name, the words a recommendation is explained with
-- ("matches tags: dark, twist ending"; movielake.serving.explain). A movie in the tag genome takes
-- its most relevant genome tags (relevance at least `explain_min_relevance`); any other
-- movie its users' tags, most often given first. Users' tags are compared lower-cased, as
-- the genome's tag names are written.
with genome_scores as (
    select * from {{ ref('stg_movielens__genome_scores') }}
),

genome_tags as (
    select * from {{ ref('stg_movielens__genome_tags') }}
),

user_tags as (
    select * from {{ ref('stg_movielens__tags') }}
),

genome as (
    select
        genome_scores.movie_id,
        lower(trim(genome_tags.tag)) as tag,
        max(genome_scores.relevance) as weight,
        'genome' as tag_source
    from genome_scores
    inner join genome_tags on genome_scores.tag_id = genome_tags.tag_id
    where genome_scores.relevance >= {{ var('explain_min_relevance') }}
    group by genome_scores.movie_id, lower(trim(genome_tags.tag))
),

given as (
    select
        movie_id,
        lower(trim(tag)) as tag,
        cast(count(*) as double) as weight,
        'users' as tag_source
    from user_tags
    where trim(tag) != ''
    group by movie_id, lower(trim(tag))
),

genome_movies as (
    select distinct movie_id from genome
),

candidates as (
    select
        movie_id,
        tag,
        weight,
        tag_source
    from genome
    union all
    select
        given.movie_id,
        given.tag,
        given.weight,
        given.tag_source
    from given
    left join genome_movies on given.movie_id = genome_movies.movie_id
    where genome_movies.movie_id is null
),

ranked as (
    select
        movie_id,
        tag,
        tag_source,
        weight,
        row_number() over (partition by movie_id order by weight desc, tag asc) as tag_rank
    from candidates
)

select
    movie_id,
    tag,
    tag_source,
    weight,
    tag_rank
from ranked
where tag_rank <= {{ var('explain_top_tags') }}
