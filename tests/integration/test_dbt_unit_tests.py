"""dbt's own unit tests (models/**/_*__unit_tests.yml), run against the real Spark session."""

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
