"""Assembly: when the last mesh of a scene arrives, build scene.glb and layout.json.

Each replica follows the ``mesh.ready`` events of the scenes it sees: for every message
it reads the scene's mesh subjects onward from where it stopped, up to that message,
so each event is read once per replica and a message costs the same in a scene of 10
objects as in one of 500. What it has read is a cache of the stream, never the truth:
a replica that has no record of a scene (just started, another replica's crash handed
it the scene, or the scene was forgotten to bound memory) reads the scene's meshes
from the start, once. The handler of the scene's last stored mesh has read every mesh
before it, so the scene is built whichever replicas took which meshes; two replicas
that both see it complete publish the same ``Nats-Msg-Id`` and the same
content-addressed artifacts, and JetStream drops the duplicate. Meshes count for the
attempt they carry only, so a replay's attempt is complete with its own meshes.

The GLB writer and the floor-plan drawing (trimesh, Pillow) are imported with the first
scene built: a scene served from the cache never loads them.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

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
# Scenes whose arrived meshes this process keeps; the least recently seen is forgotten
# past it (and read again from the stream if one of its meshes comes back).
FOLLOWED_SCENES = 2_000
MEDIA_TYPES = {"scene.glb": "model/gltf-binary", "floorplan.png": "image/png"}


class History(Protocol):
    async def layout(self, scene_id: str, attempt: int = 1) -> LayoutReady | None: ...

    async def scene_meshes(
        self, scene_id: str, after: int, upto: int
    ) -> tuple[list[tuple[int, MeshReady]], int]: ...


@dataclass
class Arrivals:
    """The meshes of one scene read so far: per attempt, each object's newest mesh and
    the stream sequence it was stored at."""

    read_to: int = 0
    meshes: dict[int, dict[str, tuple[int, ArtifactRef]]] = field(default_factory=dict)

    def add(self, seq: int, event: MeshReady) -> None:
        mine = self.meshes.setdefault(event.attempt, {})
        held = mine.get(event.object_id)
        if held is None or held[0] < seq:
            mine[event.object_id] = (seq, event.mesh)

    def count(self, attempt: int) -> int:
        return len(self.meshes.get(attempt, {}))

    def of(self, attempt: int) -> dict[str, ArtifactRef]:
        return {o: ref for o, (_, ref) in self.meshes.get(attempt, {}).items()}


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
        # One message per scene at a time in this process; the others wait and see.
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}
        self._scenes: OrderedDict[str, Arrivals] = OrderedDict()
        self._built: OrderedDict[tuple[str, int], float] = OrderedDict()

    async def __call__(self, event: MeshReady, delivery: Delivery) -> list[Output]:
        scene_id, attempt = event.scene_id, event.attempt
        key = (scene_id, attempt)
        arrived = time.monotonic()
        async with self._scene_lock(scene_id):
            built = self._built.get(key)
            if built is not None and built >= arrived:
                # Built while this message waited: that build's scene.ready stands for
                # it. A message arriving after a build (a redelivery because publishing
                # that scene.ready failed) builds again.
                return []
            arrivals = await self._arrived(scene_id, delivery.stream_seq)
            if arrivals.count(attempt) < event.object_count:
                return []  # not complete yet
            outputs = await self._assemble(scene_id, arrivals.of(attempt), attempt)
            if outputs:
                self._built[key] = time.monotonic()
                if len(self._built) > REMEMBERED_SCENES:
                    self._built.popitem(last=False)
                self._scenes.pop(scene_id, None)  # done: its meshes need not be kept
            return outputs

    @contextlib.asynccontextmanager
    async def _scene_lock(self, scene_id: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(scene_id, (asyncio.Lock(), 0))
        self._locks[scene_id] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[scene_id]
            if users <= 1:
                del self._locks[scene_id]
            else:
                self._locks[scene_id] = (lock, users - 1)

    async def _arrived(self, scene_id: str, upto: int) -> Arrivals:
        """The scene's meshes stored up to sequence ``upto`` (at least): only what was
        stored since the last look is read."""
        arrivals = self._scenes.get(scene_id)
        if arrivals is None:
            arrivals = self._scenes[scene_id] = Arrivals()
            if len(self._scenes) > FOLLOWED_SCENES:
                self._scenes.popitem(last=False)
        else:
            self._scenes.move_to_end(scene_id)
        if arrivals.read_to < upto:
            found, read_to = await self.history.scene_meshes(scene_id, arrivals.read_to, upto)
            for seq, mesh in found:
                arrivals.add(seq, mesh)
            arrivals.read_to = max(arrivals.read_to, read_to)
        return arrivals

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

    async def _assemble(
        self, scene_id: str, meshes: dict[str, ArtifactRef], attempt: int
    ) -> list[Output]:
        layout = await self.history.layout(scene_id, attempt)
        if layout is None:
            raise RetryLater(f"layout of scene {scene_id} not found in the stream", delay=1.0)
        wanted = [obj.id for obj in layout.layout.objects]
        if not all(o in meshes for o in wanted):
            return []  # something else stands on a mesh subject: not complete
        try:
            # Objects with the same mesh (a row of identical chairs) share one read.
            shas = list(dict.fromkeys(meshes[o].sha256 for o in wanted))
            blobs = dict(zip(shas, await asyncio.gather(*map(self.store.get, shas)), strict=True))
        except ArtifactNotFound as exc:
            raise Permanent(f"mesh artifact {exc} is missing", code="artifact_missing") from None
        room = layout.layout.model_dump_json().encode()
        bodies = {o: blobs[meshes[o].sha256] for o in wanted}

        async def make_glb() -> bytes:
            from services.assembly.scene import build_scene_glb

            return await asyncio.to_thread(build_scene_glb, layout.layout, bodies)

        async def make_plan() -> bytes:
            from services.assembly.floorplan import floorplan_png

            return await asyncio.to_thread(floorplan_png, layout.layout)

        # The same layout with the same meshes is the same file: a rebuild reuses it.
        mesh_shas = [meshes[o].sha256 for o in wanted]
        glb_ref, plan_ref = await asyncio.gather(
            self._cached("scene.glb", [room, *map(str.encode, mesh_shas)], make_glb),
            self._cached("floorplan.png", [room], make_plan),
        )
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
