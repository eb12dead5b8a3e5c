"""Gateway security overhead: the same request with no security, with keys only, and with
keys and rate limits in the JetStream key-value store (one gateway, then two replicas
taking turns on one key), side by side in one run.

    python bench/gateway_security.py [--requests 1000] [--rounds 3]

Each round runs every variant once, in turn, with ``--requests`` sequential
``GET /v1/scenes/<unknown>`` over the ASGI interface (no sockets: the figure is the
gateway's own work), against an embedded nats-server and a SQLite projection. Prints a
table on stderr; the last line on stdout is one JSON object of the medians.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import httpx
import nats
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from services.gateway.api import create_app
from services.gateway.projection import Projection
from services.gateway.requests import JetStreamRequests, KeyValueKeys, SceneRequests
from services.gateway.security import KeyValueCounters, RateLimiter, limiter_max_age, secure
from shared.artifacts import LocalArtifactStore
from shared.bus import EmbeddedNats
from shared.config import LoggingSettings, NatsSettings, SecuritySettings
from shared.logs import configure_logging

KEY = "bench-" + "k" * 32
PATH = "/v1/scenes/not-a-scene"


def security(limits: bool) -> SecuritySettings:
    return SecuritySettings.model_validate(
        {
            "api_keys": [{"name": "bench", "key": KEY, "permissions": ["read", "write"]}],
            "rate_limiting": {"enabled": limits, "default_limit": "1000000000/hour"},
        }
    )


@asynccontextmanager
async def gateways(
    url: str, workdir: Path, settings: SecuritySettings | None, replicas: int
) -> AsyncIterator[list[httpx.AsyncClient]]:
    async with AsyncExitStack() as stack:
        projection = await Projection(f"sqlite+aiosqlite:///{workdir}/gateway.db").open()
        stack.push_async_callback(projection.close)
        clients = []
        for n in range(replicas):
            nc = await nats.connect(url)
            stack.push_async_callback(nc.drain)
            js = nc.jetstream()
            app = create_app(
                projection,
                LocalArtifactStore(workdir / "artifacts"),
                SceneRequests(JetStreamRequests(js, NatsSettings().stream), KeyValueKeys(js, 60)),
            )
            if settings is not None:
                counters = KeyValueCounters(js, limiter_max_age(settings))
                secure(app, settings, "127.0.0.1", RateLimiter(counters))
            transport = httpx.ASGITransport(app=app)
            client = httpx.AsyncClient(transport=transport, base_url=f"http://gw{n}")
            clients.append(await stack.enter_async_context(client))
        yield clients


async def timed(clients: list[httpx.AsyncClient], requests: int, keyed: bool) -> float:
    headers = {"X-API-Key": KEY} if keyed else {}
    for client in clients:  # warm-up: open buckets, compile routes
        assert (await client.get(PATH, headers=headers)).status_code == 404
    started = time.perf_counter()
    for n in range(requests):
        response = await clients[n % len(clients)].get(PATH, headers=headers)
        if response.status_code != 404:
            raise RuntimeError(f"unexpected {response.status_code}: {response.text}")
    return (time.perf_counter() - started) / requests * 1e6


VARIANTS: dict[str, tuple[Callable[[], SecuritySettings | None], int]] = {
    "no security": (lambda: None, 1),
    "keys, no rate limit": (lambda: security(False), 1),
    "keys + rate limit (1 gateway)": (lambda: security(True), 1),
    "keys + rate limit (2 replicas alternating)": (lambda: security(True), 2),
}


async def main(requests: int, rounds: int) -> dict[str, float]:
    configure_logging(LoggingSettings(level="WARNING"))
    results: dict[str, list[float]] = {name: [] for name in VARIANTS}
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedNats(store_dir=Path(tmp) / "nats")
        await server.start()
        try:
            for round_no in range(rounds):
                for index, (name, (make, replicas)) in enumerate(VARIANTS.items()):
                    workdir = Path(tmp) / f"round{round_no}-variant{index}"
                    workdir.mkdir()
                    settings = make()
                    async with gateways(server.url, workdir, settings, replicas) as clients:
                        results[name].append(await timed(clients, requests, settings is not None))
        finally:
            await server.stop()
    medians = {name: statistics.median(values) for name, values in results.items()}
    base = medians["no security"]
    table = Table(title=f"µs per request, median of {rounds} rounds of {requests}")
    for column in ("variant", "µs/request", "overhead µs"):
        table.add_column(column)
    for name, value in medians.items():
        table.add_row(name, f"{value:.0f}", f"{value - base:+.0f}")
    Console(stderr=True).print(table)
    return medians


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    figures = asyncio.run(main(args.requests, args.rounds))
    print(json.dumps({k: round(v, 1) for k, v in figures.items()}))
