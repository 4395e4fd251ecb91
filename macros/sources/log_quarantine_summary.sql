{#
  On run end: when this run rebuilt the quarantine, print how many lines each file lost and why,
  with the first offending line, so bad input is visible without querying for it.
#}
{% macro log_quarantine_summary(results) %}
    {% if execute %}
        {% set built = results | selectattr('node.name', 'equalto', 'stg_movielens__quarantine')
            | selectattr('status', 'equalto', 'success') | list %}
        {% if built %}
            {% set relation = built[0].node.relation_name %}
            {% set summary = run_query(
                "select count(*) as line_count, "
                ~ "min_by(concat(source_file, ':', line_number), line_number) as first_line, "
                ~ "regexp_replace(reject_reason, \"'[^']*'|[0-9.]+\", '…') as reason "
                ~ "from " ~ relation ~ " group by 3 order by 1 desc limit 25") %}
            {% if summary.rows | length == 0 %}
                {% do log('quarantine: no rejected lines', info=True) %}
            {% endif %}
            {% for row in summary.rows %}
                {% do log('quarantine: ' ~ row['line_count'] ~ ' line(s): ' ~ row['reason']
                    ~ ' (first at ' ~ row['first_line'] ~ ')', info=True) %}
            {% endfor %}
        {% endif %}
    {% endif %}
{% endmacro %}
