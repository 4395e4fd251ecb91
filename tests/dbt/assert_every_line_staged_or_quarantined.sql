-- Every data line of every source file ends up either in its staging model or in the
-- quarantine: nothing is silently dropped. Returns the entities whose counts do not add up.
{%- set release = movielens_release() %}
{%- set entities = movielens_entities() %}

with reconciled as (
    {% for entity in entities %}
        {%- set layout = release.entities[entity] or {'header': none} %}
        select
            '{{ entity }}' as entity,
            (
                select count(*) from {{ source('movielens', entity) }}
                where not {{ movielens_is_header(layout) }}
            ) as data_lines,
            (select count(*) from {{ ref('stg_movielens__' ~ entity) }}) as staged_rows,
            (
                select count(*) from {{ ref('stg_movielens__quarantine') }}
                where entity = '{{ entity }}'
            ) as quarantined_lines
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
)

select *
from reconciled
where data_lines != staged_rows + quarantined_lines
