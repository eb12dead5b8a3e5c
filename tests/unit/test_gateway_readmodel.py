"""The gateway's read model over a SQLite projection: pages by number and by cursor, one
rendering per version, STUCK and live progress without an event, replicas sharing one
database, and a database rebuilt under it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from services.gateway.api import create_app
from services.gateway.progress import ProgressBoard
from services.gateway.projection import Projection, Status
from services.gateway.readmodel import (
    ReadModel,
    Rebuilding,
    parse_cursor,
    scene_body,
)
from services.gateway.requests import SceneRequests
from shared.artifacts import LocalArtifactStore
from shared.contract import ObjectProgress, SceneRequested, Subject, encode, subject
from tests.fakes.scenes import at, scene_events


class Clock:
    """The projection's clock: the tests' storage times, unless a test moves it."""

    def __init__(self) -> None:
        self.now: datetime | None = None

    def __call__(self) -> datetime:
        return self.now or at(0)


class NoBus:
    """A bus that takes no request: these tests only read."""

    async def publish(self, request: SceneRequested) -> int:
        raise AssertionError("nothing is published here")

    async def find(self, scene_id: str) -> tuple[int, str | None] | None:
        return None


class Stream:
    """Events applied to projections at increasing stream sequences."""

    def __init__(self) -> None:
        self.events: list[tuple[str, bytes, int, datetime]] = []

    def add(self, subject_name: str, event: BaseModel) -> tuple[str, bytes, int, datetime]:
        seq = len(self.events) + 1
        stored = (subject_name, encode(event), seq, at(seq))
        self.events.append(stored)
        return stored

    async def request(self, projection: Projection, scene_id: str) -> None:
        requested = SceneRequested(scene_id=scene_id, prompt=f"room {scene_id}")
        await projection.apply(*self.add(subject(Subject.SCENE_REQUESTED, scene_id), requested))

    async def run(
        self, projection: Projection, scene_id: str, steps: slice = slice(1, None)
    ) -> None:
        for subject_name, event, _ in scene_events(scene_id)[steps]:
            await projection.apply(*self.add(subject_name, event))


@pytest.fixture
async def projection(tmp_path: Path) -> AsyncIterator[Projection]:
    async with Projection(f"sqlite+aiosqlite:///{tmp_path}/gateway.db", clock=Clock()) as opened:
        yield opened


def as_json(data: bytes | None) -> dict[str, Any]:
    assert data is not None
    loaded: dict[str, Any] = json.loads(data)
    return loaded


async def test_pages_by_number_and_by_cursor_give_every_scene_once_newest_first(
    projection: Projection,
) -> None:
    stream = Stream()
    ids = [f"scene-{n}" for n in range(7)]
    for scene_id in ids:
        await stream.request(projection, scene_id)
    for scene_id in ids[::3]:
        await stream.run(projection, scene_id)
    scenes = await ReadModel(projection).open()

    by_number = []
    for page in range(1, 5):
        body = as_json(await scenes.list_json(page=page, page_size=3))
        assert (body["page"], body["page_size"], body["total"]) == (page, 3, 7)
        by_number += [item["scene_id"] for item in body["items"]]
    assert by_number == ids[::-1]

    by_cursor, cursor = [], None
    while True:
        body = as_json(await scenes.list_json(page_size=3, cursor=cursor))
        by_cursor += [item["scene_id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
        assert parse_cursor(cursor)[1] == by_cursor[-1]
    assert by_cursor == ids[::-1]

    done = as_json(await scenes.list_json(page_size=2, status=Status.SUCCEEDED))
    assert [i["scene_id"] for i in done["items"]] == ["scene-6", "scene-3"]
    assert done["total"] == 3
    rest = as_json(
        await scenes.list_json(page_size=2, status="SUCCEEDED", cursor=done["next_cursor"])
    )
    assert ([i["scene_id"] for i in rest["items"]], rest["next_cursor"]) == (["scene-0"], None)
    pending = as_json(await scenes.list_json(page_size=10, status="PENDING"))
    assert [i["scene_id"] for i in pending["items"]] == ["scene-5", "scene-4", "scene-2", "scene-1"]

    # What the list shows is what the database says.
    page = await projection.list_scenes(page=1, page_size=7)
    listed = as_json(await scenes.list_json(page_size=7))["items"]
    assert [(i["scene_id"], i["status"], i["progress"]) for i in listed] == [
        (s.scene_id, s.status, s.progress) for s in page.items
    ]

    # A scene made now comes first, and a cursor taken before it still goes on from there.
    await stream.request(projection, "scene-7")
    body = as_json(await scenes.list_json(page_size=3))
    assert [i["scene_id"] for i in body["items"]] == ["scene-7", "scene-6", "scene-5"]
    after = as_json(await scenes.list_json(page_size=3, cursor=cursor or "0_x"))
    assert after["items"] == []


async def test_the_list_route_takes_a_cursor_or_a_page_not_both(
    projection: Projection, tmp_path: Path
) -> None:
    stream = Stream()
    for n in range(3):
        await stream.request(projection, f"listed-{n}")
    app = create_app(
        projection, LocalArtifactStore(tmp_path / "artifacts"), SceneRequests(NoBus(), None)
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        first = (await client.get("/v1/scenes", params={"page_size": 2})).json()
        assert [i["scene_id"] for i in first["items"]] == ["listed-2", "listed-1"]
        second = await client.get(
            "/v1/scenes", params={"page_size": 2, "cursor": first["next_cursor"]}
        )
        assert [i["scene_id"] for i in second.json()["items"]] == ["listed-0"]
        both = await client.get("/v1/scenes", params={"page": 2, "cursor": first["next_cursor"]})
        assert both.status_code == 422
        assert both.json()["error"]["fields"][0]["field"] == "query.page"
        bad = await client.get("/v1/scenes", params={"cursor": "yesterday"})
        assert bad.status_code == 422
        assert bad.json()["error"]["fields"][0]["field"] == "query.cursor"


async def test_a_body_is_rendered_once_per_version_and_agrees_with_the_database(
    projection: Projection,
) -> None:
    stream = Stream()
    await stream.request(projection, "once")
    scenes = await ReadModel(projection).open()
    first = await scenes.scene_json("once")
    assert first is not None and first is await scenes.scene_json("once")

    await stream.run(projection, "once", slice(1, 2))  # the layout
    second = await scenes.scene_json("once")
    assert second is not first and second is await scenes.scene_json("once")
    view = await projection.get_scene("once")
    assert view is not None
    assert as_json(second) == json.loads(scene_body(view).model_dump_json())
    assert as_json(second)["progress"] == 15 and len(as_json(second)["objects"]) == 2

    await stream.run(projection, "once", slice(2, None))
    done = as_json(await scenes.scene_json("once"))
    assert (done["status"], done["progress"]) == ("SUCCEEDED", 100)
    assert await scenes.scene_json("nothing-here") is None


async def test_stuck_and_live_progress_show_without_an_event(projection: Projection) -> None:
    stream = Stream()
    await stream.request(projection, "slow")
    await stream.run(projection, "slow", slice(1, 2))  # the layout: images are being made
    board = ProgressBoard()
    scenes = await ReadModel(projection, board).open()
    body = as_json(await scenes.scene_json("slow"))
    assert body["status"] == "IN_PROGRESS"
    assert [o["image"]["progress"] for o in body["objects"]] == [None, None]

    board.record(ObjectProgress(scene_id="slow", object_id="bed-1", stage="imagegen", fraction=0.4))
    body = as_json(await scenes.scene_json("slow"))
    assert [o["image"]["progress"] for o in body["objects"]] == [40, None]

    clock = projection._clock
    assert isinstance(clock, Clock)
    clock.now = at(len(stream.events)) + timedelta(seconds=901)
    body = as_json(await scenes.scene_json("slow"))
    assert body["status"] == "STUCK" and body["attempts"][-1]["status"] == "STUCK"
    assert [o["image"]["progress"] for o in body["objects"]] == [40, None]
    stuck = as_json(await scenes.list_json(status=Status.STUCK))
    assert [(i["scene_id"], i["status"]) for i in stuck["items"]] == [("slow", "STUCK")]
    assert as_json(await scenes.list_json(status=Status.IN_PROGRESS))["total"] == 0
    view = await scenes.get_scene("slow")
    assert view is not None and view.status == Status.STUCK

    # An event of the attempt makes it IN_PROGRESS again.
    clock.now = at(len(stream.events) + 1)
    await stream.run(projection, "slow", slice(2, 3))
    assert as_json(await scenes.scene_json("slow"))["status"] == "IN_PROGRESS"


async def test_a_replica_shows_what_another_applied_to_the_shared_database(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/shared.db"
    stream = Stream()
    async with Projection(url, clock=Clock()) as one, Projection(url, clock=Clock()) as two:
        seen_by_two = await ReadModel(two).open()
        # Made through the first replica: the second finds it before answering 404.
        await stream.request(one, "shared")
        body = as_json(await seen_by_two.scene_json("shared"))
        assert body["status"] == "PENDING"

        for step in scene_events("shared")[1:]:
            stored = stream.add(step[0], step[1])
            await one.apply(*stored)
            # The second replica's projector finds it applied, and its model takes it.
            await two.apply(*stored)
            shown = as_json(await seen_by_two.scene_json("shared"))
            expected = await one.get_scene("shared")
            assert expected is not None
            assert shown == json.loads(scene_body(expected).model_dump_json())
        assert shown["status"] == "SUCCEEDED"
        assert two.dead_letters == 0


async def test_a_database_rebuilt_underneath_is_never_shown_older(
    projection: Projection, tmp_path: Path
) -> None:
    stream = Stream()
    for scene_id in ("held", "other"):
        await stream.request(projection, scene_id)
        await stream.run(projection, scene_id)
    scenes = await ReadModel(projection).open()
    held = await scenes.scene_json("held")
    listed = await scenes.list_json()

    # Another process empties the database and starts filling it again from the stream.
    async with Projection(projection.database_url, clock=Clock()) as rebuilder:
        await rebuilder.reset()
        await rebuilder.apply_many(stream.events[:3])
        await scenes.refresh(projection.last_seq())
        # The rebuilt row of "held" is newer than the start of the rebuild, older than shown.
        await rebuilder.apply_many(stream.events[3:6])
        await scenes.refresh(projection.last_seq())
        assert await scenes.scene_json("held") == held
        assert await scenes.list_json() == listed
        with pytest.raises(Rebuilding, match="being rebuilt"):
            await scenes.scene_json("other")  # not held, and the database is behind

        await rebuilder.apply_many(stream.events[6:])
        await scenes.refresh(rebuilder.last_seq())
        other = as_json(await scenes.scene_json("other"))
        assert other["status"] == "SUCCEEDED"
        assert await scenes.scene_json("held") == held


async def test_a_stored_version_older_than_the_one_held_is_not_taken(
    projection: Projection,
) -> None:
    stream = Stream()
    await stream.request(projection, "ahead")
    await stream.run(projection, "ahead")
    scenes = await ReadModel(projection).open()
    newest = await scenes.scene_json("ahead")
    snapshot = await projection.read_scenes(only=["ahead"], viewed={"ahead"})
    [row] = snapshot.rows
    row.changed_seq -= 1
    row.status = Status.IN_PROGRESS
    assert not scenes._take(row)
    assert await scenes.scene_json("ahead") == newest
    assert as_json(await scenes.list_json())["items"][0]["status"] == "SUCCEEDED"


async def test_an_old_database_gains_the_version_column_and_its_index(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/old.db"
    async with Projection(url, clock=Clock()) as old:
        await Stream().request(old, "before")
        engine = old._engine
        assert engine is not None
        async with engine.begin() as conn:
            await conn.exec_driver_sql("DROP INDEX ix_scenes_changed_seq")
            await conn.exec_driver_sql('ALTER TABLE scenes DROP COLUMN "changed_seq"')
    async with Projection(url, clock=Clock()) as upgraded:
        engine = upgraded._engine
        assert engine is not None
        async with engine.connect() as conn:
            indexes = await conn.exec_driver_sql("PRAGMA index_list('scenes')")
            assert "ix_scenes_changed_seq" in {row[1] for row in indexes}
        scenes = await ReadModel(upgraded).open()
        assert as_json(await scenes.scene_json("before"))["status"] == "PENDING"
