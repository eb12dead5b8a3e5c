"""The gateway's wiring: the projection follows the stream while the HTTP API serves it;
retries and cancels go over the gateway's own NATS connection."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.routing import APIRoute

from services.gateway.api import create_app
from services.gateway.events import events_router
from services.gateway.page import add_page
from services.gateway.progress import ProgressBoard, follow_progress
from services.gateway.projection import Projection, StuckAfter
from services.gateway.projector import Lag, follow
from services.gateway.readmodel import ReadModel
from services.gateway.requests import JetStreamRequests, KeyValueKeys, SceneRequests
from services.gateway.security import (
    KeyValueCounters,
    RateLimiter,
    check_bind,
    limiter_max_age,
    secure,
)
from services.gateway.webhooks import KvClaims, NotifyingProjection, WebhookSender
from services.probes import add_probes
from services.recovery import Recovery
from services.runtime import ServiceHost
from services.stack import serve_http
from shared import metrics
from shared.config import GatewaySettings, Settings
from shared.logs import get_logger

log = get_logger(__name__)


async def run_gateway(
    settings: Settings, host: ServiceHost, bind: str, port: int, stop: asyncio.Event
) -> None:
    """Serve the gateway on ``bind:port`` until ``stop`` is set."""
    check_bind(settings.security, bind)
    projection = await Projection(
        settings.database_url, stuck_after=stuck_after(settings.gateway)
    ).open()
    control = await Recovery.open(
        host.js,
        settings.nats.stream,
        settings.nats.max_age_days * 86400,
        by="gateway",
        # A retry re-makes an earlier stage's output the asset cache has evicted since.
        store=host.store,
    )
    requests = SceneRequests(
        JetStreamRequests(host.js, settings.nats.stream),
        KeyValueKeys(
            host.js,
            ttl_s=settings.gateway.idempotency_ttl_s,
            replicas=settings.nats.replicas,
        ),
    )
    lag = Lag(stall_after_s=settings.gateway.projection_stall_s)
    metrics.PROJECTION_LAG.set_function(lambda: lag.report()[1]["behind"])
    metrics.PROJECTION_STALLED.set_function(lambda: lag.report()[1]["stalled_s"])
    board = ProgressBoard()
    scenes = await ReadModel(projection, board).open()
    app = create_app(
        projection,
        host.store,
        requests,
        page_size=settings.gateway.page_size,
        health=host.healthy,
        progress=board,
        lag=lag.report,
        control=control,
        scenes=scenes,
    )
    limiter = RateLimiter(
        KeyValueCounters(host.js, limiter_max_age(settings.security), settings.nats.replicas)
    )
    secure(app, settings.security, bind, limiter)
    app.include_router(events_router(host.js, host.nc, settings.nats.stream, scenes))
    add_page(app)
    webhooks = WebhookSender(
        settings.webhooks,
        await KvClaims.open(host.js, settings.nats.max_age_days * 86400),
        httpx.AsyncClient(follow_redirects=False),
    )
    notifying = NotifyingProjection(projection, webhooks, host.js, settings.nats.stream)
    followers = [
        asyncio.create_task(follow(host.js, settings.nats.stream, notifying, stop, lag)),
        asyncio.create_task(follow_progress(host.nc, board, stop)),
    ]
    add_gateway_probes(app, followers)
    try:
        await serve_http(app, bind, port, stop)
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*followers)
        await webhooks.close()
        await webhooks.client.aclose()
        await projection.close()


def add_gateway_probes(app: FastAPI, followers: list[asyncio.Task[None]]) -> None:
    """Live while the stream followers run; ready when ``/health`` passes (database, bus,
    projection keeping up)."""
    health = next(r for r in app.routes if isinstance(r, APIRoute) and r.path == "/health")

    async def live() -> tuple[bool, dict[str, Any]]:
        running = [not task.done() for task in followers]
        return all(running), {"followers_running": sum(running)}

    async def ready() -> tuple[bool, dict[str, Any]]:
        answer = await health.endpoint()
        body = json.loads(bytes(answer.body))
        return answer.status_code == 200, {k: v for k, v in body.items() if k != "status"}

    add_probes(app, live, ready)


def stuck_after(gateway: GatewaySettings) -> StuckAfter:
    """How long each stage may go without news before its scene shows as STUCK."""
    return StuckAfter(
        gateway.stuck_after_s, {str(k): v for k, v in gateway.stuck_after_stage_s.items()}
    )
