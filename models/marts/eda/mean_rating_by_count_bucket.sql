-- Box-plot statistics of movies' mean rating per bucket of how often they were rated: do
-- rarely rated movies scatter more, and do popular ones rate higher? Buckets start at 1 and at
-- each value of the eda_count_buckets var.
{% set starts = 'array(1, ' ~ (var('eda_count_buckets') | join(', ')) ~ ')' %}
with bucketed as (
    select
        mean_rating,
        array_max(filter({{ starts }}, b -> b <= ratings_count)) as bucket_start,
        array_min(filter({{ starts }}, b -> b > ratings_count)) - 1 as bucket_end
    from {{ ref('movie_stats') }}
)

select
    bucket_start,
    case
        when bucket_end is null then concat(bucket_start, '+')
        when bucket_end = bucket_start then cast(bucket_start as string)
        else concat(bucket_start, '-', bucket_end)
    end as count_bucket,
    count(*) as movies_count,
    min(mean_rating) as min_mean_rating,
    percentile(mean_rating, 0.25) as q1_mean_rating,
    percentile(mean_rating, 0.5) as median_mean_rating,
    percentile(mean_rating, 0.75) as q3_mean_rating,
    max(mean_rating) as max_mean_rating,
    avg(mean_rating) as mean_mean_rating
from bucketed
group by bucket_start, bucket_end
