"""Identical object work is made once, whichever replica gets it first.

Two objects with the same cache key (the same chair twice, in one scene or in two) need
one backend call. In one process the second request waits on the first's future. Across
replicas the first claims the key in the JetStream key-value bucket
``holodeck-work-claims`` (creating the key fails while another holder has it) and
refreshes the claim while it works; the others wait for it **without holding a backend
slot** and then find its result in the asset cache. The bucket's entries expire
``lease_s`` after their last write, so when a claimant dies its claim runs out and a
waiter takes the work over. A claimant that fails deletes its claim at once, so the
waiters try themselves instead of waiting out a lease.

Waiters look again at growing intervals (a deleted key could be watched, an expired one
sends no notice), up to :data:`LONGEST_LOOK_S`. A bucket that cannot be reached never
stops work: the object is then made here, as it would be without replicas.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
from collections.abc import Awaitable, Callable
from typing import TypeVar

from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.errors import APIError, KeyNotFoundError
from nats.js.kv import KeyValue

from shared import metrics
from shared.artifacts import ArtifactRef
from shared.cache import AssetCache, open_bucket, wrong_last_sequence
from shared.contract import WORK_CLAIMS_BUCKET
from shared.logs import get_logger

log = get_logger(__name__)

T = TypeVar("T")

# How long a claim outlives its last refresh; the claimant refreshes three times per lease.
DEFAULT_LEASE_S = 30.0
# First and longest pause between two looks at a claim held by another replica: short
# enough to add little to a GPU call of a second or more, long enough to cost little.
FIRST_LOOK_S = 0.05
LONGEST_LOOK_S = 0.5
# How long releasing a claim waits for a refresh in flight before deleting the key.
RELEASE_WAIT_S = 2.0


class KeyLease:
    """Keeps one claimed key alive (rewritten every ``every`` s) until released; ``what``
    names the claim in log lines."""

    def __init__(
        self,
        kv: KeyValue,
        key: str,
        revision: int,
        value: bytes,
        every: float,
        what: str = "claim",
    ):
        self.kv = kv
        self.key = key
        self.revision = revision
        self.value = value
        self.what = what
        self._stopped = asyncio.Event()
        self._task = asyncio.create_task(self._refresh(every))

    async def _refresh(self, every: float) -> None:
        # Stopped by the flag, not only by cancel(): a cancellation that lands as a
        # client request's reply arrives can be dropped on Python 3.11, and a loop kept
        # alive by it would hold release() (and so its scene) forever.
        stopping = asyncio.ensure_future(self._stopped.wait())
        try:
            while not self._stopped.is_set():
                await asyncio.wait({stopping}, timeout=every)
                if self._stopped.is_set():
                    return
                try:
                    self.revision = await self.kv.update(self.key, self.value, last=self.revision)
                except (NatsError, TimeoutError) as exc:
                    # Expired and perhaps claimed by another: nothing to do but say so.
                    log.warning(f"{self.what}_lost", key=self.key, error=repr(exc))
                    return
        finally:
            stopping.cancel()

    async def release(self) -> None:
        self._stopped.set()
        self._task.cancel()
        # A refresh in flight ends with its request's own timeout; release waits for it
        # no longer than RELEASE_WAIT_S and deletes the key anyway.
        done, _ = await asyncio.wait({self._task}, timeout=RELEASE_WAIT_S)
        if not done:
            log.warning(f"{self.what}_refresh_still_running", key=self.key)
        try:
            await self.kv.delete(self.key, last=self.revision)
        except (NatsError, TimeoutError) as exc:
            # Lost already, or NATS is away: the lease runs out on its own.
            log.warning(f"{self.what}_not_released", key=self.key, error=repr(exc))


class WorkClaims:
    """Claims of identical work in flight, in this process and across replicas.

    Open one per process with :meth:`open`; without a key-value store (``kv`` None) only
    the in-process de-duplication applies.
    """

    def __init__(
        self,
        kv: KeyValue | None,
        *,
        holder: str | None = None,
        lease_s: float = DEFAULT_LEASE_S,
    ):
        if lease_s <= 0:
            raise ValueError("a claim's lease must be longer than 0 s")
        self.kv = kv
        self.lease_s = lease_s
        self.holder = (holder or f"{socket.gethostname()}-{os.getpid()}-{id(self):x}").encode()
        self._local: dict[str, asyncio.Future[None]] = {}
        self._warned = False

    @classmethod
    async def open(
        cls,
        js: JetStreamContext,
        *,
        holder: str | None = None,
        lease_s: float = DEFAULT_LEASE_S,
        replicas: int = 1,
        bucket: str = WORK_CLAIMS_BUCKET,
    ) -> WorkClaims:
        kv = await open_bucket(
            js,
            bucket,
            "Holodeck: identical object work in flight, claimed by one replica",
            max_age_s=lease_s,
            replicas=replicas,
        )
        return cls(kv, holder=holder, lease_s=lease_s)

    async def once(self, stage: str, key: str, make: Callable[[], Awaitable[T]]) -> T:
        """``make()`` for ``key`` once no other holder is making it.

        ``make`` must look in the cache first: after waiting for another holder it finds
        that holder's result there and calls no backend.
        """
        while True:
            local = self._local.get(key)
            if local is not None:
                metrics.WORK_WAITS.labels(stage, "local").inc()
                await asyncio.wait({local})
                continue
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._local[key] = future
            try:
                claimed, lease = await self._claim(key)
                if not claimed:
                    metrics.WORK_WAITS.labels(stage, "replica").inc()
                    await self._wait_elsewhere(key)
                    continue  # claim it ourselves now, or find its result
                try:
                    return await make()
                finally:
                    if lease is not None:
                        await lease.release()
            finally:
                del self._local[key]
                future.set_result(None)

    async def _claim(self, key: str) -> tuple[bool, KeyLease | None]:
        """Whether the work is ours now, and the lease that says so (None when there is
        no store to claim in: the work then goes ahead here)."""
        if self.kv is None:
            return True, None
        try:
            revision = await self.kv.create(key, self.holder)
        except APIError as exc:
            if wrong_last_sequence(exc):
                return False, None
            self._unreachable(exc)
            return True, None
        except (NatsError, TimeoutError) as exc:
            self._unreachable(exc)
            return True, None
        return True, KeyLease(self.kv, key, revision, self.holder, self.lease_s / 3)

    async def _wait_elsewhere(self, key: str) -> None:
        """Until ``key``'s claim is released, or has run out with its holder."""
        assert self.kv is not None
        pause = FIRST_LOOK_S
        while True:
            await asyncio.sleep(pause * random.uniform(0.8, 1.0))
            pause = min(pause * 1.5, LONGEST_LOOK_S)
            try:
                await self.kv.get(key)
            except KeyNotFoundError:
                return  # released (deleted) or expired
            except (NatsError, TimeoutError) as exc:
                self._unreachable(exc)
                return

    def _unreachable(self, exc: BaseException) -> None:
        if not self._warned:
            self._warned = True
            log.warning(
                "work claims unavailable: identical objects may be made twice",
                error=f"{type(exc).__name__}: {exc}",
            )


async def make_once(
    cache: AssetCache,
    claims: WorkClaims | None,
    stage: str,
    key: str,
    make: Callable[[], Awaitable[bytes]],
    media_type: str,
) -> tuple[ArtifactRef, bool]:
    """The artifact for ``key`` and whether it came from the cache; made by ``make`` only
    when neither the cache nor another holder of the same key has it."""
    if claims is None or await cache.peek(key) is not None:
        return await cache.get_or_make(stage, key, make, media_type)
    return await claims.once(stage, key, lambda: cache.get_or_make(stage, key, make, media_type))
