{#- Fails when the model's row count is outside [min_value, max_value] (max optional), so that a
    model whose other tests all pass on zero rows cannot be empty unnoticed. -#}
{% test row_count_between(model, min_value, max_value=none) %}
select row_count
from (select count(*) as row_count from {{ model }})
where row_count < {{ min_value }}
    {%- if max_value is not none %} or row_count > {{ max_value }}{% endif %}
{% endtest %}
