"""SF3D and Hunyuan3D clients against fakes speaking their protocols over loopback HTTP."""

from __future__ import annotations

import asyncio
import base64
import socket
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import cast

import httpx
import pytest
from nats.js import JetStreamContext
from structlog.testing import capture_logs

from services.meshgen.backend import ParametricMeshes, mesh_backend
from services.meshgen.remote import Hunyuan3DMeshes, SF3DMeshes
from shared.config import MeshSettings, load_settings
from shared.errors import ConfigError, Permanent, RetryLater, retry_after_seconds
from shared.layout import PlacedObject
from shared.slots import SlotBoard
from tests.fakes.image_to_3d import (
    ARMCHAIR_SIZE,
    HUNYUAN3D_ERROR_TEXT,
    SF3D_PATH,
    FakeHunyuan3D,
    FakeSF3D,
    armchair,
    assert_model_placed,
    texture_png,
)

SIZE = ARMCHAIR_SIZE


class Sleeps(list[float]):
    """Stands in for asyncio.sleep between attempts: records the waits, waits not at all."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def obj() -> PlacedObject:
    return armchair()


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
    assert request.headers["accept"] == "model/gltf-binary"
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
    async with FakeHunyuan3D(texture_enabled=True) as fake:
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
        assert hunyuan_backend.mode == "auto"
        assert hunyuan_backend.texture is False
        assert hunyuan_backend.concurrency == 1
        assert isinstance(mesh_backend(MeshSettings()), ParametricMeshes)
    finally:
        await sf3d_backend.close()
        await hunyuan_backend.close()


# --------------------------------------------------------------------------------------
# SF3D: only documented fields, and every kind of 200 it may answer.


async def test_sf3d_sends_only_documented_fields_unless_vertex_count_is_set(
    obj: PlacedObject, image: bytes
) -> None:
    async with FakeSF3D() as fake:
        backend = sf3d(fake.base_url, Sleeps())
        try:
            await backend.generate(obj, image)
        finally:
            await backend.close()

    [request] = fake.requests
    assert set(request.fields) == {"texture_resolution", "foreground_ratio", "remesh"}
    assert set(request.files) == {"image"}
    assert request.headers["accept"] == "model/gltf-binary"


async def test_the_fake_sf3d_answers_json_when_asked_for_it(image: bytes) -> None:
    async with FakeSF3D() as fake, httpx.AsyncClient() as client:
        response = await client.post(
            fake.base_url + SF3D_PATH,
            files={"image": ("image", image, "image/png")},
            headers={"Accept": "application/json"},
        )

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["finish_reason"] == "SUCCESS"
    assert base64.b64decode(body["model"]).startswith(b"glTF")


async def test_sf3d_takes_the_model_out_of_a_json_answer(obj: PlacedObject, image: bytes) -> None:
    async with FakeSF3D(answers_json=True) as fake:
        backend = sf3d(fake.base_url, Sleeps())
        try:
            glb = await backend.generate(obj, image)
        finally:
            await backend.close()

    assert_model_placed(glb, SIZE)


@pytest.mark.parametrize("answers_json", [False, True], ids=["header", "json"])
async def test_sf3d_a_content_filtered_model_is_permanent_naming_the_reason(
    obj: PlacedObject, image: bytes, answers_json: bool
) -> None:
    sleeps = Sleeps()
    async with FakeSF3D("content_filtered", answers_json=answers_json) as fake:
        backend = sf3d(fake.base_url, sleeps)
        try:
            with pytest.raises(Permanent) as caught:
                await backend.generate(obj, image)
        finally:
            await backend.close()

    assert caught.value.code == "content_filtered"
    assert "CONTENT_FILTERED" in caught.value.message
    assert len(fake.requests) == 1
    assert sleeps == []


async def test_sf3d_a_200_that_is_no_model_is_not_taken_for_one(
    obj: PlacedObject, image: bytes
) -> None:
    async with FakeSF3D("html_page") as fake:
        backend = sf3d(fake.base_url, Sleeps())
        try:
            with pytest.raises(Permanent) as caught:
                await backend.generate(obj, image)
        finally:
            await backend.close()

    assert caught.value.code == "sf3d_unexpected_answer"
    assert "text/html" in caught.value.message


# --------------------------------------------------------------------------------------
# Hunyuan3D: texture, and a server that runs one job at a time.


async def test_hunyuan3d_by_default_works_with_the_servers_documented_launch(
    obj: PlacedObject, image: bytes
) -> None:
    async with FakeHunyuan3D(texture_enabled=False) as fake:
        backend = hunyuan(fake.base_url, Sleeps())
        try:
            glb = await backend.generate(obj, image)
        finally:
            await backend.close()

    [request] = fake.requests
    assert request.json["texture"] is False
    assert_model_placed(glb, SIZE)


async def test_hunyuan3d_a_textured_request_to_a_server_without_texture_says_so(
    obj: PlacedObject, image: bytes
) -> None:
    async with FakeHunyuan3D(texture_enabled=False) as fake:
        backend = hunyuan(fake.base_url, Sleeps(), texture=True)
        try:
            with pytest.raises(Permanent) as caught:
                await backend.generate(obj, image)
        finally:
            await backend.close()

    assert caught.value.code == "hunyuan3d_failed"
    assert HUNYUAN3D_ERROR_TEXT in caught.value.message
    assert "--enable_tex" in caught.value.message
    assert "hunyuan3d_texture" in caught.value.message
    assert len(fake.requests) == 2


async def test_hunyuan3d_an_untextured_failure_does_not_blame_texturing(
    obj: PlacedObject, image: bytes
) -> None:
    async with FakeHunyuan3D("fail") as fake:
        backend = hunyuan(fake.base_url, Sleeps())
        try:
            with pytest.raises(Permanent) as caught:
                await backend.generate(obj, image)
        finally:
            await backend.close()

    assert "--enable_tex" not in caught.value.message


async def test_the_fake_hunyuan3d_fails_a_textured_request_only_without_texture(
    image: bytes,
) -> None:
    payload = {"image": base64.b64encode(image).decode("ascii"), "texture": True}
    async with FakeHunyuan3D() as plain, FakeHunyuan3D(texture_enabled=True) as textured:
        async with httpx.AsyncClient() as client:
            refused = await client.post(plain.base_url + "/generate", json=payload)
            made = await client.post(textured.base_url + "/generate", json=payload)

    assert refused.status_code == 404
    assert refused.json() == {"text": HUNYUAN3D_ERROR_TEXT, "error_code": 1}
    assert "HIGH TRAFFIC" in refused.text
    assert made.status_code == 200 and made.content.startswith(b"glTF")


async def test_the_fake_hunyuan3d_answers_a_body_that_is_not_json_with_a_plain_500() -> None:
    async with FakeHunyuan3D() as fake, httpx.AsyncClient() as client:
        response = await client.post(fake.base_url + "/generate", content=b"{not json")

    assert response.status_code == 500
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == "Internal Server Error"


async def test_the_fake_hunyuan3d_blocks_while_a_sync_job_runs(image: bytes) -> None:
    """Like the real server, /generate holds the event loop: /status waits for it."""
    payload = {"image": base64.b64encode(image).decode("ascii")}
    async with FakeHunyuan3D(job_seconds=0.5) as fake, httpx.AsyncClient(timeout=10) as client:
        job = asyncio.create_task(client.post(fake.base_url + "/generate", json=payload))
        async with asyncio.timeout(10):
            while fake.jobs_started < 1:
                await asyncio.sleep(0.01)
        status = await client.get(fake.base_url + "/status/anything")
        finished_when_answered = fake.jobs_finished
        await job

    assert status.json() == {"status": "processing"}
    assert finished_when_answered == 1


async def test_the_fake_hunyuan3d_runs_a_sync_job_to_its_end_after_the_client_left(
    image: bytes,
) -> None:
    payload = {"image": base64.b64encode(image).decode("ascii")}
    async with FakeHunyuan3D(job_seconds=0.5) as fake:
        async with httpx.AsyncClient(timeout=0.1) as client:
            with pytest.raises(httpx.ReadTimeout):
                await client.post(fake.base_url + "/generate", json=payload)
        assert fake.jobs_finished == 0
        await fake.wait_finished(1)
    assert fake.jobs_started == 1


async def test_a_blocked_server_times_out_queued_requests_without_a_bound(
    obj: PlacedObject, image: bytes
) -> None:
    """Why the bound exists: requests queued inside the server run out of time there,
    although each job alone takes well under the timeout."""
    async with FakeHunyuan3D(job_seconds=0.3) as fake:
        backend = hunyuan(fake.base_url, Sleeps(), mode="sync", timeout=0.5, concurrency=0)
        try:
            results = await asyncio.gather(
                *(backend.generate(obj, image) for _ in range(4)), return_exceptions=True
            )
        finally:
            await backend.close()
        await fake.wait_finished(fake.jobs_started)

    timeouts = [r for r in results if isinstance(r, RetryLater)]
    assert timeouts and all(r.code == "hunyuan3d_timeout" for r in timeouts)


async def test_hunyuan3d_sends_one_request_at_a_time_and_waiting_is_not_timed(
    obj: PlacedObject, image: bytes
) -> None:
    async with FakeHunyuan3D(job_seconds=0.3) as fake:
        backend = hunyuan(fake.base_url, Sleeps(), mode="sync", timeout=0.8)
        try:
            with capture_logs() as logs:
                glbs = await asyncio.gather(*(backend.generate(obj, image) for _ in range(4)))
        finally:
            await backend.close()

    assert len(glbs) == 4
    assert fake.jobs_started == 4
    assert fake.most_running == 1
    waits = [line for line in logs if line["event"] == "mesh_slot_taken"]
    assert len(waits) == 3
    assert max(line["waited_s"] for line in waits) > 0.8  # longer than the timeout


async def test_hunyuan3d_backends_of_one_process_share_the_servers_slots(
    obj: PlacedObject, image: bytes
) -> None:
    async with FakeHunyuan3D(job_seconds=0.2) as fake:
        one = hunyuan(fake.base_url, Sleeps(), mode="sync", timeout=0.6)
        two = hunyuan(fake.base_url + "/", Sleeps(), mode="sync", timeout=0.6)
        try:
            await asyncio.gather(
                *(backend.generate(obj, image) for backend in (one, two, one, two))
            )
        finally:
            await one.close()
            await two.close()

    assert fake.jobs_started == 4
    assert fake.most_running == 1


async def test_hunyuan3d_a_sync_request_given_up_keeps_its_slot_until_the_server_is_done(
    obj: PlacedObject, image: bytes
) -> None:
    # The job takes longer than the timeout, and less than twice as long: the wait for
    # the server to be done is bounded by the timeout too.
    async with FakeHunyuan3D(job_seconds=0.45) as fake:
        backend = hunyuan(fake.base_url, Sleeps(), mode="sync", timeout=0.35)
        try:
            with capture_logs() as logs, pytest.raises(RetryLater) as caught:
                await backend.generate(obj, image)
            finished_when_released = fake.jobs_finished
        finally:
            await backend.close()

    assert caught.value.code == "hunyuan3d_timeout"
    assert finished_when_released == 1  # the abandoned job ran to its end meanwhile
    assert [line["event"] for line in logs if line["event"].startswith("mesh_server")] == [
        "mesh_server_idle"
    ]


async def test_hunyuan3d_auto_mode_sends_queued_objects_asynchronously(
    obj: PlacedObject, image: bytes
) -> None:
    async with FakeHunyuan3D(job_seconds=0.1) as fake:
        backend = hunyuan(fake.base_url, Sleeps(), mode="auto", poll_interval=0.02)
        try:
            await asyncio.gather(*(backend.generate(obj, image) for _ in range(3)))
        finally:
            await backend.close()

    posts = [request.path for request in fake.requests if request.method == "POST"]
    assert sorted(posts) == ["/generate", "/send", "/send"]
    assert fake.jobs_started == 3
    assert fake.most_running == 1


async def test_hunyuan3d_an_async_job_that_crashed_stays_processing_until_the_deadline(
    obj: PlacedObject, image: bytes
) -> None:
    async with FakeHunyuan3D(job_seconds=0.05) as fake:
        backend = hunyuan(
            fake.base_url, Sleeps(), mode="async", texture=True, timeout=0.4, poll_interval=0.02
        )
        try:
            with pytest.raises(RetryLater) as caught:
                await backend.generate(obj, image)
        finally:
            await backend.close()
        await fake.wait_finished(1)

    assert caught.value.code == "hunyuan3d_timeout"
    [job] = fake.jobs.values()
    assert job["glb"] is None  # the worker raised; nothing tells the client


async def test_hunyuan3d_the_next_attempt_polls_an_abandoned_async_job_again(
    obj: PlacedObject, image: bytes
) -> None:
    # The job outlasts one wait and ends well within two.
    async with FakeHunyuan3D(job_seconds=0.5) as fake:
        backend = hunyuan(fake.base_url, Sleeps(), mode="async", timeout=0.45, poll_interval=0.02)
        try:
            with pytest.raises(RetryLater):
                await backend.generate(obj, image)
            with capture_logs() as logs:
                glb = await backend.generate(obj, image)
        finally:
            await backend.close()

    sends = [request for request in fake.requests if request.path == "/send"]
    assert len(sends) == 1
    assert fake.jobs_started == 1
    assert any(line["event"] == "mesh_job_resumed" for line in logs)
    assert_model_placed(glb, SIZE)


def test_the_hunyuan3d_settings_reach_the_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUNYUAN3D_API_URL", "http://hy.local:8081")
    monkeypatch.setenv("HOLODECK_THREE_D_GENERATION__DEFAULT_BACKEND", "hunyuan3d")
    monkeypatch.setenv("HOLODECK_THREE_D_GENERATION__HUNYUAN3D_TEXTURE", "true")
    monkeypatch.setenv("HOLODECK_THREE_D_GENERATION__HUNYUAN3D_MODE", "async")
    monkeypatch.setenv("HOLODECK_THREE_D_GENERATION__HUNYUAN3D_CONCURRENCY", "2")
    monkeypatch.setenv("HOLODECK_THREE_D_GENERATION__HUNYUAN3D_POLL_INTERVAL", "0.5")
    backend = Hunyuan3DMeshes.from_settings(load_settings().three_d_generation)
    assert (backend.texture, backend.mode, backend.concurrency, backend.poll_interval) == (
        True,
        "async",
        2,
        0.5,
    )
    assert backend.identity.split("/")[4] == "textured"


def test_an_unknown_hunyuan3d_mode_names_the_field() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(three_d_generation={"hunyuan3d_mode": "stream"})
    assert "three_d_generation.hunyuan3d_mode" in caught.value.message


async def test_the_factory_claims_slots_across_replicas_unless_told_otherwise() -> None:
    js = cast(JetStreamContext, object())  # only kept until the first request
    settings = MeshSettings(default_backend="hunyuan3d", hunyuan3d_url="http://hy.local")
    cluster = mesh_backend(settings, js)
    replica = mesh_backend(settings.model_copy(update={"concurrency_scope": "replica"}), js)
    alone = mesh_backend(settings)
    try:
        assert isinstance(cluster, Hunyuan3DMeshes) and isinstance(cluster.board, SlotBoard)
        assert isinstance(replica, Hunyuan3DMeshes) and replica.board is None
        assert isinstance(alone, Hunyuan3DMeshes) and alone.board is None
    finally:
        for backend in (cluster, replica, alone):
            await backend.close()
