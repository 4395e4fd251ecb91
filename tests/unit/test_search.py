"""Coordinate search over a grid (movielake.algorithms.search), run against fixed score tables."""

from __future__ import annotations

import pytest

from movielake.algorithms.search import CoordinateSearch

pytestmark = pytest.mark.unit

RANKS = [8, 16, 32, 64]
REGS = [0.01, 0.03, 0.1, 0.3]
# als_explicit's validation RMSE on ml-latest-small (als_tuning, full grid, commit 3568736)
EXPLICIT_RMSE = dict(
    zip(
        [(r, g) for r in RANKS for g in REGS],
        [1.0553, 0.9773, 0.8783, 0.9147, 1.1666, 1.0340, 0.8845, 0.9160]
        + [1.2827, 1.0676, 0.8805, 0.9161, 1.3653, 1.0743, 0.8800, 0.9167],
    )
)


def run(search: CoordinateSearch, table: dict) -> list[list[tuple]]:
    """Score the search's sweeps from `table`; the batches it asked for, in order."""
    batches = []
    while todo := search.pending():
        assert not set(todo) & search.scored, "a point is scored twice"
        batches.append(todo)
        for point in todo:
            search.record(point)
    return batches


def lowest(table):
    return lambda points: sorted(points, key=table.__getitem__)


def test_finds_the_grids_best_with_fewer_fits():
    search = CoordinateSearch([RANKS, REGS], lowest(EXPLICIT_RMSE), first_axis=1)
    batches = run(search, EXPLICIT_RMSE)
    assert search.best == min(EXPLICIT_RMSE, key=EXPLICIT_RMSE.get) == (8, 0.1)
    # regParam at the middle rank (4), the ranks at its best regParam (3 more), then regParam
    # at the new best rank (3 more), which leaves the best where it was: 10 fits, not 16
    assert batches == [
        [(32, 0.01), (32, 0.03), (32, 0.1), (32, 0.3)],
        [(8, 0.1), (16, 0.1), (64, 0.1)],
        [(8, 0.01), (8, 0.03), (8, 0.3)],
    ]


def test_stops_after_one_unmoved_sweep_per_axis():
    # the start is best along both axes: two sweeps, then done
    table = {(r, g): abs(r - 32) + abs(g - 0.1) for r in RANKS for g in REGS}
    search = CoordinateSearch([RANKS, REGS], lowest(table), first_axis=1)
    assert [len(b) for b in run(search, table)] == [4, 3]
    assert search.best == (32, 0.1)


def test_walks_to_a_corner_across_several_sweeps():
    # a valley along the diagonal, lowest at (64, 0.3)
    table = {
        (r, g): -(RANKS.index(r) + REGS.index(g)) + 0.1 * abs(RANKS.index(r) - REGS.index(g))
        for r in RANKS
        for g in REGS
    }
    search = CoordinateSearch([RANKS, REGS], lowest(table), first_axis=0)
    run(search, table)
    assert search.best == (64, 0.3)
    assert len(search.scored) < len(table)


def test_ends_at_a_point_no_single_move_improves():
    # the grid's best (8, 0.01) is reachable only by a move along both axes at once
    table = {(r, g): 1.0 for r in RANKS for g in REGS}
    table[(32, 0.1)] = 0.5
    table[(8, 0.01)] = 0.1
    search = CoordinateSearch([RANKS, REGS], lowest(table), first_axis=1)
    run(search, table)
    assert search.best == (32, 0.1)


def test_ties_keep_grid_order_and_single_value_axes_work():
    flat = {(r, 0.1): 1.0 for r in (4, 8)}
    search = CoordinateSearch([[4, 8], [0.1]], lowest(flat), first_axis=1)
    assert run(search, flat) == [[(8, 0.1)], [(4, 0.1)]]
    assert search.best == (4, 0.1)  # a tie goes to the first in grid order
    one = CoordinateSearch([[8], [0.1]], lowest({(8, 0.1): 1.0}))
    assert run(one, {(8, 0.1): 1.0}) == [[(8, 0.1)]]
    with pytest.raises(ValueError, match="at least one value"):
        CoordinateSearch([[8], []], lowest({}))
