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

{# A positive id (fits in int; 0 is not positive), else null. #}
{% macro movielens_id(field) %}
    case
        when {{ field }} rlike '^ *[0-9]{1,9} *$' and cast(trim({{ field }}) as int) > 0
            then cast(trim({{ field }}) as int)
    end
{% endmacro %}

{# Epoch seconds, else null. #}
{% macro movielens_epoch(field) %}
    case when {{ field }} rlike '^ *[0-9]{1,12} *$' then cast(trim({{ field }}) as bigint) end
{% endmacro %}

{#
  `when` branches rejecting a parsed time (`epoch`, from cell `cell`) that cannot be a time of
  the release: unparsed, before its first year, or after the build (a millisecond timestamp
  read as seconds lands centuries ahead).
#}
{% macro movielens_time_reasons(epoch, cell, release) %}
    when {{ epoch }} is null
        then concat('timestamp ', {{ movielens_quote('get(cells, ' ~ cell ~ ')') }}, ' is not epoch seconds')
    when {{ epoch }} < {{ release.first_epoch }}
        then concat('timestamp ', {{ epoch }}, ' is before {{ release.first_year }}, the release''s first year')
    when {{ epoch }} > unix_seconds(current_timestamp())
        then concat('timestamp ', {{ epoch }}, ' is in the future (epoch seconds expected)')
{% endmacro %}

{# A decimal number such as 4 or 3.5, else null. #}
{% macro movielens_number(field) %}
    case when {{ field }} rlike '^ *[0-9]+([.][0-9]+)? *$' then cast(trim({{ field }}) as double) end
{% endmacro %}

{#
  Reasons shared by every file: bytes that are not UTF-8 (Spark would show them as U+FFFD),
  a record broken by a line break inside quotes, blank lines, a wrong header, a wrong number
  of fields.
#}
{% macro movielens_line_checks(layout) %}
    when not is_valid_utf8(line) then 'invalid UTF-8 bytes'
    when record_issue is not null then record_issue
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

{# The release years a title may carry: from the first films to well ahead of today. #}
{% macro movielens_year_range() %}
    {{ return([1870, 2100]) }}
{% endmacro %}

{# "Toy Story (1995)" -> 1995; null when the title carries no "(dddd)" at its end. #}
{% macro movielens_title_year(raw_title) %}
    cast(nullif(regexp_extract({{ raw_title }}, '\\((\\d{4})(?:[-–]\\d{0,4})?\\)\\s*$', 1), '') as int)
{% endmacro %}

{#
  "Toy Story (1995)" -> "Toy Story"; a title without a year, or whose "(dddd)" is outside the
  year range (so not a year), is kept whole.
#}
{% macro movielens_title(raw_title) %}
    {%- set years = movielens_year_range() -%}
    case
        when {{ movielens_title_year(raw_title) }} between {{ years[0] }} and {{ years[1] }}
            then trim(regexp_replace({{ raw_title }}, '\\s*\\((\\d{4})(?:[-–]\\d{0,4})?\\)\\s*$', ''))
        else {{ raw_title }}
    end
{% endmacro %}

{# The title's year when it is in the year range, else null (see movielens_year_issue). #}
{% macro movielens_year(raw_title) %}
    {%- set years = movielens_year_range() -%}
    if({{ movielens_title_year(raw_title) }} between {{ years[0] }} and {{ years[1] }}, {{ movielens_title_year(raw_title) }}, null)
{% endmacro %}

{# Why a title's "(dddd)" was not taken as its year; null when it was, or there is none. #}
{% macro movielens_year_issue(raw_title) %}
    {%- set years = movielens_year_range() -%}
    if(
        {{ movielens_title_year(raw_title) }} not between {{ years[0] }} and {{ years[1] }},
        concat('title year ', {{ movielens_title_year(raw_title) }}, ' outside {{ years[0] }}-{{ years[1] }}: release_year left empty'),
        null
    )
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
    {{ return(['ratings', 'movies', 'tags', 'links', 'genome_scores', 'genome_tags']) }}
{% endmacro %}

{#
  The data lines of an entity's file (expected header dropped), split into `cells`, with
  `record_issue`: in a CSV file, a quoted field that a line break cuts (legal RFC 4180, but the
  files are read line by line) spans from a line with an odd number of quotes to the next such
  line; every line of that record gets the reason, the first line the whole span. Only lines
  with an odd number of quotes (rare) enter the window that pairs them up.
#}
{% macro movielens_lines(entity, layout) %}
    {%- set odd_quotes = "(length(line) - length(replace(line, '\"', ''))) % 2 = 1" %}
    select
        lines.source_file,
        lines.line_number,
        lines.line,
        {{ movielens_fields('lines.line', layout.separator) }} as cells,
        {%- if layout.separator == 'csv' %}
            case
                when spans.first_line is null then null
                when spans.last_line is null then 'a quoted field is never closed (unbalanced double quote)'
                when spans.first_line = lines.line_number
                    then concat('a quoted field spans a line break (record on lines ', spans.first_line, '-', spans.last_line, ')')
                else concat('continues the quoted field opened on line ', spans.first_line)
            end as record_issue
        {%- else %}
            cast(null as string) as record_issue
        {%- endif %}
    from {{ source('movielens', entity) }} as lines
    {%- if layout.separator == 'csv' %}
        left join (
            select
                line_number as first_line,
                next_odd_line as last_line
            from (
                select
                    line_number,
                    lead(line_number) over (order by line_number) as next_odd_line,
                    row_number() over (order by line_number) as odd_rank
                from {{ source('movielens', entity) }}
                where {{ odd_quotes }} and not {{ movielens_is_header(layout) }}
            )
            where odd_rank % 2 = 1
        ) as spans
            on lines.line_number between spans.first_line and coalesce(spans.last_line, spans.first_line)
    {%- endif %}
    where not {{ movielens_is_header(layout) }}
{% endmacro %}

{#
  A line's reject reason: `reason` (its own checks) or, of several valid lines with the same
  `keys`, a duplicate for every line but the first by `order_by`. Invalid lines never compete,
  so a bad line cannot displace a good one.
#}
{% macro movielens_keep_one(reason, keys, order_by, duplicate_reason) %}
    case
        when {{ reason }} is not null then {{ reason }}
        when row_number() over (partition by {{ keys }}, {{ reason }} is null order by {{ order_by }}) > 1
            then {{ duplicate_reason }}
    end
{% endmacro %}

{# A `when` branch rejecting a line whose id cell did not parse into `column`. #}
{% macro movielens_id_reason(column, label, cell) %}
    when {{ column }} is null
        then concat('{{ label }} ', {{ movielens_quote('get(cells, ' ~ cell ~ ')') }}, ' is not a positive integer')
{% endmacro %}
