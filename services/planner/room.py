"""The room shell: its floor polygon, height, doors and windows.

The spec may fix the floor (a polygon, or a size with an optional L shape) or leave
it to the solver, which starts from the room type's usual size, scaled by the spec and
grown until the furniture covers no more than a comfortable share of the floor. Doors
and windows the spec leaves open are chosen from the seed.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

from services.planner import geometry
from services.planner.rules import Shape, Wall
from services.planner.spec import OpeningSpec, SceneSpec
from shared import catalog
from shared.errors import BadInput
from shared.layout import Opening, Vec2, rectangle

FILL = 0.3  # share of the floor the furniture may cover in a room the solver sizes
WALL_FILL = 0.5  # share of the walls the furniture against them may take
L_NOTCH = 0.45  # the part of each side an L-shaped room's notch takes
DOOR_WIDTH = 0.9
DOOR_HEIGHT = 2.1
DOOR_CLEAR = 1.0  # depth of the keep-out box in front of a door
WALL_END = 0.15  # no opening closer than this to a corner


def room_type(spec: SceneSpec) -> str:
    """The room's name in the layout: the spec's (any name), else the default room."""
    return spec.room.type or catalog.default_room()


def walls(polygon: Sequence[Vec2]) -> list[Wall]:
    out = []
    n = len(polygon)
    for i in range(n):
        a, b = polygon[i], polygon[(i + 1) % n]
        length = math.hypot(b[0] - a[0], b[1] - a[1])
        u = ((b[0] - a[0]) / length, (b[1] - a[1]) / length)
        out.append(Wall(i, a, b, length, u, (u[1], -u[0])))
    return out


def floor_size(
    spec: SceneSpec, footprint: float, longest: float, l_shape: bool, wall_run: float = 0.0
) -> tuple[float, float]:
    """Width and depth of a room the spec does not fix: the type's usual size times the
    spec's scale, grown so the furniture covers at most ``FILL`` of the floor and the
    objects that stand against a wall (``wall_run`` metres of them side by side) take
    at most ``WALL_FILL`` of the walls."""
    template = catalog.room_template(room_type(spec))
    scale = spec.room.scale or 1.0
    width, depth = template.size[0] * scale, template.size[1] * scale
    usable = 1.0 - (L_NOTCH * L_NOTCH if l_shape else 0.0)
    area = width * depth * usable
    if footprint > FILL * area:
        k = math.sqrt(footprint / (FILL * area))
        width, depth = width * k, depth * k
    perimeter = 2 * (width + depth)
    if wall_run > WALL_FILL * perimeter:
        k = wall_run / (WALL_FILL * perimeter)
        width, depth = width * k, depth * k
    least = longest + 1.0
    if l_shape:
        least /= 1.0 - L_NOTCH
    width, depth = max(width, least, 1.8), max(depth, least, 1.8)
    return round(width, 2), round(depth, 2)


def l_polygon(width: float, depth: float, corner: int) -> list[Vec2]:
    """A width × depth rectangle with a notch cut out of one corner (0–3)."""
    nw, nd = round(width * L_NOTCH, 3), round(depth * L_NOTCH, 3)
    w, d = width, depth
    shapes = {
        0: [(0.0, nd), (0.0, d), (w, d), (w, 0.0), (nw, 0.0), (nw, nd)],
        1: [(0.0, 0.0), (0.0, d - nd), (nw, d - nd), (nw, d), (w, d), (w, 0.0)],
        2: [(0.0, 0.0), (0.0, d), (w - nw, d), (w - nw, d - nd), (w, d - nd), (w, 0.0)],
        3: [(0.0, 0.0), (0.0, d), (w, d), (w, nd), (w - nw, nd), (w - nw, 0.0)],
    }
    return shapes[corner % 4]


def polygon(spec: SceneSpec, width: float, depth: float, rng: random.Random) -> list[Vec2]:
    if spec.room.polygon is not None:
        return [(p.x, p.z) for p in spec.room.polygon]
    if spec.room.shape == "l_shape":
        return l_polygon(width, depth, rng.randrange(4))
    return rectangle(width, depth)


def scaled(points: Sequence[Vec2], k: float) -> list[Vec2]:
    return [(round(x * k, 4), round(z * k, 4)) for x, z in points]


# --------------------------------------------------------------------------- openings


def openings(
    spec: SceneSpec, points: Sequence[Vec2], height: float, rng: random.Random
) -> tuple[list[Opening], list[Opening]]:
    """The doors and windows: the spec's, with whatever it leaves open chosen here."""
    sides = walls(points)
    kind = room_type(spec)
    doors: list[Opening] = []
    if spec.room.doors is None:
        wanted: list[OpeningSpec] = [OpeningSpec()]
    else:
        wanted = list(spec.room.doors)
    for k, door in enumerate(wanted):
        doors.append(_door(door, k, sides, height, doors, rng))
    windows: list[Opening] = []
    if spec.room.windows is None:
        taken = {d.wall for d in doors}
        area = geometry.signed_area(points)
        count = 1 if kind == "bathroom" or area < 12 else 2
        candidates = [w for w in sides if w.index not in taken and w.length >= 1.3]
        candidates.sort(key=lambda w: (-w.length, w.index))
        if candidates:
            first = candidates[0] if rng.random() < 0.6 else rng.choice(candidates)
            chosen = [first, *(w for w in candidates if w is not first)][:count]
            for wall in chosen:
                windows.append(_new_window(wall, kind, height, rng))
    else:
        for k, window in enumerate(spec.room.windows):
            windows.append(_window(window, k, sides, height, kind, doors, windows, rng))
    return doors, windows


def _door(
    spec: OpeningSpec,
    k: int,
    sides: list[Wall],
    height: float,
    placed: list[Opening],
    rng: random.Random,
) -> Opening:
    field = f"room.doors[{k}]"
    width = spec.width or DOOR_WIDTH
    tall = spec.height or min(DOOR_HEIGHT, height - 0.1)
    if tall > height - 0.02:
        raise BadInput(f"{field}.height: {tall:.2f} m is taller than the room ({height:.2f} m)")
    if spec.wall is None:
        used = {o.wall for o in placed}
        fitting = [w for w in sides if w.length >= width + 2 * WALL_END and w.index not in used]
        fitting = fitting or [w for w in sides if w.length >= width + 2 * WALL_END]
        if not fitting:
            raise BadInput(f"{field}.width: no wall is long enough for a {width:.2f} m door")
        wall = rng.choice(fitting)
    else:
        wall = sides[spec.wall]
    if spec.offset is None:
        end = WALL_END + width / 2
        choice = rng.random()
        if choice < 0.4:
            offset = end + rng.uniform(0.0, 0.3)
        elif choice < 0.8:
            offset = wall.length - end - rng.uniform(0.0, 0.3)
        else:
            offset = wall.length / 2
        offset = min(max(offset, end), wall.length - end)
    else:
        offset = spec.offset
    _fits(field, "door", wall, offset, width, placed)
    return Opening(
        wall=wall.index, offset=round(offset, 3), width=width, height=round(tall, 3), sill=0.0
    )


def _new_window(wall: Wall, kind: str, height: float, rng: random.Random) -> Opening:
    bathroom = kind == "bathroom"
    width = min(0.8 if bathroom else 1.4, round(wall.length * 0.45, 2))
    sill = 1.4 if bathroom else 0.9
    tall = max(0.5, min(0.7 if bathroom else 1.3, height - sill - 0.3))
    jitter = rng.uniform(-0.12, 0.12) * wall.length
    low, high = width / 2 + 0.3, wall.length - width / 2 - 0.3
    offset = min(max(wall.length / 2 + jitter, low), high) if high > low else wall.length / 2
    return Opening(
        wall=wall.index, offset=round(offset, 3), width=width, height=round(tall, 2), sill=sill
    )


def _window(
    spec: OpeningSpec,
    k: int,
    sides: list[Wall],
    height: float,
    kind: str,
    doors: list[Opening],
    placed: list[Opening],
    rng: random.Random,
) -> Opening:
    field = f"room.windows[{k}]"
    if spec.wall is None:
        used = {o.wall for o in (*doors, *placed)}
        free = [w for w in sides if w.index not in used and w.length >= 1.0]
        free = free or [w for w in sides if w.length >= 1.0]
        if not free:
            raise BadInput(f"{field}: no wall is long enough for a window")
        wall = max(free, key=lambda w: (w.length, -w.index))
    else:
        wall = sides[spec.wall]
    default = _new_window(wall, kind, height, rng)
    width = spec.width or default.width
    sill = spec.sill if spec.sill is not None else default.sill
    tall = spec.height or default.height
    if sill + tall > height - 0.02:
        raise BadInput(f"{field}.height: the window reaches above the ceiling ({height:.2f} m)")
    offset = spec.offset if spec.offset is not None else wall.length / 2
    _fits(field, "window", wall, offset, width, [*doors, *placed])
    return Opening(wall=wall.index, offset=round(offset, 3), width=width, height=tall, sill=sill)


def _fits(
    field: str, what: str, wall: Wall, offset: float, width: float, others: list[Opening]
) -> None:
    if offset - width / 2 < 0.0 or offset + width / 2 > wall.length:
        raise BadInput(
            f"{field}.offset: a {width:.2f} m {what} centred at {offset:.2f} m does not fit "
            f"on wall {wall.index} ({wall.length:.2f} m long)"
        )
    for other in others:
        if other.wall == wall.index and abs(other.offset - offset) < (other.width + width) / 2:
            raise BadInput(f"{field}.offset: the {what} overlaps another opening")


def door_zone(door: Opening, wall: Wall, margin: float = 0.05) -> Shape:
    """The keep-out box in front of a door: its width, ``DOOR_CLEAR`` deep."""
    x, z = wall.at(door.offset, DOOR_CLEAR / 2)
    return Shape(x, z, wall.yaw, door.width + 2 * margin, DOOR_CLEAR)


def opening_box(opening: Opening, wall: Wall, depth: float = 0.5) -> Shape:
    """The strip in front of an opening, a little wider than it: tall furniture keeps
    out of it in front of a window, wall objects in front of any opening."""
    x, z = wall.at(opening.offset, depth / 2)
    return Shape(x, z, wall.yaw, opening.width + 0.1, depth, y=opening.sill)


def opening_shape(opening: Opening, wall: Wall) -> Shape:
    """An opening as a thin box on the wall, for rules like "near the window"."""
    x, z = wall.at(opening.offset, 0.01)
    return Shape(x, z, wall.yaw, opening.width, 0.02, opening.sill, opening.height)


def entry_point(door: Opening, wall: Wall) -> Vec2:
    """Where a person stands just inside a door."""
    return wall.at(door.offset, 0.35)
