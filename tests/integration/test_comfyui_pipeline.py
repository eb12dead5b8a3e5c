"""Imagegen on the ComfyUI backend inside the pipeline: images made by a (fake) ComfyUI
over HTTP + WebSocket, per-object progress relayed on the bus to the gateway's board."""

from __future__ import annotations

import asyncio
import contextlib

import nats

from services.gateway.progress import ProgressBoard, follow_progress
from shared.artifacts import LocalArtifactStore
from shared.contract import ImagesReady, ObjectProgress, Subject, encode, subject
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
