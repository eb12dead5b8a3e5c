"""The asset cache against a real nats-server: hits with no backend call, misses on any
input that decides the output, LRU eviction under the size bound (in batches down to the
low-water mark) with the protection window, expiry, the hit-ratio metrics, and replicas
sharing one index, counting the same bytes and sweeping it at once."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nats
import pytest
import trimesh
from nats.js.errors import KeyNotFoundError, NoKeysError
from prometheus_client import REGISTRY
from structlog.testing import capture_logs

from services.imagegen.procedural import object_image
from services.imagegen.work import ImageMaker
from services.meshgen.shapes import mesh_glb
from services.meshgen.work import MeshMaker
from services.planner.plan import plan_scene
from shared.artifacts import ArtifactStore, LocalArtifactStore, NatsArtifactStore
from shared.cache import CACHE_BUCKET, HEAP_REBUILD_MIN, AssetCache, Sweep, cache_key
from shared.config import PerformanceSettings
from shared.contract import ArtifactRef, ImagesReady, ImageWork, MeshReady
from shared.layout import PlacedObject
from shared.stage import Delivery

KIB = 1024
IMAGE_SIZE = 64  # small images keep the tests quick; the size is part of the key anyway


class Clock:
    """Wall-clock seconds the test moves by hand."""

    def __init__(self, now: float = 1_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


class CountingImages:
    """An image backend (the ImageBackend protocol) that counts its calls."""

    def __init__(self, identity: str = "counting-images/v1"):
        self.identity = identity
        self.calls: list[str] = []

    async def generate(
        self, obj: PlacedObject, seed: int, size: int, progress: Any = None
    ) -> bytes:
        self.calls.append(obj.id)
        return object_image(obj, seed, size)

    async def close(self) -> None:
        return None


class CountingMeshes:
    """A mesh backend (the MeshBackend protocol) that counts its calls."""

    def __init__(self, identity: str = "counting-meshes/v1"):
        self.identity = identity
        self.calls: list[str] = []

    async def generate(self, obj: PlacedObject, image_png: bytes) -> bytes:
        self.calls.append(obj.id)
        return mesh_glb(obj.category, obj.size, image_png)

    async def close(self) -> None:
        return None


def delivery(subject: str) -> Delivery:
    return Delivery(subject=subject, stream_seq=1, stored_at=datetime.now(UTC), attempt=1)


def image_work(scene_id: str, obj: PlacedObject, seed: int = 0) -> ImageWork:
    return ImageWork(scene_id=scene_id, object_id=obj.id, object=obj, seed=seed, object_count=1)


def blob(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def const(data: bytes) -> Any:
    async def make() -> bytes:
        return data

    return make


@contextlib.asynccontextmanager
async def opened(
    url: str,
    store: ArtifactStore,
    *,
    ttl: int = 7200,
    max_mb: int = 500,
    protect_s: float = 120.0,
    clock: Clock | None = None,
) -> AsyncIterator[AssetCache]:
    """A cache on its own connection, as one replica would hold it."""
    nc = await nats.connect(url)
    cache = await AssetCache.open(
        nc.jetstream(),
        store,
        PerformanceSettings(cache_ttl=ttl, max_cache_size_mb=max_mb),
        protect_s=protect_s,
        touch_interval_s=60.0,
        sweep_interval_s=None,
        clock=clock or Clock(),
    )
    try:
        yield cache
    finally:
        await cache.close()
        await nc.close()


async def in_index(cache: AssetCache, key: str) -> bool:
    try:
        await cache.kv.get(key)
    except KeyNotFoundError:
        return False
    return True


async def wait_until(predicate: Any, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


def record_sweeps(cache: AssetCache) -> list[Sweep]:
    """Every sweep of ``cache`` from now on (after an insertion or called), in order."""
    swept: list[Sweep] = []
    sweep = cache.sweep

    async def recorded() -> Sweep:
        result = await sweep()
        swept.append(result)
        return result

    cache.sweep = recorded  # type: ignore[method-assign]
    return swept


async def bucket_view(cache: AssetCache) -> dict[str, str]:
    """key → sha256 of every entry the bucket holds, read from the bucket itself."""
    view = {}
    with contextlib.suppress(NoKeysError):
        for key in await cache.kv.keys():
            item = await cache.kv.get(key)
            view[key] = json.loads(item.value or b"")["sha256"]
    return view


def counted_bytes(cache: AssetCache) -> int:
    """The bytes of the distinct artifacts of ``cache``'s mirror, summed afresh."""
    return sum({e.sha256: e.size for e in cache.entries().values()}.values())


def lookups(stage: str, result: str) -> float:
    value = REGISTRY.get_sample_value(
        "holodeck_cache_lookups_total", {"stage": stage, "result": result}
    )
    return value or 0.0


# ------------------------------------------------------------------ the stages


async def test_second_build_makes_no_backend_call(nats_server: str, tmp_path: Path):
    """Every object of a scene, built twice: the second build is served from the cache."""
    layout = plan_scene("a bedroom with a desk, two chairs and a bookshelf", 3)
    store = LocalArtifactStore(tmp_path / "artifacts")
    images, meshes = CountingImages(), CountingMeshes()
    async with opened(nats_server, store) as cache:
        image_maker = ImageMaker("imagegen@test", store, images, IMAGE_SIZE, cache=cache)
        mesh_maker = MeshMaker("meshgen@test", store, meshes, cache=cache)

        async def build(scene_id: str) -> tuple[list[ImagesReady], list[MeshReady]]:
            made_images: list[ImagesReady] = []
            made_meshes: list[MeshReady] = []
            for obj in layout.objects:
                [image_out] = await image_maker(image_work(scene_id, obj, 3), delivery("w"))
                assert isinstance(image_out.event, ImagesReady)
                made_images.append(image_out.event)
                [mesh_out] = await mesh_maker(image_out.event, delivery("i"))
                assert isinstance(mesh_out.event, MeshReady)
                made_meshes.append(mesh_out.event)
            return made_images, made_meshes

        first_images, first_meshes = await build("first")
        assert images.calls and meshes.calls
        # Identical objects in one scene already share: every uncached output cost one call.
        assert sum(not e.cached for e in first_images) == len(images.calls)
        assert sum(not e.cached for e in first_meshes) == len(meshes.calls)
        images.calls.clear()
        meshes.calls.clear()
        second_images, second_meshes = await build("second")
    assert images.calls == [] and meshes.calls == []
    assert all(e.cached for e in second_images) and all(e.cached for e in second_meshes)
    assert [e.image for e in second_images] == [e.image for e in first_images]
    assert [e.mesh for e in second_meshes] == [e.mesh for e in first_meshes]


async def test_identical_objects_in_flight_share_one_backend_call(nats_server: str, tmp_path: Path):
    store = LocalArtifactStore(tmp_path / "artifacts")
    obj = plan_scene("a dining room with a table and four chairs", 0).objects[0]
    backend = CountingImages()
    async with opened(nats_server, store) as cache:
        maker = ImageMaker("imagegen@test", store, backend, IMAGE_SIZE, cache=cache)
        twins = [obj.model_copy(update={"id": f"twin-{i}"}) for i in range(4)]
        outputs = await asyncio.gather(*(maker(image_work("s", t), delivery("w")) for t in twins))
    events = [out.event for [out] in outputs]
    assert len(backend.calls) == 1
    assert sorted(e.cached for e in events) == [False, True, True, True]
    assert len({e.image.sha256 for e in events}) == 1


async def test_twin_paintings_are_two_pictures(nats_server: str, tmp_path: Path):
    """Objects that hang as pictures are drawn per object, so the cache keeps one per
    painting while twin chairs share."""
    store = LocalArtifactStore(tmp_path / "artifacts")
    painting = PlacedObject(
        id="painting-1",
        category="painting",
        description="blue canvas painting",
        size=(0.9, 0.65, 0.04),
        position=(1.0, 1.2, 0.0),
        placement="wall",
        color="blue",
    )
    backend = CountingImages()
    async with opened(nats_server, store) as cache:
        maker = ImageMaker("imagegen@test", store, backend, IMAGE_SIZE, cache=cache)
        twins = [painting.model_copy(update={"id": f"painting-{i}"}) for i in range(3)]
        outputs = await asyncio.gather(*(maker(image_work("s", t), delivery("w")) for t in twins))
        again = await maker(image_work("s2", twins[0]), delivery("w"))
    events = [out.event for [out] in outputs]
    assert len(backend.calls) == 3
    assert not any(e.cached for e in events)
    assert again[0].event.cached


async def test_any_input_that_decides_the_output_is_a_miss(nats_server: str, tmp_path: Path):
    store = LocalArtifactStore(tmp_path / "artifacts")
    obj = plan_scene("an office with an oak desk", 0).objects[0]
    first, other_model = CountingImages("counting-images/v1"), CountingImages("counting-images/v2")
    async with opened(nats_server, store) as cache:
        maker = ImageMaker("imagegen@test", store, first, IMAGE_SIZE, cache=cache)

        async def cached(o: PlacedObject, seed: int = 0, via: ImageMaker = maker) -> bool:
            [out] = await via(image_work("s", o, seed), delivery("w"))
            assert isinstance(out.event, ImagesReady)
            return out.event.cached

        assert not await cached(obj)
        assert await cached(obj)
        assert await cached(obj.model_copy(update={"id": "elsewhere", "position": (1, 0, 1)}))
        assert not await cached(obj, seed=1)
        assert not await cached(obj.model_copy(update={"material": "glass"}))
        assert not await cached(obj.model_copy(update={"color": "red"}))
        assert not await cached(obj.model_copy(update={"description": "a walnut desk"}))
        assert not await cached(obj.model_copy(update={"category": "table"}))
        bigger = ImageMaker("imagegen@test", store, first, IMAGE_SIZE * 2, cache=cache)
        assert not await cached(obj, via=bigger)
        assert not await cached(
            obj, via=ImageMaker("i", store, other_model, IMAGE_SIZE, cache=cache)
        )
    assert len(first.calls) == 7 and len(other_model.calls) == 1


async def test_meshes_are_shared_within_a_centimetre_of_size(nats_server: str, tmp_path: Path):
    store = LocalArtifactStore(tmp_path / "artifacts")
    desk = plan_scene("an office with an oak desk", 0).objects[0]
    desk = desk.model_copy(update={"size": (1.404, 0.75, 0.7)})
    backend = CountingMeshes()
    async with opened(nats_server, store) as cache:
        maker = MeshMaker("meshgen@test", store, backend, cache=cache)
        image = await store.put(object_image(desk, 0, IMAGE_SIZE), "image/png")

        async def mesh_of(obj: PlacedObject, image_ref: ArtifactRef = image) -> MeshReady:
            ready = ImagesReady(
                scene_id="s", object_id=obj.id, object=obj, image=image_ref, object_count=1
            )
            [out] = await maker(ready, delivery("i"))
            assert isinstance(out.event, MeshReady)
            return out.event

        made = await mesh_of(desk)
        near = desk.model_copy(update={"size": (1.396, 0.752, 0.698)})
        served = await mesh_of(near)
        assert served.cached and served.mesh == made.mesh
        scene = trimesh.load(
            trimesh.util.wrap_as_stream(await store.get(served.mesh.sha256)), "glb"
        )
        assert all(abs(a - b) < 0.01 for a, b in zip(scene.extents, near.size, strict=True))

        assert not (await mesh_of(desk.model_copy(update={"size": (1.42, 0.75, 0.7)}))).cached
        other = await store.put(object_image(desk, 1, IMAGE_SIZE), "image/png")
        assert not (await mesh_of(desk, other)).cached
    assert len(backend.calls) == 3


# ------------------------------------------------------------------ bounds


async def test_lru_eviction_spares_shared_artifacts_and_the_protection_window(
    nats_server: str, tmp_path: Path
):
    store = LocalArtifactStore(tmp_path / "artifacts")
    clock = Clock()
    start = clock.now
    async with opened(nats_server, store, max_mb=1, protect_s=120, clock=clock) as cache:
        old = blob(400 * KIB, 1)
        a, _ = await cache.get_or_make("test", "a", const(old), "application/octet-stream")
        clock.now = start + 10
        b, _ = await cache.get_or_make("test", "b", const(blob(300 * KIB, 2)), "x/y")
        # Same bytes under another key: one artifact, two entries.
        b2, _ = await cache.get_or_make("test", "b2", const(blob(300 * KIB, 2)), "x/y")
        assert b2.sha256 == b.sha256 and cache.total_bytes == 700 * KIB

        clock.now = start + 300
        assert await cache.lookup("test", "a") == a  # a is used again: now the newest but one
        assert cache.entries()["a"].last_used == clock.now

        clock.now = start + 310
        c, _ = await cache.get_or_make("test", "c", const(blob(500 * KIB, 3)), "x/y")
        # 1200 KiB > 1 MiB: the least recently used entries go, b then b2 (same age);
        # the shared artifact is deleted only with the last entry that points at it.
        assert not await in_index(cache, "b") and not await in_index(cache, "b2")
        assert not await store.exists(b.sha256)
        assert await in_index(cache, "a") and await in_index(cache, "c")
        assert await store.exists(a.sha256) and await store.exists(c.sha256)
        assert cache.total_bytes == 900 * KIB

        # Everything left was used within the protection window: over the bound, nothing goes.
        clock.now = start + 350
        d, _ = await cache.get_or_make("test", "d", const(blob(400 * KIB, 4)), "x/y")
        assert {"a", "c", "d"} <= set(cache.entries())
        assert cache.total_bytes == 1300 * KIB
        assert all([await store.exists(r.sha256) for r in (a, c, d)])

        # Once a leaves the window it is the one to go; c and d stay.
        clock.now = start + 300 + 121
        swept = await cache.sweep()
        assert swept.evicted == 1 and swept.artifacts_deleted == 1
        assert set(cache.entries()) == {"c", "d"}
        assert not await store.exists(a.sha256)


async def test_evicting_one_of_two_entries_keeps_their_artifact(nats_server: str, tmp_path: Path):
    store = LocalArtifactStore(tmp_path / "artifacts")
    clock = Clock()
    start = clock.now
    async with opened(nats_server, store, max_mb=1, protect_s=120, clock=clock) as cache:
        shared = blob(600 * KIB, 5)
        x, _ = await cache.get_or_make("test", "x1", const(shared), "x/y")
        await cache.get_or_make("test", "x2", const(shared), "x/y")
        clock.now = start + 450
        assert await cache.lookup("test", "x2") is not None  # x2 now inside the window
        clock.now = start + 500
        await cache.get_or_make("test", "y", const(blob(600 * KIB, 6)), "x/y")
        assert not await in_index(cache, "x1")
        assert await in_index(cache, "x2") and await store.exists(x.sha256)


async def test_eviction_goes_down_to_the_low_water_mark_in_one_batch(
    nats_server: str, tmp_path: Path
):
    store = LocalArtifactStore(tmp_path / "artifacts")
    clock = Clock()
    start = clock.now
    async with opened(nats_server, store, max_mb=1, protect_s=120, clock=clock) as cache:
        swept = record_sweeps(cache)
        made = {}
        for i in range(10):  # 10 × 100 KiB: under the 1 MiB bound, no sweep
            clock.now = start + i
            made[i], _ = await cache.get_or_make("t", f"k{i}", const(blob(100 * KIB, i)), "x/y")
        assert swept == [] and cache.total_bytes == 1000 * KIB

        clock.now = start + 300  # every entry out of the protection window
        await cache.get_or_make("t", "k10", const(blob(100 * KIB, 10)), "x/y")
        # 1100 KiB: not just under the bound (one entry) but under 90 % of it (921.6 KiB).
        assert [(s.evicted, s.artifacts_deleted) for s in swept] == [(2, 2)]
        assert set(cache.entries()) == {f"k{i}" for i in range(2, 11)}
        assert cache.total_bytes == 900 * KIB
        assert not await in_index(cache, "k0") and not await in_index(cache, "k1")
        assert not await store.exists(made[0].sha256) and await store.exists(made[2].sha256)

        # The room made serves the next insertion without a sweep.
        await cache.get_or_make("t", "k11", const(blob(100 * KIB, 11)), "x/y")
        assert len(swept) == 1 and cache.total_bytes == 1000 * KIB


async def test_a_cache_full_of_protected_entries_says_so_once_and_waits_for_the_oldest(
    nats_server: str, tmp_path: Path
):
    store = LocalArtifactStore(tmp_path / "artifacts")
    clock = Clock()
    start = clock.now
    async with opened(nats_server, store, max_mb=1, protect_s=120, clock=clock) as cache:
        swept = record_sweeps(cache)
        with capture_logs() as logs:
            for i in range(20):
                clock.now = start + i
                await cache.get_or_make("t", f"k{i}", const(blob(100 * KIB, i)), "x/y")
            # Over the bound from k10 on, everything in use: one sweep, not one per insertion.
            assert [s.evicted for s in swept] == [0]
            assert cache.total_bytes == 2000 * KIB and len(cache.entries()) == 20

            # k0..k5 leave the window (k0 at start + 120): the next insertion sweeps them.
            clock.now = start + 125
            await cache.get_or_make("t", "k20", const(blob(100 * KIB, 20)), "x/y")
            assert [s.evicted for s in swept] == [0, 6]
            assert set(cache.entries()) == {f"k{i}" for i in range(6, 21)}
            # k6..k8 have left the window too, but insertions sweep at most every 5 s.
            clock.now = start + 128
            await cache.get_or_make("t", "k21", const(blob(100 * KIB, 21)), "x/y")
            assert len(swept) == 2

            # Later, all but the newest two are old: down to the low-water mark.
            clock.now = start + 200
            await cache.get_or_make("t", "k22", const(blob(100 * KIB, 22)), "x/y")
            assert swept[-1].evicted == 8 and cache.total_bytes == 900 * KIB
        full = [e for e in logs if e["event"].startswith("asset cache over its bound")]
        assert len(full) == 1 and full[0]["log_level"] == "warning"
        assert full[0]["retry_in_s"] == 110.0  # k0 leaves the window 110 s after k10 came


async def test_replicas_count_the_bytes_the_bucket_holds(nats_server: str, tmp_path: Path):
    """Insertions, replacements, refreshes and removals from two replicas and from outside:
    both mirrors end up holding what the bucket holds, and counting its bytes."""
    store = LocalArtifactStore(tmp_path / "artifacts")
    rng = random.Random(11)
    # Few distinct artifacts under many keys, so entries share them and replace each other.
    payloads = [blob(rng.randrange(1, 40) * KIB, 1000 + i) for i in range(12)]
    clock = Clock()
    async with (
        opened(nats_server, store, clock=clock) as one,
        opened(nats_server, store, clock=clock) as two,
    ):
        for _ in range(HEAP_REBUILD_MIN + 300):  # enough changes to rebuild the heap
            replica = rng.choice((one, two))
            key = f"k{rng.randrange(60)}"
            roll = rng.random()
            if roll < 0.5:
                ref = await store.put(rng.choice(payloads), "x/y")
                await replica.remember("t", key, ref)
            elif roll < 0.85:
                clock.now += 61  # past the refresh interval: a hit rewrites last_used
                await replica.lookup("t", key)
            else:
                with contextlib.suppress(KeyNotFoundError):
                    await replica.kv.delete(key)  # removed by someone else entirely
        expected = await bucket_view(one)
        assert expected  # the test exercised something

        def converged() -> bool:
            return all(
                {k: e.sha256 for k, e in c.entries().items()} == expected for c in (one, two)
            )

        await wait_until(converged)
        for replica in (one, two):
            assert replica.total_bytes == counted_bytes(replica) > 0
        async with opened(nats_server, store, clock=clock) as late:
            assert late.total_bytes == one.total_bytes


async def test_eviction_follows_what_another_replica_used(nats_server: str, tmp_path: Path):
    """The recency order is kept from the watcher's updates: entries another replica
    used lately outlast older ones this replica never looked at again."""
    store = LocalArtifactStore(tmp_path / "artifacts")
    clock = Clock()
    start = clock.now
    async with (
        opened(nats_server, store, max_mb=1, protect_s=120, clock=clock) as one,
        opened(nats_server, store, max_mb=1, protect_s=120, clock=clock) as two,
    ):
        for i in range(10):
            clock.now = start + i
            await one.get_or_make("t", f"k{i}", const(blob(100 * KIB, i)), "x/y")
        await wait_until(lambda: len(two.entries()) == 10)
        clock.now = start + 200
        for i in (0, 1, 2):
            assert await two.lookup("t", f"k{i}") is not None  # refreshed by the other replica
        await wait_until(
            lambda: all(one.entries()[f"k{i}"].last_used == clock.now for i in (0, 1, 2))
        )
        clock.now = start + 400  # all out of the window; k0..k2 the most recently used
        await one.get_or_make("t", "k10", const(blob(100 * KIB, 10)), "x/y")
        assert set(one.entries()) == {"k0", "k1", "k2", *(f"k{i}" for i in range(5, 11))}


async def test_replicas_sweeping_at_once_remove_each_entry_once(nats_server: str, tmp_path: Path):
    store = LocalArtifactStore(tmp_path / "artifacts")
    clock = Clock()
    start = clock.now
    async with (
        opened(nats_server, store, max_mb=1, protect_s=120, clock=clock) as one,
        opened(nats_server, store, max_mb=1, protect_s=120, clock=clock) as two,
    ):
        refs = {}
        for i in range(20):  # 2000 KiB, every entry in use: nothing goes yet
            clock.now = start + i
            refs[i], _ = await one.get_or_make("t", f"k{i}", const(blob(100 * KIB, i)), "x/y")
        await wait_until(lambda: two.total_bytes == 2000 * KIB)
        clock.now = start + 1000
        first, second = await asyncio.gather(one.sweep(), two.sweep())
        left = await bucket_view(one)
        await wait_until(lambda: set(one.entries()) == set(two.entries()) == set(left))
    removed = [i for i in range(20) if f"k{i}" not in left]
    # Conditional removals: an entry removed by one replica is not counted by the other.
    assert first.evicted + second.evicted == len(removed)
    # The oldest went, down to the low-water mark at least (a replica whose mirror lags a
    # removal by the other may take a few more).
    assert removed == list(range(len(removed))) and len(removed) >= 11
    for i in range(20):
        assert await store.exists(refs[i].sha256) == (i not in removed)


async def test_entries_expire_after_the_ttl(nats_server: str, tmp_path: Path):
    store = LocalArtifactStore(tmp_path / "artifacts")
    clock = Clock()
    start = clock.now
    async with opened(nats_server, store, ttl=1000, protect_s=120, clock=clock) as cache:
        a, _ = await cache.get_or_make("test", "a", const(b"alpha"), "text/plain")
        clock.now = start + 500
        b, _ = await cache.get_or_make("test", "b", const(b"beta"), "text/plain")

        clock.now = start + 1001
        swept = await cache.sweep()
        assert (swept.expired, swept.artifacts_deleted, swept.entries) == (1, 1, 1)
        assert not await in_index(cache, "a") and not await store.exists(a.sha256)
        assert await store.exists(b.sha256)

        # An expired entry met by a lookup is a miss (and is removed) even before a sweep.
        clock.now = start + 1501
        assert await cache.lookup("test", "b") is None
        assert not await in_index(cache, "b") and not await store.exists(b.sha256)
        made, hit = await cache.get_or_make("test", "b", const(b"beta"), "text/plain")
        assert not hit and await store.exists(made.sha256)


async def test_hit_ratio_and_lookup_counters(nats_server: str, tmp_path: Path):
    stage = f"stage-{uuid.uuid4().hex[:8]}"
    store = LocalArtifactStore(tmp_path / "artifacts")
    async with opened(nats_server, store) as cache:
        assert await cache.lookup(stage, "k") is None
        await cache.get_or_make(stage, "k", const(b"value"), "text/plain")
        assert REGISTRY.get_sample_value("holodeck_cache_hit_ratio", {"stage": stage}) == 0.0
        await cache.get_or_make(stage, "k", const(b"value"), "text/plain")
        await cache.lookup(stage, "k")
    assert lookups(stage, "miss") == 2 and lookups(stage, "hit") == 2
    assert REGISTRY.get_sample_value("holodeck_cache_hit_ratio", {"stage": stage}) == 0.5


# ------------------------------------------------------------------ replicas


async def test_two_replicas_share_one_index(nats_server: str):
    nc = await nats.connect(nats_server)
    clock = Clock()
    try:
        store = await NatsArtifactStore.open(nc.jetstream())
        async with (
            opened(nats_server, store) as one,
            opened(nats_server, store, ttl=1000, clock=clock) as two,
        ):
            obj = plan_scene("a bathroom with a toilet", 0).objects[0]
            key = cache_key("imagegen", "shared/v1", obj, IMAGE_SIZE, 0)
            made, hit = await one.get_or_make("imagegen", key, const(b"png bytes"), "image/png")
            assert not hit

            calls: list[int] = []

            async def make() -> bytes:
                calls.append(1)
                return b"other bytes"

            served, hit = await two.get_or_make("imagegen", key, make, "image/png")
            assert hit and served == made and calls == []

            # A replica started later loads the index as it stands.
            async with opened(nats_server, store) as late:
                assert set(late.entries()) == {key}
                assert late.entries()[key].sha256 == made.sha256

            # What one replica removes, the other stops serving.
            await wait_until(lambda: key in two.entries())
            clock.now += 5000
            swept = await two.sweep()
            assert (swept.expired, swept.artifacts_deleted) == (1, 1)
            await wait_until(lambda: key not in one.entries())
            assert await one.lookup("imagegen", key) is None
            assert not await store.exists(made.sha256)
        assert (await nc.jetstream().key_value(CACHE_BUCKET)) is not None
    finally:
        await nc.close()


async def test_an_unreachable_index_is_a_miss_not_a_failure(nats_server: str, tmp_path: Path):
    store = LocalArtifactStore(tmp_path / "artifacts")
    nc = await nats.connect(nats_server)
    cache = await AssetCache.open(
        nc.jetstream(), store, PerformanceSettings(), sweep_interval_s=None
    )
    try:
        await nc.close()
        ref, hit = await cache.get_or_make("test", "k", const(b"made anyway"), "text/plain")
        assert not hit and await store.get(ref.sha256) == b"made anyway"
    finally:
        await cache.close()


# ------------------------------------------------------------------ stores


@pytest.mark.parametrize("kind", ["local", "nats"])
async def test_artifact_stores_delete(kind: str, nats_server: str, tmp_path: Path):
    nc = await nats.connect(nats_server)
    try:
        store: ArtifactStore = (
            LocalArtifactStore(tmp_path / "artifacts")
            if kind == "local"
            else await NatsArtifactStore.open(nc.jetstream())
        )
        keep = await store.put(b"keep me", "text/plain")
        gone = await store.put(b"delete me", "text/plain")
        await store.delete(gone.sha256)
        assert not await store.exists(gone.sha256)
        assert await store.exists(keep.sha256)
        await store.delete(gone.sha256)  # deleting what is not there is not an error
        assert await store.put(b"delete me", "text/plain") == gone
        assert await store.get(gone.sha256) == b"delete me"
    finally:
        await nc.close()
