"""Assembly: when the last mesh of a scene arrives, build scene.glb and layout.json.

Stateless across replicas: every ``mesh.ready`` triggers a look at the stream; the
handler that sees every object's mesh builds the scene. Two replicas that both see the
scene complete publish the same ``Nats-Msg-Id`` and the same content-addressed
artifacts, so the duplicate is dropped by JetStream.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Protocol

from services.assembly.floorplan import floorplan_png
from services.assembly.scene import build_scene_glb
from shared.artifacts import ArtifactNotFound, ArtifactStore
from shared.cache import AssetCache
from shared.contract import (
    ArtifactRef,
    LayoutReady,
    MeshReady,
    SceneReady,
    Subject,
    msg_id,
    subject,
)
from shared.errors import Permanent, RetryLater
from shared.logs import get_logger
from shared.stage import Delivery, Output

log = get_logger(__name__)
STAGE = "assembly"
# Bump when the scene file or the floor plan would come out differently for the same input.
ASSEMBLY_VERSION = "v2"
# Scenes this process assembled (and when), so a message that waited does not redo one.
REMEMBERED_SCENES = 10_000
MEDIA_TYPES = {"scene.glb": "model/gltf-binary", "floorplan.png": "image/png"}


class History(Protocol):
    async def layout(self, scene_id: str, attempt: int = 1) -> LayoutReady | None: ...

    async def mesh_object_ids(self, scene_id: str) -> set[str]: ...

    async def meshes(
        self, scene_id: str, object_ids: list[str], attempt: int = 1
    ) -> dict[str, MeshReady]: ...


def layout_document(ready: LayoutReady) -> bytes:
    """``layout.json``: the scene id, the prompt and the layout, in the event's own schema."""
    document = {
        "scene_id": ready.scene_id,
        "prompt": ready.prompt,
        "seed": ready.seed,
        **ready.layout.model_dump(mode="json"),
    }
    return json.dumps(document, indent=2).encode()


class Assembler:
    def __init__(
        self,
        producer: str,
        store: ArtifactStore,
        history: History,
        cache: AssetCache | None = None,
    ):
        self.producer = producer
        self.store = store
        self.history = history
        self.cache = cache
        # One assembly per scene at a time in this process; the others wait and see.
        self._locks: dict[tuple[str, int], asyncio.Lock] = {}
        self._built: OrderedDict[tuple[str, int], float] = OrderedDict()

    async def __call__(self, event: MeshReady, delivery: Delivery) -> list[Output]:
        scene_id, attempt = event.scene_id, event.attempt
        if len(await self.history.mesh_object_ids(scene_id)) < event.object_count:
            return []  # not complete yet
        key = (scene_id, attempt)
        arrived = time.monotonic()
        lock = self._locks.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                built = self._built.get(key)
                if built is not None and built >= arrived:
                    # Built while this message waited: that build's scene.ready stands for
                    # it. A message arriving after a build (a redelivery because publishing
                    # that scene.ready failed) builds again.
                    return []
                # Looked at again under the lock: another message may have completed it.
                outputs = await self._assemble(
                    scene_id, await self.history.mesh_object_ids(scene_id), attempt
                )
                if outputs:
                    self._built[key] = time.monotonic()
                    if len(self._built) > REMEMBERED_SCENES:
                        self._built.popitem(last=False)
                return outputs
        finally:
            if not lock.locked():
                self._locks.pop(key, None)

    async def _cached(
        self, name: str, inputs: list[bytes], make: Callable[[], Awaitable[bytes]]
    ) -> ArtifactRef:
        media_type = MEDIA_TYPES[name]
        if self.cache is None:
            return await self.store.put(await make(), media_type)
        digest = hashlib.sha256(f"{STAGE}/{ASSEMBLY_VERSION}/{name}".encode())
        for part in inputs:
            digest.update(hashlib.sha256(part).digest())
        ref, _ = await self.cache.get_or_make(STAGE, digest.hexdigest(), make, media_type)
        return ref

    async def _assemble(self, scene_id: str, done: set[str], attempt: int) -> list[Output]:
        layout = await self.history.layout(scene_id, attempt)
        if layout is None:
            raise RetryLater(f"layout of scene {scene_id} not found in the stream", delay=1.0)
        wanted = [obj.id for obj in layout.layout.objects]
        if not set(wanted) <= done:
            return []
        mesh_events = await self.history.meshes(scene_id, wanted, attempt)
        if len(mesh_events) < len(wanted):
            return []  # something else stands on a missing mesh's subject: not complete
        try:
            blobs = await asyncio.gather(
                *(self.store.get(mesh_events[o].mesh.sha256) for o in wanted)
            )
        except ArtifactNotFound as exc:
            raise Permanent(f"mesh artifact {exc} is missing", code="artifact_missing") from None
        room = layout.layout.model_dump_json().encode()
        meshes = dict(zip(wanted, blobs, strict=True))

        async def make_glb() -> bytes:
            return await asyncio.to_thread(build_scene_glb, layout.layout, meshes)

        async def make_plan() -> bytes:
            return await asyncio.to_thread(floorplan_png, layout.layout)

        # The same layout with the same meshes is the same file: a rebuild reuses it.
        mesh_shas = [mesh_events[o].mesh.sha256 for o in wanted]
        glb_ref = await self._cached("scene.glb", [room, *map(str.encode, mesh_shas)], make_glb)
        plan_ref = await self._cached("floorplan.png", [room], make_plan)
        artifacts: dict[str, ArtifactRef] = {
            "scene.glb": glb_ref,
            "layout.json": await self.store.put(layout_document(layout), "application/json"),
            "floorplan.png": plan_ref,
        }
        log.info("scene assembled", scene_id=scene_id, objects=len(wanted), glb_bytes=glb_ref.size)
        ready = SceneReady(
            scene_id=scene_id,
            producer=self.producer,
            artifacts=artifacts,
            object_count=len(wanted),
        )
        return [Output(subject(Subject.SCENE_READY, scene_id), ready, msg_id(STAGE, scene_id))]
