"""`adapter` for sqlfluff's jinja templater, which has no dbt adapter: it answers from the real
release registry so that linted SQL is the SQL dbt would compile (for ml-latest-small)."""

from movielake.data.releases import RELEASES, get_release


def movielens_release(name):
    return get_release(name if name in RELEASES else "ml-latest-small").as_dict()


def movielens_files(name, raw_dir=None):
    return {}
