{#- Fails when the model's row count lies outside [min_value, max_value] (either bound
    optional): e.g. a table that must not be empty, or one with a fixed number of rows. -#}
{% test row_count_between(model, min_value=none, max_value=none) %}
select row_count
from (select count(*) as row_count from {{ model }}) as counted
where
    {%- if min_value is not none %} row_count < {{ min_value }}{% endif %}
    {%- if min_value is not none and max_value is not none %} or{% endif %}
    {%- if max_value is not none %} row_count > {{ max_value }}{% endif %}
{% endtest %}
