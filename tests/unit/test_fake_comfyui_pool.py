"""The fake ComfyUI's capacity knobs: several prompts at once, each for a drawn time."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from services.imagegen.comfyui import ComfyUIImages
from shared.layout import PlacedObject
from tests.fakes.comfyui_server import FakeComfyUI, Scenario

RUN_S = 0.4
WAIT_S = 10.0


def make_object(object_id: str) -> PlacedObject:
    return PlacedObject(
        id=object_id,
        category="armchair",
        description="a lounge chair",
        size=(0.8, 0.9, 0.8),
        position=(1.0, 0.0, 1.0),
    )


def run_times(entry: dict[str, Any]) -> tuple[int, int]:
    """Start and end (ms) of a prompt's run, from its history messages."""
    stamps = {kind: data["timestamp"] for kind, data in entry["status"]["messages"]}
    return stamps["execution_start"], stamps["execution_success"]


async def running_count(fake: FakeComfyUI, wanted: int) -> int:
    """Polls ``/queue`` until ``wanted`` prompts run at once (or the bound passes)."""
    most = 0
    deadline = asyncio.get_running_loop().time() + WAIT_S
    async with httpx.AsyncClient(base_url=fake.base_url) as client:
        while most < wanted and asyncio.get_running_loop().time() < deadline:
            queue = (await client.get("/queue")).json()
            most = max(most, len(queue["queue_running"]))
            await asyncio.sleep(0.01)
    return most


async def test_parallel_prompts_run_together_each_for_its_drawn_time():
    draws: list[float] = []

    def draw() -> float:
        draws.append(RUN_S)
        return RUN_S

    async with FakeComfyUI(Scenario(parallel=2, run_seconds=draw)) as fake:
        images = ComfyUIImages(fake.base_url, negative_prompt="", timeout=WAIT_S)
        try:
            made = asyncio.gather(
                *(images.generate(make_object(f"chair-{k}"), seed=k, size=64) for k in (1, 2))
            )
            most = await running_count(fake, 2)
            pngs = await made
        finally:
            await images.close()

    assert most == 2 and len(pngs) == 2 and draws == [RUN_S, RUN_S]
    (start_a, end_a), (start_b, end_b) = (run_times(e) for e in fake.history.values())
    assert end_a - start_a >= RUN_S * 1000 - 1 and end_b - start_b >= RUN_S * 1000 - 1
    assert start_a < end_b and start_b < end_a  # the two runs overlap


async def test_one_prompt_at_a_time_by_default():
    async with FakeComfyUI(Scenario(run_seconds=lambda: RUN_S)) as fake:
        images = ComfyUIImages(fake.base_url, negative_prompt="", timeout=WAIT_S)
        try:
            await asyncio.gather(
                *(images.generate(make_object(f"chair-{k}"), seed=k, size=64) for k in (1, 2))
            )
        finally:
            await images.close()

    first, second = sorted(run_times(e) for e in fake.history.values())
    assert second[0] >= first[1]  # the second waited for the first
