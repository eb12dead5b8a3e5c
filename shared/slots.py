"""Request slots of backend servers: how many requests each server is sent at once.

A server takes only so many jobs at a time (ComfyUI runs one prompt at a time and queues
the rest; Hunyuan3D-2's ``/generate`` runs one at a time on its event loop). A request
holds one of its server's slots from the moment it is sent until its answer is in; a
request that finds none free waits (in :mod:`shared.pool`, which picks the server), and
the wait is no part of the job's own timeout.

Two levels:

- In one process, :class:`ServerSlots`: a count per server and event loop, shared by
  every backend that talks to that server (:func:`server_slots`), so all of a service's
  worker slots in a process, and several backends in one process, stay within the bound.
  Every slot given back wakes the requests waiting for one (:func:`slot_freed`).
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
from nats.js.errors import APIError
from nats.js.kv import KeyValue

from shared.cache import open_bucket, wrong_last_sequence
from shared.claims import KeyLease
from shared.contract import BACKEND_SLOTS_BUCKET
from shared.errors import RetryLater
from shared.logs import get_logger

log = get_logger(__name__)

# How long a claimed slot outlives its last refresh: a dead holder's slot frees itself
# after this; the holder refreshes three times per lease.
DEFAULT_LEASE_S = 30.0
# First and longest pause between two attempts to claim a slot held elsewhere.
FIRST_RETRY_S = 0.05
LONGEST_RETRY_S = 1.0


@dataclass(frozen=True)
class Slot:
    """One held slot: how long the request waited for it, and whether it had to queue
    (or others were queued behind it when it got it)."""

    waited: float
    queued: bool


class ServerSlots:
    """At most ``limit`` requests in flight to one server from this process (0: no
    bound). Get a server's instance with :func:`server_slots`."""

    def __init__(self, limit: int):
        if limit < 0:
            raise ValueError("a concurrency limit cannot be negative")
        self.limit = limit
        self.busy = 0

    def has_room(self) -> bool:
        return not self.limit or self.busy < self.limit

    def try_take(self) -> bool:
        """Take a slot if one is free; never waits."""
        if not self.has_room():
            return False
        self.busy += 1
        return True

    def give_back(self) -> None:
        """Free a slot taken with :meth:`try_take`, waking whoever waits for one."""
        self.busy -= 1
        _signal().fire()


class _Signal:
    """Wakes every waiter at once; waiters that come later wait for the next time."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def fire(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self) -> None:
        await self._event.wait()


# Per event loop (asyncio primitives belong to one), per server base URL.
_SLOTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, ServerSlots]] = (
    weakref.WeakKeyDictionary()
)
_SIGNALS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Signal] = (
    weakref.WeakKeyDictionary()
)


def _signal() -> _Signal:
    loop = asyncio.get_running_loop()
    signal = _SIGNALS.get(loop)
    if signal is None:
        signal = _SIGNALS[loop] = _Signal()
    return signal


async def slot_freed(timeout: float) -> None:
    """Until a slot of any server is given back in this process, or ``timeout`` s."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout):
            await _signal().wait()


def server_slots(server: str, limit: int) -> ServerSlots:
    """The slots of ``server`` in this process, made with ``limit`` by the first backend
    that asks; every later backend of the same server shares them."""
    server = server.rstrip("/")
    servers = _SLOTS.setdefault(asyncio.get_running_loop(), {})
    slots = servers.get(server)
    if slots is None:
        slots = servers[server] = ServerSlots(limit)
    elif slots.limit != limit:
        log.warning("backend_server_limit_kept", server=server, limit=slots.limit, ignored=limit)
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

    async def try_claim(self, server: str, limit: int) -> KeyLease | None:
        """One of ``server``'s ``limit`` slots if one is free across replicas, else None;
        never waits. NATS being away is :class:`RetryLater`."""
        try:
            kv = await self._bucket()
            claimed = await self._claim_once(kv, _server_key(server), limit)
        except (NatsError, TimeoutError) as exc:
            raise RetryLater(
                f"no slot of {server} could be claimed: {type(exc).__name__}: {exc}",
                code="backend_slot_unavailable",
            ) from None
        if claimed is None:
            return None
        key, revision = claimed
        return KeyLease(kv, key, revision, self.holder.encode(), self.lease_s / 3, "backend_slot")

    @contextlib.asynccontextmanager
    async def held(self, server: str, limit: int) -> AsyncIterator[Slot]:
        """Hold one of ``server``'s ``limit`` slots for the block, waiting for one at
        growing intervals (``limit`` 0: no claim)."""
        if limit <= 0:
            yield Slot(0.0, False)
            return
        started = time.monotonic()
        pause = FIRST_RETRY_S
        rounds = 1
        while (lease := await self.try_claim(server, limit)) is None:
            await asyncio.sleep(pause * random.uniform(0.5, 1.0))
            pause = min(pause * 2, LONGEST_RETRY_S)
            rounds += 1
        try:
            yield Slot(time.monotonic() - started, rounds > 1)
        finally:
            await lease.release()

    async def _claim_once(self, kv: KeyValue, prefix: str, limit: int) -> tuple[str, int] | None:
        """The claimed key and its revision, or None while every slot is held."""
        value = self.holder.encode()
        # A random first slot spreads the claims of many waiters over the keys.
        first = random.randrange(limit)
        for n in range(limit):
            key = f"{prefix}.{(first + n) % limit}"
            try:
                return key, await kv.create(key, value)
            except APIError as exc:
                if not wrong_last_sequence(exc):
                    raise
                # held by another request
        return None


def _server_key(server: str) -> str:
    """A key-value key prefix naming one server (its URL, hashed into key characters)."""
    return "s" + hashlib.sha256(server.rstrip("/").encode("utf-8")).hexdigest()[:24]


async def _open_bucket(
    js: JetStreamContext, bucket: str, lease_s: float, replicas: int
) -> KeyValue:
    return await open_bucket(
        js,
        bucket,
        "Holodeck: request slots of backend servers, claimed by replicas",
        max_age_s=lease_s,
        replicas=replicas,
    )
