"""The pool of backend servers on its own: choosing, slots, failover and the breaker, with
work functions standing in for a client and a clock the test moves."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import pytest
from prometheus_client import REGISTRY

from shared.errors import ConfigError, Permanent, RetryLater
from shared.pool import Lease, Pool, ServerDown


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def servers(n: int) -> list[str]:
    """Distinct server URLs (slots are shared per URL within a process)."""
    tag = uuid.uuid4().hex[:8]
    return [f"http://gpu-{k}-{tag}:8188" for k in range(n)]


def sample(name: str, pool: Pool, url: str, **labels: str) -> float:
    value = REGISTRY.get_sample_value(name, {"backend": pool.backend, "server": url, **labels})
    return value or 0.0


async def answered(lease: Lease) -> str:
    return lease.url


def failing_on(*down: str, elsewhere: bool = True):
    """Work that fails on the ``down`` servers the way a dead server does."""
    calls: list[str] = []

    async def work(lease: Lease) -> str:
        calls.append(lease.url)
        if lease.url in down:
            raise ServerDown(f"{lease.url} refused", code="test_unreachable", elsewhere=elsewhere)
        return lease.url

    return work, calls


async def test_requests_spread_to_the_server_with_fewest_in_flight():
    urls = servers(3)
    pool = Pool("test", urls, concurrency=0)
    release = asyncio.Event()
    took: list[str] = []

    async def hold(lease: Lease) -> None:
        took.append(lease.url)
        await release.wait()

    tasks = [asyncio.create_task(pool.run(hold)) for _ in range(6)]
    async with asyncio.timeout(5):
        while len(took) < 6:
            await asyncio.sleep(0.01)
    assert Counter(took) == {url: 2 for url in urls}
    assert sample("holodeck_backend_server_in_flight", pool, urls[0]) == 2
    release.set()
    await asyncio.gather(*tasks)
    assert sample("holodeck_backend_server_in_flight", pool, urls[0]) == 0
    assert sample("holodeck_backend_server_requests_total", pool, urls[1]) == 2


async def test_a_servers_own_queue_counts_and_is_read_once_per_ttl():
    urls = servers(2)
    readings: list[str] = []
    queues = {urls[0]: 5, urls[1]: 1}

    async def load(url: str) -> int:
        readings.append(url)
        return queues[url]

    pool = Pool("test", urls, load=load, load_ttl=60)
    try:
        chosen = [await pool.run(answered) for _ in range(4)]
    finally:
        await pool.close()

    assert chosen == [urls[1]] * 4  # 1 queued there against 5
    assert sorted(readings) == sorted(urls)  # one reading each, however many requests
    assert sample("holodeck_backend_server_queue_length", pool, urls[0]) == 5


async def test_a_reading_is_corrected_by_requests_started_since():
    urls = servers(2)
    pool = Pool("test", urls)
    pool.observe(urls[0], 2)  # two jobs there, none of them ours
    release = asyncio.Event()
    took: list[str] = []

    async def hold(lease: Lease) -> None:
        took.append(lease.url)
        await release.wait()

    tasks = [asyncio.create_task(pool.run(hold)) for _ in range(4)]
    async with asyncio.timeout(5):
        while len(took) < 4:
            await asyncio.sleep(0.01)
    release.set()
    await asyncio.gather(*tasks)
    # The second server takes two; from then on the first counts as loaded as the second,
    # and its one request makes it count three.
    assert Counter(took) == {urls[0]: 1, urls[1]: 3}


async def test_a_server_at_its_limit_is_passed_over_and_then_waited_for():
    urls = servers(2)
    pool = Pool("test", urls, concurrency=1)
    release = asyncio.Event()
    order: list[tuple[str, bool]] = []

    async def hold(lease: Lease) -> None:
        order.append((lease.url, lease.queued))
        await release.wait()

    first = [asyncio.create_task(pool.run(hold)) for _ in range(2)]
    async with asyncio.timeout(5):
        while len(order) < 2:
            await asyncio.sleep(0.01)
    assert {url for url, _ in order} == set(urls)  # one on each: both at their limit
    assert not any(queued for _, queued in order)
    third = asyncio.create_task(pool.run(hold))
    release.set()
    await asyncio.gather(*first, third)
    assert len(order) == 3 and order[2][1]  # the third had to wait for a slot


async def test_a_failed_request_goes_to_another_server_at_once():
    urls = servers(3)
    pool = Pool("test", urls)
    work, calls = failing_on(urls[0], urls[1])
    for _ in range(3):
        assert await pool.run(work) == urls[2]
    assert calls.count(urls[2]) == 3
    assert sample(
        "holodeck_backend_server_failures_total", pool, urls[0], code="test_unreachable"
    ) == calls.count(urls[0])


async def test_a_lease_says_whether_another_server_could_take_over():
    urls = servers(2)
    pool = Pool("test", urls)
    alone: list[tuple[str, bool]] = []

    async def work(lease: Lease) -> None:
        alone.append((lease.url, lease.alone))
        if len(alone) == 1:
            raise ServerDown("down", code="test_unreachable")

    await pool.run(work)
    assert [flag for _, flag in alone] == [False, True]
    single = Pool("test", servers(1))
    seen: list[bool] = []

    async def note(lease: Lease) -> None:
        seen.append(lease.alone)

    await single.run(note)
    assert seen == [True]


async def test_a_failure_that_spent_the_time_budget_is_not_tried_elsewhere():
    urls = servers(2)
    pool = Pool("test", urls, concurrency=0)
    work, calls = failing_on(*urls, elsewhere=False)
    with pytest.raises(ServerDown):
        await pool.run(work)
    assert len(calls) == 1


async def test_a_request_refused_for_itself_is_no_mark_against_the_server():
    urls = servers(1)
    clock = Clock()
    pool = Pool("test", urls, failures=2, clock=clock)
    down, _ = failing_on(urls[0])

    async def refused(lease: Lease) -> None:
        raise Permanent("bad image", code="test_bad_request")

    with pytest.raises(ServerDown):
        await pool.run(down)
    with pytest.raises(Permanent):
        await pool.run(refused)  # the server answered: the count starts again
    with pytest.raises(ServerDown):
        await pool.run(down)
    assert pool.state(urls[0]) == "closed"
    with pytest.raises(ServerDown):
        await pool.run(down)
    assert pool.state(urls[0]) == "open"


async def test_the_breaker_opens_then_lets_one_trial_through_and_closes_on_success():
    urls = servers(2)
    clock = Clock()
    pool = Pool("test", urls, failures=2, cooldown_s=30, clock=clock)
    work, calls = failing_on(urls[0])
    # Each request tries the least loaded first; failures on the first server add up.
    while pool.state(urls[0]) == "closed":
        assert await pool.run(work) == urls[1]
    assert calls.count(urls[0]) == 2
    assert sample("holodeck_backend_server_breaker_state", pool, urls[0]) == 2

    before = len(calls)
    for _ in range(5):
        assert await pool.run(work) == urls[1]
    assert calls[before:] == [urls[1]] * 5  # left out while open

    clock.now += 30
    assert pool.state(urls[0]) == "half_open"
    assert sample("holodeck_backend_server_breaker_state", pool, urls[0]) == 1
    release = asyncio.Event()
    took: list[str] = []

    async def hold(lease: Lease) -> str:
        took.append(lease.url)
        await release.wait()
        return lease.url

    tasks = [asyncio.create_task(pool.run(hold)) for _ in range(4)]
    async with asyncio.timeout(5):
        while len(took) < 4:
            await asyncio.sleep(0.01)
    assert took.count(urls[0]) == 1  # one trial at a time
    release.set()
    await asyncio.gather(*tasks)
    assert pool.state(urls[0]) == "closed"
    assert sample("holodeck_backend_server_breaker_state", pool, urls[0]) == 0


async def test_a_failed_trial_takes_the_server_out_again():
    urls = servers(2)
    clock = Clock()
    pool = Pool("test", urls, failures=1, cooldown_s=10, clock=clock)
    work, _ = failing_on(urls[0])
    while pool.state(urls[0]) == "closed":
        await pool.run(work)
    clock.now += 10
    # The trial goes wherever the load says; requests continue until it has been made.
    while pool.state(urls[0]) == "half_open":
        assert await pool.run(work) == urls[1]
    assert pool.state(urls[0]) == "open"
    clock.now += 9
    assert pool.state(urls[0]) == "open"


async def test_every_server_out_is_retry_later_saying_when_the_first_comes_back():
    urls = servers(2)
    clock = Clock()
    pool = Pool("test", urls, title="Test", failures=1, cooldown_s=30, clock=clock)
    work, calls = failing_on(*urls)
    with pytest.raises(ServerDown) as first:
        await pool.run(work)
    assert sorted(calls) == sorted(urls)  # each tried once
    assert first.value.delay == 30  # both out now

    clock.now += 12
    with pytest.raises(RetryLater) as out:
        await pool.run(work)
    assert out.value.code == "test_servers_out"
    assert out.value.delay == pytest.approx(18)
    assert "every Test server is out" in out.value.message
    assert all(url in out.value.message for url in urls)
    assert len(calls) == 2  # nothing was sent


async def test_a_cancelled_request_is_no_verdict_and_frees_its_slot():
    urls = servers(1)
    clock = Clock()
    pool = Pool("test", urls, concurrency=1, failures=1, clock=clock)
    work, _ = failing_on(urls[0])
    with pytest.raises(ServerDown):
        await pool.run(work)
    clock.now += 31
    started = asyncio.Event()

    async def hang(lease: Lease) -> None:
        started.set()
        await asyncio.Event().wait()

    task = asyncio.create_task(pool.run(hang))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert pool.state(urls[0]) == "half_open"
    assert await pool.run(answered) == urls[0]  # the next request is the trial, and wins
    assert pool.state(urls[0]) == "closed"


def test_bad_or_repeated_urls_are_config_errors_naming_them():
    with pytest.raises(ConfigError) as bad:
        Pool("comfyui", ["http://gpu-1:8188", "gpu-2:8188"], title="ComfyUI")
    assert "'gpu-2:8188'" in bad.value.message and "ComfyUI" in bad.value.message
    with pytest.raises(ConfigError) as twice:
        Pool("comfyui", ["http://gpu-1:8188", "http://gpu-1:8188/"], title="ComfyUI")
    assert "http://gpu-1:8188" in twice.value.message
    with pytest.raises(ConfigError):
        Pool("comfyui", [], title="ComfyUI")


def test_the_server_label_leaves_credentials_out():
    pool = Pool("test", ["https://user:secret@gpu-9.example:8443/comfy/"])
    assert pool.urls == ["https://user:secret@gpu-9.example:8443/comfy"]
    assert (
        REGISTRY.get_sample_value(
            "holodeck_backend_server_breaker_state",
            {"backend": "test", "server": "https://gpu-9.example:8443/comfy"},
        )
        == 0
    )


async def test_waiting_for_a_server_slot_does_not_spend_a_works_deadline():
    from shared.deadline import WorkDeadline, governing

    [url] = servers(1)
    pool = Pool("test", [url], concurrency=1)
    release = asyncio.Event()
    holding = asyncio.Event()

    async def hold(lease: Lease) -> str:
        holding.set()
        await release.wait()
        return "first"

    async def call(lease: Lease) -> str:
        await asyncio.sleep(0.1)
        return "second"

    async def with_deadline(deadline_s: float) -> str:
        timeout = asyncio.timeout(deadline_s)
        with governing(WorkDeadline(timeout, deadline_s)):
            task = asyncio.ensure_future(pool.run(call))
        async with timeout:
            return await task

    first = asyncio.create_task(pool.run(hold))
    await asyncio.wait_for(holding.wait(), 5)
    second = asyncio.create_task(with_deadline(0.3))
    # Twice its deadline waiting for the only slot: not spent.
    await asyncio.sleep(0.6)
    assert not second.done()
    release.set()
    assert await asyncio.wait_for(asyncio.gather(first, second), 5) == ["first", "second"]

    # The call itself is timed: one longer than the deadline is stopped.
    with pytest.raises(TimeoutError):
        await with_deadline(0.05)
