"""Webhooks on a real nats-server: two gateway replicas follow the same stream, every
stage runs in this process, and a local receiver takes the POSTs."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import Response
from pydantic import SecretStr

import services.runtime
from services.gateway.app import run_gateway
from services.gateway.webhooks import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    verify,
)
from services.meshgen.backend import ParametricMeshes
from services.stack import serve_http
from shared.layout import PlacedObject
from tests.helpers import running_gateway

SECRET = "webhook-secret-for-tests-0123456789"
WAIT_S = 60.0


class HeldMeshes(ParametricMeshes):
    """Parametric meshes that hold every mesh while ``hold`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.hold = False
        self.holding = asyncio.Event()
        self.release = asyncio.Event()

    async def generate(self, obj: PlacedObject, image_png: bytes) -> bytes:
        if self.hold:
            self.holding.set()
            await self.release.wait()
        return await super().generate(obj, image_png)


@dataclass
class Receiver:
    """A webhook receiver that fails its first ``failures`` requests with a 500."""

    url: str
    failures: int = 1
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def delivered(self) -> list[dict[str, Any]]:
        """The bodies it answered 200 to."""
        return [json.loads(b) for _, b in self.requests[self.failures :]]

    async def wait_for(self, count: int) -> None:
        async def enough() -> None:
            while len(self.delivered()) < count:
                self.arrived.clear()
                await self.arrived.wait()

        await asyncio.wait_for(enough(), WAIT_S)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def receiver() -> AsyncIterator[Receiver]:
    port = free_port()
    got = Receiver(f"http://127.0.0.1:{port}/hook")
    app = FastAPI()

    @app.post("/hook")
    async def hook(request: Request) -> Response:
        got.requests.append((dict(request.headers), await request.body()))
        got.arrived.set()
        return Response(status_code=500 if len(got.requests) <= got.failures else 204)

    stop = asyncio.Event()
    serving = asyncio.create_task(serve_http(app, "127.0.0.1", port, stop))
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(200):
                with contextlib.suppress(httpx.TransportError):
                    await client.get(f"http://127.0.0.1:{port}/")
                    break
                await asyncio.sleep(0.05)
        yield got
    finally:
        stop.set()
        await asyncio.wait_for(serving, WAIT_S)


@pytest.fixture
async def two_gateways(
    nats_server: str, settings: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, HeldMeshes]]:
    meshes = HeldMeshes()
    monkeypatch.setattr(services.runtime, "mesh_backend", lambda *a, **k: meshes)
    settings = settings.model_copy(
        update={
            "performance": settings.performance.model_copy(update={"cache_ttl": 0}),
            "nats": settings.nats.model_copy(update={"url": nats_server}),
            "webhooks": settings.webhooks.model_copy(
                update={"secret": SecretStr(SECRET), "allow_private": True, "first_delay_s": 0.05}
            ),
        }
    )
    # The second replica: its own database, the same stream and key-value store.
    other = settings.model_copy(
        update={
            "gateway": settings.gateway.model_copy(
                update={"database_url": f"sqlite+aiosqlite:///{tmp_path / 'replica.db'}"}
            )
        }
    )
    try:
        async with running_gateway(settings, nats_server) as (client, host):
            stop = asyncio.Event()
            replica = asyncio.create_task(run_gateway(other, host, "127.0.0.1", free_port(), stop))
            try:
                yield client, meshes
            finally:
                stop.set()
                await asyncio.wait_for(replica, WAIT_S)
    finally:
        meshes.release.set()


async def test_one_signed_webhook_per_ended_attempt_across_replicas(two_gateways: Any) -> None:
    client, meshes = two_gateways
    async with receiver() as got:
        response = await client.post(
            "/v1/scenes",
            json={"prompt": "a small office with a desk", "options": {"callback_url": got.url}},
        )
        assert response.status_code == 202, response.text
        scene_id = response.json()["scene_id"]
        await got.wait_for(1)

        meshes.hold = True
        response = await client.post(
            "/v1/scenes",
            json={
                "prompt": "a bedroom with a double bed and a wardrobe",
                "options": {"callback_url": got.url},
            },
        )
        cancelled_id = response.json()["scene_id"]
        await asyncio.wait_for(meshes.holding.wait(), WAIT_S)
        assert (await client.post(f"/v1/scenes/{cancelled_id}/cancel")).status_code == 202
        await got.wait_for(2)
        assert (await client.get(f"/v1/scenes/{cancelled_id}")).json()["status"] == "CANCELLED"
        meshes.release.set()

    assert len(got.requests) == 3, "one failed try, then one delivery per attempt"
    first_headers, first_body = got.requests[0]
    retry_headers, retry_body = got.requests[1]
    assert first_body == retry_body and first_headers[DELIVERY_HEADER.lower()] == f"{scene_id}.a1"
    for headers, raw in got.requests:
        assert verify(
            SECRET.encode(),
            headers[TIMESTAMP_HEADER.lower()],
            raw,
            headers[SIGNATURE_HEADER.lower()],
        )
        assert headers["content-type"] == "application/json"
    succeeded, cancelled = got.delivered()
    assert (succeeded["type"], succeeded["scene_id"], succeeded["status"]) == (
        "scene.succeeded",
        scene_id,
        "SUCCEEDED",
    )
    assert retry_headers[EVENT_HEADER.lower()] == "scene.succeeded"
    assert set(succeeded["artifacts"]) == {"scene.glb", "layout.json", "floorplan.png"}
    glb = await client.get(succeeded["artifacts"]["scene.glb"])
    assert glb.content[:4] == b"glTF"
    assert (cancelled["type"], cancelled["scene_id"], cancelled["attempt"]) == (
        "scene.cancelled",
        cancelled_id,
        1,
    )


async def test_a_callback_url_must_be_http(two_gateways: Any) -> None:
    client, _ = two_gateways
    response = await client.post(
        "/v1/scenes", json={"prompt": "a room", "options": {"callback_url": "file:///etc/passwd"}}
    )
    assert response.status_code == 422
    assert "callback_url" in response.json()["error"]["message"]
