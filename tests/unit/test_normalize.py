"""GLB normalisation: node transforms baked, front turned to +Z, box fitted, textures kept."""

from __future__ import annotations

import base64
import json
import math
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import trimesh

from services.meshgen.normalize import normalize_glb
from shared.errors import Permanent
from tests.fakes.image_to_3d import assert_model_placed, model_glb, node_vertices

SIZE = (0.8, 1.1, 0.5)
CM = 0.01
VALIDATOR = Path(__file__).resolve().parents[1] / "tools" / "gltf_validate.mjs"


# --------------------------------------------------------------------------------------
# Reading and writing GLBs by hand, to reach what trimesh never writes.


def split(glb: bytes) -> tuple[dict[str, Any], bytes]:
    (json_length,) = struct.unpack_from("<I", glb, 12)
    tree = json.loads(glb[20 : 20 + json_length])
    start = 20 + json_length
    if start >= len(glb):
        return tree, b""
    (bin_length,) = struct.unpack_from("<I", glb, start)
    return tree, glb[start + 8 : start + 8 + bin_length]


def pack(tree: dict[str, Any], binary: bytes = b"") -> bytes:
    body = json.dumps(tree).encode()
    body += b" " * ((-len(body)) % 4)
    chunks = struct.pack("<I4s", len(body), b"JSON") + body
    if binary:
        binary += b"\x00" * ((-len(binary)) % 4)
        chunks += struct.pack("<I4s", len(binary), b"BIN\x00") + binary
    return struct.pack("<4sII", b"glTF", 2, 12 + len(chunks)) + chunks


def view_bytes(glb: bytes, view: int) -> bytes:
    tree, binary = split(glb)
    entry = tree["bufferViews"][view]
    offset = entry.get("byteOffset", 0)
    return binary[offset : offset + entry["byteLength"]]


def accessor(glb: bytes, index: int) -> np.ndarray:
    tree, binary = split(glb)
    entry = tree["accessors"][index]
    view = tree["bufferViews"][entry["bufferView"]]
    width = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4}[entry["type"]]
    dtype = {5126: "<f4", 5125: "<u4", 5123: "<u2", 5121: "u1"}[entry["componentType"]]
    item = np.dtype(dtype).itemsize
    stride = view.get("byteStride", item * width)
    offset = view.get("byteOffset", 0) + entry.get("byteOffset", 0)
    return np.ndarray(
        (entry["count"], width), dtype=dtype, buffer=binary, offset=offset, strides=(stride, item)
    ).astype(np.float64)


class Builder:
    """A GLB assembled accessor by accessor."""

    def __init__(self) -> None:
        self.binary = bytearray()
        self.tree: dict[str, Any] = {
            "asset": {"version": "2.0"},
            "accessors": [],
            "bufferViews": [],
            "meshes": [],
            "nodes": [],
            "scenes": [{"nodes": []}],
            "scene": 0,
        }

    def data(self, values: np.ndarray, kind: str, component: int = 5126) -> int:
        dtype = {5126: "<f4", 5125: "<u4", 5123: "<u2", 5122: "<i2"}[component]
        raw = np.ascontiguousarray(values, dtype=dtype).tobytes()
        self.binary += b"\x00" * ((-len(self.binary)) % 4)
        self.tree["bufferViews"].append(
            {"buffer": 0, "byteOffset": len(self.binary), "byteLength": len(raw)}
        )
        self.binary += raw
        entry: dict[str, Any] = {
            "bufferView": len(self.tree["bufferViews"]) - 1,
            "componentType": component,
            "count": len(values),
            "type": kind,
        }
        if kind == "VEC3" and component == 5126:
            entry["min"] = np.asarray(values).min(axis=0).tolist()
            entry["max"] = np.asarray(values).max(axis=0).tolist()
        self.tree["accessors"].append(entry)
        return len(self.tree["accessors"]) - 1

    def mesh(self, *primitives: dict[str, Any]) -> int:
        self.tree["meshes"].append({"primitives": list(primitives)})
        return len(self.tree["meshes"]) - 1

    def node(self, root: bool = True, **fields: Any) -> int:
        self.tree["nodes"].append(fields)
        index = len(self.tree["nodes"]) - 1
        if root:
            self.tree["scenes"][0]["nodes"].append(index)
        return index

    def glb(self) -> bytes:
        self.tree["buffers"] = [{"byteLength": len(self.binary)}]
        return pack(self.tree, bytes(self.binary))


def faceted_box() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A unit box with its own vertices per face: positions, outward normals, triangles."""
    box = trimesh.creation.box(extents=(1.0, 1.0, 1.0))
    corners = np.asarray(box.vertices)[np.asarray(box.faces)]
    positions = corners.reshape(-1, 3)
    normals = np.repeat(np.asarray(box.face_normals), 3, axis=0)
    triangles = np.arange(len(positions)).reshape(-1, 3)
    return positions, normals, triangles


def triangles_of(glb: bytes) -> list[tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
    """Per primitive: positions, triangle indices and normals (if any)."""
    tree, _ = split(glb)
    found = []
    for mesh in tree["meshes"]:
        for primitive in mesh["primitives"]:
            positions = accessor(glb, primitive["attributes"]["POSITION"])
            if "indices" in primitive:
                order = accessor(glb, primitive["indices"])[:, 0].astype(int)
            else:
                order = np.arange(len(positions))
            assert primitive.get("mode", 4) == 4
            normals = primitive["attributes"].get("NORMAL")
            found.append(
                (
                    positions,
                    order.reshape(-1, 3),
                    None if normals is None else accessor(glb, normals),
                )
            )
    return found


def signed_volume(positions: np.ndarray, triangles: np.ndarray) -> float:
    a, b, c = (positions[triangles[:, i]] for i in range(3))
    return float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0)


def bounds(glb: bytes) -> np.ndarray:
    every = np.concatenate(list(node_vertices(glb).values()))
    return np.array([every.min(axis=0), every.max(axis=0)])


def assert_fitted(glb: bytes, size: tuple[float, float, float]) -> None:
    w, h, d = size
    expected = np.array([[-w / 2, 0.0, -d / 2], [w / 2, h, d / 2]])
    assert np.abs(bounds(glb) - expected).max() < CM


def quaternion_y(degrees: float) -> list[float]:
    half = math.radians(degrees) / 2
    return [0.0, math.sin(half), 0.0, math.cos(half)]


# --------------------------------------------------------------------------------------
# Placement.


@pytest.mark.parametrize("front", ["+z", "-z", "+x", "-x"])
def test_the_model_is_turned_to_face_plus_z_and_fitted_to_its_box(front: str) -> None:
    glb = normalize_glb(model_glb(front), SIZE, front_axis=front)

    assert_fitted(glb, SIZE)
    # Every vertex where the +Z-facing model scaled into SIZE has it: the nose at +Z,
    # the fin on +X (so a turn, never a mirror), the bottom at y = 0.
    assert_model_placed(glb, SIZE)


def test_the_wrong_front_axis_leaves_the_model_facing_elsewhere() -> None:
    glb = normalize_glb(model_glb("+x"), SIZE, front_axis="+z")

    assert_fitted(glb, SIZE)
    with pytest.raises(AssertionError):
        assert_model_placed(glb, SIZE)


@pytest.mark.parametrize("size", [(0.45, 0.9, 0.5), (2.0, 0.4, 1.6), (0.05, 2.4, 0.03)])
def test_the_bounding_box_is_the_size_per_axis(size: tuple[float, float, float]) -> None:
    glb = normalize_glb(model_glb("-z"), size, front_axis="-z")

    assert_fitted(glb, size)
    assert_model_placed(glb, size)


def test_node_transforms_are_baked_into_a_flat_node_list() -> None:
    source, _ = split(model_glb("-z"))
    assert any("children" in node for node in source["nodes"])

    tree, _ = split(normalize_glb(model_glb("-z"), SIZE, front_axis="-z"))

    assert len(tree["nodes"]) == 2
    for node in tree["nodes"]:
        assert set(node) <= {"mesh", "name", "weights"}
    assert tree["scenes"] == [{"nodes": [0, 1]}]
    assert tree["scene"] == 0


def test_textures_and_uvs_are_kept_byte_for_byte() -> None:
    source = model_glb("-z")
    glb = normalize_glb(source, SIZE, front_axis="-z")
    before, _ = split(source)
    after, _ = split(glb)

    assert after["materials"] == before["materials"]
    assert after["textures"] == before["textures"]
    assert len(after["images"]) == len(before["images"]) == 1
    image_before = view_bytes(source, before["images"][0]["bufferView"])
    image_after = view_bytes(glb, after["images"][0]["bufferView"])
    assert image_after == image_before
    for mesh_before, mesh_after in zip(before["meshes"], after["meshes"], strict=True):
        uv_before = mesh_before["primitives"][0]["attributes"]["TEXCOORD_0"]
        uv_after = mesh_after["primitives"][0]["attributes"]["TEXCOORD_0"]
        assert np.array_equal(accessor(glb, uv_after), accessor(source, uv_before))


def test_a_mesh_shared_by_nodes_with_different_transforms_is_placed_once_per_node() -> None:
    box = trimesh.creation.box(extents=(1.0, 1.0, 1.0))
    scene = trimesh.Scene()
    scene.add_geometry(box, node_name="left", geom_name="box")
    scene.add_geometry(
        box,
        node_name="right",
        geom_name="box",
        transform=trimesh.transformations.translation_matrix((3.0, 0.0, 0.0)),
    )
    glb = normalize_glb(bytes(scene.export(file_type="glb")), (4.0, 1.0, 1.0))

    placed = node_vertices(glb)
    assert np.allclose(placed["left"].min(axis=0), (-2.0, 0.0, -0.5), atol=1e-5)
    assert np.allclose(placed["left"].max(axis=0), (-1.0, 1.0, 0.5), atol=1e-5)
    assert np.allclose(placed["right"].min(axis=0), (1.0, 0.0, -0.5), atol=1e-5)
    assert np.allclose(placed["right"].max(axis=0), (2.0, 1.0, 0.5), atol=1e-5)


def test_one_mesh_drawn_mirrored_and_plain_is_placed_right_twice() -> None:
    builder = Builder()
    positions, _, triangles = faceted_box()
    mesh = builder.mesh(
        {
            "attributes": {"POSITION": builder.data(positions, "VEC3")},
            "indices": builder.data(triangles.ravel(), "SCALAR", 5125),
        }
    )
    builder.node(mesh=mesh, name="mirrored", scale=[-1.0, 1.0, 1.0], translation=[-2.0, 0, 0])
    builder.node(mesh=mesh, name="plain", translation=[2.0, 0.0, 0.0])

    glb = normalize_glb(builder.glb(), (5.0, 1.0, 1.0))

    tree, _ = split(glb)
    assert [node["name"] for node in tree["nodes"]] == ["mirrored", "plain"]
    assert tree["nodes"][0]["mesh"] != tree["nodes"][1]["mesh"]
    placed = node_vertices(glb)
    assert np.allclose(placed["mirrored"].min(axis=0), (-2.5, 0.0, -0.5), atol=1e-5)
    assert np.allclose(placed["plain"].max(axis=0), (2.5, 1.0, 0.5), atol=1e-5)
    for positions_, order, _ in triangles_of(glb):
        assert signed_volume(positions_, order) > 0


def test_two_nodes_drawing_one_mesh_in_the_same_place_share_it() -> None:
    builder = Builder()
    positions, _, triangles = faceted_box()
    mesh = builder.mesh(
        {
            "attributes": {"POSITION": builder.data(positions, "VEC3")},
            "indices": builder.data(triangles.ravel(), "SCALAR", 5125),
        }
    )
    builder.node(mesh=mesh, name="a")
    builder.node(mesh=mesh, name="b")

    tree, _ = split(normalize_glb(builder.glb(), (1.0, 1.0, 1.0)))

    assert [node["mesh"] for node in tree["nodes"]] == [0, 0]
    assert len(tree["meshes"]) == 1


@pytest.mark.parametrize("indexed", [True, False], ids=["indexed", "non-indexed"])
def test_a_mirroring_sheared_node_keeps_faces_outward_and_normals_true(indexed: bool) -> None:
    builder = Builder()
    positions, normals, triangles = faceted_box()
    tangents = np.column_stack((np.cross(normals, (0.3, 0.5, 0.8)), np.ones(len(normals))))
    tangents[:, :3] /= np.linalg.norm(tangents[:, :3], axis=1, keepdims=True)
    primitive: dict[str, Any] = {
        "attributes": {
            "POSITION": builder.data(positions, "VEC3"),
            "NORMAL": builder.data(normals, "VEC3"),
            "TANGENT": builder.data(tangents, "VEC4"),
        }
    }
    if indexed:
        primitive["indices"] = builder.data(triangles.ravel(), "SCALAR", 5123)
    mesh = builder.mesh(primitive)
    # A turn under an uneven, mirroring scale: the box becomes a mirrored parallelepiped.
    child = builder.node(root=False, mesh=mesh, rotation=quaternion_y(30.0))
    builder.node(children=[child], scale=[-2.0, 1.0, 0.5], translation=[5.0, 1.0, -2.0])

    glb = normalize_glb(builder.glb(), (1.0, 0.7, 0.6))

    assert_fitted(glb, (1.0, 0.7, 0.6))
    [(placed, order, placed_normals)] = triangles_of(glb)
    assert signed_volume(placed, order) > 0  # the winding still faces outward
    a, b, c = (placed[order[:, i]] for i in range(3))
    facing = np.cross(b - a, c - a)
    facing /= np.linalg.norm(facing, axis=1, keepdims=True)
    assert placed_normals is not None
    for corner in range(3):
        assert np.einsum("ij,ij->i", facing, placed_normals[order[:, corner]]).min() > 0.999
    tree, _ = split(glb)
    placed_tangents = accessor(glb, tree["meshes"][0]["primitives"][0]["attributes"]["TANGENT"])
    assert np.allclose(np.linalg.norm(placed_tangents[:, :3], axis=1), 1.0, atol=1e-5)
    assert np.abs(np.einsum("ij,ij->i", placed_tangents[:, :3], placed_normals)).max() < 1e-4
    assert np.all(placed_tangents[:, 3] == -1.0)  # the mirror flips the bitangent


def test_a_mirrored_triangle_strip_becomes_triangles_wound_the_right_way() -> None:
    builder = Builder()
    # A wall quad facing +Z as a strip, and a thin one behind it to give depth.
    strip = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0]], dtype=np.float64)
    back = strip[[1, 0, 3, 2]] - (0.0, 0.0, 0.1)
    mesh = builder.mesh(
        {"attributes": {"POSITION": builder.data(strip, "VEC3")}, "mode": 5},
        {"attributes": {"POSITION": builder.data(back, "VEC3")}, "mode": 5},
    )
    builder.node(mesh=mesh, scale=[-1.0, 1.0, 1.0])

    glb = normalize_glb(builder.glb(), (1.0, 1.0, 0.1))

    front, rear = triangles_of(glb)
    for _, order, _ in (front, rear):
        assert order.shape == (2, 3)
    a, b, c = (front[0][front[1][:, i]] for i in range(3))
    assert np.all(np.cross(b - a, c - a)[:, 2] > 0)  # still facing +Z after the mirror


def test_morph_targets_move_with_the_mesh() -> None:
    builder = Builder()
    positions, _, triangles = faceted_box()
    delta = np.tile((0.0, 0.5, 0.0), (len(positions), 1))
    mesh = builder.mesh(
        {
            "attributes": {"POSITION": builder.data(positions, "VEC3")},
            "indices": builder.data(triangles.ravel(), "SCALAR", 5125),
            "targets": [{"POSITION": builder.data(delta, "VEC3")}],
        }
    )
    builder.node(mesh=mesh)

    glb = normalize_glb(builder.glb(), (1.0, 2.0, 1.0))

    tree, _ = split(glb)
    target = tree["meshes"][0]["primitives"][0]["targets"][0]["POSITION"]
    assert np.allclose(accessor(glb, target), (0.0, 1.0, 0.0))  # scaled like the mesh
    assert tree["accessors"][target]["min"] == [0.0, 1.0, 0.0]


def test_a_skinned_mesh_is_taken_in_its_bind_pose_without_its_skin() -> None:
    builder = Builder()
    positions, _, triangles = faceted_box()
    joints = np.zeros((len(positions), 4))
    weights = np.tile((1.0, 0.0, 0.0, 0.0), (len(positions), 1))
    mesh = builder.mesh(
        {
            "attributes": {
                "POSITION": builder.data(positions, "VEC3"),
                "JOINTS_0": builder.data(joints, "VEC4", 5123),
                "WEIGHTS_0": builder.data(weights, "VEC4"),
            },
            "indices": builder.data(triangles.ravel(), "SCALAR", 5125),
        }
    )
    plain = builder.mesh(
        {
            "attributes": {"POSITION": builder.data(positions, "VEC3")},
            "indices": builder.data(triangles.ravel(), "SCALAR", 5125),
        }
    )
    joint = builder.node(root=False, name="joint")
    builder.tree["skins"] = [{"joints": [joint]}]
    builder.node(mesh=mesh, skin=0, translation=[100.0, 0.0, 0.0], children=[joint], name="skin")
    builder.node(mesh=plain, name="plain")

    glb = normalize_glb(builder.glb(), (1.0, 1.0, 1.0))

    tree, _ = split(glb)
    assert "skins" not in tree
    assert set(tree["meshes"][0]["primitives"][0]["attributes"]) == {"POSITION"}
    # The skinned node's own translation is ignored: both boxes fill the same space.
    placed = node_vertices(glb)
    for name in ("skin", "plain"):
        assert np.allclose(placed[name].min(axis=0), (-0.5, 0.0, -0.5), atol=1e-5)
        assert np.allclose(placed[name].max(axis=0), (0.5, 1.0, 0.5), atol=1e-5)


def test_data_uri_buffers_are_read() -> None:
    builder = Builder()
    positions, _, triangles = faceted_box()
    mesh = builder.mesh(
        {
            "attributes": {"POSITION": builder.data(positions, "VEC3")},
            "indices": builder.data(triangles.ravel(), "SCALAR", 5125),
        }
    )
    builder.node(mesh=mesh, translation=[0.0, 3.0, 0.0])
    encoded = base64.b64encode(bytes(builder.binary)).decode()
    builder.tree["buffers"] = [
        {
            "byteLength": len(builder.binary),
            "uri": f"data:application/octet-stream;base64,{encoded}",
        }
    ]

    glb = normalize_glb(pack(builder.tree), (0.5, 0.5, 0.5))

    assert_fitted(glb, (0.5, 0.5, 0.5))
    tree, _ = split(glb)
    assert tree["buffers"] == [{"byteLength": tree["buffers"][0]["byteLength"]}]


@pytest.mark.skipif(
    shutil.which("node") is None or not (VALIDATOR.parent / "node_modules").is_dir(),
    reason="the Khronos glTF validator (node tests/tools) is not installed",
)
@pytest.mark.parametrize("case", ["served model", "instanced"])
def test_the_output_passes_the_khronos_validator(case: str, tmp_path: Path) -> None:
    if case == "served model":
        glb = normalize_glb(model_glb("+x"), SIZE, front_axis="+x")
    else:
        box = trimesh.creation.box()
        scene = trimesh.Scene()
        scene.add_geometry(box, node_name="a", geom_name="box")
        mirrored = np.diag([-1.0, 1.0, 1.0, 1.0])
        mirrored[0, 3] = 2.0
        scene.add_geometry(box, node_name="b", geom_name="box", transform=mirrored)
        glb = normalize_glb(bytes(scene.export(file_type="glb")), SIZE)
    path = tmp_path / "normalized.glb"
    path.write_bytes(glb)

    result = subprocess.run(
        ["node", str(VALIDATOR), str(path)], capture_output=True, text=True, timeout=60
    )

    report = json.loads(result.stdout)
    assert report["numErrors"] == 0, report["messages"]


# --------------------------------------------------------------------------------------
# Rejections.


def _code(glb: bytes) -> str:
    with pytest.raises(Permanent) as caught:
        normalize_glb(glb, SIZE)
    return caught.value.code


def test_bytes_that_are_not_a_glb_are_invalid() -> None:
    assert _code(b"") == "mesh_invalid"
    assert _code(b"<html>502 Bad Gateway</html>") == "mesh_invalid"
    assert _code(b"glTF" + struct.pack("<II", 1, 20) + b"\x00" * 12) == "mesh_invalid"


def test_a_truncated_glb_is_invalid() -> None:
    glb = model_glb("+z")
    assert _code(glb[: len(glb) // 2]) == "mesh_invalid"


def test_a_glb_with_broken_references_is_invalid() -> None:
    tree, binary = split(model_glb("+z"))
    tree["nodes"][1]["mesh"] = 42
    assert _code(pack(tree, binary)) == "mesh_invalid"
    tree, binary = split(model_glb("+z"))
    tree["accessors"][1]["count"] = 10**6
    assert _code(pack(tree, binary)) == "mesh_invalid"


def test_compressed_or_quantised_geometry_is_invalid() -> None:
    tree, binary = split(model_glb("+z"))
    tree["extensionsUsed"] = tree["extensionsRequired"] = ["KHR_draco_mesh_compression"]
    assert _code(pack(tree, binary)) == "mesh_invalid"

    builder = Builder()
    positions, _, triangles = faceted_box()
    mesh = builder.mesh(
        {
            "attributes": {"POSITION": builder.data(positions * 100, "VEC3", 5122)},
            "indices": builder.data(triangles.ravel(), "SCALAR", 5125),
        }
    )
    builder.node(mesh=mesh)
    assert _code(builder.glb()) == "mesh_invalid"


def test_a_cyclic_node_tree_is_invalid() -> None:
    builder = Builder()
    builder.node(children=[1])
    builder.node(root=False, children=[0])
    assert _code(builder.glb()) == "mesh_invalid"


def test_a_model_without_triangles_is_empty() -> None:
    assert _code(pack({"asset": {"version": "2.0"}})) == "mesh_empty"
    assert _code(pack({"asset": {"version": "2.0"}, "scenes": [{"nodes": []}]})) == "mesh_empty"

    builder = Builder()
    points = builder.mesh({"attributes": {"POSITION": builder.data(np.eye(3), "VEC3")}, "mode": 0})
    builder.node(mesh=points)
    assert _code(builder.glb()) == "mesh_empty"


def test_a_flat_model_is_degenerate() -> None:
    builder = Builder()
    quad = np.array([[0, 0, 0], [1, 0, 0], [0, 0, 1], [1, 0, 1]], dtype=np.float64)
    mesh = builder.mesh({"attributes": {"POSITION": builder.data(quad, "VEC3")}, "mode": 5})
    builder.node(mesh=mesh)
    assert _code(builder.glb()) == "mesh_degenerate"


def test_bad_arguments_are_programming_errors() -> None:
    glb = model_glb("+z")
    with pytest.raises(ValueError, match="front_axis"):
        normalize_glb(glb, SIZE, front_axis="+y")
    with pytest.raises(ValueError, match="size"):
        normalize_glb(glb, (1.0, 0.0, 1.0))
