"""An independent check of a finished layout.

Everything here is computed from the :class:`~shared.layout.Layout` alone, with its own
geometry (no code shared with the solver), so the tests and the benchmark can hold the
solver to account:

- overlaps: two objects whose boxes (footprint turned by the yaw, from ``position.y``
  up by ``size.y``) share volume, except a flat floor covering (a rug) and what stands
  on it, a cloth on a table (a runner, a placemat) and what stands on the same table, a
  book on a board inside the bookcase holding it, and a low object tucked under a table
  it fits beneath;
- out of bounds: a footprint leaving the room polygon (an L's inner corner included)
  or an object piercing the ceiling;
- blocked doors: furniture in the 1 m box in front of a door;
- blocked windows: furniture taller than the sill standing against a window;
- covered openings: wall objects over a door or window (curtains excepted);
- floating objects: surface objects not resting on their parent's top;
- reachability: a person 0.4 m wide walking on a 5 cm grid from the door must reach
  the front of every floor object (any side of a seat, a bed or a table).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from shared import catalog
from shared.layout import Layout, Opening, PlacedObject, Vec2

TOLERANCE = 1e-4  # metres of interpenetration ignored as rounding
FLAT = 0.05
CLOTH = 0.01  # a surface object this thin lies flat under what stands on its support
PERSON = 0.2  # a person's radius
REACH = 0.35  # how far from an object a person may use it
CELL = 0.05
DOOR_DEPTH = 1.0
WINDOW_DEPTH = 0.3


@dataclass
class Report:
    overlaps: list[tuple[str, str]] = field(default_factory=list)
    out_of_bounds: list[str] = field(default_factory=list)
    blocked_doors: list[str] = field(default_factory=list)
    blocked_windows: list[str] = field(default_factory=list)
    covered_openings: list[str] = field(default_factory=list)
    floating: list[str] = field(default_factory=list)
    reachable: list[str] = field(default_factory=list)
    unreachable: list[str] = field(default_factory=list)

    @property
    def floor_objects(self) -> int:
        return len(self.reachable) + len(self.unreachable)

    @property
    def reachable_share(self) -> float:
        return 1.0 if not self.floor_objects else len(self.reachable) / self.floor_objects

    @property
    def valid(self) -> bool:
        return not (
            self.overlaps
            or self.out_of_bounds
            or self.blocked_doors
            or self.blocked_windows
            or self.covered_openings
            or self.floating
        )


def check(layout: Layout) -> Report:
    """Every check at once."""
    reachable, unreachable = reachability(layout)
    return Report(
        overlaps=overlaps(layout),
        out_of_bounds=out_of_bounds(layout),
        blocked_doors=blocked_doors(layout),
        blocked_windows=blocked_windows(layout),
        covered_openings=covered_openings(layout),
        floating=floating(layout),
        reachable=reachable,
        unreachable=unreachable,
    )


# --------------------------------------------------------------------------- plane geometry


def _quad(obj: PlacedObject) -> list[Vec2]:
    return [(float(x), float(z)) for x, z in obj.footprint()]


def _penetration(a: list[Vec2], b: list[Vec2]) -> float:
    """How deep two convex quads overlap: the smallest overlap of their projections on
    the edge normals (negative when they are apart)."""
    depth = math.inf
    for quad in (a, b):
        for k in range(len(quad)):
            (x1, z1), (x2, z2) = quad[k], quad[(k + 1) % len(quad)]
            nx, nz = z2 - z1, x1 - x2
            length = math.hypot(nx, nz)
            if length < 1e-12:
                continue
            nx, nz = nx / length, nz / length
            pa = [x * nx + z * nz for x, z in a]
            pb = [x * nx + z * nz for x, z in b]
            depth = min(depth, min(max(pa), max(pb)) - max(min(pa), min(pb)))
    return depth


def _inside_polygon(x: float, z: float, polygon: list[Vec2]) -> bool:
    inside = False
    n = len(polygon)
    for i in range(n):
        x1, z1 = polygon[i]
        x2, z2 = polygon[(i + 1) % n]
        if (z1 > z) != (z2 > z) and x < x1 + (z - z1) * (x2 - x1) / (z2 - z1):
            inside = not inside
    return inside


def _segment_distance(px: float, pz: float, a: Vec2, b: Vec2) -> float:
    vx, vz = b[0] - a[0], b[1] - a[1]
    length2 = vx * vx + vz * vz
    t = 0.0 if length2 == 0 else max(0.0, min(1.0, ((px - a[0]) * vx + (pz - a[1]) * vz) / length2))
    return math.hypot(px - a[0] - t * vx, pz - a[1] - t * vz)


def _local(obj: PlacedObject, x: float, z: float) -> tuple[float, float]:
    """A point in the object's own frame (x to its side, z to its front)."""
    yaw = math.radians(obj.rotation)
    dx, dz = x - obj.position[0], z - obj.position[2]
    return dx * math.cos(yaw) - dz * math.sin(yaw), dx * math.sin(yaw) + dz * math.cos(yaw)


def _distance_to(obj: PlacedObject, x: float, z: float) -> float:
    lx, lz = _local(obj, x, z)
    ex = max(abs(lx) - obj.size[0] / 2, 0.0)
    ez = max(abs(lz) - obj.size[2] / 2, 0.0)
    return math.hypot(ex, ez)


def _opening_box(room_polygon: list[Vec2], opening: Opening, depth: float) -> list[Vec2]:
    a = room_polygon[opening.wall % len(room_polygon)]
    b = room_polygon[(opening.wall + 1) % len(room_polygon)]
    length = math.dist(a, b)
    ux, uz = (b[0] - a[0]) / length, (b[1] - a[1]) / length
    nx, nz = uz, -ux
    out = []
    for along, into in ((-1, 0.0), (1, 0.0), (1, depth), (-1, depth)):
        t = opening.offset + along * opening.width / 2
        out.append((a[0] + ux * t + nx * into, a[1] + uz * t + nz * into))
    return out


# --------------------------------------------------------------------------- the checks


def _flat(obj: PlacedObject) -> bool:
    return obj.placement == "floor" and obj.size[1] <= FLAT


def _cloth(obj: PlacedObject) -> bool:
    return obj.placement == "surface" and obj.size[1] <= CLOTH


def _tucked_under(low: PlacedObject, table: PlacedObject) -> bool:
    """A low object wholly beneath a table (on legs) whose top is above it."""
    entry = catalog.lookup(table.category)
    if entry is None or not entry.open_below or low.placement != "floor":
        return False
    if low.position[1] + low.size[1] > table.position[1] + table.size[1] - 0.05:
        return False
    return all(
        abs(lx) <= table.size[0] / 2 + 1e-6 and abs(lz) <= table.size[2] / 2 + 1e-6
        for lx, lz in (_local(table, x, z) for x, z in _quad(low))
    )


def _boards(unit: PlacedObject) -> list[float]:
    """Heights (above the floor) a thing may stand at on or in ``unit``: its top, and
    the boards inside a shelving unit as the catalog places them."""
    entry = catalog.lookup(unit.category)
    base, top = unit.position[1], unit.position[1] + unit.size[1]
    inside = [base + h for h in catalog.board_heights(entry, unit.size[1])] if entry else []
    return [*inside, top]


def _shelved_in(item: PlacedObject, unit: PlacedObject) -> bool:
    """A thing standing on a board inside the shelving unit it names as its parent, below
    the next board up."""
    if item.parent != unit.id:
        return False
    levels = _boards(unit)
    for k, level in enumerate(levels[:-1]):
        if abs(item.position[1] - level) <= 1e-3:
            return item.position[1] + item.size[1] <= levels[k + 1] + 1e-6
    return False


def overlaps(layout: Layout) -> list[tuple[str, str]]:
    """Pairs of objects that share volume."""
    found = []
    objs = layout.objects
    quads = [_quad(o) for o in objs]
    for i, a in enumerate(objs):
        for j in range(i + 1, len(objs)):
            b = objs[j]
            if _flat(a) != _flat(b):
                continue  # a rug and what stands on it
            if a.parent is not None and a.parent == b.parent and _cloth(a) != _cloth(b):
                continue  # a runner and the plates on the same table
            a0, a1 = a.position[1], a.position[1] + a.size[1]
            b0, b1 = b.position[1], b.position[1] + b.size[1]
            if min(a1, b1) - max(a0, b0) <= TOLERANCE:
                continue
            if _tucked_under(a, b) or _tucked_under(b, a):
                continue
            if _shelved_in(a, b) or _shelved_in(b, a):
                continue
            if _penetration(quads[i], quads[j]) > TOLERANCE:
                found.append((a.id, b.id))
    return found


def out_of_bounds(layout: Layout) -> list[str]:
    """Objects whose footprint leaves the room, or which pierce the floor or ceiling."""
    polygon = [(float(x), float(z)) for x, z in layout.room.polygon]
    bad = []
    for obj in layout.objects:
        quad = _quad(obj)
        ok = obj.position[1] >= -TOLERANCE
        ok = ok and obj.position[1] + obj.size[1] <= layout.room.height + TOLERANCE
        for x, z in quad:
            if not ok:
                break
            if _inside_polygon(x, z, polygon):
                continue
            # On the wall itself counts as inside.
            ok = any(
                _segment_distance(x, z, polygon[k], polygon[(k + 1) % len(polygon)]) <= TOLERANCE
                for k in range(len(polygon))
            )
        if ok:
            # No corner of the room may poke into the footprint (the inner corner of
            # an L), and no wall may cut across it.
            for px, pz in polygon:
                lx, lz = _local(obj, px, pz)
                if abs(lx) < obj.size[0] / 2 - TOLERANCE and abs(lz) < obj.size[2] / 2 - TOLERANCE:
                    ok = False
                    break
        if ok:
            for k in range(len(polygon)):
                a, b = polygon[k], polygon[(k + 1) % len(polygon)]
                if _crosses(quad, a, b):
                    ok = False
                    break
        if not ok:
            bad.append(obj.id)
    return bad


def _crosses(quad: list[Vec2], a: Vec2, b: Vec2) -> bool:
    def orient(p: Vec2, q: Vec2, r: Vec2) -> float:
        return (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])

    for k in range(4):
        p, q = quad[k], quad[(k + 1) % 4]
        d1, d2 = orient(a, b, p), orient(a, b, q)
        d3, d4 = orient(p, q, a), orient(p, q, b)
        if d1 * d2 < -1e-12 and d3 * d4 < -1e-12:
            return True
    return False


def blocked_doors(layout: Layout) -> list[str]:
    """Furniture standing in the 1 m deep box in front of a door."""
    polygon = list(layout.room.polygon)
    zones = [_opening_box(polygon, door, DOOR_DEPTH) for door in layout.room.doors]
    bad = []
    for obj in layout.objects:
        if obj.placement != "floor" or _flat(obj):
            continue
        if any(_penetration(_quad(obj), zone) > TOLERANCE for zone in zones):
            bad.append(obj.id)
    return bad


def blocked_windows(layout: Layout) -> list[str]:
    """Floor furniture taller than a window's sill standing right against it."""
    polygon = list(layout.room.polygon)
    bad = []
    for obj in layout.objects:
        if obj.placement != "floor" or _flat(obj):
            continue
        for window in layout.room.windows:
            if obj.size[1] <= window.sill + 0.02:
                continue
            if _penetration(_quad(obj), _opening_box(polygon, window, WINDOW_DEPTH)) > TOLERANCE:
                bad.append(obj.id)
                break
    return bad


def covered_openings(layout: Layout) -> list[str]:
    """Wall objects hanging over a door or a window (curtains may cover their window)."""
    polygon = list(layout.room.polygon)
    bad = []
    openings = [(d, False) for d in layout.room.doors]
    openings += [(w, True) for w in layout.room.windows]
    for obj in layout.objects:
        if obj.placement != "wall":
            continue
        for opening, window in openings:
            if window and obj.category == "curtains":
                continue
            if _penetration(_quad(obj), _opening_box(polygon, opening, 0.5)) > TOLERANCE:
                bad.append(obj.id)
                break
    return bad


def floating(layout: Layout) -> list[str]:
    """Surface objects not resting on their parent's top, within its footprint."""
    by_id = {o.id: o for o in layout.objects}
    bad = []
    for obj in layout.objects:
        if obj.placement != "surface":
            continue
        parent = by_id.get(obj.parent or "")
        if parent is None:
            bad.append(obj.id)
            continue
        resting = any(abs(obj.position[1] - level) <= 1e-3 for level in _boards(parent))
        within = all(
            abs(lx) <= parent.size[0] / 2 + 1e-3 and abs(lz) <= parent.size[2] / 2 + 1e-3
            for lx, lz in (_local(parent, x, z) for x, z in _quad(obj))
        )
        if not (resting and within):
            bad.append(obj.id)
    return bad


# --------------------------------------------------------------------------- walking


def reachability(layout: Layout) -> tuple[list[str], list[str]]:
    """(reachable, unreachable) floor objects for a person entering by a door.

    Rugs are walked on and objects tucked under a table go with the table; they are
    not counted. A room without a door counts every object as reachable."""
    room = layout.room
    polygon = [(float(x), float(z)) for x, z in room.polygon]
    floor = [o for o in layout.objects if o.placement == "floor" and not _flat(o)]
    counted = [o for o in floor if not any(_tucked_under(o, t) for t in floor if t is not o)]
    if not room.doors:
        return [o.id for o in counted], []
    xs = [p[0] for p in polygon]
    zs = [p[1] for p in polygon]
    x0, z0 = min(xs), min(zs)
    nx = math.ceil((max(xs) - x0) / CELL)
    nz = math.ceil((max(zs) - z0) / CELL)

    def centre(i: int, j: int) -> Vec2:
        return x0 + (j + 0.5) * CELL, z0 + (i + 0.5) * CELL

    walls = [(polygon[k], polygon[(k + 1) % len(polygon)]) for k in range(len(polygon))]
    free = [[False] * nx for _ in range(nz)]
    for i in range(nz):
        for j in range(nx):
            x, z = centre(i, j)
            if not _inside_polygon(x, z, polygon):
                continue
            if any(_segment_distance(x, z, a, b) < PERSON for a, b in walls):
                continue
            free[i][j] = True
    for obj in floor:
        reach = math.hypot(obj.size[0], obj.size[2]) / 2 + PERSON
        i0, i1 = _span(obj.position[2] - reach, obj.position[2] + reach, z0, nz)
        j0, j1 = _span(obj.position[0] - reach, obj.position[0] + reach, x0, nx)
        for i in range(i0, i1):
            row = free[i]
            for j in range(j0, j1):
                if row[j] and _distance_to(obj, *centre(i, j)) < PERSON:
                    row[j] = False
    seen = [[False] * nx for _ in range(nz)]
    queue: deque[tuple[int, int]] = deque()
    for door in room.doors:
        a, b = walls[door.wall % len(walls)]
        length = math.dist(a, b)
        ux, uz = (b[0] - a[0]) / length, (b[1] - a[1]) / length
        sx = a[0] + ux * door.offset + uz * 0.3
        sz = a[1] + uz * door.offset - ux * 0.3
        for i in range(nz):
            for j in range(nx):
                x, z = centre(i, j)
                if free[i][j] and math.hypot(x - sx, z - sz) <= 0.15 and not seen[i][j]:
                    seen[i][j] = True
                    queue.append((i, j))
    while queue:
        i, j = queue.popleft()
        for di, dj in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            a2, b2 = i + di, j + dj
            if 0 <= a2 < nz and 0 <= b2 < nx and free[a2][b2] and not seen[a2][b2]:
                seen[a2][b2] = True
                queue.append((a2, b2))
    reachable: list[str] = []
    unreachable: list[str] = []
    for obj in counted:
        entry = catalog.lookup(obj.category)
        any_side = entry is None or entry.reach() != "front"
        limit = math.hypot(obj.size[0], obj.size[2]) / 2 + PERSON + REACH
        i0, i1 = _span(obj.position[2] - limit, obj.position[2] + limit, z0, nz)
        j0, j1 = _span(obj.position[0] - limit, obj.position[0] + limit, x0, nx)
        ok = False
        for i in range(i0, i1):
            for j in range(j0, j1):
                if not seen[i][j]:
                    continue
                x, z = centre(i, j)
                if _distance_to(obj, x, z) > PERSON + REACH:
                    continue
                if any_side or _local(obj, x, z)[1] >= obj.size[2] / 2:
                    ok = True
                    break
            if ok:
                break
        (reachable if ok else unreachable).append(obj.id)
    return reachable, unreachable


def _span(lo: float, hi: float, origin: float, count: int) -> tuple[int, int]:
    return max(0, int((lo - origin) / CELL)), min(count, int((hi - origin) / CELL) + 2)
