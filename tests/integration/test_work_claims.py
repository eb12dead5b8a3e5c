"""Identical object work claimed across replicas in the JetStream key-value store: two
claim sets on two connections stand for two replicas."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import nats
import pytest

from shared.claims import WorkClaims

KEY = "0123456789abcdef" * 4  # a cache key: sha256 hex


@pytest.fixture
async def replicas(nats_server: str) -> AsyncIterator[tuple[object, object]]:
    one = await nats.connect(nats_server)
    two = await nats.connect(nats_server)
    try:
        yield one, two
    finally:
        await one.close()
        await two.close()


class Backend:
    """A backend behind a cache: ``make`` finds a stored result or makes one (slowly)."""

    def __init__(self, latency: float = 0.3, fail_first: bool = False):
        self.latency = latency
        self.fail_first = fail_first
        self.calls = 0
        self.stored: dict[str, str] = {}

    async def make(self, key: str) -> str:
        if key in self.stored:
            return self.stored[key]
        self.calls += 1
        await asyncio.sleep(self.latency)
        if self.fail_first and self.calls == 1:
            raise RuntimeError("the GPU server went away")
        self.stored[key] = f"mesh of {key[:8]}"
        return self.stored[key]


async def _claims(nc, bucket: str, lease_s: float = 5.0) -> WorkClaims:
    return await WorkClaims.open(nc.jetstream(), bucket=bucket, lease_s=lease_s)


async def test_an_identical_object_is_made_once_across_replicas(replicas, unique) -> None:
    one, two = replicas
    sets = [await _claims(nc, f"claims-{unique}") for nc in (one, two)]
    backend = Backend()

    async with asyncio.timeout(20):
        results = await asyncio.gather(
            *(sets[i % 2].once("meshgen", KEY, lambda: backend.make(KEY)) for i in range(8))
        )
    assert backend.calls == 1
    assert set(results) == {f"mesh of {KEY[:8]}"}
    kv = await one.jetstream().key_value(f"claims-{unique}")
    with pytest.raises(nats.js.errors.KeyNotFoundError):
        await kv.get(KEY)  # released


async def test_a_failed_claimant_hands_the_work_on_at_once(replicas, unique) -> None:
    one, two = replicas
    first = await _claims(one, f"claims-{unique}", lease_s=30)
    second = await _claims(two, f"claims-{unique}", lease_s=30)
    backend = Backend(latency=0.2, fail_first=True)

    async def attempt(claims: WorkClaims) -> str | None:
        try:
            return await claims.once("meshgen", KEY, lambda: backend.make(KEY))
        except RuntimeError:
            return None

    started = asyncio.get_running_loop().time()
    async with asyncio.timeout(20):
        first_task = asyncio.create_task(attempt(first))
        await asyncio.sleep(0.05)  # the first replica claims first
        outcome = await asyncio.gather(first_task, attempt(second))
    assert outcome[0] is None and outcome[1] == f"mesh of {KEY[:8]}"
    assert backend.calls == 2
    # The second did not wait out the 30 s lease of the failed claim.
    assert asyncio.get_running_loop().time() - started < 10


async def test_the_claim_of_a_dead_replica_runs_out_and_is_taken_over(
    replicas, unique, nats_server: str
) -> None:
    _, two = replicas
    bucket = f"claims-{unique}"
    dying = await nats.connect(nats_server)
    doomed = await _claims(dying, bucket, lease_s=1.0)
    survivor = await _claims(two, bucket, lease_s=1.0)
    backend = Backend(latency=0.1)
    started = asyncio.Event()

    async def never_finishes() -> str:
        started.set()
        await asyncio.Event().wait()
        return "never"

    stuck = asyncio.create_task(doomed.once("meshgen", KEY, never_finishes))
    await asyncio.wait_for(started.wait(), 5)
    await dying.close()  # the replica dies: no refresh, no release
    stuck.cancel()
    async with asyncio.timeout(20):
        result = await survivor.once("meshgen", KEY, lambda: backend.make(KEY))
    assert result == f"mesh of {KEY[:8]}" and backend.calls == 1


async def test_without_a_store_identical_work_in_one_process_is_made_once() -> None:
    claims = WorkClaims(None)
    backend = Backend(latency=0.05)
    async with asyncio.timeout(5):
        await asyncio.gather(
            *(claims.once("imagegen", KEY, lambda: backend.make(KEY)) for _ in range(5))
        )
    assert backend.calls == 1
