{#- The rating summary every EDA mart reports for its grain: count, mean and sample standard
    deviation (null for a single rating). -#}
{% macro rating_aggregates(rating='rating') %}
    count(*) as ratings_count,
    avg({{ rating }}) as mean_rating,
    stddev_samp({{ rating }}) as rating_stddev
{%- endmacro %}

{#- Bayesian (damped) mean: the mean pulled towards `prior_mean` as if every item also had
    `weight` ratings at that value, so items with few ratings do not top the rankings. -#}
{% macro damped_mean(total, count, prior_mean, weight=var('eda_damping_weight')) %}
    ({{ total }} + {{ weight }} * {{ prior_mean }}) / ({{ count }} + {{ weight }})
{%- endmacro %}

{#- Lower edge of the `width`-wide bin holding `value` (bins start at 0). -#}
{% macro bin_floor(value, width) %}
    floor({{ value }} / {{ width }}) * {{ width }}
{%- endmacro %}
