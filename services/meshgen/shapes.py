"""Parametric meshes per object: the offline default mesh backend's public face.

``shape_for`` decides which shape family draws an object (see
:mod:`services.meshgen.families`), ``build_mesh`` draws it at the object's size with its
image as texture, and ``mesh_glb`` exports it as GLB bytes. Every mesh sits in the
object's frame: +Y up, the centre of the bottom face at the origin, the front facing
+Z, and its axis-aligned bounding box equal to the requested size.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import trimesh
from PIL import Image

from services.meshgen.families import FAMILY_NAMES, GENERIC_FAMILIES, builder
from services.meshgen.glb import (
    NEUTRAL_COLOR,
    accent_material,
    export,
    open_image,
    plain_material,
    replace_image,
    sniff,
    textured_material,
)
from services.meshgen.primitives import (
    ACCENT_NAMES,
    ACCENTS,
    MAX_TRIANGLES,
    Floats,
    Ints,
    Parts,
    Size,
)
from shared import catalog

__all__ = [
    "CATEGORIES",
    "MAX_TRIANGLES",
    "NEUTRAL_COLOR",
    "build_mesh",
    "mesh_glb",
    "normalize_category",
    "shape_for",
]

CATEGORIES: frozenset[str] = frozenset(FAMILY_NAMES) - GENERIC_FAMILIES
"""Every shape family a category can be drawn as (the generic fallbacks excluded)."""


def normalize_category(category: str) -> str:
    """Lower case, words separated by single spaces: "Coffee-Table" → "coffee table"."""
    words = re.sub(r"[^a-z0-9]+", " ", category.lower()).split()
    return " ".join(words)


# A lamp drawn this tall or taller stands on the floor; a shorter one on a table.
FLOOR_LAMP_HEIGHT = 1.0
_LAMPS = ("floor lamp", "table lamp")


def shape_for(category: str, size: Size, *, shape: str | None = None) -> str:
    """The shape family that ``build_mesh`` draws for this category and size.

    An explicit ``shape`` (a family name) wins; else the shared catalog's family for the
    category (synonyms, plurals, compounds and head nouns included); else one of
    ``"generic cabinet"``, ``"generic table"`` or ``"generic block"`` by proportion.
    """
    w, h, d = _check_size(size)
    if shape is not None:
        family = normalize_category(shape)
        if family not in FAMILY_NAMES:
            raise ValueError(f"unknown shape family {shape!r}")
        return family
    family = _catalog_family(category, (w, h, d))
    if family in _LAMPS:
        # The object's own height decides what kind of lamp it looks like.
        return _LAMPS[0] if h >= FLOOR_LAMP_HEIGHT else _LAMPS[1]
    if family not in FAMILY_NAMES:
        raise ValueError(f"the catalog names {family!r} for {category!r}, which is no shape family")
    return family


def _catalog_family(category: str, size: Size) -> str:
    """The catalog's family for a category; a word whose meaning depends on the room
    ("lamp", "mats") takes the catalog's room-independent reading."""
    found = catalog.lookup(category)
    if found is None:
        name = normalize_category(category)
        readings = catalog.context()
        for word in (name, name.rsplit(" ", 1)[-1]):
            default = readings.get(word, {}).get("*")
            if default is not None:
                found = catalog.lookup(default)
                break
    return found.shape if found is not None else catalog.generic_shape(size)


def _boards(category: str, family: str) -> tuple[float, ...]:
    """Board heights (fractions of the height) the catalog gives a shelving category."""
    found = catalog.lookup(category)
    return found.boards if found is not None and found.shape == family else ()


def _check_size(size: Sequence[float]) -> Size:
    if len(size) != 3:
        raise ValueError(f"size must have three components, got {len(size)}")
    w, h, d = (float(v) for v in size)
    if not all(math.isfinite(v) and v > 0 for v in (w, h, d)):
        raise ValueError(f"every size component must be positive and finite, got {tuple(size)}")
    return w, h, d


# --------------------------------------------------------------------------------------
# Meshes, materials and GLB.


# --------------------------------------------------------------------------------------
# Meshes.


@dataclass(frozen=True)
class _Geometry:
    family: str
    parts: int
    vertices: Floats
    faces: Ints
    normals: Floats
    uv: Floats
    accents: Ints  # per face: index into ACCENT_NAMES, -1 for the image


def _geometry(category: str, size: Size, shape: str | None) -> _Geometry:
    w, h, d = _check_size(size)
    family = shape_for(category, (w, h, d), shape=shape)
    parts = Parts()
    builder(family, _boards(category, family))(parts, w, h, d)
    vertices, faces, normals, uv = parts.build((w, h, d))
    return _Geometry(family, parts.count, vertices, faces, normals, uv, parts.face_accents())


def _mesh(
    category: str,
    size: Size,
    material: trimesh.visual.material.PBRMaterial,
    shape: str | None,
) -> trimesh.Trimesh:
    g = _geometry(category, size, shape)
    mesh = trimesh.Trimesh(
        vertices=g.vertices,
        faces=g.faces,
        vertex_normals=g.normals,
        visual=trimesh.visual.TextureVisuals(uv=g.uv, material=material),
        process=False,
        validate=False,
    )
    used = sorted({ACCENT_NAMES[i] for i in np.unique(g.accents) if i >= 0})
    mesh.metadata.update(
        {"category": category, "shape": g.family, "parts": g.parts, "accents": used}
    )
    return mesh


def _submesh(
    g: _Geometry, mask: np.ndarray, visual: trimesh.visual.TextureVisuals, uv: bool
) -> trimesh.Trimesh:
    faces = g.faces[mask]
    used, inverse = np.unique(faces.ravel(), return_inverse=True)
    if uv:
        visual.uv = g.uv[used]
    return trimesh.Trimesh(
        vertices=g.vertices[used],
        faces=inverse.reshape(-1, 3),
        vertex_normals=g.normals[used],
        visual=visual,
        process=False,
        validate=False,
    )


def _scene_glb(
    category: str, size: Size, material: trimesh.visual.material.PBRMaterial, shape: str | None
) -> bytes:
    """The object as GLB: the parts wearing the image in one mesh, each accent's parts in
    a mesh of their own with a plain material."""
    g = _geometry(category, size, shape)
    body = g.accents < 0
    if body.all():
        mesh = trimesh.Trimesh(
            vertices=g.vertices,
            faces=g.faces,
            vertex_normals=g.normals,
            visual=trimesh.visual.TextureVisuals(uv=g.uv, material=material),
            process=False,
            validate=False,
        )
        return export(mesh)
    scene = trimesh.Scene()
    if body.any():
        visual = trimesh.visual.TextureVisuals(uv=np.zeros((1, 2)), material=material)
        scene.add_geometry(_submesh(g, body, visual, uv=True), node_name="body", geom_name="body")
    for index in np.unique(g.accents[~body]):
        name = ACCENT_NAMES[int(index)]
        visual = trimesh.visual.TextureVisuals(material=accent_material(name, ACCENTS[name]))
        scene.add_geometry(
            _submesh(g, g.accents == index, visual, uv=False), node_name=name, geom_name=name
        )
    return export(scene)


def build_mesh(
    category: str,
    size: tuple[float, float, float],
    image_png: bytes | None = None,
    *,
    shape: str | None = None,
) -> trimesh.Trimesh:
    """One mesh for an object of ``category`` whose bounding box is ``size``.

    ``shape`` names a family explicitly (it wins over the category). The mesh sits in
    the object's frame (+Y up, bottom centre at the origin, front +Z), has a UV per
    vertex, and carries ``image_png`` as its base colour texture, or a plain neutral PBR
    material without one. ``mesh.metadata`` names the ``shape`` drawn and the number of
    ``parts`` concatenated.
    """
    if image_png is None:
        return _mesh(category, size, plain_material(), shape)
    return _mesh(category, size, textured_material(open_image(image_png)), shape)


def mesh_glb(
    category: str,
    size: tuple[float, float, float],
    image_png: bytes | None = None,
    *,
    shape: str | None = None,
) -> bytes:
    """``build_mesh`` exported as GLB bytes, a PNG or JPEG texture embedded byte for byte."""
    if image_png is None:
        return _scene_glb(category, size, plain_material(), shape)
    mime = sniff(image_png)
    if mime is None:
        return _scene_glb(category, size, textured_material(open_image(image_png)), shape)
    stand_in = textured_material(Image.new("RGB", (1, 1), (255, 255, 255)))
    glb = _scene_glb(category, size, stand_in, shape)
    return replace_image(glb, image_png, mime)
