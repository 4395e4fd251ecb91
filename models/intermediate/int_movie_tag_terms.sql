-- Each tagged movie's user tags as a sparse TF-IDF vector over `content_tag_buckets` hashed
-- buckets (the hashing trick: a fixed width however many distinct tags a release has).
-- Weight = log(1 + times the tag was given) x smoothed IDF, L2-normalised per movie, so a
-- movie tagged "twist ending" by 40 users is not 40 times as far from the origin as one
-- tagged once.
with tags as (
    select
        movie_id,
        lower(trim(tag)) as term
    from {{ ref('stg_movielens__tags') }}
),

term_counts as (
    select
        movie_id,
        cast(pmod(xxhash64(term), {{ var('content_tag_buckets') }}) as int) as tag_bucket,
        count(*) as term_count
    from tags
    group by movie_id, tag_bucket
),

document_frequency as (
    select
        tag_bucket,
        count(*) as movie_count
    from term_counts
    group by tag_bucket
),

tagged_movies as (
    select count(distinct movie_id) as movie_count
    from term_counts
),

weighted as (
    select
        term_counts.movie_id,
        term_counts.tag_bucket,
        ln(1 + term_counts.term_count)
        * (ln((1 + tagged_movies.movie_count) / (1 + document_frequency.movie_count)) + 1)
            as weight
    from term_counts
    inner join document_frequency on term_counts.tag_bucket = document_frequency.tag_bucket
    cross join tagged_movies
),

per_movie as (
    select
        movie_id,
        array_sort(collect_list(struct(tag_bucket, weight))) as terms,
        sqrt(sum(weight * weight)) as norm
    from weighted
    group by movie_id
)

select
    movie_id,
    transform(terms, term -> term.tag_bucket) as tag_buckets,
    transform(terms, term -> term.weight / norm) as tag_weights
from per_movie
