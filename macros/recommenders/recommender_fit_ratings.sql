{#- The ratings a model is fit on, per split it is scored on: train for 'validation' (tuning),
    train + validation for 'test' (the refit with the chosen settings). -#}
{% macro recommender_fit_ratings() %}
    select
        'validation' as scored_split,
        user_id,
        movie_id,
        rating
    from {{ ref('rating_splits') }}
    where split = 'train'
    union all
    select
        'test' as scored_split,
        user_id,
        movie_id,
        rating
    from {{ ref('rating_splits') }}
    where split in ('train', 'validation')
{% endmacro %}
