"""Several image-to-3D servers behind one mesh backend: SF3D and Hunyuan3D-2 fakes on
loopback (real HTTP)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from structlog.testing import capture_logs

from services.meshgen.remote import Hunyuan3DMeshes, SF3DMeshes
from shared.errors import Permanent, RetryLater
from shared.layout import PlacedObject
from shared.pool import ServerDown
from tests.fakes.image_to_3d import (
    ARMCHAIR_SIZE,
    SF3D_PATH,
    FakeHunyuan3D,
    FakeSF3D,
    armchair,
    texture_png,
)

SIZE = ARMCHAIR_SIZE
WAIT_S = 10.0


class Sleeps(list[float]):
    """Stands in for asyncio.sleep between attempts: records the waits, waits not at all."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


def obj() -> PlacedObject:
    return armchair()


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@contextlib.asynccontextmanager
async def sf3d_fakes(*scenarios: Any, seconds: float = 0.0) -> AsyncIterator[list[FakeSF3D]]:
    async with contextlib.AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(FakeSF3D(scenario, seconds=seconds))
            for scenario in scenarios
        ]


def posts(fake: FakeSF3D) -> int:
    return sum(request.path == SF3D_PATH for request in fake.requests)


async def meshes(backend: SF3DMeshes | Hunyuan3DMeshes, count: int) -> list[bytes]:
    image = texture_png()
    return await asyncio.gather(*(backend.generate(obj(), image) for _ in range(count)))


async def until(predicate: Any, timeout: float = WAIT_S) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.02)


async def test_sf3d_objects_spread_to_the_server_with_fewest_in_flight():
    async with sf3d_fakes("ok", "ok", "ok", seconds=0.3) as servers:
        backend = SF3DMeshes([s.base_url for s in servers], sleep=Sleeps())
        try:
            glbs = await meshes(backend, 6)
        finally:
            await backend.close()

    assert len(glbs) == 6
    assert [posts(s) for s in servers] == [2, 2, 2]
    assert [s.most_running for s in servers] == [2, 2, 2]


async def test_sf3d_a_server_answering_500_hands_its_objects_over_at_once():
    sleeps = Sleeps()
    async with sf3d_fakes("server_error", "ok") as (broken, healthy):
        backend = SF3DMeshes(
            [broken.base_url, healthy.base_url],
            sleep=sleeps,
            circuit_failures=2,
            circuit_cooldown_s=60,
        )
        try:
            # Two at once: one goes to each server while both are in.
            for _ in range(3):
                assert len(await meshes(backend, 2)) == 2
            state = backend.pool.state(broken.base_url)
        finally:
            await backend.close()

    assert state == "open"
    assert posts(broken) == 2  # one per failure: no retry there, no wait before the next
    assert sleeps == []
    assert posts(healthy) == 6


async def test_sf3d_a_server_back_from_its_cool_down_is_brought_back_by_a_trial():
    async with sf3d_fakes("server_error", "ok") as (flaky, steady):
        backend = SF3DMeshes(
            [flaky.base_url, steady.base_url],
            sleep=Sleeps(),
            circuit_failures=1,
            circuit_cooldown_s=0.5,
        )
        try:
            await meshes(backend, 2)
            # Out (or, on a slow machine, already past its cool-down and due a trial).
            assert backend.pool.state(flaky.base_url) in ("open", "half_open")
            flaky.scenario = "ok"
            await until(lambda: backend.pool.state(flaky.base_url) == "half_open")
            before = posts(flaky)
            await meshes(backend, 2)
            state = backend.pool.state(flaky.base_url)
        finally:
            await backend.close()

    assert posts(flaky) == before + 1  # the trial
    assert state == "closed"


async def test_sf3d_every_server_out_is_retry_later_until_the_first_comes_back():
    async with sf3d_fakes("server_error", "server_error") as servers:
        backend = SF3DMeshes(
            [s.base_url for s in servers],
            sleep=Sleeps(),
            attempts=2,
            circuit_failures=1,
            circuit_cooldown_s=60,
        )
        try:
            with pytest.raises(ServerDown) as first:
                await meshes(backend, 1)
            sent = sum(posts(s) for s in servers)
            with pytest.raises(RetryLater) as out:
                await meshes(backend, 1)
        finally:
            await backend.close()

    assert first.value.code == "sf3d_unavailable"
    assert sent == 1 + 2  # the first server once, the last one left with its retries
    assert out.value.code == "sf3d_servers_out"
    assert out.value.delay is not None and 50 < out.value.delay <= 60
    assert sum(posts(s) for s in servers) == sent


async def test_sf3d_a_refused_request_is_not_sent_to_another_server():
    async with sf3d_fakes("unprocessable", "unprocessable") as servers:
        backend = SF3DMeshes([s.base_url for s in servers], sleep=Sleeps(), circuit_failures=1)
        try:
            with pytest.raises(Permanent) as refused:
                await meshes(backend, 1)
            states = [backend.pool.state(s.base_url) for s in servers]
        finally:
            await backend.close()

    assert refused.value.code == "sf3d_unprocessable"
    assert sum(posts(s) for s in servers) == 1
    assert states == ["closed", "closed"]


async def test_hunyuan3d_an_unreachable_server_is_skipped_and_the_object_made():
    dead = closed_port_url()
    async with FakeHunyuan3D() as alive:
        backend = Hunyuan3DMeshes(
            [dead, alive.base_url], sleep=Sleeps(), mode="sync", circuit_failures=1
        )
        try:
            glbs = await meshes(backend, 3)
            state = backend.pool.state(dead)
        finally:
            await backend.close()

    assert len(glbs) == 3
    assert alive.jobs_started == 3
    assert state == "open"


async def test_hunyuan3d_an_abandoned_async_job_is_polled_again_on_its_own_server():
    image = texture_png()
    chair = obj()
    async with FakeHunyuan3D(job_seconds=0.5) as one, FakeHunyuan3D(job_seconds=0.5) as two:
        backend = Hunyuan3DMeshes(
            [one.base_url, two.base_url],
            sleep=Sleeps(),
            mode="async",
            timeout=0.45,
            poll_interval=0.02,
        )
        try:
            with pytest.raises(ServerDown) as first:
                await backend.generate(chair, image)
            # Its server is now the less loaded one or not: the job's server comes first.
            glb = await backend.generate(chair, image)
        finally:
            await backend.close()

    assert first.value.code == "hunyuan3d_timeout"
    assert glb
    sends = [r for s in (one, two) for r in s.requests if r.path == "/send"]
    assert len(sends) == 1
    assert one.jobs_started + two.jobs_started == 1


async def test_errors_name_a_server_without_its_password():
    async with sf3d_fakes("server_error") as (broken,):
        url = broken.base_url.replace("http://", "http://holodeck:s3cret@")
        backend = SF3DMeshes([url], sleep=Sleeps(), attempts=1)
        try:
            with capture_logs() as logs, pytest.raises(ServerDown) as caught:
                await meshes(backend, 1)
        finally:
            await backend.close()

    assert broken.base_url in caught.value.message
    assert "s3cret" not in caught.value.message
    assert logs and not any("s3cret" in str(line) for line in logs)
