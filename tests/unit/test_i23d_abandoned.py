"""Hunyuan3D-2 requests abandoned mid-job (the stage's deadline, a cancelled scene): the
server goes on with the job, and the next request must not pay for it."""

from __future__ import annotations

import asyncio

import pytest
from structlog.testing import capture_logs

from services.meshgen.remote import Hunyuan3DMeshes
from shared.layout import PlacedObject
from tests.fakes.image_to_3d import (
    ARMCHAIR_SIZE,
    FakeHunyuan3D,
    armchair,
    assert_model_placed,
    texture_png,
)

SIZE = ARMCHAIR_SIZE


def placed() -> PlacedObject:
    return armchair()


async def started(fake: FakeHunyuan3D, jobs: int) -> None:
    """Until the server has started ``jobs`` jobs."""
    async with asyncio.timeout(10):
        while fake.jobs_started < jobs:
            await asyncio.sleep(0.01)


async def polling(fake: FakeHunyuan3D) -> None:
    """Until the client polls the server for its job's status."""
    async with asyncio.timeout(10):
        while not any(request.method == "GET" for request in fake.requests):
            await asyncio.sleep(0.01)


async def cancelled(task: asyncio.Task[bytes]) -> None:
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_sync_request_cancelled_mid_job_makes_the_next_one_wait_for_the_server() -> None:
    # The next job alone fits its timeout; behind the abandoned one it would not.
    async with FakeHunyuan3D(job_seconds=0.5) as fake:
        backend = Hunyuan3DMeshes(fake.base_url, mode="sync", timeout=0.75)
        try:
            first = asyncio.create_task(backend.generate(placed(), texture_png()))
            await started(fake, 1)
            await cancelled(first)
            with capture_logs() as logs:
                glb = await backend.generate(placed(), texture_png())
        finally:
            await backend.close()

    assert_model_placed(glb, SIZE)
    assert fake.jobs_started == 2
    assert fake.most_running == 1
    assert [line["event"] for line in logs if line["event"].startswith("mesh_server")] == [
        "mesh_server_idle"
    ]


async def test_a_sync_request_answered_leaves_no_wait_behind() -> None:
    async with FakeHunyuan3D() as fake:
        backend = Hunyuan3DMeshes(fake.base_url, mode="sync", timeout=5)
        try:
            with capture_logs() as logs:
                await backend.generate(placed(), texture_png())
                await backend.generate(placed(), texture_png())
        finally:
            await backend.close()

    assert not [line for line in logs if line["event"].startswith("mesh_server")]
    assert [request.path for request in fake.requests] == ["/generate", "/generate"]


async def test_an_async_wait_that_was_cancelled_is_polled_again_not_sent_again() -> None:
    async with FakeHunyuan3D(job_seconds=0.3) as fake:
        backend = Hunyuan3DMeshes(fake.base_url, mode="async", timeout=5, poll_interval=0.02)
        obj = placed()
        try:
            first = asyncio.create_task(backend.generate(obj, texture_png()))
            await polling(fake)
            await cancelled(first)
            with capture_logs() as logs:
                glb = await backend.generate(obj, texture_png())
        finally:
            await backend.close()

    assert_model_placed(glb, SIZE)
    assert [request.path for request in fake.requests if request.method == "POST"] == ["/send"]
    assert fake.jobs_started == 1
    assert any(line["event"] == "mesh_job_resumed" for line in logs)
    assert fake.jobs_finished == 1
