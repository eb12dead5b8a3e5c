"""Scene assembly: room shell, object nodes and transforms in one GLB."""

from __future__ import annotations

import io
import json
import math
import struct

import numpy as np
import pytest
import trimesh
from PIL import Image

from services.assembly.scene import build_scene_glb, triangulate, wall_pieces
from shared.layout import Layout, Opening, PlacedObject, Room, polygon_area, rectangle

L_SHAPE = [(0.0, 0.0), (0.0, 4.0), (4.0, 4.0), (4.0, 2.0), (2.0, 2.0), (2.0, 0.0)]


# ------------------------------------------------------------------------ helpers


def box_glb(size: tuple[float, float, float], front_marker: bool = False) -> bytes:
    """A box of ``size`` with its bottom centre at the origin (optionally a knob at +Z)."""
    mesh = trimesh.creation.box(extents=size)
    mesh.apply_translation((0.0, size[1] / 2.0, 0.0))
    if front_marker:
        knob = trimesh.creation.box(extents=(0.02, 0.02, 0.02))
        knob.apply_translation((0.0, size[1] / 2.0, size[2] / 2.0 + 0.01))
        mesh = trimesh.util.concatenate([mesh, knob])
    return mesh.export(file_type="glb")


def textured_box_glb(size: tuple[float, float, float], seed: int = 0) -> bytes:
    mesh = trimesh.creation.box(extents=size)
    mesh.apply_translation((0.0, size[1] / 2.0, 0.0))
    rng = np.random.default_rng(seed)
    image = Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8))
    uv = rng.random((len(mesh.vertices), 2))
    mesh.visual = trimesh.visual.TextureVisuals(uv=uv, image=image)
    return mesh.export(file_type="glb")


def glb_json(data: bytes) -> dict:
    (length,) = struct.unpack_from("<I", data, 12)
    return json.loads(data[20 : 20 + length])


def glb_images(data: bytes) -> list[bytes]:
    doc = glb_json(data)
    (json_length,) = struct.unpack_from("<I", data, 12)
    binary = data[20 + json_length + 8 :]
    images = []
    for image in doc.get("images", []):
        view = doc["bufferViews"][image["bufferView"]]
        start = view.get("byteOffset", 0)
        images.append(binary[start : start + view["byteLength"]])
    return images


def load(data: bytes) -> trimesh.Scene:
    scene = trimesh.load(io.BytesIO(data), file_type="glb")
    assert isinstance(scene, trimesh.Scene)
    return scene


def world_mesh(scene: trimesh.Scene, node: str) -> trimesh.Trimesh:
    """All geometry at or below ``node``, in world coordinates."""
    parents = scene.graph.transforms.parents
    parts = []
    for geometry_node in scene.graph.nodes_geometry:
        ancestor = geometry_node
        while ancestor is not None and ancestor != node:
            ancestor = parents.get(ancestor)
        if ancestor is None:
            continue
        transform, name = scene.graph.get(geometry_node)
        part = scene.geometry[name].copy()
        part.apply_transform(transform)
        parts.append(part)
    assert parts, f"no geometry under {node}"
    return trimesh.util.concatenate(parts)


def segment_hits(mesh: trimesh.Trimesh, start, end) -> int:
    """Number of triangles the segment start→end crosses (Möller–Trumbore)."""
    origin = np.asarray(start, dtype=np.float64)
    direction = np.asarray(end, dtype=np.float64) - origin
    triangles = mesh.triangles
    edge1 = triangles[:, 1] - triangles[:, 0]
    edge2 = triangles[:, 2] - triangles[:, 0]
    p = np.cross(direction, edge2)
    det = np.einsum("ij,ij->i", edge1, p)
    ok = np.abs(det) > 1e-12
    inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
    t_vec = origin - triangles[:, 0]
    u = np.einsum("ij,ij->i", t_vec, p) * inv
    q = np.cross(t_vec, edge1)
    v = (q @ direction) * inv
    t = np.einsum("ij,ij->i", edge2, q) * inv
    hit = ok & (u >= 0) & (v >= 0) & (u + v <= 1) & (t >= 0) & (t <= 1)
    return int(hit.sum())


def make_object(
    object_id: str,
    size=(1.0, 1.0, 1.0),
    position=(1.0, 0.0, 1.0),
    rotation: float = 0.0,
) -> PlacedObject:
    return PlacedObject(
        id=object_id,
        category="thing",
        description="a thing",
        size=size,
        position=position,
        rotation=rotation,
    )


def point_in_polygon(point, polygon) -> bool:
    x, z = point
    inside = False
    for i, (x1, z1) in enumerate(polygon):
        x2, z2 = polygon[(i + 1) % len(polygon)]
        if (z1 > z) != (z2 > z) and x < x1 + (z - z1) * (x2 - x1) / (z2 - z1):
            inside = not inside
    return inside


@pytest.fixture
def room() -> Room:
    return Room(
        type="bedroom",
        polygon=rectangle(5.0, 4.0),
        height=2.6,
        doors=[Opening(wall=0, offset=1.0, width=0.9, height=2.1)],
        windows=[Opening(wall=1, offset=2.5, width=1.2, height=1.0, sill=0.9)],
    )


# -------------------------------------------------------------------------- tests


def test_loads_as_scene_with_shell(room):
    objects = [make_object("bed-1", size=(1.6, 0.5, 2.0), position=(2.0, 0.0, 2.0))]
    glb = build_scene_glb(Layout(room=room, objects=objects), {"bed-1": box_glb((1.6, 0.5, 2.0))})
    magic, version, total = struct.unpack_from("<4sII", glb, 0)
    assert (magic, version, total) == (b"glTF", 2, len(glb))
    assert glb_json(glb)["asset"]["version"] == "2.0"
    scene = load(glb)
    names = set(scene.graph.nodes)
    assert "floor" in names
    for index in range(len(room.polygon)):
        assert f"wall-{index}" in names
    floor = world_mesh(scene, "floor")
    assert floor.area == pytest.approx(room.area)
    assert np.allclose(floor.face_normals, (0.0, 1.0, 0.0))
    wall = world_mesh(scene, "wall-2")
    assert wall.bounds[1][1] == pytest.approx(room.height)


def test_one_node_per_object_id(room):
    objects = [
        make_object("bed-1", position=(1.0, 0.0, 1.0)),
        make_object("lamp-1", size=(0.3, 1.5, 0.3), position=(3.0, 0.0, 1.0)),
        make_object("rug-1", size=(2.0, 0.01, 1.5), position=(2.5, 0.0, 2.5)),
    ]
    meshes = {obj.id: box_glb(obj.size) for obj in objects}
    glb = build_scene_glb(Layout(room=room, objects=objects), meshes)
    node_names = [node.get("name") for node in glb_json(glb)["nodes"]]
    for obj in objects:
        assert node_names.count(obj.id) == 1
    assert len(node_names) == len(set(node_names))
    scene = load(glb)
    for obj in objects:
        assert obj.id in scene.graph.nodes
        assert obj.id in scene.graph.nodes_geometry


@pytest.mark.parametrize("rotation", [0.0, 30.0, 90.0, 180.0, -45.0])
def test_object_transform(room, rotation):
    size = (1.2, 0.8, 0.6)
    obj = make_object("desk-1", size=size, position=(2.0, 0.0, 1.5), rotation=rotation)
    glb = build_scene_glb(Layout(room=room, objects=[obj]), {"desk-1": box_glb(size)})
    scene = load(glb)
    transform, _ = scene.graph.get("desk-1")
    assert np.allclose(transform[:3, 3], obj.position)
    theta = math.radians(rotation)
    # Yaw about +Y: the local front +Z maps to (sin θ, 0, cos θ).
    assert np.allclose(transform[:3, :3] @ (0.0, 0.0, 1.0), (math.sin(theta), 0.0, math.cos(theta)))
    mesh = world_mesh(scene, "desk-1")
    (x0, y0, z0), (x1, _, z1) = mesh.bounds
    assert ((x0 + x1) / 2, y0, (z0 + z1) / 2) == pytest.approx(obj.position, abs=1e-6)
    # The mesh's footprint corners are exactly PlacedObject.footprint().
    bottom = mesh.vertices[np.isclose(mesh.vertices[:, 1], 0.0)][:, [0, 2]]
    for corner in obj.footprint():
        assert np.min(np.linalg.norm(bottom - np.asarray(corner), axis=1)) < 1e-5


def test_quarter_turn_swaps_footprint_extents(room):
    size = (2.0, 0.5, 1.0)
    objects = [
        make_object("sofa-1", size=size, position=(2.0, 0.0, 2.0), rotation=90.0),
        make_object("sofa-2", size=size, position=(2.0, 0.0, 3.0), rotation=0.0),
    ]
    meshes = {obj.id: box_glb(size) for obj in objects}
    scene = load(build_scene_glb(Layout(room=room, objects=objects), meshes))
    turned = world_mesh(scene, "sofa-1").extents
    straight = world_mesh(scene, "sofa-2").extents
    assert turned == pytest.approx((1.0, 0.5, 2.0), abs=1e-6)
    assert straight == pytest.approx((2.0, 0.5, 1.0), abs=1e-6)


def test_front_faces_the_rotated_direction(room):
    size = (1.0, 1.0, 1.0)
    obj = make_object("tv-1", size=size, position=(2.0, 0.0, 2.0), rotation=90.0)
    glb = build_scene_glb(Layout(room=room, objects=[obj]), {"tv-1": box_glb(size, True)})
    mesh = world_mesh(load(glb), "tv-1")
    # The knob on the local +Z face ends up on the +X side at 90°.
    assert mesh.bounds[1][0] == pytest.approx(2.0 + 0.5 + 0.02, abs=1e-6)
    assert mesh.bounds[1][2] == pytest.approx(2.0 + 0.5, abs=1e-6)


def test_door_leaves_a_gap(room):
    scene = load(build_scene_glb(Layout(room=room, objects=[]), {}))
    wall = world_mesh(scene, "wall-0")  # the edge x = 0 from z = 0 to z = 4
    # Straight through the wall thickness (x from +0.5 to -0.5) at the door centre...
    for height in (0.1, 1.0, 2.0):
        assert segment_hits(wall, (0.5, height, 1.0), (-0.5, height, 1.0)) == 0
    # ...but above the door and beside it the wall is solid (entering and leaving).
    assert segment_hits(wall, (0.5, 2.3, 1.0), (-0.5, 2.3, 1.0)) >= 2
    assert segment_hits(wall, (0.5, 1.0, 2.5), (-0.5, 1.0, 2.5)) >= 2
    # No vertex of the wall lies strictly inside the door rectangle.
    v = wall.vertices
    inside = (v[:, 2] > 0.55 + 1e-6) & (v[:, 2] < 1.45 - 1e-6) & (v[:, 1] < 2.1 - 1e-6)
    assert not inside.any()


def test_window_is_cut_between_sill_and_top(room):
    scene = load(build_scene_glb(Layout(room=room, objects=[]), {}))
    wall = world_mesh(scene, "wall-1")  # the edge z = 4 from x = 0 to x = 5
    centre = 2.5
    assert segment_hits(wall, (centre, 1.4, 3.5), (centre, 1.4, 4.5)) == 0
    assert segment_hits(wall, (centre, 0.5, 3.5), (centre, 0.5, 4.5)) >= 2  # below the sill
    assert segment_hits(wall, (centre, 2.2, 3.5), (centre, 2.2, 4.5)) >= 2  # above the top


def test_walls_stay_outside_the_room():
    room = Room(type="studio", polygon=L_SHAPE, height=2.5)
    scene = load(build_scene_glb(Layout(room=room, objects=[]), {}))
    for index in range(len(L_SHAPE)):
        wall = world_mesh(scene, f"wall-{index}")
        for x, _, z in wall.vertices:
            # Allow points on the boundary, not strictly inside.
            probe = [(x + dx, z + dz) for dx in (-1e-4, 1e-4) for dz in (-1e-4, 1e-4)]
            assert not all(point_in_polygon(p, L_SHAPE) for p in probe), (index, x, z)


def test_walls_close_the_corners():
    room = Room(type="studio", polygon=L_SHAPE, height=2.5)
    scene = load(build_scene_glb(Layout(room=room, objects=[]), {}))
    walls = trimesh.util.concatenate([world_mesh(scene, f"wall-{i}") for i in range(6)])
    # Diagonal segments out of every corner pass through wall material.
    for (x, z), (dx, dz) in [
        ((0.0, 0.0), (-1, -1)),
        ((0.0, 4.0), (-1, 1)),
        ((4.0, 4.0), (1, 1)),
        ((4.0, 2.0), (1, -1)),
        ((2.0, 0.0), (1, -1)),
        ((2.0, 2.0), (1, -1)),  # the reflex corner, seen from the notch
    ]:
        start = (x - 0.02 * dx, 1.0, z - 0.02 * dz)
        end = (x + 0.5 * dx, 1.0, z + 0.5 * dz)
        assert segment_hits(walls, start, end) >= 1, (x, z)


def test_l_shaped_floor_area():
    room = Room(type="studio", polygon=L_SHAPE, height=2.5)
    scene = load(build_scene_glb(Layout(room=room, objects=[]), {}))
    floor = world_mesh(scene, "floor")
    assert floor.area == pytest.approx(polygon_area(L_SHAPE)) == 12.0
    assert np.allclose(floor.face_normals, (0.0, 1.0, 0.0))
    # The notch (x > 2, z < 2) is not floor.
    assert segment_hits(floor, (3.0, 1.0, 1.0), (3.0, -1.0, 1.0)) == 0
    assert segment_hits(floor, (1.0, 1.0, 1.0), (1.0, -1.0, 1.0)) == 1


def test_same_input_same_bytes(room):
    objects = [make_object("bed-1", rotation=30.0)]
    layout = Layout(room=room, objects=objects)
    meshes = {"bed-1": textured_box_glb((1.0, 1.0, 1.0))}
    assert build_scene_glb(layout, meshes) == build_scene_glb(layout, meshes)


def test_missing_mesh_raises_key_error(room):
    objects = [make_object("bed-1"), make_object("chair-7", position=(3.0, 0.0, 2.0))]
    with pytest.raises(KeyError, match="chair-7"):
        build_scene_glb(Layout(room=room, objects=objects), {"bed-1": box_glb((1.0, 1.0, 1.0))})


def test_textures_kept_byte_for_byte(room):
    objects = [
        make_object("chair-1", position=(1.0, 0.0, 1.0)),
        make_object("chair-2", position=(3.0, 0.0, 1.0), rotation=45.0),
    ]
    meshes = {
        "chair-1": textured_box_glb((1, 1, 1), seed=1),
        "chair-2": textured_box_glb((1, 1, 1), 2),
    }
    glb = build_scene_glb(Layout(room=room, objects=objects), meshes)
    out_images = glb_images(glb)
    for data in meshes.values():
        for image in glb_images(data):
            assert image in out_images
    scene = load(glb)
    for object_id in ("chair-1", "chair-2"):
        _, name = scene.graph.get(object_id)
        material = scene.geometry[name].visual.material
        assert material.baseColorTexture is not None
        assert material.baseColorTexture.size == (64, 64)


def test_identical_meshes_are_shared(room):
    data = textured_box_glb((1.0, 1.0, 1.0))
    objects = [make_object(f"chair-{i}", position=(1.0 + i, 0.0, 1.0)) for i in range(3)]
    glb = build_scene_glb(Layout(room=room, objects=objects), {o.id: data for o in objects})
    shell = build_scene_glb(Layout(room=room, objects=[]), {})
    # The floor's and the walls' textures, then the chairs' one shared image.
    assert len(glb_images(glb)) == len(glb_images(shell)) + 1
    scene = load(glb)
    for obj in objects:
        assert world_mesh(scene, obj.id).bounds[0][0] == pytest.approx(obj.position[0] - 0.5)


def test_multi_part_object_becomes_a_parent_node(room):
    seat = trimesh.creation.box(extents=(1.0, 0.4, 1.0))
    seat.apply_translation((0.0, 0.2, 0.0))
    back = trimesh.creation.box(extents=(1.0, 0.6, 0.1))
    scene_in = trimesh.Scene()
    scene_in.add_geometry(seat, node_name="seat")
    scene_in.add_geometry(
        back,
        node_name="back",
        transform=trimesh.transformations.translation_matrix((0, 0.7, -0.45)),
    )
    data = scene_in.export(file_type="glb")
    obj = make_object("chair-1", size=(1.0, 1.0, 1.0), position=(2.0, 0.0, 2.0), rotation=90.0)
    glb = build_scene_glb(Layout(room=room, objects=[obj]), {"chair-1": data})
    names = [node.get("name") for node in glb_json(glb)["nodes"]]
    assert names.count("chair-1") == 1
    scene = load(glb)
    mesh = world_mesh(scene, "chair-1")
    assert mesh.bounds[0] == pytest.approx((1.5, 0.0, 1.5), abs=1e-6)
    assert mesh.bounds[1] == pytest.approx((2.5, 1.0, 2.5), abs=1e-6)
    # The back (local -Z) turns to -X at 90°.
    transform, _ = scene.graph.get("chair-1")
    assert transform[:3, :3] @ (0.0, 0.0, -1.0) == pytest.approx((-1.0, 0.0, 0.0), abs=1e-9)


def test_bad_layouts_rejected(room):
    with pytest.raises(ValueError, match="floor"):
        build_scene_glb(
            Layout(room=room, objects=[make_object("floor")]), {"floor": box_glb((1, 1, 1))}
        )
    with pytest.raises(ValueError, match="chair-1"):
        build_scene_glb(Layout(room=room, objects=[make_object("chair-1")]), {"chair-1": b"nope"})


def test_triangulate_simple_polygons():
    for polygon in (
        rectangle(3.0, 2.0),
        L_SHAPE,
        [(0, 0), (0, 3), (1, 3), (1, 1), (2, 1), (2, 3), (3, 3), (3, 0)],  # U shape
        [(0, 0), (0, 1), (0, 2), (2, 2), (2, 0), (1, 0)],  # collinear vertices
    ):
        triangles = triangulate(polygon)
        total = sum(abs(polygon_area([polygon[i] for i in triangle])) for triangle in triangles)
        assert total == pytest.approx(abs(polygon_area(polygon)))
        assert all(abs(polygon_area([polygon[i] for i in t])) > 1e-12 for t in triangles)


def test_wall_pieces_around_openings():
    door = Opening(wall=0, offset=1.0, width=1.0, height=2.0)
    window = Opening(wall=0, offset=3.0, width=1.0, height=1.0, sill=1.0)
    pieces = wall_pieces(4.0, 2.5, [door, window])
    area = sum((p.s1 - p.s0) * (p.y1 - p.y0) for p in pieces)
    assert area == pytest.approx(4.0 * 2.5 - 2.0 - 1.0)
    for piece in pieces:
        middle = ((piece.s0 + piece.s1) / 2, (piece.y0 + piece.y1) / 2)
        assert not (0.5 < middle[0] < 1.5 and middle[1] < 2.0)
        assert not (2.5 < middle[0] < 3.5 and 1.0 < middle[1] < 2.0)
    # An opening wider than the wall is clipped to it.
    assert wall_pieces(1.0, 2.0, [Opening(wall=0, offset=0.5, width=3.0, height=2.0)]) == []


# ----------------------------------------------------------- finishes, doors, windows


def material_of(glb: bytes, node_name: str) -> dict:
    doc = glb_json(glb)
    node = next(n for n in doc["nodes"] if n.get("name") == node_name)
    primitive = doc["meshes"][node["mesh"]]["primitives"][0]
    return doc["materials"][primitive["material"]]


def texture_of(glb: bytes, node_name: str) -> np.ndarray:
    doc = glb_json(glb)
    material = material_of(glb, node_name)
    texture = doc["textures"][material["pbrMetallicRoughness"]["baseColorTexture"]["index"]]
    data = glb_images(glb)[texture["source"]]
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.float64)


@pytest.mark.parametrize(
    ("floor", "expected"),
    [("oak", (188, 146, 96)), ("white tile", (242, 242, 238)), ("grey carpet", (128, 128, 128))],
)
def test_floor_carries_its_finish_as_a_texture(floor, expected):
    room = Room(type="room", polygon=rectangle(4.0, 3.0), height=2.6, floor_material=floor)
    glb = build_scene_glb(Layout(room=room, objects=[]), {})
    pixels = texture_of(glb, "floor")
    assert np.allclose(pixels.reshape(-1, 3).mean(axis=0), expected, atol=12.0)
    # A pattern, not a flat colour: planks, grout lines or carpet pile.
    assert pixels.std(axis=(0, 1)).max() > 3.0
    # Texture coordinates repeat the pattern at true scale over the whole floor.
    scene = load(glb)
    uv = scene.geometry["floor"].visual.uv
    assert uv.max() > 2.0


def test_wood_floor_has_plank_joints_and_tiles_have_grout():
    wood = Room(type="room", polygon=rectangle(4.0, 3.0), height=2.6, floor_material="oak")
    tile = Room(type="room", polygon=rectangle(4.0, 3.0), height=2.6, floor_material="tile")
    planks = texture_of(build_scene_glb(Layout(room=wood, objects=[]), {}), "floor").mean(axis=2)
    tiles = texture_of(build_scene_glb(Layout(room=tile, objects=[]), {}), "floor").mean(axis=2)
    # Joints between boards run along the rows: some rows are much darker than average.
    rows = planks.mean(axis=1)
    assert rows.min() < 0.8 * rows.mean()
    # Grout makes a grid: whole rows and whole columns lighter or darker than the tiles.
    columns = tiles.mean(axis=0)
    assert abs(columns - np.median(columns)).max() > 20.0


def test_wall_finish_reaches_the_walls(room):
    brick = room.model_copy(update={"wall_material": "red brick"})
    glb = build_scene_glb(Layout(room=brick, objects=[]), {})
    pixels = texture_of(glb, "wall-0").reshape(-1, 3).mean(axis=0)
    r, g, b = pixels
    assert r > g + 40 and r > b + 40


def test_doors_have_a_frame_and_a_leaf(room):
    glb = build_scene_glb(Layout(room=room, objects=[]), {})
    scene = load(glb)
    for name in ("door-0", "door-0-frame", "door-0-handles"):
        assert name in scene.graph.nodes_geometry
    leaf = world_mesh(scene, "door-0")
    frame = world_mesh(scene, "door-0-frame")
    door = room.doors[0]
    # The leaf fills the opening (wall 0 runs along z at x = 0) inside the wall.
    (x0, _, z0), (x1, y1, z1) = leaf.bounds
    assert -0.1 <= x0 and x1 <= 0.0
    assert z1 - z0 == pytest.approx(door.width - 2 * 0.06, abs=0.02)
    assert y1 == pytest.approx(door.height - 0.06, abs=0.02)
    assert frame.bounds[1][1] == pytest.approx(door.height, abs=1e-6)


def test_windows_have_a_frame_and_see_through_glass(room):
    glb = build_scene_glb(Layout(room=room, objects=[]), {})
    glass = material_of(glb, "window-0-glass")
    assert glass["alphaMode"] == "BLEND"
    assert glass["pbrMetallicRoughness"]["baseColorFactor"][3] < 0.5
    scene = load(glb)
    pane = world_mesh(scene, "window-0-glass")
    window = room.windows[0]
    (_, y0, _), (_, y1, _) = pane.bounds
    assert window.sill < y0 < y1 < window.sill + window.height
    frame = world_mesh(scene, "window-0-frame")
    assert frame.bounds[1][1] == pytest.approx(window.sill + window.height, abs=1e-6)


def test_door_and_window_names_are_reserved(room):
    objects = [make_object("door-0", position=(2.0, 0.0, 2.0))]
    with pytest.raises(ValueError, match="clash"):
        build_scene_glb(Layout(room=room, objects=objects), {"door-0": box_glb((1.0, 1.0, 1.0))})
