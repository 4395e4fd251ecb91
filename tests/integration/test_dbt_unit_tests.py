"""dbt's own unit tests (models/**/_*__unit_tests.yml), run against the real Spark session, and
the project's generic tests (macros/tests) on fixed rows."""

from __future__ import annotations


def test_dbt_unit_tests_pass(dbt):
    # dbt reads the column types of a unit test's inputs from the warehouse: create the
    # staging tables empty first (a fresh data home has none).
    assert dbt("run", "--empty", "--select", "staging").success
    result = dbt("test", "--select", "test_type:unit")
    assert result.success, [(r.node.name, r.message) for r in result.result or [] if r.message]
    statuses = {
        r.node.name: str(r.status) for r in result.result if r.node.resource_type == "unit_test"
    }
    assert len(statuses) >= 10, statuses  # every unit test ran
    assert set(statuses.values()) == {"pass"}, statuses


def test_not_null_columns_names_each_column_holding_nulls(dbt):
    """A model's not-null checks are one query: a row per column with nulls, with their count;
    a clean column gives none (and a clean table no rows, so the test passes)."""
    rows = "select * from values (1, null, 3), (2, null, null) as v(a, b, c)"
    shown = {}
    for columns in (["a", "b", "c"], ["a"]):
        sql = f"{{{{ test_not_null_columns(model='({rows})', columns={columns}) }}}}"
        result = dbt("show", "--inline", sql)
        assert result.success
        table = result.result.results[0].agate_table
        assert table.column_names == ("null_column", "null_rows")
        shown[columns[-1]] = sorted(tuple(row) for row in table.rows)
    assert shown == {"c": [("b", 2), ("c", 1)], "a": []}
