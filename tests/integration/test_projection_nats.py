"""The projection fed from a real JetStream stream: followed live, then rebuilt from scratch.

Runs on SQLite and on PostgreSQL (a database of its own, created and dropped here).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import nats
import pytest
from nats.js import JetStreamContext
from nats.js.api import StreamConfig
from sqlalchemy.engine import make_url

from services.gateway.projection import (
    STUCK_AFTER_S,
    AttemptStatus,
    Projection,
    SceneView,
    Status,
)
from services.gateway.projector import Lag, follow, rebuild
from shared.bus import provision
from shared.config import NatsSettings
from shared.contract import (
    ImagesReady,
    LayoutReady,
    SceneFailed,
    SceneReplayed,
    SceneRequested,
    Subject,
    dead_letter,
    encode,
    subject,
)
from tests.fakes.projection import Poisoned
from tests.fakes.scenes import scene_events

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


def poison_messages(scene_id: str, backend: str) -> list[tuple[str, bytes]]:
    """Messages that once wedged the projection, and one each database refuses."""
    _, layout, _, _, image, *_ = scene_events(scene_id)
    assert isinstance(layout[1], LayoutReady) and isinstance(image[1], ImagesReady)
    huge = json.loads(encode(image[1]))
    huge["object_count"] = 1e40
    messages = [
        (subject(Subject.SCENE_REQUESTED), b"[" * 5000 + b"]" * 5000),
        (image[0], json.dumps(huge).encode()),
        (layout[0], b"{not json"),
        # The test projection's database refuses this layout (as SQLite refuses an
        # integer beyond 64 bits): an error while applying, not a malformed message.
        (layout[0], encode(layout[1].model_copy(update={"prompt": "poison"}))),
    ]
    if backend == "postgres":
        # Valid JSON, a valid event, and PostgreSQL refuses to store it (NUL in text).
        nul = json.loads(encode(layout[1]))
        nul["layout"]["objects"][0]["description"] = "a\x00b"
        messages.append((layout[0], json.dumps(nul).encode()))
    return messages


async def test_poison_events_are_dead_lettered_and_the_projection_moves_on(
    js: JetStreamContext, new_database: NewDatabase, request: pytest.FixtureRequest, unique: str
) -> None:
    backend = request.node.callspec.params["new_database"]
    victim, after = f"victim-{unique}", f"after-{unique}"
    projection = await Poisoned(await new_database()).open()
    try:
        async with following(js, projection):
            first = await js.publish(
                subject(Subject.SCENE_REQUESTED),
                encode(SceneRequested(scene_id=victim, prompt="a victim room")),
                timeout=5,
            )
            poisoned = []
            for subject_name, data in poison_messages(victim, backend):
                poisoned.append((await js.publish(subject_name, data, timeout=5)).seq)
            # A new scene after the poison still shows up, and completes.
            await succeeded(projection, after, await publish_scene(js, after))

        letters = {
            d.stream_seq: d
            for d in (await projection.list_dead_letters(page_size=1000)).items
            if d.stream_seq >= first.seq
        }
        assert sorted(letters) == poisoned
        assert all(d.rejected_by == "gateway" for d in letters.values())
        reasons = [letters[seq].reason for seq in poisoned]
        assert "nested more than 32 levels deep" in reasons[0]
        assert "object_count" in reasons[1]
        assert reasons[2].startswith("malformed: ")
        assert reasons[3].startswith("cannot be applied: OverflowError")
        if backend == "postgres":
            assert reasons[4].startswith("cannot be applied: ")
        view = await projection.get_scene(victim)
        assert view is not None and view.prompt == "a victim room"
        assert view.stages.planner == Status.IN_PROGRESS

        # A rebuild from the stream goes through the same events the same way.
        async with Poisoned(await new_database()) as rebuilt:
            await asyncio.wait_for(rebuild(js, NatsSettings().stream, rebuilt), WAIT_S)
            assert await rebuilt.get_scene(victim) == view
            assert await rebuilt.get_scene(after) == await projection.get_scene(after)
            again = {
                d.stream_seq: d.reason
                for d in (await rebuilt.list_dead_letters(page_size=1000)).items
                if d.stream_seq >= first.seq
            }
            assert again == {seq: d.reason for seq, d in letters.items()}
    finally:
        await projection.close()


async def test_stage_dead_letters_and_late_outcomes_from_the_stream(
    js: JetStreamContext, tmp_path: Path, unique: str
) -> None:
    scene_id = f"late-{unique}"
    async with Projection(f"sqlite+aiosqlite:///{tmp_path}/late.db") as projection:
        async with following(js, projection):
            await publish_scene(js, scene_id)
            letter = dead_letter(
                "meshgen",
                subject(Subject.IMAGES_READY, scene_id, "bed-1"),
                b"{not json",
                12345,
                "malformed: invalid JSON",
                scene_id=scene_id,
            )
            await js.publish(subject(Subject.DEAD_LETTER, "meshgen"), encode(letter), timeout=5)
            failure = SceneFailed(scene_id=scene_id, stage="assembly", code="late", message="m")
            ack = await js.publish(subject(Subject.SCENE_FAILED, scene_id), encode(failure))
            assert await projection.wait_for_seq(ack.seq, timeout=WAIT_S)
        view = await projection.get_scene(scene_id)
        assert view is not None
        assert view.status == Status.SUCCEEDED
        assert view.error is None
        assert view.late_outcomes == 1
        mine = await projection.list_dead_letters(rejected_by="meshgen", page_size=1000)
        [kept] = [d for d in mine.items if d.scene_id == scene_id]
        assert (kept.stream_seq, kept.reason) == (12345, "malformed: invalid JSON")


async def test_a_database_outage_holds_the_position_until_it_is_back(
    js: JetStreamContext, tmp_path: Path, unique: str
) -> None:
    scene_id = f"outage-{unique}"
    lag = Lag(stall_after_s=0.5)
    async with Projection(f"sqlite+aiosqlite:///{tmp_path}/outage.db") as projection:
        stop = asyncio.Event()
        task = asyncio.create_task(follow(js, NatsSettings().stream, projection, stop, lag))
        try:
            await succeeded(
                projection, f"before-{unique}", await publish_scene(js, f"before-{unique}")
            )
            assert projection._engine is not None
            async with projection._engine.begin() as conn:
                await conn.exec_driver_sql("ALTER TABLE scenes RENAME TO scenes_away")
            held = projection.last_seq()
            last = await publish_scene(js, scene_id)
            async with asyncio.timeout(WAIT_S):
                while lag.report()[0]:
                    await asyncio.sleep(0.05)
            healthy, details = lag.report()
            assert not healthy
            assert "stalled at stream sequence" in details["reason"]
            assert "did not take stream sequence" in details["reason"]
            assert projection.last_seq() == held
            async with projection._engine.begin() as conn:
                await conn.exec_driver_sql("ALTER TABLE scenes_away RENAME TO scenes")
            await succeeded(projection, scene_id, last)
            assert lag.report()[0]
            letters = await projection.list_dead_letters(page_size=1000)
            assert not [d for d in letters.items if d.recorded_seq > held]
        finally:
            stop.set()
            await asyncio.wait_for(task, WAIT_S)


async def test_attempts_and_stuck_scenes_from_the_stream(
    js: JetStreamContext, new_database: NewDatabase, unique: str
) -> None:
    """Attempts, late news of an old attempt and STUCK, followed live and rebuilt, on each
    backend (the STUCK filter is SQL of its own)."""
    stream = NatsSettings().stream
    replayed_id, quiet_id = f"again-{unique}", f"quiet-{unique}"
    events = scene_events(replayed_id)
    now = datetime.now(UTC)
    clock_now = [now]
    live = await Projection(await new_database(), clock=lambda: clock_now[0]).open()
    try:
        async with following(js, live):
            for subject_name, event, message_id in events[:5]:
                await js.publish(subject_name, encode(event), headers={"Nats-Msg-Id": message_id})
            failure = SceneFailed(scene_id=replayed_id, stage="imagegen", code="x", message="m")
            await js.publish(subject(Subject.SCENE_FAILED, replayed_id), encode(failure))
            replay = SceneReplayed(scene_id=replayed_id, attempt=2, from_stage="imagegen")
            await js.publish(subject(Subject.SCENE_REPLAYED, replayed_id), encode(replay))
            for subject_name, event, _ in events[1:]:
                again = event.model_copy(update={"attempt": 2})
                await js.publish(subject_name, encode(again))
            late = SceneFailed(scene_id=replayed_id, stage="meshgen", code="late", message="m")
            await js.publish(subject(Subject.SCENE_FAILED, replayed_id), encode(late))
            for subject_name, event, message_id in scene_events(quiet_id)[:2]:
                ack = await js.publish(
                    subject_name, encode(event), headers={"Nats-Msg-Id": message_id}
                )
            assert await live.wait_for_seq(ack.seq, timeout=WAIT_S)
        view = await live.get_scene(replayed_id)
        assert view is not None
        assert (view.status, view.attempt, view.late_outcomes) == (Status.SUCCEEDED, 2, 1)
        assert [(a.attempt, a.from_stage, a.status) for a in view.attempts] == [
            (1, "planner", AttemptStatus.FAILED),
            (2, "imagegen", AttemptStatus.SUCCEEDED),
        ]
        assert all(a.ended_at is not None for a in view.attempts)

        # The session's stream holds other tests' scenes too: look at these two.
        async def listed(status: Status) -> set[str]:
            page = await live.list_scenes(status=status, page_size=1000)
            return {s.scene_id for s in page.items} & {replayed_id, quiet_id}

        assert await listed(Status.STUCK) == set()
        assert await listed(Status.IN_PROGRESS) == {quiet_id}
        before = await live.count_stuck()
        clock_now[0] = now + timedelta(seconds=STUCK_AFTER_S + 60)
        assert await listed(Status.STUCK) == {quiet_id}
        assert await listed(Status.IN_PROGRESS) == set()
        assert await listed(Status.SUCCEEDED) == {replayed_id}
        assert await live.count_stuck() >= before + 1
        quiet = await live.get_scene(quiet_id)
        assert quiet is not None and quiet.status == Status.STUCK

        rebuilt = await Projection(await new_database(), clock=lambda: clock_now[0]).open()
        try:
            await rebuild(js, stream, rebuilt)
            for scene_id in (replayed_id, quiet_id):
                assert await rebuilt.get_scene(scene_id) == await live.get_scene(scene_id)
        finally:
            await rebuilt.close()
    finally:
        await live.close()
