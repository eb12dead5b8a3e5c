"""The projection fed from a real JetStream stream: followed live, then rebuilt from scratch.

Runs on SQLite and on PostgreSQL (a database of its own, created and dropped here).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import asyncpg
import nats
import pytest
from nats.js import JetStreamContext
from nats.js.api import StreamConfig
from sqlalchemy.engine import make_url

from services.gateway.projection import Projection, SceneView, Status
from services.gateway.projector import follow, rebuild
from shared.bus import provision
from shared.config import NatsSettings
from shared.contract import encode
from tests.unit.test_projection import scene_events

NewDatabase = Callable[[], Awaitable[str]]
WAIT_S = 20.0


@pytest.fixture
async def js(nats_url: str) -> AsyncIterator[JetStreamContext]:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await provision(js, NatsSettings())
    try:
        yield js
    finally:
        await nc.drain()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def new_database(
    request: pytest.FixtureRequest, tmp_path: Path, unique: str
) -> AsyncIterator[NewDatabase]:
    """Makes fresh, empty databases on one backend; PostgreSQL ones are dropped afterwards."""
    counter = itertools.count()
    if request.param == "sqlite":

        async def sqlite_database() -> str:
            return f"sqlite+aiosqlite:///{tmp_path}/projection-{next(counter)}.db"

        yield sqlite_database
        return

    server = make_url(request.getfixturevalue("postgres_url"))
    admin_dsn = server.set(drivername="postgresql").render_as_string(hide_password=False)
    created: list[str] = []

    async def postgres_database() -> str:
        name = f"holodeck_{unique}_{next(counter)}"
        admin = await asyncpg.connect(admin_dsn)
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        created.append(name)
        return server.set(database=name).render_as_string(hide_password=False)

    try:
        yield postgres_database
    finally:
        admin = await asyncpg.connect(admin_dsn)
        try:
            for name in created:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def publish_scene(js: JetStreamContext, scene_id: str) -> int:
    """Publish a scene's whole run as the services would; return the last stream sequence."""
    last = 0
    for subject_name, event, message_id in scene_events(scene_id, prompt=f"a test room {scene_id}"):
        ack = await js.publish(
            subject_name, encode(event), headers={"Nats-Msg-Id": message_id}, timeout=5
        )
        last = max(last, ack.seq)
    return last


@contextlib.asynccontextmanager
async def following(js: JetStreamContext, projection: Projection) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(follow(js, NatsSettings().stream, projection, stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, WAIT_S)


async def succeeded(projection: Projection, scene_id: str, seq: int) -> SceneView:
    assert await projection.wait_for_seq(seq, timeout=WAIT_S), (
        f"projection stuck at {projection.last_seq()}, waiting for {seq}"
    )
    view = await projection.get_scene(scene_id)
    assert view is not None
    assert view.status == Status.SUCCEEDED, view
    return view


async def test_followed_and_rebuilt_projections_agree(
    js: JetStreamContext, new_database: NewDatabase, tmp_path: Path, unique: str
) -> None:
    stream = NatsSettings().stream
    first, second = f"live-a-{unique}", f"live-b-{unique}"
    live = await Projection(await new_database()).open()
    try:
        async with following(js, live):
            seq = await publish_scene(js, first)
            view = await succeeded(live, first, seq)
        assert view.progress == 100
        assert [(o.image_status, o.mesh_status) for o in view.objects] == [
            (Status.SUCCEEDED, Status.SUCCEEDED)
        ] * 2
        assert set(view.artifacts) == {"scene.glb", "layout.json"}

        # Stopped, then started again: it resumes after its position.
        resumed_from = live.last_seq()
        seq = await publish_scene(js, second)
        async with following(js, live):
            await succeeded(live, second, seq)
        assert live.last_seq() >= seq > resumed_from

        rebuilt = await Projection(await new_database()).open()
        try:
            count = await rebuild(js, stream, rebuilt)
            assert count >= 2 * len(scene_events(first))
            assert rebuilt.last_seq() >= seq
            for scene_id in (first, second):
                assert await rebuilt.get_scene(scene_id) == await live.get_scene(scene_id)
        finally:
            await rebuilt.close()

        # And the same views from the other backend: nothing depends on where rows live.
        async with Projection(f"sqlite+aiosqlite:///{tmp_path}/elsewhere.db") as elsewhere:
            await rebuild(js, stream, elsewhere)
            for scene_id in (first, second):
                assert await elsewhere.get_scene(scene_id) == await live.get_scene(scene_id)
    finally:
        await live.close()


async def test_two_gateways_rebuilding_one_database_apply_each_event_once(
    js: JetStreamContext, new_database: NewDatabase, unique: str
) -> None:
    stream = NatsSettings().stream
    scene_id = f"pair-{unique}"
    seq = await publish_scene(js, scene_id)
    url = await new_database()
    async with Projection(url) as one, Projection(url) as two:
        await asyncio.gather(rebuild(js, stream, one), rebuild(js, stream, two))
        assert one.last_seq() >= seq and two.last_seq() >= seq
        view = await one.get_scene(scene_id)
        assert view is not None and view.status == Status.SUCCEEDED
        assert view == await two.get_scene(scene_id)
        assert view.object_count == 2


async def test_an_empty_stream_is_followed_and_rebuilt(
    js: JetStreamContext, tmp_path: Path, unique: str
) -> None:
    stream = f"EMPTY_{unique}"
    await js.add_stream(StreamConfig(name=stream, subjects=[f"empty-{unique}.>"]))
    try:
        async with Projection(f"sqlite+aiosqlite:///{tmp_path}/empty.db") as projection:
            assert await rebuild(js, stream, projection) == 0
            stop = asyncio.Event()
            task = asyncio.create_task(follow(js, stream, projection, stop))
            assert not await projection.wait_for_seq(1, timeout=0.3)
            assert not task.done()
            stop.set()
            await asyncio.wait_for(task, WAIT_S)
            assert projection.last_seq() == 0
    finally:
        await js.delete_stream(stream)
