"""The planner's work: a scene request in, the room layout out."""

from __future__ import annotations

import asyncio

from services.planner.plan import plan_scene
from shared.contract import (
    LayoutReady,
    SceneRequested,
    Subject,
    msg_id,
    request_scene_id,
    subject,
)
from shared.errors import Permanent
from shared.logs import get_logger
from shared.stage import Delivery, Output

log = get_logger(__name__)
STAGE = "planner"


class Planner:
    def __init__(self, producer: str):
        self.producer = producer

    async def __call__(self, event: SceneRequested, delivery: Delivery) -> list[Output]:
        scene_id = request_scene_id(
            event, delivery.subject, delivery.stream_seq, delivery.stored_at
        )
        layout = await asyncio.to_thread(plan_scene, event.prompt, event.options.seed)
        if not layout.objects:
            reasons = "; ".join(f"{u.category}: {u.reason}" for u in layout.unplaced)
            raise Permanent(f"no object could be placed ({reasons})", code="empty_layout")
        log.info(
            "layout planned",
            scene_id=scene_id,
            room=layout.room.type,
            objects=len(layout.objects),
            unplaced=len(layout.unplaced),
        )
        ready = LayoutReady(
            scene_id=scene_id,
            producer=self.producer,
            prompt=event.prompt,
            seed=event.options.seed,
            layout=layout,
        )
        return [Output(subject(Subject.LAYOUT_READY, scene_id), ready, msg_id(STAGE, scene_id))]
