"""Assembly against a real JetStream stream: which meshes of a scene have arrived, read
once each, whichever replica takes which mesh, after a restart and across attempts."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nats
import pytest

from services.assembly.work import Assembler
from services.meshgen.shapes import mesh_glb
from services.planner.plan import plan_scene
from shared.artifacts import LocalArtifactStore
from shared.bus import provision
from shared.contract import LayoutReady, MeshReady, SceneReady, Subject, encode, msg_id, subject
from shared.history import StreamHistory
from shared.stage import Delivery, Output


class CountingJetStream:
    """A JetStream context that counts the messages read back one by one."""

    def __init__(self, js: Any):
        self._js = js
        self.reads = 0

    async def get_msg(self, *args: Any, **kwargs: Any) -> Any:
        self.reads += 1
        return await self._js.get_msg(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._js, name)


class Scene:
    """One scene's layout on the stream, and its meshes to publish."""

    def __init__(self, js: Any, store: LocalArtifactStore, scene_id: str, prompt: str):
        self.js = js
        self.store = store
        self.scene_id = scene_id
        self.layout = plan_scene(prompt, 0)

    async def start(self) -> None:
        ready = LayoutReady(scene_id=self.scene_id, prompt="p", layout=self.layout)
        await self.js.publish(
            subject(Subject.LAYOUT_READY, self.scene_id),
            encode(ready),
            headers={"Nats-Msg-Id": msg_id("planner", self.scene_id)},
        )

    async def meshes(self, attempt: int = 1) -> list[MeshReady]:
        count = len(self.layout.objects)
        out = []
        for obj in self.layout.objects:
            ref = await self.store.put(mesh_glb(obj.category, obj.size), "model/gltf-binary")
            out.append(
                MeshReady(
                    scene_id=self.scene_id,
                    object_id=obj.id,
                    mesh=ref,
                    object_count=count,
                    attempt=attempt,
                )
            )
        return out

    async def publish(self, mesh: MeshReady) -> Delivery:
        name = subject(Subject.MESH_READY, mesh.scene_id, mesh.object_id)
        ack = await self.js.publish(
            name,
            encode(mesh),
            headers={"Nats-Msg-Id": msg_id("meshgen", mesh.scene_id, mesh.object_id, mesh.attempt)},
        )
        return Delivery(name, ack.seq, datetime.now(UTC), 1)


@pytest.fixture
async def bus(nats_server: str, settings: Any) -> Any:
    nc = await nats.connect(nats_server)
    js = nc.jetstream()
    await provision(js, settings.nats)
    try:
        yield js, settings.nats.stream
    finally:
        await nc.close()


def built(outputs: list[list[Output]]) -> list[Output]:
    return [out for outs in outputs for out in outs if isinstance(out.event, SceneReady)]


async def test_replicas_build_the_scene_whichever_meshes_they_take(
    bus: Any, tmp_path: Path, unique: str
) -> None:
    js, stream = bus
    store = LocalArtifactStore(tmp_path)
    scene = Scene(js, store, f"rep{unique}", "a library")
    await scene.start()
    meshes = await scene.meshes()
    random.Random(7).shuffle(meshes)
    counting = [CountingJetStream(js) for _ in range(3)]
    replicas = [Assembler(f"r{k}", store, StreamHistory(c, stream)) for k, c in enumerate(counting)]
    # Garbage and a stray object on the scene's mesh subjects, among the real meshes.
    await js.publish(subject(Subject.MESH_READY, scene.scene_id, "junk"), b"{not json")
    stray = meshes[0].model_copy(update={"object_id": "stray-1"})
    await js.publish(subject(Subject.MESH_READY, scene.scene_id, "other-1"), encode(stray))
    rng = random.Random(11)

    async def arrive(mesh: MeshReady) -> list[Output]:
        delivery = await scene.publish(mesh)
        await asyncio.sleep(rng.random() * 0.01)  # replicas interleave
        return await rng.choice(replicas)(mesh, delivery)

    outputs = await asyncio.wait_for(asyncio.gather(*(arrive(m) for m in meshes)), 60)
    ready = built(outputs)
    assert ready, "no replica assembled the scene"
    assert {out.msg_id for out in ready} == {msg_id("assembly", scene.scene_id)}
    assert len({out.event.artifacts["scene.glb"].sha256 for out in ready}) == 1
    # Each replica read each message on the scene's mesh subjects at most once.
    on_subjects = len(meshes) + 2
    for c in counting:
        assert c.reads <= on_subjects


async def test_reads_per_mesh_do_not_grow_with_the_scene(
    bus: Any, tmp_path: Path, unique: str
) -> None:
    js, stream = bus
    store = LocalArtifactStore(tmp_path)
    reads = {}
    for prompt in ("a small office with a desk and a chair", "a classroom"):
        scene = Scene(js, store, f"sz{len(reads)}{unique}", prompt)
        await scene.start()
        counting = CountingJetStream(js)
        assembler = Assembler("r", store, StreamHistory(counting, stream))
        meshes = await scene.meshes()
        outputs = [await assembler(m, await scene.publish(m)) for m in meshes]
        assert len(built(outputs)) == 1
        reads[len(meshes)] = counting.reads
    for count, made in reads.items():
        assert made == count, f"{made} reads for {count} meshes"


async def test_a_replica_that_restarted_reads_the_scene_once(
    bus: Any, tmp_path: Path, unique: str
) -> None:
    """The replica that followed the scene died before its last mesh: a new one gets
    the last mesh, reads what came before once, and builds the scene."""
    js, stream = bus
    store = LocalArtifactStore(tmp_path)
    scene = Scene(js, store, f"re{unique}", "a bedroom")
    await scene.start()
    meshes = await scene.meshes()
    dead = Assembler("dead", store, StreamHistory(js, stream))
    for mesh in meshes[:-1]:
        assert await dead(mesh, await scene.publish(mesh)) == []
    counting = CountingJetStream(js)
    fresh = Assembler("fresh", store, StreamHistory(counting, stream))
    [out] = await fresh(meshes[-1], await scene.publish(meshes[-1]))
    assert isinstance(out.event, SceneReady)
    assert counting.reads == len(meshes)


async def test_a_replayed_attempt_completes_with_its_own_meshes(
    bus: Any, tmp_path: Path, unique: str
) -> None:
    js, stream = bus
    store = LocalArtifactStore(tmp_path)
    scene = Scene(js, store, f"at{unique}", "a small office with a desk and a chair")
    await scene.start()
    first = await scene.meshes(attempt=1)
    assembler = Assembler("r", store, StreamHistory(js, stream))
    outputs = [await assembler(m, await scene.publish(m)) for m in first]
    assert len(built(outputs)) == 1
    second = await scene.meshes(attempt=2)
    deliveries = [await scene.publish(mesh) for mesh in second[:-1]]
    for mesh, delivery in zip(second[:-1], deliveries, strict=True):
        assert await assembler(mesh, delivery) == []
    # A late mesh of the first attempt, of the object the second still waits for, does
    # not complete the second.
    late = first[-1].model_copy(update={"event_id": "late"})
    name = subject(Subject.MESH_READY, scene.scene_id, late.object_id)
    await js.publish(name, encode(late), headers={"Nats-Msg-Id": f"late-{unique}"})
    assert await assembler(second[0], deliveries[0]) == []
    [out] = await assembler(second[-1], await scene.publish(second[-1]))
    assert isinstance(out.event, SceneReady)
    assert out.event.object_count == len(second)
