-- Every line of the genome tags file, parsed, with the reason it is rejected (null when valid).
{%- set release = movielens_release() %}
{%- set layout = release.entities.genome_tags or {'separator': 'csv', 'fields': 2, 'header': none} %}

with lines as (
    {{ movielens_lines('genome_tags', layout) }}
),

parsed as (
    select
        *,
        {{ movielens_id('get(cells, 0)') }} as tag_id,
        trim(get(cells, 1)) as tag
    from lines
),

row_checked as (
    select
        *,
        case
            {{ movielens_line_checks(layout) }}
            {{ movielens_id_reason('tag_id', 'tagId', 0) }}
            when tag = '' then 'empty tag'
        end as row_reject_reason
    from parsed
)

select
    source_file,
    line_number,
    line,
    tag_id,
    tag,
    {{ movielens_keep_one(
        'row_reject_reason', 'tag_id', 'line_number',
        "concat('duplicate tagId ', tag_id, ' (its first line is kept)')"
    ) }} as reject_reason
from row_checked
