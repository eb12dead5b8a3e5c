"""Solving a room spec into a layout: the room, its openings and where every object goes.

The room is a rectangle sized from the spec or from the objects' total footprint. Floor
objects are placed one at a time, biggest and best-anchored first, at the best-scoring
candidate pose that keeps the rotated footprint inside the room, clear of every other
floor footprint (rugs excepted) and of the zone in front of the door. A few natural
pairings are placed together: nightstands beside the bed, a coffee table in front of
the sofa, chairs around a table or at a desk, a rug under the bed or coffee table.
Small objects then go on top of furniture, wall objects on free wall stretches and
ceiling lights overhead. All randomness comes from one ``random.Random(seed)``.

Geometry is plain Python: footprints are rectangles, overlap is the separating-axis
test, containment is point-in-polygon plus an edge-crossing check, so the same code
serves non-rectangular rooms later.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import NamedTuple

from services.planner import catalog
from services.planner.catalog import CatalogEntry
from services.planner.understand import ObjectRequest, RoomSpec
from shared.layout import (
    Layout,
    Opening,
    PlacedObject,
    Placement,
    Room,
    Unplaced,
    Vec2,
    Vec3,
    rectangle,
)

GAP = 0.03  # clearance between floor footprints
WALL_GAP = 0.01  # between a wall and the back of an object against it
NEAR_WALL = 0.3  # an object this close to a wall shares that wall's vertical space
DOOR_CLEAR = 1.0  # depth of the free zone in front of the door
MAX_FILL = 0.35  # share of the floor the objects may cover before the room grows
EPS = 1e-6
GROWTH = 1.15
MAX_ATTEMPTS = 5
MAX_TRIES = 900  # candidate poses tried per object

KITCHEN_UNITS = frozenset(
    ("kitchen cabinet", "sink", "stove", "fridge", "dishwasher", "washing machine")
)
CORNER_LOVERS = frozenset(
    ("wardrobe", "bookshelf", "filing cabinet", "shower", "bathtub", "fridge", "coat rack")
)
CENTRED_ON_WALL = frozenset(("fireplace", "piano", "sideboard", "dresser", "tv stand"))
SEATING = ("chair", "office chair", "stool")
LAMP_FRIENDS = ("sofa", "sectional sofa", "armchair", "desk", "bed", "double bed", "king bed")

# Natural colours of materials, used when the prompt names a material but no colour.
MATERIAL_COLORS: dict[str, str] = {
    "oak": "#b8864b",
    "walnut": "#5c4033",
    "pine": "#e3c08d",
    "maple": "#e8c891",
    "birch": "#e6d3a3",
    "teak": "#a0703c",
    "mahogany": "#6b2e1f",
    "cherry": "#8b3a2a",
    "ash": "#d9c7a0",
    "beech": "#dcb98a",
    "cedar": "#a8643c",
    "ebony": "#2b211c",
    "rosewood": "#65000b",
    "bamboo": "#d8c38a",
    "rattan": "#c89f65",
    "wicker": "#c89f65",
    "wood": "#a0724a",
    "hardwood": "#8b5a2b",
    "leather": "#7a4a2a",
    "marble": "#eeeeea",
    "granite": "#6e6e6e",
    "stone": "#8a8580",
    "slate": "#5a5f63",
    "travertine": "#e2d5bf",
    "concrete": "#9a9a96",
    "terrazzo": "#d8d3cb",
    "glass": "#dfeff2",
    "steel": "#b8bcc0",
    "stainless steel": "#c4c8cc",
    "metal": "#8c8c8c",
    "iron": "#3c3c3c",
    "wrought iron": "#2e2e2e",
    "brass": "#b5a642",
    "copper": "#b87333",
    "chrome": "#d8d8d8",
    "aluminium": "#c0c4c8",
    "jute": "#c2a878",
    "sisal": "#c9b48a",
    "cork": "#c79f6e",
    "brick": "#a2543a",
    "quartz": "#efece6",
}

AABB = tuple[float, float, float, float]


# --------------------------------------------------------------------------- geometry


def _corners(x: float, z: float, w: float, d: float, rot: float) -> list[Vec2]:
    """The rotated footprint, computed exactly as :meth:`PlacedObject.footprint` does."""
    yaw = math.radians(rot)
    cos, sin = math.cos(yaw), math.sin(yaw)
    out = []
    for dx, dz in ((-w / 2, -d / 2), (w / 2, -d / 2), (w / 2, d / 2), (-w / 2, d / 2)):
        out.append((x + dx * cos + dz * sin, z - dx * sin + dz * cos))
    return out


def _bounds(points: Iterable[Vec2]) -> AABB:
    xs, zs = zip(*points, strict=True)
    return min(xs), min(zs), max(xs), max(zs)


def _axes(corners: list[Vec2]) -> list[Vec2]:
    out = []
    for k in (0, 1):
        (x1, z1), (x2, z2) = corners[k], corners[k + 1]
        length = math.hypot(x2 - x1, z2 - z1) or 1.0
        out.append(((x2 - x1) / length, (z2 - z1) / length))
    return out


def _aligned(corners: list[Vec2]) -> bool:
    """Whether a rectangle's edges run along the axes."""
    (x0, z0), (x1, z1) = corners[0], corners[1]
    return abs(x0 - x1) < 1e-9 or abs(z0 - z1) < 1e-9


def _overlap(a: list[Vec2], abox: AABB, b: list[Vec2], bbox: AABB, gap: float) -> bool:
    """Whether two rectangles come closer than ``gap`` (separating-axis test)."""
    if (
        abox[0] >= bbox[2] + gap - EPS
        or bbox[0] >= abox[2] + gap - EPS
        or abox[1] >= bbox[3] + gap - EPS
        or bbox[1] >= abox[3] + gap - EPS
    ):
        return False
    if _aligned(a) and _aligned(b):
        return True  # the boxes are the rectangles
    for ax, az in (*_axes(a), *_axes(b)):
        pa = [x * ax + z * az for x, z in a]
        pb = [x * ax + z * az for x, z in b]
        if max(pa) + gap - EPS <= min(pb) or max(pb) + gap - EPS <= min(pa):
            return False
    return True


def _point_in_polygon(x: float, z: float, polygon: list[Vec2]) -> bool:
    inside = False
    n = len(polygon)
    for i in range(n):
        x1, z1 = polygon[i]
        x2, z2 = polygon[(i + 1) % n]
        if (z1 > z) != (z2 > z):
            cross = x1 + (z - z1) * (x2 - x1) / (z2 - z1)
            if x < cross:
                inside = not inside
    return inside


def _segments_cross(p1: Vec2, p2: Vec2, q1: Vec2, q2: Vec2) -> bool:
    def orient(a: Vec2, b: Vec2, c: Vec2) -> float:
        return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])

    d1, d2 = orient(q1, q2, p1), orient(q1, q2, p2)
    d3, d4 = orient(p1, p2, q1), orient(p1, p2, q2)
    return d1 * d2 < -EPS and d3 * d4 < -EPS


def _yaw(direction: Vec2) -> float:
    """The yaw in degrees that turns an object's front (+Z) towards ``direction``."""
    return round(math.degrees(math.atan2(direction[0], direction[1])), 9) % 360.0


def _front(rot: float) -> Vec2:
    yaw = math.radians(rot)
    return math.sin(yaw), math.cos(yaw)


def _side(rot: float) -> Vec2:
    """The object's local +X axis in the x–z plane."""
    yaw = math.radians(rot)
    return math.cos(yaw), -math.sin(yaw)


class _Spot(NamedTuple):
    """A candidate centre on the open floor."""

    x: float
    z: float
    yaw: float  # faces the room's centre, snapped to a multiple of 90°
    wall: float  # distance to the nearest wall
    corner: float  # distance to the nearest corner
    centre: float  # distance to the room's centre


SpotScore = Callable[[_Spot], float]


@dataclass(frozen=True)
class _Wall:
    index: int
    a: Vec2
    b: Vec2
    length: float
    u: Vec2  # along the wall, from a to b
    n: Vec2  # into the room
    yaw: float  # the yaw that faces an object's front into the room

    def at(self, t: float, out: float) -> Vec2:
        return (
            self.a[0] + self.u[0] * t + self.n[0] * out,
            self.a[1] + self.u[1] * t + self.n[1] * out,
        )

    def project(self, point: Vec2) -> tuple[float, float]:
        """(distance along the wall, distance into the room) of a point."""
        dx, dz = point[0] - self.a[0], point[1] - self.a[1]
        return dx * self.u[0] + dz * self.u[1], dx * self.n[0] + dz * self.n[1]


class _Geometry:
    def __init__(self, room: Room):
        self.polygon = room.polygon
        self.walls: list[_Wall] = []
        for i in range(len(room.polygon)):
            a, b = room.wall_segment(i)
            length = math.hypot(b[0] - a[0], b[1] - a[1])
            u = ((b[0] - a[0]) / length, (b[1] - a[1]) / length)
            n = room.inward_normal(i)
            self.walls.append(_Wall(i, a, b, length, u, n, _yaw(n)))
        self.box = _bounds(room.polygon)
        xs = [p[0] for p in room.polygon]
        zs = [p[1] for p in room.polygon]
        self.centroid = (sum(xs) / len(xs), sum(zs) / len(zs))
        self.is_box = len(room.polygon) == 4 and all(
            abs(w.u[0]) < EPS or abs(w.u[1]) < EPS for w in self.walls
        )
        self._grid: list[_Spot] | None = None

    def contains(self, corners: list[Vec2], box: AABB, margin: float = 0.004) -> bool:
        rx0, rz0, rx1, rz1 = self.box
        if (
            box[0] < rx0 + margin - EPS
            or box[1] < rz0 + margin - EPS
            or box[2] > rx1 - margin + EPS
            or box[3] > rz1 - margin + EPS
        ):
            return False
        if self.is_box:
            return True
        if not all(_point_in_polygon(x, z, self.polygon) for x, z in corners):
            return False
        for wall in self.walls:
            for k in range(4):
                if _segments_cross(corners[k], corners[(k + 1) % 4], wall.a, wall.b):
                    return False
            if _point_in_polygon(wall.a[0], wall.a[1], corners):
                return False
        return True

    def corner_distance(self, x: float, z: float) -> float:
        return min(math.hypot(x - px, z - pz) for px, pz in self.polygon)

    def wall_distance(self, x: float, z: float) -> float:
        best = math.inf
        for wall in self.walls:
            t, s = wall.project((x, z))
            if -EPS <= t <= wall.length + EPS:
                best = min(best, abs(s))
        return best if best < math.inf else self.corner_distance(x, z)

    def grid(self) -> list[_Spot]:
        """Candidate centres over the floor, each with the yaw (a multiple of 90°) that
        faces the room's centre from there and its distances to walls, corners and centre.
        """
        if self._grid is None:
            x0, z0, x1, z1 = self.box
            step = min(max(max(x1 - x0, z1 - z0) / 20, 0.15), 0.4)
            cx, cz = self.centroid
            points = []
            for i in range(int((x1 - x0 - 0.1) / step) + 1):
                x = round(x0 + 0.05 + i * step, 4)
                for j in range(int((z1 - z0 - 0.1) / step) + 1):
                    z = round(z0 + 0.05 + j * step, 4)
                    if not _point_in_polygon(x, z, self.polygon):
                        continue
                    facing = _yaw((cx - x, cz - z)) if (cx, cz) != (x, z) else 0.0
                    points.append(
                        _Spot(
                            x,
                            z,
                            round(facing / 90.0) * 90.0 % 360.0,
                            self.wall_distance(x, z),
                            self.corner_distance(x, z),
                            math.hypot(x - cx, z - cz),
                        )
                    )
            self._grid = points
        return self._grid

    def near_walls(self, corners: list[Vec2], box: AABB) -> list[tuple[int, float, float]]:
        """(wall, t0, t1) for each wall the footprint comes within ``NEAR_WALL`` of."""
        out = []
        for wall in self.walls:
            if self.is_box:
                # Axis-aligned walls: the extremes of the projection are the box's.
                ux, uz = wall.u
                nx, nz = wall.n
                ax, az = wall.a
                xs = ((box[0] - ax), (box[2] - ax))
                zs = ((box[1] - az), (box[3] - az))
                ts = [x * ux + z * uz for x in xs for z in zs]
                ss = [x * nx + z * nz for x in xs for z in zs]
            else:
                ts, ss = (list(v) for v in zip(*(wall.project(c) for c in corners), strict=True))
            if min(ss) > NEAR_WALL:
                continue
            t0, t1 = max(min(ts), 0.0), min(max(ts), wall.length)
            if t1 > t0:
                out.append((wall.index, t0, t1))
        return out


# --------------------------------------------------------------------------- items


@dataclass
class _Item:
    key: str
    order: int
    category: str
    entry: CatalogEntry
    request: ObjectRequest
    size: Vec3
    placement: Placement
    description: str
    material: str | None
    color: str | None
    parents: tuple[str, ...] = ()

    @property
    def footprint(self) -> float:
        return self.size[0] * self.size[2]


@dataclass
class _Pose:
    item: _Item
    x: float
    y: float
    z: float
    rot: float
    corners: list[Vec2]
    box: AABB
    wall: int | None = None
    t: float | None = None
    parent: str | None = None


@dataclass
class _Span:
    """Part of a wall taken from ``t0`` to ``t1`` along it and ``y0`` to ``y1`` up it."""

    t0: float
    t1: float
    y0: float
    y1: float
    kind: str  # "door", "window", "wall" (a wall object) or "floor" (furniture below)
    ref: int = -1  # the window index for "window"


@dataclass
class _Result:
    room: Room
    poses: list[_Pose]
    unplaced: list[tuple[_Item, str]] = field(default_factory=list)


def _name(category: str) -> str:
    return {"teachers desk": "teacher's desk", "tv": "TV"}.get(category, category)


def _items(spec: RoomSpec) -> list[_Item]:
    items: list[_Item] = []
    counters: dict[str, int] = {}
    style = ", ".join(spec.style)
    for request in spec.objects:
        known = catalog.entry(request.category)
        entry = known or CatalogEntry(
            category=request.category,
            size=request.size or (0.6, 0.9, 0.6),
            material="",
            color="",
        )
        if request.size is not None:
            size = request.size
        else:
            w, h, d = entry.size
            size = (w * request.scale, h, d * request.scale)
            if request.category == "rug" and spec.room_type == "bathroom":
                size = (0.8, 0.01, 0.55)
        placement = request.placement or entry.placement
        parents = entry.parents
        if request.on is not None and request.on in catalog.CATALOG:
            small = size[0] * size[2] <= 0.4 and size[1] <= 1.4
            if placement == "surface" or (placement == "floor" and small):
                placement = "surface"
                parents = (request.on, *(p for p in parents if p != request.on))
        if known is None:
            material = request.material
            color = request.color
            shown_color = color
        else:
            material = request.material or entry.material
            if request.color is not None:
                color = shown_color = request.color
            elif request.material is not None and request.material in MATERIAL_COLORS:
                color, shown_color = MATERIAL_COLORS[request.material], None
            else:
                color = shown_color = entry.color
        words = [*request.adjectives, shown_color or "", material or "", _name(request.category)]
        description = " ".join(w for w in words if w)
        if style:
            description += f", {style} style"
        stem = catalog.slug(request.category)
        for _ in range(request.count):
            counters[stem] = counters.get(stem, 0) + 1
            items.append(
                _Item(
                    key=f"{stem}-{counters[stem]}",
                    order=len(items),
                    category=request.category,
                    entry=entry,
                    request=request,
                    size=size,
                    placement=placement,
                    description=description,
                    material=material,
                    color=color,
                    parents=parents,
                )
            )
    return items


# --------------------------------------------------------------------------- the room


def _room_dimensions(spec: RoomSpec, items: list[_Item]) -> tuple[float, float, float]:
    template = catalog.ROOM_TEMPLATES[spec.room_type]
    floor = [it for it in items if it.placement == "floor"]
    tallest = max((it.size[1] for it in items if it.placement != "ceiling"), default=2.0)
    height = spec.height or max(template.height, round(tallest + 0.3, 1))
    if spec.width is not None and spec.depth is not None:
        return spec.width, spec.depth, height
    width, depth = (s * spec.size_factor for s in template.size)
    covered = sum(it.footprint for it in floor if it.category != "rug")
    if covered > MAX_FILL * width * depth:
        k = math.sqrt(covered / (MAX_FILL * width * depth))
        width, depth = width * k, depth * k
    longest = max((max(it.size[0], it.size[2]) for it in floor), default=0.0) + 0.8
    width, depth = max(width, longest, 1.8), max(depth, longest, 1.8)
    return round(width, 2), round(depth, 2), height


def _openings(
    spec: RoomSpec, width: float, depth: float, height: float, rng: random.Random
) -> tuple[list[Opening], list[Opening]]:
    lengths = [depth, width, depth, width]
    door_walls = [i for i in range(4) if lengths[i] >= 1.2]
    door_wall = rng.choice(door_walls)
    length = lengths[door_wall]
    door_width = 0.9 if length >= 1.6 else 0.7
    door_height = min(2.1, height - 0.1)
    end = 0.15 + door_width / 2
    choice = rng.random()
    if choice < 0.4:
        offset = end + rng.uniform(0.0, 0.3)
    elif choice < 0.8:
        offset = length - end - rng.uniform(0.0, 0.3)
    else:
        offset = length / 2
    offset = min(max(offset, end), length - end)
    door = Opening(
        wall=door_wall, offset=round(offset, 3), width=door_width, height=door_height, sill=0.0
    )
    bathroom = spec.room_type == "bathroom"
    count = 1 if bathroom or width * depth < 12 else 2
    others = [i for i in range(4) if i != door_wall]
    opposite = (door_wall + 2) % 4
    first = opposite if rng.random() < 0.6 else rng.choice(others)
    order = [first, *sorted((i for i in others if i != first), key=lambda i: -lengths[i])]
    windows = []
    for wall in order[:count]:
        length = lengths[wall]
        if length < 1.2:
            continue
        win_width = min(0.8 if bathroom else 1.4, round(length * 0.45, 2))
        sill = 1.4 if bathroom else 0.9
        win_height = max(0.5, min(0.7 if bathroom else 1.3, height - sill - 0.3))
        jitter = rng.uniform(-0.12, 0.12) * length
        offset = min(max(length / 2 + jitter, win_width / 2 + 0.3), length - win_width / 2 - 0.3)
        windows.append(
            Opening(
                wall=wall,
                offset=round(offset, 3),
                width=win_width,
                height=round(win_height, 2),
                sill=sill,
            )
        )
    return [door], windows


# --------------------------------------------------------------------------- arranging


Candidate = tuple[float, float, float, int | None, float | None]  # x, z, rot, wall, t


class _Arranger:
    def __init__(self, room: Room, items: list[_Item], rng: random.Random):
        self.room = room
        self.geo = _Geometry(room)
        self.rng = rng
        self.remaining: dict[str, _Item] = {it.key: it for it in items}
        self.poses: list[_Pose] = []
        self.floor: list[_Pose] = []
        self.rugs: list[_Pose] = []
        self.ceiling: list[_Pose] = []
        self.unplaced: list[tuple[_Item, str]] = []
        self.spans: list[list[_Span]] = [[] for _ in self.geo.walls]
        self.keepout: list[tuple[list[Vec2], AABB]] = []
        self.tops: dict[str, list[AABB]] = {}
        self.curtained: set[int] = set()
        for door in room.doors:
            wall = self.geo.walls[door.wall]
            half = door.width / 2 + 0.1
            self.spans[door.wall].append(
                _Span(door.offset - half, door.offset + half, 0.0, room.height, "door")
            )
            cx, cz = wall.at(door.offset, DOOR_CLEAR / 2)
            zone = _corners(cx, cz, door.width + 0.2, DOOR_CLEAR, wall.yaw)
            self.keepout.append((zone, _bounds(zone)))
        for k, window in enumerate(room.windows):
            half = window.width / 2
            self.spans[window.wall].append(
                _Span(
                    window.offset - half,
                    window.offset + half,
                    window.sill,
                    window.sill + window.height,
                    "window",
                    k,
                )
            )

    # ----------------------------------------------------------------- bookkeeping

    def _take(self, categories: Iterable[str], limit: int | None = None) -> list[_Item]:
        wanted = set(categories)
        out = [it for it in self.remaining.values() if it.category in wanted]
        out.sort(key=lambda it: it.order)
        out = out[:limit] if limit is not None else out
        for it in out:
            del self.remaining[it.key]
        return out

    def _take_where(self, test: Callable[[_Item], bool]) -> list[_Item]:
        out = sorted((it for it in self.remaining.values() if test(it)), key=lambda it: it.order)
        for it in out:
            del self.remaining[it.key]
        return out

    def _placed(self, *categories: str) -> list[_Pose]:
        wanted = set(categories)
        return [p for p in self.poses if p.item.category in wanted]

    def _fail(self, item: _Item, reason: str) -> None:
        self.unplaced.append((item, reason))

    def _commit(self, pose: _Pose) -> _Pose:
        self.poses.append(pose)
        placement = pose.item.placement
        if placement == "floor":
            if pose.item.category == "rug":
                self.rugs.append(pose)
                return pose
            self.floor.append(pose)
        if placement == "ceiling":
            self.ceiling.append(pose)
            return pose
        if placement in ("floor", "surface"):
            top = pose.y + pose.item.size[1]
            for wall, t0, t1 in self.geo.near_walls(pose.corners, pose.box):
                self.spans[wall].append(_Span(t0, t1, pose.y, top, "floor"))
        return pose

    def _span_free(
        self,
        wall: int,
        t0: float,
        t1: float,
        y0: float,
        y1: float,
        *,
        wall_object: bool,
        window: int | None = None,
    ) -> bool:
        """Whether a stretch of wall is free for a wall object (or, with ``wall_object``
        false, for furniture standing in front of it); ``window`` is one it may cover."""
        for span in self.spans[wall]:
            if span.t1 <= t0 + EPS or t1 <= span.t0 + EPS:
                continue
            if span.kind == "window" and span.ref == window:
                continue
            if span.kind == "door":
                return False
            if span.kind == "floor" and not wall_object:
                continue
            if span.kind == "window" and not wall_object and y1 <= span.y0 - 0.02:
                continue
            if span.y1 <= y0 + EPS or y1 <= span.y0 + EPS:
                continue
            return False
        return True

    # ----------------------------------------------------------------- checking a pose

    def _fits(
        self,
        item: _Item,
        x: float,
        z: float,
        rot: float,
        *,
        wall: int | None = None,
        t: float | None = None,
        virtual: tuple[float, float, float, float] | None = None,
    ) -> _Pose | None:
        """The pose if ``item`` may stand there; ``virtual`` = (x, z, w, d) checks a
        larger box instead (the object plus the space its partners will need)."""
        w, h, d = item.size
        if h > self.room.height - 0.02:
            return None
        quarter = rot % 180.0
        if quarter in (0.0, 90.0):
            # A cheap look at the room's bounds before building the footprint.
            hx, hz = (w / 2, d / 2) if quarter == 0.0 else (d / 2, w / 2)
            rx0, rz0, rx1, rz1 = self.geo.box
            if x - hx < rx0 or x + hx > rx1 or z - hz < rz0 or z + hz > rz1:
                return None
        corners = _corners(x, z, w, d, rot)
        box = _bounds(corners)
        if virtual is not None:
            check = _corners(virtual[0], virtual[1], virtual[2], virtual[3], rot)
            check_box = _bounds(check)
        else:
            check, check_box = corners, box
        if not self.geo.contains(corners, box) or not self.geo.contains(check, check_box):
            return None
        rug = item.category == "rug"
        others = self.rugs if rug else self.floor
        gap = 0.0 if rug else GAP
        for other in others:
            if _overlap(check, check_box, other.corners, other.box, gap):
                return None
        if not rug:
            for zone, zone_box in self.keepout:
                if _overlap(check, check_box, zone, zone_box, 0.0):
                    return None
            for wall_index, t0, t1 in self.geo.near_walls(corners, box):
                if not self._span_free(wall_index, t0, t1, 0.0, h, wall_object=False):
                    return None
        return _Pose(item, x, 0.0, z, rot, corners, box, wall, t)

    def _first_fit(
        self, item: _Item, candidates: list[tuple[float, Candidate]], pad: float = 0.0
    ) -> _Pose | None:
        candidates.sort(key=lambda c: c[0])
        for _, (x, z, rot, wall, t) in candidates[:MAX_TRIES]:
            virtual = None
            if pad > 0 and wall is not None:
                wall_obj = self.geo.walls[wall]
                d = item.size[2]
                vx, vz = wall_obj.at(t or 0.0, (d + pad) / 2 + WALL_GAP)
                virtual = (vx, vz, item.size[0], d + pad)
            pose = self._fits(item, x, z, rot, wall=wall, t=t, virtual=virtual)
            if pose is not None:
                return pose
        return None

    # ----------------------------------------------------------------- candidates

    def _wall_candidates(
        self, item: _Item, score: Callable[[_Wall, float], float]
    ) -> list[tuple[float, Candidate]]:
        w, _, d = item.size
        out: list[tuple[float, Candidate]] = []
        for wall in self.geo.walls:
            lo, hi = w / 2 + WALL_GAP, wall.length - w / 2 - WALL_GAP
            if hi < lo:
                continue
            ts = {round(lo, 4), round(hi, 4), round(wall.length / 2, 4)}
            steps = int((hi - lo) / 0.1)
            ts.update(round(lo + k * (hi - lo) / max(steps, 1), 4) for k in range(steps + 1))
            for pose in self.floor:
                if pose.wall == wall.index and pose.t is not None:
                    reach = pose.item.size[0] / 2 + w / 2 + GAP + 0.005
                    ts.update((round(pose.t - reach, 4), round(pose.t + reach, 4)))
            for t in sorted(ts):
                if lo - EPS <= t <= hi + EPS:
                    x, z = wall.at(t, d / 2 + WALL_GAP)
                    value = score(wall, t) + self.rng.random() * 0.25
                    out.append((value, (x, z, wall.yaw, wall.index, t)))
        return out

    def _free_candidates(self, score: SpotScore, turns: int = 2) -> list[tuple[float, Candidate]]:
        out: list[tuple[float, Candidate]] = []
        random = self.rng.random
        for spot in self.geo.grid():
            value = score(spot)
            for k in range(turns):
                rot = (spot.yaw + 90.0 * k) % 360.0
                out.append((value + 0.15 * k + random() * 0.2, (spot.x, spot.z, rot, None, None)))
        return out

    def _near_score(self, categories: Iterable[str]) -> Callable[[float, float], float] | None:
        targets = self._placed(*categories)
        if not targets:
            return None

        def distance(x: float, z: float) -> float:
            return min(math.hypot(x - p.x, z - p.z) for p in targets)

        return distance

    # ----------------------------------------------------------------- placing

    def _against_wall(
        self,
        item: _Item,
        *,
        slots: Iterable[tuple[int, float]] = (),
        score: Callable[[_Wall, float], float] | None = None,
        pad: float = 0.0,
    ) -> _Pose | None:
        w, _, d = item.size
        tried: list[tuple[float, Candidate]] = []
        for rank, (wall_index, t) in enumerate(slots):
            wall = self.geo.walls[wall_index]
            if not (w / 2 <= t <= wall.length - w / 2):
                continue
            x, z = wall.at(t, d / 2 + WALL_GAP)
            tried.append((-100.0 + rank, (x, z, wall.yaw, wall_index, t)))
        pose = self._first_fit(item, tried, pad)
        if pose is None:
            candidates = self._wall_candidates(item, score or self._wall_score(item))
            pose = self._first_fit(item, candidates, pad)
        return self._commit(pose) if pose is not None else None

    def _free(
        self,
        item: _Item,
        *,
        slots: Iterable[tuple[float, float, float]] = (),
        score: SpotScore | None = None,
        pad: tuple[float, float] = (0.0, 0.0),
    ) -> _Pose | None:
        for x, z, rot in slots:
            pose = self._fits(item, x, z, rot)
            if pose is not None:
                return self._commit(pose)
        candidates = self._free_candidates(score or self._free_score(item))
        candidates.sort(key=lambda c: c[0])
        w, _, d = item.size
        for _, (x, z, rot, _wall, _t) in candidates[:MAX_TRIES]:
            virtual = (x, z, w + 2 * pad[0], d + 2 * pad[1]) if pad != (0.0, 0.0) else None
            pose = self._fits(item, x, z, rot, virtual=virtual)
            if pose is not None:
                return self._commit(pose)
        return None

    def _floor(
        self,
        item: _Item,
        *,
        wall_slots: Iterable[tuple[int, float]] = (),
        wall_score: Callable[[_Wall, float], float] | None = None,
        wall_pad: float = 0.0,
        slots: Iterable[tuple[float, float, float]] = (),
        score: SpotScore | None = None,
        pad: tuple[float, float] = (0.0, 0.0),
    ) -> _Pose | None:
        """Place a floor object the way its category likes, or record why not.

        Objects that go against a wall try ``wall_slots`` then the best-scoring wall
        stretch (``wall_pad`` keeps that much floor free in front), then the open floor;
        the others try ``slots`` then the best-scoring open floor.
        """
        pose = None
        w, h, d = item.size
        roomy = item.category == "rug" or w * d <= self._free_area()
        if roomy and h <= self.room.height - 0.02:
            if item.entry.against_wall:
                pose = self._against_wall(item, slots=wall_slots, score=wall_score, pad=wall_pad)
            if pose is None:
                pose = self._free(item, slots=slots, score=score, pad=pad)
        if pose is None:
            if h > self.room.height - 0.02:
                self._fail(item, f"taller ({h:.2f} m) than the room")
            else:
                self._fail(item, f"no free floor space for its {w:.2f} × {d:.2f} m footprint")
        return pose

    def _free_area(self) -> float:
        """Floor area not yet covered by furniture or the door's clear zone."""
        taken = sum(p.item.size[0] * p.item.size[2] for p in self.floor)
        taken += sum((door.width + 0.2) * DOOR_CLEAR for door in self.room.doors)
        return self.room.area - taken

    # ----------------------------------------------------------------- scoring

    def _door_wall(self, wall: _Wall) -> bool:
        return any(door.wall == wall.index for door in self.room.doors)

    def _wall_score(self, item: _Item) -> Callable[[_Wall, float], float]:
        category = item.category
        w = item.size[0]
        longest = max(wall.length for wall in self.geo.walls)
        same = self._placed(category)
        kitchen = self._placed(*KITCHEN_UNITS) if category in KITCHEN_UNITS else []
        near = self._near_score((item.request.near,)) if item.request.near else None

        def score(wall: _Wall, t: float) -> float:
            value = 0.0
            corner = min(t - w / 2, wall.length - t - w / 2)
            if item.entry.group in ("bed", "sofa") or category in CENTRED_ON_WALL:
                value += 2.0 * abs(t - wall.length / 2) / wall.length
                value += (longest - wall.length) / longest
                value += 1.0 if self._door_wall(wall) else 0.0
            elif category in CORNER_LOVERS:
                value += 0.5 * corner
            else:
                value += 0.15 * corner
            x, z = wall.at(t, item.size[2] / 2)
            if kitchen:
                value += min(math.hypot(x - p.x, z - p.z) for p in kitchen)
            elif category in KITCHEN_UNITS:
                value += 0.5 * corner + (0.8 if self._door_wall(wall) else 0.0)
            if same:
                value += 0.5 * min(math.hypot(x - p.x, z - p.z) for p in same)
            if near is not None:
                value += near(x, z)
            return value

        return score

    def _free_score(self, item: _Item) -> SpotScore:
        category = item.category
        near = self._near_score((item.request.near,)) if item.request.near else None
        if category == "plant":
            friend = None
        elif category == "floor lamp":
            friend = self._near_score((*LAMP_FRIENDS, "single bed"))
        elif category == "side table":
            friend = self._near_score(("sofa", "sectional sofa", "armchair", "bed", "double bed"))
        elif category in ("armchair", "ottoman", "rocking chair"):
            friend = self._near_score(("coffee table", "sofa", "sectional sofa", "fireplace"))
        elif category in SEATING:
            friend = self._near_score(("dining table", "table", "desk", "kitchen island"))
        else:
            friend = None
        central = item.entry.seats or category in ("grand piano", "kitchen island")

        def score(spot: _Spot) -> float:
            if central:
                value = 0.6 * spot.centre
            elif category == "plant":
                value = spot.corner
            else:
                value = 0.6 * spot.wall
            if friend is not None:
                value += friend(spot.x, spot.z)
            if near is not None:
                value += near(spot.x, spot.z)
            return value

        return score

    # ----------------------------------------------------------------- the plan

    def run(self) -> None:
        for board in self._take(("whiteboard",)):
            if board.placement == "wall":
                self._wall_object(board)
            else:
                self.remaining[board.key] = board
        self._beds()
        self._sofas()
        self._classroom()
        self._desks()
        self._tables()
        for stand in self._take(("tv stand",)):
            self._floor(stand, wall_score=self._facing_sofa(stand))
        rest = self._take_where(
            lambda it: it.placement == "floor" and it.category not in ("rug", *SEATING)
        )
        rest.sort(
            key=lambda it: (
                not it.request.requested,
                not it.entry.against_wall,
                -it.footprint,
                it.order,
            )
        )
        for item in rest:
            self._floor(item)
        for chair in self._take(SEATING):
            self._floor(chair)
        self._rugs()
        for item in self._take_where(lambda it: it.placement == "surface"):
            self._surface(item)
        walls = self._take_where(lambda it: it.placement == "wall")
        walls.sort(key=lambda it: (-it.size[0] * it.size[1], it.order))
        for item in walls:
            self._wall_object(item)
        for item in self._take_where(lambda it: it.placement == "ceiling"):
            self._ceiling_object(item)
        for item in list(self.remaining.values()):
            self._fail(item, "nowhere to put it")

    # Beds with their nightstands.
    def _beds(self) -> None:
        beds = self._take_where(lambda it: it.entry.group == "bed" or it.category == "crib")
        beds.sort(key=lambda it: (-it.footprint, it.order))
        for bed in beds:
            pose = self._floor(bed)
            if pose is None or pose.wall is None or pose.t is None:
                continue
            for stand in self._take(("nightstand",), limit=2):
                reach = bed.size[0] / 2 + stand.size[0] / 2 + GAP + 0.02
                slots = [(pose.wall, pose.t - reach), (pose.wall, pose.t + reach)]
                self._floor(stand, wall_slots=slots, wall_score=self._near_wall_score(pose, stand))

    def _near_wall_score(self, anchor: _Pose, item: _Item) -> Callable[[_Wall, float], float]:
        def score(wall: _Wall, t: float) -> float:
            x, z = wall.at(t, item.size[2] / 2)
            return math.hypot(x - anchor.x, z - anchor.z)

        return score

    # Sofas with a coffee table in front, armchairs around it and a TV opposite.
    def _sofas(self) -> None:
        sofas = self._take_where(lambda it: it.entry.group == "sofa")
        sofas.sort(key=lambda it: (-it.footprint, it.order))
        tables = self._take(("coffee table",))
        for index, sofa in enumerate(sofas):
            table = tables.pop(0) if tables else None
            pad = (table.size[2] + 0.45) if table is not None else 0.6
            pose = self._floor(sofa, wall_pad=pad)
            if pose is None:
                if table is not None:
                    self.remaining[table.key] = table
                continue
            front = _front(pose.rot)
            if table is not None:
                slots = []
                for gap in (0.4, 0.5, 0.3, 0.6):
                    out = sofa.size[2] / 2 + gap + table.size[2] / 2
                    slots.append((pose.x + front[0] * out, pose.z + front[1] * out, pose.rot))
                table_pose = self._floor(table, slots=slots, score=self._beside(pose, 1.0))
            else:
                table_pose = None
            if index == 0:
                self._armchairs(pose, table_pose)
        for table in tables:
            self.remaining[table.key] = table

    def _beside(self, anchor: _Pose, weight: float) -> SpotScore:
        def score(spot: _Spot) -> float:
            return weight * math.hypot(spot.x - anchor.x, spot.z - anchor.z)

        return score

    def _armchairs(self, sofa: _Pose, table: _Pose | None) -> None:
        chairs = self._take(("armchair",))
        front = _front(sofa.rot)
        side = _side(sofa.rot)
        if table is not None:
            cx, cz = table.x, table.z
            half_w, half_d = table.item.size[0] / 2, table.item.size[2] / 2
        else:
            reach = sofa.item.size[2] / 2 + 1.0
            cx, cz = sofa.x + front[0] * reach, sofa.z + front[1] * reach
            half_w, half_d = 0.5, 0.3
        for chair in chairs:
            depth = chair.size[2]
            slots = []
            for sign in (1.0, -1.0):
                out = half_w + 0.3 + depth / 2
                x, z = cx + side[0] * out * sign, cz + side[1] * out * sign
                slots.append((x, z, _yaw((-side[0] * sign, -side[1] * sign))))
            out = half_d + 0.45 + depth / 2
            x, z = cx + front[0] * out, cz + front[1] * out
            slots.append((x, z, _yaw((-front[0], -front[1]))))
            anchor = table or sofa
            self._floor(chair, slots=slots, score=self._beside(anchor, 1.0))

    def _facing_sofa(self, item: _Item) -> Callable[[_Wall, float], float] | None:
        sofas = self._placed("sofa", "sectional sofa") or self._placed(
            "double bed", "bed", "king bed", "single bed"
        )
        if not sofas:
            return None
        sofa = sofas[0]
        front = _front(sofa.rot)

        def score(wall: _Wall, t: float) -> float:
            facing = 1.0 + (wall.n[0] * front[0] + wall.n[1] * front[1])
            along, _ = wall.project((sofa.x, sofa.z))
            return 3.0 * facing + abs(t - along) / wall.length

        return score

    # Classroom rows: student desks facing the board, each with its chair.
    def _classroom(self) -> None:
        desks = self._take(("student desk",))
        teacher = self._take(("teachers desk",))
        if not desks and not teacher:
            return
        boards = [p for p in self.poses if p.item.category == "whiteboard" and p.wall is not None]
        if boards and boards[0].wall is not None:
            wall = self.geo.walls[boards[0].wall]
        else:
            wall = max(self.geo.walls, key=lambda w: (not self._door_wall(w), w.length, -w.index))
        depth_extent = max(wall.project(p)[1] for p in self.geo.polygon)
        for desk in teacher:
            chair = self._chair_for(desk, prefer="office chair")
            chair_d = chair.size[2] if chair is not None else 0.6
            out = 0.15 + chair_d + 0.1 + desk.size[2] / 2
            rot = _yaw((-wall.n[0], -wall.n[1]))
            slots: list[tuple[float, float, float]] = []
            for frac in (0.8, 0.2, 0.5):
                x, z = wall.at(wall.length * frac, out)
                slots.append((x, z, rot))
            pose = self._floor(desk, slots=slots)
            self._seat_at_desk(pose, chair)
        if not desks:
            return
        w, _, d = desks[0].size
        chairs = [self._chair_for(desk, prefer="chair") for desk in desks]
        chair_d = max((c.size[2] for c in chairs if c is not None), default=0.5)
        pitch_t = w + 0.45
        pitch_s = d + 0.08 + chair_d + 0.55
        start = 2.3 + d / 2
        max_columns = max(1, int((wall.length - 0.4 + 0.45) // pitch_t))
        rows = max(1, int((depth_extent - start - d / 2 - chair_d - 0.2) // pitch_s) + 1)
        balanced = math.ceil(math.sqrt(len(desks) * pitch_s / pitch_t))
        columns = min(max_columns, max(balanced, math.ceil(len(desks) / rows)))
        grid: list[Vec2] = []
        for r in range(rows):
            for c in range(columns):
                t = wall.length / 2 + (c - (columns - 1) / 2) * pitch_t
                grid.append(wall.at(t, start + r * pitch_s))
        facing = _yaw(wall.n)
        back = _yaw((-wall.n[0], -wall.n[1]))
        for desk, chair in zip(desks, chairs, strict=True):
            placed = False
            while grid and not placed:
                x, z = grid.pop(0)
                pose = self._fits(desk, x, z, facing)
                if pose is None:
                    continue
                if chair is not None:
                    out = d / 2 + 0.08 + chair.size[2] / 2
                    seat = self._fits(chair, x + wall.n[0] * out, z + wall.n[1] * out, back)
                    if seat is None:
                        continue
                    self._commit(pose)
                    self._commit(seat)
                else:
                    self._commit(pose)
                placed = True
            if not placed:
                pose = self._floor(desk)
                self._seat_at_desk(pose, chair)

    def _chair_for(self, desk: _Item, prefer: str) -> _Item | None:
        order = [prefer, *(c for c in SEATING if c != prefer)]
        for category in order:
            found = self._take((category,), limit=1)
            if found:
                return found[0]
        return None

    def _seat_at_desk(self, desk: _Pose | None, chair: _Item | None) -> None:
        if chair is None:
            return
        if desk is None:
            self.remaining[chair.key] = chair
            return
        front = _front(desk.rot)
        slots = []
        for gap in (0.08, 0.15, 0.02):
            out = desk.item.size[2] / 2 + gap + chair.size[2] / 2
            slots.append(
                (desk.x + front[0] * out, desk.z + front[1] * out, (desk.rot + 180.0) % 360)
            )
        self._floor(chair, slots=slots, score=self._beside(desk, 1.0))

    # Desks against a wall, each with a chair in front.
    def _desks(self) -> None:
        desks = self._take_where(lambda it: it.placement == "floor" and it.entry.needs_seat)
        for desk in desks:
            chair = self._chair_for(desk, prefer="office chair")
            pad = chair.size[2] + 0.15 if chair is not None else 0.0
            pose = self._floor(desk, wall_pad=pad)
            self._seat_at_desk(pose, chair)

    # Tables with chairs around them.
    def _tables(self) -> None:
        tables = self._take_where(lambda it: it.placement == "floor" and it.entry.seats)
        tables.sort(key=lambda it: (-it.footprint, it.order))
        for table in tables:
            prefer = ("stool",) if table.category == "kitchen island" else ("chair", "stool")
            chairs: list[_Item] = []
            capacity = self._capacity(table)
            for category in prefer:
                chairs += self._take((category,), limit=capacity - len(chairs))
            chair_d = max((c.size[2] for c in chairs), default=0.0)
            long_side = max(1, int(table.size[0] // 0.6))
            pad_x = chair_d + 0.1 if len(chairs) > 2 * long_side else 0.0
            pad_z = chair_d + 0.1 if chairs else 0.0
            pose = self._floor(table, pad=(pad_x, pad_z))
            if pose is None:
                for chair in chairs:
                    self.remaining[chair.key] = chair
                continue
            for chair, slot in zip(chairs, self._table_slots(pose, chairs), strict=True):
                self._floor(chair, slots=slot, score=self._beside(pose, 1.0))

    @staticmethod
    def _capacity(table: _Item) -> int:
        long_side = max(1, int(table.size[0] // 0.6))
        ends = 2 if table.size[2] >= 0.6 else 0
        return 2 * long_side + ends

    def _table_slots(
        self, table: _Pose, chairs: list[_Item]
    ) -> list[list[tuple[float, float, float]]]:
        """For each chair, its preferred seat around the table first, then the others."""
        n = len(chairs)
        w, _, d = table.item.size
        side, front = _side(table.rot), _front(table.rot)
        long_side = max(1, int(w // 0.6))
        per_side = min(long_side, (n + 1) // 2)
        seats: list[tuple[float, float, float]] = []

        def along(count: int) -> list[float]:
            return [-w / 2 + w * (k + 0.5) / count for k in range(count)]

        def put(offset: float, sign: float, depth: float) -> tuple[float, float, float]:
            out = d / 2 + 0.05 + depth / 2
            x = table.x + side[0] * offset + front[0] * out * sign
            z = table.z + side[1] * offset + front[1] * out * sign
            return x, z, _yaw((-front[0] * sign, -front[1] * sign))

        def end(sign: float, depth: float) -> tuple[float, float, float]:
            out = w / 2 + 0.05 + depth / 2
            x, z = table.x + side[0] * out * sign, table.z + side[1] * out * sign
            return x, z, _yaw((-side[0] * sign, -side[1] * sign))

        depth = max(c.size[2] for c in chairs) if chairs else 0.5
        first = along(per_side)
        second = along(min(per_side, n - per_side)) if n > per_side else []
        for k in range(max(len(first), len(second))):
            if k < len(first):
                seats.append(put(first[k], 1.0, depth))
            if k < len(second):
                seats.append(put(second[k], -1.0, depth))
        if n > 2 * long_side:
            seats += [end(1.0, depth), end(-1.0, depth)]
        spare = [put(o, s, depth) for s in (1.0, -1.0) for o in along(long_side)]
        spare += [end(1.0, depth), end(-1.0, depth)]
        out = []
        for k in range(n):
            mine = seats[k : k + 1] if k < len(seats) else []
            out.append(mine + [s for s in spare if s not in mine])
        return out

    # Rugs under the bed, the coffee table or the dining table, else in the open.
    def _rugs(self) -> None:
        anchors = (
            self._placed("double bed", "king bed", "bed", "single bed")
            + self._placed("coffee table")
            + self._placed("dining table", "table")
            + self._placed("bathtub", "sink", "toilet")
        )
        used: set[str] = set()
        for rug in self._take(("rug",)):
            slots = []
            free = [a for a in anchors if a.item.key not in used]
            for anchor in free:
                front = _front(anchor.rot)
                if anchor.item.entry.group == "bed":
                    out = anchor.item.size[2] / 2 - rug.size[2] / 2 + 0.35
                elif anchor.item.category in ("bathtub", "sink", "toilet"):
                    out = anchor.item.size[2] / 2 + rug.size[2] / 2 + 0.05
                else:
                    out = 0.0
                slots.append((anchor.x + front[0] * out, anchor.z + front[1] * out, anchor.rot))
            pose = None
            for (x, z, rot), anchor in zip(slots, free, strict=True):
                for size in self._rug_sizes(rug, anchor):
                    pose = self._fits(replace(rug, size=size), x, z, rot)
                    if pose is not None:
                        break
                if pose is not None:
                    break
            if pose is not None:
                self._commit(pose)
                for anchor in anchors:
                    if math.hypot(anchor.x - pose.x, anchor.z - pose.z) < 1.2:
                        used.add(anchor.item.key)
            else:
                self._floor(rug, score=lambda spot: spot.centre)

    @staticmethod
    def _rug_sizes(rug: _Item, anchor: _Pose) -> list[Vec3]:
        """A rug under a table reaches past the chairs around it; any other keeps its size."""
        w, h, d = rug.size
        if not anchor.item.entry.seats or rug.request.size is not None or rug.request.scale != 1:
            return [rug.size]
        tw, _, td = anchor.item.size
        return [(max(w, tw + 1.3), h, max(d, td + 1.3)), rug.size]

    # ----------------------------------------------------------------- on furniture

    def _surface(self, item: _Item) -> None:
        w, h, d = item.size
        ranked: list[tuple[int, int, int, _Pose]] = []
        for pose in self.floor:
            entry = pose.item.entry
            category = pose.item.category
            if category in item.parents:
                rank = item.parents.index(category)
            elif entry.has_top and pose.item.size[1] <= 1.2:
                rank = len(item.parents) + 1
            else:
                continue
            siblings = sum(
                1
                for p in self.poses
                if p.parent == pose.item.key and p.item.category == item.category
            )
            ranked.append((siblings, rank, pose.item.order, pose))
        ranked.sort(key=lambda r: r[:3])
        for _, _, _, parent in ranked:
            pw, ph, pd = parent.item.size
            if w > pw - 0.02 or d > pd - 0.02 or ph + h > self.room.height - 0.05:
                continue
            spot = self._spot_on(item, parent)
            if spot is None:
                continue
            lx, lz = spot
            side, front = _side(parent.rot), _front(parent.rot)
            x = parent.x + side[0] * lx + front[0] * lz
            z = parent.z + side[1] * lx + front[1] * lz
            corners = _corners(x, z, w, d, parent.rot)
            pose = _Pose(
                item, x, ph, z, parent.rot, corners, _bounds(corners), parent=parent.item.key
            )
            self.tops.setdefault(parent.item.key, []).append(
                (lx - w / 2, lz - d / 2, lx + w / 2, lz + d / 2)
            )
            self._commit(pose)
            return
        if item.entry.wall_mountable:
            self._wall_object(replace(item, placement="wall"))
            return
        self._fail(item, "no free surface large enough to stand on")

    def _spot_on(self, item: _Item, parent: _Pose) -> tuple[float, float] | None:
        w, _, d = item.size
        pw, _, pd = parent.item.size
        xs = [0.0]
        edge_x = pw / 2 - w / 2 - 0.02
        if edge_x > EPS:
            xs += [edge_x, -edge_x, edge_x / 2, -edge_x / 2]
        edge_z = pd / 2 - d / 2 - 0.02
        back = -edge_z if edge_z > EPS else 0.0
        category = item.category
        if category in ("tv", "computer monitor", "table lamp", "microwave", "aquarium"):
            zs = [back, 0.0, -back]
        else:
            zs = [0.0, back, -back]
        if category == "table lamp":
            xs = sorted(set(xs), key=lambda v: (-abs(v), v))
        taken = self.tops.get(parent.item.key, [])
        for lz in zs:
            for lx in xs:
                box = (lx - w / 2, lz - d / 2, lx + w / 2, lz + d / 2)
                if all(
                    box[2] <= o[0] + EPS
                    or o[2] <= box[0] + EPS
                    or box[3] <= o[1] + EPS
                    or o[3] <= box[1] + EPS
                    for o in taken
                ):
                    return lx, lz
        return None

    # ----------------------------------------------------------------- on the walls

    def _wall_object(self, item: _Item) -> None:
        if item.category == "curtains":
            self._curtains(item)
            return
        w, h, d = item.size
        bottom = item.entry.mount_height if item.entry.mount_height is not None else 1.2
        bottom = max(0.05, min(bottom, self.room.height - h - 0.05))
        if bottom + h > self.room.height - 0.02:
            self._fail(item, f"taller ({h:.2f} m) than the wall")
            return
        score = self._wall_object_score(item)
        candidates: list[tuple[float, int, float]] = []
        for wall in self.geo.walls:
            lo, hi = w / 2 + 0.05, wall.length - w / 2 - 0.05
            if hi < lo:
                continue
            steps = max(1, int((hi - lo) / 0.05))
            for k in range(steps + 1):
                t = lo + k * (hi - lo) / steps
                candidates.append((score(wall, t) + self.rng.random() * 0.2, wall.index, t))
        candidates.sort(key=lambda c: c[0])
        for _, wall_index, t in candidates:
            if not self._span_free(
                wall_index, t - w / 2, t + w / 2, bottom, bottom + h, wall_object=True
            ):
                continue
            wall = self.geo.walls[wall_index]
            x, z = wall.at(t, d / 2 + WALL_GAP)
            corners = _corners(x, z, w, d, wall.yaw)
            box = _bounds(corners)
            if not self.geo.contains(corners, box):
                continue
            self.spans[wall_index].append(_Span(t - w / 2, t + w / 2, bottom, bottom + h, "wall"))
            self._commit(_Pose(item, x, bottom, z, wall.yaw, corners, box, wall_index, t))
            return
        self._fail(item, f"no free wall space {w:.2f} m wide at {bottom:.2f} m height")

    def _wall_object_score(self, item: _Item) -> Callable[[_Wall, float], float]:
        category = item.category
        anchors: list[_Pose] = []
        if category == "painting":
            anchors = self._placed(
                "sofa",
                "sectional sofa",
                "double bed",
                "king bed",
                "bed",
                "sideboard",
                "console table",
                "dresser",
                "fireplace",
            )
        elif category == "mirror":
            anchors = self._placed("sink", "dresser", "console table")
        elif category == "tv":
            anchors = []
        elif category == "shelf":
            anchors = self._placed("desk", "sideboard", "dresser")
        elif category == "towel rack":
            anchors = self._placed("bathtub", "shower", "sink")
        if item.request.near:
            anchors = self._placed(item.request.near) + anchors
        facing = self._facing_sofa(item) if category == "tv" else None
        same = self._placed(category)
        door_walls = {door.wall for door in self.room.doors}

        def score(wall: _Wall, t: float) -> float:
            if facing is not None:
                return facing(wall, t)
            value = 0.0
            if category == "whiteboard":
                value += 2.0 if wall.index in door_walls else 0.0
                value += abs(t - wall.length / 2) / wall.length
                value -= wall.length / 10
            elif anchors:
                x, z = wall.at(t, 0.0)
                value += min(
                    math.hypot(x - p.x, z - p.z) + (0.0 if p.wall == wall.index else 1.0)
                    for p in anchors
                )
            else:
                value += abs(t - wall.length / 2) / wall.length
            if same:
                x, z = wall.at(t, 0.0)
                value -= 0.1 * min(math.hypot(x - p.x, z - p.z) for p in same)
            return value

        return score

    def _curtains(self, item: _Item) -> None:
        """Curtains hang at a window, as wide as the wall around it allows."""
        depth = item.size[2]
        for k, window in enumerate(self.room.windows):
            if k in self.curtained:
                continue
            wall = self.geo.walls[window.wall]
            bottom = max(0.02, window.sill - 0.02)
            top = min(self.room.height - 0.05, window.sill + window.height + 0.2)
            if top - bottom < 0.3:
                continue
            for extra in (0.4, 0.2, 0.0):
                half = window.width / 2 + extra / 2
                t0 = max(0.05, window.offset - half)
                t1 = min(wall.length - 0.05, window.offset + half)
                own = (window.wall, t0, t1, bottom, top)
                if not self._span_free(*own, wall_object=True, window=k):
                    continue
                t = (t0 + t1) / 2
                x, z = wall.at(t, depth / 2 + WALL_GAP)
                sized = replace(item, size=(round(t1 - t0, 3), round(top - bottom, 3), depth))
                corners = _corners(x, z, sized.size[0], depth, wall.yaw)
                box = _bounds(corners)
                if not self.geo.contains(corners, box):
                    continue
                self.curtained.add(k)
                self.spans[window.wall].append(_Span(t0, t1, bottom, top, "wall"))
                self._commit(_Pose(sized, x, bottom, z, wall.yaw, corners, box, window.wall, t))
                return
        self._fail(item, "no window left to hang curtains at")

    # ----------------------------------------------------------------- overhead

    def _ceiling_object(self, item: _Item) -> None:
        w, h, d = item.size
        y = self.room.height - h
        if y < 2.0:
            self._fail(item, "the ceiling is too low to hang it")
            return
        spots = [
            (p.x, p.z)
            for p in self._placed("dining table", "table", "kitchen island", "coffee table")
        ]
        cx, cz = self.geo.centroid
        spots.append((cx, cz))
        x0, z0, x1, z1 = self.geo.box
        for fx in (0.25, 0.75):
            for fz in (0.25, 0.75):
                spots.append((x0 + (x1 - x0) * fx, z0 + (z1 - z0) * fz))
        for x, z in spots:
            corners = _corners(x, z, w, d, 0.0)
            box = _bounds(corners)
            if not self.geo.contains(corners, box):
                continue
            if any(_overlap(corners, box, p.corners, p.box, 0.2) for p in self.ceiling):
                continue
            self._commit(_Pose(item, x, y, z, 0.0, corners, box))
            return
        self._fail(item, "no free ceiling space")


# --------------------------------------------------------------------------- solving


def _arrange(
    spec: RoomSpec,
    items: list[_Item],
    width: float,
    depth: float,
    height: float,
    seed: int,
    attempt: int,
) -> _Result:
    rng = random.Random(seed * 7919 + attempt)
    doors, windows = _openings(spec, width, depth, height, rng)
    template = catalog.ROOM_TEMPLATES[spec.room_type]
    room = Room(
        type=spec.room_type,
        polygon=rectangle(width, depth),
        height=height,
        doors=doors,
        windows=windows,
        floor_material=spec.floor_material or template.floor_material,
        wall_material=spec.wall_material or template.wall_material,
    )
    arranger = _Arranger(room, items, rng)
    arranger.run()
    return _Result(room, arranger.poses, arranger.unplaced)


def _layout(result: _Result) -> Layout:
    poses = sorted(result.poses, key=lambda p: p.item.order)
    counters: dict[str, int] = {}
    renamed: dict[str, str] = {}
    for pose in poses:
        stem = catalog.slug(pose.item.category)
        counters[stem] = counters.get(stem, 0) + 1
        renamed[pose.item.key] = f"{stem}-{counters[stem]}"
    objects = []
    for pose in poses:
        item = pose.item
        objects.append(
            PlacedObject(
                id=renamed[item.key],
                category=item.category,
                description=item.description,
                size=(round(item.size[0], 4), round(item.size[1], 4), round(item.size[2], 4)),
                position=(round(pose.x, 4), round(pose.y, 4), round(pose.z, 4)),
                rotation=round(pose.rot, 4) % 360.0,
                placement=item.placement,
                parent=renamed.get(pose.parent) if pose.parent else None,
                material=item.material or None,
                color=item.color or None,
            )
        )
    unplaced = [
        Unplaced(category=item.category, description=item.description, reason=reason)
        for item, reason in sorted(result.unplaced, key=lambda u: u[0].order)
    ]
    return Layout(room=result.room, objects=objects, unplaced=unplaced)


def solve(spec: RoomSpec, seed: int = 0) -> Layout:
    """Lay out ``spec``'s room and objects; the same spec and seed give the same layout."""
    items = _items(spec)
    width, depth, height = _room_dimensions(spec, items)
    best: _Result | None = None
    for attempt in range(MAX_ATTEMPTS):
        result = _arrange(spec, items, width, depth, height, seed, attempt)
        if best is None or len(result.unplaced) < len(best.unplaced):
            best = result
        if not result.unplaced:
            break
        if spec.fixed_size:
            if attempt >= 1:
                break
        else:
            width, depth = round(width * GROWTH, 2), round(depth * GROWTH, 2)
    assert best is not None
    return _layout(best)
