{#
  An incremental model adds only new rows to what it computed before; that is right only while
  everything else it was computed from is unchanged. Such models declare those inputs in
  `meta.incremental_inputs` (`from`: release files and/or the stream; `vars`: the dbt vars of
  their rule) and record them as table properties after each build. On run start, a selected
  model whose record differs from today's inputs is dropped, so this run builds it in full:
  switching the release, editing a split var or resetting the stream (a new bronze table, whose
  versions start again at 0) never leaves stale rows behind. A stream appearing where there
  was none is not a change: every one of its rows is new.
#}
{% macro reset_stale_incremental_models() %}
    {% if execute and flags.WHICH in ('run', 'build') %}
        {% for node in graph.nodes.values()
            if node.resource_type == 'model' and node.config.meta.get('incremental_inputs')
            and node.unique_id in selected_resources %}
            {% set relation = adapter.get_relation(database=node.database, schema=node.schema,
                                                  identifier=node.alias) %}
            {% if relation is not none %}
                {% set recorded = {} %}
                {% for row in run_query("show tblproperties " ~ relation) %}
                    {% do recorded.update({row[0]: row[1]}) %}
                {% endfor %}
                {% set inputs_changed = recorded.get('movielake.incremental_inputs') != incremental_inputs_digest(node) %}
                {% set stream_before = recorded.get('movielake.stream_table_id', '') %}
                {% set stream_changed = 'stream' in node.config.meta.incremental_inputs.get('from', [])
                    and stream_before != '' and stream_before != adapter.stream_table_id() %}
                {% if inputs_changed or stream_changed %}
                    {% do adapter.drop_relation(relation) %}
                    {% do log(node.name ~ ': ' ~ ('the stream was reset' if stream_changed else 'its inputs changed')
                              ~ ' since the last build, so it is rebuilt in full', info=True) %}
                {% endif %}
            {% endif %}
        {% endfor %}
    {% endif %}
{% endmacro %}

{% macro incremental_inputs_digest(node) %}
    {% set spec = node.config.meta.get('incremental_inputs', {}) %}
    {% set values = {} %}
    {% for name in spec.get('vars', []) %}
        {% do values.update({name: var(name, none)}) %}
    {% endfor %}
    {{ return(adapter.incremental_inputs(spec.get('from', []), values)) }}
{% endmacro %}

{# post-hook of such a model: record the inputs this build used #}
{% macro record_incremental_inputs() %}
    {% if execute %}
        alter table {{ this }} set tblproperties (
            'movielake.incremental_inputs' = '{{ incremental_inputs_digest(model) }}',
            'movielake.stream_table_id' = '{{ adapter.stream_table_id() }}'
        )
    {% endif %}
{% endmacro %}
