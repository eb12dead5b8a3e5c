"""The local content-addressed store (the NATS object store is covered in integration)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from shared.artifacts import ArtifactNotFound, LocalArtifactStore


async def test_put_get_is_content_addressed(tmp_path: Path):
    store = LocalArtifactStore(tmp_path)
    ref = await store.put(b"hello", "text/plain")
    assert ref.sha256 == hashlib.sha256(b"hello").hexdigest()
    assert ref.size == 5 and ref.media_type == "text/plain"
    assert ref.uri.startswith("file://")
    assert await store.get(ref.sha256) == b"hello"
    again = await store.put(b"hello", "text/plain")
    assert again == ref
    assert len([p for p in tmp_path.rglob("*") if p.is_file()]) == 1


async def test_missing_and_invalid_digests(tmp_path: Path):
    store = LocalArtifactStore(tmp_path)
    with pytest.raises(ArtifactNotFound):
        await store.get("0" * 64)
    with pytest.raises(ArtifactNotFound):
        await store.get("../../etc/passwd")
    assert not await store.exists("0" * 64)


async def test_existing_artifact_is_never_rewritten(tmp_path: Path):
    store = LocalArtifactStore(tmp_path)
    ref = await store.put(b"data", "application/octet-stream")
    path = store.path_of(ref.sha256)
    before = path.stat().st_mtime_ns
    await store.put(b"data", "application/octet-stream")
    assert path.stat().st_mtime_ns == before
