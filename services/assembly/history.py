"""What the stream already holds about a scene: its layout and the meshes made so far.

Anyone can publish on a scene's subjects, so a subject may hold garbage beside (or
after) the stage's real event. The history reads the *first valid* event of a subject:
stage outputs are published once per scene and object (their message ids see to that),
so the first valid one is the real one, and in the usual case it is also the first
message, one request away.
"""

from __future__ import annotations

import asyncio
from typing import TypeVar

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from pydantic import BaseModel

from shared.contract import (
    LayoutReady,
    MalformedEvent,
    MeshReady,
    Subject,
    ids_from_subject,
    parse_event,
    subject,
)

E = TypeVar("E", bound=BaseModel)
# How many invalid messages on one subject are skipped before the subject is given up on.
MAX_SKIPPED = 10_000


class StreamHistory:
    """Reads a scene's events back from JetStream; assembly keeps no state of its own."""

    def __init__(self, js: JetStreamContext, stream: str):
        self.js = js
        self.stream = stream

    async def _first_valid(self, name: str, kind: type[E]) -> E | None:
        seq = 1
        for _ in range(MAX_SKIPPED):
            try:
                raw = await self.js.get_msg(self.stream, seq=seq, subject=name, next=True)
            except NotFoundError:
                return None
            try:
                event = parse_event(name, raw.data or b"")
            except MalformedEvent:
                event = None
            if isinstance(event, kind):
                return event
            seq = (raw.seq or seq) + 1
        return None

    async def layout(self, scene_id: str) -> LayoutReady | None:
        return await self._first_valid(subject(Subject.LAYOUT_READY, scene_id), LayoutReady)

    async def mesh_object_ids(self, scene_id: str) -> set[str]:
        """The objects with something on their ``mesh.ready`` subject (valid or not)."""
        info = await self.js.stream_info(
            self.stream, subjects_filter=subject(Subject.MESH_READY, scene_id, "*")
        )
        found = set()
        for name in info.state.subjects or {}:
            _, object_id = ids_from_subject(name)
            if object_id:
                found.add(object_id)
        return found

    async def meshes(self, scene_id: str, object_ids: list[str]) -> dict[str, MeshReady]:
        """The valid mesh of each object that has one; objects without are left out."""

        async def one(object_id: str) -> MeshReady | None:
            name = subject(Subject.MESH_READY, scene_id, object_id)
            return await self._first_valid(name, MeshReady)

        found = await asyncio.gather(*(one(o) for o in object_ids))
        return {m.object_id: m for m in found if m is not None}
