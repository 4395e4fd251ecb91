-- Do often-rated movies get better ratings? One row per non-empty 2-D bin of
-- (log10 ratings count, mean rating) over the rated movies, for a hexbin plot, with the
-- Pearson correlation of log10 count and mean rating over all those movies on every row.
{% set log_width = var('eda_log_count_bin_width') %}
{% set mean_width = var('eda_mean_rating_bin_width') %}
with movies as (
    select
        log10(ratings_count) as log_count,
        mean_rating
    from {{ ref('movie_stats') }}
),

overall as (
    select
        count(*) as movies_total,
        -- corr is NaN when either side is constant (e.g. every movie rated once): no correlation.
        nanvl(corr(log_count, mean_rating), null) as pearson_log_count_vs_mean
    from movies
),

bins as (
    select
        {{ bin_floor('log_count', log_width) }} as log_count_bin_start,
        {{ bin_floor('mean_rating', mean_width) }} as mean_rating_bin_start,
        count(*) as movies_count
    from movies
    group by 1, 2
)

-- doubles whatever the widths' literals (0.1 is a decimal in Spark SQL): the contract's types
select
    cast(b.log_count_bin_start as double) as log_count_bin_start,
    cast(b.log_count_bin_start + {{ log_width }} as double) as log_count_bin_end,
    cast(b.mean_rating_bin_start as double) as mean_rating_bin_start,
    cast(b.mean_rating_bin_start + {{ mean_width }} as double) as mean_rating_bin_end,
    b.movies_count,
    o.movies_total,
    o.pearson_log_count_vs_mean
from bins as b
cross join overall as o
