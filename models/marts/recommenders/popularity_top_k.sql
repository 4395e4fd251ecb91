-- The popularity baseline's top-K: for each user of the fit data, the K movies rated most
-- often in the fit data that the user has not rated there (ties: lower movie id first).
-- Only the K + (most ratings of one user) most popular movies can qualify, so only they are
-- crossed with the users.
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

reach as (
    select
        scored_split,
        {{ var('top_k') }} + max(n_ratings) as max_rank
    from users
    group by scored_split
),

candidates as (
    select
        users.scored_split,
        users.user_id,
        popularity.movie_id,
        popularity.n_ratings,
        popularity.popularity_rank
    from users
    inner join reach on users.scored_split = reach.scored_split
    inner join popularity
        on
            users.scored_split = popularity.scored_split
            and reach.max_rank >= popularity.popularity_rank
    left anti join fit
        on
            users.scored_split = fit.scored_split
            and users.user_id = fit.user_id
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
