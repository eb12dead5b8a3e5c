"""What the stream already holds about a scene: its request, layout, images and meshes.

Read by assembly (which meshes of a scene have arrived, read once each) and by replays
(what can be reused?).

Anyone can publish on a scene's subjects, so a subject may hold garbage beside (or
after) the stage's real events, and a replayed scene holds one event per attempt. The
history reads the newest *valid* event of the attempt it is asked about: usually the
subject's last message, one request away; only when that one does not do does it scan
the subject from the start.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from pydantic import BaseModel

from shared.contract import (
    ImagesReady,
    LayoutReady,
    MalformedEvent,
    MeshReady,
    SceneFailed,
    SceneRequested,
    Subject,
    ids_from_subject,
    parse_event,
    subject,
)

E = TypeVar("E", bound=BaseModel)
# How many messages of one subject a scan reads at most before giving up on it.
MAX_SCANNED = 10_000


def _parsed(name: str, data: bytes | None, kind: type[E]) -> E | None:
    try:
        event = parse_event(name, data or b"")
    except MalformedEvent:
        return None
    return event if isinstance(event, kind) else None


class StreamHistory:
    """Reads a scene's events back from JetStream."""

    def __init__(self, js: JetStreamContext, stream: str):
        self.js = js
        self.stream = stream

    async def newest(
        self, name: str, kind: type[E], accept: Callable[[E], bool] = lambda ev: True
    ) -> E | None:
        """The newest valid ``kind`` event on subject ``name`` that ``accept`` takes."""
        try:
            last = await self.js.get_last_msg(self.stream, name)
        except NotFoundError:
            return None
        event = _parsed(name, last.data, kind)
        if event is not None and accept(event):
            return event
        found: E | None = None
        seq = 1
        for _ in range(MAX_SCANNED):
            try:
                raw = await self.js.get_msg(self.stream, seq=seq, subject=name, next=True)
            except NotFoundError:
                break
            event = _parsed(name, raw.data, kind)
            if event is not None and accept(event):
                found = event
            seq = (raw.seq or seq) + 1
        return found

    async def layout(self, scene_id: str, attempt: int = 1) -> LayoutReady | None:
        """The layout this attempt builds on: the newest of this or an earlier attempt."""
        name = subject(Subject.LAYOUT_READY, scene_id)
        return await self.newest(name, LayoutReady, lambda ev: ev.attempt <= attempt)

    async def request(self, scene_id: str) -> SceneRequested | None:
        """The newest valid request published on the scene's own subject."""
        return await self.newest(subject(Subject.SCENE_REQUESTED, scene_id), SceneRequested)

    async def image(self, scene_id: str, object_id: str, attempt: int) -> ImagesReady | None:
        """The newest image of an object made in ``attempt`` or before."""
        name = subject(Subject.IMAGES_READY, scene_id, object_id)
        return await self.newest(name, ImagesReady, lambda ev: ev.attempt <= attempt)

    async def mesh(self, scene_id: str, object_id: str, attempt: int) -> MeshReady | None:
        """The newest mesh of an object made in ``attempt`` or before."""
        name = subject(Subject.MESH_READY, scene_id, object_id)
        return await self.newest(name, MeshReady, lambda ev: ev.attempt <= attempt)

    async def failure(self, scene_id: str, attempt: int) -> SceneFailed | None:
        """How ``attempt`` of the scene failed, if it did."""
        name = subject(Subject.SCENE_FAILED, scene_id)
        return await self.newest(name, SceneFailed, lambda ev: ev.attempt == attempt)

    async def scene_meshes(
        self, scene_id: str, after: int, upto: int
    ) -> tuple[list[tuple[int, MeshReady]], int]:
        """The scene's valid ``mesh.ready`` events stored after sequence ``after``, with
        their sequences, in stream order, read at least as far as sequence ``upto``; and
        the sequence every ``mesh.ready`` of the scene has been read to.

        One request per message read: a caller that remembers where it stopped reads
        each message once, however large the scene. An event whose subject names
        another scene or object than it does is garbage and left out.
        """
        name = subject(Subject.MESH_READY, scene_id, "*")
        found: list[tuple[int, MeshReady]] = []
        seq = after
        while seq < upto:
            try:
                raw = await self.js.get_msg(self.stream, seq=seq + 1, subject=name, next=True)
            except NotFoundError:
                break  # nothing more (what was there expired or was removed)
            seq = max(raw.seq or 0, seq + 1)
            event = _parsed(raw.subject or name, raw.data, MeshReady)
            if event is not None and ids_from_subject(raw.subject or "") == (
                event.scene_id,
                event.object_id,
            ):
                found.append((seq, event))
        return found, seq
