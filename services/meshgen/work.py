"""Meshgen's work: an object's image in, the object's textured mesh (GLB) out."""

from __future__ import annotations

from services.meshgen.backend import MeshBackend
from shared.artifacts import ArtifactNotFound, ArtifactStore
from shared.cache import AssetCache, cache_key, centimetres
from shared.contract import ImagesReady, MeshReady, Subject, msg_id, subject
from shared.errors import Permanent
from shared.stage import Delivery, Output

STAGE = "meshgen"


class MeshMaker:
    """One object's mesh: from the asset cache when it holds one, else from the backend."""

    def __init__(
        self,
        producer: str,
        store: ArtifactStore,
        backend: MeshBackend,
        cache: AssetCache | None = None,
    ):
        self.producer = producer
        self.store = store
        self.backend = backend
        self.cache = cache

    async def __call__(self, event: ImagesReady, delivery: Delivery) -> list[Output]:
        async def make() -> bytes:
            try:
                image = await self.store.get(event.image.sha256)
            except ArtifactNotFound:
                raise Permanent(
                    f"image {event.image.sha256} of {event.object_id} is not in the artifact store",
                    code="artifact_missing",
                ) from None
            return await self.backend.generate(event.object, image)

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
            ref, cached = await self.cache.get_or_make(STAGE, key, make, "model/gltf-binary")
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
