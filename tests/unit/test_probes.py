"""Liveness and readiness: each answers for its own reason."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import httpx

from services.stack import probe_app


class FakeRunner:
    def __init__(self, oldest: float) -> None:
        self.oldest = oldest

    def oldest_handler_s(self) -> float:
        return self.oldest


def host(connected: bool, oldest: float) -> Any:
    return SimpleNamespace(
        names=("meshgen",),
        settings=SimpleNamespace(nats=SimpleNamespace(work_deadline_s=10.0)),
        runners=[FakeRunner(0.0), FakeRunner(oldest)],
        healthy=lambda: {"nats": connected},
    )


def client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://probe")


async def test_a_bus_outage_makes_a_worker_unready_but_not_dead() -> None:
    async with client(probe_app(host(connected=False, oldest=3.0))) as http:
        assert (await http.get("/health/live")).status_code == 200
        ready = await http.get("/health/ready")
        assert ready.status_code == 503 and ready.json()["checks"] == {"nats": False}
        assert (await http.get("/health")).status_code == 503  # unchanged, for compatibility


async def test_a_wedged_handler_makes_a_worker_dead() -> None:
    async with client(probe_app(host(connected=True, oldest=25.0))) as http:
        live = await http.get("/health/live")
        assert live.status_code == 503 and live.json()["oldest_handler_s"] == 25.0
        assert (await http.get("/health/ready")).status_code == 200


async def test_the_runner_reports_its_oldest_handler() -> None:
    from shared.stage import StageRunner

    runner = StageRunner.__new__(StageRunner)
    runner._inflight = {}
    assert runner.oldest_handler_s() == 0.0
    task = asyncio.create_task(asyncio.sleep(10))
    loop = asyncio.get_running_loop()
    runner._inflight[task] = loop.time() - 5.0
    try:
        assert 4.5 < runner.oldest_handler_s() < 6.0
    finally:
        task.cancel()
