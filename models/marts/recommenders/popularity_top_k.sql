-- The popularity baseline's top-K: for each user of the fit data, the K movies rated most
-- often in the fit data that the user has not rated there (ties: lower movie id first).
-- A user with n ratings has K unseen movies among the K + n most popular, so each user is
-- paired with those ranks only: K x users + ratings rows, where crossing every user with the
-- K + (most ratings of any user) most popular movies grew as users x catalogue (at 1M
-- generated ratings: 10,853 users x 5,500 movies, per split).
with fit as (
    select * from {{ ref('recommender_fit_ratings') }}
),

popularity as (
    select
        scored_split,
        movie_id,
        count(*) as n_ratings,
        row_number() over (partition by scored_split order by count(*) desc, movie_id) as popularity_rank
    from fit
    group by scored_split, movie_id
),

users as (
    select
        scored_split,
        user_id,
        count(*) as n_ratings
    from fit
    group by scored_split, user_id
),

user_ranks as (
    select
        scored_split,
        user_id,
        explode(sequence(1, n_ratings + {{ var('top_k') }})) as popularity_rank
    from users
),

candidates as (
    select
        user_ranks.scored_split,
        user_ranks.user_id,
        popularity.movie_id,
        popularity.n_ratings,
        popularity.popularity_rank
    from user_ranks
    inner join popularity
        on
            user_ranks.scored_split = popularity.scored_split
            and user_ranks.popularity_rank = popularity.popularity_rank
    left anti join fit
        on
            user_ranks.scored_split = fit.scored_split
            and user_ranks.user_id = fit.user_id
            and popularity.movie_id = fit.movie_id
),

ranked as (
    select
        scored_split,
        user_id,
        movie_id,
        cast(n_ratings as double) as score,
        row_number() over (partition by scored_split, user_id order by popularity_rank) as rank  -- noqa: RF04
    from candidates
)

select * from ranked
where rank <= {{ var('top_k') }}
