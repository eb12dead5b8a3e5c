"""Imagegen's work: fan a layout out into one work item per object, then make each image.

The fan-out publishes ``imagegen.work.<scene>.<object>`` (``imagegen.batch.…`` for a
batch-priority scene); every imagegen replica binds the same durables on those subjects,
so the objects of one scene spread across replicas. A backend call holds one of the
replica's :class:`~shared.fairness.FairSlots`; identical images in flight are made once
(:mod:`shared.claims`).

**Seeds.** A backend whose pixels come from a sampler's noise (ComfyUI) would give every
object of a scene the same noise under the scene's seed; it declares
``object_seed_range`` and each object gets its own seed, derived from the scene's seed
and the object's id. That seed is the one in the asset-cache key, so an image is reused
only for the same object id under the same scene seed (a rebuild, a replay); two
identical objects of one scene are two requests and two images. A backend without
``object_seed_range`` (the procedural images, which already mix each object's
description into their randomness) takes the scene's seed, and identical objects share
one image.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable

from services.imagegen.artwork import is_artwork
from services.imagegen.backend import ImageBackend
from shared.artifacts import ArtifactStore
from shared.cache import AssetCache, cache_key
from shared.claims import WorkClaims, make_once
from shared.contract import (
    ImagesReady,
    ImageWork,
    LayoutReady,
    ObjectProgress,
    Subject,
    image_work_subject,
    msg_id,
    subject,
)
from shared.fairness import FairSlots, in_turn
from shared.stage import Delivery, Output

FANOUT_STAGE = "imagegen-fanout"
ProgressReporter = Callable[[ObjectProgress], Awaitable[None]]
STAGE = "imagegen"


def object_seed(scene_seed: int, object_id: str, seed_range: int) -> int:
    """One object's seed in ``[0, seed_range)``, from the scene's seed and the object's id.

    A sha256, never Python's per-process ``hash``, so every run and replica agrees.
    """
    if seed_range < 1:
        raise ValueError(f"a seed range must be positive, got {seed_range}")
    digest = hashlib.sha256(f"object-seed\0{int(scene_seed)}\0{object_id}".encode()).digest()
    # 128 bits reduced modulo any range up to 2**64 stay uniform to within 2**-64.
    return int.from_bytes(digest[:16], "big") % seed_range


class FanOut:
    def __init__(self, producer: str):
        self.producer = producer

    async def __call__(self, event: LayoutReady, delivery: Delivery) -> list[Output]:
        count = len(event.layout.objects)
        return [
            Output(
                image_work_subject(event.priority, event.scene_id, obj.id),
                ImageWork(
                    scene_id=event.scene_id,
                    producer=self.producer,
                    object_id=obj.id,
                    object=obj,
                    seed=event.seed,
                    object_count=count,
                    priority=event.priority,
                ),
                msg_id(FANOUT_STAGE, event.scene_id, obj.id),
            )
            for obj in event.layout.objects
        ]


class ImageMaker:
    """One object's image: from the asset cache when it holds one, else from the backend."""

    def __init__(
        self,
        producer: str,
        store: ArtifactStore,
        backend: ImageBackend,
        size: int = 512,
        cache: AssetCache | None = None,
        report: ProgressReporter | None = None,
        slots: FairSlots | None = None,
        claims: WorkClaims | None = None,
    ):
        self.producer = producer
        self.store = store
        self.backend = backend
        self.size = size
        self.cache = cache
        self.report = report
        self.slots = slots
        self.claims = claims

    def seed_of(self, event: ImageWork) -> int:
        """The seed the backend gets for this object (see the module's docstring)."""
        seed_range: int | None = getattr(self.backend, "object_seed_range", None)
        if seed_range is None:
            return event.seed
        return object_seed(event.seed, event.object_id, seed_range)

    async def __call__(self, event: ImageWork, delivery: Delivery) -> list[Output]:
        async def progress(fraction: float) -> None:
            if self.report is not None:
                await self.report(
                    ObjectProgress(
                        scene_id=event.scene_id,
                        object_id=event.object_id,
                        stage=STAGE,
                        fraction=max(0.0, min(1.0, fraction)),
                    )
                )

        seed = self.seed_of(event)

        async def generate() -> bytes:
            return await self.backend.generate(event.object, seed, self.size, progress)

        async def make() -> bytes:
            return await in_turn(self.slots, self.backend, event, generate)

        if self.cache is None:
            ref, cached = await self.store.put(await make(), "image/png"), False
        else:
            # The image size is the size class: the same object at another size is another image.
            # The key holds the seed the backend is given, never only the scene's; a picture
            # on the wall is drawn per object: two paintings never share one.
            per_object = {"object_id": event.object.id} if is_artwork(event.object) else {}
            key = cache_key(
                STAGE, self.backend.identity, event.object, self.size, seed, **per_object
            )
            ref, cached = await make_once(self.cache, self.claims, STAGE, key, make, "image/png")
        ready = ImagesReady(
            scene_id=event.scene_id,
            producer=self.producer,
            object_id=event.object_id,
            object=event.object,
            image=ref,
            seed=event.seed,
            object_count=event.object_count,
            cached=cached,
            priority=event.priority,
        )
        return [
            Output(
                subject(Subject.IMAGES_READY, event.scene_id, event.object_id),
                ready,
                msg_id(STAGE, event.scene_id, event.object_id),
            )
        ]
