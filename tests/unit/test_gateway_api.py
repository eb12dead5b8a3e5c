"""The HTTP API over a SQLite projection, a local artifact store and an in-memory bus."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from pydantic import BaseModel

from services.gateway.api import MAX_PAGE, create_app
from services.gateway.events import LAST_EVENT_ID_PATTERN, events_router, last_event_id
from services.gateway.projection import Projection
from services.gateway.projector import Lag
from services.gateway.requests import (
    KeyRecord,
    NotAccepted,
    SceneRequests,
    body_digest,
    key_problem,
    key_token,
    scene_id_for_key,
)
from services.recovery import Plan, Stage
from shared.artifacts import LocalArtifactStore
from shared.contract import (
    MAX_CALLBACK_URL_CHARS,
    ArtifactRef,
    ImagesReady,
    SceneCancelled,
    SceneFailed,
    SceneReady,
    SceneReplayed,
    SceneRequested,
    Subject,
    dead_letter,
    encode,
    subject,
)
from shared.errors import BadInput, RetryLater
from shared.layout import ID_PATTERN
from shared.states import MemorySceneStates, SceneState
from tests.fakes.scenes import at, image_bytes, scene_events


class FakeBus:
    """Publishes a request by applying it to the projection at the next sequence.

    ``broken``: nothing is sent. ``lost_acks``: the request is stored but the ack never
    comes back, as with a publish that times out after sending.
    """

    def __init__(self, projection: Projection):
        self.projection = projection
        self.seq = 0
        self.requests: list[SceneRequested] = []
        self.stored: dict[str, tuple[int, str]] = {}
        self.broken = False
        self.lost_acks = False
        self.deferred = False

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    async def apply(self, subject_name: str, event: BaseModel) -> int:
        seq = self.next_seq()
        await self.projection.apply(subject_name, encode(event), seq, at(seq))
        return seq

    async def publish(self, request: SceneRequested) -> int:
        assert request.scene_id is not None
        if self.broken:
            raise NotAccepted(
                "ConnectionClosedError: nats: connection closed",
                scene_id=request.scene_id,
                maybe_taken=False,
            )
        if request.scene_id in self.stored:  # JetStream's duplicate window
            return self.stored[request.scene_id][0]
        self.requests.append(request)
        seq = self.next_seq()
        self.stored[request.scene_id] = (seq, body_digest(request))
        data = encode(request)
        if self.deferred:
            # As on a real bus: the ack comes back before the projection has the event.
            asyncio.get_running_loop().call_later(
                0.05,
                lambda: asyncio.ensure_future(
                    self.projection.apply(subject(Subject.SCENE_REQUESTED), data, seq, at(seq))
                ),
            )
        else:
            await self.projection.apply(subject(Subject.SCENE_REQUESTED), data, seq, at(seq))
        if self.lost_acks:
            raise NotAccepted(
                "no acknowledgement: TimeoutError: nats: timeout",
                scene_id=request.scene_id,
                maybe_taken=True,
            )
        return seq

    async def find(self, scene_id: str) -> tuple[int, str | None] | None:
        return self.stored.get(scene_id)


class MemoryKeys:
    """The idempotency key store in memory, with the bucket's create semantics."""

    def __init__(self) -> None:
        self.records: dict[str, KeyRecord] = {}
        self.down = False

    async def claim(self, token: str, record: KeyRecord) -> tuple[KeyRecord, bool]:
        if self.down:
            raise TimeoutError("nats: timeout")
        if token in self.records:
            return self.records[token], False
        self.records[token] = record
        return record, True

    async def settle(self, token: str, record: KeyRecord) -> None:
        self.records[token] = record


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class WallClock:
    """The projection's clock: today, unless a test moves it."""

    def __init__(self) -> None:
        self.now: datetime | None = None

    def __call__(self) -> datetime:
        return self.now or datetime.now(UTC)


class FakeControl:
    """Replays and cancels with the state bucket's semantics in memory, their events
    applied to the projection through the fake bus. ``meddle`` begins another attempt
    between a retry's plan and its replay, as a concurrent retry would."""

    def __init__(self, bus: FakeBus) -> None:
        self.bus = bus
        self.memory = MemorySceneStates()
        self.plans: list[Plan] = []
        self.meddle = False
        self.down = False

    @property
    def states(self) -> MemorySceneStates:
        return self.memory

    def _known(self, scene_id: str) -> None:
        if self.down:
            raise RetryLater("nats: timeout")
        if scene_id not in self.bus.stored:
            raise BadInput(f"scene {scene_id!r} is not in the stream")

    async def plan(self, scene_id: str, from_stage: Stage | None = None) -> Plan:
        self._known(scene_id)
        state = await self.memory.get(scene_id)
        current = state.attempt if state else 1
        plan = Plan(
            scene_id, current + 1, from_stage or "planner", state.state if state else "RUNNING"
        )
        plan.redone[plan.from_stage] += 1
        self.plans.append(plan)
        return plan

    async def replay(self, plan: Plan, reason: str = "replay") -> Plan:
        if self.meddle:
            await self.memory.begin(plan.scene_id, plan.attempt)
        held = await self.memory.begin(plan.scene_id, plan.attempt)
        if held.attempt != plan.attempt or self.meddle:
            raise BadInput(f"scene {plan.scene_id}: attempt {held.attempt} began meanwhile")
        replayed = SceneReplayed(
            scene_id=plan.scene_id, attempt=plan.attempt, from_stage=plan.from_stage, reason=reason
        )
        await self.bus.apply(subject(Subject.SCENE_REPLAYED, plan.scene_id), replayed)
        return plan

    async def cancel(self, scene_id: str, reason: str = "cancelled") -> SceneState:
        self._known(scene_id)
        state = await self.memory.get(scene_id)
        attempt = state.attempt if state else 1
        event = SceneCancelled(scene_id=scene_id, attempt=attempt, reason=reason)
        end = SceneState(attempt=attempt, state="CANCELLED", msg_id=f"cancel:{attempt}")
        held = await self.memory.claim(scene_id, end)
        if held == end:
            await self.bus.apply(subject(Subject.SCENE_CANCELLED, scene_id), event)
        return held

    async def end(self, scene_id: str, failure: SceneFailed) -> None:
        """The scene's current attempt fails, as a stage would say it."""
        end = SceneState(attempt=failure.attempt, state="FAILED", msg_id="failed")
        await self.memory.claim(scene_id, end)
        await self.bus.apply(subject(Subject.SCENE_FAILED, scene_id), failure)


class Gateway:
    """A client of the app, the bus behind it, its store and its extra health checks."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        bus: FakeBus,
        store: LocalArtifactStore,
        checks: dict[str, bool],
        keys: MemoryKeys,
        lag: Lag,
        control: FakeControl,
        wall: WallClock,
    ):
        self.client = client
        self.bus = bus
        self.store = store
        self.checks = checks
        self.keys = keys
        self.lag = lag
        self.control = control
        self.wall = wall

    async def create(self, prompt: str = "a cozy bedroom") -> str:
        response = await self.client.post("/v1/scenes", json={"prompt": prompt})
        assert response.status_code == 202, response.text
        scene_id: str = response.json()["scene_id"]
        return scene_id

    async def finish(self, scene_id: str) -> dict[str, ArtifactRef]:
        """Run the rest of the pipeline for a requested scene, artifacts in the store."""
        for subject_name, event, _ in scene_events(scene_id)[1:]:
            if isinstance(event, ImagesReady):
                await self.store.put(image_bytes(scene_id, event.object_id), "image/png")
            if isinstance(event, SceneReady):
                stored = {
                    "scene.glb": await self.store.put(
                        b"glTF-scene-" + scene_id.encode(), "model/gltf-binary"
                    ),
                    "layout.json": await self.store.put(b'{"objects": []}', "application/json"),
                }
                event = SceneReady(scene_id=scene_id, artifacts=stored, object_count=2)
            await self.bus.apply(subject_name, event)
        view = await self.bus.projection.get_scene(scene_id)
        assert view is not None
        return view.artifacts


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    wall = WallClock()
    projection = await Projection(f"sqlite+aiosqlite:///{tmp_path}/gateway.db", clock=wall).open()
    store = LocalArtifactStore(tmp_path / "artifacts")
    bus = FakeBus(projection)
    control = FakeControl(bus)
    keys = MemoryKeys()
    checks = {"nats": True}
    clock = Clock()
    lag = Lag(stall_after_s=30, clock=clock)
    lag.following = True
    app = create_app(
        projection,
        store,
        SceneRequests(bus, keys),
        page_size=3,
        health=lambda: checks,
        lag=lag.report,
        control=control,
    )
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            yield Gateway(client, bus, store, checks, keys, lag, control, wall)
    finally:
        await projection.close()


def counted(method: str, endpoint: str, status: int) -> float:
    labels = {"method": method, "endpoint": endpoint, "status": str(status)}
    return REGISTRY.get_sample_value("holodeck_requests_total", labels) or 0.0


async def test_post_accepts_a_scene_that_get_then_finds(gateway: Gateway) -> None:
    response = await gateway.client.post(
        "/v1/scenes", json={"prompt": "  a reading nook  ", "options": {"seed": 7}}
    )
    assert response.status_code == 202
    body = response.json()
    scene_id = body["scene_id"]
    assert len(scene_id) == 20
    assert body["status_url"] == f"/v1/scenes/{scene_id}"
    assert response.headers["location"] == f"/v1/scenes/{scene_id}"

    [request] = gateway.bus.requests
    assert request.scene_id == scene_id
    assert request.prompt == "a reading nook"
    assert request.options.seed == 7
    assert request.producer == "gateway"
    assert request.requested_by == "127.0.0.1"

    status = await gateway.client.get(body["status_url"])
    assert status.status_code == 200
    assert status.json() == {
        "scene_id": scene_id,
        "prompt": "a reading nook",
        "status": "PENDING",
        "progress": 5,
        "stages": {
            "planner": "IN_PROGRESS",
            "imagegen": "PENDING",
            "meshgen": "PENDING",
            "assembly": "PENDING",
        },
        "object_count": 0,
        "objects": [],
        "error": None,
        "artifacts": {},
        "created_at": "2031-05-04T12:00:01Z",
        "updated_at": "2031-05-04T12:00:01Z",
        "attempt": 1,
        "attempts": [
            {
                "attempt": 1,
                "from_stage": "planner",
                "started_at": "2031-05-04T12:00:01Z",
                "ended_at": None,
                "status": "PENDING",
                "error": None,
            }
        ],
        "last_event_at": "2031-05-04T12:00:01Z",
        "late_outcomes": 0,
        "late_outcome": None,
    }


async def test_post_waits_until_the_projection_has_the_request(gateway: Gateway) -> None:
    gateway.bus.deferred = True
    scene_id = await gateway.create("a deferred den")
    response = await gateway.client.get(f"/v1/scenes/{scene_id}")
    assert response.status_code == 200
    assert response.json()["prompt"] == "a deferred den"


async def test_two_posts_make_two_scenes(gateway: Gateway) -> None:
    assert await gateway.create() != await gateway.create()


async def test_a_finished_scene_shows_objects_and_artifact_links(gateway: Gateway) -> None:
    scene_id = await gateway.create()
    artifacts = await gateway.finish(scene_id)

    body = (await gateway.client.get(f"/v1/scenes/{scene_id}")).json()
    assert body["status"] == "SUCCEEDED"
    assert body["progress"] == 100
    assert set(body["stages"].values()) == {"SUCCEEDED"}
    assert body["artifacts"] == {
        "scene.glb": f"/v1/scenes/{scene_id}/artifacts/scene.glb",
        "layout.json": f"/v1/scenes/{scene_id}/artifacts/layout.json",
    }
    view = await gateway.bus.projection.get_scene(scene_id)
    assert view is not None
    expected = [
        {
            "object_id": obj.object_id,
            "category": obj.category,
            "description": obj.description,
            "image": {
                "status": "SUCCEEDED",
                "url": f"/v1/artifacts/{obj.image.sha256}",
                "progress": 100,
            },
            "mesh": {
                "status": "SUCCEEDED",
                "url": f"/v1/artifacts/{obj.mesh.sha256}",
                "progress": 100,
            },
        }
        for obj in view.objects
        if obj.image and obj.mesh
    ]
    assert len(expected) == 2
    assert body["objects"] == expected

    glb = await gateway.client.get(body["artifacts"]["scene.glb"])
    assert glb.status_code == 200
    assert glb.content == b"glTF-scene-" + scene_id.encode()
    assert glb.headers["content-type"] == "model/gltf-binary"
    assert glb.headers["content-disposition"] == 'attachment; filename="scene.glb"'
    assert artifacts["scene.glb"].size == len(glb.content)

    layout = await gateway.client.get(body["artifacts"]["layout.json"])
    assert layout.headers["content-type"] == "application/json"
    assert layout.content == b'{"objects": []}'

    image = await gateway.client.get(body["objects"][0]["image"]["url"])
    assert image.status_code == 200
    assert image.content == image_bytes(scene_id, "bed-1")
    assert image.headers["content-type"] == "image/png"
    sha = view.objects[0].image.sha256 if view.objects[0].image else ""
    assert image.headers["content-disposition"] == f'attachment; filename="{sha}.png"'


async def test_objects_have_no_urls_until_ready(gateway: Gateway) -> None:
    scene_id = await gateway.create()
    _, layout, *_ = scene_events(scene_id)
    await gateway.bus.apply(layout[0], layout[1])
    body = (await gateway.client.get(f"/v1/scenes/{scene_id}")).json()
    assert body["status"] == "IN_PROGRESS"
    assert body["progress"] == 15
    pending = {"status": "PENDING", "url": None, "progress": None}
    assert [o["image"] for o in body["objects"]] == [pending] * 2
    assert [o["mesh"] for o in body["objects"]] == [pending] * 2


async def test_a_failed_scene_reports_its_error(gateway: Gateway) -> None:
    scene_id = await gateway.create()
    failure = SceneFailed(
        scene_id=scene_id,
        stage="planner",
        code="empty_layout",
        message="no object could be placed",
    )
    await gateway.bus.apply(subject(Subject.SCENE_FAILED, scene_id), failure)
    body = (await gateway.client.get(f"/v1/scenes/{scene_id}")).json()
    assert body["status"] == "FAILED"
    assert body["stages"]["planner"] == "FAILED"
    assert body["error"] == {
        "stage": "planner",
        "object_id": None,
        "code": "empty_layout",
        "message": "no object could be placed",
        "retryable": False,
    }


async def test_scenes_are_listed_by_page_newest_first(gateway: Gateway) -> None:
    ids = [await gateway.create(f"room {i}") for i in range(4)]
    await gateway.finish(ids[0])

    first = (await gateway.client.get("/v1/scenes")).json()
    assert first["page"] == 1
    assert first["page_size"] == 3
    assert first["total"] == 4
    assert [item["scene_id"] for item in first["items"]] == [ids[3], ids[2], ids[1]]
    item = first["items"][0]
    assert item["prompt"] == "room 3"
    assert item["status"] == "PENDING"
    assert item["progress"] == 5
    assert item["status_url"] == f"/v1/scenes/{ids[3]}"
    assert set(item["stages"]) == {"planner", "imagegen", "meshgen", "assembly"}

    second = (await gateway.client.get("/v1/scenes", params={"page": 2, "page_size": 2})).json()
    assert [item["scene_id"] for item in second["items"]] == [ids[1], ids[0]]
    assert (second["page"], second["page_size"], second["total"]) == (2, 2, 4)

    done = (await gateway.client.get("/v1/scenes", params={"status": "SUCCEEDED"})).json()
    assert [item["scene_id"] for item in done["items"]] == [ids[0]]
    assert done["total"] == 1

    bad = await gateway.client.get("/v1/scenes", params={"status": "DONE"})
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "invalid_request"
    assert (await gateway.client.get("/v1/scenes", params={"page": 0})).status_code == 422
    too_big = await gateway.client.get("/v1/scenes", params={"page_size": 100000})
    assert too_big.status_code == 422


async def test_unknown_scenes_and_artifacts_are_404(gateway: Gateway) -> None:
    missing = await gateway.client.get("/v1/scenes/nothing-here")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "scene_not_found"

    missing = await gateway.client.get("/v1/scenes/nothing-here/artifacts/scene.glb")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "scene_not_found"

    scene_id = await gateway.create()
    unbuilt = await gateway.client.get(f"/v1/scenes/{scene_id}/artifacts/scene.glb")
    assert unbuilt.status_code == 404
    assert unbuilt.json()["error"]["code"] == "artifact_not_found"

    unknown = await gateway.client.get(f"/v1/artifacts/{'0' * 64}")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "artifact_not_found"

    route = await gateway.client.get("/v2/nowhere")
    assert route.status_code == 404
    assert route.json()["error"]["code"] == "not_found"


async def test_an_artifact_named_but_not_stored_is_404(gateway: Gateway) -> None:
    scene_id = await gateway.create()
    ghost = ArtifactRef(
        uri="file:///gone", sha256="ab" * 32, size=3, media_type="model/gltf-binary"
    )
    ready = SceneReady(scene_id=scene_id, artifacts={"scene.glb": ghost}, object_count=0)
    await gateway.bus.apply(subject(Subject.SCENE_READY, scene_id), ready)
    for url in (f"/v1/scenes/{scene_id}/artifacts/scene.glb", f"/v1/artifacts/{'ab' * 32}"):
        response = await gateway.client.get(url)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "artifact_not_found"


async def test_an_artifact_store_that_cannot_be_read_is_503_with_retry_after(
    gateway: Gateway,
) -> None:
    scene_id = await gateway.create()
    ref = await gateway.store.put(b"glTF-unreadable", "model/gltf-binary")
    ready = SceneReady(scene_id=scene_id, artifacts={"scene.glb": ref}, object_count=0)
    await gateway.bus.apply(subject(Subject.SCENE_READY, scene_id), ready)
    # The file's place taken by a directory: reading it fails with an OSError.
    path = gateway.store.path_of(ref.sha256)
    path.unlink()
    path.mkdir()
    for url in (f"/v1/scenes/{scene_id}/artifacts/scene.glb", f"/v1/artifacts/{ref.sha256}"):
        response = await gateway.client.get(url)
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"] == "1"
        assert response.json()["error"]["code"] == "storage_unavailable"


async def test_a_fault_of_the_gateway_is_500_json_without_its_traceback(
    gateway: Gateway,
) -> None:
    transport = gateway.client._transport
    assert isinstance(transport, httpx.ASGITransport)
    app = transport.app

    async def faulty() -> None:
        raise RuntimeError("secret internals")

    app.add_api_route("/v1/faulty", faulty)  # type: ignore[attr-defined]
    quiet = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=quiet, base_url="http://gateway") as client:
        response = await client.get("/v1/faulty")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]["code"] == "internal_error"
    assert "secret" not in response.text and "Traceback" not in response.text


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body.prompt"),
        ({"prompt": ""}, "body.prompt"),
        ({"prompt": "   "}, "body.prompt"),
        ({"prompt": "a room", "options": {"seed": 1, "quality": "high"}}, "body.options.quality"),
        ({"prompt": "a room", "options": {"seed": -1}}, "body.options.seed"),
        ({"prompt": "a room", "options": {"seed": False}}, "body.options.seed"),
        ({"prompt": "a room", "options": {"seed": "7"}}, "body.options.seed"),
        ({"prompt": "a room", "colour": "red"}, "body.colour"),
        ({"prompt": "x" * 2001}, "body.prompt"),
    ],
)
async def test_an_invalid_body_is_422_naming_the_field(
    gateway: Gateway, body: dict[str, object], field: str
) -> None:
    response = await gateway.client.post("/v1/scenes", json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert field in [f["field"] for f in error["fields"]]
    assert field in error["message"]
    assert gateway.bus.requests == []


async def test_a_body_that_is_not_json_is_422(gateway: Gateway) -> None:
    response = await gateway.client.post(
        "/v1/scenes", content=b"prompt=room", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_request"


async def test_a_bus_that_refuses_the_request_is_503(gateway: Gateway) -> None:
    gateway.bus.broken = True
    response = await gateway.client.post("/v1/scenes", json={"prompt": "a room"})
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    error = response.json()["error"]
    assert error["code"] == "bus_unavailable"
    assert error["accepted"] == "no"
    assert error["retry_safe"] is True
    assert "nothing was published" in error["message"]
    assert (await gateway.client.get("/v1/scenes")).json()["total"] == 0


async def test_a_503_says_when_the_request_may_have_been_accepted(gateway: Gateway) -> None:
    # The ack is lost after JetStream stored the request: the scene will be built, so
    # the answer must not say it was refused.
    gateway.bus.lost_acks = True
    response = await gateway.client.post("/v1/scenes", json={"prompt": "a lost ack"})
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["accepted"] == "unknown"
    assert error["retry_safe"] is False
    assert "may have been accepted" in error["message"]
    assert "Idempotency-Key" in error["message"]
    found = await gateway.client.get(error["status_url"])
    assert found.status_code == 200
    assert found.json()["scene_id"] == error["scene_id"]
    assert found.json()["prompt"] == "a lost ack"


async def test_the_same_idempotency_key_returns_the_same_scene_once(gateway: Gateway) -> None:
    body = {"prompt": "a keyed kitchen", "options": {"seed": 3}}
    headers = {"Idempotency-Key": "order-7f3a"}
    first = await gateway.client.post("/v1/scenes", json=body, headers=headers)
    assert first.status_code == 202, first.text
    assert "idempotent-replayed" not in first.headers
    again = await gateway.client.post("/v1/scenes", json=body, headers=headers)
    assert again.status_code == 202
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["location"] == first.headers["location"]
    assert len(gateway.bus.requests) == 1
    # Whitespace the contract strips does not make it another request.
    spaced = {"prompt": "  a keyed kitchen ", "options": {"seed": 3}}
    assert (await gateway.client.post("/v1/scenes", json=spaced, headers=headers)).json() == (
        first.json()
    )
    # Another key is another scene.
    other = await gateway.client.post("/v1/scenes", json=body, headers={"Idempotency-Key": "k2"})
    assert other.json()["scene_id"] != first.json()["scene_id"]
    assert len(gateway.bus.requests) == 2


async def test_an_idempotency_key_reused_with_another_body_is_422(gateway: Gateway) -> None:
    headers = {"Idempotency-Key": "reused"}
    first = await gateway.client.post("/v1/scenes", json={"prompt": "a hall"}, headers=headers)
    assert first.status_code == 202
    for body in ({"prompt": "a barn"}, {"prompt": "a hall", "options": {"seed": 1}}):
        response = await gateway.client.post("/v1/scenes", json=body, headers=headers)
        assert response.status_code == 422
        error = response.json()["error"]
        assert error["code"] == "idempotency_key_reused"
        assert "different request body" in error["message"]
        assert first.json()["scene_id"] in error["message"]
    assert len(gateway.bus.requests) == 1


async def test_a_retry_after_a_lost_ack_with_the_key_publishes_nothing_more(
    gateway: Gateway,
) -> None:
    headers = {"Idempotency-Key": "lost-ack-1"}
    body = {"prompt": "a den"}
    gateway.bus.lost_acks = True
    lost = await gateway.client.post("/v1/scenes", json=body, headers=headers)
    assert lost.status_code == 503
    error = lost.json()["error"]
    assert (error["accepted"], error["retry_safe"]) == ("unknown", True)
    assert "same Idempotency-Key is safe" in error["message"]

    gateway.bus.lost_acks = False
    retry = await gateway.client.post("/v1/scenes", json=body, headers=headers)
    assert retry.status_code == 202
    assert retry.json()["scene_id"] == error["scene_id"]
    assert retry.headers["idempotent-replayed"] == "true"
    assert len(gateway.bus.requests) == 1


async def test_a_key_claimed_by_a_gateway_that_crashed_is_published_on_retry(
    gateway: Gateway,
) -> None:
    # A gateway wrote the key's record and died before publishing: the client got no
    # answer at all. Its retry must publish, once.
    key = "crashed-before-publish"
    request = SceneRequested(scene_id=scene_id_for_key(key), prompt="an attic")
    gateway.keys.records[key_token(key)] = KeyRecord(
        scene_id=request.scene_id or "", body_sha256=body_digest(request)
    )
    retry = await gateway.client.post(
        "/v1/scenes", json={"prompt": "an attic"}, headers={"Idempotency-Key": key}
    )
    assert retry.status_code == 202
    assert retry.json()["scene_id"] == request.scene_id
    assert [r.scene_id for r in gateway.bus.requests] == [request.scene_id]
    assert gateway.keys.records[key_token(key)].stream_seq is not None
    again = await gateway.client.post(
        "/v1/scenes", json={"prompt": "an attic"}, headers={"Idempotency-Key": key}
    )
    assert again.json() == retry.json()
    assert len(gateway.bus.requests) == 1


async def test_concurrent_posts_with_one_key_make_one_scene(gateway: Gateway) -> None:
    headers = {"Idempotency-Key": "racing"}
    responses = await asyncio.gather(
        *(
            gateway.client.post("/v1/scenes", json={"prompt": "a race"}, headers=headers)
            for _ in range(5)
        )
    )
    assert {r.status_code for r in responses} == {202}
    assert len({r.json()["scene_id"] for r in responses}) == 1
    assert len(gateway.bus.requests) == 1


@pytest.mark.parametrize(
    ("key", "problem"),
    [("", "must not be empty"), ("é-key", "printable ASCII"), ("k" * 256, "255")],
)
async def test_an_invalid_idempotency_key_is_422(gateway: Gateway, key: str, problem: str) -> None:
    response = await gateway.client.post(
        "/v1/scenes",
        json={"prompt": "a room"},
        headers=[(b"Idempotency-Key", key.encode())],
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert "header.Idempotency-Key" in error["message"]
    assert problem in error["message"]
    assert gateway.bus.requests == []


async def test_a_key_store_that_does_not_answer_is_503_with_nothing_published(
    gateway: Gateway,
) -> None:
    gateway.keys.down = True
    response = await gateway.client.post(
        "/v1/scenes", json={"prompt": "a room"}, headers={"Idempotency-Key": "k"}
    )
    assert response.status_code == 503
    error = response.json()["error"]
    assert (error["accepted"], error["retry_safe"]) == ("no", True)
    assert "idempotency store did not answer" in error["message"]
    assert gateway.bus.requests == []


async def test_the_openapi_documents_the_idempotency_key(gateway: Gateway) -> None:
    spec = (await gateway.client.get("/openapi.json")).json()
    post = spec["paths"]["/v1/scenes"]["post"]
    [header] = [p for p in post["parameters"] if p["in"] == "header"]
    assert header["name"] == "Idempotency-Key"
    assert "at most once" in header["description"]
    assert {"202", "422", "503"} <= set(post["responses"])
    assert "may still have been taken" in post["responses"]["503"]["description"]
    assert "Idempotent-Replayed" in post["responses"]["202"]["headers"]
    assert "Retry-After" in post["responses"]["503"]["headers"]
    # One documented spelling of the dead letters; the other still answers.
    assert "/v1/deadletters" in spec["paths"]
    assert "/v1/dead-letters" not in spec["paths"]
    retry = spec["paths"]["/v1/scenes/{scene_id}/retry"]["post"]
    assert {"202", "404", "409", "503"} <= set(retry["responses"])
    cancel = spec["paths"]["/v1/scenes/{scene_id}/cancel"]["post"]
    assert {"202", "404", "409", "503"} <= set(cancel["responses"])


@pytest.mark.parametrize(
    ("url", "taken"),
    [
        ("https://hooks.example.com/holodeck?token=a1&x=%20", True),
        ("http://10.0.0.7:8080", True),
        ("http://h", True),
        ("HTTPS://hooks.example.com/", False),
        ("https://user:secret@hooks.example.com/", False),
        ("https://hooks.example.com/#done", False),
        ("https://[2001:db8::1]/hook", False),
        ("https://hooks.example.com/a b", False),
        ("ftp://hooks.example.com/", False),
    ],
)
async def test_a_callback_url_is_taken_exactly_when_it_matches_the_documented_pattern(
    gateway: Gateway, url: str, taken: bool
) -> None:
    spec = (await gateway.client.get("/openapi.json")).json()
    options = spec["components"]["schemas"]["NewSceneOptions"]["properties"]["callback_url"]
    [as_text] = [branch for branch in options["anyOf"] if branch.get("type") == "string"]
    assert (re.search(as_text["pattern"], url) is not None) is taken
    assert as_text["maxLength"] == MAX_CALLBACK_URL_CHARS
    response = await gateway.client.post(
        "/v1/scenes", json={"prompt": "a room", "options": {"callback_url": url}}
    )
    assert response.status_code == (202 if taken else 422), response.text
    if not taken:
        assert response.json()["error"]["fields"][0]["field"] == "body.options.callback_url"
    else:
        assert gateway.bus.requests[-1].options.callback_url == url


@pytest.mark.parametrize(
    "key", ["order-7f3a", " a ", "~", "", "   ", "é-key", "tab\tkey", "k" * 255, "k" * 256]
)
async def test_the_documented_idempotency_key_pattern_is_what_the_gateway_takes(
    gateway: Gateway, key: str
) -> None:
    spec = (await gateway.client.get("/openapi.json")).json()
    post = spec["paths"]["/v1/scenes"]["post"]
    [header] = [p for p in post["parameters"] if p["name"] == "Idempotency-Key"]
    schema = header["schema"]["anyOf"][0]
    documented = re.search(schema["pattern"], key) is not None and len(key) <= schema["maxLength"]
    assert documented is (key_problem(key) is None)


async def test_last_event_id_is_documented_and_checked_as_a_stream_sequence(
    gateway: Gateway,
) -> None:
    transport = gateway.client._transport
    assert isinstance(transport, httpx.ASGITransport)
    app = transport.app
    # The routes only: nothing here reaches the bus before the header is checked.
    app.include_router(  # type: ignore[attr-defined]
        events_router(None, None, "HOLODECK", gateway.bus.projection)  # type: ignore[arg-type]
    )
    spec = (await gateway.client.get("/openapi.json")).json()
    for path in ("/v1/events", "/v1/scenes/{scene_id}/events"):
        [header] = [
            p for p in spec["paths"][path]["get"]["parameters"] if p["name"] == "Last-Event-ID"
        ]
        # A string, empty for none: never documented as nullable (a header cannot be null).
        assert header["schema"]["type"] == "string"
        assert header["schema"]["pattern"] == LAST_EVENT_ID_PATTERN
    for value in ("1" * 19, "12a", "-1"):
        response = await gateway.client.get("/v1/events", headers={"Last-Event-ID": value})
        assert response.status_code == 422, value
        assert response.json()["error"]["fields"][0]["field"] == "header.Last-Event-ID"
    assert re.search(LAST_EVENT_ID_PATTERN, "9" * 18) and last_event_id("9" * 18) == 10**18 - 1


async def test_the_openapi_documents_every_answer_and_the_artifact_media_types(
    gateway: Gateway,
) -> None:
    spec = (await gateway.client.get("/openapi.json")).json()
    paths = spec["paths"]
    error = {"$ref": "#/components/schemas/ErrorResponse"}

    def answers(path: str, method: str = "get") -> dict[str, Any]:
        responses: dict[str, Any] = paths[path][method]["responses"]
        return responses

    for path in ("/v1/scenes/{scene_id}", "/v1/artifacts/{sha256}"):
        assert answers(path)["404"]["content"]["application/json"]["schema"] == error
    for path in ("/v1/scenes", "/v1/deadletters", "/v1/scenes/{scene_id}"):
        down = answers(path)["503"]
        assert down["content"]["application/json"]["schema"] == error
        assert "Retry-After" in down["headers"]
        assert "422" in answers(path)
    for path in ("/v1/scenes", "/v1/scenes/{scene_id}/retry", "/v1/scenes/{scene_id}/cancel"):
        assert "400" in answers(path, "post")
    for path in ("/v1/artifacts/{sha256}", "/v1/scenes/{scene_id}/artifacts/{name}"):
        download = answers(path)["200"]
        assert {"model/gltf-binary", "image/png", "application/json"} <= set(download["content"])
        assert "Content-Disposition" in download["headers"]
    assert set(answers("/metrics")["200"]["content"]) == {"text/plain"}
    health = answers("/health")
    assert health["503"]["content"] == health["200"]["content"]
    page = next(p for p in paths["/v1/scenes"]["get"]["parameters"] if p["name"] == "page")
    assert page["schema"]["maximum"] == MAX_PAGE
    [scene_id] = paths["/v1/scenes/{scene_id}"]["get"]["parameters"]
    assert scene_id["schema"]["pattern"] == ID_PATTERN
    assert spec["components"]["schemas"]["NewScene"]["examples"]


async def test_a_page_past_any_offset_is_422_not_a_server_error(gateway: Gateway) -> None:
    await gateway.create()
    for path in ("/v1/scenes", "/v1/deadletters"):
        huge = await gateway.client.get(path, params={"page": 10**24, "page_size": 468})
        assert huge.status_code == 422, huge.text
        assert huge.json()["error"]["fields"][0]["field"] == "query.page"
        last = await gateway.client.get(path, params={"page": MAX_PAGE, "page_size": 1000})
        assert last.status_code == 200
        assert last.json()["items"] == []


async def test_a_malformed_scene_id_or_digest_is_422_naming_it(gateway: Gateway) -> None:
    for method, path, field in (
        ("GET", "/v1/scenes/a%20b", "path.scene_id"),
        ("GET", "/v1/scenes/%C3%A5/artifacts/scene.glb", "path.scene_id"),
        ("POST", "/v1/scenes/%2C%C2%B2%60/cancel", "path.scene_id"),
        ("POST", "/v1/scenes/a.b/retry", "path.scene_id"),
        ("GET", "/v1/artifacts/not-a-digest", "path.sha256"),
    ):
        response = await gateway.client.request(method, path)
        assert response.status_code == 422, (path, response.text)
        body = response.json()["error"]
        assert body["code"] == "invalid_request"
        assert body["fields"][0]["field"] == field
    assert gateway.control.plans == []


async def test_a_method_a_path_lacks_is_405_with_every_method_it_has(gateway: Gateway) -> None:
    for method, path, allowed in (
        ("DELETE", "/v1/scenes", "GET, POST"),
        ("OPTIONS", "/v1/scenes", "GET, POST"),
        ("TRACE", "/v1/scenes/abc/retry", "POST"),
        ("PUT", "/v1/artifacts/" + "0" * 64, "GET"),
    ):
        response = await gateway.client.request(method, path)
        assert response.status_code == 405, (method, path)
        assert response.headers["allow"] == allowed, (method, path)
        assert response.json()["error"]["code"] == "method_not_allowed"


async def test_a_body_that_is_not_json_is_400_in_the_error_model(gateway: Gateway) -> None:
    for path in ("/v1/scenes", "/v1/scenes/abc/retry", "/v1/scenes/abc/cancel"):
        response = await gateway.client.post(
            path, content=b"\xc8\x86\x14\xff", headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 400, (path, response.text)
        assert response.json()["error"]["code"] == "bad_request"
    assert gateway.bus.requests == []


async def test_dead_letters_are_listed_newest_first(gateway: Gateway) -> None:
    scene_id = await gateway.create()
    for i in range(3):
        await gateway.bus.projection.apply(
            subject(Subject.LAYOUT_READY, scene_id),
            b"[" * 5000 + b"]" * 5000 if i == 0 else b"{not json",
            gateway.bus.next_seq(),
            at(gateway.bus.seq),
        )
    letter = dead_letter("planner", "scene.requested", b"{}", 1, "malformed: no prompt")
    await gateway.bus.apply(subject(Subject.DEAD_LETTER, "planner"), letter)

    first = (await gateway.client.get("/v1/deadletters")).json()
    assert (await gateway.client.get("/v1/dead-letters")).json() == first
    assert (first["total"], first["page"], first["page_size"]) == (4, 1, 3)
    assert [(d["rejected_by"], d["stream_seq"]) for d in first["items"]] == [
        ("planner", 1),
        ("gateway", 4),
        ("gateway", 3),
    ]
    deep = (await gateway.client.get("/v1/dead-letters", params={"page": 2})).json()["items"]
    assert [(d["rejected_by"], d["stream_seq"]) for d in deep] == [("gateway", 2)]
    assert "nested more than 32 levels deep" in deep[0]["reason"]
    assert deep[0]["scene_id"] == scene_id
    assert deep[0]["size"] == 10_000
    assert len(deep[0]["excerpt"]) == 512
    only = await gateway.client.get("/v1/dead-letters", params={"rejected_by": "planner"})
    assert only.json()["total"] == 1
    # None of it touched the scene.
    assert (await gateway.client.get(f"/v1/scenes/{scene_id}")).json()["status"] == "PENDING"


async def test_health_fails_when_the_projection_stalls_behind_the_stream(
    gateway: Gateway,
) -> None:
    clock = gateway.lag.clock
    assert isinstance(clock, Clock)
    gateway.lag.applied(10)
    gateway.lag.stream_at(10)
    clock.now += 3600  # idle for an hour: caught up, so healthy
    ok = await gateway.client.get("/health")
    assert ok.status_code == 200
    assert ok.json()["projection"] == {
        "stream_last_seq": 10,
        "applied_seq": 10,
        "behind": 0,
        "stalled_s": 0.0,
    }

    gateway.lag.stream_at(15)
    clock.now += 10
    behind = await gateway.client.get("/health")
    assert behind.status_code == 200
    assert behind.json()["projection"]["behind"] == 5

    gateway.lag.failed("ProjectionUnavailable('the database did not take stream sequence 11')")
    clock.now += 25
    stalled = await gateway.client.get("/health")
    assert stalled.status_code == 503
    body = stalled.json()
    assert body["checks"]["projection"] is False
    assert body["projection"]["stalled_s"] == 35.0
    [reason] = body["reasons"]
    assert reason.startswith(
        "the projection is stalled at stream sequence 10, 5 behind the stream, for 35s"
    )
    assert "did not take stream sequence 11" in reason

    gateway.lag.applied(15)
    recovered = await gateway.client.get("/health")
    assert recovered.status_code == 200
    assert recovered.json()["projection"]["behind"] == 0
    gateway.lag.following = False
    assert (await gateway.client.get("/health")).json()["reasons"] == [
        "the projection is not following the stream"
    ]


async def test_health_reports_every_check(gateway: Gateway) -> None:
    response = await gateway.client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"] == {"database": True, "nats": True, "projection": True}

    gateway.checks["nats"] = False
    response = await gateway.client.get("/health")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert response.json()["checks"]["nats"] is False


async def test_health_without_extra_checks(tmp_path: Path) -> None:
    async with Projection(f"sqlite+aiosqlite:///{tmp_path}/g.db") as projection:
        bus = FakeBus(projection)
        app = create_app(
            projection, LocalArtifactStore(tmp_path / "a"), SceneRequests(bus, MemoryKeys())
        )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            response = await client.get("/health")
            assert response.status_code == 200
            assert response.json()["checks"] == {"database": True}
            assert (await client.get("/v1/scenes")).json()["page_size"] == 50


async def test_metrics_count_requests_by_route_template(gateway: Gateway) -> None:
    scene_id = await gateway.create()
    template = "/v1/scenes/{scene_id}"
    found_before = counted("GET", template, 200)
    missing_before = counted("GET", template, 404)
    posted_before = counted("POST", "/v1/scenes", 202)

    await gateway.client.get(f"/v1/scenes/{scene_id}")
    await gateway.client.get(f"/v1/scenes/{scene_id}")
    await gateway.client.get("/v1/scenes/not-a-scene")
    await gateway.create()

    assert counted("GET", template, 200) == found_before + 2
    assert counted("GET", template, 404) == missing_before + 1
    assert counted("POST", "/v1/scenes", 202) == posted_before + 1
    duration = REGISTRY.get_sample_value(
        "holodeck_request_duration_seconds_count", {"method": "GET", "endpoint": template}
    )
    assert duration is not None and duration >= 3

    exposition = await gateway.client.get("/metrics")
    assert exposition.status_code == 200
    assert exposition.headers["content-type"].startswith("text/plain")
    text = exposition.text
    assert 'endpoint="/v1/scenes/{scene_id}"' in text
    assert "holodeck_request_duration_seconds_bucket" in text
    assert scene_id not in text
    assert "not-a-scene" not in text


async def test_metrics_put_unrouted_paths_under_one_label(gateway: Gateway) -> None:
    before = counted("GET", "unmatched", 404)
    await gateway.client.get("/no/such/path/12345")
    assert counted("GET", "unmatched", 404) == before + 1


async def test_messages_removed_from_the_stream_are_not_waited_on(gateway: Gateway) -> None:
    clock = gateway.lag.clock
    assert isinstance(clock, Clock)
    gateway.lag.applied(10)
    gateway.lag.stream_at(50, first_seq=41)  # 11-40 expired before they were applied
    clock.now += 60
    stalled = await gateway.client.get("/health")
    assert stalled.status_code == 503
    assert stalled.json()["projection"]["behind"] == 10
    gateway.lag.stream_at(50, first_seq=51)  # the stream was purged
    healthy = await gateway.client.get("/health")
    assert healthy.status_code == 200
    assert healthy.json()["projection"]["behind"] == 0


async def fail(gateway: Gateway, scene_id: str, attempt: int = 1) -> None:
    for subject_name, event, _ in scene_events(scene_id)[1:5]:
        await gateway.bus.apply(subject_name, event.model_copy(update={"attempt": attempt}))
    failure = SceneFailed(
        scene_id=scene_id, attempt=attempt, stage="imagegen", code="backend_down", message="m"
    )
    await gateway.control.end(scene_id, failure)


async def test_retry_begins_the_next_attempt_of_a_failed_scene(gateway: Gateway) -> None:
    scene_id = await gateway.create()
    await fail(gateway, scene_id)
    response = await gateway.client.post(
        f"/v1/scenes/{scene_id}/retry", json={"from": "imagegen", "reason": "backend back"}
    )
    assert response.status_code == 202, response.text
    body = response.json()
    assert body == {
        "scene_id": scene_id,
        "attempt": 2,
        "from_stage": "imagegen",
        "previous": "FAILED",
        "redone": {"imagegen": 1},
        "reused": {},
        "status_url": f"/v1/scenes/{scene_id}",
    }
    assert response.headers["location"] == body["status_url"]
    scene = (await gateway.client.get(body["status_url"])).json()
    assert (scene["status"], scene["attempt"]) == ("IN_PROGRESS", 2)
    assert [(a["attempt"], a["status"], a["from_stage"]) for a in scene["attempts"]] == [
        (1, "FAILED", "planner"),
        (2, "IN_PROGRESS", "imagegen"),
    ]
    assert scene["attempts"][0]["error"]["code"] == "backend_down"
    assert scene["attempts"][0]["ended_at"] is not None

    # No body: from where the control decides (here the planner).
    await fail(gateway, scene_id, attempt=2)
    again = await gateway.client.post(f"/v1/scenes/{scene_id}/retry")
    assert (again.status_code, again.json()["attempt"]) == (202, 3)
    assert gateway.control.plans[-1].from_stage == "planner"


async def test_retry_refuses_unknown_running_and_contested_scenes(gateway: Gateway) -> None:
    missing = await gateway.client.post("/v1/scenes/nope/retry")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "scene_not_found")

    scene_id = await gateway.create()
    running = await gateway.client.post(f"/v1/scenes/{scene_id}/retry")
    assert (running.status_code, running.json()["error"]["code"]) == (409, "scene_running")
    assert "cancel it first" in running.json()["error"]["message"]

    await fail(gateway, scene_id)
    gateway.control.meddle = True
    contested = await gateway.client.post(f"/v1/scenes/{scene_id}/retry")
    assert (contested.status_code, contested.json()["error"]["code"]) == (409, "replay_began")
    assert "began meanwhile" in contested.json()["error"]["message"]

    bad = await gateway.client.post(f"/v1/scenes/{scene_id}/retry", json={"from": "painting"})
    assert (bad.status_code, bad.json()["error"]["code"]) == (422, "invalid_request")
    assert "body.from" in bad.json()["error"]["message"]

    gateway.control.meddle, gateway.control.down = False, True
    down = await gateway.client.post(f"/v1/scenes/{scene_id}/retry")
    assert (down.status_code, down.json()["error"]["code"]) == (503, "bus_unavailable")


async def test_a_stuck_scene_is_shown_listed_counted_and_retried_from_its_stage(
    gateway: Gateway,
) -> None:
    stuck_id, fresh_id = await gateway.create(), await gateway.create()
    for subject_name, event, _ in scene_events(stuck_id)[1:7]:  # images done, meshing
        await gateway.bus.apply(subject_name, event)
    quiet_since = at(gateway.bus.seq)
    for subject_name, event, _ in scene_events(fresh_id)[1:2]:
        await gateway.bus.apply(subject_name, event)
    gateway.wall.now = quiet_since + timedelta(seconds=901)

    scene = (await gateway.client.get(f"/v1/scenes/{stuck_id}")).json()
    assert (scene["status"], scene["stages"]["meshgen"]) == ("STUCK", "IN_PROGRESS")
    assert scene["attempts"][-1]["status"] == "STUCK"
    listed = (await gateway.client.get("/v1/scenes", params={"status": "STUCK"})).json()
    assert [item["scene_id"] for item in listed["items"]] == [stuck_id]
    running = (await gateway.client.get("/v1/scenes", params={"status": "IN_PROGRESS"})).json()
    assert [item["scene_id"] for item in running["items"]] == [fresh_id]
    metrics_text = (await gateway.client.get("/metrics")).text
    assert "holodeck_scenes_stuck 1.0" in metrics_text

    response = await gateway.client.post(f"/v1/scenes/{stuck_id}/retry")
    assert response.status_code == 202, response.text
    assert (response.json()["from_stage"], response.json()["previous"]) == ("meshgen", "RUNNING")
    scene = (await gateway.client.get(f"/v1/scenes/{stuck_id}")).json()
    assert (scene["status"], scene["attempt"]) == ("IN_PROGRESS", 2)
    assert [a["status"] for a in scene["attempts"]] == ["SUPERSEDED", "IN_PROGRESS"]
    await gateway.client.get("/metrics")
    assert REGISTRY.get_sample_value("holodeck_scenes_stuck") == 0


async def test_cancel_ends_the_attempt_once(gateway: Gateway) -> None:
    scene_id = await gateway.create()
    response = await gateway.client.post(
        f"/v1/scenes/{scene_id}/cancel", json={"reason": "changed my mind"}
    )
    assert response.status_code == 202, response.text
    assert response.json() == {
        "scene_id": scene_id,
        "attempt": 1,
        "status": "CANCELLED",
        "status_url": f"/v1/scenes/{scene_id}",
    }
    scene = (await gateway.client.get(f"/v1/scenes/{scene_id}")).json()
    assert scene["status"] == "CANCELLED"
    assert scene["error"]["message"] == "changed my mind"
    assert scene["attempts"][0]["status"] == "CANCELLED"
    # Again: the same outcome.
    assert (await gateway.client.post(f"/v1/scenes/{scene_id}/cancel")).status_code == 202

    # A cancelled scene can be retried, and a failed one not cancelled.
    retried = await gateway.client.post(f"/v1/scenes/{scene_id}/retry")
    assert (retried.status_code, retried.json()["previous"]) == (202, "CANCELLED")
    await fail(gateway, scene_id, attempt=2)
    ended = await gateway.client.post(f"/v1/scenes/{scene_id}/cancel")
    assert ended.status_code == 409
    error = ended.json()["error"]
    assert (error["code"], error["scene_status"], error["attempt"]) == ("scene_ended", "FAILED", 2)

    missing = await gateway.client.post("/v1/scenes/nope/cancel")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "scene_not_found")


async def test_retry_and_cancel_without_control_are_503(tmp_path: Path) -> None:
    async with Projection(f"sqlite+aiosqlite:///{tmp_path}/bare.db") as projection:
        app = create_app(
            projection,
            LocalArtifactStore(tmp_path / "artifacts"),
            SceneRequests(FakeBus(projection), MemoryKeys()),
        )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            for action in ("retry", "cancel"):
                response = await client.post(f"/v1/scenes/some/{action}")
                assert response.status_code == 503
                assert response.json()["error"]["code"] == "control_unavailable"


async def test_a_scene_known_here_but_not_replayable_is_409(gateway: Gateway) -> None:
    # Only a layout's outputs reached this projection: the stream has no request or layout
    # the control could replay from.
    scene_id = "orphan-1"
    for subject_name, event, _ in scene_events(scene_id)[4:6]:
        await gateway.bus.apply(subject_name, event)
    gateway.wall.now = at(gateway.bus.seq) + timedelta(hours=1)
    assert (await gateway.client.get(f"/v1/scenes/{scene_id}")).json()["status"] == "STUCK"
    retry = await gateway.client.post(f"/v1/scenes/{scene_id}/retry")
    assert (retry.status_code, retry.json()["error"]["code"]) == (409, "not_replayable")
    assert "not in the stream" in retry.json()["error"]["message"]
    cancel = await gateway.client.post(f"/v1/scenes/{scene_id}/cancel")
    assert (cancel.status_code, cancel.json()["error"]["code"]) == (409, "not_cancellable")
