"""SF3D and Hunyuan3D clients against fakes speaking their protocols over loopback HTTP."""

from __future__ import annotations

import base64
import socket
import uuid
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from structlog.testing import capture_logs

from services.meshgen.backend import ParametricMeshes, mesh_backend
from services.meshgen.remote import Hunyuan3DMeshes, SF3DMeshes
from shared.config import MeshSettings
from shared.errors import Permanent, RetryLater, retry_after_seconds
from shared.layout import PlacedObject
from tests.fakes.image_to_3d import (
    HUNYUAN3D_ERROR_TEXT,
    SF3D_PATH,
    FakeHunyuan3D,
    FakeSF3D,
    assert_model_placed,
    texture_png,
)

SIZE = (0.6, 0.95, 0.55)


class Sleeps(list[float]):
    """Stands in for asyncio.sleep between attempts: records the waits, waits not at all."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def obj() -> PlacedObject:
    return PlacedObject(
        id=f"chair-{uuid.uuid4().hex[:8]}",
        category="armchair",
        description="a green velvet armchair",
        size=SIZE,
        position=(1.0, 0.0, 2.0),
    )


@pytest.fixture
def image() -> bytes:
    return texture_png()


def sf3d(base_url: str, sleeps: Sleeps, **options: object) -> SF3DMeshes:
    settings: dict[str, object] = {"attempts": 3, "backoff": 0.25, "sleep": sleeps}
    settings.update(options)
    return SF3DMeshes(base_url, **settings)  # type: ignore[arg-type]


def hunyuan(base_url: str, sleeps: Sleeps, **options: object) -> Hunyuan3DMeshes:
    settings: dict[str, object] = {"attempts": 3, "backoff": 0.25, "sleep": sleeps}
    settings.update(options)
    return Hunyuan3DMeshes(base_url, **settings)  # type: ignore[arg-type]


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# --------------------------------------------------------------------------------------
# SF3D.


async def test_sf3d_sends_the_documented_form_and_returns_the_normalised_model(
    obj: PlacedObject, image: bytes
) -> None:
    sleeps = Sleeps()
    async with FakeSF3D(api_key="sk-test") as fake:
        backend = sf3d(
            fake.base_url + "/",
            sleeps,
            api_key="sk-test",
            texture_resolution=2048,
            foreground_ratio=0.7,
            remesh="triangle",
            vertex_count=5000,
        )
        try:
            glb = await backend.generate(obj, image)
        finally:
            await backend.close()

    [request] = fake.requests
    assert request.path == SF3D_PATH
    assert request.headers["authorization"] == "Bearer sk-test"
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert request.fields == {
        "texture_resolution": "2048",
        "foreground_ratio": "0.7",
        "remesh": "triangle",
        "vertex_count": "5000",
    }
    _, content_type, sent = request.files["image"]
    assert (content_type, sent) == ("image/png", image)
    # The fake's model faces -Z, as SF3D's do; it arrives facing +Z, fitted to the object.
    assert_model_placed(glb, SIZE)
    assert sleeps == []


async def test_sf3d_without_a_key_sends_no_authorization(obj: PlacedObject, image: bytes) -> None:
    async with FakeSF3D() as fake:
        backend = sf3d(fake.base_url, Sleeps())
        try:
            await backend.generate(obj, image)
        finally:
            await backend.close()

    assert "authorization" not in fake.requests[0].headers


@pytest.mark.parametrize(
    ("scenario", "code", "named"),
    [
        ("unauthorized", "sf3d_unauthorized", "unauthorized"),
        ("content_moderation", "content_moderation", "flagged"),
        ("too_large", "sf3d_payload_too_large", "payload_too_large"),
        ("unprocessable", "sf3d_unprocessable", "invalid_image"),
        ("not_glb", "mesh_invalid", "GLB"),
    ],
)
async def test_sf3d_refusals_are_permanent_and_not_repeated(
    obj: PlacedObject, image: bytes, scenario: str, code: str, named: str
) -> None:
    sleeps = Sleeps()
    async with FakeSF3D(scenario) as fake:  # type: ignore[arg-type]
        backend = sf3d(fake.base_url, sleeps)
        try:
            with pytest.raises(Permanent) as caught:
                await backend.generate(obj, image)
        finally:
            await backend.close()

    assert caught.value.code == code
    assert named in caught.value.message
    assert len(fake.requests) == 1
    assert sleeps == []


async def test_sf3d_bad_parameters_name_the_servers_errors(obj: PlacedObject, image: bytes) -> None:
    async with FakeSF3D() as fake:
        backend = sf3d(fake.base_url, Sleeps(), vertex_count=50000, remesh="quad")
        try:
            with pytest.raises(Permanent) as caught:
                await backend.generate(obj, image)
        finally:
            await backend.close()

    assert caught.value.code == "sf3d_bad_request"
    assert "400 bad_request" in caught.value.message
    assert "vertex_count: must be an integer between -1 and 20000" in caught.value.message
    assert len(fake.requests) == 1


async def test_the_fake_sf3d_rejects_a_form_without_an_image() -> None:
    async with FakeSF3D() as fake, httpx.AsyncClient() as client:
        # multipart/form-data with fields but no file
        response = await client.post(fake.base_url + SF3D_PATH, files={"remesh": (None, b"none")})
        not_a_form = await client.post(fake.base_url + SF3D_PATH, json={"image": "x"})

    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"id", "name", "errors"}
    assert body["name"] == "bad_request"
    assert body["errors"] == ["image: required"]
    assert not_a_form.status_code == 400


async def test_sf3d_rate_limit_waits_as_long_as_retry_after_says(
    obj: PlacedObject, image: bytes
) -> None:
    sleeps = Sleeps()
    async with FakeSF3D(retry_after="2") as fake:
        fake.script("rate_limited")
        backend = sf3d(fake.base_url, sleeps)
        try:
            glb = await backend.generate(obj, image)
        finally:
            await backend.close()

    assert sleeps == [2.0]
    assert len(fake.requests) == 2
    assert_model_placed(glb, SIZE)


async def test_sf3d_rate_limit_without_retry_after_backs_off(
    obj: PlacedObject, image: bytes
) -> None:
    sleeps = Sleeps()
    async with FakeSF3D(retry_after=None) as fake:
        fake.script("rate_limited", "rate_limited")
        backend = sf3d(fake.base_url, sleeps)
        try:
            await backend.generate(obj, image)
        finally:
            await backend.close()

    assert sleeps == [0.25, 0.5]
    assert len(fake.requests) == 3


async def test_sf3d_a_long_retry_after_goes_back_to_the_bus(
    obj: PlacedObject, image: bytes
) -> None:
    sleeps = Sleeps()
    async with FakeSF3D("rate_limited", retry_after="120") as fake:
        backend = sf3d(fake.base_url, sleeps, max_wait=30.0)
        try:
            with pytest.raises(RetryLater) as caught:
                await backend.generate(obj, image)
        finally:
            await backend.close()

    assert caught.value.code == "sf3d_rate_limited"
    assert caught.value.delay == 120.0
    assert len(fake.requests) == 1
    assert sleeps == []


async def test_sf3d_a_lasting_rate_limit_becomes_retry_later(
    obj: PlacedObject, image: bytes
) -> None:
    sleeps = Sleeps()
    async with FakeSF3D("rate_limited", retry_after="1") as fake:
        backend = sf3d(fake.base_url, sleeps)
        try:
            with pytest.raises(RetryLater) as caught:
                await backend.generate(obj, image)
        finally:
            await backend.close()

    assert caught.value.code == "sf3d_rate_limited"
    assert caught.value.delay == 1.0
    assert len(fake.requests) == 3
    assert sleeps == [1.0, 1.0]


async def test_sf3d_server_errors_are_retried_until_success(
    obj: PlacedObject, image: bytes
) -> None:
    sleeps = Sleeps()
    async with FakeSF3D() as fake:
        fake.script("server_error", "server_error")
        backend = sf3d(fake.base_url, sleeps)
        try:
            with capture_logs() as logs:
                glb = await backend.generate(obj, image)
        finally:
            await backend.close()

    assert len(fake.requests) == 3
    assert sleeps == [0.25, 0.5]
    assert_model_placed(glb, SIZE)
    failures = [line for line in logs if line["event"] == "mesh_attempt_failed"]
    assert [line["attempt"] for line in failures] == [1, 2]
    for line in failures:
        assert line["object_id"] == obj.id
        assert line["backend"] == "sf3d"
        assert line["status"] == 500
        assert line["code"] == "sf3d_unavailable"


async def test_sf3d_lasting_server_errors_become_retry_later(
    obj: PlacedObject, image: bytes
) -> None:
    async with FakeSF3D("server_error") as fake:
        backend = sf3d(fake.base_url, Sleeps())
        try:
            with pytest.raises(RetryLater) as caught:
                await backend.generate(obj, image)
        finally:
            await backend.close()

    assert caught.value.code == "sf3d_unavailable"
    assert "internal_error" in caught.value.message
    assert len(fake.requests) == 3


async def test_sf3d_unreachable_server_is_retried_then_retry_later(
    obj: PlacedObject, image: bytes
) -> None:
    sleeps = Sleeps()
    backend = sf3d(closed_port_url(), sleeps, attempts=2)
    try:
        with capture_logs() as logs, pytest.raises(RetryLater) as caught:
            await backend.generate(obj, image)
    finally:
        await backend.close()

    assert caught.value.code == "sf3d_unreachable"
    assert sleeps == [0.25]
    assert len([line for line in logs if line["event"] == "mesh_attempt_failed"]) == 2


async def test_sf3d_a_generation_past_the_timeout_is_left_to_the_bus(
    obj: PlacedObject, image: bytes
) -> None:
    sleeps = Sleeps()
    async with FakeSF3D("slow") as fake:
        backend = sf3d(fake.base_url, sleeps, timeout=0.2)
        try:
            with pytest.raises(RetryLater) as caught:
                await backend.generate(obj, image)
        finally:
            await backend.close()

    assert caught.value.code == "sf3d_timeout"
    assert len(fake.requests) == 1
    assert sleeps == []


async def test_sf3d_uses_a_client_it_is_given_and_leaves_it_open(
    obj: PlacedObject, image: bytes
) -> None:
    async with FakeSF3D() as fake, httpx.AsyncClient() as client:
        backend = SF3DMeshes(fake.base_url, http=client)
        await backend.generate(obj, image)
        await backend.close()
        assert not client.is_closed


def test_sf3d_identity_names_what_changes_the_output() -> None:
    backend = SF3DMeshes(
        "http://sf3d",
        texture_resolution=512,
        remesh="quad",
        vertex_count=8000,
        foreground_ratio=0.9,
    )
    assert backend.identity == "sf3d/512/quad/8000/0.9"
    assert SF3DMeshes("http://sf3d").identity != backend.identity


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=90), usegmt=True)
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds(later, now=now.timestamp()) == 90.0
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None


# --------------------------------------------------------------------------------------
# Hunyuan3D.


async def test_hunyuan3d_sync_posts_the_documented_json(obj: PlacedObject, image: bytes) -> None:
    async with FakeHunyuan3D() as fake:
        backend = hunyuan(
            fake.base_url,
            Sleeps(),
            seed=7,
            octree_resolution=128,
            num_inference_steps=5,
            guidance_scale=5.0,
            texture=True,
            face_count=20000,
        )
        try:
            glb = await backend.generate(obj, image)
        finally:
            await backend.close()

    [request] = fake.requests
    assert request.path == "/generate"
    body = request.json
    assert base64.b64decode(body.pop("image")) == image
    assert body == {
        "seed": 7,
        "octree_resolution": 128,
        "num_inference_steps": 5,
        "guidance_scale": 5.0,
        "texture": True,
        "face_count": 20000,
        "type": "glb",
    }
    assert_model_placed(glb, SIZE)


async def test_hunyuan3d_a_404_is_tried_once_more(obj: PlacedObject, image: bytes) -> None:
    sleeps = Sleeps()
    async with FakeHunyuan3D() as fake:
        fake.script("fail")
        backend = hunyuan(fake.base_url, sleeps)
        try:
            glb = await backend.generate(obj, image)
        finally:
            await backend.close()

    assert len(fake.requests) == 2
    assert sleeps == [0.25]
    assert_model_placed(glb, SIZE)


async def test_hunyuan3d_a_second_404_is_permanent_with_the_servers_text(
    obj: PlacedObject, image: bytes
) -> None:
    async with FakeHunyuan3D("fail") as fake:
        backend = hunyuan(fake.base_url, Sleeps(), attempts=5)
        try:
            with capture_logs() as logs, pytest.raises(Permanent) as caught:
                await backend.generate(obj, image)
        finally:
            await backend.close()

    assert caught.value.code == "hunyuan3d_failed"
    assert HUNYUAN3D_ERROR_TEXT in caught.value.message
    assert len(fake.requests) == 2
    failures = [line for line in logs if line["event"] == "mesh_attempt_failed"]
    assert [(line["attempt"], line["status"]) for line in failures] == [(1, 404), (2, 404)]


async def test_hunyuan3d_an_unreadable_image_fails_like_any_other_error(
    obj: PlacedObject,
) -> None:
    async with FakeHunyuan3D() as fake:
        backend = hunyuan(fake.base_url, Sleeps())
        try:
            with pytest.raises(Permanent) as caught:
                await backend.generate(obj, b"not an image")
        finally:
            await backend.close()

    assert caught.value.code == "hunyuan3d_failed"
    assert len(fake.requests) == 2


async def test_hunyuan3d_a_wrong_url_is_not_found_at_once(obj: PlacedObject, image: bytes) -> None:
    sleeps = Sleeps()
    async with FakeHunyuan3D() as fake:
        backend = hunyuan(fake.base_url + "/api", sleeps)
        try:
            with pytest.raises(Permanent) as caught:
                await backend.generate(obj, image)
        finally:
            await backend.close()

    assert caught.value.code == "hunyuan3d_not_found"
    assert sleeps == []


async def test_hunyuan3d_unreachable_server_becomes_retry_later(
    obj: PlacedObject, image: bytes
) -> None:
    backend = hunyuan(closed_port_url(), Sleeps(), attempts=2)
    try:
        with pytest.raises(RetryLater) as caught:
            await backend.generate(obj, image)
    finally:
        await backend.close()

    assert caught.value.code == "hunyuan3d_unreachable"


async def test_hunyuan3d_async_polls_until_completed(obj: PlacedObject, image: bytes) -> None:
    async with FakeHunyuan3D(processing_polls=3) as fake:
        backend = hunyuan(fake.base_url, Sleeps(), mode="async", poll_interval=0.01)
        try:
            glb = await backend.generate(obj, image)
        finally:
            await backend.close()

    paths = [request.path for request in fake.requests]
    assert paths[0] == "/send"
    [uid] = fake.jobs
    assert paths[1:] == [f"/status/{uid}"] * 4
    assert base64.b64decode(fake.requests[0].json["image"]) == image
    assert fake.requests[0].json["type"] == "glb"
    assert_model_placed(glb, SIZE)


async def test_hunyuan3d_async_polls_again_over_a_half_written_file(
    obj: PlacedObject, image: bytes
) -> None:
    async with FakeHunyuan3D("partial", processing_polls=1) as fake:
        backend = hunyuan(fake.base_url, Sleeps(), mode="async", poll_interval=0.01)
        try:
            glb = await backend.generate(obj, image)
        finally:
            await backend.close()

    statuses = [request for request in fake.requests if request.path.startswith("/status/")]
    assert len(statuses) == 3  # processing, completed but cut short, completed
    assert_model_placed(glb, SIZE)


@pytest.mark.parametrize("scenario", ["stall", "fail"])
async def test_hunyuan3d_async_gives_up_at_the_deadline(
    obj: PlacedObject, image: bytes, scenario: str
) -> None:
    async with FakeHunyuan3D(scenario) as fake:  # type: ignore[arg-type]
        backend = hunyuan(fake.base_url, Sleeps(), mode="async", timeout=0.3, poll_interval=0.02)
        try:
            with capture_logs() as logs, pytest.raises(RetryLater) as caught:
                await backend.generate(obj, image)
        finally:
            await backend.close()

    assert caught.value.code == "hunyuan3d_timeout"
    assert any(request.path.startswith("/status/") for request in fake.requests)
    timeouts = [line for line in logs if line.get("code") == "hunyuan3d_timeout"]
    assert len(timeouts) == 1
    assert timeouts[0]["object_id"] == obj.id


def test_hunyuan3d_identity_names_what_changes_the_output() -> None:
    backend = Hunyuan3DMeshes("http://hy", octree_resolution=384, texture=False, seed=3)
    assert backend.identity == "hunyuan3d/384/5/5/untextured/40000/3"
    assert (
        Hunyuan3DMeshes("http://hy", mode="async").identity == Hunyuan3DMeshes("http://hy").identity
    )


# --------------------------------------------------------------------------------------
# The factory.


async def test_the_factory_builds_the_configured_backend() -> None:
    sf3d_backend = mesh_backend(
        MeshSettings(
            default_backend="sf3d",
            sf3d_url="http://sf3d.local",
            sf3d_api_key="sk",
            texture_resolution=2048,
            remesh="triangle",
        )
    )
    hunyuan_backend = mesh_backend(
        MeshSettings(default_backend="hunyuan3d", hunyuan3d_url="http://hy.local", quality="draft")
    )
    try:
        assert isinstance(sf3d_backend, SF3DMeshes)
        assert sf3d_backend.identity == "sf3d/2048/triangle/-1/0.85"
        assert sf3d_backend.api_key == "sk"
        assert isinstance(hunyuan_backend, Hunyuan3DMeshes)
        assert hunyuan_backend.octree_resolution == 128
        assert hunyuan_backend.mode == "sync"
        assert isinstance(mesh_backend(MeshSettings()), ParametricMeshes)
    finally:
        await sf3d_backend.close()
        await hunyuan_backend.close()
