"""The NATS object store as the artifact store, on a real server.

Replicas share one bucket: two of them may write the same bytes at once while a third
reads them, and an assembly reads a whole scene's meshes at once. These tests hold the
store to that: a write never disturbs a reader, a read never waits forever, and reads
create no consumers on the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import nats
import pytest
from nats.aio.client import Client
from nats.js import api

from shared.artifacts import ArtifactNotFound, NatsArtifactStore, digest
from shared.config import StorageSettings
from shared.contract import OBJECT_STORE_BUCKET
from shared.errors import RetryLater

STREAM = f"OBJ_{OBJECT_STORE_BUCKET}"
CHUNK = 128 * 1024
BOUND_S = 10.0


@contextlib.asynccontextmanager
async def connections(url: str, count: int) -> AsyncIterator[list[Client]]:
    """``count`` connections, as separate replicas would hold."""
    clients = [await nats.connect(url) for _ in range(count)]
    try:
        yield clients
    finally:
        for nc in clients:
            await nc.close()


def _is_meta_lookup(subject: str, payload: bytes) -> bool:
    meta = f"$O.{OBJECT_STORE_BUCKET}.M."
    return (subject.startswith("$JS.API.DIRECT.GET.") and meta in subject) or (
        b'"last_by_subj"' in payload and meta.encode() in payload
    )


def _is_chunk_read(subject: str, payload: bytes) -> bool:
    return (
        ".DIRECT.GET." in subject
        or ".STREAM.MSG.GET." in subject
        or (".CONSUMER.CREATE." in subject)
    )


def hold_after(
    nc: Client,
    matches: Callable[[str, bytes], bool],
    then: Callable[[], Awaitable[None]],
    times: int = 1,
) -> None:
    """Run ``then`` after the first ``times`` requests on ``nc`` that ``matches`` accepts
    got their answer: the client is slow (or paused) right there."""
    original = nc.request
    left = [times]

    async def request(subject: str, payload: bytes = b"", *args: Any, **kwargs: Any) -> Any:
        answer = await original(subject, payload, *args, **kwargs)
        if left[0] > 0 and matches(subject, payload):
            left[0] -= 1
            await then()
        return answer

    nc.request = request  # type: ignore[method-assign]


def waiter(
    event: asyncio.Event, signal: asyncio.Event | None = None
) -> Callable[[], Awaitable[None]]:
    async def wait() -> None:
        if signal is not None:
            signal.set()
        await asyncio.wait_for(event.wait(), BOUND_S)

    return wait


async def consumer_count(js: Any) -> int:
    return (await js.stream_info(STREAM)).state.consumer_count


# ------------------------------------------------------------------ basics


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
        empty = await store.put(b"", "text/plain")
        assert await store.get(empty.sha256) == b""
    finally:
        await nc.close()


async def test_a_second_put_of_the_same_bytes_writes_nothing(nats_server: str):
    nc = await nats.connect(nats_server)
    try:
        js = nc.jetstream()
        store = await NatsArtifactStore.open(js)
        data = os.urandom(3 * CHUNK)
        await store.put(data, "application/octet-stream")
        before = (await js.stream_info(STREAM)).state
        await store.put(data, "application/octet-stream")
        after = (await js.stream_info(STREAM)).state
        assert (after.messages, after.last_seq) == (before.messages, before.last_seq)
    finally:
        await nc.close()


async def test_put_after_delete_and_delete_of_nothing(nats_server: str):
    nc = await nats.connect(nats_server)
    try:
        store = await NatsArtifactStore.open(nc.jetstream())
        ref = await store.put(b"short-lived", "text/plain")
        await store.delete(ref.sha256)
        assert not await store.exists(ref.sha256)
        with pytest.raises(ArtifactNotFound):
            await store.get(ref.sha256)
        await store.delete(ref.sha256)
        await store.delete("0" * 64)
        assert await store.put(b"short-lived", "text/plain") == ref
        assert await store.exists(ref.sha256)
        assert await store.get(ref.sha256) == b"short-lived"
    finally:
        await nc.close()


async def test_objects_of_the_plain_object_store_format_read_both_ways(nats_server: str):
    """Buckets written before this store (plain object-store puts) stay readable, and what
    this store writes stays readable by a plain object-store client."""
    nc = await nats.connect(nats_server)
    try:
        js = nc.jetstream()
        plain = await js.create_object_store(OBJECT_STORE_BUCKET)
        old = os.urandom(2 * CHUNK + 17)
        await plain.put(digest(old), old)
        store = await NatsArtifactStore.open(js)
        assert await store.exists(digest(old))
        assert await store.get(digest(old)) == old

        new = os.urandom(CHUNK + 1)
        ref = await store.put(new, "application/octet-stream")
        assert (await plain.get(ref.sha256)).data == new
        info = await plain.get_info(ref.sha256)
        assert (info.size, info.chunks) == (len(new), 2)

        await store.delete(digest(old))
        assert not await store.exists(digest(old))
    finally:
        await nc.close()


async def test_a_bucket_without_direct_gets_is_read_through_the_stream_api(nats_server: str):
    nc = await nats.connect(nats_server)
    try:
        js = nc.jetstream()
        await js.add_stream(
            api.StreamConfig(
                name=STREAM,
                subjects=[f"$O.{OBJECT_STORE_BUCKET}.C.>", f"$O.{OBJECT_STORE_BUCKET}.M.>"],
                discard=api.DiscardPolicy.NEW,
                allow_rollup_hdrs=True,
                allow_direct=False,
            )
        )
        store = await NatsArtifactStore.open(js)
        data = os.urandom(2 * CHUNK + 5)
        ref = await store.put(data, "application/octet-stream")
        assert await store.get(ref.sha256) == data
        assert await store.exists(ref.sha256)
        assert not (await js.stream_info(STREAM)).config.allow_direct  # left as it was
    finally:
        await nc.close()


# ------------------------------------------------------------------ races


async def test_two_writers_of_the_same_bytes_never_disturb_a_reader(nats_server: str):
    """Both writers looked and found nothing; the first wrote and a reader has read its
    metadata; only then does the second write. The reader still gets the bytes."""
    data = os.urandom(3 * CHUNK)
    async with connections(nats_server, 3) as (nc_a, nc_b, nc_reader):
        first = await NatsArtifactStore.open(nc_a.jetstream())
        second = await NatsArtifactStore.open(nc_b.jetstream())
        reader = await NatsArtifactStore.open(nc_reader.jetstream())

        second_looked, reader_has_meta, second_done = (asyncio.Event() for _ in range(3))
        hold_after(nc_b, _is_meta_lookup, waiter(reader_has_meta, signal=second_looked))
        hold_after(nc_reader, _is_meta_lookup, waiter(second_done, signal=reader_has_meta))

        second_put = asyncio.create_task(second.put(data, "application/octet-stream"))
        await asyncio.wait_for(second_looked.wait(), BOUND_S)
        ref = await first.put(data, "application/octet-stream")
        read = asyncio.create_task(reader.get(ref.sha256))
        assert await asyncio.wait_for(second_put, BOUND_S) == ref
        second_done.set()
        assert await asyncio.wait_for(read, BOUND_S) == data
        assert await reader.get(ref.sha256) == data
        state = (await nc_a.jetstream().stream_info(STREAM)).state
        assert state.messages == 3 + 1  # the first writer's chunks and record, nothing else


async def test_a_reader_survives_a_replacement_under_it(nats_server: str):
    """A plain object-store put of the same name (as an older replica makes) moves the
    chunks while a reader is between the metadata and the chunks: the reader reads again."""
    data = os.urandom(2 * CHUNK + 3)
    async with connections(nats_server, 2) as (nc_writer, nc_reader):
        store = await NatsArtifactStore.open(nc_writer.jetstream())
        reader = await NatsArtifactStore.open(nc_reader.jetstream())
        ref = await store.put(data, "application/octet-stream")

        has_meta, replaced = asyncio.Event(), asyncio.Event()
        hold_after(nc_reader, _is_meta_lookup, waiter(replaced, signal=has_meta))
        read = asyncio.create_task(reader.get(ref.sha256))
        await asyncio.wait_for(has_meta.wait(), BOUND_S)
        plain = await nc_writer.jetstream().object_store(OBJECT_STORE_BUCKET)
        await plain.put(ref.sha256, data)  # new chunks, then the old ones are purged
        replaced.set()
        assert await asyncio.wait_for(read, BOUND_S) == data


async def test_concurrent_puts_of_the_same_bytes_leave_one_copy(nats_server: str):
    data = os.urandom(2 * CHUNK)
    async with connections(nats_server, 4) as clients:
        stores = [await NatsArtifactStore.open(nc.jetstream()) for nc in clients]
        refs = await asyncio.wait_for(
            asyncio.gather(*(s.put(data, "application/octet-stream") for s in stores)), BOUND_S
        )
        assert len(set(refs)) == 1
        state = (await clients[0].jetstream().stream_info(STREAM)).state
        assert state.messages == 2 + 1  # two chunks and one metadata record
        assert all([await s.get(refs[0].sha256) == data for s in stores])


# ------------------------------------------------------------------ deadlines


FAST = StorageSettings(
    artifact_read_timeout_s=0.5, artifact_read_attempts=2, artifact_read_concurrency=4
)


async def test_lost_chunks_end_in_retry_later_not_a_hang(nats_server: str):
    nc = await nats.connect(nats_server)
    try:
        js = nc.jetstream()
        store = await NatsArtifactStore.open(js, storage=FAST)
        ref = await store.put(os.urandom(CHUNK + 1), "application/octet-stream")
        await js.purge_stream(STREAM, subject=f"$O.{OBJECT_STORE_BUCKET}.C.>")
        assert await store.exists(ref.sha256)  # the metadata is still there
        started = time.monotonic()
        with pytest.raises(RetryLater) as raised:
            await asyncio.wait_for(store.get(ref.sha256), BOUND_S)
        assert time.monotonic() - started < BOUND_S
        assert raised.value.code == "artifact_unavailable"
        assert ref.sha256 in raised.value.message and "2 attempts" in raised.value.message
    finally:
        await nc.close()


async def test_a_stalled_read_meets_its_deadline(nats_server: str):
    async with connections(nats_server, 2) as (nc_writer, nc_reader):
        ref = await (await NatsArtifactStore.open(nc_writer.jetstream())).put(
            os.urandom(CHUNK), "application/octet-stream"
        )
        reader = await NatsArtifactStore.open(nc_reader.jetstream(), storage=FAST)
        never = asyncio.Event()
        hold_after(nc_reader, _is_chunk_read, waiter(never), times=1000)
        started = time.monotonic()
        with pytest.raises(RetryLater, match="2 attempts"):
            await asyncio.wait_for(reader.get(ref.sha256), BOUND_S)
        elapsed = time.monotonic() - started
        assert 2 * 0.5 <= elapsed < 4 * 0.5 + 1.0


# ------------------------------------------------------------------ load


async def test_thirty_scenes_of_130_objects_read_at_once_create_no_consumers(nats_server: str):
    """Thirty assemblies each read their 130 meshes at once: 3,900 reads of 260 artifacts
    (one in ten several chunks long) on a bucket whose stream allows only 8 consumers.
    Every read succeeds, within a bound, and none makes a consumer."""
    async with connections(nats_server, 2) as (nc, nc_watch):
        js = nc.jetstream()
        await js.add_stream(
            api.StreamConfig(
                name=STREAM,
                subjects=[f"$O.{OBJECT_STORE_BUCKET}.C.>", f"$O.{OBJECT_STORE_BUCKET}.M.>"],
                max_consumers=8,
                discard=api.DiscardPolicy.NEW,
                allow_rollup_hdrs=True,
                allow_direct=True,
            )
        )
        store = await NatsArtifactStore.open(js)
        blobs = [os.urandom(CHUNK * 2 + 1000 if i % 10 == 0 else 2000 + i) for i in range(260)]
        refs = await asyncio.gather(*(store.put(b, "application/octet-stream") for b in blobs))
        expected = {r.sha256: b for r, b in zip(refs, blobs, strict=True)}
        scenes = [[refs[(7 * s + o) % len(refs)].sha256 for o in range(130)] for s in range(30)]

        async def assemble(scene: list[str]) -> list[bytes]:
            return await asyncio.gather(*(store.get(sha) for sha in scene))

        seen: list[int] = []
        reading = True

        async def watch() -> None:
            watch_js = nc_watch.jetstream()
            while reading:
                seen.append(await consumer_count(watch_js))
                await asyncio.sleep(0.005)

        watcher = asyncio.create_task(watch())
        try:
            got = await asyncio.wait_for(asyncio.gather(*(assemble(s) for s in scenes)), 90)
        finally:
            reading = False
            await watcher
        for scene, blobs_read in zip(scenes, got, strict=True):
            assert [expected[sha] for sha in scene] == blobs_read
        assert seen and max(seen) == 0
