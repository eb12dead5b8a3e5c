"""The gateway's door without a server: keys and permissions, rate limits (GCRA on an
in-memory store with a fake clock), CORS, the body limit and the security headers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from prometheus_client import REGISTRY

from services.gateway.security import (
    Guard,
    KeyRing,
    MemoryCounters,
    Rate,
    RateLimiter,
    check_bind,
    decide,
    key_digest,
    key_priority,
    new_key,
    requester,
    secure,
)
from shared.config import ApiKeySettings, SecuritySettings
from shared.errors import ConfigError

WRITER = "w" * 24
READER = "r" * 24


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def security(**changes: Any) -> SecuritySettings:
    data: dict[str, Any] = {
        "api_keys": [
            {"name": "production", "key": WRITER, "permissions": ["read", "write"]},
            {"name": "development", "key": READER, "permissions": ["read"]},
        ],
        "rate_limiting": {"default_limit": "1000/hour"},
    }
    data.update(changes)
    return SecuritySettings.model_validate(data)


def app_with(settings: SecuritySettings, bind: str = "127.0.0.1", clock: Clock | None = None):
    app = FastAPI()
    received: list[bytes] = []

    @app.get("/v1/scenes")
    async def scenes(request: Request) -> dict[str, Any]:
        return {"items": [], "caller": request.state.api_key}

    @app.post("/v1/scenes", status_code=202)
    async def create(request: Request) -> JSONResponse:
        received.append(await request.body())
        return JSONResponse({"scene_id": "s1"}, status_code=202)

    @app.post("/v1/scenes/{scene_id}/cancel", status_code=202)
    async def cancel(scene_id: str) -> dict[str, str]:
        return {"scene_id": scene_id}

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics")
    async def metrics() -> str:
        return "holodeck_requests_total 1"

    limiter = RateLimiter(MemoryCounters(), clock=clock or Clock())
    secure(app, settings, bind, limiter)
    return app, received


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app, _ = app_with(security())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as c:
        yield c


def error_code(response: httpx.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


# -- keys and permissions --------------------------------------------------------------


async def test_no_key_is_401_with_a_json_error(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/scenes")
    assert response.status_code == 401
    assert error_code(response) == "unauthorized"
    assert "API key is required" in response.json()["error"]["message"]
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_a_wrong_key_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/scenes", headers={"X-API-Key": "x" * 24})
    assert (response.status_code, error_code(response)) == (401, "invalid_api_key")
    basic = await client.get("/v1/scenes", headers={"Authorization": "Basic abc"})
    assert (basic.status_code, error_code(basic)) == (401, "unauthorized")
    assert "Bearer" in basic.json()["error"]["message"]


async def test_bearer_and_x_api_key_both_work(client: httpx.AsyncClient) -> None:
    bearer = await client.get("/v1/scenes", headers={"Authorization": f"Bearer {READER}"})
    header = await client.get("/v1/scenes", headers={"X-API-Key": READER})
    assert bearer.status_code == header.status_code == 200
    assert bearer.json()["caller"] == "development"


async def test_writes_need_the_write_permission(client: httpx.AsyncClient) -> None:
    for path in ("/v1/scenes", "/v1/scenes/s1/cancel"):
        refused = await client.post(path, json={"prompt": "a room"}, headers={"X-API-Key": READER})
        assert (refused.status_code, error_code(refused)) == (403, "forbidden")
        assert "'development' lacks the write permission" in refused.json()["error"]["message"]
        allowed = await client.post(path, json={"prompt": "a room"}, headers={"X-API-Key": WRITER})
        assert allowed.status_code == 202


async def test_health_and_metrics_stay_open(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health")).status_code == 200
    assert (await client.get("/metrics")).status_code == 200


async def test_a_key_given_as_its_digest() -> None:
    key = new_key()
    ring = KeyRing(
        [ApiKeySettings(name="ci", key_sha256=key_digest(key), permissions=["read", "write"])]
    )
    found = ring.find(key)
    assert found is not None and found.name == "ci"
    assert ring.find(key[:-1] + ("A" if key[-1] != "A" else "B")) is None
    assert key.startswith("hdk_") and len(key) > 40


async def test_keys_are_never_logged_their_names_are(client: httpx.AsyncClient) -> None:
    with structlog.testing.capture_logs() as logs:
        await client.post("/v1/scenes", json={}, headers={"X-API-Key": READER})
        await client.get("/v1/scenes", headers={"X-API-Key": WRITER + "x"})
    text = json.dumps(logs)
    assert "development" in text
    assert READER not in text and WRITER not in text


def test_anonymous_only_on_loopback_unless_allowed() -> None:
    open_door = SecuritySettings()
    check_bind(open_door, "127.0.0.1")
    check_bind(open_door, "::1")
    check_bind(open_door, "localhost")
    with pytest.raises(ConfigError, match=r"0\.0\.0\.0 with no API key configured"):
        check_bind(open_door, "0.0.0.0")
    check_bind(SecuritySettings(allow_anonymous=True), "0.0.0.0")
    check_bind(security(), "0.0.0.0")


async def test_without_keys_on_loopback_the_gateway_works_as_before() -> None:
    app, _ = app_with(SecuritySettings())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as c:
        assert (await c.get("/v1/scenes")).json()["caller"] == "anonymous"
        assert (await c.post("/v1/scenes", json={"prompt": "a room"})).status_code == 202


async def test_allow_anonymous_beside_keys_reads_only_when_told() -> None:
    app, _ = app_with(security(allow_anonymous=True, anonymous_permissions=["read"]))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as c:
        assert (await c.get("/v1/scenes")).status_code == 200
        assert (await c.post("/v1/scenes", json={})).status_code == 403
        assert (
            await c.post("/v1/scenes", json={}, headers={"X-API-Key": WRITER})
        ).status_code == 202


# -- rate limits -----------------------------------------------------------------------


def test_gcra_allows_the_burst_then_the_rate() -> None:
    rate = Rate.parse("60/minute", burst=3)
    assert (rate.amount, rate.period_s, rate.burst, rate.interval_s) == (60, 60.0, 3, 1.0)
    tat, now = None, 100.0
    remaining = []
    for _ in range(3):
        decision, tat = decide(rate, tat, now)
        assert decision.allowed
        remaining.append(decision.remaining)
    assert remaining == [2, 1, 0]
    refused, same = decide(rate, tat, now)
    assert not refused.allowed and same == tat
    assert refused.retry_after_s == pytest.approx(1.0)
    later, _ = decide(rate, tat, now + 1.0)
    assert later.allowed and later.remaining == 0


def test_the_guide_syntax_and_a_bad_rate() -> None:
    assert Rate.parse("1000/hour").policy() == "1000;w=3600;burst=1000"
    assert Rate.parse("100/hour", burst=200).burst == 200
    with pytest.raises(ValueError, match="such as 100/hour"):
        SecuritySettings.model_validate({"rate_limiting": {"default_limit": "lots"}})


async def test_429_with_retry_after_and_ratelimit_headers() -> None:
    clock = Clock()
    settings = security(rate_limiting={"default_limit": "3600/hour", "burst_limit": "2"})
    app, _ = app_with(settings, clock=clock)
    transport = httpx.ASGITransport(app=app)
    headers = {"X-API-Key": READER}
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as c:
        first = await c.get("/v1/scenes", headers=headers)
        assert first.status_code == 200
        assert first.headers["ratelimit-limit"] == "2"
        assert first.headers["ratelimit-remaining"] == "1"
        assert first.headers["ratelimit-policy"] == "3600;w=3600;burst=2"
        assert (await c.get("/v1/scenes", headers=headers)).status_code == 200
        limited = await c.get("/v1/scenes", headers=headers)
        assert (limited.status_code, error_code(limited)) == (429, "rate_limited")
        assert limited.headers["retry-after"] == "1"
        assert limited.headers["ratelimit-remaining"] == "0"
        assert "'development'" in limited.json()["error"]["message"]
        # Another key has its own budget; the limited one recovers with time.
        assert (await c.get("/v1/scenes", headers={"X-API-Key": WRITER})).status_code == 200
        clock.now += 1.0
        assert (await c.get("/v1/scenes", headers=headers)).status_code == 200


async def test_anonymous_access_is_limited_per_address() -> None:
    clock = Clock()
    app, _ = app_with(
        SecuritySettings.model_validate({"rate_limiting": {"default_limit": "1/minute"}}),
        clock=clock,
    )
    one = httpx.ASGITransport(app=app, client=("10.0.0.1", 1234))
    two = httpx.ASGITransport(app=app, client=("10.0.0.2", 1234))
    async with (
        httpx.AsyncClient(transport=one, base_url="http://gateway") as a,
        httpx.AsyncClient(transport=two, base_url="http://gateway") as b,
    ):
        assert (await a.get("/v1/scenes")).status_code == 200
        assert (await a.get("/v1/scenes")).status_code == 429
        assert (await b.get("/v1/scenes")).status_code == 200
        assert (await a.get("/health")).status_code == 200


async def test_rate_limits_can_be_turned_off() -> None:
    app, _ = app_with(
        security(rate_limiting={"enabled": False, "default_limit": "1/hour"}), clock=Clock()
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as c:
        for _ in range(3):
            response = await c.get("/v1/scenes", headers={"X-API-Key": READER})
            assert response.status_code == 200
            assert "ratelimit-limit" not in response.headers


# -- body limit, CORS, headers ------------------------------------------------------------


async def test_a_body_over_the_limit_is_413_before_it_is_read() -> None:
    app, received = app_with(security(max_body_bytes=100))
    transport = httpx.ASGITransport(app=app)
    headers = {"X-API-Key": WRITER}
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as c:
        declared = await c.post("/v1/scenes", content=b"x" * 101, headers=headers)
        assert (declared.status_code, error_code(declared)) == (413, "body_too_large")
        assert "100 bytes" in declared.json()["error"]["message"]

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(10):
                yield b"y" * 40

        streamed = await c.post("/v1/scenes", content=chunks(), headers=headers)
        assert (streamed.status_code, error_code(streamed)) == (413, "body_too_large")
        assert received == []
        fits = await c.post("/v1/scenes", content=b"z" * 100, headers=headers)
        assert fits.status_code == 202 and received == [b"z" * 100]


async def test_cors_preflight_and_simple_requests() -> None:
    settings = security(
        cors={
            "allowed_origins": ["https://holodeck.example.com"],
            "allowed_methods": ["GET", "POST"],
            "allowed_headers": ["Authorization", "Content-Type"],
        }
    )
    app, _ = app_with(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as c:
        preflight = await c.options(
            "/v1/scenes",
            headers={
                "Origin": "https://holodeck.example.com",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "Authorization, Content-Type",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://holodeck.example.com"
        assert "POST" in preflight.headers["access-control-allow-methods"]
        stranger = await c.options(
            "/v1/scenes",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
        assert stranger.status_code == 400
        assert "access-control-allow-origin" not in stranger.headers
        simple = await c.get(
            "/v1/scenes",
            headers={"Origin": "https://holodeck.example.com", "X-API-Key": READER},
        )
        assert simple.headers["access-control-allow-origin"] == "https://holodeck.example.com"
        refused = await c.get("/v1/scenes", headers={"Origin": "https://holodeck.example.com"})
        assert refused.status_code == 401
        assert refused.headers["access-control-allow-origin"] == "https://holodeck.example.com"


async def test_security_headers_on_every_response(client: httpx.AsyncClient) -> None:
    for response in (
        await client.get("/health"),
        await client.get("/v1/scenes"),
        await client.get("/nowhere", headers={"X-API-Key": READER}),
    ):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert (await client.get("/openapi.json")).status_code == 200


async def test_the_gateway_refuses_to_start_open_to_the_network() -> None:
    from services.gateway.app import run_gateway
    from shared.config import load_settings

    settings = load_settings()
    # Refused before anything is opened: no bus, no database is touched.
    with pytest.raises(ConfigError, match="allow_anonymous"):
        await run_gateway(settings, None, "0.0.0.0", 0, asyncio.Event())  # type: ignore[arg-type]


async def test_the_openapi_document_names_the_key_schemes(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    assert schema["components"]["securitySchemes"]["ApiKey"]["name"] == "X-API-Key"
    create = schema["paths"]["/v1/scenes"]["post"]
    assert {"Bearer": []} in create["security"] and {} not in create["security"]
    assert {"401", "403", "413", "429"} <= set(create["responses"])
    assert "security" not in schema["paths"]["/health"]["get"]
    # Refusals are documented with the JSON error model and the headers they carry.
    refused = create["responses"]["429"]
    error = refused["content"]["application/json"]["schema"]
    assert error["required"] == ["error"]
    assert error["properties"]["error"]["required"] == ["code", "message"]
    assert "Retry-After" in refused["headers"]
    assert "WWW-Authenticate" in create["responses"]["401"]["headers"]


def test_a_request_is_recorded_as_its_key_else_its_address() -> None:
    def request(state: dict[str, Any]) -> Request:
        scope = {"type": "http", "headers": [], "client": ("10.1.2.3", 5), "state": state}
        return Request(scope)

    assert requester(request({"api_key": "production"})) == "key:production"
    assert requester(request({"api_key": "anonymous"})) == "10.1.2.3"
    assert requester(request({})) == "10.1.2.3"


class BrokenCounters(MemoryCounters):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    async def write(self, key: str, value: float, revision: int | None) -> int | None:
        self.calls += 1
        raise TimeoutError("key-value store did not answer")


async def test_a_limiter_that_fails_lets_requests_through_and_rests() -> None:
    counters = BrokenCounters()
    app = FastAPI()

    @app.get("/v1/scenes")
    async def scenes() -> list[str]:
        return []

    secure(app, security(), "127.0.0.1", RateLimiter(counters))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as c:
        for _ in range(3):
            response = await c.get("/v1/scenes", headers={"X-API-Key": READER})
            assert response.status_code == 200
            assert "ratelimit-limit" not in response.headers
        assert (await c.get("/v1/scenes")).status_code == 401  # keys still hold
    assert counters.calls == 1  # not asked again while it rests


async def test_a_websocket_needs_a_key_too() -> None:
    accepted: list[str] = []

    async def live(scope: Any, receive: Any, send: Any) -> None:
        accepted.append(scope["path"])

    guard = Guard(live, security(), None, anonymous_ok=False)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: Any) -> None:
        sent.append(message)

    def scope(headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
        return {"type": "websocket", "path": "/v1/live", "headers": headers, "client": None}

    await guard(scope([]), receive, send)
    assert sent == [{"type": "websocket.close", "code": 1008}] and accepted == []
    await guard(scope([(b"x-api-key", READER.encode())]), receive, send)
    assert accepted == ["/v1/live"]


async def test_refusals_are_counted_under_one_endpoint(client: httpx.AsyncClient) -> None:
    def refused(status: int) -> float:
        labels = {"method": "GET", "endpoint": "refused", "status": str(status)}
        return REGISTRY.get_sample_value("holodeck_requests_total", labels) or 0.0

    before = refused(401)
    await client.get("/v1/scenes")
    await client.get("/v1/scenes/abc", headers={"X-API-Key": "z" * 20})
    assert refused(401) == before + 2


async def test_a_key_can_set_the_priority_of_its_scenes() -> None:
    settings = security(
        api_keys=[
            {"name": "bulk", "key": WRITER, "permissions": ["read", "write"], "priority": "batch"},
            {"name": "app", "key": READER, "permissions": ["read", "write"]},
        ]
    )
    app = FastAPI()

    @app.post("/v1/scenes", status_code=202)
    async def create(request: Request) -> JSONResponse:
        return JSONResponse({"priority": key_priority(request)}, status_code=202)

    secure(app, settings, "127.0.0.1", RateLimiter(MemoryCounters(), clock=Clock()))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as c:
        bulk = await c.post("/v1/scenes", json={}, headers={"X-API-Key": WRITER})
        own = await c.post("/v1/scenes", json={}, headers={"X-API-Key": READER})
    assert bulk.json() == {"priority": "batch"}
    assert own.json() == {"priority": None}  # as the request says


def test_a_key_priority_is_interactive_or_batch() -> None:
    with pytest.raises(ValueError, match="priority"):
        security(api_keys=[{"name": "x", "key": WRITER, "priority": "urgent"}])
