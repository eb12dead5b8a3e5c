"""Parametric meshes per object category: the offline default mesh backend.

Every object becomes one mesh in its own frame: +Y up, the centre of the bottom face at
the origin, the front facing +Z, and an axis-aligned bounding box equal to the requested
``size`` (x width, y height, z depth). A shape is a handful of parts (boxes, cylinders,
ellipsoids) whose proportions follow the size; the parts are concatenated and the result
scaled per axis so the box matches exactly. Parts are laid out to fill the size already,
so that last scaling is close to 1 and round parts stay round.

Texture coordinates come from an object-level box projection: faces looking along ±Z
see the image as if projected onto the front, faces along ±X onto the sides and faces
along ±Y from above, so an image of the object lands on its front.
"""

from __future__ import annotations

import io
import json
import math
import re
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import trimesh
from PIL import Image, UnidentifiedImageError

Size = tuple[float, float, float]
Vec3 = tuple[float, float, float]
_Floats = npt.NDArray[np.float64]
_Ints = npt.NDArray[np.int64]
_Axes = npt.NDArray[np.int8]

MAX_TRIANGLES = 5000
NEUTRAL_COLOR = (199, 194, 184, 255)

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

    vertices: _Floats
    faces: _Ints
    tag: _Axes
    normal: _Floats
    top: npt.NDArray[np.bool_]


def _freeze(*arrays: np.ndarray) -> None:
    for array in arrays:
        array.setflags(write=False)


def _split_by_group(
    vertices: _Floats, faces: _Ints, face_group: npt.NDArray[np.int64]
) -> tuple[_Floats, _Ints, npt.NDArray[np.int64]]:
    """Give each face group its own vertices, so groups meet at hard edges."""
    out_vertices: list[_Floats] = []
    out_faces: list[_Ints] = []
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
_CYLINDERS = {n: _cylinder_template(n) for n in (8, 12, 16)}
_SPHERES = {n: _sphere_template(n) for n in (1, 2)}


def _rotation(axis: str, degrees: float) -> _Floats:
    """Right-handed rotation matrix about a coordinate axis."""
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    if axis == "x":
        return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])
    if axis == "y":
        return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


# --------------------------------------------------------------------------------------
# Collecting parts.


class _Parts:
    """Parts of one object in its frame, concatenated into a single mesh at the end."""

    def __init__(self) -> None:
        self._vertices: list[_Floats] = []
        self._faces: list[_Ints] = []
        self._projection: list[_Axes] = []
        self._offset = 0
        self.count = 0

    def _add(self, vertices: _Floats, faces: _Ints, projection: _Axes) -> None:
        self._vertices.append(vertices)
        self._faces.append(faces + self._offset)
        self._projection.append(projection)
        self._offset += len(vertices)
        self.count += 1

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

    def build(self, size: Size) -> tuple[_Floats, _Ints, _Floats, _Floats]:
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


def _vertex_normals(vertices: _Floats, faces: _Ints) -> _Floats:
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
    result: _Floats = normals / length[:, None]
    return result


def _box_uv(vertices: _Floats, projection: _Axes, size: Size) -> _Floats:
    sx, sy, sz = size
    across = vertices[:, 0] / sx + 0.5
    deep = vertices[:, 2] / sz + 0.5
    up = vertices[:, 1] / sy
    u = np.where(projection == 0, deep, across)
    v = np.where(projection == 1, deep, up)
    uv: _Floats = np.clip(np.column_stack((u, v)), 0.0, 1.0)
    return uv


# --------------------------------------------------------------------------------------
# Small recurring pieces.


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


def _four_legs(
    p: _Parts,
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


def _knob(p: _Parts, x: float, y: float, front: float, radius: float, depth: float) -> None:
    """A round knob on a front face at z = ``front``, sticking out by ``depth``."""
    p.cylinder((x, y, front + depth / 2.0), depth, radius, radius, axis="z", sections=8)


def _bar_handle(
    p: _Parts, x: float, y: float, front: float, width: float, height: float, depth: float
) -> None:
    """A bar handle centred on (x, y) of a front face at z = ``front``."""
    p.box(
        (x - width / 2.0, y - height / 2.0, front),
        (x + width / 2.0, y + height / 2.0, front + depth),
    )


# --------------------------------------------------------------------------------------
# Shapes. Each draws into ``p`` within x ∈ [-w/2, w/2], y ∈ [0, h], z ∈ [-d/2, d/2].


def _bed(p: _Parts, w: float, h: float, d: float) -> None:
    top = min(0.5 * h, 0.6)
    frame_top = 0.55 * top
    leg = 0.22 * top
    board = min(0.08, 0.08 * d)
    back, front = -d / 2.0, d / 2.0
    # Headboard with a padded panel on its front.
    p.box((-w / 2.0, 0.0, back), (w / 2.0, h, back + board * 0.6))
    pad = min(0.08, 0.06 * w)
    p.box(
        (-w / 2.0 + pad, top, back + board * 0.6),
        (w / 2.0 - pad, h - 0.12 * (h - top), back + board),
    )
    # Frame on two foot legs.
    p.box((-w / 2.0, leg, back + board * 0.6), (w / 2.0, frame_top, front))
    lt = min(0.07, 0.12 * w, 0.12 * d)
    for sx in (-1.0, 1.0):
        x = sx * (w / 2.0 - lt / 2.0 - 0.02 * w)
        p.box((x - lt / 2.0, 0.0, front - lt - 0.02 * d), (x + lt / 2.0, leg, front - 0.02 * d))
    # Mattress, a duvet over its foot end, pillows at the head.
    m = min(0.03, 0.03 * w)
    head = back + board
    p.box((-w / 2.0 + m, frame_top, head), (w / 2.0 - m, top, front - m))
    cover = min(0.04, 0.25 * (h - top))
    duvet_start = head + 0.3 * (front - m - head)
    p.box(
        (-w / 2.0 + 0.3 * m, frame_top + 0.5 * (top - frame_top), duvet_start),
        (w / 2.0 - 0.3 * m, top + cover, front - 0.3 * m),
    )
    pillows = 2 if w >= 1.15 else 1
    lane = (w - 2.0 * m) / pillows
    ph = min(0.13, 0.5 * (h - top))
    pd = min(0.38, 0.8 * (duvet_start - head))
    for i in range(pillows):
        x = -w / 2.0 + m + (i + 0.5) * lane
        p.ellipsoid(
            (x, top + ph / 2.0, head + 0.01 * d + pd / 2.0), (0.43 * lane, ph / 2.0, pd / 2.0)
        )


def _sofa(p: _Parts, w: float, h: float, d: float, *, seats: int | None, rolled: bool) -> None:
    leg = min(0.1, 0.12 * h)
    base_top = 0.38 * h
    seat_top = 0.52 * h
    arm_top = 0.7 * h
    arm = min(0.2, (0.15 if rolled else 0.1) * w)
    back = min(0.22, 0.18 * d)
    lt = min(0.05, 0.08 * w, 0.08 * d)
    _four_legs(p, w / 2.0 - lt, d / 2.0 - lt, lt, 0.0, leg, round_legs=rolled, taper=1.3)
    p.box((-w / 2.0, leg, -d / 2.0), (w / 2.0, 0.82 * h, -d / 2.0 + back))
    roll = arm / 2.0 if rolled else 0.0
    for sx in (-1.0, 1.0):
        x0, x1 = sorted((sx * w / 2.0, sx * (w / 2.0 - arm)))
        p.box((x0, leg, -d / 2.0 + back), (x1, arm_top - roll, d / 2.0))
        if rolled:
            p.cylinder(
                ((x0 + x1) / 2.0, arm_top - roll, back / 2.0), d - back, roll, roll, axis="z"
            )
    inner = w - 2.0 * arm
    p.box((-w / 2.0 + arm, leg, -d / 2.0 + back), (w / 2.0 - arm, base_top, d / 2.0))
    count = seats if seats is not None else int(_clamp(round(inner / 0.62), 1, 4))
    cushion = min(0.18, 0.2 * d)
    gap = min(0.012, 0.02 * inner / count)
    for i in range(count):
        x0 = -w / 2.0 + arm + i * inner / count + gap / 2.0
        x1 = x0 + inner / count - gap
        p.box((x0, base_top, -d / 2.0 + back + cushion), (x1, seat_top, d / 2.0 - 0.01 * d))
        p.box((x0, base_top, -d / 2.0 + back), (x1, h, -d / 2.0 + back + cushion))


def _chair(p: _Parts, w: float, h: float, d: float) -> None:
    seat = min(0.47, 0.5 * h)
    st = min(0.045, 0.1 * seat)
    lt = min(0.04, 0.1 * w, 0.1 * d)
    r = lt / 2.0
    for sx in (-1.0, 1.0):
        x = sx * (w / 2.0 - r)
        p.box((x - r, 0.0, d / 2.0 - lt), (x + r, seat - st, d / 2.0))
        p.box((x - r, 0.0, -d / 2.0), (x + r, h, -d / 2.0 + lt))
        y = 0.25 * seat
        p.box((x - r * 0.6, y, -d / 2.0 + lt), (x + r * 0.6, y + 0.6 * lt, d / 2.0 - lt))
    p.box((-w / 2.0, seat - st, -d / 2.0), (w / 2.0, seat, d / 2.0))
    rail = min(0.08, 0.25 * (h - seat))
    z0, z1 = -d / 2.0 + 0.15 * lt, -d / 2.0 + 0.85 * lt
    p.box((-w / 2.0 + lt, h - rail, z0), (w / 2.0 - lt, h, z1))
    slat = min(0.03, 0.08 * w)
    for fx in (-0.25, 0.0, 0.25):
        x = fx * w
        p.box((x - slat / 2.0, seat, z0 + 0.1 * lt), (x + slat / 2.0, h - rail, z1 - 0.1 * lt))


def _office_chair(p: _Parts, w: float, h: float, d: float) -> None:
    reach = 0.5 * min(w, d)
    caster = min(0.06, 0.08 * h, 0.3 * reach)
    spoke_h = min(0.04, 0.05 * h)
    spoke_w = min(0.05, 0.15 * reach)
    for k in range(5):
        angle = 90.0 + 72.0 * k
        p.box(
            (0.0, caster, -spoke_w / 2.0),
            (reach - caster / 2.0, caster + spoke_h, spoke_w / 2.0),
            turn=("y", angle),
            pivot=(0.0, 0.0, 0.0),
        )
        a = math.radians(angle)
        dist = reach - caster / 2.0
        p.ellipsoid(
            (dist * math.cos(a), caster / 2.0, -dist * math.sin(a)),
            (caster / 2.0, caster / 2.0, caster / 2.0),
        )
    seat_top = 0.45 * h
    seat_t = min(0.08, 0.12 * seat_top)
    post = min(0.03, 0.1 * reach)
    low = caster + spoke_h
    mech = seat_top - seat_t - 0.04 * seat_top
    p.cylinder((0.0, (low + mech) / 2.0, 0.0), mech - low, post)
    p.box((-0.1 * w, mech, -0.15 * d), (0.1 * w, seat_top - seat_t, 0.15 * d))
    side = min(0.07, 0.12 * w)
    bt = min(0.07, 0.1 * d)
    p.box((-w / 2.0 + side, seat_top - seat_t, -d / 2.0 + bt), (w / 2.0 - side, seat_top, d / 2.0))
    back_low = seat_top + 0.1 * (h - seat_top)
    p.box((-0.4 * w, back_low, -d / 2.0), (0.4 * w, h, -d / 2.0 + bt))
    spine = min(0.035, 0.08 * w)
    p.box(
        (-spine, seat_top - seat_t, -d / 2.0 + 0.2 * bt),
        (spine, back_low + 0.1 * (h - back_low), -d / 2.0 + bt + 0.06 * d),
    )
    arm_top = seat_top + min(0.22, 0.4 * (h - seat_top))
    pad = min(0.03, 0.2 * (arm_top - seat_top))
    for sx in (-1.0, 1.0):
        x0, x1 = sorted((sx * w / 2.0, sx * (w / 2.0 - side)))
        xm = (x0 + x1) / 2.0
        p.box(
            (xm - 0.3 * side, seat_top - seat_t / 2.0, -0.05 * d),
            (xm + 0.3 * side, arm_top - pad, 0.05 * d),
        )
        p.box((x0, arm_top - pad, -0.2 * d), (x1, arm_top, 0.2 * d))


def _stool(p: _Parts, w: float, h: float, d: float) -> None:
    st = min(0.05, 0.1 * h)
    round_seat = abs(w - d) <= 0.2 * max(w, d)
    if round_seat:
        p.cylinder((0.0, h - st / 2.0, 0.0), st, w / 2.0, d / 2.0)
    else:
        p.box((-w / 2.0, h - st, -d / 2.0), (w / 2.0, h, d / 2.0))
    lt = min(0.04, 0.12 * min(w, d))
    hx, hz = 0.62 * w / 2.0, 0.62 * d / 2.0
    _four_legs(p, hx, hz, lt, 0.0, h - st, round_legs=True)
    y = (0.33 if h > 0.55 else 0.2) * h
    rt = 0.5 * lt
    for sz in (-1.0, 1.0):
        p.box((-hx, y, sz * hz - rt / 2.0), (hx, y + rt, sz * hz + rt / 2.0))
    for sx in (-1.0, 1.0):
        p.box((sx * hx - rt / 2.0, y + 1.5 * rt, -hz), (sx * hx + rt / 2.0, y + 2.5 * rt, hz))


def _bench(p: _Parts, w: float, h: float, d: float) -> None:
    st = min(0.04, 0.12 * h)
    slats = int(_clamp(round(d / 0.1), 2, 5))
    pitch = d / slats
    for i in range(slats):
        z0 = -d / 2.0 + i * pitch + 0.08 * pitch
        p.box((-w / 2.0, h - st, z0), (w / 2.0, h, z0 + 0.84 * pitch))
    lt = min(0.05, 0.1 * w, 0.15 * d)
    rail = min(0.05, 0.1 * h)
    frame_x = w / 2.0 - max(0.08 * w, lt)
    for sx in (-1.0, 1.0):
        x = sx * frame_x
        for sz in (-1.0, 1.0):
            z = sz * (d / 2.0 - lt / 2.0 - 0.04 * d)
            p.box((x - lt / 2.0, 0.0, z - lt / 2.0), (x + lt / 2.0, h - st, z + lt / 2.0))
        p.box(
            (x - lt / 2.0, h - st - rail, -d / 2.0 + 0.04 * d),
            (x + lt / 2.0, h - st, d / 2.0 - 0.04 * d),
        )
        p.box(
            (x - lt / 3.0, 0.2 * h, -d / 2.0 + 0.04 * d),
            (x + lt / 3.0, 0.2 * h + 0.6 * lt, d / 2.0 - 0.04 * d),
        )
    p.box((-frame_x, 0.2 * h, -lt / 3.0), (frame_x, 0.2 * h + 0.6 * lt, lt / 3.0))


def _table(p: _Parts, w: float, h: float, d: float, *, kind: str) -> None:
    tt = min(0.04, 0.1 * h)
    lt = min(0.06 if kind != "coffee table" else 0.05, 0.08 * w, 0.08 * d)
    inset = 0.04 * min(w, d)
    hx, hz = w / 2.0 - inset - lt / 2.0, d / 2.0 - inset - lt / 2.0
    p.box((-w / 2.0, h - tt, -d / 2.0), (w / 2.0, h, d / 2.0))
    leg_top = h - tt
    round_legs = kind == "dining table"
    _four_legs(p, hx, hz, lt, 0.0, leg_top, round_legs=round_legs, taper=1.5)
    if kind in ("table", "dining table"):
        apron = min(0.08, 0.15 * h)
        a = lt * 0.35
        for sz in (-1.0, 1.0):
            z = sz * hz
            p.box((-hx, leg_top - apron, z - a / 2.0), (hx, leg_top, z + a / 2.0))
        for sx in (-1.0, 1.0):
            x = sx * hx
            p.box((x - a / 2.0, leg_top - apron, -hz), (x + a / 2.0, leg_top, hz))
    if kind in ("coffee table", "side table"):
        shelf_y = 0.15 * h
        p.box((-hx, shelf_y, -hz), (hx, shelf_y + 0.6 * tt, hz))
    if kind == "side table":
        box_h = min(0.14, 0.25 * h)
        p.box(
            (-hx + lt / 2.0, leg_top - box_h, -hz + lt / 2.0),
            (hx - lt / 2.0, leg_top, hz - lt / 2.0),
        )
        front = hz - lt / 2.0
        knob = min(0.015, 0.2 * box_h, 0.1 * w)
        _knob(p, 0.0, leg_top - box_h / 2.0, front, knob, min(0.02, d / 2.0 - front + 0.001))


def _desk(p: _Parts, w: float, h: float, d: float) -> None:
    tt = min(0.035, 0.06 * h)
    under = h - tt
    p.box((-w / 2.0, under, -d / 2.0), (w / 2.0, h, d / 2.0))
    panel = min(0.025, 0.05 * w)
    edge = 0.02 * min(w, d)
    p.box((-w / 2.0 + edge, 0.0, -d / 2.0 + edge), (-w / 2.0 + edge + panel, under, d / 2.0 - edge))
    pw = min(0.45, 0.35 * w)
    handle = min(0.02, 0.06 * d)
    front_t = min(0.018, 0.05 * d)
    body_front = d / 2.0 - edge - handle - front_t
    x0, x1 = w / 2.0 - edge - pw, w / 2.0 - edge
    p.box((x0, 0.0, -d / 2.0 + edge), (x1, under, body_front))
    p.box(
        (-w / 2.0 + edge + panel, 0.45 * under, -d / 2.0 + edge),
        (x0, under, -d / 2.0 + edge + front_t),
    )
    rows = 3
    gap = 0.008 * under
    row_h = (under - 0.04 * under) / rows
    for i in range(rows):
        y0 = 0.04 * under + i * row_h + gap / 2.0
        y1 = y0 + row_h - gap
        p.box((x0 + gap, y0, body_front), (x1 - gap, y1, body_front + front_t))
        _bar_handle(
            p,
            (x0 + x1) / 2.0,
            y1 - 0.25 * row_h,
            body_front + front_t,
            0.4 * pw,
            min(0.015, 0.1 * row_h),
            handle,
        )


def _door_cabinet(p: _Parts, w: float, h: float, d: float, *, doors: int, cornice: bool) -> None:
    """A carcass on a plinth with doors on its front (wardrobe, cabinet)."""
    plinth = min(0.08, 0.06 * h)
    top_t = min(0.04, 0.04 * h)
    door_t = min(0.02, 0.05 * d)
    handle = min(0.025, 0.08 * d)
    front = d / 2.0 - handle - door_t
    inset = min(0.02, 0.04 * d)
    p.box((-w / 2.0 + inset, 0.0, -d / 2.0), (w / 2.0 - inset, plinth, front - inset))
    p.box((-w / 2.0, plinth, -d / 2.0), (w / 2.0, h - top_t, front))
    if cornice:
        p.box((-w / 2.0, h - top_t, -d / 2.0), (w / 2.0, h, front + door_t + 0.5 * handle))
    else:
        p.box((-w / 2.0, h - top_t, -d / 2.0), (w / 2.0, h, d / 2.0))
    gap = min(0.006, 0.01 * w)
    y0, y1 = plinth + gap, h - top_t - gap
    lane = w / doors
    bar_w = min(0.018, 0.15 * lane)
    bar_h = min(0.3, 0.2 * h)
    for i in range(doors):
        x0 = -w / 2.0 + i * lane + gap / 2.0
        x1 = x0 + lane - gap
        p.box((x0, y0, front), (x1, y1, front + door_t))
        # Handles sit at the edge that meets the neighbouring door.
        x = x1 - 2.0 * bar_w if doors == 1 or i < doors / 2.0 else x0 + 2.0 * bar_w
        # At hand height on tall doors, in the upper part of low ones.
        length = min(bar_h, 0.8 * (y1 - y0))
        centre = 1.05 if h > 1.3 else y0 + 0.75 * (y1 - y0)
        y = _clamp(centre, y0 + length / 2.0, y1 - length / 2.0)
        _bar_handle(p, x, y, front + door_t, bar_w, length, handle)


def _drawer_chest(p: _Parts, w: float, h: float, d: float, *, legs: bool) -> None:
    """A body with drawer fronts and knobs (dresser, nightstand)."""
    top_t = min(0.03, 0.05 * h)
    base = min(0.1 if legs else 0.08, 0.15 * h)
    knob_d = min(0.025, 0.08 * d)
    front_t = min(0.018, 0.05 * d)
    body_front = d / 2.0 - knob_d - front_t
    side = min(0.015, 0.03 * w)
    p.box((-w / 2.0, h - top_t, -d / 2.0), (w / 2.0, h, body_front + front_t + 0.3 * knob_d))
    p.box((-w / 2.0 + side, base, -d / 2.0 + side), (w / 2.0 - side, h - top_t, body_front))
    if legs:
        lt = min(0.04, 0.1 * w, 0.1 * d)
        _four_legs(
            p,
            w / 2.0 - side - lt / 2.0,
            d / 2.0 - knob_d - lt,
            lt,
            0.0,
            base,
            round_legs=True,
            taper=1.4,
        )
    else:
        p.box(
            (-w / 2.0 + 2.0 * side, 0.0, -d / 2.0 + 2.0 * side),
            (w / 2.0 - 2.0 * side, base, body_front - side),
        )
    cols = 2 if w >= 1.0 else 1
    span = h - top_t - base
    rows = int(_clamp(round(span / 0.22), 2, 5))
    gap = min(0.006, 0.02 * span)
    inner_w = w - 2.0 * side
    for c in range(cols):
        for r in range(rows):
            x0 = -w / 2.0 + side + c * inner_w / cols + gap / 2.0
            x1 = x0 + inner_w / cols - gap
            y0 = base + r * span / rows + gap / 2.0
            y1 = y0 + span / rows - gap
            p.box((x0, y0, body_front), (x1, y1, body_front + front_t))
            knob = min(0.015, 0.15 * (y1 - y0), 0.1 * (x1 - x0))
            if x1 - x0 > 0.6:
                for fx in (0.25, 0.75):
                    _knob(
                        p, x0 + fx * (x1 - x0), (y0 + y1) / 2.0, body_front + front_t, knob, knob_d
                    )
            else:
                _knob(p, (x0 + x1) / 2.0, (y0 + y1) / 2.0, body_front + front_t, knob, knob_d)


_BOOKS = ((0.035, 0.82), (0.025, 0.7), (0.045, 0.88), (0.03, 0.76), (0.04, 0.8), (0.028, 0.66))


def _shelves(p: _Parts, w: float, h: float, d: float, *, books: bool) -> None:
    st = min(0.025, 0.06 * w)
    bt = min(0.022, 0.04 * h)
    back_t = min(0.008, 0.05 * d)
    p.box((-w / 2.0, 0.0, -d / 2.0), (-w / 2.0 + st, h, d / 2.0))
    p.box((w / 2.0 - st, 0.0, -d / 2.0), (w / 2.0, h, d / 2.0))
    # The back and the boards are housed in grooves cut into the sides.
    groove = 0.4 * st
    p.box((-w / 2.0 + st - groove, 0.0, -d / 2.0), (w / 2.0 - st + groove, h, -d / 2.0 + back_t))
    kick = min(0.06, 0.08 * h) if books else 0.0
    if books:
        p.box((-w / 2.0 + st, 0.0, d / 2.0 - 2.0 * bt), (w / 2.0 - st, kick, d / 2.0 - bt))
    levels = int(_clamp(round((h - kick) / 0.35), 1, 8))
    pitch = (h - kick - bt) / levels
    inner = w - 2.0 * st
    for i in range(levels + 1):
        y = kick + i * pitch
        p.box(
            (-w / 2.0 + st - 0.5 * groove, y, -d / 2.0 + back_t),
            (w / 2.0 - st + 0.5 * groove, y + bt, d / 2.0),
        )
        if not books or i == levels:
            continue
        clear = pitch - bt
        x = -w / 2.0 + st + 0.04 * inner
        limit = -w / 2.0 + st + (0.75 - 0.1 * (i % 3)) * inner
        scale = min(1.0, clear / 0.3, inner / 0.6)
        for j in range(12):
            width, tall = _BOOKS[(i * 2 + j) % len(_BOOKS)]
            width *= scale
            if x + width > limit:
                break
            p.box(
                (x, y + bt, -d / 2.0 + back_t + 0.1 * d),
                (x + width * 0.95, y + bt + tall * clear, d / 2.0 - 0.08 * d),
            )
            x += width


def _tv(p: _Parts, w: float, h: float, d: float) -> None:
    panel = min(0.04, 0.3 * d)
    bezel = min(0.015, 0.03 * min(w, h))
    standing = d >= 0.12 and d >= 3.0 * panel
    if standing:
        foot = min(0.02, 0.05 * h)
        low = min(0.08, 0.12 * h)
        p.box((-0.2 * w, 0.0, -d / 2.0), (0.2 * w, foot, d / 2.0))
        neck = min(0.04, 0.05 * w)
        p.box((-neck, foot, -panel - 0.3 * panel), (neck, low + 0.3 * (h - low), -panel / 2.0))
        z0, z1 = -panel / 2.0, panel / 2.0
    else:
        low = 0.0
        z0, z1 = -d / 2.0 + 0.3 * d, d / 2.0 - 0.1 * d
    p.box((-w / 2.0, low, z0), (w / 2.0, h, z1))
    screen_t = 0.1 * (z1 - z0) if not standing else min(0.003, 0.1 * panel)
    p.box((-w / 2.0 + bezel, low + bezel, z1), (w / 2.0 - bezel, h - bezel, z1 + screen_t))
    hump_z0 = z0 - (0.4 * panel if standing else 0.3 * d)
    p.box((-0.35 * w, low + 0.2 * (h - low), hump_z0), (0.35 * w, low + 0.8 * (h - low), z0))


def _tv_stand(p: _Parts, w: float, h: float, d: float) -> None:
    leg = min(0.1, 0.2 * h)
    tt = min(0.03, 0.08 * h)
    handle = min(0.02, 0.06 * d)
    door_t = min(0.018, 0.05 * d)
    front = d / 2.0 - handle - door_t
    lt = min(0.04, 0.08 * w, 0.1 * d)
    _four_legs(p, w / 2.0 - lt, front - lt, lt, 0.0, leg, round_legs=True, taper=1.3)
    p.box((-w / 2.0, h - tt, -d / 2.0), (w / 2.0, h, d / 2.0 - 0.5 * handle))
    bay = w / 3.0
    body_top = h - tt
    p.box((-w / 2.0, leg, -d / 2.0), (w / 2.0, leg + tt, front))
    for sx in (-1.0, 1.0):
        x0, x1 = sorted((sx * w / 2.0, sx * (w / 2.0 - bay)))
        p.box((x0, leg + tt, -d / 2.0), (x1, body_top, front))
        gap = min(0.005, 0.02 * bay)
        p.box((x0 + gap, leg + gap, front), (x1 - gap, body_top - gap, front + door_t))
        x = x1 - 0.12 * bay if sx < 0 else x0 + 0.12 * bay
        _bar_handle(
            p,
            x,
            (leg + body_top) / 2.0,
            front + door_t,
            min(0.015, 0.1 * bay),
            0.4 * (body_top - leg),
            handle,
        )
    p.box((-w / 2.0 + bay, leg + tt, -d / 2.0), (w / 2.0 - bay, body_top, -d / 2.0 + 0.25 * d))
    mid = (leg + tt + body_top) / 2.0
    p.box(
        (-w / 2.0 + bay, mid - tt / 3.0, -d / 2.0 + 0.25 * d),
        (w / 2.0 - bay, mid + tt / 3.0, front),
    )


def _floor_lamp(p: _Parts, w: float, h: float, d: float) -> None:
    shade_h = min(0.35, 0.25 * h)
    base_h = min(0.03, 0.03 * h)
    p.cylinder((0.0, base_h / 2.0, 0.0), base_h, 0.6 * w / 2.0, 0.6 * d / 2.0)
    pole = min(0.012, 0.05 * min(w, d))
    pole_top = h - 0.5 * shade_h
    p.cylinder((0.0, (base_h + pole_top) / 2.0, 0.0), pole_top - base_h, pole, sections=12)
    collar = min(0.03, 0.1 * h)
    p.cylinder((0.0, h - shade_h - collar / 2.0, 0.0), collar, 2.0 * pole, sections=12)
    p.cylinder((0.0, h - shade_h / 2.0, 0.0), shade_h, w / 2.0, d / 2.0, taper=0.75)


def _table_lamp(p: _Parts, w: float, h: float, d: float) -> None:
    foot_h = min(0.02, 0.05 * h)
    p.cylinder((0.0, foot_h / 2.0, 0.0), foot_h, 0.45 * w / 2.0, 0.45 * d / 2.0)
    body_h = 0.35 * h
    p.ellipsoid(
        (0.0, foot_h + body_h / 2.0, 0.0), (0.4 * w / 2.0, body_h / 2.0, 0.4 * d / 2.0), detail=2
    )
    shade_h = 0.42 * h
    neck_top = h - shade_h + 0.1 * shade_h
    neck_low = foot_h + body_h * 0.9
    p.cylinder(
        (0.0, (neck_low + neck_top) / 2.0, 0.0),
        neck_top - neck_low,
        min(0.012, 0.06 * w),
        sections=12,
    )
    p.cylinder((0.0, h - shade_h / 2.0, 0.0), shade_h, w / 2.0, d / 2.0, taper=0.7)


def _plant(p: _Parts, w: float, h: float, d: float) -> None:
    tree = h > 2.2 * max(w, d) and h > 1.2
    pot_h = (0.22 if tree else 0.32) * h
    rx, rz = (0.45 * w, 0.45 * d) if tree else (0.32 * w, 0.32 * d)
    rim = min(0.03, 0.15 * pot_h)
    p.cylinder((0.0, (pot_h - rim) / 2.0, 0.0), pot_h - rim, 0.8 * rx, 0.8 * rz, taper=1.2)
    p.cylinder((0.0, pot_h - rim / 2.0, 0.0), rim, 1.05 * rx, 1.05 * rz)
    p.cylinder((0.0, pot_h, 0.0), 0.02 * pot_h, 0.92 * rx, 0.92 * rz)
    if tree:
        crown_low = 0.5 * h
        p.cylinder(
            (0.0, (pot_h + crown_low + 0.1 * h) / 2.0, 0.0),
            crown_low + 0.1 * h - pot_h,
            min(0.03, 0.08 * w),
            sections=12,
        )
        crown_h = h - crown_low
        cy = crown_low + crown_h / 2.0
        p.ellipsoid((0.0, cy, 0.0), (0.38 * w, 0.3 * crown_h, 0.38 * d))
        for k in range(4):
            a = math.radians(45.0 + 90.0 * k)
            p.ellipsoid(
                (
                    0.22 * w * math.cos(a),
                    cy + (0.08 if k % 2 else -0.05) * crown_h,
                    0.22 * d * math.sin(a),
                ),
                (0.27 * w, 0.24 * crown_h, 0.27 * d),
            )
        p.ellipsoid((0.0, h - 0.2 * crown_h, 0.0), (0.26 * w, 0.2 * crown_h, 0.26 * d))
        return
    leaf_h = h - pot_h
    stem = min(0.012, 0.03 * min(w, d))
    for k in range(3):
        a = math.radians(30.0 + 120.0 * k)
        x, z = 0.1 * w * math.cos(a), 0.1 * d * math.sin(a)
        p.cylinder((x, pot_h + 0.25 * leaf_h, z), 0.5 * leaf_h, stem, sections=8)
    p.ellipsoid((0.0, pot_h + 0.5 * leaf_h, 0.0), (0.3 * w, 0.3 * leaf_h, 0.3 * d), detail=2)
    for k in range(5):
        a = math.radians(18.0 + 72.0 * k)
        lift = (0.28, 0.4, 0.32, 0.45, 0.36)[k]
        p.ellipsoid(
            (0.27 * w * math.cos(a), pot_h + lift * leaf_h, 0.27 * d * math.sin(a)),
            (0.23 * w, 0.23 * leaf_h, 0.23 * d),
        )
    p.ellipsoid((0.0, h - 0.18 * leaf_h, 0.0), (0.2 * w, 0.18 * leaf_h, 0.2 * d))


def _rug(p: _Parts, w: float, h: float, d: float) -> None:
    along_x = w >= d
    long_side = max(w, d)
    short_side = min(w, d)
    fringe = min(0.05, 0.05 * long_side)
    border = min(0.06, 0.08 * short_side)
    lx, lz = (w / 2.0 - fringe, d / 2.0) if along_x else (w / 2.0, d / 2.0 - fringe)
    p.box((-lx + border, 0.0, -lz + border), (lx - border, 0.75 * h, lz - border))
    p.box((-lx, 0.0, -lz), (lx, h, -lz + border))
    p.box((-lx, 0.0, lz - border), (lx, h, lz))
    p.box((-lx, 0.0, -lz + border), (-lx + border, h, lz - border))
    p.box((lx - border, 0.0, -lz + border), (lx, h, lz - border))
    tassels = int(_clamp(round(short_side / 0.05), 4, 30))
    pitch = short_side / tassels
    for end in (-1.0, 1.0):
        for i in range(tassels):
            t0 = -short_side / 2.0 + i * pitch + 0.3 * pitch
            t1 = t0 + 0.4 * pitch
            if along_x:
                x0, x1 = sorted((end * lx, end * w / 2.0))
                p.box((x0, 0.0, t0), (x1, 0.3 * h, t1))
            else:
                z0, z1 = sorted((end * lz, end * d / 2.0))
                p.box((t0, 0.0, z0), (t1, 0.3 * h, z1))


def _kitchen_cabinet(p: _Parts, w: float, h: float, d: float) -> None:
    handle = min(0.02, 0.06 * d)
    door_t = min(0.018, 0.05 * d)
    columns = int(_clamp(round(w / 0.5), 1, 4))
    lane = w / columns
    gap = min(0.004, 0.02 * lane)
    bar = min(0.15, 0.4 * lane)
    wall_unit = d < 0.45 and h < 1.0
    tall_unit = h > 1.3
    if wall_unit or tall_unit:
        top_t = min(0.02, 0.04 * h)
        front = d / 2.0 - handle - door_t
        p.box((-w / 2.0, 0.0, -d / 2.0), (w / 2.0, h - top_t, front))
        p.box((-w / 2.0, h - top_t, -d / 2.0), (w / 2.0, h, front + door_t))
        splits = (0.0, 0.55, 1.0) if tall_unit else (0.0, 1.0)
        body = h - top_t
        for c in range(columns):
            x0 = -w / 2.0 + c * lane + gap / 2.0
            x1 = x0 + lane - gap
            for k in range(len(splits) - 1):
                y0, y1 = splits[k] * body + gap, splits[k + 1] * body - gap
                p.box((x0, y0, front), (x1, y1, front + door_t))
                y = y1 - 0.12 * (y1 - y0) if k == 0 else y0 + 0.12 * (y1 - y0)
                x = x1 - 0.12 * lane if c % 2 == 0 else x0 + 0.12 * lane
                _bar_handle(
                    p,
                    x,
                    y,
                    front + door_t,
                    min(0.015, 0.1 * lane),
                    min(bar, 0.2 * (y1 - y0)),
                    handle,
                )
        return
    kick = min(0.1, 0.12 * h)
    counter = min(0.04, 0.05 * h)
    overhang = min(0.02, 0.04 * d)
    front = d / 2.0 - overhang - handle - door_t
    p.box((-w / 2.0, 0.0, -d / 2.0), (w / 2.0, kick, front - min(0.06, 0.1 * d)))
    p.box((-w / 2.0, kick, -d / 2.0), (w / 2.0, h - counter, front))
    p.box((-w / 2.0, h - counter, -d / 2.0), (w / 2.0, h, d / 2.0))
    body = h - counter - kick
    drawer_h = min(0.18, 0.25 * body)
    for c in range(columns):
        x0 = -w / 2.0 + c * lane + gap / 2.0
        x1 = x0 + lane - gap
        top = h - counter - gap
        p.box((x0, top - drawer_h + gap, front), (x1, top, front + door_t))
        hb = min(0.012, 0.08 * drawer_h)
        _bar_handle(p, (x0 + x1) / 2.0, top - drawer_h / 2.0, front + door_t, bar, hb, handle)
        p.box((x0, kick + gap, front), (x1, top - drawer_h - gap, front + door_t))
        _bar_handle(
            p, (x0 + x1) / 2.0, top - drawer_h - 0.1 * body, front + door_t, bar, hb, handle
        )


def _fridge(p: _Parts, w: float, h: float, d: float) -> None:
    plinth = min(0.04, 0.05 * h)
    handle = min(0.04, 0.08 * d)
    door_t = min(0.05, 0.08 * d)
    front = d / 2.0 - handle - door_t
    p.box(
        (-w / 2.0 + 0.02 * w, 0.0, -d / 2.0 + 0.02 * d),
        (w / 2.0 - 0.02 * w, plinth, front - 0.05 * d),
    )
    p.box((-w / 2.0, plinth, -d / 2.0), (w / 2.0, h, front))
    gap = min(0.008, 0.01 * h)
    splits = (plinth, plinth + 0.68 * (h - plinth), h) if h >= 1.0 else (plinth, h)
    bar_w = min(0.025, 0.06 * w)
    for k in range(len(splits) - 1):
        y0, y1 = splits[k] + gap / 2.0, splits[k + 1] - gap / 2.0
        p.box((-w / 2.0, y0, front), (w / 2.0, y1, front + door_t))
        length = 0.45 * (y1 - y0) if k == 0 else 0.6 * (y1 - y0)
        y = y1 - 0.05 * (y1 - y0) - length / 2.0 if k == 0 else y0 + 0.05 * (y1 - y0) + length / 2.0
        _bar_handle(p, w / 2.0 - 0.1 * w, y, front + door_t, bar_w, length, handle)


def _stove(p: _Parts, w: float, h: float, d: float) -> None:
    guard = min(0.15, 0.15 * h)
    deck = h - guard
    plinth = min(0.08, 0.1 * deck)
    handle = min(0.035, 0.08 * d)
    door_t = min(0.03, 0.05 * d)
    front = d / 2.0 - handle - door_t
    p.box((-w / 2.0 + 0.02 * w, 0.0, -d / 2.0), (w / 2.0 - 0.02 * w, plinth, front - 0.04 * d))
    p.box((-w / 2.0, plinth, -d / 2.0), (w / 2.0, deck, front))
    p.box((-w / 2.0, deck, -d / 2.0), (w / 2.0, h, -d / 2.0 + min(0.05, 0.1 * d)))
    burner_h = min(0.02, 0.3 * guard)
    cooktop_d = front + d / 2.0 - min(0.05, 0.1 * d)
    for fx in (-0.25, 0.25):
        for fz in (-0.25, 0.25):
            r = min(0.1, 0.17 * w, 0.17 * cooktop_d)
            z = (front + (-d / 2.0 + min(0.05, 0.1 * d))) / 2.0 + fz * cooktop_d
            p.cylinder((fx * w, deck + burner_h / 2.0, z), burner_h, r)
    panel = min(0.12, 0.15 * deck)
    door_top = deck - panel
    door_low = plinth + 0.03 * deck
    p.box((-w / 2.0 + 0.01 * w, door_low, front), (w / 2.0 - 0.01 * w, door_top, front + door_t))
    window_t = min(0.004, 0.1 * door_t)
    p.box(
        (-0.32 * w, door_low + 0.2 * (door_top - door_low), front + door_t),
        (0.32 * w, door_top - 0.25 * (door_top - door_low), front + door_t + window_t),
    )
    bar_r = min(0.012, 0.35 * handle)
    p.cylinder(
        (0.0, door_top - 0.08 * (door_top - door_low), front + door_t + handle - bar_r),
        0.7 * w,
        bar_r,
        bar_r,
        axis="x",
        sections=12,
    )
    knob = min(0.02, 0.3 * panel, 0.06 * w)
    for fx in (-0.3, -0.1, 0.1, 0.3):
        _knob(p, fx * w, deck - panel / 2.0, front, knob, min(0.02, handle + door_t))


def _sink(p: _Parts, w: float, h: float, d: float) -> None:
    basin_h = min(0.15, 0.25 * h)
    counter_top = h - basin_h
    slab = min(0.04, 0.25 * counter_top)
    if h >= 0.45:
        handle = min(0.02, 0.06 * d)
        door_t = min(0.018, 0.05 * d)
        front = d / 2.0 - handle - door_t - min(0.02, 0.04 * d)
        p.box((-w / 2.0, 0.0, -d / 2.0), (w / 2.0, counter_top - slab, front))
        gap = min(0.004, 0.01 * w)
        doors = 2 if w >= 0.6 else 1
        lane = w / doors
        for i in range(doors):
            x0 = -w / 2.0 + i * lane + gap / 2.0
            x1 = x0 + lane - gap
            p.box((x0, 0.1 * counter_top, front), (x1, counter_top - slab - gap, front + door_t))
            x = x1 - 0.1 * lane if i == 0 else x0 + 0.1 * lane
            _bar_handle(
                p,
                x,
                0.7 * counter_top,
                front + door_t,
                min(0.015, 0.1 * lane),
                0.2 * counter_top,
                handle,
            )
        p.box((-w / 2.0, counter_top - slab, -d / 2.0), (w / 2.0, counter_top, d / 2.0))
    else:
        p.box((-w / 2.0, 0.0, -d / 2.0), (w / 2.0, counter_top, d / 2.0))
    bw, bd = 0.35 * w, 0.3 * d
    bz = 0.08 * d
    wall = min(0.012, 0.1 * min(bw, bd))
    floor = min(0.012, 0.15 * basin_h)
    rim_top = counter_top + 0.8 * basin_h
    p.box((-bw, counter_top, bz - bd), (bw, counter_top + floor, bz + bd))
    p.box((-bw, counter_top + floor, bz - bd), (bw, rim_top, bz - bd + wall))
    p.box((-bw, counter_top + floor, bz + bd - wall), (bw, rim_top, bz + bd))
    p.box((-bw, counter_top + floor, bz - bd + wall), (-bw + wall, rim_top, bz + bd - wall))
    p.box((bw - wall, counter_top + floor, bz - bd + wall), (bw, rim_top, bz + bd - wall))
    tap = min(0.012, 0.03 * w)
    tap_z = bz - bd - 0.5 * (bz - bd + d / 2.0)
    p.cylinder((0.0, (counter_top + h - tap) / 2.0, tap_z), h - tap - counter_top, tap, sections=12)
    spout = bz - bd + 0.3 * bd - tap_z
    p.cylinder((0.0, h - tap, tap_z + spout / 2.0), spout + tap, tap, tap, axis="z", sections=12)


def _toilet(p: _Parts, w: float, h: float, d: float) -> None:
    seat_y = 0.53 * h
    tank_d = 0.24 * d
    back = -d / 2.0
    p.cylinder((0.0, 0.15 * h, 0.05 * d), 0.3 * h, 0.3 * w, 0.25 * d, taper=1.2)
    bowl_rz = 0.5 * (d / 2.0 - (back + tank_d)) + 0.02 * d
    bowl_z = d / 2.0 - bowl_rz
    bowl_low = 0.28 * h
    seat_t = min(0.03, 0.05 * h)
    p.cylinder(
        (0.0, (bowl_low + seat_y) / 2.0, bowl_z),
        seat_y - bowl_low,
        0.4 * w,
        bowl_rz / 1.15,
        taper=1.15,
    )
    p.cylinder((0.0, seat_y + seat_t / 2.0, bowl_z), seat_t, 0.47 * w, bowl_rz * 0.98)
    p.cylinder(
        (0.0, seat_y + 1.5 * seat_t, bowl_z - 0.02 * d), seat_t * 0.8, 0.45 * w, bowl_rz * 0.9
    )
    lid_t = min(0.025, 0.04 * h)
    button = min(0.01, 0.02 * h)
    tank_top = h - lid_t - button
    p.box((-0.45 * w, seat_y - 0.08 * h, back), (0.45 * w, tank_top, back + tank_d))
    p.box((-w / 2.0, tank_top, back), (w / 2.0, h - button, back + tank_d + 0.01 * d))
    p.cylinder(
        (0.0, h - button / 2.0, back + tank_d / 2.0), button, min(0.02, 0.08 * w), sections=12
    )
    p.box((-0.15 * w, 0.3 * h, back + tank_d), (0.15 * w, seat_y, bowl_z - 0.5 * bowl_rz))


def _bathtub(p: _Parts, w: float, h: float, d: float) -> None:
    along_x = w >= d
    wall = min(0.07, 0.1 * min(w, d))
    floor = min(0.06, 0.15 * h)
    rim = min(0.04, 0.1 * h)
    lip = 1.4 * wall
    p.box((-w / 2.0, 0.0, -d / 2.0), (w / 2.0, floor, d / 2.0))
    top = h - rim
    for sz in (-1.0, 1.0):
        z0, z1 = sorted((sz * d / 2.0, sz * (d / 2.0 - wall)))
        p.box((-w / 2.0, floor, z0), (w / 2.0, top, z1))
        z0, z1 = sorted((sz * d / 2.0, sz * (d / 2.0 - lip)))
        p.box((-w / 2.0, top, z0), (w / 2.0, h, z1))
    for sx in (-1.0, 1.0):
        x0, x1 = sorted((sx * w / 2.0, sx * (w / 2.0 - wall)))
        p.box((x0, floor, -d / 2.0 + wall), (x1, top, d / 2.0 - wall))
        x0, x1 = sorted((sx * w / 2.0, sx * (w / 2.0 - lip)))
        p.box((x0, top, -d / 2.0 + lip), (x1, h, d / 2.0 - lip))
    tap = min(0.02, 0.05 * min(w, d))
    reach = min(0.15, 0.15 * max(w, d))
    y = top - 2.0 * tap
    drain = min(0.03, 0.1 * min(w, d))
    if along_x:
        inner = w / 2.0 - wall
        p.cylinder((-inner + reach / 2.0, y, 0.0), reach, tap, tap, axis="x", sections=12)
        for sz in (-1.0, 1.0):
            p.cylinder((-inner + tap / 2.0, y, sz * 3.0 * tap), tap, tap, tap, axis="x", sections=8)
        p.cylinder((-inner + 0.15 * w, floor + 0.002, 0.0), 0.004, drain, sections=12)
    else:
        inner = d / 2.0 - wall
        p.cylinder((0.0, y, -inner + reach / 2.0), reach, tap, tap, axis="z", sections=12)
        for sx in (-1.0, 1.0):
            p.cylinder((sx * 3.0 * tap, y, -inner + tap / 2.0), tap, tap, tap, axis="z", sections=8)
        p.cylinder((0.0, floor + 0.002, -inner + 0.15 * d), 0.004, drain, sections=12)


def _framed(p: _Parts, w: float, h: float, d: float, *, kind: str) -> None:
    """Painting, picture frame and mirror: a frame around an inset panel."""
    border = min(0.06 if kind != "mirror" else 0.05, 0.1 * min(w, h))
    standing = kind != "painting" and d > 0.15 * h and d > 0.05
    if standing:
        depth = min(0.03, 0.3 * d)
        z0, z1 = d / 2.0 - depth, d / 2.0
        strut = min(0.03, 0.08 * w)
        p.box((-strut / 2.0, 0.0, -d / 2.0), (strut / 2.0, 0.65 * h, -d / 2.0 + strut))
        for sx in (-1.0, 1.0):
            x = sx * 0.3 * w
            p.box((x - strut / 2.0, 0.0, -d / 2.0), (x + strut / 2.0, strut, z0))
    else:
        z0, z1 = -d / 2.0, d / 2.0
        depth = d
    p.box((-w / 2.0, h - border, z0), (w / 2.0, h, z1))
    p.box((-w / 2.0, 0.0, z0), (w / 2.0, border, z1))
    p.box((-w / 2.0, border, z0), (-w / 2.0 + border, h - border, z1))
    p.box((w / 2.0 - border, border, z0), (w / 2.0, h - border, z1))
    recess = 0.3 * depth
    # Panels run under the frame's lip, as glass and canvas sit in a rabbet.
    lip = 0.3 * border
    x0, x1, y0, y1 = -w / 2.0 + border - lip, w / 2.0 - border + lip, border - lip, h - border + lip
    if kind == "picture frame":
        mat = min(0.04, 0.12 * min(w, h))
        p.box((x0, y0, z0), (x1, y1, z1 - 1.5 * recess))
        p.box(
            (-w / 2.0 + border + mat, border + mat, z0),
            (w / 2.0 - border - mat, h - border - mat, z1 - recess),
        )
    elif kind == "mirror":
        p.box((x0, y0, z0), (x1, y1, z1 - 0.6 * recess))
    else:
        p.box((x0, y0, z0), (x1, y1, z1 - recess))


def _clock(p: _Parts, w: float, h: float, d: float) -> None:
    ratio = h / w
    face_t = min(0.006, 0.1 * d)
    hand_t = min(0.005, 0.08 * d)
    body_front = d / 2.0 - face_t - 2.0 * hand_t
    if 0.6 <= ratio <= 1.6:
        # A wall clock: a disc.
        cx, cy, r1, r2 = 0.0, h / 2.0, w / 2.0, h / 2.0
        p.cylinder((0.0, cy, (body_front - d / 2.0) / 2.0), body_front + d / 2.0, r1, r2, axis="z")
    else:
        # A case: a long-case clock when tall, a mantel clock when wide.
        plinth = min(0.1, 0.06 * h)
        p.box((-w / 2.0, 0.0, -d / 2.0), (w / 2.0, plinth, body_front))
        p.box((-0.45 * w, plinth, -d / 2.0), (0.45 * w, h, body_front))
        r1 = r2 = 0.4 * min(w, h)
        cx, cy = 0.0, h / 2.0
        if ratio > 1.6:
            cy = 0.95 * h - r1
            bob = min(0.1, 0.3 * w)
            bob_y = plinth + 0.3 * h
            p.box((-0.01 * w, bob_y, body_front), (0.01 * w, cy - r1, body_front + face_t))
            p.cylinder((0.0, bob_y, body_front + face_t / 2.0), face_t, bob, bob, axis="z")
    face_r1, face_r2 = 0.85 * r1, 0.85 * r2
    p.cylinder((cx, cy, body_front + face_t / 2.0), face_t, face_r1, face_r2, axis="z")
    front = body_front + face_t
    thick = min(0.015, 0.06 * min(face_r1, face_r2))
    # Hands at ten past ten: the hour hand towards 10, the minute hand towards 2.
    for length, angle in ((0.5, 60.0), (0.75, -60.0)):
        p.box(
            (cx - thick / 2.0, cy, front),
            (cx + thick / 2.0, cy + length * face_r2, front + hand_t),
            turn=("z", angle),
            pivot=(cx, cy, front),
        )
    mark = 0.08 * min(face_r1, face_r2)
    for k in range(4):
        a = math.radians(90.0 * k)
        mx, my = cx + 0.8 * face_r1 * math.cos(a), cy + 0.8 * face_r2 * math.sin(a)
        p.box(
            (mx - mark / 2.0, my - mark / 2.0, front),
            (mx + mark / 2.0, my + mark / 2.0, front + hand_t / 2.0),
        )
    p.cylinder((cx, cy, front + hand_t * 1.5), hand_t, 1.5 * thick, axis="z", sections=12)


def _curtains(p: _Parts, w: float, h: float, d: float) -> None:
    finial = min(0.035, 0.45 * d, 0.05 * w)
    rod = 0.45 * finial
    rod_y = h - finial
    p.cylinder((0.0, rod_y, 0.0), w - 2.0 * finial, rod, rod, axis="x", sections=12)
    for sx in (-1.0, 1.0):
        p.ellipsoid((sx * (w / 2.0 - finial), rod_y, 0.0), (finial, finial, finial))
    panel_w = 0.3 * (w - 2.0 * finial)
    folds = int(_clamp(round(panel_w / 0.08), 3, 10))
    pitch = panel_w / folds
    drop = rod_y - rod - 0.01 * h
    for sx in (-1.0, 1.0):
        edge = sx * (w / 2.0 - 2.0 * finial)
        for i in range(folds):
            x = edge - sx * (i + 0.5) * pitch
            z = (0.25 if i % 2 == 0 else -0.25) * d
            p.cylinder((x, drop / 2.0, z), drop, 0.6 * pitch, 0.25 * d, sections=12)
        ring_x = edge - sx * panel_w / 2.0
        p.box(
            (ring_x - panel_w / 2.0, rod_y - rod, -rod),
            (ring_x + panel_w / 2.0, rod_y + rod * 0.5, rod),
        )


def _cabinet_generic(p: _Parts, w: float, h: float, d: float) -> None:
    plinth = min(0.08, 0.08 * h)
    top_t = min(0.03, 0.05 * h)
    front_t = min(0.015, 0.05 * d)
    body_front = d / 2.0 - front_t
    p.box(
        (-w / 2.0 + 0.03 * w, 0.0, -d / 2.0 + 0.03 * d),
        (w / 2.0 - 0.03 * w, plinth, body_front - 0.03 * d),
    )
    p.box((-w / 2.0, plinth, -d / 2.0), (w / 2.0, h - top_t, body_front))
    p.box((-w / 2.0, h - top_t, -d / 2.0), (w / 2.0, h, d / 2.0))
    gap = min(0.005, 0.01 * h)
    split = plinth + 0.5 * (h - top_t - plinth)
    for y0, y1 in ((plinth + gap, split - gap / 2.0), (split + gap / 2.0, h - top_t - gap)):
        p.box((-w / 2.0 + gap, y0, body_front), (w / 2.0 - gap, y1, d / 2.0))


def _table_generic(p: _Parts, w: float, h: float, d: float) -> None:
    tt = min(0.05, 0.15 * h)
    p.box((-w / 2.0, h - tt, -d / 2.0), (w / 2.0, h, d / 2.0))
    lt = min(0.06, 0.1 * w, 0.1 * d)
    _four_legs(p, w / 2.0 - lt, d / 2.0 - lt, lt, 0.0, h - tt)


def _block_generic(p: _Parts, w: float, h: float, d: float) -> None:
    base = 0.1 * h
    r = 0.2 * min(w, d)
    body_top = h - 0.08 * h
    p.box(
        (-w / 2.0 + 0.05 * w, 0.0, -d / 2.0 + 0.05 * d),
        (w / 2.0 - 0.05 * w, base, d / 2.0 - 0.05 * d),
    )
    y0, y1 = base, body_top
    p.box((-w / 2.0 + r, y0, -d / 2.0), (w / 2.0 - r, y1, d / 2.0))
    p.box((-w / 2.0, y0, -d / 2.0 + r), (w / 2.0, y1, d / 2.0 - r))
    for sx in (-1.0, 1.0):
        for sz in (-1.0, 1.0):
            p.cylinder(
                (sx * (w / 2.0 - r), (y0 + y1) / 2.0, sz * (d / 2.0 - r)), y1 - y0, r, sections=12
            )
    p.cylinder((0.0, (body_top + h) / 2.0, 0.0), h - body_top, 0.4 * w, 0.4 * d)


# --------------------------------------------------------------------------------------
# Categories.

_Builder = Callable[[_Parts, float, float, float], None]

_SHAPES: dict[str, _Builder] = {
    "bed": _bed,
    "sofa": lambda p, w, h, d: _sofa(p, w, h, d, seats=None, rolled=False),
    "armchair": lambda p, w, h, d: _sofa(p, w, h, d, seats=1, rolled=True),
    "chair": _chair,
    "office chair": _office_chair,
    "stool": _stool,
    "bench": _bench,
    "table": lambda p, w, h, d: _table(p, w, h, d, kind="table"),
    "dining table": lambda p, w, h, d: _table(p, w, h, d, kind="dining table"),
    "coffee table": lambda p, w, h, d: _table(p, w, h, d, kind="coffee table"),
    "side table": lambda p, w, h, d: _table(p, w, h, d, kind="side table"),
    "desk": _desk,
    "wardrobe": lambda p, w, h, d: _door_cabinet(
        p, w, h, d, doors=2 if w <= 1.6 else 3, cornice=True
    ),
    "cabinet": lambda p, w, h, d: _door_cabinet(
        p, w, h, d, doors=2 if w >= 0.5 else 1, cornice=False
    ),
    "dresser": lambda p, w, h, d: _drawer_chest(p, w, h, d, legs=False),
    "nightstand": lambda p, w, h, d: _drawer_chest(p, w, h, d, legs=True),
    "bookshelf": lambda p, w, h, d: _shelves(p, w, h, d, books=True),
    "shelf": lambda p, w, h, d: _shelves(p, w, h, d, books=False),
    "tv": _tv,
    "tv stand": _tv_stand,
    "floor lamp": _floor_lamp,
    "table lamp": _table_lamp,
    "plant": _plant,
    "rug": _rug,
    "kitchen cabinet": _kitchen_cabinet,
    "fridge": _fridge,
    "stove": _stove,
    "sink": _sink,
    "toilet": _toilet,
    "bathtub": _bathtub,
    "painting": lambda p, w, h, d: _framed(p, w, h, d, kind="painting"),
    "picture frame": lambda p, w, h, d: _framed(p, w, h, d, kind="picture frame"),
    "mirror": lambda p, w, h, d: _framed(p, w, h, d, kind="mirror"),
    "clock": _clock,
    "curtains": _curtains,
}

_GENERIC: dict[str, _Builder] = {
    "generic cabinet": _cabinet_generic,
    "generic table": _table_generic,
    "generic block": _block_generic,
}

CATEGORIES: frozenset[str] = frozenset(_SHAPES)

_LAMP = "lamp"  # resolved by height: floor lamp or table lamp

_ALIASES: dict[str, str] = {
    "double bed": "bed",
    "single bed": "bed",
    "couch": "sofa",
    "settee": "sofa",
    "loveseat": "sofa",
    "love seat": "sofa",
    "sectional": "sofa",
    "arm chair": "armchair",
    "lounge chair": "armchair",
    "accent chair": "armchair",
    "club chair": "armchair",
    "easy chair": "armchair",
    "wingback chair": "armchair",
    "recliner": "armchair",
    "desk chair": "office chair",
    "swivel chair": "office chair",
    "computer chair": "office chair",
    "gaming chair": "office chair",
    "task chair": "office chair",
    "bar stool": "stool",
    "barstool": "stool",
    "footstool": "stool",
    "kitchen table": "dining table",
    "dinner table": "dining table",
    "cocktail table": "coffee table",
    "end table": "side table",
    "accent table": "side table",
    "bedside table": "nightstand",
    "night table": "nightstand",
    "night stand": "nightstand",
    "bedside cabinet": "nightstand",
    "nightstands": "nightstand",
    "writing desk": "desk",
    "computer desk": "desk",
    "closet": "wardrobe",
    "armoire": "wardrobe",
    "cupboard": "cabinet",
    "storage cabinet": "cabinet",
    "display cabinet": "cabinet",
    "chest of drawers": "dresser",
    "chest": "dresser",
    "drawers": "dresser",
    "commode": "dresser",
    "filing cabinet": "dresser",
    "bookcase": "bookshelf",
    "book shelf": "bookshelf",
    "book case": "bookshelf",
    "shelves": "shelf",
    "shelving": "shelf",
    "shelving unit": "shelf",
    "shelf unit": "shelf",
    "wall shelf": "shelf",
    "television": "tv",
    "tv set": "tv",
    "flat screen": "tv",
    "monitor": "tv",
    "tv unit": "tv stand",
    "tv cabinet": "tv stand",
    "tv console": "tv stand",
    "media console": "tv stand",
    "media unit": "tv stand",
    "entertainment center": "tv stand",
    "standing lamp": "floor lamp",
    "desk lamp": "table lamp",
    "bedside lamp": "table lamp",
    "potted plant": "plant",
    "houseplant": "plant",
    "house plant": "plant",
    "ficus": "plant",
    "flowers": "plant",
    "flower pot": "plant",
    "carpet": "rug",
    "runner": "rug",
    "kitchen counter": "kitchen cabinet",
    "counter": "kitchen cabinet",
    "countertop": "kitchen cabinet",
    "kitchen island": "kitchen cabinet",
    "base cabinet": "kitchen cabinet",
    "wall cabinet": "kitchen cabinet",
    "kitchen unit": "kitchen cabinet",
    "refrigerator": "fridge",
    "freezer": "fridge",
    "oven": "stove",
    "cooker": "stove",
    "range": "stove",
    "cooktop": "stove",
    "washbasin": "sink",
    "basin": "sink",
    "vanity": "sink",
    "wc": "toilet",
    "bath": "bathtub",
    "tub": "bathtub",
    "bath tub": "bathtub",
    "art": "painting",
    "artwork": "painting",
    "wall art": "painting",
    "canvas": "painting",
    "poster": "painting",
    "picture": "picture frame",
    "photo frame": "picture frame",
    "frame": "picture frame",
    "wall mirror": "mirror",
    "curtain": "curtains",
    "drapes": "curtains",
    "drape": "curtains",
    "lamp": _LAMP,
}

# When nothing matches exactly: the last word's ending decides, checked in this order.
_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("nightstand", "nightstand"),
    ("table", "table"),
    ("desk", "desk"),
    ("bed", "bed"),
    ("armchair", "armchair"),
    ("chair", "chair"),
    ("lamp", _LAMP),
    ("light", _LAMP),
    ("sofa", "sofa"),
    ("couch", "sofa"),
    ("stool", "stool"),
    ("bench", "bench"),
    ("bookcase", "bookshelf"),
    ("bookshelf", "bookshelf"),
    ("shelf", "shelf"),
    ("shelves", "shelf"),
    ("wardrobe", "wardrobe"),
    ("cabinet", "cabinet"),
    ("cupboard", "cabinet"),
    ("dresser", "dresser"),
    ("plant", "plant"),
    ("tree", "plant"),
    ("rug", "rug"),
    ("carpet", "rug"),
    ("mat", "rug"),
    ("mirror", "mirror"),
    ("clock", "clock"),
    ("curtain", "curtains"),
    ("curtains", "curtains"),
    ("drapes", "curtains"),
    ("painting", "painting"),
    ("poster", "painting"),
    ("frame", "picture frame"),
    ("fridge", "fridge"),
    ("refrigerator", "fridge"),
    ("stove", "stove"),
    ("oven", "stove"),
    ("sink", "sink"),
    ("toilet", "toilet"),
    ("bathtub", "bathtub"),
    ("tv", "tv"),
    ("television", "tv"),
)


def normalize_category(category: str) -> str:
    """Lower case, words separated by single spaces: "Coffee-Table" → "coffee table"."""
    words = re.sub(r"[^a-z0-9]+", " ", category.lower()).split()
    return " ".join(words)


def _named_shape(name: str) -> str | None:
    if name in _SHAPES:
        return name
    if name in _ALIASES:
        return _ALIASES[name]
    return None


def shape_for(category: str, size: Size) -> str:
    """The shape that ``build_mesh`` draws for this category and size.

    One of ``CATEGORIES``, or ``"generic cabinet"``, ``"generic table"`` or
    ``"generic block"`` for categories it does not know.
    """
    w, h, d = _check_size(size)
    name = normalize_category(category)
    shape = _named_shape(name)
    if shape is None and name.endswith("s"):
        shape = _named_shape(name[:-1])
    if shape is None and name:
        last = name.split()[-1]
        singular = last[:-1] if last.endswith("s") and not last.endswith("ss") else last
        for suffix, target in _SUFFIXES:
            if last.endswith(suffix) or singular.endswith(suffix):
                shape = target
                break
    if shape == _LAMP:
        return "floor lamp" if h >= 1.0 else "table lamp"
    if shape is not None:
        return shape
    largest = max(w, h, d)
    footprint = max(w, d)
    if largest <= 0.45:
        return "generic block"
    if h < 0.75 * footprint and min(w, d) >= 0.25 * footprint:
        return "generic table"
    return "generic cabinet"


def _check_size(size: Sequence[float]) -> Size:
    if len(size) != 3:
        raise ValueError(f"size must have three components, got {len(size)}")
    w, h, d = (float(v) for v in size)
    if not all(math.isfinite(v) and v > 0 for v in (w, h, d)):
        raise ValueError(f"every size component must be positive and finite, got {tuple(size)}")
    return w, h, d


# --------------------------------------------------------------------------------------
# Meshes, materials and GLB.


def _geometry(category: str, size: Size) -> tuple[str, int, _Floats, _Ints, _Floats, _Floats]:
    w, h, d = _check_size(size)
    shape = shape_for(category, (w, h, d))
    parts = _Parts()
    builder = _SHAPES.get(shape) or _GENERIC[shape]
    builder(parts, w, h, d)
    vertices, faces, normals, uv = parts.build((w, h, d))
    return shape, parts.count, vertices, faces, normals, uv


def _mesh(
    category: str, size: Size, material: trimesh.visual.material.PBRMaterial
) -> trimesh.Trimesh:
    shape, count, vertices, faces, normals, uv = _geometry(category, size)
    mesh = trimesh.Trimesh(
        vertices=vertices,
        faces=faces,
        vertex_normals=normals,
        visual=trimesh.visual.TextureVisuals(uv=uv, material=material),
        process=False,
        validate=False,
    )
    mesh.metadata.update({"category": category, "shape": shape, "parts": count})
    return mesh


def _plain_material() -> trimesh.visual.material.PBRMaterial:
    return trimesh.visual.material.PBRMaterial(
        name="holodeck-neutral",
        baseColorFactor=NEUTRAL_COLOR,
        metallicFactor=0.0,
        roughnessFactor=0.85,
    )


def _textured_material(image: Image.Image) -> trimesh.visual.material.PBRMaterial:
    return trimesh.visual.material.PBRMaterial(
        name="holodeck-texture",
        baseColorTexture=image,
        metallicFactor=0.0,
        roughnessFactor=0.8,
    )


def _open_image(data: bytes) -> Image.Image:
    try:
        image: Image.Image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ValueError(f"image_png is not a readable image: {exc}") from exc
    if image.mode not in ("RGB", "RGBA", "L", "LA"):
        alpha = "A" in image.mode or "transparency" in image.info
        image = image.convert("RGBA" if alpha else "RGB")
    return image


def build_mesh(
    category: str, size: tuple[float, float, float], image_png: bytes | None = None
) -> trimesh.Trimesh:
    """One mesh for an object of ``category`` whose bounding box is ``size``.

    The mesh sits in the object's frame (+Y up, bottom centre at the origin, front +Z),
    has a UV per vertex, and carries ``image_png`` as its base colour texture, or a plain
    neutral PBR material without one. ``mesh.metadata`` names the ``shape`` drawn and the
    number of ``parts`` concatenated.
    """
    if image_png is None:
        return _mesh(category, size, _plain_material())
    return _mesh(category, size, _textured_material(_open_image(image_png)))


_EMBEDDABLE = {"PNG": "image/png", "JPEG": "image/jpeg"}


def _sniff(data: bytes) -> str | None:
    """The glTF MIME type if the bytes are a sound PNG or JPEG, None for other images."""
    try:
        image = Image.open(io.BytesIO(data))
        kind = image.format
        image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ValueError(f"image_png is not a readable image: {exc}") from exc
    return _EMBEDDABLE.get(kind or "")


def mesh_glb(
    category: str, size: tuple[float, float, float], image_png: bytes | None = None
) -> bytes:
    """``build_mesh`` exported as GLB bytes.

    A PNG or JPEG texture is embedded byte for byte: trimesh exports the mesh with a
    one-pixel stand-in texture and the image's own bytes replace it in the binary chunk,
    which spares decoding and re-encoding the image.
    """
    if image_png is None:
        return _export(_mesh(category, size, _plain_material()))
    mime = _sniff(image_png)
    if mime is None:
        return _export(build_mesh(category, size, image_png))
    stand_in = _textured_material(Image.new("RGB", (1, 1), (255, 255, 255)))
    glb = _export(_mesh(category, size, stand_in))
    return _replace_image(glb, image_png, mime)


def _export(mesh: trimesh.Trimesh) -> bytes:
    data: Any = mesh.export(file_type="glb")
    return bytes(data)


_GLB_MAGIC = b"glTF"
_CHUNK_JSON = b"JSON"
_CHUNK_BIN = b"BIN\x00"


def _pad(data: bytes, fill: bytes) -> bytes:
    return data + fill * ((-len(data)) % 4)


def _replace_image(glb: bytes, image: bytes, mime: str) -> bytes:
    """Swap the only image of a single-buffer GLB for ``image`` and relay the buffer."""
    magic, version, _ = struct.unpack_from("<4sII", glb, 0)
    json_length, json_kind = struct.unpack_from("<I4s", glb, 12)
    if magic != _GLB_MAGIC or version != 2 or json_kind != _CHUNK_JSON:
        raise ValueError("not a glTF 2 binary")
    tree = json.loads(glb[20 : 20 + json_length])
    start = 20 + json_length
    bin_length, bin_kind = struct.unpack_from("<I4s", glb, start)
    if bin_kind != _CHUNK_BIN or len(tree.get("buffers", ())) != 1:
        raise ValueError("expected one binary buffer")
    binary = glb[start + 8 : start + 8 + bin_length]
    images = tree.get("images", [])
    if len(images) != 1:
        raise ValueError("expected exactly one image")
    target = images[0]["bufferView"]
    blobs: list[bytes] = []
    cursor = 0
    for index, view in enumerate(tree["bufferViews"]):
        offset = view.get("byteOffset", 0)
        blob = image if index == target else binary[offset : offset + view["byteLength"]]
        view["byteOffset"] = cursor
        view["byteLength"] = len(blob)
        padded = _pad(blob, b"\x00")
        blobs.append(padded)
        cursor += len(padded)
    images[0]["mimeType"] = mime
    tree["buffers"][0]["byteLength"] = cursor
    body = _pad(json.dumps(tree, separators=(",", ":")).encode("utf-8"), b" ")
    payload = b"".join(blobs)
    total = 12 + 8 + len(body) + 8 + len(payload)
    return b"".join(
        (
            struct.pack("<4sII", _GLB_MAGIC, 2, total),
            struct.pack("<I4s", len(body), _CHUNK_JSON),
            body,
            struct.pack("<I4s", len(payload), _CHUNK_BIN),
            payload,
        )
    )
