-- The ALS variant served for each job, chosen on validation (never on test):
-- `rating` (predict stars): lowest validation RMSE; `top_k` (recommend): highest
-- validation P@K, then NDCG@K. Recommendations and `movielake recommend` use the top_k one.
with validation as (
    select * from {{ ref('model_metrics') }}
    where split = 'validation' and model like 'als_%'
),

ranked as (
    select
        'rating' as job,
        model,
        rmse as criterion,
        row_number() over (order by rmse asc, model asc) as choice
    from validation
    where rmse is not null
    union all
    select
        'top_k' as job,
        model,
        precision_at_k as criterion,
        row_number() over (order by precision_at_k desc, ndcg_at_k desc, model asc) as choice
    from validation
)

select
    ranked.job,
    ranked.model,
    ranked.criterion,
    tuning.rank,  -- noqa: RF04
    tuning.reg_param,
    tuning.alpha
from ranked
inner join {{ ref('als_tuning') }} as tuning on ranked.model = tuning.model and tuning.selected
where ranked.choice = 1
