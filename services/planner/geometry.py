"""Plane geometry for the solver, vectorised over many candidate poses with numpy.

A pose is a rectangle of width ``w`` (local x) and depth ``d`` (local z, the object's
front) centred at ``(x, z)`` and turned by ``rot`` degrees about +Y. The corners come
out exactly as :meth:`shared.layout.PlacedObject.footprint` computes them, so what the
solver checks is what the layout holds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from shared.layout import Vec2

# Arrays of floats, indices or flags; numpy's element types are left to numpy.
Array = npt.NDArray[Any]
Mask = npt.NDArray[Any]
EPS = 1e-9

_PAIRS_AT_ONCE = 1 << 18  # point pairs measured in one numpy operation at most
_SIGNS = np.array([(-1.0, -1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0)]) / 2.0


def corners(
    x: Array | float,
    z: Array | float,
    w: Array | float,
    d: Array | float,
    rot: Array | float,
) -> Array:
    """The rotated footprints: an (N, 4, 2) array of (x, z) corners."""
    x, z, w, d, rot = np.broadcast_arrays(
        np.atleast_1d(np.asarray(x, dtype=float)),
        np.atleast_1d(np.asarray(z, dtype=float)),
        np.atleast_1d(np.asarray(w, dtype=float)),
        np.atleast_1d(np.asarray(d, dtype=float)),
        np.atleast_1d(np.asarray(rot, dtype=float)),
    )
    yaw = np.radians(rot)
    cos, sin = np.cos(yaw)[:, None], np.sin(yaw)[:, None]
    dx = _SIGNS[None, :, 0] * w[:, None]
    dz = _SIGNS[None, :, 1] * d[:, None]
    out = np.empty((x.shape[0], 4, 2))
    out[:, :, 0] = x[:, None] + dx * cos + dz * sin
    out[:, :, 1] = z[:, None] - dx * sin + dz * cos
    return out


def bounds(quads: Array) -> Array:
    """Axis-aligned boxes (N, 4) = (x0, z0, x1, z1) of (N, 4, 2) footprints."""
    return np.concatenate([quads.min(axis=1), quads.max(axis=1)], axis=1)


def aligned(rot: Array | float) -> Mask:
    """Whether a rotation keeps a rectangle's edges along the axes."""
    r = np.mod(np.asarray(rot, dtype=float), 90.0)
    return np.asarray((r < 1e-6) | (r > 90.0 - 1e-6))


def front(rot: Array | float) -> tuple[Array, Array]:
    yaw = np.radians(np.asarray(rot, dtype=float))
    return np.sin(yaw), np.cos(yaw)


def side(rot: Array | float) -> tuple[Array, Array]:
    """The local +X axis in the x–z plane."""
    yaw = np.radians(np.asarray(rot, dtype=float))
    return np.cos(yaw), -np.sin(yaw)


def yaw_towards(dx: float, dz: float) -> float:
    """The yaw in degrees that turns a front (+Z) towards the direction (dx, dz)."""
    return round(math.degrees(math.atan2(dx, dz)), 9) % 360.0


def to_local(
    px: Array | float, pz: Array | float, cx: float, cz: float, rot: float
) -> tuple[Array, Array]:
    """Points in the frame of a pose centred at (cx, cz) turned by ``rot``."""
    yaw = math.radians(rot)
    cos, sin = math.cos(yaw), math.sin(yaw)
    dx = np.asarray(px, dtype=float) - cx
    dz = np.asarray(pz, dtype=float) - cz
    return dx * cos - dz * sin, dx * sin + dz * cos


def rect_point_distance(
    px: Array | float, pz: Array | float, cx: float, cz: float, w: float, d: float, rot: float
) -> Array:
    """Distance from points to a rectangle (0 inside)."""
    lx, lz = to_local(px, pz, cx, cz, rot)
    ex = np.maximum(np.abs(lx) - w / 2, 0.0)
    ez = np.maximum(np.abs(lz) - d / 2, 0.0)
    return np.asarray(np.hypot(ex, ez))


def rects_point_distance(
    px: float, pz: float, x: Array, z: Array, w: Array | float, d: Array | float, rot: Array
) -> Array:
    """Distance from one point to each of N rectangles (0 inside)."""
    yaw = np.radians(rot)
    cos, sin = np.cos(yaw), np.sin(yaw)
    dx, dz = px - x, pz - z
    lx, lz = dx * cos - dz * sin, dx * sin + dz * cos
    ex = np.maximum(np.abs(lx) - np.asarray(w) / 2, 0.0)
    ez = np.maximum(np.abs(lz) - np.asarray(d) / 2, 0.0)
    return np.asarray(np.hypot(ex, ez))


def closest_on_rect(
    px: Array, pz: Array, cx: float, cz: float, w: float, d: float, rot: float
) -> tuple[Array, Array]:
    """The point of a rectangle (edge or inside) closest to each point."""
    lx, lz = to_local(px, pz, cx, cz, rot)
    lx = np.clip(lx, -w / 2, w / 2)
    lz = np.clip(lz, -d / 2, d / 2)
    yaw = math.radians(rot)
    cos, sin = math.cos(yaw), math.sin(yaw)
    return cx + lx * cos + lz * sin, cz - lx * sin + lz * cos


def ray_hits_rect(
    ox: Array, oz: Array, dx: Array, dz: Array, cx: float, cz: float, w: float, d: float, rot: float
) -> Mask:
    """Whether rays from (ox, oz) along (dx, dz) meet a rectangle (slab test)."""
    lx, lz = to_local(ox, oz, cx, cz, rot)
    yaw = math.radians(rot)
    cos, sin = math.cos(yaw), math.sin(yaw)
    vx = dx * cos - dz * sin
    vz = dx * sin + dz * cos
    t_near = np.zeros_like(lx)
    t_far = np.full_like(lx, np.inf)
    ok = np.ones(lx.shape, dtype=bool)
    for origin, direction, half in ((lx, vx, w / 2), (lz, vz, d / 2)):
        flat = np.abs(direction) < 1e-12
        ok &= ~flat | (np.abs(origin) <= half)
        safe = np.where(flat, 1.0, direction)
        t1 = (-half - origin) / safe
        t2 = (half - origin) / safe
        lo = np.where(flat, -np.inf, np.minimum(t1, t2))
        hi = np.where(flat, np.inf, np.maximum(t1, t2))
        t_near = np.maximum(t_near, lo)
        t_far = np.minimum(t_far, hi)
    return np.asarray(ok & (t_near <= t_far))


def separated(a: Array, b: Array, gap: float = 0.0) -> Mask:
    """Separating-axis test for pairs of rectangles: (N, 4, 2) against (N, 4, 2) or
    (4, 2). True where some axis keeps them at least ``gap`` apart."""
    if b.ndim == 2:
        b = np.broadcast_to(b, a.shape)
    axes = np.stack(
        [a[:, 1] - a[:, 0], a[:, 3] - a[:, 0], b[:, 1] - b[:, 0], b[:, 3] - b[:, 0]], axis=1
    )
    norms = np.linalg.norm(axes, axis=2, keepdims=True)
    axes = axes / np.maximum(norms, EPS)
    pa = np.einsum("nkc,npc->nkp", axes, a)
    pb = np.einsum("nkc,npc->nkp", axes, b)
    apart = (pa.max(axis=2) + gap <= pb.min(axis=2) + 1e-7) | (
        pb.max(axis=2) + gap <= pa.min(axis=2) + 1e-7
    )
    return np.asarray(apart.any(axis=1))


def nearest_distance(px: Array, pz: Array, qx: Array, qz: Array) -> Array:
    """Distance from each point p to the nearest point q (``inf`` without any q).

    Taken in blocks of points, so the pairs in memory at once stay bounded however many
    there are of each.
    """
    out = np.full(px.shape[0], np.inf)
    if not qx.shape[0]:
        return out
    block = max(1, _PAIRS_AT_ONCE // qx.shape[0])
    for start in range(0, px.shape[0], block):
        x, z = px[start : start + block, None], pz[start : start + block, None]
        out[start : start + block] = np.hypot(x - qx[None, :], z - qz[None, :]).min(axis=1)
    return out


def point_segment_distance(
    px: Array, pz: Array, ax: float, az: float, bx: float, bz: float
) -> Array:
    vx, vz = bx - ax, bz - az
    length2 = vx * vx + vz * vz
    t = np.clip(((px - ax) * vx + (pz - az) * vz) / max(length2, EPS), 0.0, 1.0)
    return np.asarray(np.hypot(px - (ax + t * vx), pz - (az + t * vz)))


def rect_gap(quads: Array, target: Array) -> Array:
    """Smallest distance between each of N rectangles (N, 4, 2) and one (4, 2) (0 when
    they touch or overlap)."""
    out = np.empty(quads.shape[0])
    lo, hi = quads.min(axis=1), quads.max(axis=1)
    tlo, thi = target.min(axis=0), target.max(axis=0)
    straight = _axis_aligned(quads)
    if _axis_aligned(target[None])[0] and straight.any():
        sep = np.maximum(np.maximum(tlo[None] - hi, lo - thi[None]), 0.0)
        out[straight] = np.hypot(sep[straight, 0], sep[straight, 1])
    else:
        straight[:] = False
    turned = ~straight
    if turned.any():
        out[turned] = _rect_gap_exact(quads[turned], target)
    return out


def _axis_aligned(quads: Array) -> Mask:
    edge = quads[:, 1] - quads[:, 0]
    return np.asarray((np.abs(edge[:, 0]) < 1e-9) | (np.abs(edge[:, 1]) < 1e-9))


def _rect_gap_exact(quads: Array, target: Array) -> Array:
    # Corners of the N rectangles against the target's 4 edges: (N, 4 corners, 4 edges).
    a = target
    b = np.roll(target, -1, axis=0)
    v = b - a
    length2 = np.maximum((v * v).sum(axis=1), EPS)
    rel = quads[:, :, None, :] - a[None, None, :, :]
    t = np.clip((rel * v[None, None]).sum(axis=3) / length2[None, None], 0.0, 1.0)
    off = rel - t[..., None] * v[None, None]
    best = np.sqrt((off * off).sum(axis=3)).min(axis=(1, 2))
    # The target's corners against the N rectangles' edges: (N, 4 edges, 4 corners).
    qa = quads
    qv = np.roll(quads, -1, axis=1) - quads
    qlength2 = np.maximum((qv * qv).sum(axis=2), EPS)
    rel = target[None, None, :, :] - qa[:, :, None, :]
    t = np.clip((rel * qv[:, :, None, :]).sum(axis=3) / qlength2[:, :, None], 0.0, 1.0)
    off = rel - t[..., None] * qv[:, :, None, :]
    best = np.minimum(best, np.sqrt((off * off).sum(axis=3)).min(axis=(1, 2)))
    overlapping = ~separated(quads, target, 0.0)
    return np.asarray(np.where(overlapping, 0.0, best))


def points_in_polygon(px: Array, pz: Array, polygon: Sequence[Vec2]) -> Mask:
    """Crossing-number test of many points against one polygon."""
    inside = np.zeros(np.shape(px), dtype=bool)
    n = len(polygon)
    for i in range(n):
        x1, z1 = polygon[i]
        x2, z2 = polygon[(i + 1) % n]
        if z1 == z2:
            continue
        straddle = (z1 > pz) != (z2 > pz)
        cross = x1 + (pz - z1) * (x2 - x1) / (z2 - z1)
        inside ^= straddle & (px < cross)
    return np.asarray(inside)


def polygon_contains(quads: Array, polygon: Sequence[Vec2]) -> Mask:
    """Whether each rectangle (N, 4, 2) lies inside a simple polygon: its corners are
    inside, no polygon corner pokes into it and no wall crosses its edges."""
    ok: Mask = np.asarray(points_in_polygon(quads[:, :, 0], quads[:, :, 1], polygon).all(axis=1))
    if not ok.any():
        return ok
    poly = np.asarray(polygon, dtype=float)
    centre = quads.mean(axis=1)
    ex = quads[:, 1] - quads[:, 0]
    ez = quads[:, 3] - quads[:, 0]
    w = np.linalg.norm(ex, axis=1)
    d = np.linalg.norm(ez, axis=1)
    ux = ex / np.maximum(w, EPS)[:, None]
    uz = ez / np.maximum(d, EPS)[:, None]
    rel = poly[None, :, :] - centre[:, None, :]
    lx = np.einsum("nvc,nc->nv", rel, ux)
    lz = np.einsum("nvc,nc->nv", rel, uz)
    poke = (np.abs(lx) < w[:, None] / 2 - 1e-7) & (np.abs(lz) < d[:, None] / 2 - 1e-7)
    ok &= ~poke.any(axis=1)
    a = poly
    b = np.roll(poly, -1, axis=0)
    for k in range(4):
        p = quads[:, k][:, None, :]
        q = quads[:, (k + 1) % 4][:, None, :]
        d1 = _orient(a[None], b[None], p)
        d2 = _orient(a[None], b[None], q)
        d3 = _orient(p, q, a[None])
        d4 = _orient(p, q, b[None])
        crossing = (d1 * d2 < -1e-12) & (d3 * d4 < -1e-12)
        ok &= ~crossing.any(axis=1)
    return np.asarray(ok)


def _orient(a: Array, b: Array, c: Array) -> Array:
    return np.asarray(
        (b[..., 0] - a[..., 0]) * (c[..., 1] - a[..., 1])
        - (b[..., 1] - a[..., 1]) * (c[..., 0] - a[..., 0])
    )


def signed_area(polygon: Sequence[Vec2]) -> float:
    total = 0.0
    for i, (x1, z1) in enumerate(polygon):
        x2, z2 = polygon[(i + 1) % len(polygon)]
        total += x2 * z1 - x1 * z2
    return total / 2.0


def centroid(polygon: Sequence[Vec2]) -> Vec2:
    """The area centroid of a simple polygon."""
    area = 0.0
    cx = cz = 0.0
    for i, (x1, z1) in enumerate(polygon):
        x2, z2 = polygon[(i + 1) % len(polygon)]
        cross = x1 * z2 - x2 * z1
        area += cross
        cx += (x1 + x2) * cross
        cz += (z1 + z2) * cross
    if abs(area) < EPS:
        xs = [p[0] for p in polygon]
        zs = [p[1] for p in polygon]
        return sum(xs) / len(xs), sum(zs) / len(zs)
    return cx / (3 * area), cz / (3 * area)


def convex_corners(polygon: Sequence[Vec2]) -> list[Vec2]:
    """The polygon's corners that point out of the room (where two walls meet inside it
    at less than 180°), for a polygon counter-clockwise in the layout's sense."""
    out = []
    n = len(polygon)
    for i in range(n):
        px, pz = polygon[i - 1]
        x, z = polygon[i]
        nx, nz = polygon[(i + 1) % n]
        cross = (x - px) * (nz - z) - (z - pz) * (nx - x)
        if cross < -1e-9:
            out.append((x, z))
    return out
