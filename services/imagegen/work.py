"""Imagegen's work: fan a layout out into one work item per object, then make each image.

The fan-out publishes ``imagegen.work.<scene>.<object>``; every imagegen replica binds the
same durable on that subject, so the objects of one scene spread across replicas.
"""

from __future__ import annotations

from services.imagegen.backend import ImageBackend
from shared.artifacts import ArtifactStore
from shared.contract import (
    ImagesReady,
    ImageWork,
    LayoutReady,
    Subject,
    msg_id,
    subject,
)
from shared.stage import Delivery, Output

FANOUT_STAGE = "imagegen-fanout"
STAGE = "imagegen"


class FanOut:
    def __init__(self, producer: str):
        self.producer = producer

    async def __call__(self, event: LayoutReady, delivery: Delivery) -> list[Output]:
        count = len(event.layout.objects)
        return [
            Output(
                subject(Subject.IMAGE_WORK, event.scene_id, obj.id),
                ImageWork(
                    scene_id=event.scene_id,
                    producer=self.producer,
                    object_id=obj.id,
                    object=obj,
                    seed=event.seed,
                    object_count=count,
                ),
                msg_id(FANOUT_STAGE, event.scene_id, obj.id),
            )
            for obj in event.layout.objects
        ]


class ImageMaker:
    def __init__(self, producer: str, store: ArtifactStore, backend: ImageBackend, size: int = 512):
        self.producer = producer
        self.store = store
        self.backend = backend
        self.size = size

    async def __call__(self, event: ImageWork, delivery: Delivery) -> list[Output]:
        png = await self.backend.generate(event.object, event.seed, self.size)
        ref = await self.store.put(png, "image/png")
        ready = ImagesReady(
            scene_id=event.scene_id,
            producer=self.producer,
            object_id=event.object_id,
            object=event.object,
            image=ref,
            seed=event.seed,
            object_count=event.object_count,
        )
        return [
            Output(
                subject(Subject.IMAGES_READY, event.scene_id, event.object_id),
                ready,
                msg_id(STAGE, event.scene_id, event.object_id),
            )
        ]
