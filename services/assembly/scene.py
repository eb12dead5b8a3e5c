"""Scene assembly: the room shell and every placed object in one glTF 2.0 binary.

The room shell (a triangulated floor and one wall slab per polygon edge, with the
doors and windows cut out) is built with trimesh and exported as a GLB. The objects'
GLBs are then merged into it at the glTF level: their accessors, buffer views,
meshes, materials, textures and images are copied over with their indices shifted, so
textures keep their original encoded bytes and are never decoded or re-encoded.
Each object becomes one node named by its id, translated to ``position`` and turned
``rotation`` degrees about +Y.
"""

from __future__ import annotations

import base64
import itertools
import json
import math
import re
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import trimesh
from PIL import Image
from trimesh.visual.material import PBRMaterial

from services.imagegen.surfaces import surface_color, surface_kind, surface_texture
from shared.layout import Layout, Opening, PlacedObject, Room, Vec2

WALL_THICKNESS = 0.1
# Floor and wall textures: 512 px over about a metre is 2 mm a pixel, finer than a
# viewer shows a room at.
SURFACE_TEXTURE_PX = 512
# A mitred wall end may reach at most this many thicknesses past its corner.
MITER_LIMIT = 4.0
_EPS = 1e-9

_GLB_MAGIC = b"glTF"
_CHUNK_JSON = 0x4E4F534A
_CHUNK_BIN = 0x004E4942

Json = dict[str, Any]


# ---------------------------------------------------------------------- materials


@dataclass(frozen=True)
class SurfaceLook:
    color: tuple[int, int, int]  # sRGB
    roughness: float
    metallic: float = 0.0


# How rough (and how metallic) each finish word is; its colour and pattern are the
# finish texture's (services/imagegen/surfaces.py).
SURFACE_FINISHES: dict[str, tuple[float, float]] = {
    "oak": (0.6, 0.0),
    "walnut": (0.55, 0.0),
    "maple": (0.6, 0.0),
    "pine": (0.65, 0.0),
    "cherry": (0.55, 0.0),
    "teak": (0.6, 0.0),
    "birch": (0.6, 0.0),
    "bamboo": (0.6, 0.0),
    "wood": (0.6, 0.0),
    "hardwood": (0.55, 0.0),
    "parquet": (0.55, 0.0),
    "laminate": (0.5, 0.0),
    "vinyl": (0.5, 0.0),
    "rubber": (0.9, 0.0),
    "linoleum": (0.55, 0.0),
    "tile": (0.35, 0.0),
    "tiles": (0.35, 0.0),
    "ceramic": (0.3, 0.0),
    "porcelain": (0.25, 0.0),
    "terracotta": (0.7, 0.0),
    "marble": (0.2, 0.0),
    "granite": (0.35, 0.0),
    "stone": (0.8, 0.0),
    "slate": (0.7, 0.0),
    "concrete": (0.85, 0.0),
    "cement": (0.85, 0.0),
    "terrazzo": (0.4, 0.0),
    "carpet": (1.0, 0.0),
    "rug": (1.0, 0.0),
    "cork": (0.9, 0.0),
    "plaster": (0.9, 0.0),
    "paint": (0.85, 0.0),
    "painted": (0.85, 0.0),
    "drywall": (0.9, 0.0),
    "wallpaper": (0.9, 0.0),
    "brick": (0.9, 0.0),
    "panel": (0.6, 0.0),
    "paneling": (0.6, 0.0),
    "metal": (0.4, 1.0),
    "steel": (0.35, 1.0),
    "glass": (0.05, 0.0),
}

_DEFAULT_FLOOR = (0.6, 0.0)
_DEFAULT_WALL = (0.9, 0.0)


def surface_look(material: str, *, wall: bool) -> SurfaceLook:
    """Colour, roughness and metalness of a floor or wall finish such as "oak" or
    "white paint": the colour is the one its texture is tinted with, roughness and
    metalness those of the first finish word known here."""
    words = re.findall(r"[a-z]+", material.lower())
    default = _DEFAULT_WALL if wall else _DEFAULT_FLOOR
    roughness, metallic = next(
        (SURFACE_FINISHES[w] for w in words if w in SURFACE_FINISHES), default
    )
    color = surface_color(material, surface_kind(material, wall=wall))
    return SurfaceLook(color, roughness, metallic)


def _srgb_to_linear(channel: int) -> float:
    c = channel / 255.0
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def _pbr(name: str, look: SurfaceLook) -> PBRMaterial:
    # glTF base colour factors are linear, not sRGB.
    rgba = [_srgb_to_linear(c) for c in look.color] + [1.0]
    return PBRMaterial(
        name=name,
        baseColorFactor=rgba,
        metallicFactor=float(look.metallic),
        roughnessFactor=float(look.roughness),
    )


# ------------------------------------------------------------------ triangulation


def _cross(o: Vec2, a: Vec2, b: Vec2) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def _inside_triangle(p: Vec2, a: Vec2, b: Vec2, c: Vec2, sign: float) -> bool:
    """Whether ``p`` lies inside or on the triangle ``abc`` of orientation ``sign``."""
    return (
        _cross(a, b, p) * sign >= -_EPS
        and _cross(b, c, p) * sign >= -_EPS
        and _cross(c, a, p) * sign >= -_EPS
    )


def triangulate(polygon: Sequence[Vec2]) -> list[tuple[int, int, int]]:
    """Ear-clipping triangulation of a simple polygon (convex or not).

    Returns index triples into ``polygon``, each wound like the polygon itself.
    Collinear and repeated vertices are dropped without producing slivers.
    """
    count = len(polygon)
    if count < 3:
        return []
    signed = sum(_cross((0.0, 0.0), polygon[i], polygon[(i + 1) % count]) for i in range(count))
    if abs(signed) < _EPS:
        return []
    sign = 1.0 if signed > 0 else -1.0
    remaining = list(range(count))
    triangles: list[tuple[int, int, int]] = []
    while len(remaining) > 3:
        n = len(remaining)
        clipped = False
        for k in range(n):
            i_prev, i, i_next = remaining[k - 1], remaining[k], remaining[(k + 1) % n]
            a, b, c = polygon[i_prev], polygon[i], polygon[i_next]
            turn = _cross(a, b, c) * sign
            if abs(turn) <= _EPS:
                # Collinear or repeated vertex: drop it, no triangle.
                remaining.pop(k)
                clipped = True
                break
            if turn < 0:
                continue  # reflex vertex
            blocked = False
            for j in remaining:
                if j in (i_prev, i, i_next):
                    continue
                p = polygon[j]
                if p in (a, b, c):
                    continue
                if _inside_triangle(p, a, b, c, sign):
                    blocked = True
                    break
            if not blocked:
                triangles.append((i_prev, i, i_next))
                remaining.pop(k)
                clipped = True
                break
        if not clipped:
            # Not a simple polygon (or numerically degenerate): clip the most convex
            # vertex so the loop always terminates.
            k = max(
                range(n),
                key=lambda m: (
                    _cross(
                        polygon[remaining[m - 1]],
                        polygon[remaining[m]],
                        polygon[remaining[(m + 1) % n]],
                    )
                    * sign
                ),
            )
            triangles.append((remaining[k - 1], remaining[k], remaining[(k + 1) % n]))
            remaining.pop(k)
    a, b, c = (polygon[i] for i in remaining)
    if abs(_cross(a, b, c)) > _EPS:
        triangles.append((remaining[0], remaining[1], remaining[2]))
    return triangles


def floor_mesh(room: Room) -> trimesh.Trimesh:
    """The room polygon at y = 0, facing +Y."""
    polygon = [(float(x), float(z)) for x, z in room.polygon]
    vertices = np.array([(x, 0.0, z) for x, z in polygon], dtype=np.float64)
    faces = np.array(triangulate(polygon), dtype=np.int64).reshape(-1, 3)
    # With (x, 0, z) vertices the face normal's y is minus the (x, z) cross product,
    # so +Y faces are the ones clockwise in the (x, z) plane.
    for row, (i, j, k) in enumerate(faces):
        if _cross(polygon[i], polygon[j], polygon[k]) > 0:
            faces[row] = (i, k, j)
    return trimesh.Trimesh(vertices=vertices, faces=faces, process=False)


# ---------------------------------------------------------------------------- walls


@dataclass(frozen=True)
class WallPiece:
    """A solid rectangle of wall: [s0, s1] along the wall, [y0, y1] in height."""

    s0: float
    s1: float
    y0: float
    y1: float


def wall_pieces(length: float, height: float, openings: Iterable[Opening]) -> list[WallPiece]:
    """Split a wall face into solid rectangles around its openings.

    The wall is cut at every opening edge along its length; in each strip the solid
    parts are the height intervals not covered by an opening spanning that strip
    (below the sill, above the top, or all of it beside the openings).
    """
    holes: list[tuple[float, float, float, float]] = []
    for opening in openings:
        s0 = max(0.0, opening.offset - opening.width / 2.0)
        s1 = min(length, opening.offset + opening.width / 2.0)
        y0 = max(0.0, opening.sill)
        y1 = min(height, opening.sill + opening.height)
        if s1 - s0 > _EPS and y1 - y0 > _EPS:
            holes.append((s0, s1, y0, y1))
    cuts = sorted({0.0, length, *(h[0] for h in holes), *(h[1] for h in holes)})
    pieces: list[WallPiece] = []
    for s0, s1 in itertools.pairwise(cuts):
        if s1 - s0 <= _EPS:
            continue
        middle = (s0 + s1) / 2.0
        covered = sorted((h[2], h[3]) for h in holes if h[0] < middle < h[1])
        y = 0.0
        for y0, y1 in covered:
            if y0 - y > _EPS:
                pieces.append(WallPiece(s0, s1, y, y0))
            y = max(y, y1)
        if height - y > _EPS:
            pieces.append(WallPiece(s0, s1, y, height))
    return pieces


def _miter(
    along: np.ndarray,
    outward: np.ndarray,
    other_along: np.ndarray,
    other_outward: np.ndarray,
    thickness: float,
) -> float:
    """Where this wall's outer face meets the neighbour's, as a distance along ``along``.

    With both walls leaving the shared corner c, solves
    c + t·outward + s·along = c + t·other_outward + u·other_along for s. Negative s
    reaches back past the corner (convex corner), positive s stops short (reflex).
    """
    det = along[0] * -other_along[1] - along[1] * -other_along[0]
    if abs(det) < 1e-6:
        return 0.0  # collinear walls meet flush
    rhs = thickness * (other_outward - outward)
    s = (rhs[0] * -other_along[1] - rhs[1] * -other_along[0]) / det
    limit = MITER_LIMIT * thickness
    return float(min(max(s, -limit), limit))


def _prism(plan: Sequence[np.ndarray], y0: float, y1: float) -> tuple[np.ndarray, np.ndarray]:
    """Vertices and outward faces of a vertical prism over a 4-point (x, z) outline."""
    points = [(float(p[0]), float(p[1])) for p in plan]
    area = sum(
        points[(i + 1) % 4][0] * points[i][1] - points[i][0] * points[(i + 1) % 4][1]
        for i in range(4)
    )
    if area < 0:
        points.reverse()  # make it counter-clockwise seen from above (positive area)
    vertices = np.array(
        [(x, y0, z) for x, z in points] + [(x, y1, z) for x, z in points], dtype=np.float64
    )
    faces = [(4, 5, 6), (4, 6, 7), (0, 2, 1), (0, 3, 2)]
    for k in range(4):
        n = (k + 1) % 4
        faces += [(k, n, n + 4), (k, n + 4, k + 4)]
    return vertices, np.array(faces, dtype=np.int64)


def wall_mesh(room: Room, index: int, thickness: float = WALL_THICKNESS) -> trimesh.Trimesh | None:
    """Wall ``index`` as a slab outside its polygon edge, openings cut out.

    Returns None when the openings leave nothing of the wall.
    """
    count = len(room.polygon)
    a = np.asarray(room.polygon[index % count], dtype=np.float64)
    b = np.asarray(room.polygon[(index + 1) % count], dtype=np.float64)
    length = float(np.hypot(*(b - a)))
    if length < _EPS:
        return None

    along = (b - a) / length
    outward = np.array((-along[1], along[0]))  # minus Room.inward_normal

    def neighbour(i: int) -> tuple[np.ndarray, np.ndarray]:
        p, q = (np.asarray(v, dtype=np.float64) for v in room.wall_segment(i))
        span = float(np.hypot(*(q - p)))
        if span < _EPS:
            return along, outward  # a repeated vertex: treat as a straight continuation
        direction = (q - p) / span
        return direction, np.array((-direction[1], direction[0]))

    start = _miter(along, outward, *neighbour((index - 1) % count), thickness)
    end = length + _miter(along, outward, *neighbour((index + 1) % count), thickness)

    openings = [o for o in (*room.doors, *room.windows) if o.wall % count == index]
    all_vertices: list[np.ndarray] = []
    all_faces: list[np.ndarray] = []
    offset = 0
    for piece in wall_pieces(length, room.height, openings):
        outer0 = start if piece.s0 <= _EPS else piece.s0
        outer1 = end if piece.s1 >= length - _EPS else piece.s1
        outer0 = min(outer0, outer1)
        plan = [
            a + along * piece.s0,
            a + along * piece.s1,
            a + along * outer1 + outward * thickness,
            a + along * outer0 + outward * thickness,
        ]
        vertices, faces = _prism(plan, piece.y0, piece.y1)
        all_vertices.append(vertices)
        all_faces.append(faces + offset)
        offset += len(vertices)
    if not all_vertices:
        return None
    return trimesh.Trimesh(
        vertices=np.concatenate(all_vertices), faces=np.concatenate(all_faces), process=False
    )


def _textured(name: str, material: str, look: SurfaceLook, *, wall: bool) -> PBRMaterial:
    surface = surface_texture(material, wall=wall, size=SURFACE_TEXTURE_PX)
    return PBRMaterial(
        name=name,
        baseColorTexture=Image.fromarray(surface.pixels),
        metallicFactor=float(look.metallic),
        roughnessFactor=float(look.roughness),
    )


def _wall_uv(room: Room, index: int, vertices: np.ndarray, span: float) -> np.ndarray:
    """Texture coordinates of a wall in metres along it and up, ``span`` metres a repeat."""
    (ax, az), (bx, bz) = room.wall_segment(index)
    length = math.hypot(bx - ax, bz - az)
    along = ((bx - ax) / length, (bz - az) / length)
    s = (vertices[:, 0] - ax) * along[0] + (vertices[:, 2] - az) * along[1]
    uv: np.ndarray = np.column_stack((s / span, vertices[:, 1] / span))
    return uv


def shell_scene(room: Room) -> trimesh.Scene:
    """The floor node ("floor"), one node per wall ("wall-<i>") and the doors' and
    windows' joinery ("door-<i>", "door-<i>-frame", "door-<i>-handles", "window-<i>-frame",
    "window-<i>-glass"). Floor and walls carry their finish as a texture repeating at
    true scale."""
    scene = trimesh.Scene()
    floor = floor_mesh(room)
    floor_look = surface_look(room.floor_material, wall=False)
    floor_span = surface_texture(room.floor_material, wall=False, size=SURFACE_TEXTURE_PX).span
    floor_uv = np.column_stack((floor.vertices[:, 0], floor.vertices[:, 2])) / floor_span
    floor.visual = trimesh.visual.TextureVisuals(
        uv=floor_uv,
        material=_textured(
            f"floor-{room.floor_material}", room.floor_material, floor_look, wall=False
        ),
    )
    scene.add_geometry(floor, node_name="floor", geom_name="floor")
    wall_look = surface_look(room.wall_material, wall=True)
    wall_span = surface_texture(room.wall_material, wall=True, size=SURFACE_TEXTURE_PX).span
    wall_material = _textured(
        f"wall-{room.wall_material}", room.wall_material, wall_look, wall=True
    )
    for index in range(len(room.polygon)):
        name = f"wall-{index}"
        mesh = wall_mesh(room, index)
        if mesh is None:
            # A fully open wall keeps its (empty) node so every edge has one.
            scene.graph.update(frame_from=scene.graph.base_frame, frame_to=name)
            continue
        mesh.visual = trimesh.visual.TextureVisuals(
            uv=_wall_uv(room, index, np.asarray(mesh.vertices), wall_span), material=wall_material
        )
        scene.add_geometry(mesh, node_name=name, geom_name=name)
    for name, mesh in joinery(room):
        scene.add_geometry(mesh, node_name=name, geom_name=name)
    return scene


def joinery_names(room: Room) -> set[str]:
    """The node names :func:`joinery` gives a room's doors and windows."""
    names = set()
    for i in range(len(room.doors)):
        names |= {f"door-{i}", f"door-{i}-frame", f"door-{i}-handles"}
    for i in range(len(room.windows)):
        names |= {f"window-{i}-frame", f"window-{i}-glass"}
    return names


# ------------------------------------------------------------------ doors and windows

FRAME_WIDTH = 0.06  # the face width of a door or window frame
FRAME_PROUD = 0.015  # how far a frame stands out from the wall's inner face
DOOR_LEAF_THICKNESS = 0.04
WINDOW_GLASS_THICKNESS = 0.012
GLASS_ALPHA = 0.28  # glass lets most of the light through

_FRAME_LOOK = SurfaceLook((238, 236, 230), 0.55)
_DOOR_LOOK = SurfaceLook((150, 108, 70), 0.5)
_HANDLE_LOOK = SurfaceLook((180, 180, 184), 0.3, 1.0)


def _wall_frame(room: Room, opening: Opening) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """The wall's first vertex, unit direction and inward normal (x, z) and its length."""
    (ax, az), (bx, bz) = room.wall_segment(opening.wall)
    length = math.hypot(bx - ax, bz - az)
    along = np.array(((bx - ax) / length, (bz - az) / length))
    inward = np.asarray(room.inward_normal(opening.wall), dtype=np.float64)
    return np.array((ax, az)), along, inward, length


def _block(
    start: np.ndarray,
    along: np.ndarray,
    inward: np.ndarray,
    s: tuple[float, float],
    t: tuple[float, float],
    y: tuple[float, float],
) -> tuple[np.ndarray, np.ndarray]:
    """A box in wall coordinates: ``s`` along the wall, ``t`` along the inward normal
    (negative: into the wall), ``y`` up."""
    plan = [
        start + along * s[0] + inward * t[0],
        start + along * s[1] + inward * t[0],
        start + along * s[1] + inward * t[1],
        start + along * s[0] + inward * t[1],
    ]
    return _prism(plan, y[0], y[1])


def _merge(
    blocks: list[tuple[np.ndarray, np.ndarray]], look: SurfaceLook, name: str, *, alpha: float = 1.0
) -> trimesh.Trimesh:
    vertices, faces, offset = [], [], 0
    for v, f in blocks:
        vertices.append(v)
        faces.append(f + offset)
        offset += len(v)
    mesh = trimesh.Trimesh(
        vertices=np.concatenate(vertices), faces=np.concatenate(faces), process=False
    )
    material = _pbr(name, look)
    if alpha < 1.0:
        material.baseColorFactor = np.array([*material.baseColorFactor[:3], alpha])
        material.alphaMode = "BLEND"
        material.doubleSided = True
    mesh.visual = trimesh.visual.TextureVisuals(material=material)
    return mesh


def joinery(room: Room) -> list[tuple[str, trimesh.Trimesh]]:
    """Meshes of each door (a frame round the opening and a closed leaf with handles)
    and each window (a frame with a sill board and a cross bar, and a pane of glass)."""
    out: list[tuple[str, trimesh.Trimesh]] = []
    depth = (-WALL_THICKNESS - FRAME_PROUD, FRAME_PROUD)
    for i, door in enumerate(room.doors):
        start, along, inward, length = _wall_frame(room, door)
        s0 = max(0.0, door.offset - door.width / 2.0)
        s1 = min(length, door.offset + door.width / 2.0)
        top = min(room.height, door.sill + door.height)
        f = min(FRAME_WIDTH, 0.2 * (s1 - s0))
        frame = [
            _block(start, along, inward, (s0, s0 + f), depth, (door.sill, top)),
            _block(start, along, inward, (s1 - f, s1), depth, (door.sill, top)),
            _block(start, along, inward, (s0, s1), depth, (top - f, top)),
        ]
        out.append((f"door-{i}-frame", _merge(frame, _FRAME_LOOK, f"door-{i}-frame")))
        mid = -WALL_THICKNESS / 2.0
        leaf_t = (mid - DOOR_LEAF_THICKNESS / 2.0, mid + DOOR_LEAF_THICKNESS / 2.0)
        leaf = [_block(start, along, inward, (s0 + f, s1 - f), leaf_t, (door.sill + 0.01, top - f))]
        # Handles on both faces, on the side away from the hinges.
        hs = s1 - f - 0.09
        hy = door.sill + min(1.0, 0.45 * door.height)
        for t0, t1 in ((leaf_t[1], leaf_t[1] + 0.06), (leaf_t[0] - 0.06, leaf_t[0])):
            leaf.append(
                _block(
                    start, along, inward, (hs - 0.06, hs + 0.02), (t0, t1), (hy - 0.012, hy + 0.012)
                )
            )
        out.append((f"door-{i}", _merge(leaf[:1], _DOOR_LOOK, f"door-{i}")))
        out.append((f"door-{i}-handles", _merge(leaf[1:], _HANDLE_LOOK, f"door-{i}-handles")))
    for i, window in enumerate(room.windows):
        start, along, inward, length = _wall_frame(room, window)
        s0 = max(0.0, window.offset - window.width / 2.0)
        s1 = min(length, window.offset + window.width / 2.0)
        y0, y1 = window.sill, min(room.height, window.sill + window.height)
        f = min(FRAME_WIDTH, 0.15 * (s1 - s0), 0.15 * (y1 - y0))
        bar = 0.6 * f
        mid_s, mid_y = (s0 + s1) / 2.0, y0 + 0.62 * (y1 - y0)
        inner = (-WALL_THICKNESS / 2.0 - 0.03, -WALL_THICKNESS / 2.0 + 0.03)
        frame = [
            _block(start, along, inward, (s0, s0 + f), depth, (y0, y1)),
            _block(start, along, inward, (s1 - f, s1), depth, (y0, y1)),
            _block(start, along, inward, (s0, s1), depth, (y1 - f, y1)),
            _block(start, along, inward, (s0, s1), depth, (y0, y0 + f)),
            # The sill board reaches into the room.
            _block(
                start,
                along,
                inward,
                (s0 - 0.03, s1 + 0.03),
                (-0.02, 0.06),
                (y0 - 0.025, y0 + 0.005),
            ),
            _block(
                start,
                along,
                inward,
                (mid_s - bar / 2.0, mid_s + bar / 2.0),
                inner,
                (y0 + f, y1 - f),
            ),
            _block(
                start,
                along,
                inward,
                (s0 + f, s1 - f),
                inner,
                (mid_y - bar / 2.0, mid_y + bar / 2.0),
            ),
        ]
        out.append((f"window-{i}-frame", _merge(frame, _FRAME_LOOK, f"window-{i}-frame")))
        glass_t = (
            -WALL_THICKNESS / 2.0 - WINDOW_GLASS_THICKNESS / 2.0,
            -WALL_THICKNESS / 2.0 + WINDOW_GLASS_THICKNESS / 2.0,
        )
        glass = [_block(start, along, inward, (s0 + f, s1 - f), glass_t, (y0 + f, y1 - f))]
        out.append(
            (
                f"window-{i}-glass",
                _merge(
                    glass,
                    SurfaceLook((200, 225, 235), 0.05),
                    f"window-{i}-glass",
                    alpha=GLASS_ALPHA,
                ),
            )
        )
    return out


# -------------------------------------------------------------------- GLB merging


def read_glb(data: bytes) -> tuple[Json, bytes | None]:
    """The JSON document and the binary chunk (if any) of a GLB file."""
    if len(data) < 20 or data[:4] != _GLB_MAGIC:
        raise ValueError("not a GLB file (bad magic)")
    version, total = struct.unpack_from("<II", data, 4)
    if version != 2:
        raise ValueError(f"unsupported glTF binary version {version}")
    if total > len(data):
        raise ValueError("truncated GLB file")
    doc: Json | None = None
    binary: bytes | None = None
    position = 12
    while position + 8 <= total:
        length, kind = struct.unpack_from("<II", data, position)
        payload = data[position + 8 : position + 8 + length]
        if len(payload) != length:
            raise ValueError("truncated GLB chunk")
        if kind == _CHUNK_JSON and doc is None:
            doc = json.loads(payload)
        elif kind == _CHUNK_BIN and binary is None:
            binary = payload
        position += 8 + length
    if doc is None:
        raise ValueError("GLB file has no JSON chunk")
    return doc, binary


def _data_uri_bytes(uri: str) -> bytes:
    head, _, payload = uri.partition(",")
    if not head.startswith("data:"):
        raise ValueError(f"external resource {uri[:60]!r} cannot be embedded")
    if head.endswith(";base64"):
        return base64.b64decode(payload)
    raise ValueError("only base64 data URIs are supported")


_LISTS = (
    "accessors",
    "bufferViews",
    "meshes",
    "materials",
    "textures",
    "images",
    "samplers",
    "cameras",
    "skins",
    "animations",
    "nodes",
)


def _shift_texture_refs(value: Any, base: int) -> None:
    """Shift every textureInfo index (``*Texture: {"index": i}``) under ``value``."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key.endswith("Texture") and isinstance(item, dict) and "index" in item:
                item["index"] += base
            _shift_texture_refs(item, base)
    elif isinstance(value, list):
        for item in value:
            _shift_texture_refs(item, base)


@dataclass
class _Resources:
    """Where one source document's resources landed in the merged document."""

    bases: dict[str, int]
    nodes: list[Json]
    roots: list[int]


@dataclass
class GltfMerger:
    """Accumulates several glTF documents into one, sharing a single binary buffer."""

    doc: Json = field(default_factory=lambda: {key: [] for key in _LISTS})
    lights: list[Json] = field(default_factory=list)
    variants: list[Json] = field(default_factory=list)
    extensions_used: set[str] = field(default_factory=set)
    extensions_required: set[str] = field(default_factory=set)
    blobs: list[bytes] = field(default_factory=list)
    length: int = 0
    _cache: dict[bytes, _Resources] = field(default_factory=dict)

    def _append_blob(self, blob: bytes) -> int:
        padding = -self.length % 16  # keeps every source's internal alignment
        if padding:
            self.blobs.append(b"\x00" * padding)
            self.length += padding
        start = self.length
        self.blobs.append(blob)
        self.length += len(blob)
        return start

    def add_glb(self, data: bytes, names: NodeNamer) -> list[int]:
        """Copy a GLB's scene into the merged document; returns its root node indices.

        Identical GLBs (without skins or animations) share their meshes, materials and
        textures; only their nodes are copied again.
        """
        data = bytes(data)  # also accepts bytearray / memoryview; a no-op for bytes
        resources = self._cache.get(data)
        if resources is None:
            doc, binary = read_glb(data)
            resources = self._import_resources(doc, binary)
            if not doc.get("skins") and not doc.get("animations"):
                self._cache[data] = resources
            else:
                return self._import_nodes(resources, names, fresh=True)
        return self._import_nodes(resources, names, fresh=False)

    def _import_resources(self, doc: Json, binary: bytes | None) -> _Resources:
        out = self.doc
        bases = {key: len(out[key]) for key in _LISTS}
        bases["lights"] = len(self.lights)
        bases["variants"] = len(self.variants)

        buffer_starts: list[int] = []
        for buffer in doc.get("buffers", []):
            uri = buffer.get("uri")
            if uri is None:
                if binary is None:
                    raise ValueError("GLB buffer refers to a missing binary chunk")
                payload = binary
            else:
                payload = _data_uri_bytes(uri)
            buffer_starts.append(self._append_blob(payload[: buffer["byteLength"]]))

        for view in doc.get("bufferViews", []):
            view["byteOffset"] = buffer_starts[view["buffer"]] + view.get("byteOffset", 0)
            view["buffer"] = 0
            meshopt = view.get("extensions", {}).get("EXT_meshopt_compression")
            if meshopt is not None:
                meshopt["byteOffset"] = buffer_starts[meshopt["buffer"]] + meshopt.get(
                    "byteOffset", 0
                )
                meshopt["buffer"] = 0
            out["bufferViews"].append(view)

        for accessor in doc.get("accessors", []):
            if "bufferView" in accessor:
                accessor["bufferView"] += bases["bufferViews"]
            sparse = accessor.get("sparse")
            if sparse is not None:
                sparse["indices"]["bufferView"] += bases["bufferViews"]
                sparse["values"]["bufferView"] += bases["bufferViews"]
            out["accessors"].append(accessor)

        for image in doc.get("images", []):
            if "bufferView" in image:
                image["bufferView"] += bases["bufferViews"]
            elif "uri" in image and not image["uri"].startswith("data:"):
                raise ValueError(f"external image {image['uri'][:60]!r} cannot be embedded")
            out["images"].append(image)

        out["samplers"].extend(doc.get("samplers", []))

        for texture in doc.get("textures", []):
            if "source" in texture:
                texture["source"] += bases["images"]
            if "sampler" in texture:
                texture["sampler"] += bases["samplers"]
            # EXT_texture_webp, KHR_texture_basisu, ...: alternative image sources.
            for extension in texture.get("extensions", {}).values():
                if isinstance(extension, dict) and "source" in extension:
                    extension["source"] += bases["images"]
            out["textures"].append(texture)

        for material in doc.get("materials", []):
            _shift_texture_refs(material, bases["textures"])
            out["materials"].append(material)

        for mesh in doc.get("meshes", []):
            for primitive in mesh.get("primitives", []):
                attributes = primitive.get("attributes", {})
                for name in attributes:
                    attributes[name] += bases["accessors"]
                for target in primitive.get("targets", []):
                    for name in target:
                        target[name] += bases["accessors"]
                if "indices" in primitive:
                    primitive["indices"] += bases["accessors"]
                if "material" in primitive:
                    primitive["material"] += bases["materials"]
                extensions = primitive.get("extensions", {})
                draco = extensions.get("KHR_draco_mesh_compression")
                if draco is not None:
                    draco["bufferView"] += bases["bufferViews"]
                variants = extensions.get("KHR_materials_variants")
                if variants is not None:
                    for mapping in variants.get("mappings", []):
                        mapping["material"] += bases["materials"]
                        mapping["variants"] = [
                            v + bases["variants"] for v in mapping.get("variants", [])
                        ]
            out["meshes"].append(mesh)

        out["cameras"].extend(doc.get("cameras", []))

        for skin in doc.get("skins", []):
            if "inverseBindMatrices" in skin:
                skin["inverseBindMatrices"] += bases["accessors"]
            skin["joints"] = [j + bases["nodes"] for j in skin.get("joints", [])]
            if "skeleton" in skin:
                skin["skeleton"] += bases["nodes"]
            out["skins"].append(skin)

        for animation in doc.get("animations", []):
            for sampler in animation.get("samplers", []):
                sampler["input"] += bases["accessors"]
                sampler["output"] += bases["accessors"]
            for channel in animation.get("channels", []):
                target = channel.get("target", {})
                if "node" in target:
                    target["node"] += bases["nodes"]
            out["animations"].append(animation)

        root_extensions = doc.get("extensions", {})
        self.lights.extend(root_extensions.get("KHR_lights_punctual", {}).get("lights", []))
        self.variants.extend(root_extensions.get("KHR_materials_variants", {}).get("variants", []))
        self.extensions_used.update(doc.get("extensionsUsed", []))
        self.extensions_required.update(doc.get("extensionsRequired", []))

        nodes = doc.get("nodes", [])
        scenes = doc.get("scenes", [])
        if scenes:
            roots = list(scenes[doc.get("scene", 0)].get("nodes", []))
        else:
            children = {c for node in nodes for c in node.get("children", [])}
            roots = [i for i in range(len(nodes)) if i not in children]
        return _Resources(bases=bases, nodes=nodes, roots=roots)

    def _import_nodes(self, resources: _Resources, names: NodeNamer, fresh: bool) -> list[int]:
        """Append the document's nodes; ``fresh`` nodes were laid out for this spot."""
        out = self.doc["nodes"]
        bases = resources.bases
        node_base = bases["nodes"] if fresh else len(out)
        if fresh and node_base != len(out):
            raise RuntimeError("skinned or animated nodes must be imported right after them")
        for source in resources.nodes:
            node = json.loads(json.dumps(source)) if not fresh else source
            if "children" in node:
                node["children"] = [c + node_base for c in node["children"]]
            if "mesh" in node:
                node["mesh"] += bases["meshes"]
            if "skin" in node:
                node["skin"] += bases["skins"]
            if "camera" in node:
                node["camera"] += bases["cameras"]
            light = node.get("extensions", {}).get("KHR_lights_punctual")
            if light is not None:
                light["light"] += bases["lights"]
            node["name"] = names.inner(node.get("name"))
            out.append(node)
        return [r + node_base for r in resources.roots]

    def add_node(self, node: Json) -> int:
        self.doc["nodes"].append(node)
        return len(self.doc["nodes"]) - 1

    def to_glb(self, roots: list[int], scene_name: str | None = None) -> bytes:
        doc: Json = {"asset": {"version": "2.0", "generator": "holodeck assembly"}}
        for key in _LISTS:
            if self.doc[key]:
                doc[key] = self.doc[key]
        if self.length:
            doc["buffers"] = [{"byteLength": self.length}]
        extensions: Json = {}
        if self.lights:
            extensions["KHR_lights_punctual"] = {"lights": self.lights}
        if self.variants:
            extensions["KHR_materials_variants"] = {"variants": self.variants}
        if extensions:
            doc["extensions"] = extensions
        if self.extensions_used:
            doc["extensionsUsed"] = sorted(self.extensions_used)
        if self.extensions_required:
            doc["extensionsRequired"] = sorted(self.extensions_required)
        scene: Json = {"nodes": roots}
        if scene_name:
            scene["name"] = scene_name
        doc["scenes"] = [scene]
        doc["scene"] = 0

        content = json.dumps(doc, separators=(",", ":")).encode("utf-8")
        content += b" " * (-len(content) % 4)
        binary_padding = b"\x00" * (-self.length % 4)
        binary_length = self.length + len(binary_padding)
        total = 12 + 8 + len(content) + (8 + binary_length if self.length else 0)
        parts = [
            struct.pack("<4sII", _GLB_MAGIC, 2, total),
            struct.pack("<II", len(content), _CHUNK_JSON),
            content,
        ]
        if self.length:
            parts.append(struct.pack("<II", binary_length, _CHUNK_BIN))
            parts.extend(self.blobs)
            parts.append(binary_padding)
        return b"".join(parts)


@dataclass
class NodeNamer:
    """Names imported nodes "<prefix>/<name>", unique across the merged document."""

    prefix: str
    taken: set[str]

    def inner(self, name: str | None) -> str:
        label = name or "node"
        base = f"{self.prefix}/{label}" if self.prefix else label
        candidate, k = base, 1
        while candidate in self.taken:
            k += 1
            candidate = f"{base}#{k}"
        self.taken.add(candidate)
        return candidate


# ------------------------------------------------------------------------ assembly

_IDENTITY = np.eye(4)


def _has_identity_transform(node: Json) -> bool:
    if "matrix" in node:
        return bool(np.allclose(np.asarray(node["matrix"], dtype=np.float64), _IDENTITY.ravel()))
    translation = node.get("translation", (0.0, 0.0, 0.0))
    rotation = node.get("rotation", (0.0, 0.0, 0.0, 1.0))
    scale = node.get("scale", (1.0, 1.0, 1.0))
    return bool(
        np.allclose(translation, 0.0)
        and np.allclose(rotation, (0.0, 0.0, 0.0, 1.0))
        and np.allclose(scale, 1.0)
    )


def object_transform(obj: PlacedObject) -> Json:
    """glTF TRS of an object: yaw about +Y (front +Z → (sin θ, cos θ)), then position."""
    half = math.radians(obj.rotation) / 2.0
    return {
        "translation": [float(v) for v in obj.position],
        "rotation": [0.0, math.sin(half), 0.0, math.cos(half)],
    }


def build_scene_glb(layout: Layout, meshes: dict[str, bytes]) -> bytes:
    """One GLB with the room shell and every object of ``layout``.

    ``meshes`` maps object id → that object's GLB in its local frame (bottom centre at
    the origin, +Y up, front +Z). Raises KeyError naming the first object without a
    mesh, ValueError for a malformed GLB or clashing node names.
    """
    ids = [obj.id for obj in layout.objects]
    for object_id in ids:
        if object_id not in meshes:
            raise KeyError(f"no mesh for object {object_id!r}")
    if len(set(ids)) != len(ids):
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        raise ValueError(f"duplicate object ids: {duplicates}")

    room = layout.room
    shell_names = {"floor", *(f"wall-{i}" for i in range(len(room.polygon))), *joinery_names(room)}
    clashes = shell_names.intersection(ids)
    if clashes:
        raise ValueError(f"object ids clash with room shell node names: {sorted(clashes)}")
    shell = shell_scene(room).export(file_type="glb", include_normals=False)

    taken: set[str] = set(ids)
    merger = GltfMerger()
    roots = merger.add_glb(shell, NodeNamer(prefix="", taken=taken))

    for obj in layout.objects:
        try:
            object_roots = merger.add_glb(meshes[obj.id], NodeNamer(prefix=obj.id, taken=taken))
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise ValueError(f"object {obj.id!r}: unusable GLB: {exc}") from exc
        placement = object_transform(obj)
        nodes = merger.doc["nodes"]
        single = nodes[object_roots[0]] if len(object_roots) == 1 else None
        if single is not None and _has_identity_transform(single):
            # The usual case: one root node holding the mesh becomes the object node.
            taken.discard(single["name"])
            for key in ("matrix", "translation", "rotation", "scale"):
                single.pop(key, None)
            single["name"] = obj.id
            single.update(placement)
            roots.append(object_roots[0])
        else:
            node: Json = {"name": obj.id, **placement}
            if object_roots:
                node["children"] = object_roots
            roots.append(merger.add_node(node))
    return merger.to_glb(roots, scene_name=room.type)
