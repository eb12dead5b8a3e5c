"""The parametric mesh backend: what it draws for a layout object, and its cache identity."""

from __future__ import annotations

import asyncio
import io
import json
import struct

import trimesh
from PIL import Image

from services.meshgen.backend import ParametricMeshes
from shared import catalog
from shared.layout import PlacedObject


def glb_json(glb: bytes) -> dict:
    (length,) = struct.unpack_from("<I", glb, 12)
    return json.loads(glb[20 : 20 + length])


def test_identity_names_the_catalog_it_draws_from() -> None:
    backend = ParametricMeshes()
    assert backend.identity.startswith("parametric/v3+catalog-")
    assert len(backend.identity.rsplit("-", 1)[1]) == 12
    assert ParametricMeshes().identity == backend.identity
    assert catalog.DATA.is_file()


def test_an_object_gets_its_catalog_familys_mesh_at_its_size() -> None:
    obj = PlacedObject(
        id="pool-table-1",
        category="pool table",
        description="a green pool table",
        size=(2.5, 0.8, 1.4),
        position=(1.0, 0.0, 1.0),
    )
    glb = asyncio.run(ParametricMeshes().generate(obj, _png()))
    scene = trimesh.load(io.BytesIO(glb), file_type="glb")
    assert (scene.extents - (2.5, 0.8, 1.4) < 1e-3).all()
    names = {m["name"] for m in glb_json(glb)["materials"]}
    assert {"holodeck-texture", "holodeck-black"} <= names  # felt wears the image, pockets black


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (40, 120, 60)).save(buffer, format="PNG")
    return buffer.getvalue()
