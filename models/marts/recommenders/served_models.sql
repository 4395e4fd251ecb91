-- The model served for each job, chosen on validation (never on test):
-- `rating` (predict stars): the ALS variant with the lowest validation RMSE; `top_k`
-- (recommend): the model (an ALS variant, item_item or the hybrid) with the highest validation
-- P@K, then NDCG@K. Recommendations and `movielake recommend` use the top_k one, whatever its
-- kind. reg_param and alpha hold item_item's lambda; the hybrid's penalty and blend.
-- new_movie_slots (top_k only): how many of the K places go to the user's best new movies (no
-- rating in the fit data: only the hybrid's content factors reach them), the one home of that
-- number for the build, `movielake recommend` and the app.
-- new_user_shrinkage (top_k only): k of the served model's new-user blend with popularity
-- (movielake.algorithms.shrinkage), new_user_tuning's selected k for that model; null when
-- none was tuned for it (a new user then gets the fold-in alone).
-- Metrics are compared to 9 decimals: MLlib sums over users in partition arrival order, so
-- equal results (the hybrid at blend 0 is als_implicit) differ in the last bits, and such a
-- tie must fall to the model name, not to that noise.
with validation as (
    select * from {{ ref('model_metrics') }}
    where split = 'validation' and model != 'popularity'
),

als_settings as (
    select * from {{ ref('als_tuning') }}
    where selected
),

item_item_settings as (
    select * from {{ ref('item_item_tuning') }}
    where selected
),

hybrid_settings as (
    select * from {{ ref('hybrid_tuning') }}
    where selected
),

-- the selected k repeats on each known_ratings row
shrinkages as (
    select distinct
        model,
        shrinkage
    from {{ ref('new_user_tuning') }}
    where selected
),

settings as (
    select
        model,
        rank,  -- noqa: RF04
        reg_param,
        alpha
    from als_settings
    union all
    select
        model,
        cast(null as int) as rank,  -- noqa: RF04
        reg_lambda as reg_param,
        cast(null as double) as alpha
    from item_item_settings
    union all
    select
        model,
        cast(null as int) as rank,  -- noqa: RF04
        reg_lambda as reg_param,
        blend as alpha
    from hybrid_settings
),

ranked as (
    select
        'rating' as job,
        model,
        rmse as criterion,
        row_number() over (order by round(rmse, 9) asc, model asc) as choice
    from validation
    where rmse is not null
    union all
    select
        'top_k' as job,
        model,
        precision_at_k as criterion,
        row_number() over (
            order by round(precision_at_k, 9) desc, round(ndcg_at_k, 9) desc, model asc
        ) as choice
    from validation
)

select
    ranked.job,
    ranked.model,
    ranked.criterion,
    settings.rank,  -- noqa: RF04
    settings.reg_param,
    settings.alpha,
    case when ranked.job = 'top_k' then {{ var('new_movie_slots') }} end as new_movie_slots,
    case when ranked.job = 'top_k' then shrinkages.shrinkage end as new_user_shrinkage
from ranked
inner join settings on ranked.model = settings.model
left join shrinkages on ranked.model = shrinkages.model
where ranked.choice = 1
