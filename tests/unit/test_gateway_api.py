"""The HTTP API over a SQLite projection, a local artifact store and an in-memory bus."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import REGISTRY
from pydantic import BaseModel

from services.gateway.api import create_app
from services.gateway.projection import Projection
from shared.artifacts import LocalArtifactStore
from shared.contract import (
    ArtifactRef,
    ImagesReady,
    SceneFailed,
    SceneReady,
    SceneRequested,
    Subject,
    encode,
    subject,
)
from tests.unit.test_projection import at, image_bytes, scene_events


class FakeBus:
    """Publishes a request by applying it to the projection at the next sequence."""

    def __init__(self, projection: Projection):
        self.projection = projection
        self.seq = 0
        self.requests: list[SceneRequested] = []
        self.broken = False
        self.deferred = False

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    async def apply(self, subject_name: str, event: BaseModel) -> int:
        seq = self.next_seq()
        await self.projection.apply(subject_name, encode(event), seq, at(seq))
        return seq

    async def publish(self, request: SceneRequested) -> int:
        if self.broken:
            raise ConnectionError("nats: no servers available")
        self.requests.append(request)
        if not self.deferred:
            return await self.apply(subject(Subject.SCENE_REQUESTED), request)
        # As on a real bus: the ack comes back before the projection has the event.
        seq = self.next_seq()
        data = encode(request)
        asyncio.get_running_loop().call_later(
            0.05,
            lambda: asyncio.ensure_future(
                self.projection.apply(subject(Subject.SCENE_REQUESTED), data, seq, at(seq))
            ),
        )
        return seq


class Gateway:
    """A client of the app, the bus behind it, its store and its extra health checks."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        bus: FakeBus,
        store: LocalArtifactStore,
        checks: dict[str, bool],
    ):
        self.client = client
        self.bus = bus
        self.store = store
        self.checks = checks

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
    projection = await Projection(f"sqlite+aiosqlite:///{tmp_path}/gateway.db").open()
    store = LocalArtifactStore(tmp_path / "artifacts")
    bus = FakeBus(projection)
    checks = {"nats": True}
    app = create_app(projection, store, bus.publish, page_size=3, health=lambda: checks)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            yield Gateway(client, bus, store, checks)
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

    for sha in ("0" * 64, "not-a-digest"):
        unknown = await gateway.client.get(f"/v1/artifacts/{sha}")
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


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body.prompt"),
        ({"prompt": ""}, "body.prompt"),
        ({"prompt": "   "}, "body.prompt"),
        ({"prompt": "a room", "options": {"seed": 1, "quality": "high"}}, "body.options.quality"),
        ({"prompt": "a room", "options": {"seed": -1}}, "body.options.seed"),
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
    assert response.json()["error"]["code"] == "bus_unavailable"
    assert (await gateway.client.get("/v1/scenes")).json()["total"] == 0


async def test_health_reports_every_check(gateway: Gateway) -> None:
    response = await gateway.client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"] == {"database": True, "nats": True}

    gateway.checks["nats"] = False
    response = await gateway.client.get("/health")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert response.json()["checks"]["nats"] is False


async def test_health_without_extra_checks(tmp_path: Path) -> None:
    async with Projection(f"sqlite+aiosqlite:///{tmp_path}/g.db") as projection:
        bus = FakeBus(projection)
        app = create_app(projection, LocalArtifactStore(tmp_path / "a"), bus.publish)
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
