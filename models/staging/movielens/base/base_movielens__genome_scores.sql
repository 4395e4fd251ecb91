-- Every line of the genome scores file, parsed, with the reason it is rejected (null when
-- valid). The file is large (ml-20m: 11.7M lines), so each line is parsed on its own and
-- checked against the valid movies and genome tags by joins with those small tables.
{%- set release = movielens_release() %}
{%- set layout = release.entities.genome_scores or {'separator': 'csv', 'fields': 3, 'header': none} %}

with lines as (
    {{ movielens_lines('genome_scores', layout) }}
),

parsed as (
    select
        *,
        {{ movielens_id('get(cells, 0)') }} as movie_id,
        {{ movielens_id('get(cells, 1)') }} as tag_id,
        -- a float as a program prints it (0.025, 0.025000000000000022, 2.5e-05), signed so
        -- that a negative one is reported as out of range rather than as not a number
        case
            when get(cells, 2) rlike '^ *-?[0-9]+([.][0-9]+)?([eE][-+]?[0-9]{1,3})? *$'
                then cast(trim(get(cells, 2)) as double)
        end as relevance
    from lines
),

row_checked as (
    select
        *,
        case
            {{ movielens_line_checks(layout) }}
            {{ movielens_id_reason('movie_id', 'movieId', 0) }}
            {{ movielens_id_reason('tag_id', 'tagId', 1) }}
            when relevance is null
                then concat('relevance ', {{ movielens_quote('get(cells, 2)') }}, ' is not a number')
            when relevance < 0 or relevance > 1 then concat('relevance ', relevance, ' outside 0-1')
        end as row_reject_reason
    from parsed
),

{{ movielens_known_movie_ctes('row_checked') }},

valid_genome_tags as (
    select tag_id
    from {{ ref('base_movielens__genome_tags') }}
    where reject_reason is null
),

tag_checked as (
    select
        known_checked.*,
        coalesce(
            known_checked.known_reject_reason,
            if(
                valid_genome_tags.tag_id is null,
                concat('tagId ', known_checked.tag_id, ' is not in the genome tags file'),
                null
            )
        ) as tag_reject_reason
    from known_checked
    left join valid_genome_tags on known_checked.tag_id = valid_genome_tags.tag_id
)

select
    source_file,
    line_number,
    line,
    movie_id,
    tag_id,
    relevance,
    {{ movielens_keep_one(
        'tag_reject_reason', 'movie_id, tag_id', 'line_number',
        "concat('duplicate relevance of tagId ', tag_id, ' to movieId ', movie_id, ' (its first line is kept)')"
    ) }} as reject_reason
from tag_checked
