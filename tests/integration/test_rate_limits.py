"""Rate limits held across gateway replicas: two gateway apps, each with its own NATS
connection, count against one budget in the JetStream key-value store of one nats-server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import nats
import pytest

from services.gateway.api import create_app
from services.gateway.projection import Projection
from services.gateway.requests import JetStreamRequests, KeyValueKeys, SceneRequests
from services.gateway.security import (
    RATE_LIMIT_BUCKET,
    KeyValueCounters,
    RateLimiter,
    limiter_max_age,
    secure,
)
from shared.artifacts import LocalArtifactStore
from shared.config import NatsSettings, SecuritySettings

KEY = "k" * 32
OTHER = "o" * 32
STREAM = NatsSettings().stream


def settings(limit: str) -> SecuritySettings:
    return SecuritySettings.model_validate(
        {
            "api_keys": [
                {"name": "shared", "key": KEY, "rate_limit": limit, "permissions": ["read"]},
                {"name": "other", "key": OTHER, "permissions": ["read"]},
            ],
            "allow_anonymous": True,
            "anonymous_permissions": ["read"],
            "rate_limiting": {"default_limit": limit},
        }
    )


@pytest.fixture
async def replicas(
    request: pytest.FixtureRequest, nats_server: str, tmp_path: Path
) -> AsyncIterator[list[httpx.AsyncClient]]:
    """Two gateways sharing the nats-server (and a database), as two replicas do."""
    security = settings(getattr(request, "param", "6/minute"))
    async with AsyncExitStack() as stack:
        projection = await Projection(f"sqlite+aiosqlite:///{tmp_path}/gateway.db").open()
        stack.push_async_callback(projection.close)
        clients = []
        for n in range(2):
            nc = await nats.connect(nats_server)
            stack.push_async_callback(nc.drain)
            js = nc.jetstream()
            app = create_app(
                projection,
                LocalArtifactStore(tmp_path / "artifacts"),
                SceneRequests(JetStreamRequests(js, STREAM), KeyValueKeys(js, ttl_s=60)),
            )
            limiter = RateLimiter(KeyValueCounters(js, limiter_max_age(security)))
            secure(app, security, "0.0.0.0", limiter)
            transport = httpx.ASGITransport(app=app, client=("192.0.2.7", 4000 + n))
            client = httpx.AsyncClient(transport=transport, base_url=f"http://gateway-{n}")
            clients.append(await stack.enter_async_context(client))
        yield clients


async def test_one_budget_across_two_replicas(replicas: list[httpx.AsyncClient]) -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    remaining = []
    for n in range(6):
        response = await replicas[n % 2].get("/v1/scenes", headers=headers)
        assert response.status_code == 200, response.text
        remaining.append(int(response.headers["ratelimit-remaining"]))
    assert remaining == [5, 4, 3, 2, 1, 0]
    for client in replicas:
        refused = await client.get("/v1/scenes", headers=headers)
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "rate_limited"
        # 6/minute: the next request is allowed ten seconds after the sixth.
        assert 1 <= int(refused.headers["retry-after"]) <= 10
        assert refused.headers["ratelimit-policy"] == "6;w=60;burst=6"
    # Another key and the probes are not touched by it.
    assert (await replicas[0].get("/v1/scenes", headers={"X-API-Key": OTHER})).status_code == 200
    assert (await replicas[1].get("/health")).status_code in (200, 503)


@pytest.mark.parametrize("replicas", ["10/minute"], indirect=True)
async def test_concurrent_requests_on_both_replicas_never_exceed_the_budget(
    replicas: list[httpx.AsyncClient],
) -> None:
    headers = {"X-API-Key": KEY}
    responses = await asyncio.wait_for(
        asyncio.gather(*(replicas[n % 2].get("/v1/scenes", headers=headers) for n in range(24))),
        timeout=30,
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 10 + [429] * 14


async def test_anonymous_clients_are_counted_by_address_across_replicas(
    replicas: list[httpx.AsyncClient], nats_server: str
) -> None:
    for n in range(6):
        assert (await replicas[n % 2].get("/v1/scenes")).status_code == 200
    assert (await replicas[0].get("/v1/scenes")).status_code == 429
    nc = await nats.connect(nats_server)
    try:
        kv = await nc.jetstream().key_value(RATE_LIMIT_BUCKET)
        keys = await kv.keys()
        assert "addr.192-0-2-7" in keys and "key.shared" not in keys
    finally:
        await nc.drain()


async def test_an_existing_bucket_is_kept_long_enough_for_the_rates(nats_server: str) -> None:
    nc = await nats.connect(nats_server)
    try:
        js = nc.jetstream()
        short = KeyValueCounters(js, max_age_s=60)
        assert await short.write("key.a", 1.0, None) is not None
        longer = KeyValueCounters(js, max_age_s=7260)
        assert await longer.read("key.a") is not None
        status = await (await js.key_value(RATE_LIMIT_BUCKET)).status()
        assert status.ttl == pytest.approx(7260)
    finally:
        await nc.drain()
