"""The dbt vars' allowed values, checked once at the start of every dbt run (on-run-start,
before any table is written) so that a typo fails with a message naming the var, instead of
Jinja's `| float` turning "abc" into 0 or a fraction sum of 1 leaving nothing to train on."""

from __future__ import annotations

from numbers import Real

from movielake.data.releases import get_release


def _number(value) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, Real):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        return None


def _integer(value) -> int | None:
    number = _number(value)
    return int(number) if number is not None and number == int(number) else None


# var -> (kind, lowest allowed, highest allowed); None = unbounded.
RULES: dict[str, tuple[str, float | None, float | None]] = {
    "twins_min_ratings": ("int", 1, None),
    "twins_num_hash_tables": ("int", 1, None),
    "twins_band_rows": ("int", 1, None),
    "twins_max_bucket_size": ("int", 2, None),
    "twins_distance_threshold": ("number", 0, 1),
    "twins_top_n": ("int", 1, None),
    "twins_random_seed": ("int", None, None),
    "twins_permutations": ("int", 1, None),
    "eda_top_n": ("int", 1, None),
    "eda_top_rated_min_ratings": ("int", 1, None),
    "eda_damping_weight": ("number", 0, None),
    "eda_log_count_bin_width": ("number", 1e-9, None),
    "eda_mean_rating_bin_width": ("number", 1e-9, None),
    "split_seed": ("int", None, None),
    "split_validation_fraction": ("number", 0, 0.999999),
    "split_test_fraction": ("number", 0, 0.999999),
    "baseline_item_damping": ("number", 0, None),
    "baseline_user_damping": ("number", 0, None),
    "als_implicit_alpha": ("number", 0, None),
    "als_max_iter": ("int", 1, None),
    "als_seed": ("int", None, None),
    "als_tuning_max_users": ("int", 0, None),
    "als_tuning_rungs": ("int", 1, None),
    "als_halving_factor": ("int", 2, None),
    "als_tuning_min_users": ("int", 1, None),
    "als_parallelism": ("int", 1, None),
    "item_item_tuning_max_users": ("int", 0, None),
    "item_item_time_taus": ("number list", 0, None),
    "item_item_time_floor": ("number", 0, None),
    "top_k": ("int", 1, None),
    "new_movie_slots": ("int", 0, None),
    "explain_top_tags": ("int", 1, None),
    "explain_min_relevance": ("number", 0, 1),
    "relevance_threshold": ("number", None, None),
    "als_ranks": ("int list", 1, None),
    "als_reg_params": ("number list", 0, None),
    "eda_count_buckets": ("int list", 2, None),
    "content_tag_buckets": ("int", 1, None),
    "hybrid_lambdas": ("number list", 0, None),
    "hybrid_blends": ("number list", 0, 1),
    "cold_start_movie_fraction": ("number", 0.000001, 0.5),
    "cold_start_new_users": ("int", 1, None),
    "cold_start_min_user_ratings": ("int", 2, None),
    "cold_start_known_ratings": ("int list", 1, None),
    "cold_start_max_users": ("int", 1, None),
    "new_user_shrinkages": ("number list", 0, None),
}


def _check(name: str, value, kind: str, low, high) -> str | None:
    if kind.endswith("list"):
        if not isinstance(value, (list, tuple)) or not value:
            return f"{name} must be a non-empty list, got {value!r}"
        problems = [
            _check(f"{name}[{i}]", item, kind.split()[0], low, high) for i, item in enumerate(value)
        ]
        return next((p for p in problems if p), None)
    parsed = _integer(value) if kind == "int" else _number(value)
    what = "an integer" if kind == "int" else "a number"
    if parsed is None:
        return f"{name} must be {what}, got {value!r}"
    if (low is not None and parsed < low) or (high is not None and parsed > high):
        bounds = (f"from {low:g}" if low is not None else "") + (
            f" up to {high:g}" if high is not None else ""
        )
        return f"{name} must be {what} {bounds.strip()}, got {value!r}"
    return None


# vars with a fixed set of values
CHOICES: dict[str, tuple[str, ...]] = {
    "split_strategy": ("random", "temporal"),
    "als_tuning_search": ("coordinate", "grid"),
}
# every var problems() checks: what the on-run-start macro passes it
CHECKED = ("dataset", "raw_dir", *CHOICES, *RULES)


def problems(values: dict) -> list[str]:
    """Every problem with `values` (var name -> value as dbt resolved it), one line each."""
    found = []
    try:
        get_release(str(values.get("dataset")))
    except ValueError as exc:
        found.append(f"dataset: {exc}")
    raw_dir = str(values.get("raw_dir") or "")
    if any(char in raw_dir for char in "'`\\\n"):
        found.append(
            f"raw_dir must not contain quotes, backticks, backslashes or line breaks "
            f"(it is written into SQL), got {raw_dir!r}"
        )
    for name, allowed in CHOICES.items():
        if name in values and values[name] not in allowed:
            found.append(
                f"{name} must be one of {', '.join(map(repr, allowed))}, got {values[name]!r}"
            )
    for name, (kind, low, high) in RULES.items():
        if name in values:
            problem = _check(name, values[name], kind, low, high)
            if problem:
                found.append(problem)
    held_out = [
        _number(values.get(n)) for n in ("split_validation_fraction", "split_test_fraction")
    ]
    if None not in held_out and sum(held_out) >= 1:
        found.append(
            f"split_validation_fraction + split_test_fraction must be below 1 (training "
            f"needs the rest), got {held_out[0]:g} + {held_out[1]:g}"
        )
    buckets = [_integer(b) for b in values.get("eda_count_buckets") or []]
    if None not in buckets and buckets != sorted(set(buckets)):
        found.append(f"eda_count_buckets must be strictly increasing, got {buckets}")
    return found
