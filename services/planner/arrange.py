"""One search for places in one room: the candidates, the hard checks and the scores.

For each object the :class:`Arranger` generates candidate poses *from* its rules and
the room — slots along every wall and flush against what already stands there, slots
around, beside, in front of and under its targets, next to the objects of its own kind
(rows of desks), a grid over the open floor — scores them all at once with numpy, and
tries them best first against the hard checks:

- the true rotated footprint inside the room polygon (an L's inner corner included);
- no overlap in 3D with what is placed (a rug under furniture, an object standing on
  another and a low object wholly under a table excepted);
- the keep-out box in front of each door, the strip in front of each window for
  furniture taller than its sill, and the space in front of every opening for wall
  objects;
- the walkway: a person can still walk from the door to every floor object
  (:mod:`services.planner.walk`).

An object with companions to come (chairs around a table) first looks for a place with
room for them too. Small things stand on what the catalog says they stand on: books in
rows on the boards inside a bookcase (spines out, bottom board first), plates and cutlery
at the places in front of the seats around a table, pillows at the head of a bed, towels
and boxes stacked once there is no room beside; what finds no room is reported. Every
weight and threshold is a named constant below with the reason for its value.
Everything random comes from the seed.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from services.planner import geometry, items, room, rules, walk
from services.planner.geometry import Array, Mask
from services.planner.items import Item, Rule
from services.planner.placed import Placed, Rows
from services.planner.rules import Candidates, RoomInfo, Shape
from shared.layout import Room

GAP = 0.02  # clearance between pieces of furniture
WALL_GAP = 0.005  # between a wall and the back of an object against it
MARGIN = 0.003  # footprints stay this far inside the walls
CEILING_GAP = 0.02  # between the ceiling and the top of what stands below it
LAMP_GAP = 0.2  # between two things hanging from the ceiling
GRID_POINTS = 600.0  # about this many points over the open floor are tried
MAX_REACH_TRIES = 40  # candidates tried against the walkway per object
CHUNK = 96  # candidates checked against the placed objects at a time
FIRST_SCORED = 512  # candidates of the lowest score bounds scored exactly at first
# Rounding a bound below a score may not reach past: far above what adding a few terms
# can round off, far below any difference in score that matters.
BOUND_SLACK = 1e-6
# Floor placement scores (lower is better). A rule's violation in metres weighs more
# than any preference, and breaking it at all costs a step on top.
RULE_WEIGHT = 3.0  # per metre a rule is missed by
UNMET_WEIGHT = 2.0  # for missing a rule at all
WALL_RULE_WEIGHT = 1.5  # against_wall outweighs other rules: a back off the wall looks wrong
RULE_PREFERENCE = 0.5  # how much a rule's own preference (squarer, closer) counts
JITTER = 0.15  # random spread between near-equal candidates, from the seed
HUG_WEIGHT = 1.5  # per metre a wall-hugging piece stands off the wall without being told
HUG_UNMET = 1.0  # and for standing off it at all
CENTRE_WEIGHT = 1.2  # beds, sofas, fireplaces: off the middle of their wall, per wall length
SHORT_WALL = 0.4  # and on a shorter wall than the longest
DOOR_WALL = 0.6  # and on the door's wall, where one walks in
UNDER_WINDOW = 1.5  # a piece with something hung above it under a window
CORNER_PULL = 0.3  # per metre a wardrobe or bookcase stands from the nearest wall end
EDGE_PULL = 0.3  # per metre a free-standing piece stands out from the walls
FACE_ROOM = 0.3  # a free-standing piece (or the person at a desk) turned from the room
KIN_PULL = 0.05  # per metre from the last one of the same kind: like things group
SCREENS = frozenset(("tv", "tv stand"))
SIGHT_HEIGHT = 0.6  # furniture taller than this blocks a view
OPENING_DEPTH = 0.55  # wall objects on a side wall keep this far from an opening

# Small things on surfaces. Ranks add up; the lowest wins.
BOARD_THICKNESS = 0.025  # a shelf board: what stands below it keeps under this
SHELF_RANK = 0.5  # a thing that does not belong on shelves goes inside one only when it must
LEVEL_RANK = 0.05  # per board up: shelves fill from the bottom
# Books and goods stand on a board in runs: every BOARD_RUN of a kind on a board adds
# BOARD_RUN_RANK there, more than the top board of a bookcase costs, so the boards of every
# shelving unit each get a few before any gets more (fifty books in three bookcases:
# five on most boards, not a full bottom row under four empty boards).
BOARD_RUN = 5
BOARD_RUN_RANK = 0.25
HIGH_TOP = 1.3  # metres: a top higher than this is out of easy reach
HIGH_TOP_RANK = 1.0  # so things go there last
TOP_RANK = 1.5  # books stand inside a bookcase before on top of it
PARENT_ORDER_RANK = 0.3  # per step down a category's list of usual supports
ANY_TOP_RANK = 4.0  # anything with a top, when no usual support has room
SIBLING_RANK = 1.5  # per thing of the same kind already there: vases spread out
SET_SIBLING_RANK = 0.05  # place settings fill a table before the next one
PACKED_SIBLING_RANK = 0.002  # books fill one bookcase before the next one
PACK_GAP = 0.003  # between books standing side by side
PACK_RANK = 0.05  # per metre from the board's end: rows fill from one end
PACK_ROW_RANK = 1.0  # per metre from the first row: a row fills before the next one
TURN_RANK = 0.1  # turned across its support rather than along it
CLIP_RANK = 1.0  # a runner cut short across a table rather than laid along it
SURFACE_CHUNK = 256  # surface candidates checked at a time
# A spot on a support scores at least the support's rank (its own ranks add up from 0):
# one scoring below the next rank by this much beats every spot of the supports there.
RANK_MARGIN = 1e-6
FEW_SUPPORTS = 4  # supports of a small thing checked for room in one batch
GRID_MAX = 25  # candidate positions along one side of a surface
STACK_RANK = 2.0  # on top of its own kind rather than on a usual support elsewhere
STACK_MAX = 8  # things in one stack
PLACE_REACH = 0.15  # a place setting lies this far past the front of its seat
SETTING_RADIUS = 0.2  # a seat with a thing of this kind this close is served
SETTING_RANK = 1.0  # per metre from the nearest seat still to serve
SETTING_FULL_RANK = 0.5  # every seat served: more go where there is room


# --------------------------------------------------------------------------- poses


@dataclass(eq=False)
class Pose:
    item: Item
    x: float
    y: float
    z: float
    rot: float
    quad: Array
    wall: int | None = None
    t: float | None = None
    parent: Pose | None = None
    zone: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.intp))
    window: int | None = None  # the window curtains hang at
    # The spec's item when ``item`` is an adjusted copy of it (curtains sized to their
    # window, a TV moved to the wall): items are shared by every attempt, never changed.
    source: Item | None = None

    @property
    def origin(self) -> Item:
        return self.source or self.item

    @property
    def shape(self) -> Shape:
        it = self.item
        return Shape(self.x, self.z, self.rot, it.w, it.d, self.y, it.h)


@dataclass
class Slots:
    """Candidate poses under construction: centres, rotations, and per candidate the
    wall it backs onto (-1: none), its distance along that wall and a rank penalty.
    Whole rows come in as arrays (:meth:`add`), single slots one by one (:meth:`one`)."""

    x: list[Array] = field(default_factory=list)
    z: list[Array] = field(default_factory=list)
    rot: list[Array] = field(default_factory=list)
    wall: list[Array] = field(default_factory=list)
    t: list[Array] = field(default_factory=list)
    rank: list[Array] = field(default_factory=list)
    # The point of the floor grid each candidate stands on (-1: another kind of slot).
    lattice: list[Array] = field(default_factory=list)
    # Per row: its one rotation when all its slots share it (None: they do not).
    turns: list[float | None] = field(default_factory=list)
    singles: list[tuple[float, float, float, float]] = field(default_factory=list)

    def add(
        self,
        x: Array,
        z: Array,
        rot: Array | float,
        wall: int = -1,
        t: Array | None = None,
        rank: Array | float = 0.0,
        lattice: Array | None = None,
    ) -> None:
        n = x.shape[0]
        if n == 0:
            return
        self.x.append(np.asarray(x, dtype=float))
        self.z.append(np.asarray(z, dtype=float))
        self.rot.append(np.broadcast_to(np.asarray(rot, dtype=float), (n,)))
        self.wall.append(np.full(n, wall, dtype=int))
        self.t.append(np.full(n, np.nan) if t is None else np.asarray(t, dtype=float))
        self.rank.append(np.broadcast_to(np.asarray(rank, dtype=float), (n,)))
        self.lattice.append(np.full(n, -1, dtype=np.intp) if lattice is None else lattice)
        self.turns.append(float(rot) if np.ndim(rot) == 0 else None)

    def one(self, x: float, z: float, rot: float, rank: float = 0.0) -> None:
        self.singles.append((x, z, rot, rank))

    def arrays(self) -> tuple[Array, Array, Array, np.ndarray, Array, Array, np.ndarray]:
        if self.singles:
            extra = np.array(self.singles, dtype=float)
            self.add(extra[:, 0], extra[:, 1], extra[:, 2], rank=extra[:, 3])
            self.singles = []
        if not self.x:
            empty = np.zeros(0)
            none = np.zeros(0, dtype=np.intp)
            return empty, empty, empty, np.zeros(0, dtype=int), empty, empty, none
        return (
            np.concatenate(self.x),
            np.concatenate(self.z),
            np.round(np.mod(np.concatenate(self.rot), 360.0), 9),
            np.concatenate(self.wall),
            np.concatenate(self.t),
            np.concatenate(self.rank),
            np.concatenate(self.lattice),
        )

    def boxes(self, x: Array, z: Array, rot: Array, w: float, d: float) -> Array:
        """:attr:`Candidates.boxes` of the slots (``x``, ``z``, ``rot`` as
        :meth:`arrays` gave them), each row turned one way taken as one turn."""
        hx, hz = np.empty(x.shape[0]), np.empty(x.shape[0])
        start = 0
        for row, turn in zip(self.x, self.turns, strict=True):
            part = slice(start, start + row.shape[0])
            turned = rot[part] if turn is None else rot[start : start + 1]
            hx[part], hz[part] = rules.half_extents(turned, w, d)
            start += row.shape[0]
        return np.stack([x - hx, z - hz, x + hx, z + hz], axis=1)


@dataclass
class Walk:
    """The outcome of a walkway check: whether it passed, the cells the object takes
    from the walkway, the cells it is used from, and the reach afterwards (``None``
    when it must be worked out again)."""

    ok: bool
    shadow: tuple[tuple[slice, slice], np.ndarray] | None
    zone: np.ndarray
    reached: np.ndarray | None


@dataclass
class Failure:
    item: Item
    reason: str
    growable: bool = True


class _Ranking:
    """One floor object's candidates in score order, worked out as far as it is read.

    Each candidate gets its jitter and a bound below its score: its rank and jitter, and
    what :meth:`Arranger._score_floor` says the rest adds at least. Exact scores are
    worked out for the candidates of the lowest bounds only, twice as many each time
    more of the order is wanted: a candidate not scored yet would have to score below a
    bound at least as high as the last one in the order given. In a hall of thousands of
    candidates a chair is scored near its table, a desk near the walls.
    """

    def __init__(
        self,
        arranger: Arranger,
        item: Item,
        c: Candidates,
        kept: np.ndarray,
        wall: np.ndarray,
        t: Array,
        rank: Array,
        grid_point: np.ndarray,
    ):
        self.arranger, self.item, self.c, self.kept = arranger, item, c, kept
        self.wall, self.t, self.rank, self.grid_point = wall, t, rank, grid_point
        self.base = rank[kept] + arranger.noise.random(len(kept)) * JITTER
        # In another order than the scores add up: rounding differs, hence the slack.
        self.bound = self.base + arranger._score_floor(item, c, grid_point)[kept] - BOUND_SLACK
        self.order = np.zeros(0, dtype=np.intp)
        self.scored = 0

    def first(self, k: int) -> np.ndarray:
        """The first ``k`` of the ``kept`` candidates in score order (ties: the first
        made first), as places in ``kept``."""
        n = len(self.kept)
        while len(self.order) < min(k, n):
            self._score(max(2 * self.scored, k, FIRST_SCORED))
        return self.order[:k]

    def _score(self, count: int) -> None:
        n = len(self.kept)
        if count >= n:
            picked, limit = np.arange(n), math.inf
        else:
            split = np.argpartition(self.bound, count)
            picked, limit = np.sort(split[:count]), float(self.bound[split[count]])
        among = self.kept[picked]
        scores = self.arranger._score(
            self.item,
            self.c.take(among),
            self.wall[among],
            self.t[among],
            self.rank[among],
            self.grid_point[among],
            self.base[picked],
        )
        by_score = np.argsort(scores, kind="stable")
        certain = int(np.searchsorted(scores[by_score], limit, side="left"))
        self.order = picked[by_score[:certain]]
        self.scored = min(count, n)


class _Tier:
    """The supports of one rank, listed when first asked for."""

    def __init__(self, makes: list[Callable[[], list[tuple[int, Pose]]]]):
        self._makes = makes

    def members(self) -> list[tuple[int, Pose]]:
        return [entry for make in self._makes for entry in make()]


# --------------------------------------------------------------------------- arranging


class Arranger:
    """One search over one room."""

    def __init__(self, shell: Room, rng: random.Random):
        self.room = shell
        self.polygon = list(shell.polygon)
        self.walls = room.walls(self.polygon)
        self.rect = len(self.polygon) == 4 and all(
            abs(w.u[0]) < 1e-9 or abs(w.u[1]) < 1e-9 for w in self.walls
        )
        xs = [p[0] for p in self.polygon]
        zs = [p[1] for p in self.polygon]
        self.box = (min(xs), min(zs), max(xs), max(zs))
        door_shapes = [room.opening_shape(o, self.walls[o.wall]) for o in shell.doors]
        window_shapes = [room.opening_shape(o, self.walls[o.wall]) for o in shell.windows]
        self.info = RoomInfo(self.polygon, self.walls, door_shapes, window_shapes)
        self.rng = rng
        self.noise = np.random.default_rng(rng.randrange(2**32))
        self.index = Placed()
        self.poses: list[Pose] = self.index.poses
        self.by_item: dict[int, Pose] = self.index.by_item
        self.failures: list[Failure] = []
        # The failures of each object of the spec, and how many could use more room.
        self._failed: dict[int, list[Failure]] = {}
        self._growable = 0
        self.walk = walk.WalkGrid(self.polygon)
        self.walk.set_doors([room.entry_point(d, self.walls[d.wall]) for d in shell.doors])
        self.check_walk = bool(shell.doors)  # a room with no door has no walkway to keep
        self.reached = self.walk.reach(self.walk.free()) if self.check_walk else None
        # Views kept open (a sofa to its TV): boxes that tall furniture stays out of.
        self.sights: list[tuple[Array, set[int]]] = []
        # Static keep-outs: (shape, applies to floor objects taller than this).
        self.keepouts: list[tuple[Shape, float]] = []
        for door in shell.doors:
            self.keepouts.append((room.door_zone(door, self.walls[door.wall]), items.FLAT))
        for window in shell.windows:
            zone = room.opening_box(window, self.walls[window.wall])
            self.keepouts.append((zone, max(items.FLAT, window.sill + 0.01)))
        # The space in front of each opening that wall objects keep out of: (box, the
        # index of the window it belongs to or -1 for a door).
        self.opening_boxes: list[tuple[Shape, int]] = []
        for door in shell.doors:
            box = room.opening_box(door, self.walls[door.wall], OPENING_DEPTH)
            self.opening_boxes.append((box, -1))
        for k, window in enumerate(shell.windows):
            box = room.opening_box(window, self.walls[window.wall], OPENING_DEPTH)
            self.opening_boxes.append((box, k))
        # The places at each table (by id of its pose), worked out once.
        self._spots: dict[int, list[tuple[float, float]]] = {}
        # The place settings' ranks of a request's spots on a support (see _on_support).
        self._settings: dict[tuple[int, int, float, float, float, int], list[Array] | None] = {}
        # Where things of one request could stand on one support (see _surface_grid).
        self._grids: dict[tuple[int, int, float, float, float], list[Any]] = {}
        # Objects placed without the floor their companions wanted (a table with no
        # room for its chairs): a room the spec does not size grows for them.
        self.cramped: list[Item] = []
        # About 600 grid points over the floor, 15 cm to 1 m apart (a hall has more:
        # its candidates are scored as far as _Ranking needs, not all of them).
        self.step = min(max(math.sqrt(max(shell.area, 1.0) / GRID_POINTS), 0.15), 1.0)
        self._grid = self._floor_grid()
        # From each floor grid point, the distance to the nearest wall.
        self._grid_walls = np.full(self._grid[0].shape, np.inf)
        for w in self.walls:
            self._grid_walls = np.minimum(
                self._grid_walls, geometry.point_segment_distance(*self._grid, *w.a, *w.b)
            )
        # Per wall, the stretch along it (from, to) of each piece of furniture against it.
        self._along = [Rows((2,), float) for _ in self.walls]
        # Per category: how many of its things are counted in the distances from each
        # floor grid point to the nearest of them, and those distances.
        self._kin: dict[str, tuple[int, Array]] = {}

    # ----------------------------------------------------------------- bookkeeping

    def placed(self, item: Item) -> Pose | None:
        return self.by_item.get(id(item))

    def _commit(self, pose: Pose) -> None:
        if pose.item.placement == "floor":
            self._spots.clear()  # a new seat may have been drawn up to a table
            self._settings.clear()
            if not pose.item.flat:
                self._stands_at_walls(pose)
        self.index.add(pose)

    def _stands_at_walls(self, pose: Pose) -> None:
        """Note where along each wall a piece of furniture standing against it reaches
        (something else may stand flush beside it)."""
        for wall, run in zip(self.walls, self._along, strict=True):
            rel = pose.quad[None] - np.array(wall.a)
            along = rel @ np.array(wall.u)
            out = rel @ np.array(wall.n)
            if (out.min(axis=1) <= 0.35) & (out.max(axis=1) >= -0.01):
                run.append(np.stack([along.min(axis=1), along.max(axis=1)], axis=1))

    def _fail(self, item: Item, reason: str, growable: bool = True) -> None:
        failure = Failure(item, reason, growable)
        self.failures.append(failure)
        self._failed.setdefault(id(item.obj), []).append(failure)
        self._growable += growable

    def _obstacles(self) -> tuple[Array, ...]:
        """Every placed pose as arrays: quads, boxes, y0, y1, aligned, flat, floor."""
        return self.index.arrays()

    # ----------------------------------------------------------------- hard checks

    def _inside(self, c: Candidates) -> Mask:
        boxes = c.boxes
        x0, z0, x1, z1 = self.box
        m = 1.5 * MARGIN
        ok = (
            (boxes[:, 0] >= x0 + m)
            & (boxes[:, 1] >= z0 + m)
            & (boxes[:, 2] <= x1 - m)
            & (boxes[:, 3] <= z1 - m)
        )
        if self.rect or not ok.any():
            return ok
        index = np.nonzero(ok)[0]
        grown = geometry.corners(
            c.x[index], c.z[index], c.w + 2 * MARGIN, c.d + 2 * MARGIN, c.rot[index]
        )
        ok[index] = geometry.polygon_contains(grown, self.polygon)
        return ok

    def _clear(
        self,
        item: Item,
        c: Candidates,
        exempt: set[int] | None = None,
        window: int | None = None,
        skip: np.ndarray | None = None,
    ) -> Mask:
        """Candidates that overlap no placed object and no keep-out zone. ``exempt``:
        tables the item may stand wholly under; ``window``: the window curtains hang at;
        ``skip``: per candidate, the index of the placed pose it stands inside (a
        shelving unit it is put into), -1 for none."""
        n = len(c)
        cand_boxes = c.boxes
        cand_aligned = geometry.aligned(c.rot)
        ok = np.ones(n, dtype=bool)
        if exempt and not item.flat:
            ok &= self._tucked(c, self._tables(exempt))
        near = self._near(cand_boxes)
        if near.size:
            quads, boxes, y0, y1, aligned, flat, floor, ceiling = (
                a[near] for a in self._obstacles()
            )
            m = near.size
            if item.flat:
                relevant = np.broadcast_to(flat, (n, m))
            else:
                top = c.y + item.h
                relevant = (
                    ~flat[None, :]
                    & (c.y[:, None] < y1[None, :] - 1e-9)
                    & (y0[None, :] < top[:, None] - 1e-9)
                )
                if exempt:
                    keep = np.ones(m, dtype=bool)
                    tables = [self.index.position[id(t)] for t in self._tables(exempt)]
                    keep[np.isin(near, tables)] = False
                    relevant = relevant & keep[None, :]
            if item.placement == "surface":
                # A plate stands on a runner or a placemat as on the table.
                cloth = self.index.cloth[near]
                if cloth.any():
                    relevant = np.array(relevant) & ~cloth[None, :]
            if skip is not None and (skip >= 0).any():
                relevant = np.array(relevant)
                rows = np.nonzero(skip >= 0)[0]
                at = np.minimum(np.searchsorted(near, skip[rows]), m - 1)
                hit = near[at] == skip[rows]
                relevant[rows[hit], at[hit]] = False
            gap = np.zeros(m)
            if item.placement == "floor" and not item.flat:
                gap = np.where(floor & ~flat, GAP, 0.0)
            elif item.placement == "ceiling":
                gap = np.where(ceiling, LAMP_GAP, 0.0)
            ok &= ~self._hits(
                c.quads, cand_boxes, cand_aligned, quads, boxes, aligned, gap, relevant
            )
        shapes: list[Shape] = []
        if item.placement == "floor" and not item.flat:
            shapes = [s for s, tallest in self.keepouts if item.h > tallest]
        elif item.placement == "wall":
            # Nothing on a wall juts into the way in front of a door or window.
            shapes = [box for box, k in self.opening_boxes if window is None or k != window]
        if shapes:
            kq = np.stack([s.quad for s in shapes])
            kb = geometry.bounds(kq)
            ka = geometry.aligned(np.array([s.rot for s in shapes]))
            every = np.ones((n, len(shapes)), dtype=bool)
            ok &= ~self._hits(
                c.quads, cand_boxes, cand_aligned, kq, kb, ka, np.zeros(len(shapes)), every
            )
        return ok

    def _near(self, cand_boxes: Array) -> Array:
        """The placed poses (indices, in order) whose boxes come within the widest gap of
        the box round all these candidates: none of the others can touch one of them."""
        boxes = self._obstacles()[1]
        if not len(boxes) or not len(cand_boxes):
            return np.zeros(0, dtype=np.intp)
        lo = cand_boxes[:, :2].min(axis=0) - 2 * LAMP_GAP
        hi = cand_boxes[:, 2:].max(axis=0) + 2 * LAMP_GAP
        return np.nonzero(
            (boxes[:, 2] >= lo[0])
            & (boxes[:, 3] >= lo[1])
            & (boxes[:, 0] <= hi[0])
            & (boxes[:, 1] <= hi[1])
        )[0]

    @staticmethod
    def _inside_of(c: Candidates, table: Pose) -> Mask:
        lx, lz = geometry.to_local(c.quads[:, :, 0], c.quads[:, :, 1], table.x, table.z, table.rot)
        inside = (np.abs(lx) <= table.item.w / 2 - 0.005) & (np.abs(lz) <= table.item.d / 2 - 0.005)
        return np.asarray(inside.all(axis=1))

    def _under(self, c: Candidates, tables: list[Pose]) -> Mask:
        """Candidates lying wholly under one of these tables."""
        out = np.zeros(len(c), dtype=bool)
        for table in tables:
            out |= self._inside_of(c, table)
        return out

    def _tucked(self, c: Candidates, tables: list[Pose]) -> Mask:
        """Candidates that either keep clear of these tables or lie wholly under one."""
        ok = np.ones(len(c), dtype=bool)
        for table in tables:
            apart = geometry.separated(c.quads, table.quad, 0.0)
            ok &= self._inside_of(c, table) | apart
        return ok

    @staticmethod
    def _hits(
        quads: Array,
        boxes: Array,
        aligned: Mask,
        oquads: Array,
        oboxes: Array,
        oaligned: Mask,
        gap: Array,
        relevant: Mask,
    ) -> Mask:
        g = gap[None, :]
        over = (
            relevant
            & (boxes[:, None, 0] < oboxes[None, :, 2] + g - 1e-9)
            & (oboxes[None, :, 0] < boxes[:, None, 2] + g - 1e-9)
            & (boxes[:, None, 1] < oboxes[None, :, 3] + g - 1e-9)
            & (oboxes[None, :, 1] < boxes[:, None, 3] + g - 1e-9)
        )
        exact = over & ~(aligned[:, None] & oaligned[None, :])
        if exact.any():
            ci, oi = np.nonzero(exact)
            apart = geometry.separated(quads[ci], oquads[oi], 0.0)
            # Turned shapes: the gap is kept on the box test above, the overlap is exact.
            over[ci[apart], oi[apart]] = False
        return np.asarray(over.any(axis=1))

    def _reserved(self, item: Item, c: Candidates) -> Candidates:
        """The candidates grown by the floor their companions will need."""
        front, back, left, right = item.reserve
        w = item.w + left + right
        d = item.d + front + back
        ox, oz = (right - left) / 2, (front - back) / 2
        sx, sz = geometry.side(c.rot)
        fx, fz = geometry.front(c.rot)
        return Candidates(
            c.x + sx * ox + fx * oz, c.z + sz * ox + fz * oz, c.rot, w, d, c.y, item.h, c.seat
        )

    # ----------------------------------------------------------------- scoring

    def _targets(self, rule: Rule) -> tuple[list[Shape], list[Pose | None]]:
        if rule.opening is not None:
            shapes = self.info.openings[rule.opening]
            return list(shapes), [None] * len(shapes)
        poses = [p for p in (self.placed(t) for t in rule.targets) if p is not None]
        return [p.shape for p in poses], list(poses)

    def _score(
        self,
        item: Item,
        c: Candidates,
        wall: np.ndarray,
        t: Array,
        rank: Array,
        grid_point: np.ndarray | None = None,
        base: Array | None = None,
        source: Item | None = None,
    ) -> Array:
        """Scores of candidates (lower is better); ``grid_point``: the floor grid point
        each stands on, -1 for none; ``base``: their ranks with the jitter drawn for
        them (drawn here when not given); ``source``: the spec's item when ``item`` is an
        adjusted copy of it."""
        n = len(c)
        score = rank + self.noise.random(n) * JITTER if base is None else base
        positional = False
        for rule in item.rules:
            if rule.kind == "on":
                continue
            if rule.kind in ("against_wall", "corner", "middle"):
                positional = True
            shapes, _ = self._targets(rule)
            if rule.relative and not shapes:
                continue
            if rule.relative:
                positional = True
            v, p, _ = rules.best_of(rule.kind, c, shapes, self.info, rule.distance)
            weight = WALL_RULE_WEIGHT if rule.kind == "against_wall" else 1.0
            violation = RULE_WEIGHT * v + UNMET_WEIGHT * (v > 1e-6)
            score = score + weight * violation + RULE_PREFERENCE * p
        score = score + self._faced(source or item, c)
        if item.placement == "floor":
            score = score + self._floor_preferences(item, c, wall, t, positional, grid_point)
        if item.placement in ("floor", "wall"):
            score = score + self._view_penalty(item, c)
        return score

    def _faced(self, item: Item, c: Candidates) -> Array:
        """What the "facing" rules of objects placed before ``item`` and turned to it add
        to its candidates' scores: a sofa placed first "facing the tv" has the tv put in
        front of it (when none of the rule's other targets is there yet)."""
        out = np.zeros(len(c))
        for viewer, rule in self._viewers(item):
            if any(t is not item and self.placed(t) is not None for t in rule.targets):
                continue
            v, p = rules.faced_by(c, viewer.shape, viewer.item.seat)
            out = out + RULE_WEIGHT * v + UNMET_WEIGHT * (v > 1e-6) + RULE_PREFERENCE * p
        return out

    def _viewers(self, item: Item) -> list[tuple[Pose, Rule]]:
        """The placed objects whose "facing" rule turns them to ``item``, or to a thing
        still to stand on it (a sofa facing the tv: the tv's stand goes where it looks)."""
        out = [
            (viewer, rule)
            for viewer, rule in self.index.referrers.get(id(item), [])
            if rule.kind == "facing"
        ]
        if item.has_top and item.placement == "floor":
            seen: set[tuple[int, int]] = set()
            facing = [
                (viewer, rule)
                for pairs in self.index.referrers.values()
                for viewer, rule in pairs
                if rule.kind == "facing"
            ]
            for viewer, rule in facing:
                if (id(viewer), id(rule)) in seen:
                    continue
                seen.add((id(viewer), id(rule)))
                for target in rule.targets:
                    entry = target.entry
                    if (
                        target.placement == "surface"
                        and self.placed(target) is None
                        and entry is not None
                        and entry.parents[:1] == (item.category,)
                    ):
                        out.append((viewer, rule))
                        break
        return [(v, r) for v, r in out if v.item.placement in ("floor", "wall")]

    def _score_floor(self, item: Item, c: Candidates, grid_point: np.ndarray) -> Array:
        """The least each candidate's score adds to its rank and jitter: for the rules
        that measure a gap to other objects, what the distance between centres leaves of
        the gap at least; on the floor grid, how far from every wall the back stands at
        least (against a wall), and the distance to the nearest thing of its kind.
        Every other part of a score is never below 0."""
        bound = np.zeros(len(c))
        on_grid = grid_point >= 0
        kinds = {r.kind for r in item.rules}
        hugs = item.wall_hugger and not kinds & {"against_wall", "middle", "under"}
        if "against_wall" in kinds or hugs:
            off = np.zeros(len(c))
            back = self._grid_walls[grid_point[on_grid]] - c.d / 2
            off[on_grid] = np.maximum(back - rules.WALL_TOLERANCE - BOUND_SLACK, 0.0)
            missed = off > 1e-6
            for rule in item.rules:
                if rule.kind == "against_wall":
                    bound = bound + WALL_RULE_WEIGHT * (RULE_WEIGHT * off + UNMET_WEIGHT * missed)
            if hugs:
                bound = bound + (HUG_WEIGHT * off + HUG_UNMET * missed)
        same = self.index.by_category.get(item.category)
        if same and item.category not in ("chair", "stool", "office chair") and on_grid.any():
            kin = np.zeros(len(c))
            kin[on_grid] = self._grid_distance(item.category, same)[grid_point[on_grid]]
            bound = bound + KIN_PULL * kin
        half = math.hypot(c.w, c.d) / 2
        for rule in item.rules:
            if rule.kind not in ("near", "around"):
                continue
            shapes, _ = self._targets(rule)
            if not shapes:
                continue
            reach = (
                rule.distance if rule.distance is not None else rules.DEFAULT_DISTANCE[rule.kind]
            )
            least = np.full(len(c), np.inf)
            for shape in shapes:
                apart = (
                    np.hypot(c.x - shape.x, c.z - shape.z) - half - math.hypot(shape.w, shape.d) / 2
                )
                least = np.minimum(least, np.maximum(apart - reach - BOUND_SLACK, 0.0))
            bound = bound + (RULE_WEIGHT * least + UNMET_WEIGHT * (least > 1e-6))
        return bound

    def _floor_preferences(
        self,
        item: Item,
        c: Candidates,
        wall: np.ndarray,
        t: Array,
        positional: bool,
        grid_point: np.ndarray | None = None,
    ) -> Array:
        n = len(c)
        out = np.zeros(n)
        on_wall = wall >= 0
        kinds = {r.kind for r in item.rules}
        if item.wall_hugger and not kinds & {"against_wall", "middle", "under"}:
            v, _ = rules.evaluate("against_wall", c, None, self.info)
            out += HUG_WEIGHT * v + HUG_UNMET * (v > 1e-6)
        if on_wall.any():
            lengths = np.array([w.length for w in self.walls])
            length = np.where(on_wall, lengths[np.maximum(wall, 0)], 1.0)
            along = np.where(on_wall, t, 0.0)
            centred = item.category in items.CENTRED_ON_WALL or item.family in ("bed", "sofa")
            if centred:
                out += np.where(on_wall, CENTRE_WEIGHT * np.abs(along - length / 2) / length, 0.0)
                shorter = (lengths.max() - length) / lengths.max()
                out += np.where(on_wall, SHORT_WALL * shorter, 0.0)
                door_walls = {d.wall for d in self.room.doors}
                out += np.where(np.isin(wall, list(door_walls)) & on_wall, DOOR_WALL, 0.0)
            if item.hosts_above:
                for window in self.room.windows:
                    half = window.width / 2 + item.w / 2 + 0.05
                    under = on_wall & (wall == window.wall) & (np.abs(along - window.offset) < half)
                    out += np.where(under, UNDER_WINDOW, 0.0)
            if item.category in items.CORNER_LOVERS and not centred:
                end = np.minimum(along - item.w / 2, length - along - item.w / 2)
                out += np.where(on_wall, CORNER_PULL * np.maximum(end, 0.0), 0.0)
        siblings = id(item.obj) in self.index.by_obj
        lattice = item.obj.count >= 2 and siblings
        group = item.has_reserve and item.obj.count < 2
        free = not positional and not item.wall_hugger and not lattice and not group
        if free:
            # Free-standing objects with no rule keep to the edges (with the floor their
            # companions need).
            clear = np.full(n, np.inf)
            for w in self.walls:
                clear = np.minimum(clear, geometry.point_segment_distance(c.x, c.z, *w.a, *w.b))
            front, back, left, right = item.reserve
            reach = min(item.w + left + right, item.d + front + back) / 2
            if item.has_reserve:
                reach += walk.AISLE  # room to walk round to the companions
            out += EDGE_PULL * np.maximum(clear - reach, 0.0)
        if free or (item.seat and "facing" not in kinds and "against_wall" not in kinds):
            # They face the room; at a desk, the person sitting does.
            cx, cz = self.info.centre
            fx, fz = geometry.front(c.rot)
            if item.seat:
                fx, fz = -fx, -fz
            vx, vz = cx - c.x, cz - c.z
            cos = (fx * vx + fz * vz) / np.maximum(np.hypot(vx, vz), 1e-9)
            out += FACE_ROOM * (1.0 - cos)
        same = self.index.by_category.get(item.category, [])
        if same and item.category not in ("chair", "stool", "office chair"):
            out += KIN_PULL * self._kin_distance(item.category, c, grid_point)
        return out

    def _kin_distance(self, category: str, c: Candidates, grid_point: np.ndarray | None) -> Array:
        """How far each candidate stands from the nearest placed thing of ``category``:
        on the floor grid, from distances kept up to date as those things are placed."""
        same = self.index.by_category[category]
        on = grid_point >= 0 if grid_point is not None else np.zeros(len(c), dtype=bool)
        dist = np.empty(len(c))
        if on.any():
            assert grid_point is not None
            dist[on] = self._grid_distance(category, same)[grid_point[on]]
        off = ~on
        if off.any():
            dist[off] = geometry.nearest_distance(
                c.x[off], c.z[off], np.array([p.x for p in same]), np.array([p.z for p in same])
            )
        return dist

    def _grid_distance(self, category: str, same: list[Pose]) -> Array:
        """From each floor grid point, the distance to the nearest of ``same`` (the
        placed things of ``category``), brought up to date with those placed since."""
        counted, dist = self._kin.get(category, (0, np.full(self._grid[0].shape, np.inf)))
        gx, gz = self._grid
        for pose in same[counted:]:
            dist = np.minimum(dist, np.hypot(gx - pose.x, gz - pose.z))
        self._kin[category] = (len(same), dist)
        return dist

    # ----------------------------------------------------------------- the walkway

    def _walk_ok(
        self, item: Item, c: Candidates, k: int, grown: Candidates | None, access: str
    ) -> Walk:
        """Whether placing candidate ``k`` keeps every floor object reachable. With
        ``grown`` (candidate ``k`` alone with the floor its companions will take), the
        check is made as if the companions stood there already."""
        x, z, rot = float(c.x[k]), float(c.z[k]), float(c.rot[k])
        shadow = self.walk.shadow(x, z, item.w, item.d, rot)
        zone = self.walk.zone(x, z, item.w, item.d, rot, access)
        if not self.check_walk:
            return Walk(True, shadow, zone, None)
        assert self.reached is not None
        test_shadow = shadow
        test_zones = [zone] if access != "none" else []
        if grown is not None:
            # Each side where companions will stand must be reachable from outside, and
            # the object itself where its companions leave it open.
            gx, gz = float(grown.x[0]), float(grown.z[0])
            test_shadow = self.walk.shadow(gx, gz, grown.w, grown.d, rot)
            if zone.size and test_shadow is not None:
                (rows, cols), mask = test_shadow
                taken = np.zeros(self.walk.count.shape, dtype=bool)
                taken[rows, cols] = mask
                open_zone = zone[~taken.ravel()[zone]]
                test_zones = [open_zone] if open_zone.size else []
            sides = ("front", "back", "left", "right")
            test_zones += [
                self.walk.zone(gx, gz, grown.w, grown.d, rot, side)
                for side, margin in zip(sides, item.reserve, strict=True)
                if margin > 0
            ]
        touches = False
        if test_shadow is not None:
            (rows, cols), mask = test_shadow
            touches = bool((self.reached[rows, cols] & mask).any())
        reached = self.walk.reach_after(self.reached, test_shadow) if touches else self.reached
        flat = reached.ravel()
        if any(not z.size or not flat[z].any() for z in test_zones):
            return Walk(False, shadow, zone, None)  # no cell to use it from is reached
        if touches and not self.index.all_reachable(flat):
            return Walk(False, shadow, zone, None)
        if grown is not None:
            return Walk(True, shadow, zone, None)  # the true reach is found on commit
        return Walk(True, shadow, zone, reached)

    # ----------------------------------------------------------------- floor objects

    def _floor_grid(self) -> tuple[Array, Array]:
        x0, z0, x1, z1 = self.box
        s = self.step
        xs = np.arange(x0 + s / 2, x1, s)
        zs = np.arange(z0 + s / 2, z1, s)
        gx, gz = np.meshgrid(xs, zs)
        gx, gz = gx.ravel(), gz.ravel()
        inside = geometry.points_in_polygon(gx, gz, self.polygon)
        return np.round(gx[inside], 4), np.round(gz[inside], 4)

    def _wall_slots(self, item: Item, slots: Slots, rank: float = 0.0) -> None:
        """Backs to every wall: evenly along it, and flush against what stands there."""
        w, d = item.w, item.d
        for wall, run in zip(self.walls, self._along, strict=True):
            lo, hi = w / 2 + WALL_GAP + MARGIN, wall.length - w / 2 - WALL_GAP - MARGIN
            if hi < lo:
                continue
            steps = max(1, min(60, int((hi - lo) / 0.1)))
            parts = [np.linspace(lo, hi, steps + 1), np.array([wall.length / 2])]
            if run.size:
                reach = w / 2 + GAP + 0.002
                parts.append(run.view()[:, 0] - reach)
                parts.append(run.view()[:, 1] + reach)
            tt = np.unique(np.round(np.concatenate(parts), 4))
            tt = tt[(tt >= lo - 1e-9) & (tt <= hi + 1e-9)]
            out_d = d / 2 + WALL_GAP + MARGIN
            x = wall.a[0] + wall.u[0] * tt + wall.n[0] * out_d
            z = wall.a[1] + wall.u[1] * tt + wall.n[1] * out_d
            slots.add(x, z, wall.yaw, wall=wall.index, t=tt, rank=rank)

    def _free_slots(self, item: Item, slots: Slots, rank: float = 0.3) -> None:
        gx, gz = self._grid
        points = np.arange(gx.shape[0])
        for k, turn in enumerate((0.0, 90.0, 180.0, 270.0)):
            slots.add(gx, gz, turn, rank=rank + 0.01 * k, lattice=points)

    def _relative_slots(self, item: Item, slots: Slots) -> None:
        for rule in item.rules:
            _, poses = self._targets(rule)
            for pose in poses:
                if pose is not None:
                    self._slots_for(rule.kind, item, pose, slots)
        if item.obj.count >= 2 and not any(r.kind == "around" for r in item.rules):
            self._sibling_slots(item, slots)

    def _sibling_slots(self, item: Item, slots: Slots) -> None:
        """Rows and columns: next to the objects of the same kind already placed, with
        room for their companions and, every other step, an aisle."""
        siblings = self.index.by_obj.get(id(item.obj), [])[-12:]
        front, back, left, right = item.reserve
        span_w = item.w + left + right
        span_d = item.d + front + back
        for pose in siblings:
            sx, sz = (float(v) for v in geometry.side(pose.rot))
            fx, fz = (float(v) for v in geometry.front(pose.rot))
            for gap, rank in ((GAP + 0.01, 0.0), (walk.AISLE, 0.04)):
                for sign in (1.0, -1.0):
                    off = sign * (span_w + gap)
                    slots.one(pose.x + sx * off, pose.z + sz * off, pose.rot, rank)
            for sign in (1.0, -1.0):
                off = sign * (span_d + walk.AISLE)
                slots.one(pose.x + fx * off, pose.z + fz * off, pose.rot, 0.06)

    def _slots_for(self, kind: str, item: Item, target: Pose, slots: Slots) -> None:
        tw, td = target.item.w, target.item.d
        w, d = item.w, item.d
        sx, sz = (float(v) for v in geometry.side(target.rot))
        fx, fz = (float(v) for v in geometry.front(target.rot))

        def put(lx: float, lz: float, rot: float, rank: float) -> None:
            slots.one(target.x + sx * lx + fx * lz, target.z + sz * lx + fz * lz, rot, rank)

        base = target.rot
        if kind == "around":
            sides = [(0, 1.0), (1, -1.0)]
            if target.item.seat:
                sides = [(0, 1.0)]
            elif target.item.entry is None or not target.item.entry.seats:
                sides = [(2, -1.0), (3, 1.0), (0, 1.0), (1, -1.0)]
            else:
                sides = [(0, 1.0), (1, -1.0), (2, -1.0), (3, 1.0)]
            for order, (side, sign) in enumerate(sides):
                length = tw if side in (0, 1) else td
                count = max(1, int((length + 0.1) // (w + 0.1)))
                offsets = [-length / 2 + length * (k + 0.5) / count for k in range(count)]
                for gap in (0.03, 0.15, 0.35):
                    for k, off in enumerate(offsets):
                        rank = 0.05 * order + 0.02 * k + 0.1 * gap
                        if side in (0, 1):
                            lz = sign * (td / 2 + gap + d / 2)
                            put(off, lz, base + (180.0 if sign > 0 else 0.0), rank)
                        else:
                            lx = sign * (tw / 2 + gap + d / 2)
                            put(lx, off, base + (-90.0 if sign > 0 else 90.0), rank)
        elif kind in ("in_front_of", "behind"):
            sign = 1.0 if kind == "in_front_of" else -1.0
            for gap in (0.4, 0.3, 0.5, 0.7, 0.9):
                for lateral in (0.0, 0.25 * tw, -0.25 * tw):
                    for turn in (0.0, 180.0, 90.0):
                        depth = d if turn != 90.0 else w
                        lz = sign * (td / 2 + gap + depth / 2)
                        turned = {0.0: 0.0, 180.0: 0.05, 90.0: 0.25}[turn]
                        put(lateral, lz, base + turn, 0.05 * abs(lateral) + turned)
        elif kind in ("beside", "left_of", "right_of"):
            signs = {"beside": (-1.0, 1.0), "left_of": (-1.0,), "right_of": (1.0,)}[kind]
            for sign in signs:
                for gap in (GAP + 0.005, 0.1, 0.25):
                    lx = sign * (tw / 2 + gap + w / 2)
                    for lz in (-td / 2 + d / 2 + MARGIN, 0.0):
                        put(lx, lz, base, 0.05 * gap)
        elif kind == "near":
            for gap in (0.1, 0.4, 0.8):
                for side, sign in ((0, 1.0), (1, -1.0), (2, -1.0), (3, 1.0)):
                    if side in (0, 1):
                        put(0.0, sign * (td / 2 + gap + d / 2), base, 0.05 * gap)
                        put(0.0, sign * (td / 2 + gap + d / 2), base + 180.0, 0.05 * gap)
                    else:
                        put(sign * (tw / 2 + gap + w / 2), 0.0, base, 0.05 * gap)
                        put(sign * (tw / 2 + gap + d / 2), 0.0, base + 90.0, 0.05 * gap)
        elif kind == "under":
            shifts = (0.0, 0.35, 0.6) if target.item.family == "bed" else (0.0,)
            for lz in shifts:
                put(0.0, lz, base, 0.1 * abs(lz - 0.35) if lz else 0.05)
                put(0.0, lz, base + 90.0, 0.1 + 0.1 * abs(lz - 0.35))
        elif kind == "aligned_with":
            for dist in np.arange(0.6, 4.01, 0.3):
                for lx, lz in (
                    (0.0, dist + td / 2),
                    (0.0, -dist - td / 2),
                    (dist + tw / 2, 0.0),
                    (-dist - tw / 2, 0.0),
                ):
                    put(lx, lz, base, 0.02 * dist)

    def _candidates(self, item: Item) -> tuple[Candidates, np.ndarray, Array, Array, np.ndarray]:
        slots = Slots()
        kinds = {r.kind for r in item.rules}
        wallish = (
            item.wall_hugger or kinds & {"against_wall", "corner"} or item.category in ("plant",)
        )
        self._wall_slots(item, slots, rank=0.0 if wallish else 0.2)
        self._relative_slots(item, slots)
        self._free_slots(item, slots)
        x, z, rot, wall, t, rank, lattice = slots.arrays()
        c = Candidates(x, z, rot, item.w, item.d, np.zeros(x.shape[0]), item.h, item.seat)
        c.boxes = slots.boxes(x, z, rot, item.w, item.d)
        return c, wall, t, rank, lattice

    def place_floor(self, item: Item) -> None:
        """Score every candidate, then take them best first through the hard checks
        (in chunks, so a crowded room costs only as much as it must)."""
        if item.h > self.room.height - 0.02:
            self._fail(item, f"it is taller ({item.h:.2f} m) than the room", growable=False)
            return
        c, wall, t, rank, grid_point = self._candidates(item)
        inside = self._inside(c)
        if not inside.any():
            self._fail(
                item, f"its {item.w:.2f} × {item.d:.2f} m footprint does not fit in the room"
            )
            return
        exempt = self._under_exempt(item)
        kept = np.nonzero(inside)[0]
        order = _Ranking(self, item, c, kept, wall, t, rank, grid_point)
        free_to_walk = item.flat
        any_clear = False
        for roomy in (True, False) if item.has_reserve else (False,):
            budget = MAX_REACH_TRIES // 2 if roomy else MAX_REACH_TRIES
            for start in range(0, len(kept), CHUNK):
                chunk = kept[order.first(start + CHUNK)[start:]]
                sub = c.take(chunk)
                ok = self._clear(item, sub, exempt)
                any_clear = any_clear or bool(ok.any())
                if roomy and ok.any():
                    keep = np.nonzero(ok)[0]
                    grown = self._reserved(item, sub.take(keep))
                    fits = self._inside(grown)
                    if fits.any():
                        fits[fits] = self._clear(item, grown.take(np.nonzero(fits)[0]), exempt)
                    if fits.any() and self.sights:
                        index = np.nonzero(fits)[0]
                        fits[index] = ~self._blocks_view(item, grown.take(index))
                    ok[keep] = fits
                for j in np.nonzero(ok)[0]:
                    k = int(chunk[j])
                    if free_to_walk:
                        self._place(item, c, k, wall, t, None)
                        return
                    access = item.access
                    if exempt and self._under(c.take(np.array([k])), self._tables(exempt))[0]:
                        access = "none"  # reached with the table it stands under
                    alone = c.take(np.array([k]))
                    grown_one = self._reserved(item, alone) if roomy else None
                    walked = self._walk_ok(item, c, k, grown_one, access)
                    if walked.ok:
                        if item.has_reserve and not roomy:
                            self.cramped.append(item)
                        self._place(item, c, k, wall, t, walked)
                        return
                    budget -= 1
                    if budget <= 0:
                        break
                if budget <= 0:
                    break
        if not any_clear:
            self._fail(item, self._crowded(item))
        else:
            self._fail(item, "every free spot left would cut off the walkway from the door")

    def _tables(self, exempt: set[int]) -> list[Pose]:
        """The placed tables of ``exempt`` (item ids), in the order they were placed."""
        tables = [self.by_item[i] for i in exempt if i in self.by_item]
        return sorted(tables, key=lambda p: self.index.position[id(p)])

    def _under_exempt(self, item: Item) -> set[int] | None:
        """Tables a low object may stand under, by their item id."""
        out = set()
        for rule in item.rules:
            if rule.kind != "under":
                continue
            for target in rule.targets:
                if target.open_below and item.h <= target.h - 0.1:
                    out.add(id(target))
        return out or None

    def _place(
        self, item: Item, c: Candidates, k: int, wall: np.ndarray, t: Array, walked: Walk | None
    ) -> None:
        w_index = int(wall[k])
        pose = Pose(
            item,
            float(c.x[k]),
            0.0,
            float(c.z[k]),
            float(c.rot[k]),
            c.quad(k),
            w_index if w_index >= 0 else None,
            float(t[k]) if w_index >= 0 else None,
            zone=walked.zone if walked is not None else np.zeros(0, dtype=np.intp),
        )
        if walked is not None and not item.flat and walked.shadow is not None:
            if self.check_walk:
                if walked.reached is None:
                    assert self.reached is not None
                    walked.reached = self.walk.reach_after(self.reached, walked.shadow)
                self.reached = walked.reached
            self.walk.add(walked.shadow)
        self._commit(pose)
        self._sight_lines(pose)

    # ----------------------------------------------------------------- views

    def _screen_rule(self, item: Item, rule: Rule, target: Item) -> bool:
        return rule.kind == "facing" and bool({item.category, target.category} & SCREENS)

    def _sight_lines(self, pose: Pose) -> None:
        """Keep the view between a screen and who watches it open for what comes next."""
        if pose.item.placement not in ("floor", "wall"):
            return
        for rule in pose.item.rules:
            for target in rule.targets:
                other = self.placed(target)
                if other is not None and self._screen_rule(pose.item, rule, target):
                    self._add_sight(pose, other)
        for other, rule in self.index.referrers.get(id(pose.item), []):
            if self._screen_rule(other.item, rule, pose.item):
                self._add_sight(other, pose)

    def _add_sight(self, a: Pose, b: Pose) -> None:
        dx, dz = b.x - a.x, b.z - a.z
        length = math.hypot(dx, dz) - 0.6
        if length <= 0.2:
            return
        quad = geometry.corners(
            (a.x + b.x) / 2, (a.z + b.z) / 2, 0.8, length, geometry.yaw_towards(dx, dz)
        )[0]
        self.sights.append((quad, {id(a.origin), id(b.origin)}))

    def _blocks_view(self, item: Item, c: Candidates) -> Mask:
        """Candidates that would stand in a view kept open (see :meth:`_sight_lines`)."""
        n = len(c)
        blocking = [q for q, owners in self.sights if id(item) not in owners]
        if not blocking or item.placement != "floor" or item.flat:
            return np.zeros(n, dtype=bool)
        quads = np.stack(blocking)
        return self._hits(
            c.quads,
            c.boxes,
            geometry.aligned(c.rot),
            quads,
            geometry.bounds(quads),
            np.zeros(len(blocking), dtype=bool),
            np.zeros(len(blocking)),
            np.ones((n, len(blocking)), dtype=bool),
        )

    def _view_penalty(self, item: Item, c: Candidates) -> Array:
        """Tall furniture standing in a kept view, and views this object would have to
        look through furniture for."""
        out = np.zeros(len(c))
        if item.h > SIGHT_HEIGHT:
            out += np.where(self._blocks_view(item, c), 1.5, 0.0)
        for rule in item.rules:
            if rule.kind != "facing":
                continue
            for target in rule.targets:
                other = self.placed(target)
                if other is None or not self._screen_rule(item, rule, target):
                    continue
                tall = [
                    p
                    for p in self.poses
                    if p.item.placement == "floor" and p.item.h > SIGHT_HEIGHT and p is not other
                ]
                for frac in (0.3, 0.5, 0.7):
                    px = c.x + (other.x - c.x) * frac
                    pz = c.z + (other.z - c.z) * frac
                    for p in tall:
                        inside = geometry.rect_point_distance(
                            px, pz, p.x, p.z, p.item.w, p.item.d, p.rot
                        )
                        out += np.where(inside <= 0.0, 0.5, 0.0)
        return out

    def _crowded(self, item: Item) -> str:
        share = 100.0 * self.index.covered / max(self.room.area, 1e-9)
        return (
            f"no free floor space left for its {item.w:.2f} × {item.d:.2f} m footprint "
            f"(furniture already covers {share:.0f} % of the {self.room.area:.1f} m² floor)"
        )

    # ----------------------------------------------------------------- on top of things

    def _levels(self, item: Item, parent: Pose) -> list[tuple[float, float, bool]]:
        """Where ``item`` may stand on or in ``parent``: (height above the floor, rank
        penalty, inside). Inside a shelving unit, each board with headroom for it."""
        top = parent.y + parent.item.h
        levels: list[tuple[float, float, bool]] = []
        boards = parent.item.boards
        inner = [*boards, parent.item.h]
        for k, board in enumerate(boards):
            headroom = inner[k + 1] - board - BOARD_THICKNESS
            if item.h <= headroom:
                # Things that belong on shelves fill them bottom up; others prefer the top.
                rank = 0.0 if item.shelved else SHELF_RANK
                levels.append((parent.y + board, rank + LEVEL_RANK * k, True))
        if top + item.h <= self.room.height - CEILING_GAP:
            reach = 0.0 if top <= HIGH_TOP else HIGH_TOP_RANK
            levels.append((top, (TOP_RANK if item.shelved and boards else 0.0) + reach, False))
        return levels

    def _parent_tiers(self, item: Item) -> list[tuple[float, _Tier]]:
        """What ``item`` may stand on, a rank at a time, lowest first: what its rules
        name, then its usual supports best first, then its own kind (things that stack),
        then anything with a top. Each tier's supports are listed on demand (a scene
        with a hundred desks does not look at them all for the monitor of one) with
        their place in the order supports are tried in: the order they were placed."""
        wanted: dict[int, Pose] = {}
        for rule in item.rules:
            if rule.kind == "on":
                for target in rule.targets:
                    pose = self.placed(target)
                    if pose is not None:
                        wanted[id(pose)] = pose
        prefs = item.entry.parents if item.entry is not None else ()
        first: dict[str, int] = {}
        for k, name in enumerate(prefs):
            first.setdefault(name, k)
        position = self.index.position
        stack_from = len(self.poses)  # stacking entries come after every support

        def support(pose: Pose) -> bool:
            other = pose.item
            return not (
                other is item
                or other.placement not in ("floor", "wall")
                or other.flat
                or id(pose) in wanted
            )

        def of_wanted() -> list[tuple[int, Pose]]:
            return [
                (position[i], p)
                for i, p in wanted.items()
                if p.item is not item and p.item.placement in ("floor", "wall") and not p.item.flat
            ]

        def usual(name: str) -> Callable[[], list[tuple[int, Pose]]]:
            def members() -> list[tuple[int, Pose]]:
                out = [(position[id(p)], p) for p in self.index.by_category.get(name, [])]
                out += [
                    (position[id(p)], p)
                    for p in self.index.by_family.get(name, [])
                    if p.item.category not in first
                ]
                return [(k, p) for k, p in out if support(p)]

            return members

        def stacks() -> list[tuple[int, Pose]]:
            return [
                (stack_from + position[id(p)], p)
                for p in self.index.by_category.get(item.category, [])
                if self._stack_depth(p) < STACK_MAX
            ]

        def any_top() -> list[tuple[int, Pose]]:
            return [
                (position[id(p)], p)
                for p in self.index.topped
                if p.item.h <= HIGH_TOP
                and p.item.category not in first
                and p.item.family not in first
                and support(p)
            ]

        makers: list[tuple[float, Callable[[], list[tuple[int, Pose]]]]] = [(0.0, of_wanted)]
        makers += [(1.0 + PARENT_ORDER_RANK * k, usual(name)) for name, k in first.items()]
        if item.group == "stack":
            # Towels, boxes, trays: one on another, once there is no room beside.
            makers.append((STACK_RANK, stacks))
        if item.entry is None or not item.entry.wall_mountable or wanted:
            # A tv with no stand or cabinet hangs on the wall, not on a bar counter.
            makers.append((ANY_TOP_RANK, any_top))
        tiers: dict[float, list[Callable[[], list[tuple[int, Pose]]]]] = {}
        for rank, make in makers:
            tiers.setdefault(rank, []).append(make)
        return [(rank, _Tier(makes)) for rank, makes in sorted(tiers.items(), key=lambda kv: kv[0])]

    def _stack_depth(self, pose: Pose) -> int:
        depth = 1
        while pose.parent is not None and pose.parent.item.category == pose.item.category:
            pose, depth = pose.parent, depth + 1
        return depth

    def _seat_spots(self, parent: Pose) -> list[tuple[float, float]]:
        """The table edge in front of each seat drawn up to ``parent``."""
        known = self._spots.get(id(parent))
        if known is not None:
            return known
        spots = []
        for pose in self.index.seats_at.get(id(parent.origin), []):
            fx, fz = geometry.front(pose.rot)
            # A seat faces the table: the place is a little past its front edge.
            reach = pose.item.d / 2 + PLACE_REACH
            spots.append((pose.x + float(fx) * reach, pose.z + float(fz) * reach))
        self._spots[id(parent)] = spots
        return spots

    def _surface_grid(
        self, item: Item, parent: Pose
    ) -> list[tuple[Array, Array, Array, Array, Array, Array, tuple[float, float]]]:
        """Where ``item`` could stand on ``parent``, per turn: x, z, y, yaw, a rank of its
        own (level, row, spot on the top) and whether inside; with its size. The same
        for every thing of one request on one support, so worked out once."""
        key = (id(item.obj), id(parent), item.w, item.d, item.h)
        known = self._grids.get(key)
        if known is not None:
            return known
        out: list[tuple[Array, Array, Array, Array, Array, Array, tuple[float, float]]] = []
        packed = item.group in ("row", "stack")
        pw, pd = parent.item.w, parent.item.d
        stacked = parent.item.category == item.category
        if stacked:
            pw, pd = pw + 0.02, pd + 0.02  # squarely on the one below
        levels = self._levels(item, parent)
        sx, sz = (float(v) for v in geometry.side(parent.rot))
        fx, fz = (float(v) for v in geometry.front(parent.rot))
        level_y = np.array([y for y, _, _ in levels])
        level_rank = np.array([r for _, r, _ in levels])
        level_inside = np.array([w for _, _, w in levels], dtype=bool)
        for turn, (w, d) in ((0.0, (item.w, item.d)), (90.0, (item.d, item.w))):
            if not levels:
                break
            # (w, d): its extent along the support's width and depth.
            clipped = item.flat_on_top and (w > pw - 0.02 or d > pd - 0.02)
            if clipped:
                # A runner or a cloth is cut to the table it lies on.
                w, d = min(w, pw - 0.04), min(d, pd - 0.04)
            if w > pw - 0.02 or d > pd - 0.02:
                continue
            own = (w, d) if turn == 0.0 else (d, w)  # the same in its own frame
            span_x = (pw - w) / 2 - 0.01
            span_z = (pd - d) / 2 - 0.01
            if packed and span_x > 0.005:
                # Side by side in rows from one end: books spines out at the front of
                # a board, pillows at the head of a bed.
                lxs = np.arange(-span_x, span_x + 1e-9, w + PACK_GAP)
                lzs = np.arange(-span_z, span_z + 1e-9, d + PACK_GAP) if span_z > 0 else np.zeros(1)
            elif stacked:
                lxs = lzs = np.zeros(1)
            else:
                # A grid about half the thing's size apart, within limits.
                nx = min(max(int(4 * span_x / max(w, 0.05)) + 1, 5), GRID_MAX)
                nz = min(max(int(4 * span_z / max(d, 0.05)) + 1, 3), GRID_MAX)
                lxs = np.linspace(-span_x, span_x, nx) if span_x > 0.005 else np.zeros(1)
                lzs = np.linspace(-span_z, span_z, nz) if span_z > 0.005 else np.zeros(1)
            lv, lx, lz = (a.ravel() for a in np.meshgrid(np.arange(len(levels)), lxs, lzs))
            base = level_rank[lv] + TURN_RANK * (turn / 90.0) + (CLIP_RANK if clipped else 0.0)
            if packed:
                row = (span_z - lz) if item.shelved else (lz + span_z)
                # Shelved things fill a board from its right end: a bookcase is drawn
                # with a few books of its own from the left end.
                along = (span_x - lx) if item.shelved else (lx + span_x)
                base = base + PACK_RANK * along + PACK_ROW_RANK * row
            else:
                base = base + self._top_preference(item, lx, lz, span_x, span_z)
            yaw = np.full(lx.shape[0], (parent.rot + turn) % 360.0)
            x = parent.x + sx * lx + fx * lz
            z = parent.z + sz * lx + fz * lz
            out.append((x, z, level_y[lv], yaw, base, level_inside[lv], own))
        self._grids[key] = out
        return out

    def place_surface(self, item: Item) -> None:
        """The best free spot on any support (the first in score order, ties to the
        support placed first), found without looking closely at every support.

        Every spot on a support scores at least the support's rank, so supports are
        listed a rank at a time, only while a rank not listed yet could still hold a
        better spot. Listed supports are checked for room in the order of the best
        score each offers, a doubling batch at a time, until no support left could beat
        (or tie ahead of) the spot found: a vase among thirty side tables, or a monitor
        whose own desk is taken among a hundred desks, looks closely at a few."""
        tiers = self._parent_tiers(item)
        # Per support listed: the best score it offers, its order, its rank, itself.
        listed: list[tuple[float, int, float, Pose]] = []
        seen = False  # any support at all, large enough for it or not
        # Place settings tie across the tables of a hall (a free seat at each): they look
        # at a few together from the start rather than one, two, then four.
        take = FEW_SUPPORTS if item.group == "set" else 1
        while True:
            # List ranks while the next one could hold a spot as good as the best listed.
            while tiers and (not listed or listed[0][0] >= tiers[0][0] - RANK_MARGIN):
                seen = self._list_tier(item, tiers.pop(0), listed) or seen
            if not listed:
                break
            # A few supports are looked at together: one batch costs less than several.
            take = len(listed) if len(listed) <= FEW_SUPPORTS else min(take, len(listed))
            chosen = sorted(listed[:take], key=lambda entry: entry[1])
            found = self._spot_on(item, [(rank, parent) for _, _, rank, parent in chosen])
            if found is not None and self._unbeaten(found, listed, take, tiers):
                self._commit(found[1])
                return
            if take < len(listed):
                take = min(2 * take, len(listed))
            elif tiers:
                seen = self._list_tier(item, tiers.pop(0), listed) or seen
                take = min(2 * take, len(listed))
            else:
                break
        if not seen:
            self._no_surface(item, "there is nothing to stand it on", growable=False)
        elif not listed:
            self._no_surface(item, "no surface is large enough to hold it", growable=False)
        else:
            # A bigger room would not give it more to stand on.
            self._no_surface(item, "every surface it could stand on is full", growable=False)

    def _list_tier(
        self,
        item: Item,
        tier: tuple[float, _Tier],
        listed: list[tuple[float, int, float, Pose]],
    ) -> bool:
        """Add the supports of ``tier`` large enough for ``item`` to ``listed`` (kept in
        the order of best score, then placement); whether the tier had any support."""
        rank, supports = tier
        members = supports.members()
        for order, parent in members:
            if self._surface_grid(item, parent):
                listed.append((self._best_on(item, rank, parent), order, rank, parent))
        listed.sort(key=lambda entry: (entry[0], entry[1]))
        return bool(members)

    @staticmethod
    def _unbeaten(
        found: tuple[float, Pose],
        listed: list[tuple[float, int, float, Pose]],
        take: int,
        tiers: list[tuple[float, _Tier]],
    ) -> bool:
        """Whether no spot on a support not looked at closely could come before ``found``:
        score lower, or as low on a support placed before its own."""
        score, pose = found
        if tiers and score >= tiers[0][0] - RANK_MARGIN:
            return False
        at = next(order for _, order, _, parent in listed[:take] if parent is pose.parent)
        return not any(b < score or (b == score and o < at) for b, o, _, _ in listed[take:])

    def _on_support(self, item: Item, parent: Pose) -> tuple[float, list[Array] | None, list[Pose]]:
        """What scores ``item``'s spots on ``parent`` beyond their own place there: the
        crowding, for a place setting its rank per spot (None for other things), and
        the things of its kind already there. Kept until another of them comes or a
        seat is drawn up."""
        on_it = self.index.children.get(id(parent), [])
        mine = [p for p in on_it if p.item.category == item.category]
        crowd = len(mine) * self._sibling_rank(item)
        key = (id(item.obj), id(parent), item.w, item.d, item.h, len(mine))
        if key not in self._settings:
            settings = self._seat_spots(parent) if item.group == "set" else []
            taken = [(p.x, p.z) for p in mine]
            grid = self._surface_grid(item, parent)
            if settings:
                self._settings[key] = [
                    self._setting_rank(x, z, settings, taken) for x, z, *_ in grid
                ]
            elif item.shelved and parent.item.boards and mine:
                self._settings[key] = [
                    self._run_rank(y, inside, mine) for _, _, y, _, _, inside, _ in grid
                ]
            else:
                self._settings[key] = None
        return crowd, self._settings[key], mine

    @staticmethod
    def _run_rank(y: Array, inside: Array, mine: list[Pose]) -> Array:
        """Per spot on a shelving unit's boards: BOARD_RUN_RANK for every full run of
        BOARD_RUN things of its kind already on that board."""
        levels = np.array([p.y for p in mine])
        on_board = np.abs(y[:, None] - levels[None, :]) < 1e-6
        runs = on_board.sum(axis=1) // BOARD_RUN
        return np.where(inside, BOARD_RUN_RANK * runs, 0.0)

    def _best_on(self, item: Item, rank: float, parent: Pose) -> float:
        """The best score of any spot on ``parent``, free or not."""
        crowd, settings, _ = self._on_support(item, parent)
        best = math.inf
        for k, (_, _, _, _, base, _, _) in enumerate(self._surface_grid(item, parent)):
            score = base + (rank + crowd)
            if settings is not None:
                score = score + settings[k]
            best = min(best, float(score.min()))
        return best

    def _spot_on(self, item: Item, ranked: list[tuple[float, Pose]]) -> tuple[float, Pose] | None:
        """The best free spot for ``item`` on these supports (all of them large enough
        for it), with its score."""
        parts: list[tuple[Array, ...]] = []
        owners: list[Pose] = []
        sizes: dict[tuple[float, float], int] = {}
        for rank, parent in ranked:
            crowd, settings, _ = self._on_support(item, parent)
            for k, (x, z, y, rot, base, within, own) in enumerate(self._surface_grid(item, parent)):
                score = base + (rank + crowd)
                if settings is not None:
                    score = score + settings[k]
                n = x.shape[0]
                parts.append(
                    (
                        x,
                        z,
                        y,
                        rot,
                        score,
                        np.full(n, len(owners)),
                        within,
                        np.full(n, sizes.setdefault(own, len(sizes))),
                    )
                )
                owners.append(parent)
        xs, zs, ys, rots, ranks, owner_of, inside, size_of = (
            np.concatenate([part[k] for part in parts]) for k in range(8)
        )
        by_index = {k: size for size, k in sizes.items()}
        host_index = np.array([self.index.position[id(o)] for o in owners])
        hosts = np.where(inside, host_index[owner_of.astype(int)], -1)
        order = np.argsort(ranks, kind="stable")
        for start in range(0, len(order), SURFACE_CHUNK):
            chunk = order[start : start + SURFACE_CHUNK]
            best: tuple[int, float, Pose] | None = None
            for size_index in dict.fromkeys(size_of[chunk].astype(int).tolist()):
                position = np.nonzero(size_of[chunk] == size_index)[0]
                same = chunk[position]
                w, d = by_index[size_index]
                sized = item if (w, d) == (item.w, item.d) else replace(item, size=(w, item.h, d))
                c = Candidates(xs[same], zs[same], np.round(rots[same], 9), w, d, ys[same], item.h)
                ok = np.nonzero(self._clear(sized, c, skip=hosts[same]))[0]
                if not ok.size or (best is not None and best[0] < position[ok[0]]):
                    continue
                k = int(same[ok[0]])
                pose = Pose(
                    sized,
                    float(xs[k]),
                    float(ys[k]),
                    float(zs[k]),
                    round(float(rots[k]), 9),
                    c.quads[ok[0]],
                    parent=owners[int(owner_of[k])],
                    source=item if sized is not item else None,
                )
                best = (int(position[ok[0]]), float(ranks[k]), pose)
            if best is not None:
                return best[1], best[2]
        return None

    @staticmethod
    def _sibling_rank(item: Item) -> float:
        """What each thing of its kind already on a support adds to a spot there."""
        if item.group in ("row", "stack"):
            return PACKED_SIBLING_RANK
        return SET_SIBLING_RANK if item.group == "set" else SIBLING_RANK

    @staticmethod
    def _setting_rank(
        x: Array, z: Array, settings: list[tuple[float, float]], taken: list[tuple[float, float]]
    ) -> Array:
        """Place settings: a plate or a fork goes at a seat that has none yet."""
        free = [
            s
            for s in settings
            if all(math.hypot(s[0] - t[0], s[1] - t[1]) > SETTING_RADIUS for t in taken)
        ]
        spots = np.array(free or settings)
        nearest = np.min(
            np.hypot(x[:, None] - spots[None, :, 0], z[:, None] - spots[None, :, 1]), axis=1
        )
        return SETTING_RANK * nearest + (0.0 if free else SETTING_FULL_RANK)

    def _no_surface(self, item: Item, reason: str, growable: bool) -> None:
        """A TV with no stand to stand on hangs on the wall instead."""
        if item.entry is not None and item.entry.wall_mountable:
            self.place_wall(replace(item, placement="wall"), source=item)
            return
        self._fail(item, reason, growable=growable)

    @staticmethod
    def _top_preference(item: Item, lx: Array, lz: Array, span_x: float, span_z: float) -> Array:
        back = (lz + span_z) / (2 * span_z) if span_z > 0.005 else np.zeros_like(lz)
        side = 1.0 - np.abs(lx) / span_x if span_x > 0.005 else np.zeros_like(lx)
        if item.category in ("tv", "computer monitor", "microwave", "aquarium"):
            return np.asarray(0.3 * back + 0.2 * (1.0 - side))
        if item.category == "table lamp":
            return np.asarray(0.2 * back + 0.3 * side)
        return np.asarray(0.1 * (1.0 - side) + 0.1 * np.abs(lz) / max(span_z, 0.01))

    # ----------------------------------------------------------------- on the walls

    def _opening_free(self, wall: int, t0: Array, t1: Array, window_ok: int | None = None) -> Mask:
        ok = np.ones(t0.shape, dtype=bool)
        for opening in self.room.doors:
            if opening.wall == wall:
                lo, hi = (
                    opening.offset - opening.width / 2 - 0.05,
                    opening.offset + opening.width / 2 + 0.05,
                )
                ok &= (t1 <= lo) | (t0 >= hi)
        for k, opening in enumerate(self.room.windows):
            if opening.wall == wall and k != window_ok:
                lo, hi = (
                    opening.offset - opening.width / 2 - 0.05,
                    opening.offset + opening.width / 2 + 0.05,
                )
                ok &= (t1 <= lo) | (t0 >= hi)
        return ok

    def place_wall(self, item: Item, source: Item | None = None) -> None:
        if item.category == "curtains":
            self._curtains(item)
            return
        y = item.mount
        for rule in item.rules:
            if rule.kind == "above":
                tops = [p.y + p.item.h for p in (self.placed(t) for t in rule.targets) if p]
                if tops:
                    y = max(y, min(tops) + 0.15)
        y = min(y, self.room.height - item.h - CEILING_GAP)
        if y < 0.0:
            self._fail(item, f"it is taller ({item.h:.2f} m) than the walls", growable=False)
            return
        targets = [p for r in item.rules for p in self._targets(r)[1] if p is not None]
        xs, zs, rots, walls_, ts = [], [], [], [], []
        for wall in self.walls:
            lo, hi = item.w / 2 + 0.02, wall.length - item.w / 2 - 0.02
            if hi < lo:
                continue
            tt = set(
                np.round(
                    np.linspace(lo, hi, max(2, min(80, int((hi - lo) / 0.05) + 1))), 4
                ).tolist()
            )
            for p in targets:
                along = (p.x - wall.a[0]) * wall.u[0] + (p.z - wall.a[1]) * wall.u[1]
                if lo <= along <= hi:
                    tt.add(round(along, 4))
            arr = np.array(sorted(tt))
            free = self._opening_free(wall.index, arr - item.w / 2, arr + item.w / 2)
            arr = arr[free]
            out = item.d / 2 + WALL_GAP
            xs.append(wall.a[0] + wall.u[0] * arr + wall.n[0] * out)
            zs.append(wall.a[1] + wall.u[1] * arr + wall.n[1] * out)
            rots.append(np.full(arr.shape, wall.yaw))
            walls_.append(np.full(arr.shape, wall.index))
            ts.append(arr)
        if not xs or sum(a.size for a in xs) == 0:
            self._fail(item, f"no wall has {item.w:.2f} m free of doors and windows")
            return
        x, z = np.concatenate(xs), np.concatenate(zs)
        c = Candidates(
            x, z, np.round(np.concatenate(rots), 9), item.w, item.d, np.full(x.shape, y), item.h
        )
        wall_idx, t = np.concatenate(walls_), np.concatenate(ts)
        ok = self._inside(c)
        if ok.any():
            ok[ok] = self._clear(item, c.take(np.nonzero(ok)[0]))
        if not ok.any():
            self._fail(item, f"no free wall space {item.w:.2f} m wide at {y:.2f} m height")
            return
        idx = np.nonzero(ok)[0]
        sub = c.take(idx)
        rank = self._wall_preferences(item, sub, wall_idx[idx], t[idx])
        score = self._score(item, sub, wall_idx[idx], t[idx], rank, source=source)
        k = int(idx[int(np.argmin(score))])
        self._commit(
            Pose(
                item,
                float(c.x[k]),
                y,
                float(c.z[k]),
                float(c.rot[k]),
                c.quad(k),
                int(wall_idx[k]),
                float(t[k]),
                source=source,
            )
        )

    def _wall_preferences(self, item: Item, c: Candidates, wall: np.ndarray, t: Array) -> Array:
        lengths = np.array([w.length for w in self.walls])[wall]
        out = np.zeros(len(c))
        if not any(r.relative for r in item.rules):
            out += 0.6 * np.abs(t - lengths / 2) / lengths
        if item.category == "whiteboard":
            door_walls = [d.wall for d in self.room.doors]
            out += np.where(np.isin(wall, door_walls), 1.5, 0.0) - 0.2 * lengths
        same = self.index.by_category.get(item.category, [])
        if same:
            dist = geometry.nearest_distance(
                c.x, c.z, np.array([p.x for p in same]), np.array([p.z for p in same])
            )
            out -= 0.1 * np.minimum(dist, 3.0)
        return out

    def _curtains(self, item: Item) -> None:
        """Curtains hang at a window, as wide as the wall around it allows."""
        taken = self.index.windows
        for k, window in enumerate(self.room.windows):
            if k in taken:
                continue
            wall = self.walls[window.wall]
            bottom = max(0.02, window.sill - 0.02)
            top = min(self.room.height - 0.05, window.sill + window.height + 0.2)
            if top - bottom < 0.3:
                continue
            for extra in (0.4, 0.2, 0.0):
                half = window.width / 2 + extra / 2
                t0 = max(0.05, window.offset - half)
                t1 = min(wall.length - 0.05, window.offset + half)
                free = self._opening_free(window.wall, np.array([t0]), np.array([t1]), window_ok=k)
                if not free[0]:
                    continue
                t = (t0 + t1) / 2
                w, h, d = round(t1 - t0, 3), round(top - bottom, 3), item.d
                x, z = wall.at(t, d / 2 + WALL_GAP)
                c = Candidates(
                    np.array([x]), np.array([z]), np.array([wall.yaw]), w, d, np.array([bottom]), h
                )
                sized = replace(item, size=(w, h, d))
                if not self._inside(c)[0] or not self._clear(sized, c, window=k)[0]:
                    continue
                self._commit(
                    Pose(
                        sized,
                        x,
                        bottom,
                        z,
                        wall.yaw,
                        c.quads[0],
                        window.wall,
                        t,
                        window=k,
                        source=item,
                    )
                )
                return
        self._fail(item, "no free window to hang them at", growable=False)

    # ----------------------------------------------------------------- overhead

    def place_ceiling(self, item: Item) -> None:
        y = self.room.height - item.h
        if y < 1.9:
            self._fail(item, "the ceiling is too low to hang it", growable=False)
            return
        xs: list[float] = []
        zs: list[float] = []
        ranks: list[float] = []
        for rule in item.rules:
            for p in self._targets(rule)[1]:
                if p is not None:
                    xs.append(p.x)
                    zs.append(p.z)
                    ranks.append(0.0)
        cx, cz = self.info.centre
        xs.append(cx)
        zs.append(cz)
        ranks.append(0.1)
        gx, gz = self._grid
        xs += gx.tolist()
        zs += gz.tolist()
        ranks += (0.3 + 0.2 * np.hypot(gx - cx, gz - cz)).tolist()
        x, z = np.array(xs), np.array(zs)
        c = Candidates(x, z, np.zeros(x.shape), item.w, item.d, np.full(x.shape, y), item.h)
        ok = self._inside(c)
        if ok.any():
            ok[ok] = self._clear(item, c.take(np.nonzero(ok)[0]))
        if not ok.any():
            self._fail(item, "no free ceiling space")
            return
        idx = np.nonzero(ok)[0]
        sub = c.take(idx)
        score = self._score(
            item, sub, np.full(len(sub), -1), np.full(len(sub), np.nan), np.array(ranks)[idx]
        )
        same = self.index.by_category.get(item.category, [])
        if same:
            dist = geometry.nearest_distance(
                sub.x, sub.z, np.array([p.x for p in same]), np.array([p.z for p in same])
            )
            score = score - 0.2 * np.minimum(dist, 3.0)
        k = int(idx[int(np.argmin(score))])
        self._commit(Pose(item, float(c.x[k]), y, float(c.z[k]), 0.0, c.quad(k)))

    # ----------------------------------------------------------------- the plan

    def _like_a_misfit(self, item: Item) -> Failure | None:
        """The failure of an earlier twin of ``item`` (same object of the spec, same
        targets): the room has only filled up since, so it would not fit either."""
        for failure in reversed(self._failed.get(id(item.obj), [])):
            twin = failure.item
            if (
                failure.growable
                and twin.obj is item.obj
                and twin.placement == item.placement
                and [r.targets for r in twin.rules] == [r.targets for r in item.rules]
            ):
                return failure
        return None

    def run(self, order: Sequence[Item], give_up: bool = False) -> bool:
        """Place ``order``; with ``give_up``, stop at the first object that does not fit
        for want of space (the room will grow anyway). True when every object was
        tried."""
        for item in order:
            if give_up and self._growable:
                return False
            twin = self._like_a_misfit(item)
            if twin is not None:
                self._fail(item, twin.reason)
                continue
            if item.placement == "floor":
                self.place_floor(item)
            elif item.placement == "surface":
                self.place_surface(item)
            elif item.placement == "wall":
                self.place_wall(item)
            else:
                self.place_ceiling(item)
        return True
