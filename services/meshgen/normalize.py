"""Put an image-to-3D model's GLB into an object's frame, editing the GLB in place.

An image-to-3D backend returns a model in its own canonical frame: normalised to a unit
cube or sphere, centred on its middle rather than its base, facing whichever way the
model's conditioning camera looked, often under a node or two with transforms. An object
needs +Y up, the centre of its bottom face at the origin, its front facing +Z and a
bounding box equal to its planned ``size``. :func:`normalize_glb` does that in one pass:

- Node transforms are baked into the vertex data and the node tree is flattened into one
  node per mesh instance, with no transform. A mesh used by several nodes is duplicated
  (its geometry once per distinct transform); cameras, skins and animations are dropped,
  a skinned mesh taken in its bind pose (the vertex data as stored).
- The model is turned about +Y so its front, given as ``front_axis`` in the model's own
  frame, faces +Z. The backends know their model's convention (see ``remote``).
- It is scaled **per axis** to ``size`` and moved so that its footprint is centred on the
  origin (x and z) with its lowest point at y = 0.

Per-axis scaling, rather than one uniform factor that fits the model inside ``size``: the
layout reserved exactly ``size`` for the object, the assembly and the mesh protocol rely
on the bounding box being that size, and a uniformly fitted model would leave gaps in two
of the three axes (a wardrobe that does not reach its wall, a bed shorter than its
footprint). The distortion is small in practice because the object's image was made for
those proportions; what the scaling mostly corrects is the backend's own normalisation and
its depth estimate, the dimension a single front view determines least well.

Only accessor data changes. Positions, normals and tangents (and morph-target deltas) are
rewritten where they lie in the binary chunk, so images, UVs, materials and every byte not
touched stay as they were: textures are never decoded or re-encoded, which a round trip
through a scene library would do (trimesh re-encodes every image on export and dominates
the cost). Data shared between instances that need different transforms is copied to the
end of the binary chunk instead. A mirroring transform (negative determinant) reverses the
triangles' winding so that front faces stay front faces.

Unsupported, and rejected as ``mesh_invalid``: compressed or quantised geometry (Draco,
meshopt, integer positions), sparse accessors, GPU instancing, buffers outside the GLB.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import math
import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from shared.errors import Permanent

Size = tuple[float, float, float]
_Floats = npt.NDArray[np.float64]

# Yaw about +Y, in degrees, that turns a model's front from this axis to +Z.
FRONT_AXES: dict[str, float] = {"+z": 0.0, "-x": 90.0, "-z": 180.0, "+x": -90.0}

_GLB_MAGIC = b"glTF"
_CHUNK_JSON = 0x4E4F534A
_CHUNK_BIN = 0x004E4942

_FLOAT = 5126
_COMPONENT_DTYPES: dict[int, str] = {
    5120: "i1",
    5121: "u1",
    5122: "<i2",
    5123: "<u2",
    5125: "<u4",
    _FLOAT: "<f4",
}
_WIDTHS = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}
_TRIANGLES, _STRIP, _FAN = 4, 5, 6
_ARRAY_BUFFER, _ELEMENT_ARRAY_BUFFER = 34962, 34963
_UINT16, _UINT32 = 5123, 5125

_UNSUPPORTED_EXTENSIONS = {
    "KHR_draco_mesh_compression": "Draco-compressed geometry",
    "EXT_meshopt_compression": "meshopt-compressed buffers",
    "EXT_mesh_gpu_instancing": "GPU instancing",
}

# How each attribute is transformed: points get the whole affine map, directions and
# morph deltas only its linear part, normals the inverse transpose.
_BASE_KINDS = {"POSITION": "point", "NORMAL": "normal", "TANGENT": "tangent"}
_TARGET_KINDS = {"POSITION": "delta", "NORMAL": "normal_delta", "TANGENT": "delta"}
_KEEPS_BOUNDS = {"point", "delta"}

# Below this extent (metres in the model's frame) an axis is flat and cannot be scaled.
_MIN_EXTENT = 1e-6


def normalize_glb(glb: bytes, size: Size, *, front_axis: str = "+z") -> bytes:
    """The model in ``glb`` in an object's frame: +Y up, the centre of its bottom face at
    the origin, its front (``front_axis`` in the model's frame: ``+z``, ``-z``, ``+x`` or
    ``-x``) facing +Z and its bounding box equal to ``size`` (x width, y height, z depth).

    Raises :class:`Permanent` ``mesh_invalid`` for bytes that are not a usable GLB,
    ``mesh_empty`` for a model without triangles and ``mesh_degenerate`` for one that is
    flat along an axis; ``ValueError`` for a bad ``size`` or ``front_axis``.
    """
    target = _check_size(size)
    if front_axis not in FRONT_AXES:
        raise ValueError(f"front_axis must be one of {sorted(FRONT_AXES)}, got {front_axis!r}")
    try:
        document = _Document.parse(glb)
        return document.normalized(target, _yaw(FRONT_AXES[front_axis]))
    except Permanent:
        raise
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, struct.error) as exc:
        raise Permanent(f"the GLB is malformed: {exc!r}", code="mesh_invalid") from None


def _check_size(size: Size) -> _Floats:
    values = np.asarray(size, dtype=np.float64)
    if values.shape != (3,) or not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise ValueError(f"size must be three positive finite numbers, got {size!r}")
    return values


def _invalid(message: str) -> Permanent:
    return Permanent(message, code="mesh_invalid")


def _yaw(degrees: float) -> _Floats:
    """4×4 rotation about +Y; exact for the quarter turns used here."""
    c = round(math.cos(math.radians(degrees)), 12)
    s = round(math.sin(math.radians(degrees)), 12)
    return np.array(
        [[c, 0.0, s, 0.0], [0.0, 1.0, 0.0, 0.0], [-s, 0.0, c, 0.0], [0.0, 0.0, 0.0, 1.0]]
    )


def _node_matrix(node: dict[str, Any]) -> _Floats:
    """A node's local transform: ``matrix`` (column-major) or translation·rotation·scale."""
    if "matrix" in node:
        values = np.asarray(node["matrix"], dtype=np.float64)
        if values.shape != (16,):
            raise _invalid("a node matrix must have 16 numbers")
        matrix: _Floats = values.reshape(4, 4).T
        return matrix
    x, y, z, w = (float(v) for v in node.get("rotation", (0.0, 0.0, 0.0, 1.0)))
    norm = math.sqrt(x * x + y * y + z * z + w * w) or 1.0
    x, y, z, w = x / norm, y / norm, z / norm, w / norm
    rotation = np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )
    result = np.eye(4)
    result[:3, :3] = rotation * np.asarray(node.get("scale", (1.0, 1.0, 1.0)), dtype=np.float64)
    result[:3, 3] = np.asarray(node.get("translation", (0.0, 0.0, 0.0)), dtype=np.float64)
    return result


def _transform(kind: str, data: _Floats, matrix: _Floats) -> _Floats:
    linear = matrix[:3, :3]
    if kind == "point":
        result: _Floats = data @ linear.T + matrix[:3, 3]
        return result
    if kind == "delta":
        result = data @ linear.T
        return result
    if kind in ("normal", "normal_delta"):
        turned = data @ np.linalg.inv(linear)
        return _unit(turned) if kind == "normal" else turned
    # tangent: xyz like a direction, w the bitangent sign, which a mirror flips
    xyz = _unit(data[:, :3] @ linear.T)
    sign = np.sign(np.linalg.det(linear)) or 1.0
    result = np.column_stack((xyz, data[:, 3] * sign))
    return result


def _unit(vectors: _Floats) -> _Floats:
    length = np.linalg.norm(vectors, axis=1, keepdims=True)
    result: _Floats = np.divide(vectors, length, out=np.zeros_like(vectors), where=length > 1e-12)
    return result


def _pad(data: bytes | bytearray, fill: bytes) -> bytes:
    return bytes(data) + fill * ((-len(data)) % 4)


@dataclass
class _Instance:
    """One mesh drawn by one node, with the node's world transform."""

    node: dict[str, Any]
    mesh: int
    world: _Floats


@dataclass
class _Document:
    tree: dict[str, Any]
    source: bytes  # the binary chunk as received: every read comes from here
    binary: bytearray  # what is written out
    _owners: dict[int, npt.NDArray[np.int32]] = field(default_factory=dict)
    _claims: list[tuple[str, bytes]] = field(default_factory=list)
    _written: dict[tuple[int, ...], int] = field(default_factory=dict)
    _done: dict[tuple[int, str, bytes], int] = field(default_factory=dict)

    # ----------------------------------------------------------------------------------
    # Reading.

    @classmethod
    def parse(cls, glb: bytes) -> _Document:
        if len(glb) < 20 or glb[:4] != _GLB_MAGIC:
            raise _invalid("not a GLB (no glTF binary header)")
        version, total = struct.unpack_from("<II", glb, 4)
        if version != 2:
            raise _invalid(f"GLB version {version} is not glTF 2")
        if total > len(glb):
            raise _invalid(f"GLB truncated: header says {total} bytes, got {len(glb)}")
        tree: dict[str, Any] | None = None
        binary: bytes | None = None
        cursor = 12
        while cursor + 8 <= total:
            length, kind = struct.unpack_from("<II", glb, cursor)
            body = glb[cursor + 8 : cursor + 8 + length]
            if len(body) != length:
                raise _invalid("GLB chunk runs past the end of the file")
            if kind == _CHUNK_JSON and tree is None:
                parsed = json.loads(body.rstrip(b" \x00").decode("utf-8"))
                if not isinstance(parsed, dict):
                    raise _invalid("the GLB's JSON chunk is not an object")
                tree = parsed
            elif kind == _CHUNK_BIN and binary is None:
                binary = body
            cursor += 8 + length + ((-length) % 4)
        if tree is None:
            raise _invalid("GLB has no JSON chunk")
        binary = cls._merge_buffers(tree, binary or b"")
        required = set(tree.get("extensionsRequired", ())) | set(tree.get("extensionsUsed", ()))
        for name, what in _UNSUPPORTED_EXTENSIONS.items():
            if name in required:
                raise _invalid(f"unsupported GLB feature: {what} ({name})")
        return cls(tree=tree, source=binary, binary=bytearray(binary))

    @staticmethod
    def _merge_buffers(tree: dict[str, Any], chunk: bytes) -> bytes:
        """One buffer: the binary chunk, with any data-URI buffers appended to it."""
        buffers = tree.get("buffers", [])
        merged = bytearray()
        starts: list[int] = []
        for index, buffer in enumerate(buffers):
            uri = buffer.get("uri")
            if uri is None:
                if index != 0:
                    raise _invalid("only the first buffer may be the GLB binary chunk")
                data = chunk
            elif uri.startswith("data:") and "," in uri:
                try:
                    data = base64.b64decode(uri.split(",", 1)[1], validate=True)
                except binascii.Error:
                    raise _invalid(f"buffer {index} has a malformed data URI") from None
            else:
                raise _invalid(f"buffer {index} refers to an external file {uri!r}")
            if len(data) < int(buffer.get("byteLength", 0)):
                raise _invalid(f"buffer {index} is shorter than its byteLength")
            merged.extend(b"\x00" * ((-len(merged)) % 8))
            starts.append(len(merged))
            merged.extend(data)
        for view in tree.get("bufferViews", []):
            view["byteOffset"] = starts[view["buffer"]] + view.get("byteOffset", 0)
            view["buffer"] = 0
        tree["buffers"] = [{"byteLength": len(merged)}] if merged else []
        return bytes(merged)

    def _instances(self) -> list[_Instance]:
        nodes: list[dict[str, Any]] = self.tree.get("nodes", [])
        scenes = self.tree.get("scenes")
        if scenes:
            roots = list(scenes[self.tree.get("scene", 0)].get("nodes", []))
        else:
            children = {child for node in nodes for child in node.get("children", [])}
            roots = [index for index in range(len(nodes)) if index not in children]
        found: list[_Instance] = []
        stack: list[tuple[int, _Floats, frozenset[int]]] = [
            (r, np.eye(4), frozenset()) for r in reversed(roots)
        ]
        while stack:
            index, parent, path = stack.pop()
            if index in path:
                raise _invalid(f"node {index} is its own ancestor")
            node = nodes[index]
            world = parent @ _node_matrix(node)
            if "mesh" in node:
                # A skinned mesh ignores its node's transform; without joints it is drawn
                # in its bind pose, which is the vertex data as stored.
                placed = np.eye(4) if "skin" in node else world
                found.append(_Instance(node=node, mesh=int(node["mesh"]), world=placed))
            for child in reversed(node.get("children", [])):
                stack.append((int(child), world, path | {index}))
        return found

    def _layout(self, index: int) -> tuple[int, int, int, int, int, str]:
        """View, byte offset into the binary, stride, count, width and dtype of an accessor."""
        accessor = self.tree["accessors"][index]
        if "sparse" in accessor:
            raise _invalid(f"accessor {index} is sparse, which is not supported")
        if "bufferView" not in accessor:
            raise _invalid(f"accessor {index} has no data")
        view_index = int(accessor["bufferView"])
        view = self.tree["bufferViews"][view_index]
        dtype = _COMPONENT_DTYPES[int(accessor["componentType"])]
        item = np.dtype(dtype).itemsize
        width = _WIDTHS[accessor["type"]]
        count = int(accessor["count"])
        stride = int(view.get("byteStride") or item * width)
        start = int(view.get("byteOffset", 0))
        offset = start + int(accessor.get("byteOffset", 0))
        end = offset + (stride * (count - 1) + item * width if count else 0)
        if end > start + int(view["byteLength"]) or start + int(view["byteLength"]) > len(
            self.source
        ):
            raise _invalid(f"accessor {index} runs past its buffer view")
        return view_index, offset, stride, count, width, dtype

    def _read(self, index: int) -> _Floats:
        """An accessor's values as float64, shape (count, width)."""
        _, offset, stride, count, width, dtype = self._layout(index)
        item = np.dtype(dtype).itemsize
        values = np.ndarray(
            (count, width), dtype=dtype, buffer=self.source, offset=offset, strides=(stride, item)
        )
        result: _Floats = values.astype(np.float64)
        return result

    def _read_float(self, index: int, usage: str) -> _Floats:
        if int(self.tree["accessors"][index]["componentType"]) != _FLOAT:
            raise _invalid(f"{usage} accessor {index} is quantised, which is not supported")
        return self._read(index)

    def _primitives(self, mesh: int) -> list[dict[str, Any]]:
        primitives: list[dict[str, Any]] = self.tree["meshes"][mesh]["primitives"]
        return primitives

    def _triangles(self, primitive: dict[str, Any]) -> npt.NDArray[np.int64]:
        """The primitive's triangles as vertex index triples, in their winding order."""
        mode = int(primitive.get("mode", _TRIANGLES))
        if "indices" in primitive:
            order = self._read(int(primitive["indices"]))[:, 0].astype(np.int64)
        else:
            count = int(self.tree["accessors"][primitive["attributes"]["POSITION"]]["count"])
            order = np.arange(count, dtype=np.int64)
        if mode == _TRIANGLES:
            return order[: len(order) // 3 * 3].reshape(-1, 3)
        steps = np.arange(max(len(order) - 2, 0))
        if mode == _STRIP:
            odd = steps % 2
            return np.column_stack((order[steps], order[steps + 1 + odd], order[steps + 2 - odd]))
        if mode == _FAN:
            return np.column_stack(
                (order[steps + 1], order[steps + 2], np.full_like(steps, order[0]))
            )
        return np.empty((0, 3), dtype=np.int64)

    # ----------------------------------------------------------------------------------
    # Normalising.

    def normalized(self, size: _Floats, turn: _Floats) -> bytes:
        instances = self._instances()
        triangles = sum(
            len(self._triangles(primitive))
            for instance in instances
            for primitive in self._primitives(instance.mesh)
            if "POSITION" in primitive.get("attributes", {})
        )
        if triangles == 0:
            raise Permanent("the model has no triangles", code="mesh_empty")
        low, high = self._bounds(instances, turn)
        extent = high - low
        if np.any(extent < _MIN_EXTENT):
            axis = "xyz"[int(np.argmin(extent))]
            raise Permanent(f"the model is flat along {axis}", code="mesh_degenerate")
        anchor = np.array([(low[0] + high[0]) / 2.0, low[1], (low[2] + high[2]) / 2.0])
        place = np.diag(np.append(size / extent, 1.0))
        place[:3, 3] = -anchor * (size / extent)
        self._rewrite(instances, place @ turn)
        return self._serialise()

    def _bounds(self, instances: list[_Instance], turn: _Floats) -> tuple[_Floats, _Floats]:
        low = np.full(3, np.inf)
        high = np.full(3, -np.inf)
        for instance in instances:
            matrix = turn @ instance.world
            for primitive in self._primitives(instance.mesh):
                position = primitive.get("attributes", {}).get("POSITION")
                if position is None:
                    continue
                points = _transform("point", self._read_float(position, "POSITION"), matrix)
                if len(points):
                    low = np.minimum(low, points.min(axis=0))
                    high = np.maximum(high, points.max(axis=0))
        return low, high

    def _rewrite(self, instances: list[_Instance], place: _Floats) -> None:
        meshes: list[dict[str, Any]] = self.tree["meshes"]
        # Copies of a mesh start from its JSON as received, before any instance edited it.
        pristine = copy.deepcopy(meshes)
        placed_meshes: dict[tuple[int, bytes], int] = {}
        nodes: list[dict[str, Any]] = []
        had_skins = bool(self.tree.pop("skins", None))
        for instance in instances:
            matrix = place @ instance.world
            key = np.round(matrix, 9).tobytes()
            mesh = placed_meshes.get((instance.mesh, key))
            if mesh is None:
                mesh = instance.mesh
                if any(m == instance.mesh for m, _ in placed_meshes):
                    meshes.append(copy.deepcopy(pristine[instance.mesh]))
                    mesh = len(meshes) - 1
                placed_meshes[(instance.mesh, key)] = mesh
                for primitive in meshes[mesh]["primitives"]:
                    self._place_primitive(primitive, matrix, key)
            node: dict[str, Any] = {"mesh": mesh}
            for name in ("name", "weights"):
                if name in instance.node:
                    node[name] = instance.node[name]
            nodes.append(node)
        if had_skins:
            for primitive in (p for m in meshes for p in m.get("primitives", [])):
                attributes = primitive.get("attributes", {})
                for name in [n for n in attributes if n.startswith(("JOINTS_", "WEIGHTS_"))]:
                    del attributes[name]
        self.tree["nodes"] = nodes
        scene: dict[str, Any] = {"nodes": list(range(len(nodes)))}
        scenes = self.tree.get("scenes") or [{}]
        if "name" in scenes[self.tree.get("scene", 0)]:
            scene["name"] = scenes[self.tree.get("scene", 0)]["name"]
        self.tree["scenes"] = [scene]
        self.tree["scene"] = 0
        for dropped in ("animations", "cameras"):
            self.tree.pop(dropped, None)

    def _place_primitive(self, primitive: dict[str, Any], matrix: _Floats, key: bytes) -> None:
        attributes = primitive.get("attributes", {})
        for name, kind in _BASE_KINDS.items():
            if name in attributes:
                attributes[name] = self._transformed(int(attributes[name]), kind, matrix, key)
        for target in primitive.get("targets", []):
            for name, kind in _TARGET_KINDS.items():
                if name in target:
                    target[name] = self._transformed(int(target[name]), kind, matrix, key)
        mode = int(primitive.get("mode", _TRIANGLES))
        if np.linalg.det(matrix[:3, :3]) < 0 and mode in (_TRIANGLES, _STRIP, _FAN):
            if "POSITION" in attributes:
                flipped = self._triangles(primitive)[:, [0, 2, 1]]
                primitive["indices"] = self._append_indices(flipped.ravel())
                primitive["mode"] = _TRIANGLES

    def _transformed(self, index: int, kind: str, matrix: _Floats, key: bytes) -> int:
        """The accessor holding ``index``'s data transformed by ``matrix``: ``index`` itself,
        rewritten in place, unless its bytes are already claimed by another transform."""
        done = self._done.get((index, kind, key))
        if done is not None:
            return done
        values = self._read_float(index, kind)
        result = _transform(kind, values, matrix).astype("<f4")
        view, offset, stride, count, width, _ = self._layout(index)
        signature = (view, offset, stride, count, width)
        claim = self._claim(kind, key)
        touched = (
            offset
            - int(self.tree["bufferViews"][view].get("byteOffset", 0))
            + np.arange(count)[:, None] * stride
            + np.arange(width * 4)[None, :]
        ).ravel()
        owners = self._owners.get(view)
        if owners is None:
            length = int(self.tree["bufferViews"][view]["byteLength"])
            owners = self._owners[view] = np.full(length, -1, dtype=np.int32)
        accessor = self.tree["accessors"][index]
        in_place = self._written.get(signature) == claim or (
            signature not in self._written and bool(np.all(owners[touched] == -1))
        )
        if in_place:
            target = np.ndarray(
                (count, width), dtype="<f4", buffer=self.binary, offset=offset, strides=(stride, 4)
            )
            target[...] = result
            owners[touched] = claim
            self._written[signature] = claim
            placed = index
        else:
            accessor = {
                "bufferView": self._append(result.tobytes(), _ARRAY_BUFFER),
                "componentType": _FLOAT,
                "count": count,
                "type": accessor["type"],
            }
            self.tree["accessors"].append(accessor)
            placed = len(self.tree["accessors"]) - 1
        if kind in _KEEPS_BOUNDS or "min" in accessor:
            accessor["min"] = [float(v) for v in result.min(axis=0)] if count else [0.0] * width
            accessor["max"] = [float(v) for v in result.max(axis=0)] if count else [0.0] * width
        self._done[(index, kind, key)] = placed
        return placed

    def _claim(self, kind: str, key: bytes) -> int:
        if (kind, key) not in self._claims:
            self._claims.append((kind, key))
        return self._claims.index((kind, key))

    def _append(self, data: bytes, target: int) -> int:
        self.binary.extend(b"\x00" * ((-len(self.binary)) % 4))
        view = {
            "buffer": 0,
            "byteOffset": len(self.binary),
            "byteLength": len(data),
            "target": target,
        }
        self.binary.extend(data)
        self.tree.setdefault("bufferViews", []).append(view)
        return len(self.tree["bufferViews"]) - 1

    def _append_indices(self, indices: npt.NDArray[np.int64]) -> int:
        wide = bool(len(indices)) and int(indices.max()) > 0xFFFF
        dtype, component = ("<u4", _UINT32) if wide else ("<u2", _UINT16)
        view = self._append(indices.astype(dtype).tobytes(), _ELEMENT_ARRAY_BUFFER)
        self.tree["accessors"].append(
            {
                "bufferView": view,
                "componentType": component,
                "count": len(indices),
                "type": "SCALAR",
            }
        )
        return len(self.tree["accessors"]) - 1

    # ----------------------------------------------------------------------------------
    # Writing.

    def _serialise(self) -> bytes:
        if self.binary:
            self.tree["buffers"] = [{"byteLength": len(self.binary)}]
        else:
            self.tree.pop("buffers", None)
        body = _pad(json.dumps(self.tree, separators=(",", ":")).encode("utf-8"), b" ")
        chunks = [struct.pack("<II", len(body), _CHUNK_JSON), body]
        if self.binary:
            payload = _pad(self.binary, b"\x00")
            chunks += [struct.pack("<II", len(payload), _CHUNK_BIN), payload]
        total = 12 + sum(len(c) for c in chunks)
        return b"".join([struct.pack("<4sII", _GLB_MAGIC, 2, total), *chunks])
