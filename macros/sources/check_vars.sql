{#
  On run start, before anything is written: every var the project checks (the adapter names
  them and holds the rules: movielake.data.dbt_vars), so a bad value stops the run with its name.
#}
{% macro check_movielake_vars() %}
    {% if execute %}
        {% set values = {} %}
        {% for name in adapter.checked_vars() %}
            {% do values.update({name: var(name, none)}) %}
        {% endfor %}
        {% do adapter.check_vars(values) %}
    {% endif %}
{% endmacro %}
