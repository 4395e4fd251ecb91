-- The factor rows of the model served for each job (served_models), as refit on train +
-- validation: an ALS variant's rows of als_factors or the hybrid's of hybrid_factors (same
-- layout; the hybrid's item rows cover movies nobody rated). The one place that join is
-- written: recommendations, my_recommendations, the CLI, the stream and the app read it. A job
-- served by item_item has no rows here: that model is its weights (item_item_weights).
with served as (
    select
        job,
        model
    from {{ ref('served_models') }}
),

factor_rows as (
    {%- for factors in ['als_factors', 'hybrid_factors'] %}
        select
            model,
            rank,  -- noqa: RF04
            reg_param,
            alpha,
            user_damping,
            side,
            id,
            features,
            bias,
            global_mean
        from {{ ref(factors) }}
        where scored_split = 'test'
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
)

select
    served.job,
    factor_rows.model,
    factor_rows.rank,  -- noqa: RF04
    factor_rows.reg_param,
    factor_rows.alpha,
    factor_rows.user_damping,
    factor_rows.side,
    factor_rows.id,
    factor_rows.features,
    factor_rows.bias,
    factor_rows.global_mean
from served
inner join factor_rows on served.model = factor_rows.model
