{#
  Pre-hook of stg_movielens__ratings: a release whose ratings file gives no valid rating (empty,
  header only, or every line quarantined) stops the build here, with one message naming the
  file, its line count and the commonest reasons, instead of failing later inside MLlib.
#}
{% macro movielens_require_ratings() %}
    {#- `dbt run --empty` builds every table without rows on purpose -#}
    {% if execute and not invocation_args_dict.get('empty') %}
        {% set base = ref('base_movielens__ratings') %}
        {% set counts = run_query(
            "select count(*) as line_count, count_if(reject_reason is null) as valid_count "
            ~ "from " ~ base).rows[0] %}
        {% if counts['valid_count'] == 0 %}
            {% set file = adapter.movielens_files(var('dataset'), var('raw_dir', ''))['ratings'] %}
            {% if counts['line_count'] == 0 %}
                {% set detail = 'it has no data lines (empty or header only)' %}
            {% else %}
                {% set reasons = run_query(
                    "select count(*) as line_count, "
                    ~ "regexp_replace(reject_reason, \"'[^']*'|[0-9.]+\", '…') as reason "
                    ~ "from " ~ base ~ " group by 2 order by 1 desc, 2 limit 3") %}
                {% set top = [] %}
                {% for row in reasons.rows %}
                    {% do top.append(row['line_count'] ~ ' x ' ~ row['reason']) %}
                {% endfor %}
                {% set detail = 'all ' ~ counts['line_count'] ~ ' data line(s) quarantined; top reasons: '
                    ~ top | join('; ') %}
            {% endif %}
            {{ exceptions.raise_compiler_error('no valid rating in ' ~ file ~ ': ' ~ detail
                ~ ' (every line and its reason: base_movielens__ratings)') }}
        {% endif %}
    {% endif %}
{% endmacro %}
