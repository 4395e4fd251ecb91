{#
  The `stream` source: a view over the Delta table of ratings `movielake stream` has landed
  (bronze_ratings under the data home), with each row's Delta row id and the table version
  that committed it, which is what lets stg_stream__ratings take only new rows. Before any
  stream has run it is an empty view of the same columns, so the build is the same.
#}
{% macro create_stream_sources() %}
    {% if execute %}
        {% set src = graph.sources.values() | selectattr('source_name', 'equalto', 'stream') | first %}
        {% set path = adapter.stream_bronze_path() %}
        {% do run_query('create schema if not exists ' ~ src.schema) %}
        {% if path %}
            {% do require_row_tracking(path) %}
            {% set body %}
                select
                    user_id, movie_id, rating, rated_at, ingested_at,
                    _metadata.row_id as bronze_row_id,
                    _metadata.row_commit_version as bronze_version
                from delta.`{{ path }}`
            {% endset %}
        {% else %}
            {% set body %}
                select
                    cast(null as int) as user_id, cast(null as int) as movie_id,
                    cast(null as double) as rating, cast(null as timestamp) as rated_at,
                    cast(null as timestamp) as ingested_at, cast(null as bigint) as bronze_row_id,
                    cast(null as bigint) as bronze_version
                where false
            {% endset %}
        {% endif %}
        {% do run_query('create or replace view ' ~ src.schema ~ '.' ~ src.identifier ~ ' as ' ~ body) %}
        {% do log('source stream.' ~ src.name ~ ': ' ~ (path or 'no stream has run'), info=True) %}
    {% endif %}
{% endmacro %}

{#
  Row ids and commit versions exist only on a table with Delta row tracking. `movielake stream`
  turns it on; a bronze table from an older stream gets it here, once (a metadata commit, and
  Delta backfills the ids).
#}
{% macro require_row_tracking(path) %}
    {% set props = run_query("show tblproperties delta.`" ~ path ~ "` ('delta.enableRowTracking')") %}
    {% if props.rows | length == 0 or (props.rows[0][1] | string | lower) != 'true' %}
        {% do run_query("alter table delta.`" ~ path ~ "` set tblproperties ('delta.enableRowTracking' = 'true')") %}
        {% do log('source stream.bronze_ratings: Delta row tracking turned on', info=True) %}
    {% endif %}
{% endmacro %}
