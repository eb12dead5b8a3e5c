"""Meshgen's work: an object's image in, the object's textured mesh (GLB) out.

Meshgen reads ``images.ready``. An object of a batch-priority scene is not made there: it
is passed on to ``meshgen.batch.<scene>.<object>``, a lane of its own that the replicas
serve when the interactive lane leaves a backend slot free (:mod:`shared.fairness`).
Identical meshes in flight are made once across replicas (:mod:`shared.claims`).
"""

from __future__ import annotations

from services.meshgen.backend import MeshBackend
from shared.artifacts import ArtifactNotFound, ArtifactStore
from shared.cache import AssetCache, cache_key, centimetres
from shared.claims import WorkClaims, make_once
from shared.contract import ImagesReady, MeshReady, Subject, msg_id, root_of, subject
from shared.errors import Permanent
from shared.fairness import FairSlots, in_turn
from shared.stage import Delivery, Output

STAGE = "meshgen"
# The message id prefix of an object passed on to the batch lane.
BATCH_LANE = "meshgen-batch"


class MeshMaker:
    """One object's mesh: from the asset cache when it holds one, else from the backend."""

    def __init__(
        self,
        producer: str,
        store: ArtifactStore,
        backend: MeshBackend,
        cache: AssetCache | None = None,
        slots: FairSlots | None = None,
        claims: WorkClaims | None = None,
    ):
        self.producer = producer
        self.store = store
        self.backend = backend
        self.cache = cache
        self.slots = slots
        self.claims = claims

    async def __call__(self, event: ImagesReady, delivery: Delivery) -> list[Output]:
        if event.priority == "batch" and root_of(delivery.subject) == Subject.IMAGES_READY:
            lane = subject(Subject.MESH_BATCH, event.scene_id, event.object_id)
            return [Output(lane, event, msg_id(BATCH_LANE, event.scene_id, event.object_id))]

        async def call_backend() -> bytes:
            try:
                image = await self.store.get(event.image.sha256)
            except ArtifactNotFound:
                raise Permanent(
                    f"image {event.image.sha256} of {event.object_id} is not in the artifact store",
                    code="artifact_missing",
                ) from None
            return await self.backend.generate(event.object, image)

        async def make() -> bytes:
            return await in_turn(self.slots, self.backend, event, call_backend)

        if self.cache is None:
            ref, cached = await self.store.put(await make(), "model/gltf-binary"), False
        else:
            # Sizes within a centimetre share a mesh; the image decides the texture.
            key = cache_key(
                STAGE,
                self.backend.identity,
                event.object,
                centimetres(event.object.size),
                event.seed,
                image=event.image.sha256,
            )
            ref, cached = await make_once(
                self.cache, self.claims, STAGE, key, make, "model/gltf-binary"
            )
        ready = MeshReady(
            scene_id=event.scene_id,
            producer=self.producer,
            object_id=event.object_id,
            mesh=ref,
            object_count=event.object_count,
            cached=cached,
        )
        return [
            Output(
                subject(Subject.MESH_READY, event.scene_id, event.object_id),
                ready,
                msg_id(STAGE, event.scene_id, event.object_id),
            )
        ]
