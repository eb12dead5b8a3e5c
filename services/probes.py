"""Liveness and readiness probes, for every service's HTTP endpoint.

``/health/live`` says whether the process itself works (its event loop answers, its
handlers are not wedged): an orchestrator restarts it when this fails. ``/health/ready``
says whether it can do its job now (its dependencies answer): it is taken out of rotation
while this fails, and not restarted, so an outage of NATS or the database does not turn
into a restart storm. ``/health`` stays as it was, for compatibility.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse

Check = Callable[[], Awaitable[tuple[bool, dict[str, Any]]]]


def _answer(ok: bool, details: dict[str, Any]) -> JSONResponse:
    return JSONResponse(
        {"status": "ok" if ok else "unavailable", **details}, status_code=200 if ok else 503
    )


def add_probes(app: FastAPI, live: Check, ready: Check) -> None:
    """Serve ``/health/live`` and ``/health/ready`` from the two checks."""

    async def liveness() -> JSONResponse:
        return _answer(*await live())

    async def readiness() -> JSONResponse:
        return _answer(*await ready())

    for path, endpoint, summary in (
        ("/health/live", liveness, "Liveness: the process works (restart it when this fails)"),
        ("/health/ready", readiness, "Readiness: its dependencies answer (route traffic)"),
    ):
        app.add_api_route(
            path,
            endpoint,
            methods=["GET"],
            summary=summary,
            response_model=None,
            responses={200: {"description": "ok"}, 503: {"description": "not now"}},
        )
