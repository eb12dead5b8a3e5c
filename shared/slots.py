"""Request slots of an image-to-3D server: how many requests it is sent at once.

A server takes only so many jobs at a time (Hunyuan3D-2's ``/generate`` runs one at a
time on its event loop). A request holds one of its server's slots from the moment it
is sent until its answer is in, and waits for one first; the wait is no part of the
job's own timeout.

Two levels, both first come first served:

- In one process, :class:`ServerSlots`: one semaphore per server and event loop, shared
  by every backend that talks to that server (:func:`server_slots`), so all of meshgen's
  worker slots in a process, and several hosts in one process, stay within the bound.
- Across replicas, :class:`SlotBoard`: a slot is a key ``<server>.<n>`` (``n`` below
  the limit) in the JetStream key-value bucket ``holodeck-backend-slots``. A request
  claims a slot by creating its key (creation fails while another holder has it),
  refreshes it while it runs and deletes it when done. The bucket's entries expire
  ``lease_s`` after their last write, so the slot of a replica that died is free again
  after at most one lease. Waiters try again at growing intervals (key-value expiry
  sends no notice to watch for), so across replicas the order is only roughly fair.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import random
import socket
import time
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass

from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.errors import APIError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from shared.cache import open_bucket
from shared.contract import BACKEND_SLOTS_BUCKET
from shared.errors import RetryLater
from shared.logs import get_logger

log = get_logger(__name__)

# How long a claimed slot outlives its last refresh: a dead holder's slot frees itself
# after this; the holder refreshes three times per lease.
DEFAULT_LEASE_S = 30.0
# First and longest pause between two attempts to claim a slot held elsewhere.
_FIRST_RETRY_S = 0.05
_LONGEST_RETRY_S = 1.0
# JetStream's "wrong last sequence" errors: the key exists (or changed since read).
_WRONG_LAST_SEQUENCE = (10071, 10164)


@dataclass(frozen=True)
class Slot:
    """One held slot: how long the request waited for it, and whether it had to queue
    (or others were queued behind it when it got it)."""

    waited: float
    queued: bool


class ServerSlots:
    """At most ``limit`` requests in flight to one server from this process (0: no
    bound), first come first served. Get a server's instance with :func:`server_slots`."""

    def __init__(self, limit: int):
        if limit < 0:
            raise ValueError("a concurrency limit cannot be negative")
        self.limit = limit
        self._semaphore = asyncio.Semaphore(limit) if limit else None
        self.waiting = 0
        self.busy = 0

    @contextlib.asynccontextmanager
    async def held(self) -> AsyncIterator[Slot]:
        """Hold one slot for the block."""
        started = time.monotonic()
        queued = False
        if self._semaphore is not None:
            queued = self._semaphore.locked()
            self.waiting += 1
            try:
                await self._semaphore.acquire()
            finally:
                self.waiting -= 1
        self.busy += 1
        try:
            yield Slot(time.monotonic() - started, queued or self.waiting > 0)
        finally:
            self.busy -= 1
            if self._semaphore is not None:
                self._semaphore.release()


# Per event loop (asyncio primitives belong to one), per server base URL.
_SLOTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, ServerSlots]] = (
    weakref.WeakKeyDictionary()
)


def server_slots(server: str, limit: int) -> ServerSlots:
    """The slots of ``server`` in this process, made with ``limit`` by the first backend
    that asks; every later backend of the same server shares them."""
    servers = _SLOTS.setdefault(asyncio.get_running_loop(), {})
    slots = servers.get(server)
    if slots is None:
        slots = servers[server] = ServerSlots(limit)
    elif slots.limit != limit:
        log.warning("mesh_server_limit_kept", server=server, limit=slots.limit, ignored=limit)
    return slots


class SlotBoard:
    """Slots claimed across replicas in the JetStream key-value store (see the module
    docstring). Create one per process; the bucket is opened on first use."""

    def __init__(
        self,
        js: JetStreamContext,
        *,
        bucket: str = BACKEND_SLOTS_BUCKET,
        lease_s: float = DEFAULT_LEASE_S,
        holder: str | None = None,
        replicas: int = 1,
    ):
        if lease_s <= 0:
            raise ValueError("the lease must be longer than 0 s")
        self.js = js
        self.bucket = bucket
        self.lease_s = lease_s
        self.holder = holder or f"{socket.gethostname()}-{os.getpid()}-{id(self):x}"
        self.replicas = replicas
        self._kv: KeyValue | None = None
        self._opening = asyncio.Lock()

    async def _bucket(self) -> KeyValue:
        async with self._opening:
            if self._kv is None:
                self._kv = await _open_bucket(self.js, self.bucket, self.lease_s, self.replicas)
            return self._kv

    @contextlib.asynccontextmanager
    async def held(self, server: str, limit: int) -> AsyncIterator[Slot]:
        """Hold one of ``server``'s ``limit`` slots for the block (``limit`` 0: no claim)."""
        if limit <= 0:
            yield Slot(0.0, False)
            return
        started = time.monotonic()
        try:
            kv = await self._bucket()
            key, revision, tries = await self._claim(kv, _server_key(server), limit)
        except (NatsError, TimeoutError) as exc:
            raise RetryLater(
                f"no slot of {server} could be claimed: {type(exc).__name__}: {exc}",
                code="backend_slot_unavailable",
            ) from None
        lease = _Lease(kv, key, revision, self.holder.encode(), self.lease_s / 3)
        try:
            yield Slot(time.monotonic() - started, tries > 1)
        finally:
            await lease.release()

    async def _claim(self, kv: KeyValue, prefix: str, limit: int) -> tuple[str, int, int]:
        """The claimed key, its revision and the rounds it took."""
        pause = _FIRST_RETRY_S
        value = self.holder.encode()
        rounds = 0
        while True:
            rounds += 1
            # A random first slot spreads the claims of many waiters over the keys.
            first = random.randrange(limit)
            for n in range(limit):
                key = f"{prefix}.{(first + n) % limit}"
                try:
                    return key, await kv.create(key, value), rounds
                except KeyWrongLastSequenceError:
                    continue  # held by another request
                except APIError as exc:
                    if getattr(exc, "err_code", None) not in _WRONG_LAST_SEQUENCE:
                        raise
            await asyncio.sleep(pause * random.uniform(0.5, 1.0))
            pause = min(pause * 2, _LONGEST_RETRY_S)


class _Lease:
    """Keeps one claimed key alive until released."""

    def __init__(self, kv: KeyValue, key: str, revision: int, value: bytes, every: float):
        self.kv = kv
        self.key = key
        self.revision = revision
        self.value = value
        self._task = asyncio.create_task(self._refresh(every))

    async def _refresh(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            try:
                self.revision = await self.kv.update(self.key, self.value, last=self.revision)
            except (NatsError, TimeoutError) as exc:
                # Expired and perhaps claimed by another: nothing to do but say so.
                log.warning("backend_slot_lost", key=self.key, error=repr(exc))
                return

    async def release(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        try:
            await self.kv.delete(self.key, last=self.revision)
        except (NatsError, TimeoutError) as exc:
            # Lost already, or NATS is away: the lease runs out on its own.
            log.warning("backend_slot_not_released", key=self.key, error=repr(exc))


def _server_key(server: str) -> str:
    """A key-value key prefix naming one server (its URL, hashed into key characters)."""
    return "s" + hashlib.sha256(server.rstrip("/").encode("utf-8")).hexdigest()[:24]


async def _open_bucket(
    js: JetStreamContext, bucket: str, lease_s: float, replicas: int
) -> KeyValue:
    return await open_bucket(
        js,
        bucket,
        "Holodeck: request slots of image-to-3D servers, claimed by replicas",
        max_age_s=lease_s,
        replicas=replicas,
    )
