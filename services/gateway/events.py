"""Live news of scenes as Server-Sent Events: ``GET /v1/scenes/{id}/events`` and ``GET /v1/events``.

A connection reads the stream through a JetStream ordered consumer (ephemeral, in
order, no acks; re-created by the client after a gap), filtered to one scene's subjects
or to all of them, and merges in the live ``progress.<scene>.<object>`` messages of core
NATS. ``GET /v1/events`` connections that start from now share one such reader
(:class:`LiveHub`), so an event costs one parse however many dashboards listen.

A stream event carries its stream sequence as the SSE ``id``, so a client that reconnects
with ``Last-Event-ID`` continues after it; progress events carry no id (they are news of
the moment, not history). A scene's stream ends after the terminal event of
its latest attempt. Comment lines keep idle connections open through proxies.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Header, Query
from fastapi.responses import Response
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from pydantic import ValidationError
from sse_starlette import EventSourceResponse, ServerSentEvent

from services.gateway.api import ApiError
from services.gateway.projection import Status
from shared.contract import (
    MAX_SEQUENCE,
    ImagesReady,
    LayoutReady,
    MalformedEvent,
    MeshReady,
    ObjectProgress,
    SceneCancelled,
    SceneFailed,
    SceneReady,
    SceneReplayed,
    SceneRequested,
    Subject,
    ids_from_subject,
    parse_event,
    root_of,
    subject,
)
from shared.logs import get_logger

log = get_logger(__name__)

# A comment line this often keeps a quiet connection open through proxies and load
# balancers that close idle ones (many do after 30-60 s).
HEARTBEAT_S = 15.0
# Messages one connection may hold unsent before it is dropped as too slow; the client
# reconnects with Last-Event-ID and loses nothing of the stream.
QUEUE_LIMIT = 10_000
# The longest a stream event waits for the projection to show it before it is sent anyway.
PROJECTION_WAIT_S = 2.0
STAGES = ("planner", "imagegen", "meshgen", "assembly")
TERMINAL = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)
_ENDINGS = (Subject.SCENE_READY, Subject.SCENE_FAILED, Subject.SCENE_CANCELLED)
# Roots the feeds pass on; work items and dead letters are the services' business.
_SHOWN = {
    Subject.SCENE_REQUESTED: "requested",
    Subject.LAYOUT_READY: "layout",
    Subject.IMAGES_READY: "image",
    Subject.MESH_READY: "mesh",
    Subject.SCENE_READY: "ready",
    Subject.SCENE_FAILED: "failed",
    Subject.SCENE_CANCELLED: "cancelled",
    Subject.SCENE_REPLAYED: "replayed",
}


@dataclass
class SceneTrack:
    """How one scene's current attempt stands, folded from its events in stream order.

    The same figures as the projection (stage statuses, 0-100 progress), computed from the
    events a connection sees, so every message says where the scene is without a query.
    """

    scene_id: str
    attempt: int = 1
    status: Status = Status.PENDING
    stages: dict[str, Status] = field(default_factory=lambda: dict.fromkeys(STAGES, Status.PENDING))
    object_count: int = 0
    images: set[str] = field(default_factory=set)
    meshes: set[str] = field(default_factory=set)

    def apply(self, event: Any) -> bool:
        """Fold ``event`` in; False when it belongs to another attempt and changes nothing."""
        attempt = getattr(event, "attempt", self.attempt)
        if isinstance(event, SceneReplayed) and attempt > self.attempt:
            self._restart(event)
            return True
        if attempt < self.attempt:
            return False
        if attempt > self.attempt:
            # A later attempt whose scene.replayed this connection did not see.
            self._restart(
                SceneReplayed(scene_id=self.scene_id, attempt=attempt, from_stage="planner")
            )
        if self.status in TERMINAL:
            # Terminal states stick: late news of an ended attempt changes nothing.
            return False
        if isinstance(event, SceneRequested):
            self._start("planner")
        elif isinstance(event, LayoutReady):
            self.stages["planner"] = Status.SUCCEEDED
            self.object_count = len(event.layout.objects)
            self._start("imagegen" if self.object_count else "assembly")
        elif isinstance(event, ImagesReady):
            self.object_count = max(self.object_count, event.object_count)
            self.images.add(event.object_id)
            self._stage_count("imagegen", len(self.images), next_stage="meshgen")
        elif isinstance(event, MeshReady):
            self.object_count = max(self.object_count, event.object_count)
            self.meshes.add(event.object_id)
            self._stage_count("meshgen", len(self.meshes), next_stage="assembly")
        elif isinstance(event, SceneReady):
            self.stages = dict.fromkeys(STAGES, Status.SUCCEEDED)
            self.status = Status.SUCCEEDED
        elif isinstance(event, SceneFailed):
            if event.stage in self.stages:
                self.stages[event.stage] = Status.FAILED
            self.status = Status.FAILED
        elif isinstance(event, SceneCancelled):
            for stage, status in self.stages.items():
                if status != Status.SUCCEEDED:
                    self.stages[stage] = Status.CANCELLED
            self.status = Status.CANCELLED
        return True

    def _start(self, stage: str) -> None:
        self.status = Status.IN_PROGRESS
        if self.stages[stage] == Status.PENDING:
            self.stages[stage] = Status.IN_PROGRESS

    def _stage_count(self, stage: str, done: int, next_stage: str) -> None:
        self.stages["planner"] = Status.SUCCEEDED
        if stage == "meshgen":
            self.stages["imagegen"] = (
                Status.SUCCEEDED if len(self.images) >= self.object_count else Status.IN_PROGRESS
            )
        self._start(stage)
        if done >= self.object_count:
            self.stages[stage] = Status.SUCCEEDED
            if next_stage == "assembly" and self.stages["imagegen"] == Status.SUCCEEDED:
                self._start(next_stage)
            elif next_stage != "assembly":
                self._start(next_stage)

    def _restart(self, replayed: SceneReplayed) -> None:
        self.attempt = replayed.attempt
        self.status = Status.IN_PROGRESS
        redo = STAGES[STAGES.index(replayed.from_stage) :]
        for stage in redo:
            self.stages[stage] = Status.PENDING
        if "planner" in redo:
            self.object_count = 0
        if "imagegen" in redo:
            self.images.clear()
        if "meshgen" in redo:
            self.meshes.clear()
        self.stages[replayed.from_stage] = Status.IN_PROGRESS

    @property
    def progress(self) -> int:
        """0-100 as the projection counts it: 5 requested, +10 layout, +40 images, +40 meshes."""
        if self.status == Status.SUCCEEDED:
            return 100
        value = 5.0
        if self.stages["planner"] == Status.SUCCEEDED:
            value += 10
        if self.object_count:
            value += 40 * min(len(self.images), self.object_count) / self.object_count
            value += 40 * min(len(self.meshes), self.object_count) / self.object_count
        return min(int(value), 99)

    def snapshot(self) -> dict[str, Any]:
        return {
            "scene_id": self.scene_id,
            "attempt": self.attempt,
            "status": str(self.status),
            "progress": self.progress,
            "stages": {stage: str(status) for stage, status in self.stages.items()},
            "objects": {
                "total": self.object_count,
                "images": len(self.images),
                "meshes": len(self.meshes),
            },
        }


class Tracks:
    """The tracks of the scenes one connection has seen, the most recent kept."""

    def __init__(self, capacity: int = 10_000):
        self.capacity = capacity
        self._tracks: dict[str, SceneTrack] = {}

    def get(self, scene_id: str) -> SceneTrack:
        track = self._tracks.pop(scene_id, None) or SceneTrack(scene_id)
        self._tracks[scene_id] = track
        while len(self._tracks) > self.capacity:
            del self._tracks[next(iter(self._tracks))]
        return track

    def known(self, scene_id: str) -> SceneTrack | None:
        return self._tracks.get(scene_id)


def describe(event: Any, kind: str) -> dict[str, Any]:
    """What a stream event adds to a message, beyond the scene's figures."""
    out: dict[str, Any] = {"time": event.time.isoformat()}
    object_id = getattr(event, "object_id", None)
    if object_id is not None:
        out["object_id"] = object_id
    stage = {
        "requested": "planner",
        "layout": "planner",
        "image": "imagegen",
        "mesh": "meshgen",
        "ready": "assembly",
    }.get(kind)
    if isinstance(event, SceneRequested):
        out["prompt"] = event.prompt
    elif isinstance(event, LayoutReady):
        out["objects_planned"] = [
            {"object_id": o.id, "category": o.category} for o in event.layout.objects
        ]
    elif isinstance(event, ImagesReady | MeshReady):
        out["cached"] = event.cached
    elif isinstance(event, SceneReady):
        out["artifacts"] = {
            name: f"/v1/scenes/{event.scene_id}/artifacts/{name}" for name in event.artifacts
        }
    elif isinstance(event, SceneFailed):
        stage = event.stage
        out["error"] = {
            "stage": event.stage,
            "object_id": event.object_id,
            "code": event.code,
            "message": event.message,
            "retryable": event.retryable,
        }
    elif isinstance(event, SceneCancelled):
        out["reason"] = event.reason
    elif isinstance(event, SceneReplayed):
        stage = event.from_stage
        out["from_stage"] = event.from_stage
        out["reason"] = event.reason
    if stage is not None:
        out["stage"] = stage
    return out


@dataclass(frozen=True)
class Outgoing:
    """One message for the client; ``seq`` is None for live progress."""

    kind: str
    data: dict[str, Any]
    seq: int | None = None
    terminal: bool = False

    @cached_property
    def text(self) -> str:
        """The data as JSON, made once however many connections send it."""
        return json.dumps(self.data, separators=(",", ":"))

    def sse(self) -> ServerSentEvent:
        return ServerSentEvent(
            data=self.text,
            event=self.kind,
            id=None if self.seq is None else str(self.seq),
        )

    @cached_property
    def frame(self) -> bytes:
        """The whole SSE message as sent, encoded once however many connections send it."""
        return self.sse().encode()


def from_stream(
    tracks: Tracks, subject_name: str, data: bytes, seq: int, scene_id: str | None = None
) -> Outgoing | None:
    """The message for a stream event, or None for what a feed does not show."""
    kind = _SHOWN.get(root_of(subject_name))
    if kind is None:
        return None
    try:
        event = parse_event(subject_name, data)
    except MalformedEvent as exc:
        log.debug("event not shown", subject=subject_name, stream_seq=seq, reason=exc.reason)
        return None
    event_scene = getattr(event, "scene_id", None) or ids_from_subject(subject_name)[0]
    if event_scene is None or (scene_id is not None and event_scene != scene_id):
        return None
    track = tracks.get(event_scene)
    if not track.apply(event):
        return None
    body = {"event": kind, **track.snapshot(), **describe(event, kind)}
    return Outgoing(kind, body, seq, terminal=track.status in TERMINAL)


def from_progress(tracks: Tracks, data: bytes) -> Outgoing | None:
    """The message for a live ``progress.<scene>.<object>`` report, or None if unusable."""
    try:
        report = ObjectProgress.model_validate_json(data)
    except ValidationError:
        return None
    track = tracks.known(report.scene_id)
    if track is not None and track.status in TERMINAL:
        return None
    body: dict[str, Any] = {
        "event": "progress",
        "scene_id": report.scene_id,
        "object_id": report.object_id,
        "stage": report.stage,
        "fraction": report.fraction,
        "percent": min(100, int(report.fraction * 100)),
        "time": report.time.isoformat(),
    }
    if track is not None:
        body["status"] = str(track.status)
    return Outgoing("progress", body)


# What Last-Event-ID may be: empty, or the decimal stream sequence of a message (at most
# 18 digits: far past any stream, and below MAX_SEQUENCE).
LAST_EVENT_ID_PATTERN = r"^[0-9]{0,18}$"
_LAST_EVENT_ID = re.compile(r"[0-9]{1,18}")


def last_event_id(value: str | None) -> int:
    """The stream sequence a client saw last (``Last-Event-ID``), 0 for none."""
    if value is None or not value.strip():
        return 0
    text = value.strip()
    if not _LAST_EVENT_ID.fullmatch(text) or int(text) > MAX_SEQUENCE:
        raise ValueError(f"Last-Event-ID {value!r} is not a stream sequence")
    return int(text)


def scene_filters(scene_id: str) -> list[str]:
    """Subjects of one scene in the stream: ``<root>.<scene>`` and ``<root>.<scene>.<object>``."""
    return [subject("*.*", scene_id), subject("*.*", scene_id, "*")]


@dataclass
class Feed:
    """Where a connection reads: the stream's filters, the progress subject, what it keeps."""

    filters: Sequence[str]
    progress_subject: str
    scene_id: str | None = None
    statuses: frozenset[str] | None = None
    after_seq: int = 0
    # A stream with no earlier position shows only what happens from now on.
    only_new: bool = False

    def wanted(self, out: Outgoing) -> bool:
        if self.statuses is None:
            return True
        status = out.data.get("status", str(Status.IN_PROGRESS))
        return status in self.statuses


class Listener:
    """One ``GET /v1/events`` connection on the hub: the frames it has yet to send."""

    def __init__(self, feed: Feed):
        self.feed = feed
        self.frames: list[bytes] = []
        self.queued = 0
        self.ready = asyncio.Event()
        self.overflowed = False

    def give(self, batch: Sequence[Outgoing]) -> None:
        wanted = [out.frame for out in batch if self.feed.wanted(out)]
        if not wanted:
            return
        self.queued += len(wanted)
        if self.queued > QUEUE_LIMIT:
            self.overflowed = True
        else:
            self.frames.extend(wanted)
        self.ready.set()

    def take(self) -> bytes:
        """Every frame given since the last take, as one write."""
        chunk = b"".join(self.frames)
        self.frames.clear()
        self.queued = 0
        self.ready.clear()
        return chunk


class LiveHub:
    """One reader of the whole stream from now on, shared by every ``GET /v1/events``
    connection that starts from now: each event is parsed, folded, waited on and encoded
    once, then handed to every connection. It runs while anyone listens.

    It works in rounds: each takes every message received since the last one, waits once
    for the projection to show the last of them, and gives them to every connection,
    which sends all it was given in one write. A busy gateway thus makes fewer, larger
    writes rather than falling behind by one write per message and connection.
    """

    def __init__(self, js: JetStreamContext, nc: NATS, stream: str, scenes: Scenes | None):
        self.js = js
        self.nc = nc
        self.stream = stream
        self.scenes = scenes
        self._listeners: set[Listener] = set()
        self._task: asyncio.Task[None] | None = None
        self._ready: asyncio.Event | None = None

    @contextlib.asynccontextmanager
    async def join(self, feed: Feed) -> AsyncIterator[Listener]:
        """A listener given every message ``feed`` wants from now on."""
        listener = Listener(feed)
        self._listeners.add(listener)
        try:
            if self._task is None or self._task.done():
                self._ready = asyncio.Event()
                self._task = asyncio.create_task(self._run(self._ready))
            assert self._ready is not None
            ready = asyncio.create_task(self._ready.wait())
            await asyncio.wait({ready, self._task}, return_when=asyncio.FIRST_COMPLETED)
            ready.cancel()
            if self._task.done():
                self._task.result()  # its subscription failed: say why
            yield listener
        finally:
            self._listeners.discard(listener)
            if not self._listeners and self._task is not None:
                self._task.cancel()
                self._task = None

    async def _run(self, ready: asyncio.Event) -> None:
        inbox: asyncio.Queue[Msg] = asyncio.Queue()

        async def put(msg: Msg) -> None:
            inbox.put_nowait(msg)

        config = ConsumerConfig(filter_subjects=[">"], deliver_policy=DeliverPolicy.NEW)
        progress = await self.nc.subscribe(f"{Subject.PROGRESS}.>", cb=put)
        events = await self.js.subscribe(
            ">", stream=self.stream, ordered_consumer=True, config=config, cb=put
        )
        tracks = Tracks()
        waiting = True
        ready.set()
        try:
            while True:
                received = [await inbox.get()]
                while not inbox.empty():
                    received.append(inbox.get_nowait())
                batch = [out for msg in received if (out := _outgoing(tracks, msg, None))]
                last = max((out.seq for out in batch if out.seq is not None), default=None)
                if waiting and self.scenes is not None and last is not None:
                    waiting = await self.scenes.wait_for_seq(last, PROJECTION_WAIT_S)
                for listener in list(self._listeners):
                    listener.give(batch)
        finally:
            for sub in (events, progress):
                with contextlib.suppress(Exception):
                    await sub.unsubscribe()


async def live_feed(hub: LiveHub, feed: Feed) -> AsyncIterator[bytes]:
    """A ``GET /v1/events`` connection from now on, through the shared hub: what was given
    to it since its last write, in one write."""
    async with hub.join(feed) as listener:
        while True:
            await listener.ready.wait()
            if listener.overflowed:
                log.warning("event stream dropped: the client reads too slowly")
                return
            yield listener.take()


async def run_feed(
    js: JetStreamContext,
    nc: NATS,
    stream: str,
    feed: Feed,
    scenes: Scenes | None = None,
) -> AsyncIterator[ServerSentEvent]:
    """The connection's messages, in stream order with live progress merged in.

    With ``scenes``, a stream event is sent once the projection has applied it (or after
    :data:`PROJECTION_WAIT_S`, once per connection), so a client reading the scene or its
    artifacts over the HTTP API after a message finds what the message told.
    """
    queue: asyncio.Queue[Msg | None] = asyncio.Queue(QUEUE_LIMIT)
    overflowed = asyncio.Event()

    async def put(msg: Msg) -> None:
        try:
            queue.put_nowait(msg)
        except asyncio.QueueFull:
            overflowed.set()

    config = ConsumerConfig(filter_subjects=list(feed.filters))
    if feed.after_seq:
        config.deliver_policy = DeliverPolicy.BY_START_SEQUENCE
        config.opt_start_seq = feed.after_seq + 1
    elif feed.only_new:
        config.deliver_policy = DeliverPolicy.NEW
    else:
        config.deliver_policy = DeliverPolicy.ALL
    progress = await nc.subscribe(feed.progress_subject, cb=put)
    events = await js.subscribe(">", stream=stream, ordered_consumer=True, config=config, cb=put)
    tracks = Tracks()
    # Live progress is news of the moment: it waits until the history read from the
    # stream has caught up, so a client learns of an object before its progress.
    caught_up = feed.only_new
    waiting = True
    try:
        if not caught_up:
            info = await events.consumer_info()
            caught_up = info.num_pending == 0 and not (info.delivered and info.delivered.stream_seq)
        while True:
            msg = await queue.get()
            if overflowed.is_set():
                log.warning("event stream dropped: the client reads too slowly", feed=feed.filters)
                return
            if msg is None:
                return
            is_progress = msg.subject.startswith(Subject.PROGRESS + ".")
            if is_progress and not caught_up:
                continue
            if not is_progress and not msg.metadata.num_pending:
                caught_up = True
            out = _outgoing(tracks, msg, feed.scene_id)
            if out is None or not feed.wanted(out):
                continue
            if waiting and scenes is not None and out.seq is not None:
                # A projection that did not catch up once (rebuilding, or its database
                # away) is not waited for again: the stream goes on without it.
                waiting = await scenes.wait_for_seq(out.seq, PROJECTION_WAIT_S)
            yield out.sse()
            if feed.scene_id is not None and out.terminal and not msg.metadata.num_pending:
                return
    finally:
        for sub in (events, progress):
            with contextlib.suppress(Exception):
                await sub.unsubscribe()


def _outgoing(tracks: Tracks, msg: Msg, scene_id: str | None) -> Outgoing | None:
    if msg.subject.startswith(Subject.PROGRESS + "."):
        out = from_progress(tracks, msg.data)
        if out is not None and scene_id is not None and out.data["scene_id"] != scene_id:
            return None
        return out
    return from_stream(tracks, msg.subject, msg.data, msg.metadata.sequence.stream, scene_id)


def _status_set(values: list[Status] | None) -> frozenset[str] | None:
    if not values:
        return None
    statuses = {str(v) for v in values}
    # A scene that shows STUCK is still running as far as its events go.
    if str(Status.STUCK) in statuses:
        statuses.add(str(Status.IN_PROGRESS))
    return frozenset(statuses)


class Scenes(Protocol):
    """What the feeds ask of the projection."""

    async def get_scene(self, scene_id: str) -> Any: ...

    async def wait_for_seq(self, seq: int, timeout: float) -> bool: ...


LAST_EVENT_ID_DESCRIPTION = (
    "The `id` of the last message received: the stream continues after it (browsers send "
    "it themselves when they reconnect)"
)
# A plain string with "" for none: a nullable header would be documented as taking
# `null`, which a header cannot carry (a client sends the text "null").
LastEventId = Annotated[
    str,
    Header(
        alias="Last-Event-ID",
        pattern=LAST_EVENT_ID_PATTERN,
        max_length=18,
        description=LAST_EVENT_ID_DESCRIPTION,
    ),
]


def events_router(
    js: JetStreamContext,
    nc: NATS,
    stream: str,
    scenes: Scenes,
    *,
    heartbeat_s: float | None = None,
) -> APIRouter:
    """The SSE routes over the gateway's NATS connection; ``scenes`` (the projection)
    tells a known scene from an unknown one."""
    router = APIRouter()
    responses: dict[int | str, dict[str, Any]] = {
        200: {
            "content": {"text/event-stream": {}},
            "description": "Server-Sent Events. Each message is JSON: `event` (requested, "
            "layout, image, mesh, ready, failed, cancelled, replayed, progress), "
            "`scene_id`, and for stream events the scene's `attempt`, `status`, "
            "`progress` (0-100), `stages` and `objects` counts as of that event; "
            "`progress` messages carry `object_id`, `stage` and `percent`. Stream events "
            "have the stream sequence as their `id`.",
        }
    }
    scene_responses = {
        **responses,
        204: {"description": "`Last-Event-ID` is at or after the scene's end: nothing more"},
        404: {"description": "`scene_not_found`"},
    }

    def start_after(header: str | None) -> int:
        try:
            return last_event_id(header)
        except ValueError as exc:
            raise ApiError(
                422,
                "invalid_request",
                f"invalid request: header.Last-Event-ID: {exc}",
            ) from None

    hub = LiveHub(js, nc, stream, scenes)

    def respond(feed: Feed) -> EventSourceResponse:
        messages = live_feed(hub, feed) if feed.only_new else run_feed(js, nc, stream, feed, scenes)
        return EventSourceResponse(
            messages,
            ping=heartbeat_s or HEARTBEAT_S,
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            send_timeout=30,
        )

    @router.get("/v1/scenes/{scene_id}/events", responses=scene_responses)
    async def scene_events(
        scene_id: str,
        last_event: LastEventId = "",
        after: Annotated[
            int | None,
            Query(
                ge=0,
                le=MAX_SEQUENCE,
                description="As Last-Event-ID, for clients that cannot set headers",
            ),
        ] = None,
    ) -> Response:
        """Every event of one scene from its request on (or after `Last-Event-ID`), then
        live: stages and objects as they finish, per-object progress while they are made.
        The stream ends after the terminal event (ready, failed or cancelled) of the
        scene's latest attempt."""
        view = await scenes.get_scene(scene_id)
        if view is None:
            raise ApiError(404, "scene_not_found", f"no scene {scene_id!r}")
        after_seq = after if after is not None else start_after(last_event)
        if after_seq and view.status in TERMINAL and await _ended_before(scene_id, after_seq):
            # A client back after the end (EventSource reconnects by itself): 204 tells
            # it the stream is over rather than holding it open on heartbeats.
            return Response(status_code=204)
        feed = Feed(
            scene_filters(scene_id),
            subject(Subject.PROGRESS, scene_id, "*"),
            scene_id=scene_id,
            after_seq=after_seq,
        )
        return respond(feed)

    async def _ended_before(scene_id: str, seq: int) -> bool:
        """Whether the scene's last ending, and any replay, are at or before ``seq``."""
        last = 0
        for root in (*_ENDINGS, Subject.SCENE_REPLAYED):
            try:
                msg = await js.get_last_msg(stream, subject(root, scene_id))
            except NotFoundError:
                continue
            last = max(last, msg.seq or 0)
        return 0 < last <= seq

    @router.get("/v1/events", responses=responses)
    async def all_events(
        status: Annotated[
            list[Status] | None,
            Query(description="Only messages of scenes in these statuses (repeat it)"),
        ] = None,
        last_event: LastEventId = "",
        after: Annotated[int | None, Query(ge=0, le=MAX_SEQUENCE)] = None,
    ) -> EventSourceResponse:
        """Every scene's events from now on (or after `Last-Event-ID`), for dashboards
        and other systems; `status=FAILED&status=SUCCEEDED` gives only the outcomes."""
        start = after if after is not None else start_after(last_event)
        feed = Feed(
            [">"],
            f"{Subject.PROGRESS}.>",
            statuses=_status_set(status),
            after_seq=start,
            only_new=start == 0,
        )
        return respond(feed)

    return router
