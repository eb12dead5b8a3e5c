"""Retry and cancel through the gateway's HTTP API, on a real nats-server with every stage
running in this process and the gateway wired as ``holodeck up`` wires it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

import services.runtime
from services.cli import _session_list
from services.meshgen.backend import ParametricMeshes
from shared.layout import PlacedObject
from tests.helpers import running_gateway

PROMPT = "a small office with a desk, an office chair and a bookshelf"
WAIT_S = 30.0


class HeldMeshes(ParametricMeshes):
    """Parametric meshes that hold every bookshelf until released, while ``hold`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.hold = True
        self.holding = asyncio.Event()
        self.release = asyncio.Event()

    async def generate(self, obj: PlacedObject, image_png: bytes) -> bytes:
        if self.hold and obj.category == "bookshelf":
            self.holding.set()
            await self.release.wait()
        return await super().generate(obj, image_png)


@dataclass
class Gateway:
    client: httpx.AsyncClient
    meshes: HeldMeshes
    settings: Any

    async def create(self) -> str:
        response = await self.client.post("/v1/scenes", json={"prompt": PROMPT})
        assert response.status_code == 202, response.text
        scene_id: str = response.json()["scene_id"]
        return scene_id

    async def scene(self, scene_id: str) -> dict[str, Any]:
        response = await self.client.get(f"/v1/scenes/{scene_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def until(
        self, scene_id: str, check: Callable[[dict[str, Any]], bool], what: str
    ) -> dict[str, Any]:
        """The scene once ``check`` holds, asked again each 50 ms for at most WAIT_S."""
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            body = await self.scene(scene_id)
            if check(body):
                return body
            await asyncio.sleep(0.05)
        raise AssertionError(f"scene {scene_id} not {what} within {WAIT_S} s: {body}")


async def wait_for(event: asyncio.Event, what: str) -> None:
    try:
        await asyncio.wait_for(event.wait(), WAIT_S)
    except TimeoutError:
        raise AssertionError(f"{what} did not happen within {WAIT_S} s") from None


@pytest.fixture
async def gateway(
    request: pytest.FixtureRequest,
    nats_server: str,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Gateway]:
    meshes = HeldMeshes()
    monkeypatch.setattr(services.runtime, "mesh_backend", lambda *a, **k: meshes)
    stuck_after_s = getattr(request, "param", 900.0)
    settings = settings.model_copy(
        update={
            "performance": settings.performance.model_copy(update={"cache_ttl": 0}),
            "gateway": settings.gateway.model_copy(update={"stuck_after_s": stuck_after_s}),
            "nats": settings.nats.model_copy(update={"url": nats_server}),
        }
    )
    async with running_gateway(settings, nats_server, WAIT_S) as (client, _host):
        try:
            yield Gateway(client, meshes, settings)
        finally:
            meshes.release.set()


def ended(body: dict[str, Any]) -> bool:
    return body["status"] in ("SUCCEEDED", "FAILED", "CANCELLED")


async def test_a_scene_cancelled_mid_run_and_retried(gateway: Gateway) -> None:
    scene_id = await gateway.create()
    await wait_for(gateway.meshes.holding, "a bookshelf mesh")
    running = await gateway.client.post(f"/v1/scenes/{scene_id}/retry")
    assert (running.status_code, running.json()["error"]["code"]) == (409, "scene_running")

    cancel = await gateway.client.post(
        f"/v1/scenes/{scene_id}/cancel", json={"reason": "wrong room"}
    )
    assert cancel.status_code == 202, cancel.text
    assert (cancel.json()["status"], cancel.json()["attempt"]) == ("CANCELLED", 1)
    # The 202 waits for the projection: the next read shows it.
    scene = await gateway.scene(scene_id)
    assert (scene["status"], scene["error"]["message"]) == ("CANCELLED", "wrong room")
    assert [(a["attempt"], a["status"]) for a in scene["attempts"]] == [(1, "CANCELLED")]
    assert (await gateway.client.post(f"/v1/scenes/{scene_id}/cancel")).status_code == 202

    gateway.meshes.hold = False
    retry = await gateway.client.post(f"/v1/scenes/{scene_id}/retry")
    assert retry.status_code == 202, retry.text
    body = retry.json()
    assert (body["attempt"], body["from_stage"], body["previous"]) == (2, "planner", "CANCELLED")
    assert (await gateway.scene(scene_id))["attempt"] == 2
    scene = await gateway.until(scene_id, ended, "ended")
    assert scene["status"] == "SUCCEEDED", scene
    assert [(a["attempt"], a["from_stage"], a["status"]) for a in scene["attempts"]] == [
        (1, "planner", "CANCELLED"),
        (2, "planner", "SUCCEEDED"),
    ]
    assert scene["attempts"][1]["started_at"] >= scene["attempts"][0]["ended_at"]
    download = await gateway.client.get(scene["artifacts"]["scene.glb"])
    assert download.status_code == 200 and download.content[:4] == b"glTF"

    done = await gateway.client.post(f"/v1/scenes/{scene_id}/cancel")
    assert done.status_code == 409
    assert (done.json()["error"]["code"], done.json()["error"]["scene_status"]) == (
        "scene_ended",
        "SUCCEEDED",
    )
    missing = await gateway.client.post("/v1/scenes/no-such-scene/retry")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "scene_not_found")
    missing = await gateway.client.post("/v1/scenes/no-such-scene/cancel")
    assert missing.status_code == 404


@pytest.mark.parametrize("gateway", [1.0], indirect=True)
async def test_a_stuck_scene_is_listed_counted_and_retried_from_where_it_stuck(
    gateway: Gateway,
) -> None:
    scene_id = await gateway.create()
    await wait_for(gateway.meshes.holding, "a bookshelf mesh")
    scene = await gateway.until(scene_id, lambda b: b["status"] == "STUCK", "STUCK")
    assert scene["stages"]["meshgen"] == "IN_PROGRESS"
    listed = (await gateway.client.get("/v1/scenes", params={"status": "STUCK"})).json()
    assert scene_id in [item["scene_id"] for item in listed["items"]]
    metrics = (await gateway.client.get("/metrics")).text
    assert "holodeck_scenes_stuck 1.0" in metrics
    page = await _session_list(gateway.settings, 20, "STUCK")
    assert [(item.scene_id, item.status) for item in page.items] == [(scene_id, "STUCK")]

    gateway.meshes.hold = False
    retry = await gateway.client.post(f"/v1/scenes/{scene_id}/retry")
    assert retry.status_code == 202, retry.text
    assert (retry.json()["from_stage"], retry.json()["previous"]) == ("meshgen", "RUNNING")
    assert retry.json()["reused"]["planner"] == 1
    # The held call of the first attempt ends (as a hung backend call does at its
    # deadline): its late mesh is of a superseded attempt and changes nothing.
    gateway.meshes.release.set()
    scene = await gateway.until(scene_id, ended, "ended")
    assert (scene["status"], scene["attempt"]) == ("SUCCEEDED", 2), scene
    assert [(a["from_stage"], a["status"]) for a in scene["attempts"]] == [
        ("planner", "SUPERSEDED"),
        ("meshgen", "SUCCEEDED"),
    ]
    metrics = (await gateway.client.get("/metrics")).text
    assert "holodeck_scenes_stuck 0.0" in metrics


@pytest.mark.parametrize("gateway", [1.0], indirect=True)
async def test_a_retry_makes_again_an_image_gone_from_the_store(gateway: Gateway) -> None:
    """The asset cache may evict an image while its scene is stuck: the gateway's retry
    images that object again instead of handing on an artifact that is gone."""
    from shared.artifacts import LocalArtifactStore

    scene_id = await gateway.create()
    await wait_for(gateway.meshes.holding, "a bookshelf mesh")
    scene = await gateway.until(scene_id, lambda b: b["status"] == "STUCK", "STUCK")
    [shelf] = [o for o in scene["objects"] if o["category"] == "bookshelf"]
    store = LocalArtifactStore(gateway.settings.storage.root / "artifacts")
    sha = shelf["image"]["url"].rsplit("/", 1)[-1]
    await store.delete(sha)

    gateway.meshes.hold = False
    retry = await gateway.client.post(f"/v1/scenes/{scene_id}/retry")
    assert retry.status_code == 202, retry.text
    body = retry.json()
    assert (body["from_stage"], body["redone"]["imagegen"]) == ("meshgen", 1), body
    gateway.meshes.release.set()
    scene = await gateway.until(scene_id, ended, "ended")
    assert (scene["status"], scene["attempt"]) == ("SUCCEEDED", 2), scene
    assert await store.exists(sha)
