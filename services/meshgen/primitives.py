"""Primitives that parametric shapes are drawn with, and the mesh they add up to.

Every object is drawn in its own frame: +Y up, the centre of the bottom face at the
origin, the front facing +Z. A shape is a handful of parts (boxes, cylinders,
ellipsoids, surfaces of revolution, rods between two points, extruded outlines)
collected in a :class:`Parts`; ``Parts.build`` concatenates them and scales the result
per axis so its bounding box equals the requested size exactly. Shapes lay their parts
out to fill the size already, so that last scaling is close to 1 and round parts stay
round.

Texture coordinates come from an object-level box projection: faces looking along ±Z
see the image as if projected onto the front, faces along ±X onto the sides and faces
along ±Y from above, so an image of the object lands on its front. Parts drawn inside
``with p.accent(name):`` wear a plain material of :data:`ACCENTS` instead (a pool table's
pockets, a screen, piano keys, glass), so a thing reads as itself whatever its image.
"""

from __future__ import annotations

import contextlib
import itertools
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import trimesh

Size = tuple[float, float, float]
Vec3 = tuple[float, float, float]
Vec2 = tuple[float, float]
Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Axes = npt.NDArray[np.int8]

MAX_TRIANGLES = 5000

_AXIS = {"x": 0, "y": 1, "z": 2}
# Smallest extent of a part, so degenerate requests still give a closed solid.
_MIN_EXTENT = 1e-5


# --------------------------------------------------------------------------------------
# Unit primitives, built once with trimesh.creation and frozen.


@dataclass(frozen=True)
class _Template:
    """A unit primitive: vertices, faces and, per vertex, a tag used for projection.

    For the box ``tag`` is the axis of the face normal (0, 1, 2); for the cylinder it is 1
    on the caps and 0 on the side; for the sphere it is unused. ``top`` marks the
    cylinder's +Y end, which a taper scales.
    """

    vertices: Floats
    faces: Ints
    tag: Axes
    normal: Floats
    top: npt.NDArray[np.bool_]


def _freeze(*arrays: np.ndarray) -> None:
    for array in arrays:
        array.setflags(write=False)


def _split_by_group(
    vertices: Floats, faces: Ints, face_group: npt.NDArray[np.int64]
) -> tuple[Floats, Ints, npt.NDArray[np.int64]]:
    """Give each face group its own vertices, so groups meet at hard edges."""
    out_vertices: list[Floats] = []
    out_faces: list[Ints] = []
    out_group: list[npt.NDArray[np.int64]] = []
    offset = 0
    for group in np.unique(face_group):
        group_faces = faces[face_group == group]
        used, inverse = np.unique(group_faces.ravel(), return_inverse=True)
        out_vertices.append(vertices[used])
        out_faces.append(inverse.reshape(-1, 3) + offset)
        out_group.append(np.full(len(used), group, dtype=np.int64))
        offset += len(used)
    return np.concatenate(out_vertices), np.concatenate(out_faces), np.concatenate(out_group)


def _box_template() -> _Template:
    mesh = trimesh.creation.box(extents=(1.0, 1.0, 1.0))
    normals = np.asarray(mesh.face_normals)
    axis = np.argmax(np.abs(normals), axis=1)
    sign = np.sign(normals[np.arange(len(normals)), axis]).astype(np.int64)
    group = axis * 2 + (sign > 0)
    vertices, faces, vertex_group = _split_by_group(
        np.asarray(mesh.vertices, dtype=np.float64), np.asarray(mesh.faces, dtype=np.int64), group
    )
    tag = (vertex_group // 2).astype(np.int8)
    normal = np.zeros((len(vertices), 3))
    normal[np.arange(len(vertices)), tag] = np.where(vertex_group % 2 == 1, 1.0, -1.0)
    top = vertices[:, 1] > 0
    _freeze(vertices, faces, tag, normal, top)
    return _Template(vertices, faces, tag, normal, top)


def _cylinder_template(sections: int) -> _Template:
    """A cylinder of radius 1 and height 1 along +Y, centred on the origin."""
    mesh = trimesh.creation.cylinder(radius=1.0, height=1.0, sections=sections)
    # trimesh builds it along Z: turn Z into Y with a proper rotation, (x, y, z) → (x, z, -y).
    raw = np.asarray(mesh.vertices, dtype=np.float64)
    turned = np.column_stack((raw[:, 0], raw[:, 2], -raw[:, 1]))
    faces = np.asarray(mesh.faces, dtype=np.int64)
    corners = turned[faces]
    normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    group = np.where(normals[:, 1] > 0.9, 1, np.where(normals[:, 1] < -0.9, 2, 0))
    vertices, faces, vertex_group = _split_by_group(turned, faces, group.astype(np.int64))
    tag = (vertex_group > 0).astype(np.int8)
    top = vertices[:, 1] > 0
    normal = np.zeros((len(vertices), 3))
    _freeze(vertices, faces, tag, normal, top)
    return _Template(vertices, faces, tag, normal, top)


def _sphere_template(subdivisions: int) -> _Template:
    mesh = trimesh.creation.icosphere(subdivisions=subdivisions, radius=1.0)
    vertices = np.array(mesh.vertices, dtype=np.float64)
    faces = np.array(mesh.faces, dtype=np.int64)
    tag = np.zeros(len(vertices), dtype=np.int8)
    normal = np.zeros((len(vertices), 3))
    top = vertices[:, 1] > 0
    _freeze(vertices, faces, tag, normal, top)
    return _Template(vertices, faces, tag, normal, top)


_BOX = _box_template()
_CYLINDERS = {n: _cylinder_template(n) for n in (6, 8, 12, 16)}
_SPHERES = {n: _sphere_template(n) for n in (1, 2)}


def _rotation(axis: str, degrees: float) -> Floats:
    """Right-handed rotation matrix about a coordinate axis."""
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    if axis == "x":
        return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])
    if axis == "y":
        return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


# --------------------------------------------------------------------------------------
# Collecting parts.


@dataclass(frozen=True)
class Accent:
    """A plain material some parts wear instead of the object's image: the felt of a
    pool table, a screen, piano keys, glass. ``color`` is sRGB with alpha."""

    color: tuple[int, int, int, int]
    metallic: float = 0.0
    roughness: float = 0.6
    emissive: tuple[float, float, float] = (0.0, 0.0, 0.0)  # linear RGB it glows with


ACCENTS: dict[str, Accent] = {
    "felt": Accent((38, 112, 62, 255), roughness=0.95),
    "screen": Accent((14, 16, 20, 255), roughness=0.15),
    "black": Accent((24, 24, 26, 255), roughness=0.5),
    "white": Accent((240, 238, 232, 255), roughness=0.4),
    "metal": Accent((190, 192, 196, 255), metallic=1.0, roughness=0.3),
    "brass": Accent((196, 160, 80, 255), metallic=1.0, roughness=0.35),
    "glass": Accent((200, 226, 236, 90), roughness=0.05),
    "mirror": Accent((214, 222, 228, 255), metallic=1.0, roughness=0.05),
    "water": Accent((90, 150, 200, 130), roughness=0.1),
    # A lamp's shade or bulb glows as if switched on.
    "light": Accent((255, 244, 214, 255), roughness=0.9, emissive=(0.85, 0.78, 0.6)),
    "leaf": Accent((62, 124, 56, 255), roughness=0.8),
    "soil": Accent((70, 52, 38, 255), roughness=1.0),
    "red": Accent((196, 40, 44, 255), roughness=0.5),
    "yellow": Accent((236, 200, 60, 255), roughness=0.5),
    "pink": Accent((232, 130, 170, 255), roughness=0.6),
    "blue": Accent((50, 100, 190, 255), roughness=0.5),
    "cream": Accent((244, 232, 206, 255), roughness=0.7),
    "chalk": Accent((40, 64, 52, 255), roughness=0.95),
    "cork": Accent((186, 148, 100, 255), roughness=0.95),
    "rubber": Accent((36, 36, 38, 255), roughness=0.9),
    "terracotta": Accent((176, 92, 60, 255), roughness=0.85),
    "wood": Accent((120, 84, 54, 255), roughness=0.6),
}
ACCENT_NAMES: tuple[str, ...] = tuple(ACCENTS)


class Parts:
    """Parts of one object in its frame, concatenated into a single mesh at the end."""

    def __init__(self) -> None:
        self._vertices: list[Floats] = []
        self._faces: list[Ints] = []
        self._projection: list[Axes] = []
        self._labels: list[Ints] = []
        self._accent = -1
        self._offset = 0
        self.count = 0

    @contextlib.contextmanager
    def accent(self, name: str) -> Iterator[None]:
        """Parts added inside wear the plain material ``name`` of :data:`ACCENTS`."""
        previous = self._accent
        self._accent = ACCENT_NAMES.index(name)
        try:
            yield
        finally:
            self._accent = previous

    def _add(self, vertices: Floats, faces: Ints, projection: Axes) -> None:
        self._vertices.append(vertices)
        self._faces.append(faces + self._offset)
        self._projection.append(projection)
        self._labels.append(np.full(len(faces), self._accent, dtype=np.int64))
        self._offset += len(vertices)
        self.count += 1

    def face_accents(self) -> Ints:
        """Per face: its index into :data:`ACCENT_NAMES`, or -1 where it wears the image."""
        return np.concatenate(self._labels)

    def box(
        self,
        lo: Vec3,
        hi: Vec3,
        *,
        turn: tuple[str, float] | None = None,
        pivot: Vec3 | None = None,
    ) -> None:
        """An axis-aligned box from corner ``lo`` to ``hi``, optionally turned about a pivot."""
        low = np.asarray(lo, dtype=np.float64)
        high = np.asarray(hi, dtype=np.float64)
        extent = np.maximum(np.abs(high - low), _MIN_EXTENT)
        centre = (low + high) / 2.0
        vertices = _BOX.vertices * extent + centre
        projection = _BOX.tag
        if turn is not None:
            matrix = _rotation(*turn)
            origin = centre if pivot is None else np.asarray(pivot, dtype=np.float64)
            vertices = (vertices - origin) @ matrix.T + origin
            projection = np.argmax(np.abs(_BOX.normal @ matrix.T), axis=1).astype(np.int8)
        self._add(vertices, _BOX.faces, projection)

    def cylinder(
        self,
        centre: Vec3,
        length: float,
        r1: float,
        r2: float | None = None,
        *,
        axis: str = "y",
        taper: float = 1.0,
        sections: int = 16,
    ) -> None:
        """A cylinder along ``axis`` centred on ``centre``.

        ``r1`` and ``r2`` are the radii along the two other axes in x, y, z order (for a
        Y cylinder: x then z). ``taper`` scales the radii at the +axis end, making a
        frustum (a lamp shade, a flower pot).
        """
        template = _CYLINDERS[sections]
        radius2 = r1 if r2 is None else r2
        vertices = template.vertices.copy()
        if taper != 1.0:
            vertices[template.top, 0] *= taper
            vertices[template.top, 2] *= taper
        vertices *= (max(r1, _MIN_EXTENT), max(length, _MIN_EXTENT), max(radius2, _MIN_EXTENT))
        if axis == "x":
            vertices = np.column_stack((vertices[:, 1], -vertices[:, 0], vertices[:, 2]))
        elif axis == "z":
            vertices = np.column_stack((vertices[:, 0], -vertices[:, 2], vertices[:, 1]))
        vertices += centre
        along = _AXIS[axis]
        side = 2 if along != 2 else 1
        projection = np.where(template.tag == 1, along, side).astype(np.int8)
        self._add(vertices, template.faces, projection)

    def ellipsoid(self, centre: Vec3, radii: Vec3, *, detail: int = 1) -> None:
        template = _SPHERES[detail]
        scale = np.maximum(np.asarray(radii, dtype=np.float64), _MIN_EXTENT)
        vertices = template.vertices * scale + centre
        self._add(vertices, template.faces, np.full(len(vertices), 2, dtype=np.int8))

    def _add_oriented(
        self,
        vertices: Floats,
        faces: Ints,
        normals: Floats,
        *,
        turn: tuple[str, float] | None,
        pivot: Vec3 | None,
    ) -> None:
        """Add a part given with rough per-vertex normals, optionally turned about ``pivot``.

        The projection of each vertex follows the axis its normal mostly looks along.
        """
        if turn is not None:
            matrix = _rotation(*turn)
            origin = np.asarray(pivot if pivot is not None else (0.0, 0.0, 0.0), dtype=np.float64)
            vertices = (vertices - origin) @ matrix.T + origin
            normals = normals @ matrix.T
        projection = np.argmax(np.abs(normals), axis=1).astype(np.int8)
        self._add(vertices, faces, projection)

    def lathe(
        self,
        profile: Sequence[Vec2],
        centre: Vec3 = (0.0, 0.0, 0.0),
        *,
        scale: Vec2 = (1.0, 1.0),
        sections: int = 16,
        caps: bool = True,
        turn: tuple[str, float] | None = None,
        pivot: Vec3 | None = None,
    ) -> None:
        """A surface of revolution about a vertical axis through ``centre``.

        ``profile`` lists (radius, height) points from bottom to top; each segment becomes
        its own ring of quads (hard edges between segments). With ``caps`` a disc closes
        each end whose radius is not zero. ``scale`` stretches the radius along x and z,
        making oval plates and tubs.
        """
        points = np.asarray(profile, dtype=np.float64)
        if len(points) < 2:
            raise ValueError("a lathe profile needs at least two points")
        angles = np.linspace(0.0, 2.0 * math.pi, sections, endpoint=False)
        cos, sin = np.cos(angles) * scale[0], np.sin(angles) * scale[1]
        radial = (abs(scale[0]) + abs(scale[1])) / 2.0  # metres per unit of radius
        cx, cy, cz = centre
        vertices: list[Floats] = []
        normals: list[Floats] = []
        faces: list[Ints] = []
        offset = 0
        ring = np.arange(sections)
        following = (ring + 1) % sections
        for (r0, y0), (r1, y1) in itertools.pairwise(points):
            if abs(r0 - r1) < 1e-12 and abs(y0 - y1) < 1e-12:
                continue
            # Outward normal of the segment in the (r, y) plane.
            nr, ny = y1 - y0, -(r1 - r0) * radial
            length = math.hypot(nr, ny)
            nr, ny = nr / length, ny / length
            low = np.column_stack((cx + r0 * cos, np.full(sections, cy + y0), cz + r0 * sin))
            high = np.column_stack((cx + r1 * cos, np.full(sections, cy + y1), cz + r1 * sin))
            vertices += [low, high]
            # Like a cylinder's side, a wall of revolution sees the image from the front;
            # a nearly flat ring sees it from above.
            flat = abs(ny) > 0.7
            ring_normal = np.tile(
                (0.0, math.copysign(1.0, ny), 0.0) if flat else (0.0, 0.0, 1.0), (sections, 1)
            )
            normals += [ring_normal, ring_normal]
            a, b = ring + offset, following + offset
            c, e = following + offset + sections, ring + offset + sections
            faces.append(np.concatenate([np.column_stack((a, e, b)), np.column_stack((b, e, c))]))
            offset += 2 * sections
        if caps:
            for (radius, y), facing in ((points[0], -1.0), (points[-1], 1.0)):
                if radius <= 1e-9:
                    continue
                rim = np.column_stack(
                    (cx + radius * cos, np.full(sections, cy + y), cz + radius * sin)
                )
                hub = np.array([[cx, cy + y, cz]])
                vertices.append(np.concatenate([rim, hub]))
                normals.append(np.tile((0.0, facing, 0.0), (sections + 1, 1)))
                centre_index = offset + sections
                if facing > 0:
                    tris = np.column_stack(
                        (ring + offset, np.full(sections, centre_index), following + offset)
                    )
                else:
                    tris = np.column_stack(
                        (ring + offset, following + offset, np.full(sections, centre_index))
                    )
                faces.append(tris)
                offset += sections + 1
        if not faces:
            raise ValueError("a lathe profile must not be a single point")
        self._add_oriented(
            np.concatenate(vertices),
            np.concatenate(faces).astype(np.int64),
            np.concatenate(normals),
            turn=turn,
            pivot=pivot,
        )

    def torus(
        self,
        centre: Vec3,
        radius: float,
        tube: float,
        *,
        axis: str = "y",
        sections: int = 16,
        tube_sections: int = 6,
    ) -> None:
        """A ring of ``radius`` around ``axis`` with a round cross-section of radius ``tube``."""
        t = np.linspace(0.0, 2.0 * math.pi, tube_sections + 1)
        profile = [(radius + tube * math.cos(a), tube * math.sin(a)) for a in t]
        turn = None if axis == "y" else (("z", 90.0) if axis == "x" else ("x", 90.0))
        self.lathe(profile, centre, sections=sections, caps=False, turn=turn, pivot=centre)

    def rod(
        self, a: Vec3, b: Vec3, radius: float, *, sections: int = 8, r2: float | None = None
    ) -> None:
        """A round rod from point ``a`` to point ``b`` (radius ``r2`` at ``b`` if given)."""
        start = np.asarray(a, dtype=np.float64)
        direction = np.asarray(b, dtype=np.float64) - start
        length = float(np.linalg.norm(direction))
        if length < _MIN_EXTENT:
            direction, length = np.array([0.0, 1.0, 0.0]), _MIN_EXTENT
        axis = direction / length
        # Any two unit vectors perpendicular to the axis span the cross-section.
        helper = np.array([1.0, 0.0, 0.0]) if abs(axis[0]) < 0.9 else np.array([0.0, 0.0, 1.0])
        u = np.cross(axis, helper)
        u /= np.linalg.norm(u)
        v = np.cross(axis, u)
        template = _CYLINDERS[sections]
        local = template.vertices
        end_radius = radius if r2 is None else r2
        along = local[:, 1] + 0.5  # 0 at a, 1 at b
        r = np.where(template.top, end_radius, radius)
        r = np.maximum(r, _MIN_EXTENT)
        vertices = (
            start
            + np.outer(along * length, axis)
            + np.outer(local[:, 0] * r, u)
            + np.outer(local[:, 2] * r, v)
        )
        # As for a cylinder: the caps look along the rod's main axis, the side sees the
        # image from the front (from above for a rod running front to back).
        along_axis = int(np.argmax(np.abs(axis)))
        side_axis = 2 if along_axis != 2 else 1
        projection = np.where(template.tag == 1, along_axis, side_axis).astype(np.int8)
        self._add(vertices, template.faces, projection)

    def extrude(
        self,
        outline: Sequence[Vec2],
        start: float,
        end: float,
        *,
        axis: str = "z",
    ) -> None:
        """A flat outline extruded from ``start`` to ``end`` along ``axis``.

        For ``axis="z"`` the outline is in (x, y) (a guitar body, a harp frame seen
        from the front); for ``"y"`` in (x, z) (a table top seen from above); for
        ``"x"`` in (z, y). The caps are fanned from the outline's centroid, so the
        outline must be star-shaped around it.
        """
        ring = np.asarray(outline, dtype=np.float64)
        count = len(ring)
        if count < 3:
            raise ValueError("an outline needs at least three points")
        signed = float(
            np.sum(ring[:, 0] * np.roll(ring[:, 1], -1) - np.roll(ring[:, 0], -1) * ring[:, 1])
        )
        if signed < 0:
            ring = ring[::-1]
        centroid = ring.mean(axis=0)
        lo, hi = min(start, end), max(start, end)
        idx = np.arange(count)
        nxt = (idx + 1) % count
        edge = ring[nxt] - ring
        edge_normal = np.column_stack((edge[:, 1], -edge[:, 0]))
        edge_normal /= np.maximum(np.linalg.norm(edge_normal, axis=1, keepdims=True), 1e-12)
        # Side quads: each edge its own four vertices (hard edges).
        side_2d = np.concatenate([ring, ring[nxt], ring[nxt], ring])
        side_depth = np.concatenate(
            [np.full(count, lo), np.full(count, lo), np.full(count, hi), np.full(count, hi)]
        )
        side_n2d = np.tile(edge_normal, (4, 1))
        quad = np.column_stack((idx, idx + count, idx + 2 * count, idx + 3 * count))
        side_faces = np.concatenate([quad[:, [0, 1, 2]], quad[:, [0, 2, 3]]])
        # Caps.
        cap_2d = np.concatenate([ring, centroid[None, :]])
        base = 4 * count
        low_faces = np.column_stack((np.full(count, base + count), nxt + base, idx + base))
        high_faces = np.column_stack(
            (np.full(count, base + 2 * count + 1), idx + base + count + 1, nxt + base + count + 1)
        )
        flat = np.concatenate([side_2d, cap_2d, cap_2d])
        depth = np.concatenate([side_depth, np.full(count + 1, lo), np.full(count + 1, hi)])
        n2d = np.concatenate([side_n2d, np.zeros((2 * count + 2, 2))])
        n_depth = np.concatenate(
            [np.zeros(4 * count), np.full(count + 1, -1.0), np.full(count + 1, 1.0)]
        )
        faces = np.concatenate([side_faces, low_faces, high_faces]).astype(np.int64)
        if axis == "z":
            vertices = np.column_stack((flat[:, 0], flat[:, 1], depth))
            normals = np.column_stack((n2d[:, 0], n2d[:, 1], n_depth))
        elif axis == "y":
            # (x, z) outline: counter-clockwise in (x, z) faces -y, so flip the winding.
            vertices = np.column_stack((flat[:, 0], depth, flat[:, 1]))
            normals = np.column_stack((n2d[:, 0], n_depth, n2d[:, 1]))
            faces = faces[:, ::-1]
        else:
            vertices = np.column_stack((depth, flat[:, 1], flat[:, 0]))
            normals = np.column_stack((n_depth, n2d[:, 1], n2d[:, 0]))
            faces = faces[:, ::-1]
        self._add_oriented(vertices, faces, normals, turn=None, pivot=None)

    def build(self, size: Size) -> tuple[Floats, Ints, Floats, Floats]:
        """Vertices scaled to ``size``, faces, vertex normals and UVs."""
        vertices = np.concatenate(self._vertices)
        faces = np.concatenate(self._faces)
        projection = np.concatenate(self._projection)
        low = vertices.min(axis=0)
        high = vertices.max(axis=0)
        extent = np.maximum(high - low, _MIN_EXTENT)
        target = np.asarray(size, dtype=np.float64)
        anchor = np.array([(low[0] + high[0]) / 2.0, low[1], (low[2] + high[2]) / 2.0])
        vertices = (vertices - anchor) * (target / extent)
        # Pin the extremes exactly, so rounding cannot push the box past the size.
        half = target / 2.0
        vertices[:, 0] = np.clip(vertices[:, 0], -half[0], half[0])
        vertices[:, 1] = np.clip(vertices[:, 1], 0.0, target[1])
        vertices[:, 2] = np.clip(vertices[:, 2], -half[2], half[2])
        return (
            vertices,
            faces,
            _vertex_normals(vertices, faces),
            _box_uv(vertices, projection, size),
        )


def _vertex_normals(vertices: Floats, faces: Ints) -> Floats:
    corners = vertices[faces]
    face_normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    flat = faces.ravel()
    normals = np.empty_like(vertices)
    for axis in range(3):
        weights = np.repeat(face_normals[:, axis], 3)
        normals[:, axis] = np.bincount(flat, weights=weights, minlength=len(vertices))
    length = np.linalg.norm(normals, axis=1)
    degenerate = length < 1e-12
    normals[degenerate] = (0.0, 1.0, 0.0)
    length[degenerate] = 1.0
    result: Floats = normals / length[:, None]
    return result


def _box_uv(vertices: Floats, projection: Axes, size: Size) -> Floats:
    sx, sy, sz = size
    across = vertices[:, 0] / sx + 0.5
    deep = vertices[:, 2] / sz + 0.5
    up = vertices[:, 1] / sy
    u = np.where(projection == 0, deep, across)
    v = np.where(projection == 1, deep, up)
    uv: Floats = np.clip(np.column_stack((u, v)), 0.0, 1.0)
    return uv


# --------------------------------------------------------------------------------------
# Small recurring pieces.


def clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


def four_legs(
    p: Parts,
    half_x: float,
    half_z: float,
    thickness: float,
    y0: float,
    y1: float,
    *,
    round_legs: bool = False,
    taper: float = 1.0,
) -> None:
    """Four legs centred on (±half_x, ±half_z)."""
    r = thickness / 2.0
    for sx in (-1.0, 1.0):
        for sz in (-1.0, 1.0):
            x, z = sx * half_x, sz * half_z
            if round_legs:
                p.cylinder((x, (y0 + y1) / 2.0, z), y1 - y0, r, taper=taper, sections=12)
            else:
                p.box((x - r, y0, z - r), (x + r, y1, z + r))


def knob(p: Parts, x: float, y: float, front: float, radius: float, depth: float) -> None:
    """A round knob on a front face at z = ``front``, sticking out by ``depth``."""
    p.cylinder((x, y, front + depth / 2.0), depth, radius, radius, axis="z", sections=8)


def bar_handle(
    p: Parts, x: float, y: float, front: float, width: float, height: float, depth: float
) -> None:
    """A bar handle centred on (x, y) of a front face at z = ``front``."""
    p.box(
        (x - width / 2.0, y - height / 2.0, front),
        (x + width / 2.0, y + height / 2.0, front + depth),
    )


Builder = Callable[[Parts, float, float, float], None]
"""Draws one shape into ``p`` within x ∈ [-w/2, w/2], y ∈ [0, h], z ∈ [-d/2, d/2]."""
