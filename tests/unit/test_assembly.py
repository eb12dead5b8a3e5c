"""Assembly's work against an in-memory history: when a scene is complete, and only once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from services.assembly.work import Assembler
from services.meshgen.shapes import mesh_glb
from services.planner.plan import plan_scene
from shared.artifacts import LocalArtifactStore
from shared.contract import LayoutReady, MeshReady, SceneReady
from shared.stage import Delivery


class MemoryHistory:
    """The stream as assembly sees it: a layout, and whatever stands on mesh subjects."""

    def __init__(self, layout: LayoutReady):
        self.ready_layout = layout
        self.mesh_events: dict[str, MeshReady] = {}
        self.garbage_ids: set[str] = set()
        self.layout_read = asyncio.Event()
        self.hold_layout: asyncio.Event | None = None

    async def layout(self, scene_id: str, attempt: int = 1) -> LayoutReady | None:
        self.layout_read.set()
        if self.hold_layout is not None:
            await self.hold_layout.wait()
        return self.ready_layout

    async def mesh_object_ids(self, scene_id: str) -> set[str]:
        return set(self.mesh_events) | self.garbage_ids

    async def meshes(
        self, scene_id: str, object_ids: list[str], attempt: int = 1
    ) -> dict[str, MeshReady]:
        found = {o: self.mesh_events[o] for o in object_ids if o in self.mesh_events}
        return {o: m for o, m in found.items() if m.attempt == attempt}


def delivery() -> Delivery:
    return Delivery(subject="mesh.ready.s1.x", stream_seq=1, stored_at=datetime.now(UTC), attempt=1)


async def scene(tmp_path: Path) -> tuple[Assembler, MemoryHistory, list[MeshReady]]:
    layout = plan_scene("a small office with a desk and a chair", 1)
    ready = LayoutReady(scene_id="s1", prompt="p", layout=layout)
    store = LocalArtifactStore(tmp_path)
    history = MemoryHistory(ready)
    meshes = []
    for obj in layout.objects:
        ref = await store.put(mesh_glb(obj.category, obj.size), "model/gltf-binary")
        meshes.append(
            MeshReady(scene_id="s1", object_id=obj.id, mesh=ref, object_count=len(layout.objects))
        )
    return Assembler("t", store, history), history, meshes


async def test_the_last_mesh_assembles_the_scene(tmp_path: Path) -> None:
    assembler, history, meshes = await scene(tmp_path)
    for mesh in meshes[:-1]:
        history.mesh_events[mesh.object_id] = mesh
        assert await assembler(mesh, delivery()) == []
    history.mesh_events[meshes[-1].object_id] = meshes[-1]
    [out] = await assembler(meshes[-1], delivery())
    assert isinstance(out.event, SceneReady)
    assert set(out.event.artifacts) == {"scene.glb", "layout.json", "floorplan.png"}


async def test_garbage_on_a_mesh_subject_does_not_swallow_the_last_mesh(tmp_path: Path) -> None:
    """A garbage subject makes the count look complete early; the build that starts
    then finds a mesh missing, and the real last mesh, arriving meanwhile, must still
    assemble the scene rather than leave it to the build that gave up."""
    assembler, history, meshes = await scene(tmp_path)
    history.garbage_ids = {"o1"}
    for mesh in meshes[:-1]:
        history.mesh_events[mesh.object_id] = mesh
    history.hold_layout = asyncio.Event()
    early = asyncio.create_task(assembler(meshes[0], delivery()))
    await asyncio.wait_for(history.layout_read.wait(), 5)
    history.mesh_events[meshes[-1].object_id] = meshes[-1]
    last = asyncio.create_task(assembler(meshes[-1], delivery()))
    await asyncio.sleep(0)
    history.hold_layout.set()
    outputs = await asyncio.wait_for(asyncio.gather(early, last), 30)
    built = [out for outs in outputs for out in outs]
    assert len(built) == 1 and isinstance(built[0].event, SceneReady)


async def test_a_scene_is_assembled_once_per_process(tmp_path: Path) -> None:
    assembler, history, meshes = await scene(tmp_path)
    for mesh in meshes:
        history.mesh_events[mesh.object_id] = mesh
    outputs = await asyncio.gather(*(assembler(m, delivery()) for m in meshes))
    assert sum(len(o) for o in outputs) == 1


async def test_a_redelivered_last_mesh_builds_again(tmp_path: Path) -> None:
    """The first build's scene.ready may never have been published (the bus failed right
    after): the redelivered message must build it again, not trust the first build."""
    assembler, history, meshes = await scene(tmp_path)
    for mesh in meshes:
        history.mesh_events[mesh.object_id] = mesh
    first = await assembler(meshes[-1], delivery())
    again = await assembler(meshes[-1], delivery())
    assert len(first) == 1 and len(again) == 1
    assert first[0].msg_id == again[0].msg_id  # the same message, deduplicated by its id
