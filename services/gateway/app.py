"""The gateway's wiring: the projection follows the stream while the HTTP API serves it."""

from __future__ import annotations

import asyncio
import contextlib

from services.gateway.api import create_app
from services.gateway.progress import ProgressBoard, follow_progress
from services.gateway.projection import Projection
from services.gateway.projector import Lag, follow
from services.gateway.requests import JetStreamRequests, KeyValueKeys, SceneRequests
from services.runtime import ServiceHost
from services.stack import serve_http
from shared import metrics
from shared.config import Settings
from shared.logs import get_logger

log = get_logger(__name__)


async def run_gateway(
    settings: Settings, host: ServiceHost, bind: str, port: int, stop: asyncio.Event
) -> None:
    """Serve the gateway on ``bind:port`` until ``stop`` is set."""
    projection = await Projection(settings.database_url).open()
    requests = SceneRequests(
        JetStreamRequests(host.js, settings.nats.stream),
        KeyValueKeys(host.js, ttl_s=settings.gateway.idempotency_ttl_s),
    )
    lag = Lag(stall_after_s=settings.gateway.projection_stall_s)
    metrics.PROJECTION_LAG.set_function(lambda: lag.report()[1]["behind"])
    metrics.PROJECTION_STALLED.set_function(lambda: lag.report()[1]["stalled_s"])
    board = ProgressBoard()
    app = create_app(
        projection,
        host.store,
        requests,
        page_size=settings.gateway.page_size,
        health=host.healthy,
        progress=board,
        lag=lag.report,
    )
    followers = [
        asyncio.create_task(follow(host.js, settings.nats.stream, projection, stop, lag)),
        asyncio.create_task(follow_progress(host.nc, board, stop)),
    ]
    try:
        await serve_http(app, bind, port, stop)
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*followers)
        await projection.close()
