"""Imagegen on the ComfyUI backend inside the pipeline: images made by a (fake) ComfyUI
over HTTP + WebSocket, per-object progress relayed on the bus to the gateway's board, and
per-object seeds kept apart by the asset cache (a real nats-server holds its index)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from datetime import UTC, datetime
from pathlib import Path

import httpx
import nats
from prometheus_client import REGISTRY

from services.gateway.progress import ProgressBoard, follow_progress
from services.imagegen.backend import ImageBackend, ProceduralImages
from services.imagegen.comfyui import ComfyUIImages, Workflow
from services.imagegen.work import ImageMaker
from services.planner.plan import plan_scene
from shared.artifacts import LocalArtifactStore
from shared.cache import AssetCache
from shared.config import PerformanceSettings
from shared.contract import ImagesReady, ImageWork, ObjectProgress, Subject, encode, subject
from shared.stage import Delivery
from tests.fakes.comfyui_server import FakeComfyUI, Scenario
from tests.integration.test_pipeline import collecting, hosting, layout_event, publish


async def test_comfyui_images_with_progress_reaching_the_gateway(settings, nats_server, unique):
    layout = layout_event(unique, "a bathroom with a toilet and a sink")
    n = len(layout.layout.objects)
    async with FakeComfyUI(Scenario(step_delay=0.01)) as comfy:
        comfy_settings = settings.model_copy(
            update={
                "image_generation": settings.image_generation.model_copy(
                    update={"default_backend": "comfyui", "comfyui_url": comfy.base_url, "size": 64}
                )
            }
        )
        board = ProgressBoard()
        seen: list[ObjectProgress] = []
        original = board.record

        def record(event: ObjectProgress) -> None:
            seen.append(event)
            original(event)

        board.record = record  # type: ignore[method-assign]
        watcher = await nats.connect(nats_server)
        stop = asyncio.Event()
        follower = asyncio.create_task(follow_progress(watcher, board, stop))
        try:
            async with (
                hosting(comfy_settings, nats_server, "imagegen"),
                collecting(nats_server, f"{Subject.IMAGES_READY}.{unique}.*") as (nc, got),
            ):
                await publish(nc, subject(Subject.LAYOUT_READY, unique), encode(layout))
                await got.wait(lambda ev: len(ev) >= n)
        finally:
            stop.set()
            with contextlib.suppress(asyncio.CancelledError):
                await follower
            await watcher.close()
    images = got.of(ImagesReady)
    store = LocalArtifactStore(settings.storage.root / "artifacts")
    png = await store.get(images[0].image.sha256)
    assert png.startswith(b"\x89PNG")
    prompts = [r for r in comfy.requests if r.path.endswith("/prompt") and r.method == "POST"]
    assert len(prompts) == n
    mine = [e for e in seen if e.scene_id == unique]
    assert {e.object_id for e in mine} == {o.id for o in layout.layout.objects}
    assert any(0 < e.fraction < 1 for e in mine), "no intermediate progress was relayed"


async def make_images(
    maker: ImageMaker, scene_id: str, seed: int, objects: list
) -> list[ImagesReady]:
    made = []
    for obj in objects:
        work = ImageWork(
            scene_id=scene_id, object_id=obj.id, object=obj, seed=seed, object_count=len(objects)
        )
        delivery = Delivery(subject="w", stream_seq=1, stored_at=datetime.now(UTC), attempt=1)
        [out] = await maker(work, delivery)
        assert isinstance(out.event, ImagesReady)
        made.append(out.event)
    return made


@contextlib.asynccontextmanager
async def cache_for(url: str, store: LocalArtifactStore):
    nc = await nats.connect(url)
    cache = await AssetCache.open(
        nc.jetstream(), store, PerformanceSettings(), sweep_interval_s=None
    )
    try:
        yield cache
    finally:
        await cache.close()
        await nc.close()


async def test_per_object_seeds_and_the_cache_agree(nats_server, tmp_path: Path):
    """Twins of one scene are two ComfyUI requests (two seeds, two images); the same scene
    seed and object ids again are served from the cache without a call."""
    chair = plan_scene("a dining room with a table and four chairs", 0).objects[0]
    twins = [chair.model_copy(update={"id": f"twin-{i}"}) for i in range(2)]
    store = LocalArtifactStore(tmp_path / "artifacts")
    async with FakeComfyUI() as comfy, cache_for(nats_server, store) as cache:
        backend = ComfyUIImages(comfy.base_url, retry_wait=0.01, poll_interval=0.05)
        try:
            maker = ImageMaker("imagegen@test", store, backend, 64, cache=cache)
            first = await make_images(maker, "first", 3, twins)
            posts = len(comfy.calls("POST", "/prompt"))
            again = await make_images(maker, "again", 3, twins)
            reposts = len(comfy.calls("POST", "/prompt")) - posts
            other = await make_images(maker, "other", 4, twins[:1])
        finally:
            await backend.close()

    assert posts == 2 and not any(e.cached for e in first)
    assert first[0].image.sha256 != first[1].image.sha256
    assert reposts == 0 and all(e.cached for e in again)
    assert [e.image for e in again] == [e.image for e in first]
    assert not other[0].cached and other[0].image.sha256 != first[0].image.sha256


async def test_procedural_twins_still_share_one_image(nats_server, tmp_path: Path):
    """The procedural backend takes the scene's seed: identical objects share their image."""
    chair = plan_scene("a dining room with a table and four chairs", 0).objects[0]
    twins = [chair.model_copy(update={"id": f"twin-{i}"}) for i in range(2)]
    store = LocalArtifactStore(tmp_path / "artifacts")
    backend: ImageBackend = ProceduralImages()
    async with cache_for(nats_server, store) as cache:
        maker = ImageMaker("imagegen@test", store, backend, 64, cache=cache)
        made = await make_images(maker, "procedural", 3, twins)

    assert [e.cached for e in made] == [False, True]
    assert made[0].image == made[1].image


async def test_a_scene_is_made_on_the_servers_still_up(settings, nats_server, unique):
    """Three ComfyUI servers configured, one of them down: every image of the scene is
    made by the other two and the one down is left out."""
    layout = layout_event(unique, "a living room with a sofa, two armchairs and a lamp")
    n = len(layout.layout.objects)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    async with (
        FakeComfyUI(Scenario(step_delay=0.005)) as one,
        FakeComfyUI(Scenario(step_delay=0.005)) as two,
    ):
        pool_settings = settings.model_copy(
            update={
                "image_generation": settings.image_generation.model_copy(
                    update={
                        "default_backend": "comfyui",
                        "comfyui_url": f"{dead},{one.base_url},{two.base_url}",
                        "size": 64,
                        "circuit_failures": 1,
                        "circuit_cooldown_s": 600,
                    }
                )
            }
        )
        # Someone else's job on each live server: the one down looks least loaded, so the
        # first image certainly goes there.
        blocker = Workflow.load().fill(
            {
                "prompt": "someone else's job",
                "negative_prompt": "",
                "seed": 1,
                "width": 64,
                "height": 64,
                "steps": 200,
                "filename_prefix": "other/job",
            }
        )
        for fake in (one, two):
            async with httpx.AsyncClient(base_url=fake.base_url) as client:
                assert (await client.post("/prompt", json={"prompt": blocker})).status_code == 200
        async with (
            hosting(pool_settings, nats_server, "imagegen"),
            collecting(nats_server, f"{Subject.IMAGES_READY}.{unique}.*") as (nc, got),
        ):
            await publish(nc, subject(Subject.LAYOUT_READY, unique), encode(layout))
            await got.wait(lambda ev: len(ev) >= n)

    images = got.of(ImagesReady)
    assert {e.object_id for e in images} == {o.id for o in layout.layout.objects}
    ours = [
        call
        for fake in (one, two)
        for call in fake.calls("POST", "/prompt")
        if call.body.get("client_id")
    ]
    assert len(ours) == n
    breaker = REGISTRY.get_sample_value(
        "holodeck_backend_server_breaker_state", {"backend": "comfyui", "server": dead}
    )
    assert breaker == 2  # out
