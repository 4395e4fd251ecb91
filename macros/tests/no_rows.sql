{#- Fails (or warns, with severity: warn) when the model has any row; e.g. a quarantine. -#}
{% test no_rows(model) %}
select * from {{ model }}
{% endtest %}
