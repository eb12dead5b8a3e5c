"""Assembly's work against an in-memory history: when a scene is complete, and only once."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime
from pathlib import Path

from services.assembly.floorplan import _Boxes, _overlap
from services.assembly.scene import build_scene_glb
from services.assembly.work import Assembler
from services.meshgen.shapes import mesh_glb
from services.planner.plan import plan_scene
from shared.artifacts import LocalArtifactStore
from shared.contract import LayoutReady, MeshReady, SceneReady
from shared.stage import Delivery


class MemoryHistory:
    """The stream as assembly sees it: a layout, and the mesh events in stream order."""

    def __init__(self, layout: LayoutReady):
        self.ready_layout = layout
        self.stream: list[MeshReady] = []  # the event at index k has sequence k + 1
        self.read = 0  # mesh events handed out, in all
        self.layout_read = asyncio.Event()
        self.hold_layout: asyncio.Event | None = None

    def publish(self, mesh: MeshReady) -> Delivery:
        self.stream.append(mesh)
        return Delivery(
            subject=f"mesh.ready.{mesh.scene_id}.{mesh.object_id}",
            stream_seq=len(self.stream),
            stored_at=datetime.now(UTC),
            attempt=1,
        )

    async def layout(self, scene_id: str, attempt: int = 1) -> LayoutReady | None:
        self.layout_read.set()
        if self.hold_layout is not None:
            await self.hold_layout.wait()
        return self.ready_layout

    async def scene_meshes(
        self, scene_id: str, after: int, upto: int
    ) -> tuple[list[tuple[int, MeshReady]], int]:
        found = [
            (seq, m)
            for seq, m in enumerate(self.stream, 1)
            if seq > after and m.scene_id == scene_id
        ]
        self.read += len(found)
        return found, len(self.stream)


def again(delivery: Delivery) -> Delivery:
    """The same message delivered once more."""
    return Delivery(delivery.subject, delivery.stream_seq, delivery.stored_at, delivery.attempt + 1)


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
        assert await assembler(mesh, history.publish(mesh)) == []
    [out] = await assembler(meshes[-1], history.publish(meshes[-1]))
    assert isinstance(out.event, SceneReady)
    assert set(out.event.artifacts) == {"scene.glb", "layout.json", "floorplan.png"}


async def test_each_mesh_is_read_once(tmp_path: Path) -> None:
    """A mesh's arrival reads only what arrived since the last one: the work per mesh
    does not grow with the scene."""
    assembler, history, meshes = await scene(tmp_path)
    for mesh in meshes:
        await assembler(mesh, history.publish(mesh))
    assert history.read == len(meshes)


async def test_a_replica_without_a_record_reads_the_scene_once(tmp_path: Path) -> None:
    """Another replica handled the first meshes and died: the one that gets the last
    mesh reads the scene's meshes from the start, once, and builds it."""
    assembler, history, meshes = await scene(tmp_path)
    for mesh in meshes[:-1]:
        history.publish(mesh)
    fresh = Assembler("t2", assembler.store, history)
    [out] = await fresh(meshes[-1], history.publish(meshes[-1]))
    assert isinstance(out.event, SceneReady)
    assert history.read == len(meshes)


async def test_meshes_count_for_their_own_attempt(tmp_path: Path) -> None:
    """A replay's attempt is complete with its own meshes: one of an earlier attempt
    stands for nothing in it, and a late one of that attempt changes nothing."""
    assembler, history, meshes = await scene(tmp_path)
    retried = [m.model_copy(update={"attempt": 2}) for m in meshes]
    for mesh in retried[:-1]:
        assert await assembler(mesh, history.publish(mesh)) == []
    late = meshes[-1]  # attempt 1's mesh of the object attempt 2 still waits for
    assert await assembler(late, history.publish(late)) == []
    [out] = await assembler(retried[-1], history.publish(retried[-1]))
    assert isinstance(out.event, SceneReady)


async def test_the_newest_mesh_of_an_object_is_used(tmp_path: Path) -> None:
    assembler, history, meshes = await scene(tmp_path)
    store = assembler.store
    redone = await store.put(mesh_glb("box", (0.3, 0.3, 0.3)), "model/gltf-binary")
    first = meshes[0]
    history.publish(first)
    history.publish(first.model_copy(update={"mesh": redone}))
    for mesh in meshes[1:-1]:
        history.publish(mesh)
    [out] = await assembler(meshes[-1], history.publish(meshes[-1]))
    assert isinstance(out.event, SceneReady)
    built = await store.get(out.event.artifacts["scene.glb"].sha256)
    alone = build_scene_glb(
        history.ready_layout.layout,
        {m.object_id: await store.get((redone if m is first else m.mesh).sha256) for m in meshes},
    )
    assert built == alone


async def test_a_stray_mesh_does_not_swallow_the_last_mesh(tmp_path: Path) -> None:
    """A mesh of an object the layout does not have makes the count look complete
    early; the build that starts then finds a mesh missing, and the real last mesh,
    arriving meanwhile, must still assemble the scene rather than leave it to the build
    that gave up."""
    assembler, history, meshes = await scene(tmp_path)
    stray = meshes[0].model_copy(update={"object_id": "stray-1"})
    history.publish(stray)
    for mesh in meshes[:-1]:
        history.publish(mesh)
    history.hold_layout = asyncio.Event()
    early = asyncio.create_task(assembler(meshes[0], history.publish(meshes[0])))
    await asyncio.wait_for(history.layout_read.wait(), 5)
    last = asyncio.create_task(assembler(meshes[-1], history.publish(meshes[-1])))
    await asyncio.sleep(0)
    history.hold_layout.set()
    outputs = await asyncio.wait_for(asyncio.gather(early, last), 30)
    built = [out for outs in outputs for out in outs]
    assert len(built) == 1 and isinstance(built[0].event, SceneReady)


async def test_a_scene_is_assembled_once_per_process(tmp_path: Path) -> None:
    assembler, history, meshes = await scene(tmp_path)
    deliveries = [history.publish(m) for m in meshes]
    outputs = await asyncio.gather(
        *(assembler(m, d) for m, d in zip(meshes, deliveries, strict=True))
    )
    assert sum(len(o) for o in outputs) == 1


async def test_a_redelivered_last_mesh_builds_again(tmp_path: Path) -> None:
    """The first build's scene.ready may never have been published (the bus failed right
    after): the redelivered message must build it again, not trust the first build."""
    assembler, history, meshes = await scene(tmp_path)
    for mesh in meshes[:-1]:
        history.publish(mesh)
    last = history.publish(meshes[-1])
    first = await assembler(meshes[-1], last)
    redelivered = await assembler(meshes[-1], again(last))
    assert len(first) == 1 and len(redelivered) == 1
    assert first[0].msg_id == redelivered[0].msg_id  # the same message, deduplicated by its id


def test_the_floor_plan_finds_the_rectangles_an_area_overlaps() -> None:
    """Labels and objects of the floor plan are looked up in buckets: the same ones, in
    the same order, as testing every rectangle."""
    rng = random.Random(5)
    boxes = _Boxes()
    rects = []
    for _ in range(400):
        x, y = rng.uniform(-50, 1500), rng.uniform(-50, 1000)
        rect = (x, y, x + rng.uniform(0.5, 300), y + rng.uniform(0.5, 120))
        rects.append(rect)
        boxes.add(rect)
    for _ in range(200):
        x, y = rng.uniform(-100, 1500), rng.uniform(-100, 1000)
        area = (x, y, x + rng.uniform(1, 600), y + rng.uniform(1, 600))
        expected = [k for k, r in enumerate(rects) if _overlap(area, r)]
        assert boxes.overlapping(area).tolist() == expected
