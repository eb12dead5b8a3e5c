"""The gateway's rate limiter under many requests of one client at once: they are decided
in order and stored with one write per turn, and the budget is the same as one by one."""

from __future__ import annotations

import asyncio

import pytest

from services.gateway.security import Contended, MemoryCounters, Rate, RateLimiter


class SlowCounters(MemoryCounters):
    """Counters whose writes wait until released, counting them."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0
        self.release = asyncio.Event()
        self.writing = asyncio.Event()

    async def write(self, key: str, value: float, revision: int | None) -> int | None:
        self.writes += 1
        self.writing.set()
        await self.release.wait()
        return await super().write(key, value, revision)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_requests_waiting_for_a_write_are_decided_together_in_one_more() -> None:
    counters = SlowCounters()
    limiter = RateLimiter(counters, clock=Clock())
    rate = Rate(amount=10, period_s=10.0, burst=10)
    first = asyncio.create_task(limiter.hit("key.bench", rate))
    await asyncio.wait_for(counters.writing.wait(), 5)
    rest = [asyncio.create_task(limiter.hit("key.bench", rate)) for _ in range(11)]
    await asyncio.sleep(0)
    counters.release.set()
    decisions = await asyncio.gather(first, *rest)
    assert counters.writes == 2
    assert [d.allowed for d in decisions] == [True] * 10 + [False] * 2
    assert [d.remaining for d in decisions[:10]] == list(range(9, -1, -1))
    assert all(d.retry_after_s > 0 for d in decisions[10:])
    # What is stored is where the ten allowed arrivals left the bucket.
    assert counters.values["key.bench"][0] == pytest.approx(1000.0 + 10 * rate.interval_s)
    # Refused from the state seen, without a round trip.
    again = await limiter.hit("key.bench", rate)
    assert not again.allowed and counters.writes == 2


async def test_a_client_gone_meanwhile_leaves_the_others_their_answers() -> None:
    counters = SlowCounters()
    limiter = RateLimiter(counters, clock=Clock())
    rate = Rate(amount=5, period_s=5.0, burst=5)
    first = asyncio.create_task(limiter.hit("key.gone", rate))
    await asyncio.wait_for(counters.writing.wait(), 5)
    first.cancel()
    other = asyncio.create_task(limiter.hit("key.gone", rate))
    await asyncio.sleep(0)
    counters.release.set()
    assert (await asyncio.wait_for(other, 5)).allowed
    with pytest.raises(asyncio.CancelledError):
        await first


class ChangingCounters(MemoryCounters):
    """Counters another replica writes before every write of ours."""

    async def write(self, key: str, value: float, revision: int | None) -> int | None:
        current = self.values.get(key)
        self.values[key] = (0.0, (current[1] if current else 0) + 1)
        return await super().write(key, value, revision)


async def test_a_turn_that_keeps_losing_the_race_refuses_each_of_its_requests() -> None:
    limiter = RateLimiter(ChangingCounters(), clock=Clock())
    rate = Rate(amount=5, period_s=5.0, burst=5)
    results = await asyncio.gather(
        *(limiter.hit("key.raced", rate) for _ in range(3)), return_exceptions=True
    )
    assert all(isinstance(r, Contended) for r in results)
    # The next request gets its own turn: nothing is left waiting.
    with pytest.raises(Contended):
        await asyncio.wait_for(limiter.hit("key.raced", rate), 5)
