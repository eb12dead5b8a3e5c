"""Replays and cancels on a real nats-server with every stage running in this process."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import nats
import pytest

import services.runtime
from services.meshgen.backend import ParametricMeshes
from services.recovery import Recovery
from services.runtime import WORKERS, ServiceHost
from shared.artifacts import LocalArtifactStore
from shared.cache import CACHE_BUCKET
from shared.contract import (
    STREAM,
    SceneFailed,
    SceneReady,
    SceneRequested,
    Subject,
    encode,
    parse_event,
    subject,
)
from shared.errors import Permanent
from shared.layout import PlacedObject

PROMPT = "a small office with a desk, an office chair and a bookshelf"


class Switchable(ParametricMeshes):
    """Parametric meshes that refuse one category while ``broken`` (a bad backend)."""

    broken_category = "bookshelf"

    def __init__(self) -> None:
        super().__init__()
        self.broken = True
        self.calls: list[str] = []

    async def generate(self, obj: PlacedObject, image_png: bytes) -> bytes:
        self.calls.append(obj.id)
        if self.broken and obj.category == self.broken_category:
            raise Permanent("the backend cannot draw bookshelves today", code="backend_refused")
        return await super().generate(obj, image_png)


@pytest.fixture
async def stack(
    nats_server: str, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Any, Switchable, Recovery]]:
    meshes = Switchable()
    monkeypatch.setattr(services.runtime, "mesh_backend", lambda *a, **k: meshes)
    settings = settings.model_copy(
        update={"performance": settings.performance.model_copy(update={"cache_ttl": 0})}
    )
    host = ServiceHost(settings, nats_server, WORKERS)
    await host.start()
    nc = await nats.connect(nats_server)
    js = nc.jetstream()
    recovery = await Recovery.open(js, settings.nats.stream, 3600, "test")
    try:
        yield js, meshes, recovery
    finally:
        await nc.close()
        await host.stop(grace=2)


async def events(js: Any, pattern: str) -> list[Any]:
    info = await js.stream_info(STREAM, subjects_filter=pattern)
    if not info.state.subjects:
        return []
    sub = await js.subscribe(pattern, ordered_consumer=True)
    found = []
    try:
        while True:
            msg = await sub.next_msg(timeout=2)
            found.append(parse_event(msg.subject, msg.data))
            if msg.metadata.num_pending == 0:
                return found
    finally:
        await sub.unsubscribe()


async def ended(js: Any, scene_id: str, attempt: int, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for pattern in (
            subject(Subject.SCENE_READY, scene_id),
            subject(Subject.SCENE_FAILED, scene_id),
        ):
            for ev in await events(js, pattern):
                if ev.attempt == attempt:
                    return ev
        await asyncio.sleep(0.1)
    raise AssertionError(f"scene {scene_id} attempt {attempt} did not end in {timeout} s")


async def request(js: Any, scene_id: str) -> None:
    await js.publish(
        subject(Subject.SCENE_REQUESTED, scene_id),
        encode(SceneRequested(scene_id=scene_id, prompt=PROMPT, options={"seed": 3})),
    )


async def test_replay_from_the_failed_stage_reuses_what_came_before(stack, unique):
    js, meshes, recovery = stack
    await request(js, unique)
    first = await ended(js, unique, 1)
    assert isinstance(first, SceneFailed) and first.stage == "meshgen"
    layouts = len(await events(js, subject(Subject.LAYOUT_READY, unique)))
    images = len(await events(js, f"{Subject.IMAGES_READY}.{unique}.*"))

    meshes.broken = False
    meshes.calls.clear()
    plan = await recovery.plan(unique)
    assert plan.from_stage == "meshgen" and plan.attempt == 2 and plan.previous == "FAILED"
    await recovery.replay(plan)
    second = await ended(js, unique, 2)
    assert isinstance(second, SceneReady) and second.attempt == 2
    # Nothing was planned again; images made in the first attempt were re-sent, not redone.
    assert len(await events(js, subject(Subject.LAYOUT_READY, unique))) == layouts
    redone_images = [
        e for e in await events(js, f"{Subject.IMAGES_READY}.{unique}.*") if e.attempt == 2
    ]
    assert len(redone_images) == plan.reused["imagegen"] + plan.redone["imagegen"]
    assert images >= plan.reused["imagegen"]
    assert len(meshes.calls) == len(set(meshes.calls))  # each object's mesh made once
    replayed = await events(js, subject(Subject.SCENE_REPLAYED, unique))
    assert [(r.attempt, r.from_stage) for r in replayed] == [(2, "meshgen")]
    state = await recovery.states.get(unique)
    assert state is not None and state.state == "SUCCEEDED" and state.attempt == 2


async def outputs(js: Any, scene_id: str, attempt: int) -> dict[str, str]:
    """Each object's image and mesh of the attempt, by digest."""
    found = {}
    for root, field in ((Subject.IMAGES_READY, "image"), (Subject.MESH_READY, "mesh")):
        for ev in await events(js, f"{root}.{scene_id}.*"):
            if ev.attempt == attempt:
                found[f"{ev.object_id}:{field}"] = getattr(ev, field).sha256
    return found


async def test_replay_of_a_succeeded_scene_gives_identical_artifacts(stack, unique):
    js, meshes, recovery = stack
    meshes.broken = False
    await request(js, unique)
    first = await ended(js, unique, 1)
    assert isinstance(first, SceneReady)
    # The asset cache forgets everything, so the replay makes each artifact again with
    # the same backends rather than reusing what the first attempt stored.
    cache = await js.key_value(CACHE_BUCKET)
    for key in await cache.keys():
        await cache.purge(key)
    meshes.calls.clear()
    await recovery.replay(await recovery.plan(unique, "planner"))
    second = await ended(js, unique, 2)
    assert isinstance(second, SceneReady)
    made = await outputs(js, unique, 2)
    assert sorted(meshes.calls) == sorted(k.split(":")[0] for k in made if k.endswith(":mesh"))
    assert not any(
        ev.cached for ev in await events(js, f"{Subject.MESH_READY}.{unique}.*") if ev.attempt == 2
    )
    assert made == await outputs(js, unique, 1)
    assert {k: v.sha256 for k, v in first.artifacts.items()} == {
        k: v.sha256 for k, v in second.artifacts.items()
    }


async def test_late_work_of_an_old_attempt_changes_nothing(stack, unique):
    js, meshes, recovery = stack
    meshes.broken = False
    await request(js, unique)
    await ended(js, unique, 1)
    await recovery.replay(await recovery.plan(unique, "assembly"))
    second = await ended(js, unique, 2)
    # A straggler of attempt 1 arrives after attempt 2 began: dropped, nothing re-sent.
    mesh = (await events(js, f"{Subject.MESH_READY}.{unique}.*"))[0]
    before = len(await events(js, subject(Subject.SCENE_READY, unique)))
    await js.publish(
        subject(Subject.MESH_READY, unique, mesh.object_id),
        encode(mesh.model_copy(update={"attempt": 1, "event_id": "late"})),
    )
    await asyncio.sleep(1.0)  # give assembly the chance it must not take
    assert len(await events(js, subject(Subject.SCENE_READY, unique))) == before
    assert isinstance(second, SceneReady)


async def test_cancel_ends_the_scene_and_replay_brings_it_back(stack, unique):
    js, meshes, recovery = stack
    meshes.broken = False
    with pytest.raises(Exception, match="not in the stream"):
        await recovery.cancel(unique)
    await request(js, unique)
    await _wait_for_request(js, unique)  # cancel as soon as the request is stored
    state = await recovery.cancel(unique, "changed my mind")
    assert state.state in ("CANCELLED", "SUCCEEDED")
    if state.state == "CANCELLED":
        cancelled = await events(js, subject(Subject.SCENE_CANCELLED, unique))
        assert [c.reason for c in cancelled] == ["changed my mind"]
        # Cancelling again says how it ended and sends nothing more.
        again = await recovery.cancel(unique)
        assert again.state == "CANCELLED"
        assert len(await events(js, subject(Subject.SCENE_CANCELLED, unique))) == 1
    plan = await recovery.plan(unique)
    assert plan.from_stage == "planner" and plan.attempt == 2
    await recovery.replay(plan)
    assert isinstance(await ended(js, unique, 2), SceneReady)


async def _wait_for_request(js: Any, scene_id: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if await events(js, subject(Subject.SCENE_REQUESTED, scene_id)):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the request was not stored")


class Hanging(Switchable):
    """A mesh backend whose jobs never finish until they are cancelled."""

    def __init__(self) -> None:
        super().__init__()
        self.started = asyncio.Event()
        self.cancelled = 0

    async def generate(self, obj: PlacedObject, image_png: bytes) -> bytes:
        self.started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        raise AssertionError("unreachable")


async def test_cancel_stops_work_in_progress(
    nats_server: str, settings: Any, monkeypatch: pytest.MonkeyPatch, unique: str
) -> None:
    meshes = Hanging()
    monkeypatch.setattr(services.runtime, "mesh_backend", lambda *a, **k: meshes)
    host = ServiceHost(settings, nats_server, WORKERS)
    await host.start()
    nc = await nats.connect(nats_server)
    try:
        js = nc.jetstream()
        recovery = await Recovery.open(js, settings.nats.stream, 3600, "test")
        await request(js, unique)
        await asyncio.wait_for(meshes.started.wait(), 30)
        state = await recovery.cancel(unique, "too slow")
        assert state.state == "CANCELLED"
        deadline = time.monotonic() + 10
        while meshes.cancelled == 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert meshes.cancelled >= 1
        # Nothing is left in progress and nothing more is tried for the scene.
        while time.monotonic() < deadline:
            info = await js.consumer_info(settings.nats.stream, "meshgen")
            if info.num_ack_pending == 0:
                break
            await asyncio.sleep(0.1)
        assert info.num_ack_pending == 0
        assert await events(js, subject(Subject.SCENE_FAILED, unique)) == []
    finally:
        await nc.close()
        await host.stop(grace=2)


async def test_an_image_gone_from_the_store_is_made_again_by_the_replay(stack, unique, settings):
    """The asset cache may have evicted an image of a failed scene by the time it is
    replayed: that object is imaged again instead of failing with artifact_missing."""
    js, meshes, _ = stack
    await request(js, unique)
    first = await ended(js, unique, 1)
    assert isinstance(first, SceneFailed) and first.stage == "meshgen"
    store = LocalArtifactStore(settings.storage.root / "artifacts")
    shelf = next(
        e
        for e in await events(js, f"{Subject.IMAGES_READY}.{unique}.*")
        if e.object.category == Switchable.broken_category
    )
    await store.delete(shelf.image.sha256)
    assert not await store.exists(shelf.image.sha256)

    meshes.broken = False
    recovery = await Recovery.open(js, STREAM, 3600, "test", store)
    plan = await recovery.plan(unique)
    assert plan.from_stage == "meshgen"
    assert plan.redone["imagegen"] == 1 and plan.reused["imagegen"] >= 1
    await recovery.replay(plan)
    second = await ended(js, unique, 2)
    assert isinstance(second, SceneReady), second
    again = [
        e
        for e in await events(js, subject(Subject.IMAGES_READY, unique, shelf.object_id))
        if e.attempt == 2
    ]
    assert [e.image.sha256 for e in again] == [shelf.image.sha256]
    assert await store.exists(shelf.image.sha256)


async def test_a_scene_still_running_replays_from_the_stage_it_is_in(
    nats_server: str, settings: Any, monkeypatch: pytest.MonkeyPatch, unique: str
) -> None:
    """`holodeck replay SCENE_ID` of a stuck scene (its meshes hang) starts where it hangs,
    as the gateway's retry of a STUCK scene does, reusing its layout and images."""
    meshes = Hanging()
    monkeypatch.setattr(services.runtime, "mesh_backend", lambda *a, **k: meshes)
    host = ServiceHost(settings, nats_server, WORKERS)
    await host.start()
    nc = await nats.connect(nats_server)
    try:
        js = nc.jetstream()
        recovery = await Recovery.open(js, settings.nats.stream, 3600, "test")
        await request(js, unique)
        await asyncio.wait_for(meshes.started.wait(), 30)
        layout = (await events(js, subject(Subject.LAYOUT_READY, unique)))[0]
        objects = len(layout.layout.objects)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if len(await events(js, f"{Subject.IMAGES_READY}.{unique}.*")) == objects:
                break
            await asyncio.sleep(0.05)
        plan = await recovery.plan(unique)
        assert (plan.from_stage, plan.previous, plan.attempt) == ("meshgen", "RUNNING", 2)
        assert plan.reused == {"planner": 1, "imagegen": objects}
        assert plan.redone == {"meshgen": objects}
    finally:
        await nc.close()
        await host.stop(grace=2)
