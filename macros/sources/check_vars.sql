{#
  On run start, before anything is written: every var the project reads, checked by the
  adapter (movielake/dbt_vars.py holds the rules), so a bad value stops the run with its name.
#}
{% macro check_movielake_vars() %}
    {% if execute %}
        {% set names = [
            'dataset', 'raw_dir', 'twins_min_ratings', 'twins_num_hash_tables', 'twins_band_rows',
            'twins_max_bucket_size', 'twins_distance_threshold', 'twins_top_n', 'twins_random_seed',
            'twins_permutations', 'eda_top_n', 'eda_top_rated_min_ratings', 'eda_damping_weight',
            'eda_log_count_bin_width', 'eda_mean_rating_bin_width', 'eda_count_buckets',
            'split_strategy', 'split_seed', 'split_validation_fraction', 'split_test_fraction',
            'baseline_item_damping', 'baseline_user_damping', 'als_ranks', 'als_reg_params',
            'als_implicit_alpha', 'als_max_iter', 'als_seed', 'top_k', 'relevance_threshold',
            'new_user_shrinkages', 'item_item_time_taus', 'item_item_time_floor'
        ] %}
        {% set values = {} %}
        {% for name in names %}
            {% do values.update({name: var(name, none)}) %}
        {% endfor %}
        {% do adapter.check_vars(values) %}
    {% endif %}
{% endmacro %}
