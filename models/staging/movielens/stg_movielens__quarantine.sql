-- Every rejected line of every file, with why; nothing leaves staging without a trace here.
{%- set entities = movielens_entities() %}

{% for entity in entities %}
    select
        '{{ entity }}' as entity,
        source_file,
        line_number,
        line,
        reject_reason
    from {{ ref('base_movielens__' ~ entity) }}
    where reject_reason is not null
    {% if not loop.last %}union all{% endif %}
{% endfor %}
