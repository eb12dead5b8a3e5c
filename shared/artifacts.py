"""Content-addressed artifact store: local directory by default, NATS object store across hosts.

An artifact's identity is the sha256 of its bytes, so writing the same bytes twice is
harmless and a redone step produces the same reference.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Protocol

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError, ObjectNotFoundError
from nats.js.object_store import ObjectStore

from shared.contract import OBJECT_STORE_BUCKET, ArtifactRef


class ArtifactNotFound(KeyError):
    """No artifact with this sha256 is stored."""


class ArtifactStore(Protocol):
    async def put(self, data: bytes, media_type: str) -> ArtifactRef: ...

    async def get(self, sha256: str) -> bytes: ...

    async def exists(self, sha256: str) -> bool: ...

    async def delete(self, sha256: str) -> None:
        """Remove the artifact; removing one that is not stored is not an error."""
        ...


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _check_sha(sha256: str) -> str:
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise ArtifactNotFound(f"not a sha256 digest: {sha256!r}")
    return sha256


class LocalArtifactStore:
    """Files under ``root/ab/<sha256>``, written atomically (temp file + rename)."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def path_of(self, sha256: str) -> Path:
        sha256 = _check_sha(sha256)
        return self.root / sha256[:2] / sha256

    async def put(self, data: bytes, media_type: str) -> ArtifactRef:
        sha = digest(data)
        path = self.path_of(sha)
        if not path.exists():
            await asyncio.to_thread(self._write, path, data)
        return ArtifactRef(uri=path.as_uri(), sha256=sha, size=len(data), media_type=media_type)

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    async def get(self, sha256: str) -> bytes:
        path = self.path_of(sha256)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            raise ArtifactNotFound(sha256) from None

    async def exists(self, sha256: str) -> bool:
        return self.path_of(sha256).exists()

    async def delete(self, sha256: str) -> None:
        await asyncio.to_thread(self.path_of(sha256).unlink, missing_ok=True)


class NatsArtifactStore:
    """The JetStream object store: artifacts reachable from every host on the bus."""

    def __init__(self, store: ObjectStore, bucket: str = OBJECT_STORE_BUCKET):
        self._store = store
        self.bucket = bucket

    @classmethod
    async def open(
        cls, js: JetStreamContext, bucket: str = OBJECT_STORE_BUCKET
    ) -> NatsArtifactStore:
        try:
            store = await js.object_store(bucket)
        except NotFoundError:
            store = await js.create_object_store(bucket)
        return cls(store, bucket)

    async def put(self, data: bytes, media_type: str) -> ArtifactRef:
        sha = digest(data)
        if not await self.exists(sha):
            await self._store.put(sha, data)
        return ArtifactRef(
            uri=f"nats://{self.bucket}/{sha}", sha256=sha, size=len(data), media_type=media_type
        )

    async def get(self, sha256: str) -> bytes:
        try:
            result = await self._store.get(_check_sha(sha256))
        except (ObjectNotFoundError, NotFoundError):
            raise ArtifactNotFound(sha256) from None
        return result.data or b""

    async def exists(self, sha256: str) -> bool:
        try:
            await self._store.get_info(_check_sha(sha256))
        except (ObjectNotFoundError, NotFoundError):
            return False
        return True

    async def delete(self, sha256: str) -> None:
        # The object store keeps a small "deleted" record and purges the chunks; a later
        # put of the same bytes stores them again.
        with contextlib.suppress(ObjectNotFoundError, NotFoundError):
            await self._store.delete(_check_sha(sha256))
