"""Gateway replicas sharing one database, each following the stream with its own read
model, on a real nats-server and on SQLite and PostgreSQL: what each shows only moves
forward while the scenes run, and in the end is what the database says."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.js import JetStreamContext

from services.gateway.projection import Projection
from services.gateway.projector import follow
from services.gateway.readmodel import ReadModel, scene_body
from shared.bus import provision
from shared.config import NatsSettings
from shared.contract import encode
from tests.fakes.scenes import scene_events
from tests.helpers import private_postgres_database

WAIT_S = 30.0
STATUS_RANK = {"PENDING": 0, "IN_PROGRESS": 1, "SUCCEEDED": 2}


@pytest.fixture
async def js(nats_server: str) -> AsyncIterator[JetStreamContext]:
    nc = await nats.connect(nats_server)
    js = nc.jetstream()
    await provision(js, NatsSettings())
    try:
        yield js
    finally:
        await nc.drain()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/shared.db"
        return
    async with private_postgres_database(request.getfixturevalue("postgres_url")) as url:
        yield url


def progress_of(body: dict[str, Any]) -> tuple[int, int, str]:
    """What may only grow while a scene runs: its progress, status and last change."""
    return body["progress"], STATUS_RANK[body["status"]], body["updated_at"]


async def test_replicas_on_one_database_show_each_scene_moving_only_forward(
    js: JetStreamContext, database_url: str, unique: str
) -> None:
    stream = NatsSettings().stream
    scene_ids = [f"replica-{unique}-{n}" for n in range(4)]
    async with contextlib.AsyncExitStack() as stack:
        models = []
        stop = asyncio.Event()
        for _ in range(2):
            projection = await stack.enter_async_context(Projection(database_url))
            models.append(await ReadModel(projection).open())
            follower = asyncio.create_task(follow(js, stream, projection, stop))
            stack.push_async_callback(asyncio.wait_for, follower, WAIT_S)
        stack.callback(stop.set)

        seen: dict[tuple[int, str], list[tuple[int, int, str]]] = {}
        publishing = True

        async def watch(n: int, model: ReadModel) -> None:
            while publishing:
                for scene_id in scene_ids:
                    data = await model.scene_json(scene_id)
                    if data is not None:
                        seen.setdefault((n, scene_id), []).append(progress_of(json.loads(data)))
                await asyncio.sleep(0.002)

        watchers = [asyncio.create_task(watch(n, m)) for n, m in enumerate(models)]
        # The scenes' runs interleaved, as stages working on several scenes publish them.
        runs = [scene_events(scene_id) for scene_id in scene_ids]
        last = 0
        for step in range(max(len(run) for run in runs)):
            for run in runs:
                if step < len(run):
                    name, event, message_id = run[step]
                    ack = await js.publish(name, encode(event), headers={"Nats-Msg-Id": message_id})
                    last = ack.seq
            await asyncio.sleep(0.01)
        for model in models:
            assert await model.wait_for_seq(last, WAIT_S), "a replica did not catch up"
        publishing = False
        await asyncio.gather(*watchers)

        for (n, scene_id), shown in seen.items():
            for before, after in itertools.pairwise(shown):
                assert all(b <= a for b, a in zip(before, after, strict=True)), (
                    f"replica {n} showed {scene_id} going back: {before} then {after}"
                )
        for scene_id in scene_ids:
            truth = await models[0].projection.get_scene(scene_id)
            assert truth is not None and truth.status == "SUCCEEDED"
            expected = json.loads(scene_body(truth).model_dump_json())
            for model in models:
                assert json.loads(await model.scene_json(scene_id) or b"null") == expected
                listed = json.loads(await model.list_json(page_size=100))
                [item] = [i for i in listed["items"] if i["scene_id"] == scene_id]
                assert (item["status"], item["progress"]) == ("SUCCEEDED", 100)
        # Each event was applied once between them; the one that lost a race skipped it.
        assert sum(m.projection.dead_letters for m in models) == 0
