"""Meshgen's work: an object's image in, the object's textured mesh (GLB) out."""

from __future__ import annotations

from services.meshgen.backend import MeshBackend
from shared.artifacts import ArtifactNotFound, ArtifactStore
from shared.contract import ImagesReady, MeshReady, Subject, msg_id, subject
from shared.errors import Permanent
from shared.stage import Delivery, Output

STAGE = "meshgen"


class MeshMaker:
    def __init__(self, producer: str, store: ArtifactStore, backend: MeshBackend):
        self.producer = producer
        self.store = store
        self.backend = backend

    async def __call__(self, event: ImagesReady, delivery: Delivery) -> list[Output]:
        try:
            image = await self.store.get(event.image.sha256)
        except ArtifactNotFound:
            raise Permanent(
                f"image {event.image.sha256} of {event.object_id} is not in the artifact store",
                code="artifact_missing",
            ) from None
        glb = await self.backend.generate(event.object, image)
        ref = await self.store.put(glb, "model/gltf-binary")
        ready = MeshReady(
            scene_id=event.scene_id,
            producer=self.producer,
            object_id=event.object_id,
            mesh=ref,
            object_count=event.object_count,
        )
        return [
            Output(
                subject(Subject.MESH_READY, event.scene_id, event.object_id),
                ready,
                msg_id(STAGE, event.scene_id, event.object_id),
            )
        ]
