"""Parametric meshes: sizes, parts, UVs, textures, GLB round trips and category mapping."""

from __future__ import annotations

import io
import json
import struct
from itertools import combinations

import numpy as np
import pytest
import trimesh
from PIL import Image

from services.meshgen.shapes import (
    CATEGORIES,
    MAX_TRIANGLES,
    NEUTRAL_COLOR,
    build_mesh,
    mesh_glb,
    normalize_category,
    shape_for,
)
from shared import catalog

TOLERANCE = 1e-3  # metres
GENERIC = {"generic cabinet", "generic table", "generic block"}


def _typical_sizes() -> dict[str, tuple[float, float, float]]:
    """Each family at the size of the first catalog category it draws (a family no
    category uses yet at a middling size)."""
    sizes: dict[str, tuple[float, float, float]] = {}
    for item in catalog.entries():
        sizes.setdefault(item.shape, item.size)
    return {family: sizes.get(family, (0.6, 0.8, 0.6)) for family in CATEGORIES}


TYPICAL = _typical_sizes()

ODD_SIZES = [
    (0.05, 0.05, 0.05),
    (6.0, 3.0, 5.0),
    (2.0, 0.01, 1.0),
    (0.1, 2.5, 0.1),
    (3.0, 0.3, 0.05),
    (10.0, 3.0, 0.3),
]

UNKNOWN = [
    ("gizmo", (0.3, 0.3, 0.3)),
    ("flux capacitor", (1.5, 1.0, 1.8)),
    ("thingamajig", (1.0, 0.6, 0.1)),
    ("doohickey", (0.3, 2.6, 0.3)),
    ("", (0.7, 0.7, 0.7)),
]

REQUIRED = {
    "bed",
    "sofa",
    "armchair",
    "chair",
    "office chair",
    "stool",
    "bench",
    "dining table",
    "table",
    "coffee table",
    "side table",
    "desk",
    "wardrobe",
    "dresser",
    "nightstand",
    "bookshelf",
    "shelf",
    "tv",
    "tv stand",
    "floor lamp",
    "table lamp",
    "plant",
    "rug",
    "kitchen cabinet",
    "fridge",
    "stove",
    "sink",
    "toilet",
    "bathtub",
    "painting",
    "picture frame",
    "mirror",
    "clock",
    "curtains",
}

CASES = [(c, s) for c in sorted(CATEGORIES) for s in (TYPICAL[c], *ODD_SIZES)]


def png_bytes(width: int, height: int, seed: int = 0) -> tuple[bytes, Image.Image]:
    rng = np.random.default_rng(seed)
    image = Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue(), image


def glb_json(glb: bytes) -> dict:
    magic, version, length = struct.unpack_from("<4sII", glb, 0)
    assert magic == b"glTF" and version == 2 and length == len(glb)
    json_length, kind = struct.unpack_from("<I4s", glb, 12)
    assert kind == b"JSON"
    return json.loads(glb[20 : 20 + json_length])


def load_glb(glb: bytes) -> trimesh.Scene:
    scene = trimesh.load(io.BytesIO(glb), file_type="glb")
    assert isinstance(scene, trimesh.Scene)
    return scene


def body_count(mesh: trimesh.Trimesh) -> int:
    """Connected pieces once coincident vertices are welded (parts only touch, never weld)."""
    keys = np.round(np.asarray(mesh.vertices) / 1e-9).astype(np.int64)
    _, ids = np.unique(keys, axis=0, return_inverse=True)
    faces = ids.ravel()[np.asarray(mesh.faces)]
    labels = np.arange(ids.max() + 1)
    while True:
        smallest = labels[faces].min(axis=1)
        updated = labels.copy()
        for corner in range(3):
            np.minimum.at(updated, faces[:, corner], smallest)
        updated = updated[updated]
        if np.array_equal(updated, labels):
            break
        labels = updated
    return len(np.unique(labels[faces[:, 0]]))


def assert_fits(bounds: np.ndarray, size: tuple[float, float, float]) -> None:
    low, high = np.asarray(bounds)
    assert np.allclose(high - low, size, atol=TOLERANCE), (high - low, size)
    assert abs(low[1]) <= TOLERANCE, low
    assert abs(low[0] + high[0]) <= TOLERANCE and abs(low[2] + high[2]) <= TOLERANCE, (low, high)


def test_categories_cover_the_required_shapes() -> None:
    assert REQUIRED <= CATEGORIES
    assert len(CATEGORIES) >= 100
    drawn = {item.shape for item in catalog.entries()}
    assert drawn - GENERIC <= CATEGORIES, "every family the catalog names has a builder"
    assert len(drawn & CATEGORIES) >= 100


def test_body_count_welds_the_faces_of_one_box() -> None:
    box = trimesh.creation.box(extents=(1.0, 2.0, 3.0))
    unwelded = trimesh.Trimesh(box.vertices[box.faces].reshape(-1, 3), np.arange(36).reshape(-1, 3))
    assert body_count(unwelded) == 1
    two = trimesh.util.concatenate([box, box.copy().apply_translation((5.0, 0.0, 0.0))])
    assert body_count(two) == 2


@pytest.mark.parametrize(("family", "size"), CASES)
def test_mesh_fills_its_size_and_has_parts(family: str, size: tuple[float, float, float]) -> None:
    check_mesh(build_mesh("object", size, shape=family), size)


@pytest.mark.parametrize(("category", "size"), UNKNOWN)
def test_unknown_categories_get_a_generic_mesh(
    category: str, size: tuple[float, float, float]
) -> None:
    mesh = build_mesh(category, size)
    assert mesh.metadata["shape"].startswith("generic ")
    check_mesh(mesh, size)


def check_mesh(mesh: trimesh.Trimesh, size: tuple[float, float, float]) -> None:
    assert_fits(mesh.bounds, size)
    assert 0 < len(mesh.faces) <= MAX_TRIANGLES
    parts = mesh.metadata["parts"]
    bodies = body_count(mesh)
    assert 1 < bodies <= parts, (bodies, parts)
    assert np.isfinite(mesh.vertices).all()
    normals = np.asarray(mesh.vertex_normals)
    assert np.allclose(np.linalg.norm(normals, axis=1), 1.0, atol=1e-6)


@pytest.mark.parametrize("family", sorted(CATEGORIES))
def test_every_vertex_has_a_uv_spanning_the_image(family: str) -> None:
    mesh = build_mesh("object", TYPICAL[family], shape=family)
    uv = np.asarray(mesh.visual.uv)
    assert uv.shape == (len(mesh.vertices), 2)
    assert uv.min() >= 0.0 and uv.max() <= 1.0
    assert uv[:, 0].min() < 0.01 and uv[:, 0].max() > 0.99
    assert uv[:, 1].min() < 0.01 and uv[:, 1].max() > 0.99


def test_front_faces_see_the_image_projected_from_the_front() -> None:
    w, h, d = 2.0, 0.85, 0.9
    mesh = build_mesh("sofa", (w, h, d))
    uv = np.asarray(mesh.visual.uv)
    vertices = np.asarray(mesh.vertices)
    front = np.asarray(mesh.vertex_normals)[:, 2] > 0.99
    assert front.any()
    assert np.allclose(uv[front, 0], vertices[front, 0] / w + 0.5)
    assert np.allclose(uv[front, 1], vertices[front, 1] / h)


@pytest.mark.parametrize("family", sorted(CATEGORIES))
def test_glb_round_trip_keeps_the_extents(family: str) -> None:
    size = TYPICAL[family]
    scene = load_glb(mesh_glb("object", size, shape=family))
    mesh = build_mesh("object", size, shape=family)
    # The parts wearing the image, then one geometry per plain accent material.
    names = set(scene.geometry)
    if not mesh.metadata["accents"]:
        assert len(names) == 1
    else:
        assert names - {"body"} == set(mesh.metadata["accents"])
    assert_fits(scene.bounds, size)
    assert sum(len(g.faces) for g in scene.geometry.values()) == len(mesh.faces)


def test_plain_material_without_an_image() -> None:
    mesh = build_mesh("chair", TYPICAL["chair"])
    material = mesh.visual.material
    assert isinstance(material, trimesh.visual.material.PBRMaterial)
    assert material.baseColorTexture is None
    assert tuple(material.baseColorFactor) == NEUTRAL_COLOR
    tree = glb_json(mesh_glb("chair", TYPICAL["chair"]))
    assert "images" not in tree
    assert "TEXCOORD_0" in tree["meshes"][0]["primitives"][0]["attributes"]


def test_texture_is_carried_by_the_mesh() -> None:
    data, image = png_bytes(48, 32)
    mesh = build_mesh("bed", TYPICAL["bed"], data)
    assert isinstance(mesh.visual, trimesh.visual.TextureVisuals)
    texture = mesh.visual.material.baseColorTexture
    assert isinstance(texture, Image.Image)
    assert np.array_equal(np.asarray(texture.convert("RGB")), np.asarray(image))


@pytest.mark.parametrize("category", ["bed", "plant", "clock", "bookshelf"])
def test_texture_is_embedded_in_the_glb(category: str) -> None:
    data, image = png_bytes(40, 24, seed=3)
    glb = mesh_glb(category, TYPICAL[category], data)
    tree = glb_json(glb)
    assert tree["images"] == [
        {"bufferView": tree["images"][0]["bufferView"], "mimeType": "image/png"}
    ]
    view = tree["bufferViews"][tree["images"][0]["bufferView"]]
    assert view["byteOffset"] % 4 == 0 and all(
        v["byteOffset"] % 4 == 0 for v in tree["bufferViews"]
    )
    binary_start = 20 + struct.unpack_from("<I", glb, 12)[0] + 8
    start = binary_start + view["byteOffset"]
    assert glb[start : start + view["byteLength"]] == data
    scene = load_glb(glb)
    assert_fits(scene.bounds, TYPICAL[category])
    loaded = scene.geometry["body"] if "body" in scene.geometry else scene.geometry["geometry_0"]
    texture = loaded.visual.material.baseColorTexture
    assert np.array_equal(np.asarray(texture.convert("RGB")), np.asarray(image))
    assert loaded.visual.uv.shape == (len(loaded.vertices), 2)


def test_trimesh_export_of_build_mesh_carries_the_image_too() -> None:
    data, image = png_bytes(16, 16, seed=5)
    glb = build_mesh("stool", TYPICAL["stool"], data).export(file_type="glb")
    (loaded,) = load_glb(glb).geometry.values()
    texture = loaded.visual.material.baseColorTexture
    assert np.array_equal(np.asarray(texture.convert("RGB")), np.asarray(image))


def test_jpeg_and_other_formats_are_embedded() -> None:
    _, image = png_bytes(32, 32, seed=7)
    jpeg = io.BytesIO()
    image.save(jpeg, format="JPEG")
    tree = glb_json(mesh_glb("desk", TYPICAL["desk"], jpeg.getvalue()))
    assert tree["images"][0]["mimeType"] == "image/jpeg"
    bmp = io.BytesIO()
    image.save(bmp, format="BMP")
    glb = mesh_glb("desk", TYPICAL["desk"], bmp.getvalue())
    (loaded,) = load_glb(glb).geometry.values()
    texture = loaded.visual.material.baseColorTexture
    assert np.array_equal(np.asarray(texture.convert("RGB")), np.asarray(image))


def test_unreadable_image_is_rejected() -> None:
    with pytest.raises(ValueError):
        mesh_glb("chair", TYPICAL["chair"], b"not an image")
    with pytest.raises(ValueError):
        build_mesh("chair", TYPICAL["chair"], b"\x89PNG\r\n\x1a\n broken")


@pytest.mark.parametrize(
    "size", [(0.0, 1.0, 1.0), (1.0, -1.0, 1.0), (1.0, float("nan"), 1.0), (1.0, 1.0)]
)
def test_bad_sizes_are_rejected(size: tuple[float, ...]) -> None:
    with pytest.raises(ValueError):
        build_mesh("chair", size)  # type: ignore[arg-type]


def test_shapes_differ_between_categories() -> None:
    bed = build_mesh("bed", (1.2, 0.8, 1.2))
    table = build_mesh("table", (1.2, 0.8, 1.2))
    assert len(bed.vertices) != len(table.vertices)
    fingerprints = {}
    for family in sorted(CATEGORIES):
        mesh = build_mesh("object", (1.0, 1.0, 1.0), shape=family)
        fingerprints[family] = np.round(np.sort(mesh.vertices, axis=0), 5).tobytes()
    for a, b in combinations(sorted(fingerprints), 2):
        assert fingerprints[a] != fingerprints[b], (a, b)


def test_round_parts_stay_round() -> None:
    w, h, d = 0.4, 0.7, 0.4
    mesh = build_mesh("stool", (w, h, d))
    top = np.asarray(mesh.vertices)[np.isclose(mesh.vertices[:, 1], h)]
    radius = np.hypot(top[:, 0], top[:, 2])
    rim = radius[radius > 0.5 * radius.max()]
    assert rim.min() > 0.98 * rim.max()
    lamp = build_mesh("floor lamp", (0.45, 1.6, 0.45))
    base = np.asarray(lamp.vertices)[np.isclose(lamp.vertices[:, 1], 0.0)]
    spread = np.hypot(base[:, 0], base[:, 2])
    ring = spread[spread > 0.5 * spread.max()]
    assert ring.min() > 0.98 * ring.max()


def test_builds_are_deterministic() -> None:
    a = build_mesh("bookshelf", TYPICAL["bookshelf"])
    b = build_mesh("bookshelf", TYPICAL["bookshelf"])
    assert np.array_equal(a.vertices, b.vertices) and np.array_equal(a.faces, b.faces)
    assert mesh_glb("plant", TYPICAL["plant"]) == mesh_glb("plant", TYPICAL["plant"])


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("coffee table", "coffee table"),
        ("Coffee-Table", "coffee table"),
        ("coffee_table", "coffee table"),
        ("double bed", "bed"),
        ("single bed", "bed"),
        ("king size bed", "bed"),
        ("daybed", "bed"),
        ("bookcase", "bookshelf"),
        ("couch", "sofa"),
        ("console table", "side table"),
        ("bedside table", "nightstand"),
        ("rocking chair", "rocking chair"),
        ("pool table", "pool table"),
        ("ping-pong table", "ping pong table"),
        ("lab bench", "lab bench"),
        ("conference table", "conference table"),
        ("forks", "fork"),
        ("knives", "knife"),
        ("teddy bears", "teddy bear"),
        ("dartboard", "dartboard"),
        ("colourful mats", "rug"),
        ("dining chairs", "chair"),
        ("desk chair", "office chair"),
        ("refrigerator", "fridge"),
        ("wall clock", "clock"),
        ("potted plant", "plant"),
        ("drapes", "curtains"),
        ("TV", "tv"),
        ("tv-stand", "tv stand"),
    ],
)
def test_categories_are_normalised_and_mapped(name: str, expected: str) -> None:
    assert shape_for(name, (1.0, 1.0, 1.0)) == expected
    assert build_mesh(name, (1.0, 1.0, 1.0)).metadata["shape"] == expected


def test_normalize_category() -> None:
    assert normalize_category("  Coffee--Table ") == "coffee table"
    assert normalize_category("TV_stand") == "tv stand"


def test_lamps_follow_their_height() -> None:
    assert shape_for("lamp", (0.4, 1.7, 0.4)) == "floor lamp"
    assert shape_for("lamp", (0.3, 0.45, 0.3)) == "table lamp"
    assert shape_for("table lamp", (0.4, 1.5, 0.4)) == "floor lamp"
    assert shape_for("arc lamp", (0.5, 1.9, 0.5)) == "floor lamp"


def test_unknown_categories_follow_their_proportions() -> None:
    assert shape_for("doohickey", (0.3, 2.6, 0.3)) == "generic cabinet"
    assert shape_for("flux capacitor", (1.5, 1.0, 1.8)) == "generic table"
    assert shape_for("gizmo", (0.3, 0.3, 0.3)) == "generic block"
    # Wide but shallow: a box against the wall rather than a table on legs.
    assert shape_for("thingamajig", (1.0, 0.6, 0.1)) == "generic cabinet"


def test_an_explicit_shape_wins_over_the_category() -> None:
    assert shape_for("chair", (0.5, 0.9, 0.5), shape="rocking chair") == "rocking chair"
    mesh = build_mesh("thing", (0.3, 0.3, 0.3), shape="Teddy-Bear")
    assert mesh.metadata["shape"] == "teddy bear"
    with pytest.raises(ValueError, match="unknown shape family"):
        shape_for("chair", (0.5, 0.9, 0.5), shape="spaceship")


def test_bookshelf_boards_stand_where_the_catalog_puts_them() -> None:
    item = catalog.lookup("bookshelf")
    assert item is not None and item.boards
    size = item.size
    heights = set(np.round(build_mesh("bookshelf", size).vertices[:, 1], 4))
    for top in catalog.board_heights(item, size[1]):
        assert any(abs(top - y) < 1e-3 for y in heights), top


def test_generic_shapes_differ() -> None:
    built = {
        shape: build_mesh("thing", size)
        for shape, size in (
            ("generic cabinet", (0.6, 1.8, 0.5)),
            ("generic table", (1.2, 0.6, 1.0)),
            ("generic block", (0.3, 0.3, 0.3)),
        )
    }
    assert {shape: mesh.metadata["shape"] for shape, mesh in built.items()} == {
        shape: shape for shape in built
    }
    # Compared in the unit box, so only the arrangement of parts can tell them apart.
    unit = {
        shape: np.round(np.sort(mesh.vertices / mesh.extents, axis=0), 4).tobytes()
        for shape, mesh in built.items()
    }
    assert len(set(unit.values())) == 3


def test_every_catalog_category_is_drawn_by_its_own_family() -> None:
    for item in catalog.entries():
        expected = item.shape
        if expected in ("floor lamp", "table lamp"):
            expected = "floor lamp" if item.size[1] >= 1.0 else "table lamp"
        assert shape_for(item.name, item.size) == expected, item.name
        for synonym in item.syn:
            assert not shape_for(synonym, item.size).startswith("generic "), synonym


@pytest.mark.parametrize(
    ("family", "accent"),
    [
        ("pool table", "black"),  # pockets
        ("tv", "screen"),
        ("piano", "white"),
        ("piano", "black"),
        ("plant", "terracotta"),
        ("mirror", "mirror"),
        ("aquarium", "water"),
    ],
)
def test_recognisable_parts_wear_their_own_material(family: str, accent: str) -> None:
    glb = mesh_glb("object", TYPICAL[family], png_bytes(16, 16)[0], shape=family)
    tree = glb_json(glb)
    materials = {m["name"]: m for m in tree["materials"]}
    assert f"holodeck-{accent}" in materials
    assert "holodeck-texture" in materials  # the rest still wears the object's image
    see_through = [m for m in materials.values() if m.get("alphaMode") == "BLEND"]
    for material in see_through:
        assert material["pbrMetallicRoughness"]["baseColorFactor"][3] < 1.0


def test_lamp_shades_glow() -> None:
    tree = glb_json(mesh_glb("floor lamp", TYPICAL["floor lamp"]))
    light = next(m for m in tree["materials"] if m["name"] == "holodeck-light")
    assert min(light["emissiveFactor"]) > 0.3
