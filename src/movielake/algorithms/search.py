"""Coordinate search over a grid of settings: fewer fits than the whole grid, for a grid whose
best point is found one axis at a time (ALS's rank and regParam, where the best regParam moves
little with the rank).

From a start point (the middle of each axis), sweep one axis with the others held at the best
point so far, then the next axis, and so on; stop once a sweep along every axis in turn has left
the best point where it was. Every point is scored at most once; a sweep whose points are all
scored costs nothing. On a 4 x 4 grid this usually fits 7 to 10 points instead of 16, and it
ends at a point no single-axis move improves (not always the grid's best)."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence

Point = tuple


class CoordinateSearch:
    """One search. `order(points)` returns scored points best first (a stable rule: ties keep
    the order given, which is grid order). Call `pending()` for the points to score next, score
    them, `record` each, and repeat until `pending()` is empty; `best` is then the result."""

    def __init__(
        self,
        axes: Sequence[Sequence[Hashable]],
        order: Callable[[list[Point]], list[Point]],
        first_axis: int = 0,
    ):
        if not axes or any(len(axis) == 0 for axis in axes):
            raise ValueError("every axis of the grid needs at least one value")
        self.axes = [list(axis) for axis in axes]
        self.order = order
        self.best: Point = tuple(axis[len(axis) // 2] for axis in self.axes)
        self.axis = first_axis % len(self.axes)
        self.scored: set[Point] = set()
        # sweeps in a row that left the best point where it was (the first always counts)
        self._unmoved = 0

    def _line(self) -> list[Point]:
        """The current sweep: the current axis's values, the other axes at the best point."""
        return [
            tuple(value if i == self.axis else b for i, b in enumerate(self.best))
            for value in self.axes[self.axis]
        ]

    def pending(self) -> list[Point]:
        """The next sweep's unscored points, in grid order; [] once the search has ended."""
        while self._unmoved < len(self.axes):
            line = self._line()
            todo = [p for p in line if p not in self.scored]
            if todo:
                return todo
            # the sweep is scored: move to its best point, then sweep the next axis
            best = self.order(line)[0]
            self._unmoved = self._unmoved + 1 if best == self.best else 1
            self.best = best
            self.axis = (self.axis + 1) % len(self.axes)
        return []

    def record(self, point: Point) -> None:
        """Mark `point` scored (its score is what `order` reads)."""
        self.scored.add(tuple(point))
