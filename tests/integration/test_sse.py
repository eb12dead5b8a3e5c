"""The gateway's event streams on a real nats-server, with every stage running in this
process and the gateway wired as ``holodeck up`` wires it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import nats
import pytest
from nats.js.api import StreamConfig

import services.gateway.events
import services.runtime
from services.gateway.events import Feed, run_feed, scene_filters
from services.meshgen.backend import ParametricMeshes
from services.watch_command import Message, stream_messages, watch
from shared.contract import (
    STREAM_SUBJECTS,
    LayoutReady,
    ObjectProgress,
    SceneReady,
    Subject,
    encode,
    subject,
)
from shared.layout import Layout, PlacedObject, Room
from tests.helpers import running_gateway

PROMPT = "a small office with a desk, an office chair and a bookshelf"
WAIT_S = 60.0


class HeldMeshes(ParametricMeshes):
    """Parametric meshes that hold every bookshelf until released."""

    def __init__(self) -> None:
        super().__init__()
        self.holding = asyncio.Event()
        self.release = asyncio.Event()

    async def generate(self, obj: PlacedObject, image_png: bytes) -> bytes:
        if obj.category == "bookshelf":
            self.holding.set()
            await self.release.wait()
        return await super().generate(obj, image_png)


@pytest.fixture
async def gateway(
    nats_server: str, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[httpx.AsyncClient, Any, HeldMeshes]]:
    meshes = HeldMeshes()
    monkeypatch.setattr(services.runtime, "mesh_backend", lambda *a, **k: meshes)
    monkeypatch.setattr(services.gateway.events, "HEARTBEAT_S", 0.2)
    settings = settings.model_copy(
        update={
            "performance": settings.performance.model_copy(update={"cache_ttl": 0}),
            "nats": settings.nats.model_copy(update={"url": nats_server}),
        }
    )
    try:
        async with running_gateway(settings, nats_server) as (client, host):
            yield client, host, meshes
    finally:
        meshes.release.set()


async def create(client: httpx.AsyncClient) -> str:
    response = await client.post("/v1/scenes", json={"prompt": PROMPT})
    assert response.status_code == 202, response.text
    scene_id: str = response.json()["scene_id"]
    return scene_id


async def collect(
    client: httpx.AsyncClient,
    path: str,
    last_id: str | None = None,
    until: str | None = None,
    into: list[Message] | None = None,
) -> list[Message]:
    """Every message of one connection until the server ends it (or ``until`` comes)."""
    got: list[Message] = [] if into is None else into

    async def read() -> None:
        async for message in stream_messages(client, path, {}, last_id):
            got.append(message)
            if until is not None and message.event == until:
                return

    await asyncio.wait_for(read(), WAIT_S)
    return got


def body(message: Message) -> dict[str, Any]:
    data: dict[str, Any] = json.loads("\n".join(message.data))
    return data


async def test_a_scene_streams_every_stage_and_object_then_ends(gateway: Any) -> None:
    client, host, meshes = gateway
    scene_id = await create(client)
    await asyncio.wait_for(meshes.holding.wait(), WAIT_S)
    path = f"/v1/scenes/{scene_id}/events"
    seen: list[Message] = []
    reading = asyncio.create_task(collect(client, path, into=seen))

    # While the bookshelf is held, its stage's progress reports come through live.
    report = ObjectProgress(
        scene_id=scene_id, object_id="bookshelf-1", stage="meshgen", fraction=0.5
    )
    progress_subject = subject(Subject.PROGRESS, scene_id, "bookshelf-1")
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while not any(m.event == "progress" for m in seen):
        assert asyncio.get_running_loop().time() < deadline, "no progress message came"
        assert not reading.done(), "the stream ended while the scene was running"
        await host.nc.publish(progress_subject, report.model_dump_json().encode())
        await asyncio.sleep(0.02)
    meshes.release.set()
    messages = await reading

    kinds = [m.event for m in messages]
    assert kinds[0] == "requested" and kinds[-1] == "ready", kinds
    stream_ids = [int(m.id) for m in messages if m.id is not None]
    assert stream_ids == sorted(stream_ids) and len(set(stream_ids)) == len(stream_ids)
    layout = body(next(m for m in messages if m.event == "layout"))
    count = layout["objects"]["total"]
    assert count == len(layout["objects_planned"]) >= 3
    assert kinds.count("image") == count and kinds.count("mesh") == count
    progress = [body(m) for m in messages if m.event == "progress"]
    assert progress and all(m.id is None for m in messages if m.event == "progress")
    assert progress[0]["object_id"] == "bookshelf-1" and progress[0]["percent"] == 50
    last = body(messages[-1])
    assert (last["status"], last["progress"], last["stages"]["assembly"]) == (
        "SUCCEEDED",
        100,
        "SUCCEEDED",
    )
    # The stream said so only once the HTTP API shows it: the artifact is there.
    glb = await client.get(last["artifacts"]["scene.glb"])
    assert glb.status_code == 200 and glb.content[:4] == b"glTF"
    percents = [body(m)["progress"] for m in messages if m.id is not None]
    assert percents == sorted(percents)

    # Resumed after the layout: exactly the rest of the stream, without progress.
    again = await collect(client, path, last_id=next(m.id for m in messages if m.event == "layout"))
    rest = [(m.event, m.id) for m in messages if m.id is not None]
    start = next(i for i, (kind, _) in enumerate(rest) if kind == "layout") + 1
    assert [(m.event, m.id) for m in again] == rest[start:]

    # Back after the end (as EventSource reconnects by itself): nothing more, 204.
    over = await client.get(path, headers={"Last-Event-ID": messages[-1].id})
    assert over.status_code == 204

    # holodeck watch follows the same stream to the same end.
    lines: list[str] = []
    outcome = await watch(
        str(client.base_url), scene_id, show=lambda kind, data: lines.append(kind)
    )
    assert outcome == "SUCCEEDED" and lines == [k for k in kinds if k != "progress"]


async def test_every_scene_and_the_status_filter(gateway: Any) -> None:
    client, _, meshes = gateway
    meshes.release.set()
    outcomes = asyncio.create_task(collect(client, "/v1/events?status=SUCCEEDED", until="ready"))
    everything = asyncio.create_task(collect(client, "/v1/events", until="ready"))
    await asyncio.sleep(0.3)  # both connections subscribed before the scene starts
    scene_id = await create(client)
    filtered, full = await outcomes, await everything
    assert [m.event for m in filtered] == ["ready"]
    assert body(filtered[0])["scene_id"] == scene_id
    kinds = [m.event for m in full]
    assert kinds[0] == "requested" and "layout" in kinds and kinds[-1] == "ready"
    assert {body(m)["scene_id"] for m in full} == {scene_id}


async def test_heartbeats_errors_and_unknown_scenes(gateway: Any) -> None:
    client, _, _ = gateway
    async with client.stream("GET", "/v1/events") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.aiter_lines()
        first = await asyncio.wait_for(anext(lines), 5)
        assert first.startswith(":"), "a comment line keeps a quiet stream open"
    missing = await client.get("/v1/scenes/no-such-scene/events")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "scene_not_found")
    bad = await client.get("/v1/events", headers={"Last-Event-ID": "yesterday"})
    assert (bad.status_code, bad.json()["error"]["code"]) == (422, "invalid_request")
    assert "Last-Event-ID" in bad.json()["error"]["message"]


class BehindProjection:
    """A projection that never catches up: each wait times out at once."""

    def __init__(self) -> None:
        self.waits = 0

    async def get_scene(self, scene_id: str) -> Any:
        return None

    async def wait_for_seq(self, seq: int, timeout: float) -> bool:
        self.waits += 1
        return False


async def test_a_projection_behind_is_waited_for_once_per_connection(nats_server: str) -> None:
    nc = await nats.connect(nats_server)
    try:
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name="EVENTS", subjects=STREAM_SUBJECTS))
        scene_id = "behind-1"
        layout = LayoutReady(
            scene_id=scene_id,
            prompt="an empty room",
            layout=Layout(
                room=Room(type="room", polygon=[[0, 0], [0, 3], [3, 3], [3, 0]], height=2.5),
                objects=[],
            ),
        )
        ready = SceneReady(scene_id=scene_id, artifacts={}, object_count=0)
        for event, root in ((layout, Subject.LAYOUT_READY), (ready, Subject.SCENE_READY)):
            await js.publish(subject(root, scene_id), encode(event))
        behind = BehindProjection()
        feed = Feed(scene_filters(scene_id), subject(Subject.PROGRESS, scene_id, "*"), scene_id)
        got = [m.event async for m in run_feed(js, nc, "EVENTS", feed, behind)]
        assert got == ["layout", "ready"] and behind.waits == 1
    finally:
        await nc.drain()
