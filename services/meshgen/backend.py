"""Mesh backends: what meshgen calls to turn one object and its image into one mesh.

The parametric shapes (and trimesh under them) are imported on the first mesh made, and
the remote clients (httpx, the GLB normaliser) when one is configured, not with this
module: a build whose meshes all come from the cache never pays for them.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
from typing import Protocol

from nats.js import JetStreamContext

from shared import catalog
from shared.config import MeshSettings
from shared.layout import PlacedObject
from shared.slots import SlotBoard


class MeshBackend(Protocol):
    """Makes a GLB of one object in its local frame: +Y up, the bottom face centred on
    the origin, the front facing +Z, its bounding box equal to ``obj.size``.
    ``identity`` names the backend and its model, for the asset cache."""

    identity: str

    async def generate(self, obj: PlacedObject, image_png: bytes) -> bytes: ...

    async def close(self) -> None: ...


class ParametricMeshes:
    """Offline default: recognisable multi-part shapes per family, textured with the image.

    The family is the object's own ``shape`` when the layout gives one, else the shared
    catalog's for its category.
    """

    def __init__(self) -> None:
        # The catalog decides which family draws a category: a changed catalog must not
        # be served meshes cached under the old one.
        digest = hashlib.sha256(catalog.DATA.read_bytes()).hexdigest()[:12]
        self.identity = f"parametric/v3+catalog-{digest}"

    async def generate(self, obj: PlacedObject, image_png: bytes) -> bytes:
        from services.meshgen.shapes import mesh_glb

        shape: str | None = getattr(obj, "shape", None)
        return await asyncio.to_thread(
            functools.partial(mesh_glb, obj.category, obj.size, image_png, shape=shape)
        )

    async def close(self) -> None:
        return None


def mesh_backend(
    settings: MeshSettings, js: JetStreamContext | None = None, replicas: int = 1
) -> MeshBackend:
    """The configured mesh backend, created once at start-up. With ``js`` (and the
    ``cluster`` scope) a remote server's concurrency bound holds across replicas; its
    bucket keeps ``replicas`` copies on a JetStream cluster."""
    cluster = js is not None and settings.concurrency_scope == "cluster"
    board = SlotBoard(js, replicas=replicas) if js is not None and cluster else None
    if settings.default_backend == "sf3d":
        from services.meshgen.remote import SF3DMeshes

        return SF3DMeshes.from_settings(settings, board)
    if settings.default_backend == "hunyuan3d":
        from services.meshgen.remote import Hunyuan3DMeshes

        return Hunyuan3DMeshes.from_settings(settings, board)
    return ParametricMeshes()
