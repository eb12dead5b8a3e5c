"""Content-addressed artifact store: local directory by default, NATS object store across hosts.

An artifact's identity is the sha256 of its bytes, so writing the same bytes twice is
harmless and a redone step produces the same reference.

The NATS store keeps the JetStream object-store layout (a metadata record on
``$O.<bucket>.M.<name>``, chunks on ``$O.<bucket>.C.<nuid>``), so buckets written by any
object-store client read here and the reverse. It differs from a plain object-store client
in two ways that matter when replicas share a bucket:

- A write never replaces a stored artifact: bytes already stored with the same digest are
  not written again, and the metadata record is published only if the record it saw is
  still the last one (``Nats-Expected-Last-Subject-Sequence``). Of two writers racing with
  the same bytes one wins; the other removes its own chunks and leaves the winner's, which
  a reader may be reading, alone.
- A read creates no consumer: it fetches the metadata record and then each chunk by its
  sequence (direct gets where the stream allows them, else the stream's message API),
  within a deadline, a bounded number of attempts, and a bounded number of reads at once.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from nats.errors import Error as NatsError
from nats.js import JetStreamContext, api
from nats.js.errors import APIError, NotFoundError, ObjectNotFoundError
from nats.js.object_store import ObjectStore
from nats.nuid import NUID

from shared.config import StorageSettings
from shared.contract import OBJECT_STORE_BUCKET, ArtifactRef
from shared.errors import Permanent, RetryLater


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


# The object-store layout, as every object-store client writes it.
OBJECT_STREAM = "OBJ_{bucket}"
CHUNK_SUBJECT = "$O.{bucket}.C.{nuid}"
META_SUBJECT = "$O.{bucket}.M.{name}"
CHUNK_SIZE = 128 * 1024
DIGEST_PREFIX = "SHA-256="
# JetStream's answer when the last record on a subject is not the one a write expected.
WRONG_LAST_SEQUENCE = 10071
# A write that lost a race finds the winner's record on its next look; a few looks allow
# for a delete landing in between.
WRITE_ROUNDS = 4
# First pause between read attempts (doubling, at most READ_BACKOFF_MAX_S): long enough
# for a rewritten record to land, short against an attempt's deadline.
READ_BACKOFF_S = 0.05
READ_BACKOFF_MAX_S = 1.0


class _Torn(Exception):
    """What was read does not make the artifact (chunks gone or changed under the read)."""


@dataclass(frozen=True)
class _Record:
    """The last metadata record of a name: ``info`` is None when it is not readable."""

    info: api.ObjectInfo | None
    seq: int

    @property
    def live(self) -> bool:
        return self.info is not None and not self.info.deleted

    def holds(self, sha256: str, size: int) -> bool:
        """Whether the record describes exactly these bytes (so a write has nothing to do)."""
        info = self.info
        return (
            info is not None
            and not info.deleted
            and not info.is_link()
            and bool(info.nuid)
            and info.size == size
            and _digest_bytes(info.digest) == bytes.fromhex(sha256)
        )


def _digest_bytes(value: str | None) -> bytes | None:
    if not value or value[: len(DIGEST_PREFIX)].upper() != DIGEST_PREFIX:
        return None
    try:
        return base64.urlsafe_b64decode(value[len(DIGEST_PREFIX) :])
    except ValueError:
        return None


class NatsArtifactStore:
    """The JetStream object store: artifacts reachable from every host on the bus.

    See the module docstring for what a write and a read guarantee when replicas share a
    bucket. ``storage`` supplies the read deadline, attempts and concurrency.
    """

    def __init__(
        self,
        js: JetStreamContext,
        bucket: str = OBJECT_STORE_BUCKET,
        *,
        direct: bool = True,
        storage: StorageSettings | None = None,
    ):
        storage = storage or StorageSettings()
        self._js = js
        self.bucket = bucket
        self._stream = OBJECT_STREAM.format(bucket=bucket)
        self._objects = ObjectStore(name=bucket, stream=self._stream, js=js)
        self._direct = direct
        self._nuid = NUID()
        self.read_timeout_s = storage.artifact_read_timeout_s
        self.read_attempts = storage.artifact_read_attempts
        self._reading = asyncio.Semaphore(storage.artifact_read_concurrency)

    @classmethod
    async def open(
        cls,
        js: JetStreamContext,
        bucket: str = OBJECT_STORE_BUCKET,
        *,
        storage: StorageSettings | None = None,
        replicas: int = 1,
    ) -> NatsArtifactStore:
        """The bucket's store, creating the bucket (with ``replicas`` copies on a JetStream
        cluster) if it does not exist. An existing bucket is used as it is: without direct
        gets, reads go through the stream's message API."""
        stream = OBJECT_STREAM.format(bucket=bucket)
        try:
            info = await js.stream_info(stream)
        except NotFoundError:
            await js.create_object_store(
                bucket, api.ObjectStoreConfig(storage=api.StorageType.FILE, replicas=replicas)
            )
            info = await js.stream_info(stream)
        return cls(js, bucket, direct=bool(info.config.allow_direct), storage=storage)

    def _meta_subject(self, sha256: str) -> str:
        name = base64.urlsafe_b64encode(sha256.encode()).decode()
        return META_SUBJECT.format(bucket=self.bucket, name=name)

    def _chunk_subject(self, nuid: str) -> str:
        return CHUNK_SUBJECT.format(bucket=self.bucket, nuid=nuid)

    async def _last_record(self, sha256: str, *, leader: bool = False) -> _Record | None:
        """The name's last metadata record. A direct get may be answered by a replica that
        lags the stream's leader, so an absent record is confirmed by the leader, and
        ``leader`` asks only the leader (as a write must)."""
        subject = self._meta_subject(sha256)
        try:
            if self._direct and not leader:
                try:
                    msg = await self._js.get_msg(self._stream, subject=subject, direct=True)
                except NotFoundError:
                    msg = await self._js.get_last_msg(self._stream, subject)
            else:
                msg = await self._js.get_last_msg(self._stream, subject)
        except NotFoundError:
            return None
        try:
            info: api.ObjectInfo | None = api.ObjectInfo.from_response(json.loads(msg.data or b""))
        except (ValueError, TypeError, KeyError, AttributeError):
            info = None
        return _Record(info, msg.seq or 0)

    # ------------------------------------------------------------------ writes

    async def put(self, data: bytes, media_type: str) -> ArtifactRef:
        """Store ``data`` unless it is stored already; never replaces stored bytes."""
        sha = digest(data)
        ref = ArtifactRef(
            uri=f"nats://{self.bucket}/{sha}", sha256=sha, size=len(data), media_type=media_type
        )
        try:
            for _ in range(WRITE_ROUNDS):
                record = await self._last_record(sha, leader=True)
                if record is not None and record.holds(sha, len(data)):
                    return ref
                if await self._write(sha, data, record):
                    return ref
        except (NatsError, TimeoutError) as exc:
            raise RetryLater(
                f"artifact {sha} could not be stored: {exc!r}", code="artifact_unavailable"
            ) from exc
        raise RetryLater(
            f"artifact {sha} could not be stored: its metadata changed {WRITE_ROUNDS} times "
            "while writing",
            code="artifact_unavailable",
        )

    async def _write(self, sha256: str, data: bytes, seen: _Record | None) -> bool:
        """Chunks on a fresh subject, then the metadata record if ``seen`` is still the last
        one. False when another writer got there first (our chunks are removed again)."""
        nuid = self._nuid.next().decode()
        chunks = self._chunk_subject(nuid)
        info = api.ObjectInfo(
            name=sha256,
            bucket=self.bucket,
            nuid=nuid,
            size=len(data),
            chunks=(len(data) + CHUNK_SIZE - 1) // CHUNK_SIZE,
            mtime=datetime.now(UTC).isoformat(),
            digest=DIGEST_PREFIX + base64.urlsafe_b64encode(bytes.fromhex(sha256)).decode(),
            options=api.ObjectMetaOptions(max_chunk_size=CHUNK_SIZE),
        )
        headers = {
            api.Header.ROLLUP.value: "sub",
            api.Header.EXPECTED_LAST_SUBJECT_SEQUENCE.value: str(seen.seq if seen else 0),
        }
        try:
            for offset in range(0, len(data), CHUNK_SIZE):
                await self._js.publish(chunks, data[offset : offset + CHUNK_SIZE])
            await self._js.publish(
                self._meta_subject(sha256), json.dumps(info.as_dict()).encode(), headers=headers
            )
        except APIError as exc:
            await self._discard(chunks)
            if exc.err_code == WRONG_LAST_SEQUENCE:
                return False
            raise
        except BaseException:
            await self._discard(chunks)
            raise
        replaced = seen.info if seen is not None and seen.live else None
        if replaced is not None and replaced.nuid and replaced.nuid != nuid:
            # The record replaced did not describe these bytes: its chunks serve nobody.
            await self._discard(self._chunk_subject(replaced.nuid))
        return True

    async def _discard(self, chunks: str) -> None:
        # Best effort: chunks no record points to are only wasted space.
        with contextlib.suppress(NatsError, TimeoutError):
            await self._js.purge_stream(self._stream, subject=chunks)

    # ------------------------------------------------------------------ reads

    async def get(self, sha256: str) -> bytes:
        """The artifact's bytes. Each attempt has a deadline; after the last failed attempt
        :class:`RetryLater` says why. :class:`ArtifactNotFound` when it is not stored."""
        sha = _check_sha(sha256)
        problem = "no attempt made"
        async with self._reading:
            for attempt in range(self.read_attempts):
                if attempt:
                    await asyncio.sleep(
                        min(READ_BACKOFF_S * 2 ** (attempt - 1), READ_BACKOFF_MAX_S)
                    )
                try:
                    async with asyncio.timeout(self.read_timeout_s):
                        return await self._read(sha)
                except TimeoutError:
                    problem = f"no answer within {self.read_timeout_s:g} s"
                except _Torn as exc:
                    problem = str(exc)
                except NatsError as exc:
                    problem = repr(exc)
        raise RetryLater(
            f"artifact {sha} could not be read after {self.read_attempts} attempts: {problem}",
            code="artifact_unavailable",
            delay=1.0,
        )

    async def _read(self, sha256: str) -> bytes:
        record = await self._last_record(sha256)
        if record is None or (record.info is not None and record.info.deleted):
            raise ArtifactNotFound(sha256)
        info = record.info
        if info is None or not info.nuid:
            raise _Torn("its metadata record is not object-store metadata")
        if info.is_link():
            raise Permanent(
                f"artifact {sha256} is an object-store link, which artifacts never are",
                code="artifact_invalid",
            )
        subject = self._chunk_subject(info.nuid)
        parts: list[bytes] = []
        seq = 1
        for index in range(info.chunks or 0):
            try:
                msg = await self._js.get_msg(
                    self._stream, seq=seq, subject=subject, next=True, direct=self._direct
                )
            except NotFoundError:
                raise _Torn(
                    f"chunk {index + 1} of {info.chunks} is gone (rewritten or deleted meanwhile)"
                ) from None
            parts.append(msg.data or b"")
            seq = (msg.seq or seq) + 1
        data = b"".join(parts)
        if len(data) != info.size or digest(data) != sha256:
            raise _Torn(f"its {len(parts)} chunks do not make the artifact")
        return data

    async def exists(self, sha256: str) -> bool:
        sha = _check_sha(sha256)
        try:
            record = await self._last_record(sha)
        except (NatsError, TimeoutError) as exc:
            raise RetryLater(
                f"artifact store did not answer for {sha}: {exc!r}", code="artifact_unavailable"
            ) from exc
        return record is not None and record.live

    async def delete(self, sha256: str) -> None:
        # The object store keeps a small "deleted" record and purges the chunks; a later
        # put of the same bytes stores them again.
        with contextlib.suppress(ObjectNotFoundError, NotFoundError):
            await self._objects.delete(_check_sha(sha256))
