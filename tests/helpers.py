"""Helpers shared by tests: running the CLI as a user does, and a gateway with every stage."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

HOLODECK = str(Path(sys.executable).parent / "holodeck")


def run_cli(
    *args: str, workspace: Path, extra: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``holodeck ARGS`` in a private workspace, with none of the caller's configuration."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOLODECK_", "HOLDECK_"))}
    env.pop("NATS_URL", None)
    env["HOLODECK_WORKSPACE"] = str(workspace)
    env.update(extra or {})
    return subprocess.run(
        [HOLODECK, *args], capture_output=True, text=True, env=env, timeout=timeout, check=False
    )


@contextlib.asynccontextmanager
async def running_gateway(
    settings: Any, nats_url: str, wait_s: float = 30.0
) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    """Every stage and the gateway in this process, wired as ``holodeck up`` wires them:
    an HTTP client on the gateway (once it answers) and the stages' ServiceHost."""
    from services.gateway.app import run_gateway
    from services.runtime import WORKERS, ServiceHost

    host = ServiceHost(settings, nats_url, WORKERS)
    await host.start()
    stop = asyncio.Event()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    serving = asyncio.create_task(run_gateway(settings, host, "127.0.0.1", port, stop))
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            deadline = time.monotonic() + wait_s
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get("/health")).status_code == 200:
                        break
                assert time.monotonic() < deadline, "the gateway did not start"
                assert not serving.done(), serving
                await asyncio.sleep(0.05)
            yield client, host
    finally:
        stop.set()
        await asyncio.wait_for(serving, wait_s)
        await host.stop(grace=2)


@contextlib.asynccontextmanager
async def private_postgres_database(server_url: str) -> AsyncIterator[str]:
    """A fresh PostgreSQL database on the server of ``server_url`` (an asyncpg URL),
    dropped afterwards: its URL."""
    import uuid

    import asyncpg
    from sqlalchemy.engine import make_url

    server = make_url(server_url)
    admin_dsn = server.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"holodeck_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield server.set(database=name).render_as_string(hide_password=False)
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
