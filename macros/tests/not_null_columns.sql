{#- One row per listed column that holds nulls, with how many: a model's not-null checks in one
    query (a test per column costs a query each, most of a small build's test time). The where
    clause lets Delta skip every file whose statistics count no nulls in these columns, so a
    clean table is not read at all. -#}
{% test not_null_columns(model, columns) %}
with null_counts as (
    select
    {%- for column in columns %}
        count_if({{ column }} is null) as nulls_{{ loop.index }}{{ "," if not loop.last }}
    {%- endfor %}
    from {{ model }}
    where {{ columns | join(" is null or ") }} is null
),

by_column as (
    select stack(
        {{ columns | length }},
        {%- for column in columns %}
        '{{ column }}', nulls_{{ loop.index }}{{ "," if not loop.last }}
        {%- endfor %}
    ) as (null_column, null_rows)
    from null_counts
)

select null_column, null_rows
from by_column
where null_rows > 0
{% endtest %}
