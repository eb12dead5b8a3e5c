"""The gateway's wiring: the projection follows the stream while the HTTP API serves it."""

from __future__ import annotations

import asyncio
import contextlib

from services.gateway.api import create_app
from services.gateway.progress import ProgressBoard, follow_progress
from services.gateway.projection import Projection
from services.gateway.projector import follow
from services.runtime import ServiceHost
from services.stack import serve_http
from shared.config import Settings
from shared.contract import SceneRequested, Subject, encode, msg_id, subject
from shared.errors import RetryLater
from shared.logs import get_logger

log = get_logger(__name__)


async def run_gateway(
    settings: Settings, host: ServiceHost, bind: str, port: int, stop: asyncio.Event
) -> None:
    """Serve the gateway on ``bind:port`` until ``stop`` is set."""
    projection = await Projection(settings.database_url).open()

    async def publish(request: SceneRequested) -> int:
        assert request.scene_id is not None
        try:
            ack = await host.js.publish(
                subject(Subject.SCENE_REQUESTED, request.scene_id),
                encode(request),
                headers={"Nats-Msg-Id": msg_id("request", request.scene_id)},
                timeout=5,
            )
        except Exception as exc:
            raise RetryLater(
                f"cannot publish the request: {exc!r}", code="bus_unavailable"
            ) from exc
        return ack.seq

    board = ProgressBoard()
    app = create_app(
        projection,
        host.store,
        publish,
        page_size=settings.gateway.page_size,
        health=host.healthy,
        progress=board,
    )
    followers = [
        asyncio.create_task(follow(host.js, settings.nats.stream, projection, stop)),
        asyncio.create_task(follow_progress(host.nc, board, stop)),
    ]
    try:
        await serve_http(app, bind, port, stop)
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*followers)
        await projection.close()
