"""What the stream already holds about a scene: its layout and the meshes made so far."""

from __future__ import annotations

import asyncio

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from shared.contract import LayoutReady, MeshReady, Subject, ids_from_subject, subject


class StreamHistory:
    """Reads a scene's events back from JetStream; assembly keeps no state of its own."""

    def __init__(self, js: JetStreamContext, stream: str):
        self.js = js
        self.stream = stream

    async def layout(self, scene_id: str) -> LayoutReady | None:
        try:
            raw = await self.js.get_last_msg(self.stream, subject(Subject.LAYOUT_READY, scene_id))
        except NotFoundError:
            return None
        return LayoutReady.model_validate_json(raw.data or b"")

    async def scene_ready(self, scene_id: str) -> bool:
        """Whether the stream already holds this scene's ``scene.ready``."""
        try:
            await self.js.get_last_msg(self.stream, subject(Subject.SCENE_READY, scene_id))
        except NotFoundError:
            return False
        return True

    async def mesh_object_ids(self, scene_id: str) -> set[str]:
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
        async def one(object_id: str) -> MeshReady:
            raw = await self.js.get_last_msg(
                self.stream, subject(Subject.MESH_READY, scene_id, object_id)
            )
            return MeshReady.model_validate_json(raw.data or b"")

        found = await asyncio.gather(*(one(o) for o in object_ids))
        return {m.object_id: m for m in found}
