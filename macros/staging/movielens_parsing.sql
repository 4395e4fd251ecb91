{# Helpers the staging models share to turn raw MovieLens lines into typed columns. #}

{# The release being built, as described by the adapter's registry (movielake/releases.py). #}
{% macro movielens_release() %}
    {{ return(adapter.movielens_release(var('dataset'))) }}
{% endmacro %}

{#
  A line split into an array of string fields. "csv" follows RFC 4180: commas inside double
  quotes do not split, and quotes around a field are removed ("" stands for one quote); lines
  without quotes take the cheap plain split.
#}
{% macro movielens_fields(line, separator) %}
    {%- if separator == 'csv' -%}
        case
            when instr({{ line }}, '"') = 0 then split({{ line }}, ',', -1)
            else transform(
                split({{ line }}, ',(?=(?:[^"]*"[^"]*")*[^"]*$)', -1),
                field -> case
                    when field like '"%"' then replace(substr(field, 2, length(field) - 2), '""', '"')
                    else field
                end
            )
        end
    {%- elif separator == 'tab' -%}
        split({{ line }}, '\t', -1)
    {%- elif separator == '|' -%}
        split({{ line }}, '[|]', -1)
    {%- else -%}
        split({{ line }}, '{{ separator }}', -1)
    {%- endif -%}
{% endmacro %}

{# A positive id (fits in int), else null. #}
{% macro movielens_id(field) %}
    case when {{ field }} rlike '^ *[0-9]{1,9} *$' then cast(trim({{ field }}) as int) end
{% endmacro %}

{# Epoch seconds, else null. #}
{% macro movielens_epoch(field) %}
    case when {{ field }} rlike '^ *[0-9]{1,12} *$' then cast(trim({{ field }}) as bigint) end
{% endmacro %}

{# A decimal number such as 4 or 3.5, else null. #}
{% macro movielens_number(field) %}
    case when {{ field }} rlike '^ *[0-9]+([.][0-9]+)? *$' then cast(trim({{ field }}) as double) end
{% endmacro %}

{# Reasons shared by every file: blank lines, a wrong header, a wrong number of fields. #}
{% macro movielens_line_checks(layout) %}
    when trim(line) = '' then 'empty line'
    {%- if layout.header %}
    when line_number = 1 then concat('unexpected header (expected "{{ layout.header }}")')
    {%- endif %}
    when size(cells) != {{ layout.fields }}
        then concat('expected {{ layout.fields }} fields, found ', size(cells))
{% endmacro %}

{# Lines that are not data: the expected header of a CSV-family file. #}
{% macro movielens_is_header(layout) %}
    {%- if layout.header -%}
        (line_number = 1 and line = '{{ layout.header }}')
    {%- else -%}
        false
    {%- endif -%}
{% endmacro %}

{# Quoted value for reject reasons. #}
{% macro movielens_quote(field) %}
    concat("'", coalesce({{ field }}, ''), "'")
{% endmacro %}

{# "Toy Story (1995)" -> "Toy Story"; a title without a year is kept whole. #}
{% macro movielens_title(raw_title) %}
    trim(regexp_replace({{ raw_title }}, '\\s*\\((\\d{4})(?:[-–]\\d{0,4})?\\)\\s*$', ''))
{% endmacro %}

{# "Toy Story (1995)" -> 1995; null when the title carries no year. #}
{% macro movielens_year(raw_title) %}
    cast(nullif(regexp_extract({{ raw_title }}, '\\((\\d{4})(?:[-–]\\d{0,4})?\\)\\s*$', 1), '') as int)
{% endmacro %}

{# "Adventure|Children's" -> array('Adventure', 'Children'); "(no genres listed)" -> array(). #}
{% macro movielens_genres(field) %}
    case
        when trim({{ field }}) in ('', '(no genres listed)') then cast(array() as array<string>)
        else transform(split(trim({{ field }}), '[|]'), genre -> if(genre = 'Children''s', 'Children', genre))
    end
{% endmacro %}

{#
  ml-100k's u.item has one 0/1 column per genre, from field `first` on: the genre list is the
  names of the flagged columns; "unknown" means no genre.
#}
{% macro movielens_genre_flags(fields, first, names) %}
    filter(
        array(
            {%- for name in names %}
            if(get({{ fields }}, {{ first + loop.index0 }}) = '1', '{{ name }}', null){{ "," if not loop.last }}
            {%- endfor %}
        ),
        genre -> genre is not null and genre != 'unknown'
    )
{% endmacro %}

{# True when every genre flag is 0 or 1. #}
{% macro movielens_genre_flags_valid(fields, first, names) %}
    forall(slice({{ fields }}, {{ first + 1 }}, {{ names | length }}), flag -> flag in ('0', '1'))
{% endmacro %}

{#
  Two CTEs shared by the files that reference movies: `valid_movies`, and `known_checked`,
  which is `checked` plus `known_reject_reason`: its row_reject_reason, else a reason when the
  movie is not among the valid movies.
#}
{% macro movielens_known_movie_ctes(checked) %}
valid_movies as (
    select movie_id
    from {{ ref('base_movielens__movies') }}
    where reject_reason is null
),

known_checked as (
    select
        {{ checked }}.*,
        coalesce(
            {{ checked }}.row_reject_reason,
            if(valid_movies.movie_id is null, concat('movieId ', {{ checked }}.movie_id, ' is not in the movies file'), null)
        ) as known_reject_reason
    from {{ checked }}
    left join valid_movies on {{ checked }}.movie_id = valid_movies.movie_id
)
{% endmacro %}

{# The entities a release can ship, each with a staging model stg_movielens__<entity>. #}
{% macro movielens_entities() %}
    {{ return(['ratings', 'movies', 'tags', 'links']) }}
{% endmacro %}

{# The data lines of an entity's file (expected header dropped), split into `cells`. #}
{% macro movielens_lines(entity, layout) %}
    select
        source_file,
        line_number,
        line,
        {{ movielens_fields('line', layout.separator) }} as cells
    from {{ source('movielens', entity) }}
    where not {{ movielens_is_header(layout) }}
{% endmacro %}

{# A `when` branch rejecting a line whose id cell did not parse into `column`. #}
{% macro movielens_id_reason(column, label, cell) %}
    when {{ column }} is null
        then concat('{{ label }} ', {{ movielens_quote('get(cells, ' ~ cell ~ ')') }}, ' is not a positive integer')
{% endmacro %}
