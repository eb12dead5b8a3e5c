"""The placement rules of the scene spec, scored over many candidate poses at once.

Each rule gives two numbers per candidate: its *violation* (0 when the rule is met,
growing with how far off the candidate is) and a *preference* that ranks candidates
that all meet it (a coffee table centred in front of the sofa beats one off to the
side). The solver sums them into its score; the layout reports a rule met when its
violation is 0 for the final pose, so the report and the search agree.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from services.planner import geometry
from services.planner.geometry import Array
from shared.layout import Vec2

# The reach of each relative rule when the spec gives no distance (metres of gap).
DEFAULT_DISTANCE = {
    "near": 1.0,
    "far": 1.5,
    "beside": 0.3,
    "in_front_of": 1.0,
    "behind": 1.0,
    "left_of": 1.0,
    "right_of": 1.0,
    "around": 0.6,
}
WALL_TOLERANCE = 0.1  # a back this close to a wall is against it
CORNER_TOLERANCE = 0.3
FACING_COS = math.cos(math.radians(30.0))
# An object placed after what faces it goes where that one looks, within this angle.
FACED_COS = math.cos(math.radians(10.0))
ALIGN_TOLERANCE = 0.1
ABOVE_REACH = 0.3


@dataclass(frozen=True)
class Shape:
    """A placed object (or an opening) as the rules see it: a rotated box."""

    x: float
    z: float
    rot: float
    w: float
    d: float
    y: float = 0.0
    h: float = 0.0

    @property
    def quad(self) -> Array:
        return geometry.corners(self.x, self.z, self.w, self.d, self.rot)[0]

    @property
    def top(self) -> float:
        return self.y + self.h


def half_extents(rot: Array, w: float, d: float) -> tuple[Array, Array]:
    """Half the width and depth of the axis-aligned box round a w × d footprint turned
    by ``rot``."""
    yaw = np.radians(rot)
    c, s = np.abs(np.cos(yaw)), np.abs(np.sin(yaw))
    return c * w / 2 + s * d / 2, s * w / 2 + c * d / 2


class Candidates:
    """N poses of one object: centres, rotations and the shared size; footprints and
    their bounding boxes are computed when first needed."""

    def __init__(
        self,
        x: Array,
        z: Array,
        rot: Array,
        w: float,
        d: float,
        y: Array,
        h: float,
        seat: bool = False,
        quads: Array | None = None,
    ):
        self.x, self.z, self.rot, self.y = x, z, rot, y
        self.w, self.d, self.h = w, d, h
        self.seat = seat  # a desk: the person at it looks towards its back
        self._quads = quads
        self._boxes: Array | None = None

    @property
    def quads(self) -> Array:
        if self._quads is None:
            self._quads = geometry.corners(self.x, self.z, self.w, self.d, self.rot)
        return self._quads

    def quad(self, k: int) -> Array:
        """The footprint of candidate ``k``, without working out every other one."""
        if self._quads is not None:
            return self._quads[k]
        return geometry.corners(self.x[k], self.z[k], self.w, self.d, self.rot[k])[0]

    @property
    def boxes(self) -> Array:
        """Axis-aligned bounds (N, 4) = (x0, z0, x1, z1)."""
        if self._boxes is None:
            hx, hz = half_extents(self.rot, self.w, self.d)
            self._boxes = np.stack([self.x - hx, self.z - hz, self.x + hx, self.z + hz], axis=1)
        return self._boxes

    @boxes.setter
    def boxes(self, value: Array) -> None:
        self._boxes = value

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def take(self, index: Array) -> Candidates:
        out = Candidates(
            self.x[index],
            self.z[index],
            self.rot[index],
            self.w,
            self.d,
            self.y[index],
            self.h,
            self.seat,
            None if self._quads is None else self._quads[index],
        )
        if self._boxes is not None:
            out._boxes = self._boxes[index]
        return out


@dataclass(frozen=True)
class Wall:
    index: int
    a: Vec2
    b: Vec2
    length: float
    u: Vec2
    n: Vec2

    def at(self, t: float, out: float) -> Vec2:
        return (
            self.a[0] + self.u[0] * t + self.n[0] * out,
            self.a[1] + self.u[1] * t + self.n[1] * out,
        )

    @property
    def yaw(self) -> float:
        return geometry.yaw_towards(*self.n)


class RoomInfo:
    """What the room rules need: walls, corners, the middle, the openings."""

    def __init__(
        self,
        polygon: Sequence[Vec2],
        walls: list[Wall],
        doors: list[Shape],
        windows: list[Shape],
    ):
        self.polygon = list(polygon)
        self.walls = walls
        self.corners = geometry.convex_corners(polygon)
        self.area = geometry.signed_area(polygon)
        centre = geometry.centroid(polygon)
        if not geometry.points_in_polygon(np.array([centre[0]]), np.array([centre[1]]), polygon)[0]:
            xs = [p[0] for p in polygon]
            zs = [p[1] for p in polygon]
            centre = ((min(xs) + max(xs)) / 2, (min(zs) + max(zs)) / 2)
        self.centre = centre
        self.openings = {"door": doors, "window": windows}


def _extent(rot: Array, w: float, d: float, axis_rot: float) -> tuple[Array, Array]:
    """Half extents of boxes turned by ``rot`` along the side and front axes of a frame
    turned by ``axis_rot``."""
    delta = np.radians(rot - axis_rot)
    c, s = np.abs(np.cos(delta)), np.abs(np.sin(delta))
    return c * w / 2 + s * d / 2, s * w / 2 + c * d / 2


def _facing(c: Candidates, t: Shape) -> tuple[Array, Array]:
    fx, fz = geometry.front(c.rot)
    if c.seat:
        fx, fz = -fx, -fz
    px, pz = geometry.closest_on_rect(c.x, c.z, t.x, t.z, t.w, t.d, t.rot)
    vx, vz = px - c.x, pz - c.z
    length = np.hypot(vx, vz)
    inside = length < 1e-6
    cos = np.where(inside, 1.0, (fx * vx + fz * vz) / np.maximum(length, 1e-9))
    hit = geometry.ray_hits_rect(c.x, c.z, fx, fz, t.x, t.z, t.w + 0.1, t.d + 0.1, t.rot)
    violation = np.where(hit | inside, 0.0, np.maximum(0.0, FACING_COS - cos))
    cx, cz = t.x - c.x, t.z - c.z
    distance = np.hypot(cx, cz)
    centre_cos = (fx * cx + fz * cz) / np.maximum(distance, 1e-9)
    # Square on to the target, and (a little) closer rather than farther.
    return violation, 0.5 * (1.0 - centre_cos) + 0.05 * distance


def faced_by(c: Candidates, viewer: Shape, seat: bool) -> tuple[Array, Array]:
    """The "facing" rule of an object already placed (``viewer``), scored over the
    candidates of its target: (violation, preference) per candidate. Met when the
    candidate's centre lies within 10° of the viewer's front (a seat's
    front is where the person sitting looks); squarer in front is preferred."""
    fx, fz = geometry.front(viewer.rot)
    if seat:
        fx, fz = -fx, -fz
    vx, vz = c.x - viewer.x, c.z - viewer.z
    length = np.hypot(vx, vz)
    cos = np.where(length < 1e-6, 1.0, (fx * vx + fz * vz) / np.maximum(length, 1e-9))
    return np.maximum(0.0, FACED_COS - cos), 0.5 * (1.0 - cos)


def evaluate(
    kind: str,
    c: Candidates,
    target: Shape | None,
    room: RoomInfo,
    distance: float | None = None,
) -> tuple[Array, Array]:
    """(violation, preference) of ``kind`` for every candidate against one target."""
    n = len(c)
    zero = np.zeros(n)
    reach = distance if distance is not None else DEFAULT_DISTANCE.get(kind, 1.0)
    if kind == "against_wall":
        return _against_wall(c, room)
    if kind == "corner":
        return _corner(c, room)
    if kind == "middle":
        return _middle(c, room)
    if target is None:
        return np.full(n, 1.0), zero
    if kind in ("near", "far"):
        gap = geometry.rect_gap(c.quads, target.quad)
        if kind == "near":
            return np.maximum(0.0, gap - reach), 0.2 * gap
        return np.maximum(0.0, reach - gap), zero
    if kind == "facing":
        return _facing(c, target)
    if kind == "around":
        gap = geometry.rect_gap(c.quads, target.quad)
        face, pref = _facing(c, target)
        return np.maximum(0.0, gap - reach) + face, pref + 0.3 * gap
    lx, lz = geometry.to_local(c.x, c.z, target.x, target.z, target.rot)
    ex, ez = _extent(c.rot, c.w, c.d, target.rot)
    if kind in ("in_front_of", "behind"):
        ahead = lz if kind == "in_front_of" else -lz
        gap = ahead - ez - target.d / 2
        lateral = np.maximum(0.0, np.abs(lx) - target.w / 2 - 0.05)
        violation = np.maximum(0.0, -gap - 0.01) + np.maximum(0.0, gap - reach) + lateral
        return violation, 0.4 * np.abs(lx) + 0.3 * np.abs(gap - 0.4)
    if kind in ("beside", "left_of", "right_of"):
        if kind == "beside":
            gap = np.abs(lx) - ex - target.w / 2
        elif kind == "left_of":
            gap = -lx - ex - target.w / 2
        else:
            gap = lx - ex - target.w / 2
        level = np.maximum(0.0, np.abs(lz) - target.d / 2 - (0.05 if kind == "beside" else 0.5))
        violation = np.maximum(0.0, -gap - 0.01) + np.maximum(0.0, gap - reach) + level
        turn = 1.0 - np.cos(np.radians(c.rot - target.rot))
        back = np.abs(lz - ez + target.d / 2)
        return violation, 0.5 * back + 0.3 * np.maximum(gap, 0.0) + 0.3 * turn
    if kind == "under":
        a = geometry.rect_point_distance(
            c.x, c.z, target.x, target.z, target.w, target.d, target.rot
        )
        b = geometry.rects_point_distance(target.x, target.z, c.x, c.z, c.w, c.d, c.rot)
        return np.minimum(a, b), 0.2 * np.hypot(lx, lz)
    if kind == "above":
        flat = geometry.rect_point_distance(
            c.x, c.z, target.x, target.z, target.w, target.d, target.rot
        )
        violation = np.maximum(0.0, flat - ABOVE_REACH) + np.maximum(0.0, target.top - c.y)
        return violation, 0.5 * np.hypot(lx, lz) + 0.1 * np.maximum(0.0, c.y - target.top - 0.4)
    if kind == "aligned_with":
        off = np.minimum(np.abs(lx), np.abs(lz))
        turn = np.abs(np.sin(np.radians(c.rot - target.rot)))
        return np.maximum(0.0, off - ALIGN_TOLERANCE), 0.2 * turn
    return np.full(n, 1.0), zero


def _against_wall(c: Candidates, room: RoomInfo) -> tuple[Array, Array]:
    fx, fz = geometry.front(c.rot)
    bx = c.x - fx * c.d / 2
    bz = c.z - fz * c.d / 2
    best = np.full(len(c), np.inf)
    for wall in room.walls:
        gap = geometry.point_segment_distance(bx, bz, *wall.a, *wall.b)
        turn = fx * wall.n[0] + fz * wall.n[1]
        value = np.maximum(0.0, gap - WALL_TOLERANCE) + 2.0 * np.maximum(0.0, 0.95 - turn)
        best = np.minimum(best, value)
    return best, np.zeros(len(c))


def _corner(c: Candidates, room: RoomInfo) -> tuple[Array, Array]:
    best = np.full(len(c), np.inf)
    for x, z in room.corners:
        dist = geometry.rects_point_distance(x, z, c.x, c.z, c.w, c.d, c.rot)
        best = np.minimum(best, dist)
    if not room.corners:
        best = np.zeros(len(c))
    return np.maximum(0.0, best - CORNER_TOLERANCE), 0.3 * best


def _middle(c: Candidates, room: RoomInfo) -> tuple[Array, Array]:
    cx, cz = room.centre
    off = np.hypot(c.x - cx, c.z - cz)
    tolerance = 0.15 * math.sqrt(max(room.area, 0.0)) + 0.3
    clear = np.full(len(c), np.inf)
    for wall in room.walls:
        dist = geometry.point_segment_distance(c.quads[:, :, 0], c.quads[:, :, 1], *wall.a, *wall.b)
        clear = np.minimum(clear, dist.min(axis=1))
    violation = np.maximum(0.0, off - tolerance) + np.maximum(0.0, 0.4 - clear)
    return violation, 0.3 * off


def best_of(
    kind: str,
    c: Candidates,
    targets: Sequence[Shape],
    room: RoomInfo,
    distance: float | None = None,
) -> tuple[Array, Array, Array]:
    """The rule against the best of several targets: (violation, preference, index of
    the target used) per candidate. No target: violation 1 everywhere."""
    n = len(c)
    if kind in ("against_wall", "corner", "middle"):
        v, p = evaluate(kind, c, None, room, distance)
        return v, p, np.full(n, -1)
    if not targets:
        return np.full(n, 1.0), np.zeros(n), np.full(n, -1)
    values = [evaluate(kind, c, target, room, distance) for target in targets]
    violation = np.stack([v for v, _ in values])
    preference = np.stack([p for _, p in values])
    if kind == "far":
        # Far from the beds: far from every one of them, so the closest one counts.
        index = violation.argmax(axis=0)
    else:
        index = (violation + 0.05 * preference).argmin(axis=0)
    columns = np.arange(n)
    return violation[index, columns], preference[index, columns], index
