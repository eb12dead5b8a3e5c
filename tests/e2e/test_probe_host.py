"""A worker's /health and /metrics listen on 127.0.0.1 unless ``--metrics-host`` opens them."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from shared.bus import free_port

HOLODECK = str(Path(sys.executable).parent / "holodeck")
WAIT_S = 30.0


def outward_address() -> str:
    """This machine's address on its default route (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("10.255.255.255", 1))
        except OSError as exc:
            pytest.fail(f"this machine has no network interface besides loopback: {exc}")
        address: str = sock.getsockname()[0]
    if address.startswith("127."):
        pytest.fail("this machine has no network interface besides loopback")
    return address


async def answers(host: str, port: int) -> bool:
    async with httpx.AsyncClient(timeout=2) as client:
        try:
            return (await client.get(f"http://{host}:{port}/health")).status_code == 200
        except httpx.TransportError:
            return False


async def serving(process: subprocess.Popen[bytes], port: int) -> None:
    async with asyncio.timeout(WAIT_S):
        while not await answers("127.0.0.1", port):
            assert process.poll() is None, f"planner exited with {process.returncode}"
            await asyncio.sleep(0.1)


@pytest.mark.parametrize(
    ("option", "outside"), [([], False), (["--metrics-host", "0.0.0.0"], True)]
)
async def test_probes_are_local_unless_opened(
    nats_server: str, tmp_path: Path, option: list[str], outside: bool
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOLODECK_", "HOLDECK_"))}
    env.update(NATS_URL=nats_server, HOLODECK_WORKSPACE=str(tmp_path))
    port = free_port()
    process = subprocess.Popen(
        [HOLODECK, "serve", "planner", "--metrics-port", str(port), *option],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        await serving(process, port)
        assert await answers(outward_address(), port) is outside
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=WAIT_S) == 0
