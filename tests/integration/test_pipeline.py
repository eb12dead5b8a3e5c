"""Each stage against a real nats-server: input event in, output event out, with the
message semantics DESIGN.md promises (dedupe on redelivery, malformed messages
terminated, replicas sharing work)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import nats
import pytest
from nats.aio.msg import Msg

from services.planner.plan import plan_scene
from services.runtime import ServiceHost
from shared.artifacts import LocalArtifactStore
from shared.contract import (
    ImagesReady,
    LayoutReady,
    MeshReady,
    SceneFailed,
    SceneReady,
    SceneRequested,
    Subject,
    encode,
    msg_id,
    parse_event,
    subject,
)

TIMEOUT = 20.0


class Collector:
    """Core-NATS subscription that gathers decoded events for the test to wait on."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        self._changed = asyncio.Condition()

    async def _on(self, msg: Msg) -> None:
        self.events.append(parse_event(msg.subject, msg.data))
        async with self._changed:
            self._changed.notify_all()

    async def wait(self, predicate: Any, timeout: float = TIMEOUT) -> list[Any]:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: predicate(self.events)), timeout)
        return self.events

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


@contextlib.asynccontextmanager
async def collecting(url: str, *subjects: str) -> AsyncIterator[tuple[Any, Collector]]:
    nc = await nats.connect(url)
    collector = Collector()
    for s in subjects:
        await nc.subscribe(s, cb=collector._on)
    await nc.flush()
    try:
        yield nc, collector
    finally:
        await nc.close()


@contextlib.asynccontextmanager
async def hosting(settings: Any, url: str, *names: str) -> AsyncIterator[ServiceHost]:
    host = ServiceHost(settings, url, names)
    await host.start()
    try:
        yield host
    finally:
        await host.stop(grace=2)


async def publish(nc: Any, subj: str, body: bytes, mid: str | None = None) -> None:
    headers = {"Nats-Msg-Id": mid} if mid else None
    await nc.jetstream().publish(subj, body, headers=headers)


async def count_on(nc: Any, stream: str, subj: str) -> int:
    info = await nc.jetstream().stream_info(stream, subjects_filter=subj)
    return sum((info.state.subjects or {}).values())


async def events_of(nc: Any, stream: str, scene_id: str) -> int:
    """Every event of one scene after its request: per-scene and per-object subjects."""
    per_scene = await count_on(nc, stream, f"*.*.{scene_id}")
    per_object = await count_on(nc, stream, f"*.*.{scene_id}.*")
    requests = await count_on(nc, stream, subject(Subject.SCENE_REQUESTED, scene_id))
    return per_scene + per_object - requests


def layout_event(
    scene_id: str, prompt: str = "a bedroom with a desk and two chairs"
) -> LayoutReady:
    return LayoutReady(
        scene_id=scene_id, producer="test", prompt=prompt, seed=1, layout=plan_scene(prompt, 1)
    )


async def test_planner_turns_a_request_into_a_layout(settings, nats_server, unique):
    async with (
        hosting(settings, nats_server, "planner"),
        collecting(nats_server, f"{Subject.LAYOUT_READY}.*") as (nc, got),
    ):
        request = SceneRequested(scene_id=unique, prompt="a small office with an oak desk")
        await publish(nc, subject(Subject.SCENE_REQUESTED, unique), encode(request))
        events = await got.wait(lambda ev: len(ev) >= 1)
    ready = events[0]
    assert isinstance(ready, LayoutReady)
    assert ready.scene_id == unique
    assert any(o.category == "desk" for o in ready.layout.objects)
    assert ready.producer.startswith("planner@")


async def test_request_without_scene_id_gets_a_derived_one(settings, nats_server):
    async with (
        hosting(settings, nats_server, "planner"),
        collecting(nats_server, f"{Subject.LAYOUT_READY}.*") as (nc, got),
    ):
        await publish(nc, Subject.SCENE_REQUESTED, json.dumps({"prompt": "a kitchen"}).encode())
        events = await got.wait(lambda ev: len(ev) >= 1)
    assert len(events[0].scene_id) == 20
    assert events[0].prompt == "a kitchen"


async def test_imagegen_makes_one_image_per_object(settings, nats_server, unique):
    layout = layout_event(unique)
    n = len(layout.layout.objects)
    async with (
        hosting(settings, nats_server, "imagegen"),
        collecting(nats_server, f"{Subject.IMAGES_READY}.{unique}.*") as (nc, got),
    ):
        await publish(nc, subject(Subject.LAYOUT_READY, unique), encode(layout))
        await got.wait(lambda ev: len(ev) >= n)
    images = got.of(ImagesReady)
    assert {e.object_id for e in images} == {o.id for o in layout.layout.objects}
    store = LocalArtifactStore(settings.storage.root / "artifacts")
    png = await store.get(images[0].image.sha256)
    assert png.startswith(b"\x89PNG") and images[0].image.media_type == "image/png"


async def test_meshgen_and_assembly_finish_a_scene(settings, nats_server, unique):
    layout = layout_event(unique)
    async with (
        hosting(settings, nats_server, "imagegen", "meshgen", "assembly"),
        collecting(nats_server, f"{Subject.SCENE_READY}.{unique}", f"{Subject.MESH_READY}.>") as (
            nc,
            got,
        ),
    ):
        await publish(nc, subject(Subject.LAYOUT_READY, unique), encode(layout))
        await got.wait(lambda ev: any(isinstance(e, SceneReady) for e in ev))
        assert await count_on(nc, settings.nats.stream, f"{Subject.SCENE_READY}.{unique}") == 1
    ready = got.of(SceneReady)[0]
    assert set(ready.artifacts) == {"scene.glb", "layout.json", "floorplan.png"}
    assert len(got.of(MeshReady)) == len(layout.layout.objects)
    store = LocalArtifactStore(settings.storage.root / "artifacts")
    document = json.loads(await store.get(ready.artifacts["layout.json"].sha256))
    assert document["scene_id"] == unique
    assert len(document["objects"]) == len(layout.layout.objects)


async def test_redelivered_message_produces_no_duplicate(
    settings, nats_server, unique, monkeypatch
):
    """The first acknowledgement is lost; JetStream redelivers; the output is deduplicated."""
    acks: list[str] = []
    original_ack = Msg.ack

    async def lossy_ack(self: Msg) -> None:
        acks.append(self.subject)
        if len(acks) == 1:
            return  # lost on the way: the server will redeliver after ack_wait
        await original_ack(self)

    monkeypatch.setattr(Msg, "ack", lossy_ack)
    async with (
        hosting(settings, nats_server, "planner"),
        collecting(nats_server, f"{Subject.LAYOUT_READY}.{unique}") as (nc, got),
    ):
        request = SceneRequested(scene_id=unique, prompt="a bathroom")
        await publish(nc, subject(Subject.SCENE_REQUESTED, unique), encode(request))
        await got.wait(lambda ev: len(ev) >= 1)
        async with asyncio.timeout(TIMEOUT):
            while len(acks) < 2:  # the redelivery was handled and acknowledged
                await asyncio.sleep(0.05)
        count = await count_on(nc, settings.nats.stream, f"{Subject.LAYOUT_READY}.{unique}")
    assert count == 1


async def test_malformed_message_is_terminated_and_the_next_processed(
    settings, nats_server, unique
):
    async with (
        hosting(settings, nats_server, "planner"),
        collecting(nats_server, f"{Subject.LAYOUT_READY}.*", f"{Subject.SCENE_FAILED}.*") as (
            nc,
            got,
        ),
    ):
        await publish(nc, Subject.SCENE_REQUESTED, b"{not json")
        bad = f"{unique}-bad"
        await publish(
            nc,
            subject(Subject.SCENE_REQUESTED, bad),
            json.dumps({"scene_id": bad, "prompt": "   "}).encode(),
        )
        await publish(
            nc,
            subject(Subject.SCENE_REQUESTED, unique),
            json.dumps({"scene_id": unique, "prompt": "x", "schema_version": 99}).encode(),
        )
        good = f"{unique}-good"
        await publish(
            nc, subject(Subject.SCENE_REQUESTED, good), encode(SceneRequested(prompt="a study"))
        )
        await got.wait(
            lambda ev: (
                any(isinstance(e, LayoutReady) for e in ev)
                and len([e for e in ev if isinstance(e, SceneFailed)]) >= 2
            )
        )
        js = nc.jetstream()
        info = await js.consumer_info(settings.nats.stream, "planner")
        info_by_id = await js.consumer_info(settings.nats.stream, "planner-by-id")
    failures = {f.scene_id: f for f in got.of(SceneFailed)}
    assert failures[bad].code == "malformed_event" and "prompt" in failures[bad].message
    assert "schema_version" in failures[unique].message
    assert [e.scene_id for e in got.of(LayoutReady)] == [good]
    assert info.num_ack_pending == 0 and info.num_redelivered == 0
    assert info_by_id.num_ack_pending == 0 and info_by_id.num_redelivered == 0


async def test_two_imagegen_replicas_share_one_scene(settings, nats_server, unique):
    prompt = (
        "a large living room with a sofa, two armchairs, a coffee table, a tv stand, a tv, "
        "a bookshelf, two floor lamps, a rug, three plants and a side table"
    )
    layout = layout_event(unique, prompt)
    n = len(layout.layout.objects)
    assert n >= 12, f"the test needs a scene of at least 12 objects, got {n}"
    single = settings.model_copy(
        update={"performance": settings.performance.model_copy(update={"concurrent_workers": 1})}
    )
    async with (
        hosting(single, nats_server, "imagegen") as one,
        hosting(single, nats_server, "imagegen") as two,
        collecting(nats_server, f"{Subject.IMAGES_READY}.{unique}.*") as (nc, got),
    ):
        await publish(nc, subject(Subject.LAYOUT_READY, unique), encode(layout))
        await got.wait(lambda ev: len({e.object_id for e in ev}) >= n)
    producers = {e.producer.split("@")[0] + e.producer[-6:] for e in got.of(ImagesReady)}
    assert len(producers) == 2, f"one replica took every object: {producers}"
    assert one.runners and two.runners


async def test_backend_failure_retries_then_fails_the_scene(
    settings, nats_server, unique, monkeypatch
):
    """A stage whose backend keeps failing retries with backoff, then publishes scene.failed."""
    from services.imagegen import backend
    from shared.errors import RetryLater

    calls: list[str] = []

    def broken(obj, seed, size):
        calls.append(obj.id)
        raise RetryLater("image backend down")

    monkeypatch.setattr(backend, "object_image", broken)
    layout = layout_event(unique, "a bathroom with a toilet")
    async with (
        hosting(settings, nats_server, "imagegen"),
        collecting(nats_server, f"{Subject.SCENE_FAILED}.{unique}") as (nc, got),
    ):
        await publish(nc, subject(Subject.LAYOUT_READY, unique), encode(layout))
        await got.wait(lambda ev: len(ev) >= 1)
    failure = got.of(SceneFailed)[0]
    assert failure.stage == "imagegen" and failure.code == "backend_unavailable"
    assert failure.retryable and failure.object_id is not None
    assert calls.count(failure.object_id) == settings.nats.max_deliver


@pytest.mark.parametrize("names", [("planner", "imagegen", "meshgen", "assembly")])
async def test_idempotent_replay_of_a_whole_scene(settings, nats_server, unique, names):
    """Publishing the same request again (new message, same scene) adds no new outputs."""
    async with (
        hosting(settings, nats_server, *names),
        collecting(nats_server, f"{Subject.SCENE_READY}.{unique}") as (nc, got),
    ):
        request = encode(SceneRequested(scene_id=unique, prompt="a dining room"))
        await publish(nc, subject(Subject.SCENE_REQUESTED, unique), request, "r1")
        await got.wait(lambda ev: len(ev) >= 1)
        before = await events_of(nc, settings.nats.stream, unique)
        await publish(nc, subject(Subject.SCENE_REQUESTED, unique), request, "r2")
        js = nc.jetstream()
        async with asyncio.timeout(TIMEOUT):
            for durable in ("planner-by-id", "imagegen-fanout", "imagegen", "meshgen", "assembly"):
                while True:
                    info = await js.consumer_info(settings.nats.stream, durable)
                    if info.num_pending == 0 and info.num_ack_pending == 0:
                        break
                    await asyncio.sleep(0.05)
        after = await events_of(nc, settings.nats.stream, unique)
        ready_count = await count_on(nc, settings.nats.stream, f"{Subject.SCENE_READY}.{unique}")
    assert before == after
    assert ready_count == 1
    assert msg_id("planner", unique) == f"planner:{unique}:-"


async def test_the_same_prompt_and_seed_is_planned_once(settings, nats_server, unique, monkeypatch):
    from services.planner import solver

    solves: list[int] = []
    original = solver.solve

    def counting(spec, seed=0):
        solves.append(seed)
        return original(spec, seed)

    monkeypatch.setattr(solver, "solve", counting)
    async with (
        hosting(settings, nats_server, "planner"),
        collecting(nats_server, f"{Subject.LAYOUT_READY}.*") as (nc, got),
    ):
        for n in (1, 2):
            scene = f"{unique}-{n}"
            request = SceneRequested(scene_id=scene, prompt="a study with an oak desk")
            await publish(nc, subject(Subject.SCENE_REQUESTED, scene), encode(request))
            await got.wait(lambda ev, n=n: len(ev) >= n)
        other = SceneRequested(
            scene_id=f"{unique}-3", prompt="a study with an oak desk", options={"seed": 5}
        )
        await publish(nc, subject(Subject.SCENE_REQUESTED, f"{unique}-3"), encode(other))
        await got.wait(lambda ev: len(ev) >= 3)
    first, second, third = got.of(LayoutReady)
    assert first.layout == second.layout
    assert solves == [0, 5], "the second request of the same prompt and seed must not be solved"
    assert third.seed == 5


def _with_priority(event: LayoutReady, priority: str) -> LayoutReady:
    return event.model_copy(update={"priority": priority})


async def test_a_batch_scene_goes_through_its_own_lanes(settings, nats_server, unique):
    request = SceneRequested(
        scene_id=unique,
        prompt="a bedroom with a desk and two chairs",
        options={"priority": "batch"},
    )
    async with (
        hosting(settings, nats_server, "planner", "imagegen", "meshgen", "assembly"),
        collecting(nats_server, f"{Subject.SCENE_READY}.{unique}") as (nc, got),
    ):
        await publish(nc, subject(Subject.SCENE_REQUESTED, unique), encode(request))
        await got.wait(lambda ev: len(ev) >= 1)
        stream = settings.nats.stream
        meshes = await count_on(nc, stream, f"{Subject.MESH_READY}.{unique}.*")
        assert meshes >= 3
        assert await count_on(nc, stream, f"{Subject.IMAGE_BATCH}.{unique}.*") == meshes
        assert await count_on(nc, stream, f"{Subject.MESH_BATCH}.{unique}.*") == meshes
        assert await count_on(nc, stream, f"{Subject.IMAGE_WORK}.{unique}.*") == 0


async def test_interactive_work_overtakes_a_batch_backlog(
    settings, nats_server, unique, monkeypatch
):
    """One backend slot, a batch scene's objects queued: an interactive object is made
    next, not after the whole backlog."""
    import time

    from services.imagegen import backend

    real = backend.object_image

    def slow(obj, seed, size):
        time.sleep(0.15)  # a GPU's time per image
        return real(obj, seed, size)

    monkeypatch.setattr(backend, "object_image", slow)
    batch = _with_priority(
        layout_event(
            f"{unique}b",
            "a large living room with a sofa, two armchairs, a coffee table, a tv stand, "
            "a bookshelf, two floor lamps, a rug, three plants and a side table",
        ),
        "batch",
    )
    n = len(batch.layout.objects)
    urgent = layout_event(f"{unique}i", "a bathroom with a toilet")
    single = settings.model_copy(
        update={"performance": settings.performance.model_copy(update={"concurrent_workers": 1})}
    )
    async with (
        hosting(single, nats_server, "imagegen"),
        collecting(
            nats_server,
            f"{Subject.IMAGES_READY}.{batch.scene_id}.*",
            f"{Subject.IMAGES_READY}.{urgent.scene_id}.*",
        ) as (nc, got),
    ):
        await publish(nc, subject(Subject.LAYOUT_READY, batch.scene_id), encode(batch))
        await got.wait(lambda ev: len(ev) >= 1)
        await publish(nc, subject(Subject.LAYOUT_READY, urgent.scene_id), encode(urgent))
        await got.wait(lambda ev: any(e.scene_id == urgent.scene_id for e in ev))
        order = [e.scene_id for e in got.events]
        await got.wait(lambda ev: len(ev) >= n + len(urgent.layout.objects))
    batch_before = order.index(urgent.scene_id)
    assert batch_before <= 4, f"{batch_before} of {n} batch images were made first"
