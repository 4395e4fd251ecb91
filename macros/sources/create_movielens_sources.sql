{#
  The `movielens` sources are views over the lines of the chosen release's files, one view per
  entity, with each line's file and line number. They are made here, on run start, because
  which files back them depends on the `dataset` and `raw_dir` vars. An entity the release does
  not ship becomes an empty view, so the staging models always build.
#}
{% macro create_movielens_sources() %}
    {% if execute %}
        {% set release = movielens_release() %}
        {% set files = adapter.movielens_files(var('dataset'), var('raw_dir', '')) %}
        {% set sources = graph.sources.values() | selectattr('source_name', 'equalto', 'movielens') | list %}
        {% do run_query('create schema if not exists ' ~ sources[0].schema) %}
        {% for src in sources %}
            {% set path = files[src.name] %}
            {% set body = numbered_lines(path, release.encoding) if path else empty_lines() %}
            {% do run_query('create or replace view ' ~ src.schema ~ '.' ~ src.identifier ~ ' as ' ~ body) %}
            {% do log('source movielens.' ~ src.name ~ ': ' ~ (path or 'not in ' ~ release.name), info=True) %}
        {% endfor %}
    {% endif %}
{% endmacro %}

{#
  Every line of a text file with its 1-based line number. Spark gives no line numbers, but
  monotonically_increasing_id() is (chunk index << 33) + row within the chunk, and a single
  file's chunks are read in file order, so a line's number is the row count of the earlier
  chunks plus its row within its own chunk. Latin-1 files are decoded from the raw bytes.
#}
{% macro numbered_lines(path, encoding) %}
    {%- set line = "value" if encoding == "UTF-8" else "decode(cast(value as binary), '" ~ encoding ~ "')" -%}
    with lines as (
        select
            {{ line }} as line,
            shiftright(monotonically_increasing_id(), 33) as chunk,
            monotonically_increasing_id() & 8589934591 as row_in_chunk
        from text.`{{ path }}`
    ),

    chunk_sizes as (
        select chunk, count(*) as line_count from lines group by chunk
    ),

    chunk_starts as (
        select chunk, sum(line_count) over (order by chunk) - line_count as first_line
        from chunk_sizes
    )

    select
        '{{ path }}' as source_file,
        chunk_starts.first_line + lines.row_in_chunk + 1 as line_number,
        lines.line
    from lines
    inner join chunk_starts on lines.chunk = chunk_starts.chunk
{% endmacro %}

{% macro empty_lines() %}
    select
        cast(null as string) as source_file,
        cast(null as bigint) as line_number,
        cast(null as string) as line
    where false
{% endmacro %}
