"""A database outage seen through the gateway's HTTP API: what the read model holds is
still served, every read that needs the database answers 503 in the JSON error model
with Retry-After (never a traceback, never a bare 500), /health says why, and the routes
answer again once the database is back."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import nats
import pytest
from sqlalchemy.engine import make_url

from services.gateway.api import create_app
from services.gateway.projection import Projection
from services.gateway.requests import JetStreamRequests, KeyValueKeys, SceneRequests
from shared.artifacts import LocalArtifactStore
from shared.contract import SceneRequested, Subject, encode, subject
from tests.fakes.tcp_proxy import TcpProxy

pytestmark = pytest.mark.postgres

# Served from the read model: the database is not asked.
HELD = (
    "/v1/scenes",
    "/v1/scenes?status=STUCK&page=2",
    "/v1/scenes/a-scene",
    "/v1/scenes/a-scene/artifacts/scene.glb",
)
# Asked of the database: a scene not held here, dead letters, artifacts by digest.
NEEDS_DATABASE = (
    "/v1/scenes/another-scene",
    "/v1/scenes/another-scene/artifacts/scene.glb",
    "/v1/deadletters",
    "/v1/artifacts/" + "0" * 64,
)
READS = HELD + NEEDS_DATABASE


@pytest.fixture
async def database_through_proxy(postgres_url: str) -> AsyncIterator[tuple[str, TcpProxy]]:
    """A private PostgreSQL database reached through a proxy that can be cut."""
    url = make_url(postgres_url)
    name = f"holodeck_outage_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(
        host=url.host, port=url.port or 5432, user=url.username, database=url.database
    )
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
        await proxy.restore()
        try:
            yield (
                url.set(host="127.0.0.1", port=proxy.port, database=name).render_as_string(
                    hide_password=False
                ),
                proxy,
            )
        finally:
            await proxy.cut()
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def test_reads_the_database_would_answer_are_503_json_with_retry_after_while_it_is_away(
    database_through_proxy: tuple[str, TcpProxy], nats_server: str, tmp_path: Path
) -> None:
    database_url, proxy = database_through_proxy
    projection = await Projection(database_url).open()
    request = SceneRequested(scene_id="a-scene", prompt="a held room")
    await projection.apply(
        subject(Subject.SCENE_REQUESTED, "a-scene"), encode(request), 1, datetime.now(UTC)
    )
    nc = await nats.connect(nats_server)
    js = nc.jetstream()
    app = create_app(
        projection,
        LocalArtifactStore(tmp_path / "artifacts"),
        SceneRequests(JetStreamRequests(js, "HOLODECK"), KeyValueKeys(js, ttl_s=60)),
    )
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            for path in READS:
                assert (await client.get(path)).status_code in (200, 404), path

            held = {path: (await client.get(path)).content for path in HELD}
            await proxy.cut()
            for path in HELD:
                response = await asyncio.wait_for(client.get(path), 30)
                assert response.content == held[path], path
            for path in NEEDS_DATABASE:
                response = await asyncio.wait_for(client.get(path), 30)
                assert response.status_code == 503, (path, response.text)
                assert response.headers["content-type"] == "application/json"
                assert response.headers["retry-after"] == "1"
                error = response.json()["error"]
                assert error["code"] == "database_unavailable", (path, error)
                assert "did not answer" in error["message"]
            health = await client.get("/health")
            assert health.status_code == 503
            assert health.json()["checks"]["database"] is False

            await proxy.restore()
            deadline = time.monotonic() + 15
            while (await client.get("/v1/scenes")).status_code != 200:
                assert time.monotonic() < deadline, "the gateway did not read the database again"
                await asyncio.sleep(0.1)
            for path in READS:
                assert (await client.get(path)).status_code in (200, 404), path
    finally:
        await projection.close()
        await nc.close()
