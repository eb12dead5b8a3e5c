"""Starting a scene again, and stopping one: replays and cancels over the bus.

A replay begins the scene's next attempt (recorded first in the scene-state bucket, so
stages drop late work of the old attempt), announces it with ``scene.replayed``, then
re-sends the inputs of the stage it starts from. What the stages before it made is read
back from the stream and re-sent as it is, so a scene that failed in meshgen is not
planned or imaged again; an object with no output of the earlier stage, or whose
output's artifact is gone from the store (the asset cache evicts), is sent one stage
earlier. The inputs carry the new attempt, so their message ids are new and JetStream's
duplicate window does not swallow them.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, get_args

from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy
from nats.js.errors import APIError
from pydantic import BaseModel

from shared.artifacts import ArtifactStore
from shared.contract import (
    Event,
    ImageWork,
    LayoutReady,
    MalformedEvent,
    SceneCancelled,
    SceneFailed,
    SceneOptions,
    SceneReplayed,
    SceneRequested,
    Subject,
    encode,
    ids_from_subject,
    image_work_subject,
    msg_id,
    parse_event,
    subject,
)
from shared.errors import BadInput, RetryLater
from shared.history import StreamHistory
from shared.states import KvSceneStates, SceneState, StateUnavailable

Stage = Literal["planner", "imagegen", "meshgen", "assembly"]
STAGES: tuple[Stage, ...] = get_args(Stage)
# The pipeline stage a failing runner belongs to (the fan-out is imagegen's first step).
STAGE_OF_RUNNER: dict[str, Stage] = {
    "planner": "planner",
    "imagegen-fanout": "imagegen",
    "imagegen": "imagegen",
    "meshgen": "meshgen",
    "assembly": "assembly",
}
# What a stage's output subject is, to find the scenes a stage touched in a window.
OUTPUT_OF: dict[Stage, str] = {
    "planner": f"{Subject.LAYOUT_READY}.*",
    "imagegen": f"{Subject.IMAGES_READY}.*.*",
    "meshgen": f"{Subject.MESH_READY}.*.*",
    "assembly": f"{Subject.SCENE_READY}.*",
}
# The message-id prefixes of the events a replay re-sends (the stages that publish them).
_REQUEST, _FANOUT, _IMAGES, _MESHES, _PLANNER = (
    "request",
    "imagegen-fanout",
    "imagegen",
    "meshgen",
    "planner",
)


@dataclass
class Plan:
    """What a replay of one scene does (or, for a dry run, would do)."""

    scene_id: str
    attempt: int
    from_stage: Stage
    previous: str
    # How many objects each stage redoes; what is reused is the rest.
    redone: Counter[str] = field(default_factory=Counter)
    reused: Counter[str] = field(default_factory=Counter)
    messages: list[tuple[str, BaseModel, str]] = field(default_factory=list, repr=False)

    def summary(self) -> dict[str, Any]:
        return {
            "scene_id": self.scene_id,
            "attempt": self.attempt,
            "from": self.from_stage,
            "previous": self.previous,
            "redone": dict(self.redone),
            "reused": dict(self.reused),
        }


class Recovery:
    """Replays and cancels scenes against one JetStream stream."""

    def __init__(
        self,
        js: JetStreamContext,
        stream: str,
        states: KvSceneStates,
        by: str,
        store: ArtifactStore | None = None,
    ):
        self.js = js
        self.stream = stream
        self.states = states
        self.history = StreamHistory(js, stream)
        self.by = by
        # With the artifact store, a stored output is reused only while its artifact is
        # still there (the asset cache may have evicted it); else it is made again.
        self.store = store

    @classmethod
    async def open(
        cls,
        js: JetStreamContext,
        stream: str,
        max_age_s: float,
        by: str,
        store: ArtifactStore | None = None,
    ) -> Recovery:
        return cls(js, stream, await KvSceneStates.open(js, max_age_s), by, store)

    async def _kept(self, sha256: str) -> bool:
        """Whether an artifact an earlier stage made can be handed on again."""
        if self.store is None:
            return True
        try:
            return await self.store.exists(sha256)
        except Exception as exc:  # the store cannot say: reusing it is the old behaviour
            raise RetryLater(f"cannot check the artifact store: {exc}") from None

    # Replay --------------------------------------------------------------------------

    async def plan(self, scene_id: str, from_stage: Stage | None = None) -> Plan:
        """What replaying ``scene_id`` from ``from_stage`` (default: where it failed) does."""
        state = await self.states.get(scene_id)
        current = state.attempt if state is not None else 1
        layout = await self.history.layout(scene_id, current)
        request = await self.history.request(scene_id)
        if layout is None and request is None:
            raise BadInput(f"scene {scene_id!r} is not in the stream: nothing to replay")
        previous = state.state if state is not None else "RUNNING"
        if from_stage is None:
            from_stage = await self._failed_stage(scene_id, current, state)
        if layout is None and from_stage != "planner":
            from_stage = "planner"  # nothing was planned: start there
        attempt = current + 1
        plan = Plan(scene_id, attempt, from_stage, previous)
        if from_stage == "planner":
            plan.messages.append(self._request(scene_id, request, layout, attempt))
            plan.redone["planner"] += 1
            return plan
        assert layout is not None
        plan.reused["planner"] += 1
        if from_stage == "imagegen":
            plan.messages.append(_again(layout, attempt, _PLANNER))
            plan.redone["imagegen"] += len(layout.layout.objects)
            return plan
        for obj in layout.layout.objects:
            await self._object(plan, layout, obj.id, current)
        return plan

    async def _failed_stage(self, scene_id: str, current: int, state: SceneState | None) -> Stage:
        """Where a replay starts by default: the stage the attempt failed in; for one still
        running (stuck), the first stage whose outputs the stream does not hold for every
        object; else (succeeded, cancelled) the planner."""
        if state is None or state.state == "RUNNING":  # no entry: its first attempt runs
            return await self._unfinished_stage(scene_id, current)
        if state.state != "FAILED":
            return "planner"
        failure = await self.history.failure(scene_id, current)
        if failure is None:
            return "planner"
        return STAGE_OF_RUNNER.get(failure.stage, "planner")

    async def _unfinished_stage(self, scene_id: str, current: int) -> Stage:
        layout = await self.history.layout(scene_id, current)
        if layout is None:
            return "planner"
        images = meshes = 0
        for obj in layout.layout.objects:
            images += await self.history.image(scene_id, obj.id, current) is not None
            meshes += await self.history.mesh(scene_id, obj.id, current) is not None
        objects = len(layout.layout.objects)
        if objects and meshes == objects:
            return "assembly"
        # From meshgen, an object without its image is imaged again on its own.
        return "meshgen" if images else "imagegen"

    async def _object(self, plan: Plan, layout: LayoutReady, object_id: str, current: int) -> None:
        """Re-send the furthest input of ``plan.from_stage`` this object has."""
        if plan.from_stage == "assembly":
            mesh = await self.history.mesh(plan.scene_id, object_id, current)
            if mesh is not None and await self._kept(mesh.mesh.sha256):
                plan.messages.append(_again(mesh, plan.attempt, _MESHES, object_id))
                plan.reused["meshgen"] += 1
                plan.reused["imagegen"] += 1
                return
        image = await self.history.image(plan.scene_id, object_id, current)
        if image is not None and await self._kept(image.image.sha256):
            plan.messages.append(_again(image, plan.attempt, _IMAGES, object_id))
            plan.reused["imagegen"] += 1
            plan.redone["meshgen"] += 1
            return
        obj = next(o for o in layout.layout.objects if o.id == object_id)
        work = ImageWork(
            scene_id=plan.scene_id,
            producer=self.by,
            object_id=object_id,
            object=obj,
            seed=layout.seed,
            object_count=len(layout.layout.objects),
            attempt=plan.attempt,
            priority=layout.priority,
        )
        plan.messages.append(
            (
                image_work_subject(layout.priority, plan.scene_id, object_id),
                work,
                msg_id(_FANOUT, plan.scene_id, object_id, plan.attempt),
            )
        )
        plan.redone["imagegen"] += 1
        plan.redone["meshgen"] += 1

    def _request(
        self,
        scene_id: str,
        request: SceneRequested | None,
        layout: LayoutReady | None,
        attempt: int,
    ) -> tuple[str, BaseModel, str]:
        if request is not None:
            again = request.model_copy(update={"attempt": attempt, "scene_id": scene_id})
        else:
            assert layout is not None  # a request published without the scene's subject
            again = SceneRequested(
                scene_id=scene_id,
                prompt=layout.prompt,
                options=SceneOptions(seed=layout.seed),
                producer=self.by,
                attempt=attempt,
            )
        return (
            subject(Subject.SCENE_REQUESTED, scene_id),
            again,
            msg_id(_REQUEST, scene_id, None, attempt),
        )

    async def replay(self, plan: Plan, reason: str = "replay") -> Plan:
        """Carry out ``plan``: begin its attempt, announce it, re-send the inputs."""
        try:
            held = await self.states.begin(plan.scene_id, plan.attempt)
        except StateUnavailable as exc:
            raise RetryLater(str(exc), code="state_unavailable") from None
        if held.attempt != plan.attempt or held.ended:
            raise BadInput(
                f"scene {plan.scene_id}: attempt {held.attempt} began meanwhile; plan again"
            )
        announce = SceneReplayed(
            scene_id=plan.scene_id,
            producer=self.by,
            attempt=plan.attempt,
            from_stage=plan.from_stage,
            reason=reason[:500],
            requested_by=self.by,
        )
        await self._publish(
            subject(Subject.SCENE_REPLAYED, plan.scene_id),
            announce,
            msg_id("replay", plan.scene_id, None, plan.attempt),
        )
        await asyncio.gather(*(self._publish(*m) for m in plan.messages))
        return plan

    # Cancel --------------------------------------------------------------------------

    async def cancel(self, scene_id: str, reason: str = "cancelled") -> SceneState:
        """End the scene's current attempt as CANCELLED unless it already ended.

        Returns the state that holds: CANCELLED by this call, or how it had ended.
        """
        state = await self.states.get(scene_id)
        if state is None and await self.history.layout(scene_id) is None:
            if await self.history.request(scene_id) is None:
                raise BadInput(f"scene {scene_id!r} is not in the stream: nothing to cancel")
        attempt = state.attempt if state is not None else 1
        event = SceneCancelled(
            scene_id=scene_id,
            producer=self.by,
            attempt=attempt,
            reason=reason[:500],
            requested_by=self.by,
        )
        name = subject(Subject.SCENE_CANCELLED, scene_id)
        mid = msg_id("cancel", scene_id, None, attempt)
        end = SceneState(
            attempt=attempt,
            state="CANCELLED",
            msg_id=mid,
            subject=name,
            event=encode(event).decode(),
        )
        held = await self.states.claim(scene_id, end)
        if held.msg_id == mid:
            await self._publish(name, event, mid)
        return held

    # Finding scenes ------------------------------------------------------------------

    async def failed_scenes(
        self,
        since: datetime | None,
        until: datetime | None,
        stage: Stage | None = None,
        code: str | None = None,
    ) -> list[str]:
        """Scenes whose current attempt failed in the window (at ``stage``, with ``code``)."""
        found: dict[str, None] = {}
        async for _, event, _ in self.events(f"{Subject.SCENE_FAILED}.*", since):
            if not isinstance(event, SceneFailed) or not _within(event.time, since, until):
                continue
            if stage is not None and STAGE_OF_RUNNER.get(event.stage) != stage:
                continue
            if code is not None and event.code != code:
                continue
            state = await self.states.get(event.scene_id)
            if state is not None and state.state == "FAILED" and state.attempt == event.attempt:
                found[event.scene_id] = None
        return list(found)

    async def touched_by(
        self, stage: Stage, since: datetime | None, until: datetime | None
    ) -> list[str]:
        """Scenes the stage produced output for in the window."""
        found: dict[str, None] = {}
        async for name, event, _ in self.events(OUTPUT_OF[stage], since):
            scene_id, _ = ids_from_subject(name)
            if scene_id and isinstance(event, Event) and _within(event.time, since, until):
                found[scene_id] = None
        return list(found)

    async def events(
        self, pattern: str, since: datetime | None
    ) -> AsyncIterator[tuple[str, BaseModel | None, datetime]]:
        """Every message on ``pattern`` stored from ``since`` on, parsed (None when
        malformed), with the time it was stored.

        A window is judged by the time each event says it happened: the stream's own
        times are those of the restore in a restored stream, never earlier than the
        event's, so starting the read at ``since`` misses nothing."""
        try:
            info = await self.js.stream_info(self.stream, subjects_filter=pattern)
        except APIError as exc:
            raise RetryLater(f"cannot read the stream: {exc}") from None
        if not info.state.subjects:
            return
        config = ConsumerConfig(
            deliver_policy=DeliverPolicy.BY_START_TIME if since else DeliverPolicy.ALL,
            opt_start_time=since,
        )
        sub = await self.js.subscribe(pattern, ordered_consumer=True, config=config)
        try:
            while True:
                try:
                    msg = await sub.next_msg(timeout=2.0)
                except TimeoutError:
                    return
                try:
                    event: BaseModel | None = parse_event(msg.subject, msg.data)
                except MalformedEvent:
                    event = None
                yield msg.subject, event, msg.metadata.timestamp
                if msg.metadata.num_pending == 0:
                    return
        finally:
            await sub.unsubscribe()

    async def _publish(self, name: str, event: BaseModel, mid: str) -> None:
        await self.js.publish(name, encode(event), headers={"Nats-Msg-Id": mid}, timeout=10)


def _within(when: datetime, since: datetime | None, until: datetime | None) -> bool:
    return (since is None or when >= since) and (until is None or when <= until)


def _again(
    event: Any, attempt: int, stage: str, object_id: str | None = None
) -> tuple[str, BaseModel, str]:
    """A stored stage output, re-sent as part of ``attempt``."""
    again = event.model_copy(update={"attempt": attempt})
    root = {
        _PLANNER: Subject.LAYOUT_READY,
        _IMAGES: Subject.IMAGES_READY,
        _MESHES: Subject.MESH_READY,
    }[stage]
    return (
        subject(root, event.scene_id, object_id),
        again,
        msg_id(stage, event.scene_id, object_id, attempt),
    )
