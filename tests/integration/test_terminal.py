"""A scene ends once: the stage runner on a real nats-server, with work functions of the test.

Terminal states stick (one ``scene.failed`` per scene, no ``scene.ready`` after it), the
work of an ended scene is dropped before it starts, malformed messages are dead-lettered
without failing the scene they name, and stalled work gives its message back.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import nats
import pytest
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig

from services.planner.plan import plan_scene
from shared.bus import provision
from shared.contract import (
    ArtifactRef,
    DeadLetter,
    ImagesReady,
    SceneFailed,
    SceneReady,
    SceneRequested,
    Subject,
    encode,
    msg_id,
    parse_event,
    subject,
)
from shared.errors import Permanent
from shared.stage import Delivery, Output, StageRunner
from shared.states import KvSceneStates, SceneState

REF = ArtifactRef(uri="file:///x", sha256="a" * 64, size=1, media_type="image/png")


@pytest.fixture
async def js(nats_server: str, settings: Any) -> AsyncIterator[JetStreamContext]:
    nc = await nats.connect(nats_server)
    js = nc.jetstream()
    await provision(js, settings.nats)
    try:
        yield js
    finally:
        await nc.close()


def images_ready(scene_id: str, count: int) -> list[ImagesReady]:
    layout = plan_scene("a bedroom with a desk, a chair and a lamp", 1)
    return [
        ImagesReady(
            scene_id=scene_id,
            object_id=obj.id,
            object=obj,
            image=REF,
            object_count=count,
        )
        for obj in layout.objects[:count]
    ]


async def deliver_all(js: JetStreamContext, runner: StageRunner, durable: str) -> None:
    """Pull every message on the stage's test durable and hand each to the runner."""
    sub = await js.pull_subscribe_bind(durable, runner.settings.stream)
    while True:
        try:
            msgs = await sub.fetch(1, timeout=0.5)
        except (TimeoutError, nats.errors.TimeoutError):
            return
        for msg in msgs:
            await runner.handle(msg)


async def durable_on(js: JetStreamContext, settings: Any, filter_subject: str, name: str) -> str:
    await js.add_consumer(
        settings.nats.stream,
        ConsumerConfig(
            durable_name=name,
            filter_subject=filter_subject,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=settings.nats.ack_wait_s,
            max_deliver=settings.nats.max_deliver,
        ),
    )
    return name


async def stored(js: JetStreamContext, settings: Any, subj: str) -> list[Any]:
    """Every event stored on ``subj`` (wildcards allowed), in stream order."""
    info = await js.stream_info(settings.nats.stream, subjects_filter=subj)
    found = []
    for name in info.state.subjects or {}:
        msg = await js.get_last_msg(settings.nats.stream, name)
        found.append(parse_event(msg.subject, msg.data))
    return found


class Recorder:
    """A meshgen-like work function: fails the objects it is told to, records the rest."""

    def __init__(self, failing: Sequence[str] = (), hang_first: bool = False) -> None:
        self.failing = set(failing)
        self.calls: list[str] = []
        self.hang_first = hang_first

    async def __call__(self, event: ImagesReady, delivery: Delivery) -> list[Output]:
        self.calls.append(event.object_id)
        if self.hang_first and len(self.calls) == 1:
            await asyncio.Event().wait()
        if event.object_id in self.failing:
            raise Permanent(f"object {event.object_id} cannot be made", code="backend_refused")
        return []


async def publish_all(js: JetStreamContext, events: Sequence[ImagesReady]) -> None:
    for ev in events:
        await js.publish(subject(Subject.IMAGES_READY, ev.scene_id, ev.object_id), encode(ev))


async def test_a_permanent_failure_stops_the_rest_of_the_scene(js, settings, unique):
    states = await KvSceneStates.open(js, 3600)
    events = images_ready(unique, 4)
    work = Recorder(failing=[events[0].object_id])
    runner = StageRunner("meshgen", work, js, settings.nats, "test", states=states)
    durable = await durable_on(js, settings, f"{Subject.IMAGES_READY}.{unique}.*", unique)
    await publish_all(js, events)
    await deliver_all(js, runner, durable)

    # Only the first object reached the backend; the others were dropped unseen.
    assert work.calls == [events[0].object_id]
    failures = await stored(js, settings, subject(Subject.SCENE_FAILED, unique))
    assert [f.code for f in failures] == ["backend_refused"]
    ended = await states.get(unique)
    assert ended is not None and ended.state == "FAILED" and ended.attempt == 1
    info = await js.consumer_info(settings.nats.stream, durable)
    assert info.num_ack_pending == 0 and info.num_pending == 0


async def test_two_failures_of_one_scene_send_one_scene_failed(js, settings, unique):
    events = images_ready(unique, 3)
    # Two replicas with their own memory of states, sharing the bucket.
    first = StageRunner(
        "meshgen",
        Recorder(failing=[events[0].object_id]),
        js,
        settings.nats,
        "a",
        states=await KvSceneStates.open(js, 3600),
    )
    second = StageRunner(
        "meshgen",
        Recorder(failing=[events[1].object_id]),
        js,
        settings.nats,
        "b",
        states=await KvSceneStates.open(js, 3600),
    )
    # The second replica already passed its check when the first one failed the scene.
    await second.states.get(unique)
    await first._fail_terminally(_FakeMsg(), events[0], Permanent("first"))
    await second._fail_terminally(_FakeMsg(), events[1], Permanent("second"))
    failures = await stored(js, settings, f"{Subject.SCENE_FAILED}.{unique}")
    assert len(failures) == 1 and failures[0].message == "first"


async def test_scene_ready_after_the_scene_failed_is_not_sent(js, settings, unique):
    states = await KvSceneStates.open(js, 3600)
    failure = SceneFailed(scene_id=unique, stage="meshgen", code="x", message="gone")
    await states.claim(
        unique,
        SceneState(
            state="FAILED",
            msg_id=msg_id("failed-meshgen", unique, "o9"),
            subject=subject(Subject.SCENE_FAILED, unique),
            event=encode(failure).decode(),
        ),
    )
    ready = SceneReady(scene_id=unique, artifacts={"scene.glb": REF}, object_count=1)
    runner = StageRunner("assembly", Recorder(), js, settings.nats, "t", states=states)
    assert not await runner._claim_success(
        unique, [Output(subject(Subject.SCENE_READY, unique), ready, msg_id("x", unique))]
    )
    assert await stored(js, settings, subject(Subject.SCENE_READY, unique)) == []


async def test_garbage_on_a_live_scene_is_dead_lettered_and_fails_nothing(js, settings, unique):
    states = await KvSceneStates.open(js, 3600)
    work = Recorder()
    runner = StageRunner("meshgen", work, js, settings.nats, "t", states=states)
    durable = await durable_on(js, settings, f"{Subject.IMAGES_READY}.{unique}.*", unique)
    await js.publish(subject(Subject.IMAGES_READY, unique, "o1"), b"{not json")
    await js.publish(subject(Subject.IMAGES_READY, unique, "o2"), b"[" * 5000 + b"]" * 5000)
    await publish_all(js, images_ready(unique, 1))
    await deliver_all(js, runner, durable)

    letters = [
        parse_event(m.subject, m.data)
        for m in [
            await js.get_msg(settings.nats.stream, seq)
            for seq in await _seqs(js, settings, subject(Subject.DEAD_LETTER, "meshgen"))
        ]
    ]
    assert len(letters) == 2 and all(isinstance(d, DeadLetter) for d in letters)
    assert {d.scene_id for d in letters} == {unique}
    assert any("nested more than 32" in d.reason for d in letters)
    assert await stored(js, settings, subject(Subject.SCENE_FAILED, unique)) == []
    assert await states.get(unique) is None
    assert len(work.calls) == 1  # the good message after the garbage was processed


async def test_a_claimer_that_died_before_publishing_sends_its_failure_again(js, settings, unique):
    states = await KvSceneStates.open(js, 3600)
    event = images_ready(unique, 1)[0]
    failure = SceneFailed(
        scene_id=unique, stage="meshgen", object_id=event.object_id, code="x", message="m"
    )
    # The claim was made, then the worker died before publishing scene.failed.
    await states.claim(
        unique,
        SceneState(
            state="FAILED",
            msg_id=msg_id("failed-meshgen", unique, event.object_id),
            subject=subject(Subject.SCENE_FAILED, unique),
            event=encode(failure).decode(),
        ),
    )
    work = Recorder()
    runner = StageRunner("meshgen", work, js, settings.nats, "t", states=states)
    durable = await durable_on(js, settings, f"{Subject.IMAGES_READY}.{unique}.*", unique)
    await publish_all(js, [event])
    await deliver_all(js, runner, durable)
    assert work.calls == []
    failures = await stored(js, settings, subject(Subject.SCENE_FAILED, unique))
    assert [f.code for f in failures] == ["x"]


async def test_stalled_work_is_abandoned_and_retried(js, settings, unique):
    nats_settings = settings.nats.model_copy(update={"work_deadline_s": 0.3})
    work = Recorder(hang_first=True)
    runner = StageRunner("meshgen", work, js, nats_settings, "t")
    durable = await durable_on(js, settings, f"{Subject.IMAGES_READY}.{unique}.*", unique)
    await publish_all(js, images_ready(unique, 1))
    started = time.monotonic()
    await deliver_all(js, runner, durable)
    # The hung first attempt was given back after the deadline and the retry succeeded.
    assert len(work.calls) == 2
    assert time.monotonic() - started < 10
    info = await js.consumer_info(settings.nats.stream, durable)
    assert info.num_ack_pending == 0 and info.num_pending == 0


async def _seqs(js: JetStreamContext, settings: Any, subj: str) -> list[int]:
    """The stream sequences of every message on ``subj``, via a throwaway ordered read."""
    sub = await js.subscribe(subj, ordered_consumer=True)
    seqs: list[int] = []
    try:
        while True:
            try:
                msg = await sub.next_msg(timeout=0.5)
            except (TimeoutError, nats.errors.TimeoutError):
                return seqs
            seqs.append(msg.metadata.sequence.stream)
    finally:
        await sub.unsubscribe()


class _FakeMsg:
    """Stands in for a delivered message where only its final term/nak matters."""

    async def term(self) -> None:
        return None

    async def nak(self, delay: float | None = None) -> None:
        return None


async def test_garbage_after_a_request_never_fails_that_scene(nats_server, settings, unique):
    from services.runtime import ServiceHost

    nc = await nats.connect(nats_server)
    js = nc.jetstream()
    host = ServiceHost(settings, nats_server, ("planner",))
    await host.start()
    try:
        request = SceneRequested(scene_id=unique, prompt="a small office with a desk")
        await js.publish(subject(Subject.SCENE_REQUESTED, unique), encode(request))
        # Garbage right behind it, on the same subject, likely handled in parallel.
        for body in (b"{not json", b'{"scene_id": "%s", "prompt": ""}' % unique.encode()):
            await js.publish(subject(Subject.SCENE_REQUESTED, unique), body)
        # A request that cannot be read fails its own new scene.
        lonely = f"{unique}-new"
        await js.publish(subject(Subject.SCENE_REQUESTED, lonely), b"{not json")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            letters = await _seqs(js, settings, subject(Subject.DEAD_LETTER, "planner"))
            layouts = await stored(js, settings, subject(Subject.LAYOUT_READY, unique))
            lonely_failed = await stored(js, settings, subject(Subject.SCENE_FAILED, lonely))
            if len(letters) == 3 and layouts and lonely_failed:
                break
            await asyncio.sleep(0.1)
        assert len(letters) == 3 and layouts and lonely_failed
        assert await stored(js, settings, subject(Subject.SCENE_FAILED, unique)) == []
    finally:
        await host.stop(grace=2)
        await nc.close()


async def test_an_assembler_that_lost_the_bus_after_its_claim_sends_scene_ready_again(
    js, settings, unique
):
    states = await KvSceneStates.open(js, 3600)
    ready = SceneReady(scene_id=unique, artifacts={"scene.glb": REF}, object_count=1)
    # Success was claimed, then publishing scene.ready failed (the server restarted).
    await states.claim(
        unique,
        SceneState(
            state="SUCCEEDED",
            msg_id=msg_id("assembly", unique),
            subject=subject(Subject.SCENE_READY, unique),
            event=encode(ready).decode(),
        ),
    )
    work = Recorder()
    runner = StageRunner("assembly", work, js, settings.nats, "t", states=states)
    durable = await durable_on(js, settings, f"{Subject.MESH_READY}.{unique}.*", unique)
    event = images_ready(unique, 1)[0]
    mesh = {
        "scene_id": unique,
        "object_id": event.object_id,
        "mesh": REF.model_dump(),
        "object_count": 1,
    }
    await js.publish(
        subject(Subject.MESH_READY, unique, event.object_id), json.dumps(mesh).encode()
    )
    await deliver_all(js, runner, durable)
    assert work.calls == []  # nothing assembled again
    assert [
        r.scene_id for r in await stored(js, settings, subject(Subject.SCENE_READY, unique))
    ] == [unique]


async def test_waiting_for_a_backend_turn_does_not_spend_the_work_deadline(js, settings, unique):
    """Work that waits past work_deadline_s for a busy one-at-a-time server, then makes its
    object within the deadline once its call starts, is done once, not abandoned."""
    from shared.deadline import paused

    nats_settings = settings.nats.model_copy(update={"work_deadline_s": 0.4})
    calls: list[str] = []

    async def work(event: ImagesReady, delivery: Delivery) -> list[Output]:
        calls.append(event.object_id)
        with paused():
            await asyncio.sleep(0.6)  # waiting for the server's one slot
        await asyncio.sleep(0.25)  # the call itself
        return []

    runner = StageRunner("meshgen", work, js, nats_settings, "t")
    durable = await durable_on(js, settings, f"{Subject.IMAGES_READY}.{unique}.*", unique)
    await publish_all(js, images_ready(unique, 1))
    await deliver_all(js, runner, durable)
    assert len(calls) == 1
    info = await js.consumer_info(settings.nats.stream, durable)
    assert info.num_ack_pending == 0 and info.num_pending == 0


async def test_work_that_drops_its_cancellation_is_still_abandoned(js, settings, unique):
    """A client library can drop a cancellation (Python 3.11's wait_for when the reply
    lands with it): the deadline still frees the message, and the work is cancelled again
    until it stops."""
    nats_settings = settings.nats.model_copy(update={"work_deadline_s": 0.3})
    calls: list[str] = []
    stopped = asyncio.Event()

    async def work(event: ImagesReady, delivery: Delivery) -> list[Output]:
        calls.append(event.object_id)
        if len(calls) == 1:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                pass  # dropped
            try:
                await asyncio.Event().wait()  # and goes on
            finally:
                stopped.set()
        return []

    runner = StageRunner("meshgen", work, js, nats_settings, "t")
    durable = await durable_on(js, settings, f"{Subject.IMAGES_READY}.{unique}.*", unique)
    await publish_all(js, images_ready(unique, 1))
    await deliver_all(js, runner, durable)
    assert len(calls) == 2
    await asyncio.wait_for(stopped.wait(), 5)
    info = await js.consumer_info(settings.nats.stream, durable)
    assert info.num_ack_pending == 0 and info.num_pending == 0
