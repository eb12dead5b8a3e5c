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

import trimesh
from PIL import Image

from services.meshgen.families import FAMILY_NAMES, GENERIC_FAMILIES, builder
from services.meshgen.glb import (
    NEUTRAL_COLOR,
    export,
    open_image,
    plain_material,
    replace_image,
    sniff,
    textured_material,
)
from services.meshgen.primitives import MAX_TRIANGLES, Floats, Ints, Parts, Size

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
    if name in CATEGORIES:
        return name
    if name in _ALIASES:
        return _ALIASES[name]
    return None


def shape_for(category: str, size: Size, *, shape: str | None = None) -> str:
    """The shape family that ``build_mesh`` draws for this category and size.

    An explicit ``shape`` (a family name) wins; else the category decides; one of
    ``"generic cabinet"``, ``"generic table"`` or ``"generic block"`` by proportion for
    categories nothing knows.
    """
    w, h, d = _check_size(size)
    if shape is not None:
        family = normalize_category(shape)
        if family not in FAMILY_NAMES:
            raise ValueError(f"unknown shape family {shape!r}")
        return family
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


# --------------------------------------------------------------------------------------
# Meshes.


def _geometry(
    category: str, size: Size, shape: str | None
) -> tuple[str, int, Floats, Ints, Floats, Floats]:
    w, h, d = _check_size(size)
    family = shape_for(category, (w, h, d), shape=shape)
    parts = Parts()
    builder(family)(parts, w, h, d)
    vertices, faces, normals, uv = parts.build((w, h, d))
    return family, parts.count, vertices, faces, normals, uv


def _mesh(
    category: str,
    size: Size,
    material: trimesh.visual.material.PBRMaterial,
    shape: str | None,
) -> trimesh.Trimesh:
    family, count, vertices, faces, normals, uv = _geometry(category, size, shape)
    mesh = trimesh.Trimesh(
        vertices=vertices,
        faces=faces,
        vertex_normals=normals,
        visual=trimesh.visual.TextureVisuals(uv=uv, material=material),
        process=False,
        validate=False,
    )
    mesh.metadata.update({"category": category, "shape": family, "parts": count})
    return mesh


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
        return export(_mesh(category, size, plain_material(), shape))
    mime = sniff(image_png)
    if mime is None:
        return export(build_mesh(category, size, image_png, shape=shape))
    stand_in = textured_material(Image.new("RGB", (1, 1), (255, 255, 255)))
    glb = export(_mesh(category, size, stand_in, shape))
    return replace_image(glb, image_png, mime)
