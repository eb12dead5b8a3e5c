"""What the process benches share: a nats-server and ``holodeck serve`` processes here.

:func:`cluster` starts a fresh ``nats-server`` (a private store directory and port) and
one process per service (``holodeck serve planner``, ``imagegen``, ``meshgen``,
``assembly``, and the gateway unless left out), as many replicas of each as asked, and
stops them all at the end. Logs go to files in the temporary work directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import nats

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shared.bus import free_port, nats_server_binary

HOLODECK = str(Path(sys.executable).with_name("holodeck"))
WORKERS = ("planner", "imagegen", "meshgen", "assembly")


@dataclass
class Cluster:
    """A nats-server and processes of the services, all on this machine.

    Each process has a label: the service's name for its first replica, ``name-2``,
    ``name-3``... for the others.
    """

    work: Path
    env: dict[str, str] = field(default_factory=dict)
    nats_port: int = 0
    gateway_port: int = 0
    server: subprocess.Popen[bytes] | None = None
    services: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    health_ports: dict[str, int] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.nats_port}"

    def start_nats(self) -> None:
        self.nats_port = self.nats_port or free_port()
        store = self.work / "nats"
        store.mkdir(exist_ok=True)
        log = open(self.work / "nats.log", "ab")
        port = str(self.nats_port)
        self.server = subprocess.Popen(
            [nats_server_binary(), "-js", "-sd", str(store), "-a", "127.0.0.1", "-p", port],
            stdout=log,
            stderr=log,
        )

    def stop_nats(self) -> None:
        if self.server is not None:
            self.server.send_signal(signal.SIGTERM)
            self.server.wait(timeout=30)
            self.server = None

    def _environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HOLODECK_", "HOLDECK_"))}
        env.update(
            NATS_URL=self.url,
            HOLODECK_WORKSPACE=str(self.work / "workspace"),
            HOLODECK_LOG_LEVEL="WARNING",
            HOLODECK_LOG_FORMAT="json",
            DATABASE_URL=f"sqlite+aiosqlite:///{self.work / 'gateway.db'}",
            # Quick redelivery so a killed worker's messages come back within the run.
            HOLODECK_NATS__ACK_WAIT_S="10",
        )
        env.update(self.env)
        return env

    def start(self, name: str, label: str | None = None) -> str:
        """Start one process of service ``name`` under ``label`` (default: ``name``)."""
        label = label or name
        log = open(self.work / f"{label}.log", "ab")
        if name == "gateway":
            self.gateway_port = self.gateway_port or free_port()
            port = self.gateway_port
            args = [HOLODECK, "serve", "gateway", "--port", str(port)]
        else:
            port = free_port()
            args = [HOLODECK, "serve", name, "--metrics-port", str(port)]
        self.health_ports[label] = port
        self.services[label] = subprocess.Popen(
            args, env=self._environment(), stdout=log, stderr=log, cwd=self.work
        )
        return label

    def kill(self, label: str) -> None:
        process = self.services.pop(label)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time (user + system) each running process has used so far; empty where
        /proc does not say (not Linux)."""
        tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        used: dict[str, float] = {}
        processes = dict(self.services)
        if self.server is not None:
            processes["nats-server"] = self.server
        for label, process in processes.items():
            try:
                stat = Path(f"/proc/{process.pid}/stat").read_text()
            except OSError:
                continue
            # Fields after the command name (which may hold spaces) close with ")".
            fields = stat.rpartition(")")[2].split()
            used[label] = (int(fields[11]) + int(fields[12])) / tick
        return used

    def log_tail(self, label: str, size: int = 2000) -> str:
        path = self.work / f"{label}.log"
        return path.read_text(errors="replace")[-size:] if path.exists() else ""

    def stop(self) -> None:
        for process in self.services.values():
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        for process in self.services.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        self.services.clear()
        if self.server is not None:
            self.server.kill()
            self.server.wait(timeout=10)
            self.server = None


@contextlib.asynccontextmanager
async def cluster(
    env: Mapping[str, str] | None = None,
    services: Iterable[str] = (*WORKERS, "gateway"),
    replicas: Mapping[str, int] | None = None,
    prefix: str = "holodeck-bench-",
) -> AsyncIterator[Cluster]:
    """A fresh nats-server and ``services`` (``replicas[name]`` processes each, default
    one), yielded once every process answers its health route."""
    with tempfile.TemporaryDirectory(prefix=prefix) as work:
        c = Cluster(Path(work), dict(env or {}))
        c.start_nats()
        await wait_tcp(c.nats_port)
        try:
            for name in services:
                for k in range((replicas or {}).get(name, 1)):
                    c.start(name, name if k == 0 else f"{name}-{k + 1}")
            for label, port in c.health_ports.items():
                process = c.services[label]
                try:
                    await wait_http(
                        f"http://127.0.0.1:{port}/health", ok_only=False, process=process
                    )
                except RuntimeError as exc:
                    raise RuntimeError(f"{exc}; {label}.log ends: {c.log_tail(label)}") from None
            yield c
        finally:
            c.stop()


async def wait_tcp(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port}")


async def wait_http(
    url: str,
    timeout: float = 60,
    ok_only: bool = True,
    process: subprocess.Popen[bytes] | None = None,
) -> None:
    """Until ``url`` answers (200 only with ``ok_only``); fails at once if ``process``,
    the one meant to answer, has ended."""
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                response = await client.get(url, timeout=2)
                if response.status_code == 200 or not ok_only:
                    return
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


async def _quiet(exc: Exception) -> None:
    """The bench's own client reconnects while the server restarts: nothing to report."""


async def connect(url: str) -> Any:
    """A bench client that reconnects for as long as it takes, silently."""
    return await nats.connect(
        url, max_reconnect_attempts=-1, reconnect_time_wait=0.5, error_cb=_quiet
    )


def stop_on_sigterm() -> None:
    """A SIGTERM to the bench stops its processes as Ctrl-C does."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
