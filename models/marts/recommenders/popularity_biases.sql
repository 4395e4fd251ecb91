-- The popularity baseline's parameters, per split it scores: the global mean, each movie's
-- damped bias and each user's damped bias over the movie biases, i.e.
--   b_i = sum(r - mu) / (n_i + item damping),  b_u = sum(r - mu - b_i) / (n_u + user damping)
-- (docs/architecture.md section 4). A user outside the fit data gets b_u from
-- movielake.personal.damped_user_bias; tests/test_recommenders.py pins the two to agree.
with fit as (
    select * from {{ ref('recommender_fit_ratings') }}
),

means as (
    select
        scored_split,
        avg(rating) as global_mean
    from fit
    group by scored_split
),

movie_biases as (
    select
        fit.scored_split,
        fit.movie_id,
        count(*) as n_ratings,
        sum(fit.rating - means.global_mean) / (count(*) + {{ var('baseline_item_damping') }}) as bias
    from fit
    inner join means on fit.scored_split = means.scored_split
    group by fit.scored_split, fit.movie_id
),

user_biases as (
    select
        fit.scored_split,
        fit.user_id,
        count(*) as n_ratings,
        sum(fit.rating - means.global_mean - movie_biases.bias)
        / (count(*) + {{ var('baseline_user_damping') }}) as bias
    from fit
    inner join means on fit.scored_split = means.scored_split
    inner join movie_biases
        on fit.scored_split = movie_biases.scored_split and fit.movie_id = movie_biases.movie_id
    group by fit.scored_split, fit.user_id
)

select
    movie_biases.scored_split,
    'movie' as entity,
    movie_biases.movie_id as entity_id,
    movie_biases.n_ratings,
    movie_biases.bias,
    means.global_mean
from movie_biases
inner join means on movie_biases.scored_split = means.scored_split
union all
select
    user_biases.scored_split,
    'user' as entity,
    user_biases.user_id as entity_id,
    user_biases.n_ratings,
    user_biases.bias,
    means.global_mean
from user_biases
inner join means on user_biases.scored_split = means.scored_split
