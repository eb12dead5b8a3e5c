"""The asset cache: identical object requests reuse the stored artifact.

**Key.** The sha256 of a canonical JSON document of everything that decides a stage's
output: the stage, the backend's ``identity`` (backend + model or workflow), the object's
description, material, colour and category, a size class and the seed, plus the stage's
other inputs. Images use the image size in pixels as the size class; meshes use the
object's size in whole centimetres (so a served mesh matches the layout size within
1 cm) and add the input image's sha256. The object's id, position and rotation are not
part of the key: two identical chairs share one image and one mesh.

**Index.** One JetStream key-value bucket (``holodeck-cache``) shared by every replica
maps key → ``{sha256, size, media_type, uri, last_used, stage}``; the bytes stay in the
artifact store. Each replica follows the bucket with a watcher into a local mirror,
which answers most lookups without a round trip and is what the size accounting and
the sweeps work from; a key the mirror does not hold yet is read from the bucket, so a
replica sees another's new entry at once.

**Mirror.** Every change costs the mirror O(log n) whatever the number of entries n,
whether it comes from this replica or through the watcher: the bytes of the distinct
artifacts are counted as entries come and go (a count of entries per sha256), and the
recency order is a heap of ``(last_used, key, revision)`` whose positions of changed or
removed entries are skipped when met (and the heap rebuilt once they outnumber the
live ones). A sweep therefore looks only at the oldest entries, never at all of them.

**Rules.**

- A hit is an entry that has not expired and whose artifact is in this replica's store.
  Its ``last_used`` is rewritten at most once per ``touch_interval_s`` (60 s), not on
  every hit.
- Expiry: an entry unused for more than ``performance.cache_ttl`` seconds is removed
  (``cache_ttl = 0`` turns expiry off).
- Size bound: once the distinct artifacts the index points at exceed
  ``performance.max_cache_size_mb``, the least recently used entries are removed in one
  batch, down to ``LOW_WATER_FRACTION`` (90 %) of the bound, so the insertions that
  follow find room and start no sweep of their own.
- Protection: an entry used within the last ``protect_s`` seconds (600 by default) counts
  as referenced by a scene still in flight and is removed by neither rule. The window
  must therefore be longer than the slowest scene build plus the touch interval. When
  every remaining entry is protected the cache stays over its bound until the oldest
  leaves the window: it says so once (a warning naming when it will try again), and
  insertions start no sweep before then, nor more often than every ``FULL_SWEEP_GAP_S``
  (5 s) while the oldest entries keep leaving the window one by one. A sweep also runs
  every ``sweep_interval_s`` (60 s) in the background.
- Artifacts: removing an entry deletes its artifact from the store only when no other
  entry points at the same sha256.
- Races between replicas: every removal and every ``last_used`` refresh is conditional on
  the entry's revision, so a replica that has just used or replaced an entry wins over
  one sweeping it away. Replicas sweeping at once each remove what their mirror still
  counts; a removal another replica made first is skipped.
- Within one process, identical requests that arrive while the first is being made wait
  for it instead of calling the backend again; they count as hits.

An entry removed after a scene finished takes its artifact with it. The scene's GLB
embeds its meshes and stays whole, and a replay from ``layout.ready`` makes what is
missing again; a replay of its ``images.ready`` events, though, fails with
``artifact_missing`` for an image that is gone and whose mesh is no longer cached.
A cache index that cannot be reached is a miss, never a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import heapq
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StorageType
from nats.js.errors import (
    APIError,
    BucketNotFoundError,
    KeyNotFoundError,
    KeyWrongLastSequenceError,
)
from nats.js.kv import KV_DEL, KV_PURGE, KeyValue

from shared import metrics
from shared.artifacts import ArtifactStore
from shared.config import PerformanceSettings
from shared.contract import ArtifactRef
from shared.errors import ConfigError
from shared.layout import PlacedObject, Vec3
from shared.logs import get_logger

log = get_logger(__name__)

CACHE_BUCKET = "holodeck-cache"
DEFAULT_PROTECT_S = 600.0
DEFAULT_TOUCH_INTERVAL_S = 60.0
DEFAULT_SWEEP_INTERVAL_S = 60.0
# Eviction goes down to this share of the bound, not just under it: one sweep makes room
# for the next tenth of the bound's worth of insertions, which then start no sweep.
LOW_WATER_FRACTION = 0.9
# Over the bound with the oldest entry protected, insertions sweep at most this often:
# what leaves the window meanwhile goes in one batch, not one sweep per insertion, for
# an overshoot of at most these seconds' worth of entries more.
FULL_SWEEP_GAP_S = 5.0
# The recency heap is rebuilt from the mirror once its skipped positions (of entries
# since changed or removed) outnumber the live ones by this factor: each rebuild costs
# O(n) after at least n changes, O(1) per change on average.
HEAP_REBUILD_FACTOR = 2
# Below this many positions it is never rebuilt: a small cache is not rebuilt every change.
HEAP_REBUILD_MIN = 1024
# JetStream's "wrong last sequence" errors: the key exists (or changed since read).
WRONG_LAST_SEQUENCE = (10071, 10164)


def wrong_last_sequence(exc: APIError) -> bool:
    """Whether a conditional key-value write failed because the key exists or changed
    (nats-py raises :class:`KeyWrongLastSequenceError` for it without an ``err_code``)."""
    return isinstance(exc, KeyWrongLastSequenceError) or (
        getattr(exc, "err_code", None) in WRONG_LAST_SEQUENCE
    )


def cache_key(
    stage: str,
    identity: str,
    obj: PlacedObject,
    size_class: int | list[int],
    seed: int,
    **inputs: str,
) -> str:
    """The cache key of one object's output in ``stage``; ``inputs`` are further inputs
    that decide it (meshgen: ``image=<sha256>``)."""
    document = {
        "stage": stage,
        "backend": identity,
        "description": obj.description,
        "material": obj.material,
        "color": obj.color,
        "category": obj.category,
        "size_class": size_class,
        "seed": int(seed),
        "inputs": inputs,
    }
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def centimetres(size: Vec3) -> list[int]:
    """A mesh's size class: its size rounded to whole centimetres."""
    return [round(v * 100) for v in size]


@dataclass(frozen=True)
class CacheEntry:
    """What the index holds for one key."""

    sha256: str
    size: int
    media_type: str
    uri: str
    last_used: float
    stage: str

    @classmethod
    def of(cls, ref: ArtifactRef, stage: str, now: float) -> CacheEntry:
        return cls(ref.sha256, ref.size, ref.media_type, ref.uri, now, stage)

    @classmethod
    def decode(cls, data: bytes | None) -> CacheEntry:
        """Raises ValueError for anything that is not an entry."""
        try:
            value = json.loads(data or b"")
            entry = cls(
                sha256=str(value["sha256"]),
                size=int(value["size"]),
                media_type=str(value["media_type"]),
                uri=str(value["uri"]),
                last_used=float(value["last_used"]),
                stage=str(value.get("stage", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a cache entry: {exc}") from None
        return entry

    def encode(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":")).encode()

    def ref(self) -> ArtifactRef:
        return ArtifactRef(
            uri=self.uri, sha256=self.sha256, size=self.size, media_type=self.media_type
        )


@dataclass(slots=True)
class _Artifact:
    """One distinct artifact the mirror points at: its size and how many entries do."""

    size: int
    entries: int


# The outcome of a conditional removal from the index.
_Removal = Literal["removed", "changed", "failed"]


@dataclass(frozen=True)
class Sweep:
    """What one sweep removed, and what is left."""

    expired: int = 0
    evicted: int = 0
    artifacts_deleted: int = 0
    entries: int = 0
    bytes: int = 0


class _HitTally:
    """Hits and lookups per stage since the process started, for the hit-ratio gauge."""

    def __init__(self) -> None:
        self._counts: dict[str, tuple[int, int]] = {}

    def record(self, stage: str, hit: bool) -> None:
        hits, lookups = self._counts.get(stage, (0, 0))
        hits, lookups = hits + hit, lookups + 1
        self._counts[stage] = (hits, lookups)
        metrics.CACHE_LOOKUPS.labels(stage, "hit" if hit else "miss").inc()
        metrics.CACHE_HIT_RATIO.labels(stage).set(hits / lookups)


_TALLY = _HitTally()


async def open_bucket(
    js: JetStreamContext,
    bucket: str = CACHE_BUCKET,
    description: str = "Holodeck asset cache: key -> stored artifact",
    max_age_s: float | None = None,
    replicas: int = 1,
) -> KeyValue:
    """A key-value bucket, created when missing (safe when replicas race), with
    ``replicas`` copies on a JetStream cluster. An existing bucket is used as it is."""
    try:
        return await js.key_value(bucket)
    except BucketNotFoundError:
        pass
    config = KeyValueConfig(
        bucket=bucket,
        description=description,
        history=1,
        ttl=max_age_s,
        storage=StorageType.FILE,
        replicas=replicas,
        direct=True,  # reads of one key answered by any server, without the API layer
    )
    try:
        return await js.create_key_value(config)
    except APIError:
        # Another replica created it first (perhaps with other settings): use theirs.
        return await js.key_value(bucket)


class AssetCache:
    """The shared asset cache; create it once per process with :meth:`open`."""

    def __init__(
        self,
        kv: KeyValue,
        store: ArtifactStore,
        settings: PerformanceSettings,
        *,
        protect_s: float = DEFAULT_PROTECT_S,
        touch_interval_s: float = DEFAULT_TOUCH_INTERVAL_S,
        clock: Callable[[], float] = time.time,
    ):
        if protect_s <= touch_interval_s:
            raise ConfigError(
                f"cache protection window ({protect_s} s) must be longer than the "
                f"last_used refresh interval ({touch_interval_s} s)"
            )
        self.kv = kv
        self.store = store
        self.max_bytes = settings.max_cache_size_mb * 1024 * 1024
        self.ttl_s = float(settings.cache_ttl)
        self.protect_s = protect_s
        self.touch_interval_s = touch_interval_s
        self.clock = clock
        # Mirror of the bucket: key → (entry, revision), kept by the watcher.
        self._entries: dict[str, tuple[CacheEntry, int]] = {}
        # Kept with it, in O(log n) a change: the distinct artifacts and their bytes, and
        # the recency heap of (last_used, key, revision), stale positions skipped lazily.
        self._artifacts: dict[str, _Artifact] = {}
        self._bytes = 0
        self._lru: list[tuple[float, str, int]] = []
        self.low_water_bytes = int(self.max_bytes * LOW_WATER_FRACTION)
        self._inflight: dict[str, asyncio.Future[ArtifactRef]] = {}
        self._sweeping = asyncio.Lock()
        self._primed = asyncio.Event()
        self._watcher: Any = None
        self._tasks: list[asyncio.Task[None]] = []
        # Over the bound with every entry protected: no sweep on insertion before this
        # time (when the oldest entry leaves the window), and one warning per episode.
        self._retry_at = float("-inf")
        self._reported_full = False

    @classmethod
    async def open(
        cls,
        js: JetStreamContext,
        store: ArtifactStore,
        settings: PerformanceSettings,
        *,
        bucket: str = CACHE_BUCKET,
        protect_s: float = DEFAULT_PROTECT_S,
        touch_interval_s: float = DEFAULT_TOUCH_INTERVAL_S,
        sweep_interval_s: float | None = DEFAULT_SWEEP_INTERVAL_S,
        clock: Callable[[], float] = time.time,
        timeout: float = 10.0,
        replicas: int = 1,
    ) -> AssetCache:
        """Open (or create) the bucket, load the index and start following it.

        ``sweep_interval_s`` is how often expiry and the size bound are enforced in the
        background (besides after every insertion); None leaves it to :meth:`sweep`.
        Call :meth:`close` when done.
        """
        kv = await open_bucket(js, bucket, replicas=replicas)
        cache = cls(
            kv,
            store,
            settings,
            protect_s=protect_s,
            touch_interval_s=touch_interval_s,
            clock=clock,
        )
        cache._watcher = await kv.watchall()
        cache._tasks.append(asyncio.create_task(cache._follow()))
        try:
            await asyncio.wait_for(cache._primed.wait(), timeout)
        except TimeoutError:
            await cache.close()
            raise
        if sweep_interval_s is not None:
            cache._tasks.append(asyncio.create_task(cache._sweep_every(sweep_interval_s)))
        return cache

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self._watcher is not None:
            with contextlib.suppress(Exception):
                await self._watcher.stop()
            self._watcher = None

    # ------------------------------------------------------------------ lookups

    async def get_or_make(
        self,
        stage: str,
        key: str,
        make: Callable[[], Awaitable[bytes]],
        media_type: str,
    ) -> tuple[ArtifactRef, bool]:
        """The artifact for ``key``: from the cache (``True``), else made by ``make``,
        stored and remembered (``False``)."""
        pending = self._inflight.get(key)
        if pending is not None:
            await asyncio.wait({pending})
            if not pending.cancelled() and pending.exception() is None:
                _TALLY.record(stage, hit=True)
                return pending.result(), True
            # The first request failed: this one makes its own attempt.
        future: asyncio.Future[ArtifactRef] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_consume_exception)
        self._inflight[key] = future
        try:
            ref = await self._find(key)
            _TALLY.record(stage, hit=ref is not None)
            hit = ref is not None
            if ref is None:
                ref = await self.store.put(await make(), media_type)
                await self.remember(stage, key, ref)
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                future.cancel()
            else:
                future.set_exception(exc)
            raise
        else:
            future.set_result(ref)
            return ref, hit
        finally:
            if self._inflight.get(key) is future:
                del self._inflight[key]

    async def peek(self, key: str) -> ArtifactRef | None:
        """The cached artifact for ``key``, or None, not counted towards the hit ratio."""
        return await self._find(key)

    async def lookup(self, stage: str, key: str) -> ArtifactRef | None:
        """The cached artifact for ``key``, or None; counts towards the hit ratio."""
        ref = await self._find(key)
        _TALLY.record(stage, hit=ref is not None)
        return ref

    async def remember(self, stage: str, key: str, ref: ArtifactRef) -> None:
        """Record that ``key`` is served by the stored artifact ``ref``."""
        entry = CacheEntry.of(ref, stage, self.clock())
        try:
            revision = await self.kv.put(key, entry.encode())
        except (NatsError, TimeoutError) as exc:
            log.warning("cache index unavailable: entry not recorded", key=key, error=repr(exc))
            return
        self._note(key, entry, revision)
        if self._bytes <= self.max_bytes:
            self._reported_full = False  # under the bound again, by whichever replica's sweep
        elif self.clock() >= self._retry_at and not self._sweeping.locked():
            # (A sweep already running counts this entry's bytes as it goes.)
            await self.sweep()

    async def _find(self, key: str) -> ArtifactRef | None:
        known = self._entries.get(key)
        if known is not None:
            # The mirror answers without a round trip. It may lag the bucket by a moment:
            # an entry removed meanwhile is either still backed by its artifact (checked
            # below) or found missing there and made again.
            entry, revision = known
        else:
            # Not (yet) in the mirror: the bucket has the last word, e.g. on an entry
            # another replica wrote a moment ago.
            try:
                item = await self.kv.get(key)
            except KeyNotFoundError:
                return None
            except (NatsError, TimeoutError) as exc:
                log.warning("cache index unavailable: treated as a miss", key=key, error=repr(exc))
                return None
            try:
                entry = CacheEntry.decode(item.value)
            except ValueError:
                return None  # the miss that follows overwrites it
            revision = item.revision or 0
        now = self.clock()
        if self._expired(entry, now):
            await self._remove(key, entry, revision)
            return None
        if not await self.store.exists(entry.sha256):
            # Not in this replica's store (deleted, or a store not shared between hosts):
            # a miss, whose result overwrites the entry.
            return None
        if now - entry.last_used >= self.touch_interval_s:
            await self._touch(key, entry, revision, now)
        return entry.ref()

    async def _touch(self, key: str, entry: CacheEntry, revision: int, now: float) -> None:
        fresh = replace(entry, last_used=now)
        try:
            new_revision = await self.kv.update(key, fresh.encode(), last=revision)
        except APIError as exc:
            if not wrong_last_sequence(exc):
                log.warning("cache entry not refreshed", key=key, error=repr(exc))
            return  # otherwise another replica refreshed or replaced it: fine either way
        except (NatsError, TimeoutError) as exc:
            log.warning("cache entry not refreshed", key=key, error=repr(exc))
            return
        self._note(key, fresh, new_revision)

    # ------------------------------------------------------------------ bounds

    @property
    def total_bytes(self) -> int:
        """Bytes of the distinct artifacts the index points at."""
        return self._bytes

    def entries(self) -> dict[str, CacheEntry]:
        """A snapshot of this replica's view of the index."""
        return {key: entry for key, (entry, _) in self._entries.items()}

    def _expired(self, entry: CacheEntry, now: float) -> bool:
        idle = now - entry.last_used
        return self.ttl_s > 0 and idle > self.ttl_s and idle > self.protect_s

    async def sweep(self) -> Sweep:
        """Remove expired entries, then least recently used ones once over the bound,
        down to the low-water mark; both stop at the first entry that is neither."""
        async with self._sweeping:
            now = self.clock()
            expired = evicted = deleted = 0
            evicting = False
            protected_since: float | None = None  # last_used of the protected oldest entry
            kept: list[tuple[float, str, int]] = []  # removals that lost a race or failed
            try:
                while (oldest := self._oldest()) is not None:
                    last_used, key, revision = oldest
                    entry = self._entries[key][0]
                    expiring = self._expired(entry, now)
                    if not expiring:
                        evicting = evicting or self._bytes > self.max_bytes
                        if not evicting or self._bytes <= self.low_water_bytes:
                            break
                        if now - last_used < self.protect_s:
                            protected_since = last_used  # and so is every later entry
                            break
                    heapq.heappop(self._lru)
                    outcome, artifact = await self._remove(key, entry, revision)
                    if outcome == "removed":
                        expired += expiring
                        evicted += not expiring
                        deleted += artifact
                        continue
                    kept.append(oldest)
                    if outcome == "failed":
                        break  # the index did not answer: the next removals would wait too
            finally:
                for position in kept:
                    heapq.heappush(self._lru, position)
            self._after_sweep(now, protected_since)
            if expired or evicted:
                log.info(
                    "asset cache swept",
                    expired=expired,
                    evicted=evicted,
                    artifacts_deleted=deleted,
                    bytes=self._bytes,
                    entries=len(self._entries),
                )
            return Sweep(expired, evicted, deleted, len(self._entries), self._bytes)

    def _after_sweep(self, now: float, protected_since: float | None) -> None:
        """Left over the bound because the oldest entry is protected: insertions start no
        sweep until it leaves the window (nor for ``FULL_SWEEP_GAP_S``), and the first time
        this happens is logged."""
        if self._bytes <= self.max_bytes or protected_since is None:
            self._retry_at = float("-inf")
            if self._bytes <= self.max_bytes:
                self._reported_full = False
            return
        self._retry_at = max(protected_since + self.protect_s, now + FULL_SWEEP_GAP_S)
        if not self._reported_full:
            self._reported_full = True
            log.warning(
                "asset cache over its bound: every entry left is in use",
                bytes=self._bytes,
                bound=self.max_bytes,
                entries=len(self._entries),
                protect_s=self.protect_s,
                retry_in_s=round(self._retry_at - now, 1),
            )

    async def _remove(self, key: str, entry: CacheEntry, revision: int) -> tuple[_Removal, bool]:
        """Delete the entry if it is still at ``revision``, then its artifact if no other
        entry points at it. Returns the removal's outcome and whether the artifact went."""
        try:
            await self.kv.delete(key, last=revision)
        except APIError as exc:
            if wrong_last_sequence(exc):
                return "changed", False  # used, replaced or removed by another replica
            log.warning("cache entry not removed", key=key, error=repr(exc))
            return "failed", False
        except (NatsError, TimeoutError) as exc:
            log.warning("cache entry not removed", key=key, error=repr(exc))
            return "failed", False
        self._forget(key, revision)
        if entry.sha256 in self._artifacts:
            return "removed", False  # another entry points at the same artifact
        try:
            await self.store.delete(entry.sha256)
        except Exception as exc:
            log.warning("cached artifact not deleted", sha256=entry.sha256, error=repr(exc))
            return "removed", False
        return "removed", True

    # ------------------------------------------------------------------ mirror

    def _note(self, key: str, entry: CacheEntry, revision: int) -> None:
        """Hold ``entry`` at ``revision`` unless the mirror already has a later one."""
        current = self._entries.get(key)
        if current is not None:
            if current[1] >= revision:
                return
            self._release(current[0].sha256)
        self._entries[key] = (entry, revision)
        artifact = self._artifacts.get(entry.sha256)
        if artifact is None:
            self._artifacts[entry.sha256] = _Artifact(entry.size, 1)
            self._bytes += entry.size
        else:
            artifact.entries += 1
        heapq.heappush(self._lru, (entry.last_used, key, revision))
        if len(self._lru) > max(HEAP_REBUILD_MIN, HEAP_REBUILD_FACTOR * len(self._entries)):
            self._lru = [(e.last_used, k, r) for k, (e, r) in self._entries.items()]
            heapq.heapify(self._lru)

    def _forget(self, key: str, revision: int) -> None:
        """Drop ``key`` if the mirror holds it at ``revision`` or an earlier one."""
        current = self._entries.get(key)
        if current is not None and current[1] <= revision:
            del self._entries[key]
            self._release(current[0].sha256)

    def _release(self, sha256: str) -> None:
        artifact = self._artifacts[sha256]
        artifact.entries -= 1
        if artifact.entries == 0:
            del self._artifacts[sha256]
            self._bytes -= artifact.size

    def _oldest(self) -> tuple[float, str, int] | None:
        """The recency heap's oldest live position, skipping (and dropping) stale ones."""
        while self._lru:
            _, key, revision = position = self._lru[0]
            current = self._entries.get(key)
            if current is not None and current[1] == revision:
                return position
            heapq.heappop(self._lru)
        return None

    async def _follow(self) -> None:
        """Apply the bucket's updates to the mirror; the first None marks the initial load."""
        async for update in self._watcher:
            if update is None:
                self._primed.set()
                continue
            revision = update.revision or 0
            if update.operation in (KV_DEL, KV_PURGE):
                self._forget(update.key, revision)
                continue
            try:
                entry = CacheEntry.decode(update.value)
            except ValueError:
                continue
            self._note(update.key, entry, revision)

    async def _sweep_every(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.sweep()
            except Exception:
                log.exception("asset cache sweep failed")


def _consume_exception(future: asyncio.Future[Any]) -> None:
    # Nobody may be waiting on a failed request; don't let asyncio log it as unretrieved.
    if not future.cancelled():
        future.exception()
