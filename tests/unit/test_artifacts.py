"""The local content-addressed store, and the NATS store's read and write rules on an
in-memory stand-in (tests/integration/test_object_store.py runs them on a real server)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from nats.js import api
from nats.js.errors import APIError, NotFoundError

from shared.artifacts import ArtifactNotFound, LocalArtifactStore, NatsArtifactStore
from shared.config import StorageSettings, load_settings
from shared.errors import ConfigError, RetryLater


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


# ------------------------------------------------------------------ the NATS store's rules
#
# An in-memory stand-in for the few JetStream calls the store makes (the object-store
# layout: records on $O.<bucket>.M.<name>, chunks on $O.<bucket>.C.<nuid>), enough to
# hold the read and write rules without a server; tests/integration runs them on one.


class FakeJetStream:
    def __init__(self) -> None:
        self.messages: dict[int, tuple[str, bytes]] = {}
        self.seq = 0
        self.chunk_reads = 0
        self.leader_lookups = 0
        self.before_record: Callable[[], Awaitable[None]] | None = None
        self.on_chunk_read: Callable[[], Awaitable[None]] | None = None

    def last_on(self, subject: str) -> tuple[int, bytes] | None:
        found = [(s, d) for s, (subj, d) in self.messages.items() if subj == subject]
        return max(found) if found else None

    async def publish(
        self, subject: str, payload: bytes = b"", headers: dict[str, str] | None = None
    ) -> None:
        expected = (headers or {}).get("Nats-Expected-Last-Subject-Sequence")
        if expected is not None and self.before_record is not None:
            hook, self.before_record = self.before_record, None
            await hook()
        if expected is not None:
            last = self.last_on(subject)
            if (last[0] if last else 0) != int(expected):
                raise APIError(code=400, err_code=10071, description="wrong last sequence")
        if (headers or {}).get("Nats-Rollup") == "sub":
            await self.purge_stream("", subject=subject)
        self.seq += 1
        self.messages[self.seq] = (subject, bytes(payload))

    async def purge_stream(self, name: str, subject: str) -> None:
        for seq in [s for s, (subj, _) in self.messages.items() if subj == subject]:
            del self.messages[seq]

    async def get_last_msg(self, stream_name: str, subject: str) -> api.RawStreamMsg:
        self.leader_lookups += 1
        return await self.get_msg(stream_name, subject=subject)

    async def get_msg(
        self,
        stream_name: str,
        seq: int | None = None,
        subject: str | None = None,
        direct: bool = False,
        next: bool = False,
    ) -> api.RawStreamMsg:
        assert subject is not None
        if not next:
            last = self.last_on(subject)
            if last is None:
                raise NotFoundError
            return api.RawStreamMsg(subject=subject, seq=last[0], data=last[1])
        self.chunk_reads += 1
        if self.on_chunk_read is not None:
            await self.on_chunk_read()
        for s in sorted(self.messages):
            if s >= (seq or 1) and self.messages[s][0] == subject:
                return api.RawStreamMsg(subject=subject, seq=s, data=self.messages[s][1])
        raise NotFoundError


def fake_store(js: FakeJetStream, timeout_s: float = 5.0, attempts: int = 3) -> NatsArtifactStore:
    storage = StorageSettings(artifact_read_timeout_s=timeout_s, artifact_read_attempts=attempts)
    return NatsArtifactStore(js, direct=True, storage=storage)  # type: ignore[arg-type]


async def test_nats_store_writes_once_and_reads_by_sequence():
    js = FakeJetStream()
    store = fake_store(js)
    data = bytes(range(256)) * 1200  # three chunks
    ref = await store.put(data, "application/octet-stream")
    assert len(js.messages) == 3 + 1
    assert await store.put(data, "application/octet-stream") == ref
    assert len(js.messages) == 3 + 1 and js.seq == 4  # nothing written the second time
    assert await store.get(ref.sha256) == data and js.chunk_reads == 3
    assert await store.exists(ref.sha256)


async def plain_put(js: FakeJetStream, name: str, data: bytes, nuid: str) -> None:
    """What a plain object-store client's put does: chunks on a new subject, a new record,
    then the chunks of the record it replaced purged."""
    meta = "$O.holodeck-artifacts.M." + base64.urlsafe_b64encode(name.encode()).decode()
    old = js.last_on(meta)
    for offset in range(0, len(data), 128 * 1024):
        await js.publish(f"$O.holodeck-artifacts.C.{nuid}", data[offset : offset + 128 * 1024])
    record = {
        "name": name,
        "bucket": "holodeck-artifacts",
        "nuid": nuid,
        "size": len(data),
        "chunks": -(-len(data) // (128 * 1024)),
        "digest": "SHA-256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).decode(),
    }
    await js.publish(meta, json.dumps(record).encode(), headers={"Nats-Rollup": "sub"})
    if old is not None:
        await js.purge_stream("", subject=f"$O.holodeck-artifacts.C.{json.loads(old[1])['nuid']}")


async def test_nats_store_reads_again_when_chunks_go_under_it():
    js = FakeJetStream()
    store = fake_store(js)
    data = b"x" * 200_000
    ref = await store.put(data, "application/octet-stream")
    rewrites = []

    async def rewrite_once() -> None:
        if not rewrites:
            rewrites.append(1)
            await plain_put(js, ref.sha256, data, nuid="moved")

    js.on_chunk_read = rewrite_once
    assert await store.get(ref.sha256) == data
    assert rewrites and js.chunk_reads == 1 + 2  # the torn first read, then both chunks


async def test_nats_store_reads_a_plain_object_store_record():
    js = FakeJetStream()
    data = bytes(range(256)) * 700
    sha = hashlib.sha256(data).hexdigest()
    await plain_put(js, sha, data, nuid="plain")
    store = fake_store(js)
    assert await store.exists(sha) and await store.get(sha) == data
    assert (await store.put(data, "application/octet-stream")).sha256 == sha
    assert js.seq == 2 + 1  # the plain record is kept as it is


async def test_nats_store_gives_up_with_retry_later():
    js = FakeJetStream()
    store = fake_store(js, timeout_s=0.05, attempts=3)
    ref = await store.put(b"payload" * 30_000, "application/octet-stream")

    async def stall() -> None:
        await asyncio.Event().wait()

    js.on_chunk_read = stall
    with pytest.raises(RetryLater, match=r"after 3 attempts: no answer within 0\.05 s") as raised:
        await asyncio.wait_for(store.get(ref.sha256), 5)
    assert raised.value.code == "artifact_unavailable" and raised.value.retryable

    js.on_chunk_read = None
    for subject in {subj for subj, _ in js.messages.values() if ".C." in subj}:
        await js.purge_stream("", subject=subject)
    with pytest.raises(RetryLater, match="chunk 1 of 2 is gone"):
        await asyncio.wait_for(store.get(ref.sha256), 5)


async def test_nats_store_missing_deleted_and_replaced_records():
    js = FakeJetStream()
    store = fake_store(js)
    with pytest.raises(ArtifactNotFound):
        await store.get("a" * 64)
    assert not await store.exists("a" * 64)
    assert js.leader_lookups == 2  # a replica's "not found" is confirmed by the leader
    # A record that does not describe the bytes of its name is replaced, its chunks dropped.
    ref = await store.put(b"right bytes", "text/plain")
    meta_subject, _ = js.messages[js.seq]
    await js.publish("$O.holodeck-artifacts.C.stale", b"wrong")
    await js.publish(
        meta_subject,
        json.dumps({"name": ref.sha256, "bucket": "holodeck-artifacts", "nuid": "stale",
                    "size": 5, "chunks": 1, "digest": "SHA-256=AAAA"}).encode(),
        headers={"Nats-Rollup": "sub"},
    )  # fmt: skip
    with pytest.raises(RetryLater, match="do not make the artifact"):
        await fake_store(js, timeout_s=1, attempts=1).get(ref.sha256)
    assert await store.put(b"right bytes", "text/plain") == ref
    assert await store.get(ref.sha256) == b"right bytes"
    assert js.last_on("$O.holodeck-artifacts.C.stale") is None


async def test_nats_store_loser_of_a_race_keeps_the_winners_chunks():
    js = FakeJetStream()
    store, rival = fake_store(js), fake_store(js)
    data = b"same bytes" * 20_000  # two chunks

    async def rival_wins() -> None:
        await rival.put(data, "application/octet-stream")

    js.before_record = rival_wins  # the rival writes while our chunks are in
    ref = await store.put(data, "application/octet-stream")
    chunks = {subj for subj, _ in js.messages.values() if ".C." in subj}
    assert len(chunks) == 1 and len(js.messages) == 2 + 1  # the rival's, and nothing of ours
    assert await store.get(ref.sha256) == data


async def test_nats_store_writes_over_a_delete_that_lands_meanwhile():
    js = FakeJetStream()
    store = fake_store(js)
    data = b"deleted meanwhile"
    ref = await store.put(data, "text/plain")
    meta_subject, record = js.messages[js.seq]
    await js.publish("$O.holodeck-artifacts.C.other", b"other")
    await js.publish(
        meta_subject,
        json.dumps({**json.loads(record), "size": 5, "nuid": "other"}).encode(),
        headers={"Nats-Rollup": "sub"},
    )  # a record not describing these bytes: the next put replaces it

    async def deleted() -> None:
        await js.publish(
            meta_subject,
            json.dumps({**json.loads(record), "deleted": True, "size": 0}).encode(),
            headers={"Nats-Rollup": "sub"},
        )

    js.before_record = deleted
    assert await store.put(data, "text/plain") == ref
    assert await store.get(ref.sha256) == data


def test_read_settings_are_validated():
    settings = load_settings()
    assert settings.storage.artifact_read_timeout_s == 30
    assert settings.storage.artifact_read_attempts == 3
    with pytest.raises(ConfigError, match=r"storage\.artifact_read_timeout_s"):
        load_settings(storage={"artifact_read_timeout_s": 0})
    with pytest.raises(ConfigError, match=r"storage\.artifact_read_attempts"):
        load_settings(storage={"artifact_read_attempts": 0})
