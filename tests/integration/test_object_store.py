"""The NATS object store as the artifact store, on a real server."""

from __future__ import annotations

import hashlib

import nats
import pytest

from shared.artifacts import ArtifactNotFound, NatsArtifactStore


async def test_object_store_round_trip(nats_server: str):
    nc = await nats.connect(nats_server)
    try:
        store = await NatsArtifactStore.open(nc.jetstream())
        data = bytes(range(256)) * 4096  # 1 MiB: spans several chunks
        ref = await store.put(data, "application/octet-stream")
        assert ref.sha256 == hashlib.sha256(data).hexdigest()
        assert ref.uri == f"nats://holodeck-artifacts/{ref.sha256}"
        assert await store.exists(ref.sha256)
        assert await store.get(ref.sha256) == data
        assert await store.put(data, "application/octet-stream") == ref
        reopened = await NatsArtifactStore.open(nc.jetstream())
        assert await reopened.get(ref.sha256) == data
        with pytest.raises(ArtifactNotFound):
            await store.get("f" * 64)
    finally:
        await nc.close()
