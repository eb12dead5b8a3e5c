"""Live per-object progress, as stages report it on core NATS (not kept in the stream)."""

from __future__ import annotations

import asyncio
from collections import OrderedDict

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from pydantic import ValidationError

from shared.contract import ObjectProgress, Subject
from shared.logs import get_logger

log = get_logger(__name__)


class ProgressBoard:
    """The latest fraction per (scene, object, stage), bounded to the most recent entries."""

    def __init__(self, capacity: int = 10_000):
        self.capacity = capacity
        self._entries: OrderedDict[tuple[str, str, str], float] = OrderedDict()

    def record(self, event: ObjectProgress) -> None:
        key = (event.scene_id, event.object_id, event.stage)
        self._entries[key] = event.fraction
        self._entries.move_to_end(key)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)

    def fraction(self, scene_id: str, object_id: str, stage: str) -> float | None:
        return self._entries.get((scene_id, object_id, stage))


async def follow_progress(nc: NATS, board: ProgressBoard, stop: asyncio.Event) -> None:
    """Feed ``board`` from ``progress.>`` until ``stop`` is set."""

    async def on_message(msg: Msg) -> None:
        try:
            board.record(ObjectProgress.model_validate_json(msg.data))
        except ValidationError as exc:
            log.debug("progress message ignored", subject=msg.subject, error=str(exc))

    sub = await nc.subscribe(f"{Subject.PROGRESS}.>", cb=on_message)
    try:
        await stop.wait()
    finally:
        await sub.unsubscribe()
