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

bucket_counts as (
    select
        movie_id,
        cast(pmod(xxhash64(term), {{ var('content_tag_buckets') }}) as int) as bucket,
        count(*) as term_count
    from tags
    group by 1, 2
),

document_frequency as (
    select
        bucket,
        count(*) as movie_count
    from bucket_counts
    group by bucket
),

tagged_movies as (
    select count(distinct movie_id) as movie_count
    from bucket_counts
),

weighted as (
    select
        bucket_counts.movie_id,
        bucket_counts.bucket,
        ln(1 + bucket_counts.term_count)
        * (ln((1 + tagged_movies.movie_count) / (1 + document_frequency.movie_count)) + 1)
        as weight
    from bucket_counts
    inner join document_frequency on bucket_counts.bucket = document_frequency.bucket
    cross join tagged_movies
),

per_movie as (
    select
        movie_id,
        array_sort(collect_list(struct(bucket, weight))) as terms,
        sqrt(sum(weight * weight)) as norm
    from weighted
    group by movie_id
)

select
    movie_id,
    transform(terms, term -> term.bucket) as tag_buckets,
    transform(terms, term -> term.weight / norm) as tag_weights
from per_movie
