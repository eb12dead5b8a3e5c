"""Materials of a parametric mesh and its export as GLB bytes, the image embedded as given.

Meshes are exported with trimesh; a PNG or JPEG texture then replaces trimesh's one-pixel
stand-in byte for byte in the binary chunk, which spares decoding and re-encoding it.
Parts with an accent (:data:`services.meshgen.primitives.ACCENTS`) get a plain material.
"""

from __future__ import annotations

import io
import json
import struct
from typing import Any

import trimesh
from PIL import Image, UnidentifiedImageError

from services.meshgen.primitives import Accent

NEUTRAL_COLOR = (199, 194, 184, 255)


def plain_material() -> trimesh.visual.material.PBRMaterial:
    """The neutral material of a mesh made without an image."""
    return trimesh.visual.material.PBRMaterial(
        name="holodeck-neutral",
        baseColorFactor=NEUTRAL_COLOR,
        metallicFactor=0.0,
        roughnessFactor=0.85,
    )


def textured_material(image: Image.Image) -> trimesh.visual.material.PBRMaterial:
    """The material of the parts that wear the object's image."""
    return trimesh.visual.material.PBRMaterial(
        name="holodeck-texture",
        baseColorTexture=image,
        metallicFactor=0.0,
        roughnessFactor=0.8,
    )


def open_image(data: bytes) -> Image.Image:
    """The decoded image; ValueError for bytes that are no readable image."""
    try:
        image: Image.Image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ValueError(f"image_png is not a readable image: {exc}") from exc
    if image.mode not in ("RGB", "RGBA", "L", "LA"):
        alpha = "A" in image.mode or "transparency" in image.info
        image = image.convert("RGBA" if alpha else "RGB")
    return image


_EMBEDDABLE = {"PNG": "image/png", "JPEG": "image/jpeg"}


def sniff(data: bytes) -> str | None:
    """The glTF MIME type if the bytes are a sound PNG or JPEG, None for other images."""
    try:
        image = Image.open(io.BytesIO(data))
        kind = image.format
        image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ValueError(f"image_png is not a readable image: {exc}") from exc
    return _EMBEDDABLE.get(kind or "")


def accent_material(name: str, accent: Accent) -> trimesh.visual.material.PBRMaterial:
    """The plain material of an accent: see-through ones blend, lit ones glow."""
    material = trimesh.visual.material.PBRMaterial(
        name=f"holodeck-{name}",
        baseColorFactor=accent.color,
        metallicFactor=accent.metallic,
        roughnessFactor=accent.roughness,
    )
    if accent.color[3] < 255:
        material.alphaMode = "BLEND"
        material.doubleSided = True
    if any(accent.emissive):
        material.emissiveFactor = list(accent.emissive)
    return material


def export(mesh: trimesh.Trimesh | trimesh.Scene) -> bytes:
    """GLB bytes of a mesh or a scene of meshes."""
    data: Any = mesh.export(file_type="glb")
    return bytes(data)


_GLB_MAGIC = b"glTF"
_CHUNK_JSON = b"JSON"
_CHUNK_BIN = b"BIN\x00"


def _pad(data: bytes, fill: bytes) -> bytes:
    return data + fill * ((-len(data)) % 4)


def replace_image(glb: bytes, image: bytes, mime: str) -> bytes:
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
    if not images:
        return glb  # every part wears a plain material: nothing to carry the image
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
