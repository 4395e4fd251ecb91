-- What is known about every movie without its ratings, the input of the hybrid model:
-- genres multi-hot (in the order of `genre_vocabulary`), release year, users' tags as hashed
-- TF-IDF (int_movie_tag_terms), the tag genome where the release has one
-- (int_movie_genome_vectors). Movies nobody has rated are here too: that is the point.
with movies as (
    select
        movie_id,
        genres,
        release_year
    from {{ ref('stg_movielens__movies') }}
),

tag_terms as (
    select
        movie_id,
        tag_buckets,
        tag_weights
    from {{ ref('int_movie_tag_terms') }}
),

genome as (
    select
        movie_id,
        genome
    from {{ ref('int_movie_genome_vectors') }}
),

genre_vocabulary as (
    select array_sort(collect_set(genre)) as genre_vocabulary
    from movies
        lateral view explode(genres) exploded as genre
)

select
    movies.movie_id,
    genre_vocabulary.genre_vocabulary,
    transform(
        genre_vocabulary.genre_vocabulary,
        genre -> if(array_contains(movies.genres, genre), 1.0D, 0.0D)
    ) as genre_flags,
    movies.release_year,
    coalesce(tag_terms.tag_buckets, cast(array() as array<int>)) as tag_buckets,
    coalesce(tag_terms.tag_weights, cast(array() as array<double>)) as tag_weights,
    genome.genome
from movies
cross join genre_vocabulary
left join tag_terms on movies.movie_id = tag_terms.movie_id
left join genome on movies.movie_id = genome.movie_id
