"""Several ComfyUI servers behind one image backend: fakes on loopback (real HTTP and
WebSocket), each running one prompt at a time as ComfyUI does."""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from PIL import Image
from prometheus_client import REGISTRY

from services.imagegen.comfyui import ComfyUIImages, Workflow
from shared.errors import RetryLater
from shared.layout import PlacedObject
from shared.pool import ServerDown
from tests.fakes.comfyui_server import FakeComfyUI, Scenario

FAST: dict[str, Any] = {
    "negative_prompt": "",
    "timeout": 20.0,
    "retry_wait": 0.01,
    "poll_interval": 0.05,
    "stall_after": 0.3,
    "socket_retry_wait": 0.01,
}
WAIT_S = 10.0


def make_object(object_id: str) -> PlacedObject:
    return PlacedObject(
        id=object_id,
        category="armchair",
        description="a lounge chair",
        size=(0.8, 0.9, 0.8),
        position=(1.0, 0.0, 1.0),
    )


@contextlib.asynccontextmanager
async def fakes(count: int, scenario: Scenario | None = None) -> AsyncIterator[list[FakeComfyUI]]:
    async with contextlib.AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(FakeComfyUI(scenario or Scenario()))
            for _ in range(count)
        ]


def ours(fake: FakeComfyUI) -> list[str]:
    """Object ids of the images queued on ``fake`` by the backend."""
    return [
        str(call.body["prompt"]["9"]["inputs"]["filename_prefix"]).removeprefix("holodeck/")
        for call in fake.calls("POST", "/prompt")
        if isinstance(call.body, dict) and call.body.get("client_id")
    ]


async def make(images: ComfyUIImages, count: int, prefix: str = "chair") -> list[bytes]:
    return await asyncio.gather(
        *(images.generate(make_object(f"{prefix}-{k}"), seed=k, size=64) for k in range(count))
    )


def is_png(data: bytes) -> bool:
    with Image.open(io.BytesIO(data)) as image:
        return image.format == "PNG" and image.size == (64, 64)


async def until(predicate: Any, timeout: float = WAIT_S) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.02)


def failures(url: str) -> float:
    value = REGISTRY.get_sample_value(
        "holodeck_backend_server_failures_total",
        {"backend": "comfyui", "server": url, "code": "comfyui_unavailable"},
    )
    return value or 0.0


async def test_images_spread_evenly_over_idle_servers():
    async with fakes(3, Scenario(run_seconds=lambda: 0.2)) as servers:
        images = ComfyUIImages([s.base_url for s in servers], concurrency=2, **FAST)
        try:
            pngs = await make(images, 6)
        finally:
            await images.close()

    assert all(is_png(png) for png in pngs)
    assert [len(ours(s)) for s in servers] == [2, 2, 2]


async def test_a_server_with_a_queue_of_its_own_is_passed_over():
    blocker = Workflow.load().fill(
        {
            "prompt": "someone else's long job",
            "negative_prompt": "",
            "seed": 1,
            "width": 64,
            "height": 64,
            "steps": 10_000,
            "filename_prefix": "other/long",
        }
    )
    async with fakes(3, Scenario(run_seconds=lambda: 0.2)) as servers:
        busy = servers[0]
        async with httpx.AsyncClient(base_url=busy.base_url) as other:
            for _ in range(3):  # one running, two waiting behind it
                assert (await other.post("/prompt", json={"prompt": blocker})).status_code == 200
            images = ComfyUIImages([s.base_url for s in servers], concurrency=2, **FAST)
            try:
                pngs = await make(images, 4)
            finally:
                await images.close()
            await other.post("/queue", json={"clear": True})
            await other.post("/interrupt")

    assert all(is_png(png) for png in pngs)
    assert ours(busy) == []
    assert len(ours(servers[1])) == len(ours(servers[2])) == 2


async def test_a_server_answering_500_is_taken_out_and_its_images_made_elsewhere():
    async with fakes(2, Scenario(run_seconds=lambda: 0.05)) as servers:
        broken, healthy = servers
        broken.failing = True
        images = ComfyUIImages(
            [broken.base_url, healthy.base_url],
            concurrency=1,
            circuit_failures=2,
            circuit_cooldown_s=60,
            **FAST,
        )
        try:
            # Two images at once: one of them goes to each server while both are in.
            for round_ in range(3):
                assert all(is_png(png) for png in await make(images, 2, prefix=f"r{round_}"))
            state = images.pool.state(broken.base_url)
        finally:
            await images.close()

    assert state == "open"
    assert len(broken.calls("POST", "/prompt")) == 2  # once per failure, never retried there
    assert failures(broken.base_url) == 2
    assert len(ours(healthy)) == 6


async def test_a_killed_server_is_left_out_until_a_trial_brings_it_back():
    async with fakes(3, Scenario(run_seconds=lambda: 0.05)) as servers:
        dead = servers[0]
        await dead.kill()
        images = ComfyUIImages(
            [s.base_url for s in servers],
            concurrency=2,
            circuit_failures=1,
            circuit_cooldown_s=1.0,
            **FAST,
        )
        try:
            assert all(is_png(png) for png in await make(images, 6, prefix="before"))
            # Out (or, on a slow machine, already past its cool-down and due a trial).
            assert images.pool.state(dead.base_url) in ("open", "half_open")

            await dead.revive()
            await until(lambda: images.pool.state(dead.base_url) == "half_open")
            assert all(is_png(png) for png in await make(images, 3, prefix="after"))
            state = images.pool.state(dead.base_url)
        finally:
            await images.close()

    assert state == "closed"
    assert [object_id.split("-")[0] for object_id in ours(dead)] == ["after"]


async def test_every_server_out_is_retry_later_with_the_time_the_first_comes_back():
    async with fakes(2) as servers:
        for server in servers:
            server.failing = True
        images = ComfyUIImages(
            [s.base_url for s in servers],
            circuit_failures=1,
            circuit_cooldown_s=60,
            **{**FAST, "retry_attempts": 2},
        )
        try:
            with pytest.raises(ServerDown) as first:
                await images.generate(make_object("chair-1"), seed=1, size=64)
            posts = sum(len(s.calls("POST", "/prompt")) for s in servers)
            with pytest.raises(RetryLater) as out:
                await images.generate(make_object("chair-2"), seed=2, size=64)
            posts_after = sum(len(s.calls("POST", "/prompt")) for s in servers)
        finally:
            await images.close()

    assert first.value.code == "comfyui_unavailable"
    # The first server tried once; the last one left gets its retries.
    assert posts == 1 + 2
    assert out.value.code == "comfyui_servers_out"
    assert out.value.delay is not None and 50 < out.value.delay <= 60
    assert "every ComfyUI server is out" in out.value.message
    assert posts_after == posts


async def test_the_fake_answers_500_everywhere_while_failing_and_refuses_after_a_kill():
    async with FakeComfyUI() as fake, httpx.AsyncClient(base_url=fake.base_url) as client:
        fake.failing = True
        answer = await client.get("/queue")
        assert answer.status_code == 500
        assert answer.text.startswith("500 Internal Server Error")
        fake.failing = False
        assert (await client.get("/api/queue")).status_code == 200
        await fake.kill()
        with pytest.raises(httpx.ConnectError):
            await client.get("/queue")
        await fake.revive()
        assert (await client.get("/queue")).json() == {"queue_running": [], "queue_pending": []}
