"""Where a person can walk: an occupancy grid of the floor and a flood fill from the door.

The agent is a disc of ``radius`` (0.2 m for a person 0.4 m wide, plus a safety margin);
a cell is free when its centre is that far from every wall and every piece of
furniture. The flood fill spreads along whole free runs of a row, then of a column, and
repeats until nothing changes: a handful of numpy passes instead of a cell-by-cell
search. An object is reachable when some reached cell lies in its approach zone: the
strip in front of it, or any side for objects used from any side (chairs, beds).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from services.planner import geometry
from shared.layout import Vec2

Index = npt.NDArray[Any]
Grid = npt.NDArray[Any]

CELL = 0.1  # cells are this size, or larger in a hall (at most MAX_CELLS of them)
MAX_CELLS = 20_000
PERSON = 0.2  # a person 0.4 m wide
RADIUS = PERSON + 0.4 * CELL  # with a margin for the grid: the checker's is finer
REACH = 0.3  # how far from an object's side its user may stand
AISLE = 2 * RADIUS + 0.06  # the narrowest gap the agent passes through
# Cells around a new obstacle in the window where the reach is worked out anew: a wider
# window finds more separate ways in at its edge that join only outside it (each then
# needs a flood of the whole floor), a narrower one loses the way round the obstacle.
DETOUR_CELLS = 3


class WalkGrid:
    def __init__(self, polygon: Sequence[Vec2]):
        xs = [p[0] for p in polygon]
        zs = [p[1] for p in polygon]
        area = (max(xs) - min(xs)) * (max(zs) - min(zs))
        cell = max(CELL, math.sqrt(area / MAX_CELLS))
        self.cell = cell
        self.radius = radius = PERSON + 0.4 * cell
        self.x0, self.z0 = min(xs), min(zs)
        self.nx = max(1, math.ceil((max(xs) - self.x0) / cell))
        self.nz = max(1, math.ceil((max(zs) - self.z0) / cell))
        cx = self.x0 + (np.arange(self.nx) + 0.5) * cell
        cz = self.z0 + (np.arange(self.nz) + 0.5) * cell
        self.cx, self.cz = np.meshgrid(cx, cz)  # [row = z, column = x]
        inside = geometry.points_in_polygon(self.cx, self.cz, polygon)
        clear = np.full(self.cx.shape, np.inf)
        for i in range(len(polygon)):
            (ax, az), (bx, bz) = polygon[i], polygon[(i + 1) % len(polygon)]
            clear = np.minimum(
                clear, geometry.point_segment_distance(self.cx, self.cz, ax, az, bx, bz)
            )
        self.base: Grid = inside & (clear >= radius)
        self.count = np.zeros(self.cx.shape, dtype=np.int16)
        self.seeds: Grid = np.zeros(self.cx.shape, dtype=bool)

    # ----------------------------------------------------------------- cells

    def _window(
        self, x: float, z: float, w: float, d: float, reach: float
    ) -> tuple[slice, slice] | None:
        half = math.hypot(w, d) / 2 + reach
        i0 = max(0, math.floor((z - half - self.z0) / self.cell))
        i1 = min(self.nz, math.ceil((z + half - self.z0) / self.cell) + 1)
        j0 = max(0, math.floor((x - half - self.x0) / self.cell))
        j1 = min(self.nx, math.ceil((x + half - self.x0) / self.cell) + 1)
        if i0 >= i1 or j0 >= j1:
            return None
        return slice(i0, i1), slice(j0, j1)

    def shadow(
        self, x: float, z: float, w: float, d: float, rot: float
    ) -> tuple[tuple[slice, slice], Grid] | None:
        """The cells an object takes from the agent: centres within ``radius`` of it."""
        window = self._window(x, z, w, d, self.radius)
        if window is None:
            return None
        rows, cols = window
        dist = geometry.rect_point_distance(
            self.cx[rows, cols], self.cz[rows, cols], x, z, w, d, rot
        )
        return window, np.asarray(dist < self.radius)

    def zone(self, x: float, z: float, w: float, d: float, rot: float, access: str) -> Index:
        """Flat indices of the cells a person may use the object from: "any" side, the
        "front", "back", "left" (local -X) or "right" one, or "none"."""
        if access == "none":
            return np.zeros(0, dtype=np.intp)
        reach = self.radius + REACH
        window = self._window(x, z, w, d, reach)
        if window is None:
            return np.zeros(0, dtype=np.intp)
        rows, cols = window
        px, pz = self.cx[rows, cols], self.cz[rows, cols]
        dist = geometry.rect_point_distance(px, pz, x, z, w, d, rot)
        mask = (dist <= reach) & (dist >= self.radius - 1e-9)
        if access != "any":
            lx, lz = geometry.to_local(px, pz, x, z, rot)
            if access == "front":
                mask &= lz >= d / 2 - 1e-9
            elif access == "back":
                mask &= lz <= -d / 2 + 1e-9
            elif access == "left":
                mask &= lx <= -w / 2 + 1e-9
            elif access == "right":
                mask &= lx >= w / 2 - 1e-9
        r, c = np.nonzero(mask)
        return np.asarray((r + rows.start) * self.nx + (c + cols.start), dtype=np.intp)

    def add(self, shadow: tuple[tuple[slice, slice], Grid] | None, sign: int = 1) -> None:
        if shadow is None:
            return
        (rows, cols), mask = shadow
        self.count[rows, cols] += sign * mask.astype(np.int16)

    def set_doors(self, points: Sequence[Vec2]) -> None:
        """Where the agent enters: the free cells close to a point inside each door."""
        seeds = np.zeros(self.cx.shape, dtype=bool)
        for x, z in points:
            near = np.hypot(self.cx - x, self.cz - z) <= max(0.16, self.cell * 1.5)
            seeds |= near
        self.seeds = seeds

    def free(self, extra: tuple[tuple[slice, slice], Grid] | None = None) -> Grid:
        free = self.base & (self.count == 0)
        if extra is not None:
            (rows, cols), mask = extra
            free[rows, cols] &= ~mask
        return free

    def reach(self, free: Grid) -> Grid:
        return flood(free, self.seeds & free)

    def reach_after(self, reached: Grid, shadow: tuple[tuple[slice, slice], Grid] | None) -> Grid:
        """The reach once ``shadow`` is taken as well, given the reach before it.

        Taking cells only ever cuts paths, and only paths through the new obstacle. In a
        window a few cells larger than it, the reached cells on the window's edge (and
        the doors inside it) are where every path from the rest of the floor comes in:
        when they still join up around the obstacle, nothing outside the window loses
        its way in, and inside it the reach is what those cells still join. That takes
        a flood of the window instead of the whole floor, and gives the same answer; when
        they do not join up within the window, the whole floor is flooded again.
        """
        if shadow is None:
            return reached
        (rows, cols), mask = shadow
        if not (reached[rows, cols] & mask).any():
            return reached
        after = self._local_reach(reached, shadow)
        if after is None:
            return self.reach(self.free(shadow))
        return after

    def _local_reach(self, reached: Grid, shadow: tuple[tuple[slice, slice], Grid]) -> Grid | None:
        (rows, cols), mask = shadow
        m = DETOUR_CELLS
        r0, r1 = max(rows.start - m, 0), min(rows.stop + m, self.nz)
        c0, c1 = max(cols.start - m, 0), min(cols.stop + m, self.nx)
        taken = np.zeros((r1 - r0, c1 - c0), dtype=bool)
        taken[rows.start - r0 : rows.stop - r0, cols.start - c0 : cols.stop - c0] = mask
        doors = self.seeds[r0:r1, c0:c1]
        if (doors & taken).any():
            return None
        open_ = reached[r0:r1, c0:c1] & ~taken
        # Where paths from the rest of the floor come in: the window's edge (not where
        # it is the floor's own edge) and any door inside it.
        edge = np.zeros_like(taken)
        if r0 > 0:
            edge[0, :] = True
        if r1 < self.nz:
            edge[-1, :] = True
        if c0 > 0:
            edge[:, 0] = True
        if c1 < self.nx:
            edge[:, -1] = True
        ways_in = (edge | doors) & open_
        count = int(np.count_nonzero(ways_in))
        if count == 0:
            return None
        start = np.zeros_like(ways_in)
        start.flat[int(np.flatnonzero(ways_in)[0])] = True
        joined = flood(open_, start)
        if int(np.count_nonzero(joined & ways_in)) != count:
            return None
        after = reached.copy()
        after[r0:r1, c0:c1] = joined
        return after


def flood(free: Grid, seeds: Grid) -> Grid:
    """Every free cell connected to a seed (4-neighbourhood)."""
    if not seeds.any():
        return np.zeros_like(free)
    rows, cols = free.shape
    start = free.copy()
    start[:, 1:] &= ~free[:, :-1]
    row_label = np.cumsum(start.ravel()).reshape(rows, cols)
    row_label[~free] = 0
    start = free.copy()
    start[1:, :] &= ~free[:-1, :]
    col_label = np.cumsum(start.T.ravel()).reshape(cols, rows).T
    col_label[~free] = 0
    row_hit = np.zeros(int(row_label.max()) + 1, dtype=bool)
    col_hit = np.zeros(int(col_label.max()) + 1, dtype=bool)
    reached = seeds & free
    total = -1
    while True:
        row_hit[:] = False
        row_hit[row_label[reached]] = True
        row_hit[0] = False
        reached = row_hit[row_label]
        col_hit[:] = False
        col_hit[col_label[reached]] = True
        col_hit[0] = False
        reached = col_hit[col_label]
        count = int(np.count_nonzero(reached))
        if count == total:
            return reached
        total = count
