"""The ComfyUI image backend against a fake ComfyUI on loopback (real HTTP and WebSocket)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import socket
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from services.imagegen.backend import image_backend
from services.imagegen.comfyui import (
    DEFAULT_WORKFLOW,
    OBJECT_SEED_RANGE,
    ComfyUIImages,
    Workflow,
    object_prompt,
)
from services.imagegen.work import ImageMaker, object_seed
from shared.artifacts import LocalArtifactStore
from shared.config import ImageSettings
from shared.contract import ImagesReady, ImageWork
from shared.errors import ConfigError, Permanent, RetryLater
from shared.layout import PlacedObject
from shared.stage import Delivery
from tests.fakes.comfyui_server import FakeComfyUI, Scenario

FAST: dict[str, Any] = {
    "retry_wait": 0.01,
    "poll_interval": 0.05,
    "stall_after": 0.3,
    "socket_retry_wait": 0.01,
}


def make_object(object_id: str = "chair-1") -> PlacedObject:
    return PlacedObject(
        id=object_id,
        category="armchair",
        description="a mid-century lounge chair",
        size=(0.8, 0.9, 0.8),
        position=(1.0, 0.0, 1.0),
        material="walnut",
        color="olive green",
    )


@contextlib.asynccontextmanager
async def comfy(
    scenario: Scenario | None = None, **options: Any
) -> AsyncIterator[tuple[FakeComfyUI, ComfyUIImages]]:
    async with FakeComfyUI(scenario) as fake:
        images = ComfyUIImages(
            fake.base_url,
            negative_prompt=options.pop("negative_prompt", "blurry, watermark"),
            timeout=options.pop("timeout", 10.0),
            **{**FAST, **options},
        )
        try:
            yield fake, images
        finally:
            await images.close()


def png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG"
        return image.size


def template(tmp_path: Path, edit: Any = None, name: str = "workflow.json") -> Path:
    graph = json.loads(DEFAULT_WORKFLOW.read_text())
    if edit is not None:
        edit(graph)
    path = tmp_path / name
    path.write_text(json.dumps(graph))
    return path


def posted_graph(fake: FakeComfyUI) -> dict[str, Any]:
    return fake.calls("POST", "/prompt")[-1].body["prompt"]


def node_of(graph: dict[str, Any], class_type: str) -> dict[str, Any]:
    return next(node for node in graph.values() if node["class_type"] == class_type)


# The happy path -------------------------------------------------------------------------


async def test_success_relays_progress_and_returns_png():
    seen: list[float] = []

    async def progress(fraction: float) -> None:
        seen.append(fraction)

    async with comfy() as (_, images):
        png = await images.generate(make_object(), seed=42, size=256, progress=progress)

    assert png_size(png) == (256, 256)
    assert len(seen) > 2
    assert seen == sorted(set(seen))
    assert seen[0] < 1.0 and seen[-1] == 1.0


async def test_socket_opens_before_the_post_which_carries_client_id_and_filled_graph():
    async with comfy() as (fake, images):
        await images.generate(make_object(), seed=42, size=256)

    kinds = [(r.method, r.path) for r in fake.requests]
    socket_at, post_at = kinds.index(("WS", "/ws")), kinds.index(("POST", "/prompt"))
    assert socket_at < post_at
    body = fake.calls("POST", "/prompt")[0].body
    client_id = fake.requests[socket_at].query["clientId"]
    assert body["client_id"] == client_id and len(client_id) == 32
    graph = body["prompt"]
    assert "{{" not in json.dumps(graph)
    sampler = node_of(graph, "KSampler")["inputs"]
    assert sampler["seed"] == 42 and isinstance(sampler["seed"], int)
    assert isinstance(sampler["steps"], int)
    latent = node_of(graph, "EmptyLatentImage")["inputs"]
    assert (latent["width"], latent["height"]) == (256, 256)
    texts = [n["inputs"]["text"] for n in graph.values() if n["class_type"] == "CLIPTextEncode"]
    assert any("mid-century lounge chair" in t and "walnut" in t for t in texts)
    assert "blurry, watermark" in texts
    assert node_of(graph, "SaveImage")["inputs"]["filename_prefix"] == "holodeck/chair-1"
    # The fake addressed the run's events to that client.
    pid = next(iter(fake.history))
    assert fake.frames[pid][0]["type"] == "execution_start"


async def test_frames_of_other_prompts_are_ignored():
    seen: list[float] = []

    async def progress(fraction: float) -> None:
        seen.append(fraction)

    async with comfy(Scenario(foreign_frames=True)) as (_, images):
        png = await images.generate(make_object(), seed=1, size=128, progress=progress)

    assert png_size(png) == (128, 128)
    assert seen[0] < 1.0


async def test_same_seed_same_image_other_seed_other_image():
    async with comfy() as (_, images):
        first = await images.generate(make_object("a"), seed=5, size=64)
        again = await images.generate(make_object("b"), seed=5, size=64)
        other = await images.generate(make_object("c"), seed=6, size=64)

    def pixels(data: bytes) -> bytes:
        return Image.open(io.BytesIO(data)).convert("RGB").tobytes()

    assert pixels(first) == pixels(again)
    assert pixels(first) != pixels(other)


# Failures ComfyUI reports ---------------------------------------------------------------


async def test_missing_checkpoint_is_permanent_naming_the_node():
    async with comfy(Scenario(checkpoints=("sd_xl_base_1.0.safetensors",))) as (fake, images):
        with pytest.raises(Permanent) as caught:
            await images.generate(make_object(), seed=1, size=64)

    message = caught.value.message
    assert "prompt_outputs_failed_validation" in message
    assert "node 4 (CheckpointLoaderSimple)" in message
    assert "value_not_in_list" in message
    assert "v1-5-pruned-emaonly.safetensors" in message
    assert not isinstance(caught.value, RetryLater)
    assert len(fake.calls("POST", "/prompt")) == 1


async def test_unknown_node_class_is_permanent(tmp_path: Path):
    def unknown(graph: dict[str, Any]) -> None:
        graph["8"]["class_type"] = "VAEDecodeHyper"

    async with comfy(workflow=template(tmp_path, unknown)) as (_, images):
        with pytest.raises(Permanent) as caught:
            await images.generate(make_object(), seed=1, size=64)

    assert "invalid_prompt" in caught.value.message
    assert "VAEDecodeHyper" in caught.value.message


async def test_runtime_error_is_permanent_with_the_exception_message():
    scenario = Scenario(outcome="error", error_message="CUDA error: device-side assert")
    async with comfy(scenario) as (_, images):
        with pytest.raises(Permanent) as caught:
            await images.generate(make_object(), seed=1, size=64)

    assert caught.value.code == "comfyui_execution_error"
    assert "CUDA error: device-side assert" in caught.value.message
    assert "node 3 (KSampler)" in caught.value.message


async def test_runtime_error_found_in_history_without_a_socket():
    scenario = Scenario(outcome="error", sockets=False, error_message="tensor size mismatch")
    async with comfy(scenario) as (fake, images):
        with pytest.raises(Permanent) as caught:
            await images.generate(make_object(), seed=1, size=64)

    assert "tensor size mismatch" in caught.value.message
    assert fake.socket_clients == []
    assert fake.calls("GET", f"/history/{next(iter(fake.history))}")


async def test_interrupted_by_someone_else_is_retry_later():
    async with comfy(Scenario(outcome="stall")) as (fake, images):
        run = asyncio.create_task(images.generate(make_object(), seed=1, size=64))
        async with asyncio.timeout(5):
            while not any(f["type"] == "progress" for fs in fake.frames.values() for f in fs):
                await asyncio.sleep(0.01)
        async with httpx.AsyncClient() as http:
            assert (await http.post(f"{fake.base_url}/interrupt")).status_code == 200
        with pytest.raises(RetryLater) as caught:
            await run

    assert caught.value.code == "comfyui_interrupted"


# Cache, socket trouble and deadlines ----------------------------------------------------


async def test_cached_rerun_succeeds_without_executing_frames():
    async with comfy() as (fake, images):
        first = await images.generate(make_object(), seed=9, size=64)
        second = await images.generate(make_object(), seed=9, size=64)

    assert first == second
    rerun = fake.frames[list(fake.history)[1]]
    kinds = [frame["type"] for frame in rerun]
    assert "execution_cached" in kinds and "executed" in kinds
    cached = next(frame["data"]["nodes"] for frame in rerun if frame["type"] == "execution_cached")
    assert set(cached) == set(posted_graph(fake))
    executing = [f["data"]["node"] for f in rerun if f["type"] == "executing"]
    assert executing == [None]


async def test_dropped_socket_falls_back_to_history():
    async with comfy(Scenario(drop_socket=True, step_delay=0.01)) as (fake, images):
        png = await images.generate(make_object(), seed=3, size=96)

    assert png_size(png) == (96, 96)
    pid = next(iter(fake.history))
    assert fake.history[pid]["status"]["status_str"] == "success"
    assert fake.calls("GET", f"/history/{pid}")


async def test_refused_socket_falls_back_to_history():
    async with comfy(Scenario(sockets=False)) as (fake, images):
        png = await images.generate(make_object(), seed=3, size=64)

    assert png_size(png) == (64, 64)
    assert fake.socket_clients == []


async def test_stall_hits_the_deadline_and_interrupts():
    async with comfy(Scenario(outcome="stall"), timeout=1.0) as (fake, images):
        with pytest.raises(RetryLater) as caught:
            await images.generate(make_object(), seed=1, size=64)
        pid = next(iter(fake.frames))

    assert caught.value.code == "comfyui_timeout"
    assert {"prompt_id": pid} in fake.interrupts
    assert {"delete": [pid]} in [r.body for r in fake.calls("POST", "/queue")]
    # History answered {} while the prompt ran, and the client kept asking.
    assert fake.calls("GET", f"/history/{pid}")


# Transport failures ---------------------------------------------------------------------


async def test_server_errors_on_post_are_retried():
    async with comfy(Scenario(post_failures=2)) as (fake, images):
        png = await images.generate(make_object(), seed=1, size=64)

    assert png_size(png) == (64, 64)
    assert len(fake.calls("POST", "/prompt")) == 3


async def test_server_errors_that_persist_are_retry_later():
    async with comfy(Scenario(post_failures=99), retry_attempts=3) as (fake, images):
        with pytest.raises(RetryLater) as caught:
            await images.generate(make_object(), seed=1, size=64)

    assert caught.value.code == "comfyui_unavailable"
    assert len(fake.calls("POST", "/prompt")) == 3


async def test_connection_refused_is_retry_later():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    images = ComfyUIImages(f"http://127.0.0.1:{port}", timeout=5, retry_attempts=2, **FAST)
    try:
        with pytest.raises(RetryLater) as caught:
            await images.generate(make_object(), seed=1, size=64)
    finally:
        await images.close()

    assert caught.value.code == "comfyui_unavailable"


# Images -----------------------------------------------------------------------------------


async def test_view_parameters_are_url_encoded(tmp_path: Path):
    def odd_prefix(graph: dict[str, Any]) -> None:
        node_of(graph, "SaveImage")["inputs"]["filename_prefix"] = (
            "renders & more/{{filename_prefix}} #1?x=y"
        )

    async with comfy(workflow=template(tmp_path, odd_prefix)) as (fake, images):
        png = await images.generate(make_object(), seed=1, size=64)

    assert png_size(png) == (64, 64)
    (view,) = fake.calls("GET", "/view")
    assert view.query == {
        "filename": "chair-1 #1?x=y_00001_.png",
        "subfolder": "renders & more/holodeck",
        "type": "output",
    }


async def test_view_path_rules_of_the_fake():
    async with comfy() as (fake, images):
        await images.generate(make_object(), seed=1, size=64)
        (saved,) = fake.calls("GET", "/view")
        async with httpx.AsyncClient(base_url=fake.base_url) as http:

            async def status(**params: str) -> int:
                return (await http.get("/api/view", params=params)).status_code

            assert await status(**saved.query) == 200
            assert await status(filename="../secret.png", subfolder="holodeck") == 400
            assert await status(filename="/etc/passwd") == 400
            assert await status(filename="x.png", subfolder="../..") == 403
            assert await status(filename="missing.png", subfolder="holodeck") == 404


async def test_missing_output_file_is_permanent():
    async with comfy() as (fake, images):
        await images.generate(make_object(), seed=2, size=64)
        for path in fake.output_dir().rglob("*.png"):
            path.unlink()
        # The re-run is cached: ComfyUI reports the same, now deleted, file.
        with pytest.raises(Permanent) as caught:
            await images.generate(make_object(), seed=2, size=64)

    assert caught.value.code == "comfyui_missing_output"


async def test_other_formats_become_png():
    async with comfy(Scenario(image_format="WEBP")) as (fake, images):
        png = await images.generate(make_object(), seed=1, size=64)

    assert png_size(png) == (64, 64)
    assert fake.calls("GET", "/view")[0].query["filename"].endswith(".webp")


async def test_sizes_round_up_to_the_latent_grid_then_fit():
    async with comfy() as (fake, images):
        png = await images.generate(make_object(), seed=1, size=100)

    latent = node_of(posted_graph(fake), "EmptyLatentImage")["inputs"]
    assert (latent["width"], latent["height"]) == (104, 104)
    assert png_size(png) == (100, 100)


async def test_fixed_non_square_template_is_padded_to_a_square(tmp_path: Path):
    def landscape(graph: dict[str, Any]) -> None:
        node_of(graph, "EmptyLatentImage")["inputs"].update(width=128, height=64)

    async with comfy(workflow=template(tmp_path, landscape)) as (_, images):
        png = await images.generate(make_object(), seed=1, size=80)

    assert png_size(png) == (80, 80)
    with Image.open(io.BytesIO(png)) as image:
        rgb = image.convert("RGB")
        # The padding takes the background colour of the rendered picture.
        assert rgb.getpixel((40, 2)) == rgb.getpixel((0, 40))


# The fake's own contract --------------------------------------------------------------------


async def test_fake_sends_no_execution_events_without_client_id():
    graph = Workflow.load().fill(
        {
            "prompt": "a lamp",
            "negative_prompt": "",
            "seed": 1,
            "width": 64,
            "height": 64,
            "steps": 3,
            "filename_prefix": "holodeck/lamp",
        }
    )
    async with FakeComfyUI() as fake, httpx.AsyncClient(base_url=fake.base_url) as http:
        answer = await http.post("/prompt", json={"prompt": graph})
        assert answer.status_code == 200
        pid = answer.json()["prompt_id"]
        async with asyncio.timeout(5):
            while not (await http.get(f"/history/{pid}")).json():
                await asyncio.sleep(0.02)
        entry = (await http.get(f"/api/history/{pid}")).json()[pid]

    assert entry["status"]["status_str"] == "success"
    assert pid not in fake.frames


# Templates and identity ---------------------------------------------------------------------


def test_default_template_loads_with_all_markers():
    workflow = Workflow.load()
    filled = workflow.fill(
        {
            "prompt": "p",
            "negative_prompt": "n",
            "seed": 7,
            "width": 64,
            "height": 32,
            "steps": 4,
            "filename_prefix": "holodeck/x",
        }
    )
    assert "{{" not in json.dumps(filled)
    assert node_of(filled, "EmptyLatentImage")["inputs"]["height"] == 32
    assert "{{" in json.dumps(workflow.graph)  # the template itself is untouched


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (lambda g: g["6"]["inputs"].update(text="{{promt}}"), "unknown marker {{promt}}"),
        (
            lambda g: g["6"]["inputs"].update(text="{{prompt}}, {{colour}}"),
            "node 6 (CLIPTextEncode) has an unknown marker {{colour}}",
        ),
        (
            lambda g: g["7"]["inputs"].update(text="{{negative_prompt}}, {{style"),
            "node 7 (CLIPTextEncode) has an unclosed marker",
        ),
        (lambda g: g["6"]["inputs"].update(text="a chair"), "no {{prompt}} marker"),
        (lambda g: g["3"].pop("class_type"), "node '3' needs a string 'class_type'"),
    ],
)
def test_bad_templates_are_config_errors_naming_the_file(tmp_path: Path, content, expected):
    path = template(tmp_path, content)
    with pytest.raises(ConfigError) as caught:
        ComfyUIImages("http://127.0.0.1:8188", workflow=path)
    assert expected in caught.value.message
    assert str(path) in caught.value.message


def test_unreadable_templates_are_config_errors(tmp_path: Path):
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    editor = tmp_path / "editor.json"
    editor.write_text(json.dumps({"nodes": [], "links": [], "version": 0.4}))
    for path, expected in (
        (broken, "not valid JSON"),
        (editor, "API format"),
        (tmp_path / "absent.json", "No such file"),
    ):
        with pytest.raises(ConfigError) as caught:
            Workflow.load(path)
        assert expected in caught.value.message and str(path) in caught.value.message


def test_identity_follows_the_template_and_its_settings(tmp_path: Path):
    def backend(**options: Any) -> ComfyUIImages:
        return ComfyUIImages("http://127.0.0.1:8188", **options)

    default = backend().identity
    assert default.startswith("comfyui/") and len(default) == len("comfyui/") + 12
    assert backend(workflow=template(tmp_path, name="copy.json")).identity == default

    def more_cfg(graph: dict[str, Any]) -> None:
        node_of(graph, "KSampler")["inputs"]["cfg"] = 8.0

    assert backend(workflow=template(tmp_path, more_cfg)).identity != default
    assert backend(negative_prompt="people").identity != default
    assert backend(steps=30).identity != default


async def test_factory_builds_the_comfyui_backend():
    settings = ImageSettings(
        default_backend="comfyui", comfyui_url="http://127.0.0.1:8188", quality="draft"
    )
    backend = image_backend(settings)
    try:
        assert isinstance(backend, ComfyUIImages)
        assert backend.steps == 12
        assert backend.identity.startswith("comfyui/")
    finally:
        await backend.close()


def test_base_url_must_be_http():
    with pytest.raises(ConfigError):
        ComfyUIImages("comfyui:8188")


def test_prompt_names_the_object_its_material_and_colour():
    prompt = object_prompt(make_object())
    assert prompt.startswith("a mid-century lounge chair, armchair, made of walnut")
    assert "olive green" in prompt and "product photo" in prompt and "studio lighting" in prompt


def test_every_marker_in_one_value_is_filled():
    workflow = Workflow.from_graph(
        {
            "1": {
                "class_type": "CLIPTextEncode",
                "inputs": {"text": "{{prompt}}, {{negative_prompt}}", "clip": ["2", 1]},
            },
            "2": {
                "class_type": "SaveImage",
                "inputs": {"filename_prefix": "{{ filename_prefix }}_{{seed}}x{{steps}}"},
            },
        },
        source="inline",
    )
    values: dict[str, str | int] = {
        "prompt": "a lamp",
        "negative_prompt": "blurry",
        "seed": 7,
        "width": 64,
        "height": 64,
        "steps": 4,
        "filename_prefix": "holodeck/lamp",
    }
    filled = workflow.fill(values)
    assert filled["1"]["inputs"]["text"] == "a lamp, blurry"
    assert filled["2"]["inputs"]["filename_prefix"] == "holodeck/lamp_7x4"
    with pytest.raises(ValueError, match="seed"):
        workflow.fill({k: v for k, v in values.items() if k != "seed"})


async def test_a_template_value_with_two_markers_makes_an_image(tmp_path: Path):
    def both(graph: dict[str, Any]) -> None:
        graph["6"]["inputs"]["text"] = "{{prompt}}, {{negative_prompt}}"

    async with comfy(workflow=template(tmp_path, both)) as (fake, images):
        png = await images.generate(make_object(), seed=1, size=64)

    assert png_size(png) == (64, 64)
    text = posted_graph(fake)["6"]["inputs"]["text"]
    assert text == f"{object_prompt(make_object())}, blurry, watermark"


# A server that forgets its prompts (restart, cleared queue) ---------------------------------


async def wait_for(predicate: Any, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


def progress_frames(fake: FakeComfyUI) -> int:
    return sum(f["type"] == "progress" for frames in fake.frames.values() for f in frames)


async def test_a_prompt_lost_to_a_restart_is_queued_again_at_once():
    # A quiet socket is asked about only after 30 s, and the deadline is 10 s: only the
    # queue tells the client in time.
    scenario = Scenario(step_delay=0.02)
    async with comfy(scenario, stall_after=30.0, timeout=10.0) as (fake, images):
        run = asyncio.create_task(images.generate(make_object(), seed=4, size=64))
        await wait_for(lambda: progress_frames(fake) > 0)
        first = fake.calls("POST", "/prompt")[0]
        await fake.restart()
        restarted = time.monotonic()
        await wait_for(lambda: len(fake.calls("POST", "/prompt")) == 2)
        noticed = time.monotonic() - restarted
        png = await run

    assert png_size(png) == (64, 64)
    assert noticed < 2.0, f"the lost prompt was noticed after {noticed:.2f}s"
    again = fake.calls("POST", "/prompt")[1]
    assert again.body["prompt"] == first.body["prompt"]
    assert len(fake.history) == 1  # the first prompt is in no history, the second finished
    assert fake.calls("GET", "/queue")


async def test_a_prompt_cleared_from_the_queue_is_queued_again_at_once():
    blocker = Workflow.load().fill(
        {
            "prompt": "a long job of someone else",
            "negative_prompt": "",
            "seed": 1,
            "width": 64,
            "height": 64,
            "steps": 10_000,
            "filename_prefix": "other/long",
        }
    )
    async with (
        # The queue is asked at most once a second: a check held back is made later.
        comfy(Scenario(step_delay=0.01), stall_after=30.0, poll_interval=1.0, timeout=10.0) as (
            fake,
            images,
        ),
        httpx.AsyncClient(base_url=fake.base_url) as http,
    ):
        assert (await http.post("/prompt", json={"prompt": blocker})).status_code == 200
        run = asyncio.create_task(images.generate(make_object(), seed=4, size=64))
        await wait_for(lambda: len(fake.calls("POST", "/prompt")) == 2)
        queue = (await http.get("/queue")).json()
        mine = fake.calls("POST", "/prompt")[1].body["client_id"]
        assert [entry[3] for entry in queue["queue_pending"]] == [{"client_id": mine}]
        assert (await http.post("/queue", json={"clear": True})).status_code == 200
        cleared = time.monotonic()
        await wait_for(lambda: len(fake.calls("POST", "/prompt")) == 3)
        noticed = time.monotonic() - cleared
        assert (await http.post("/interrupt")).status_code == 200  # the blocker stops
        png = await run

    assert png_size(png) == (64, 64)
    assert noticed < 2.0, f"the cleared prompt was noticed after {noticed:.2f}s"


async def test_a_server_that_keeps_forgetting_is_retry_later_long_before_the_deadline():
    started = time.monotonic()
    async with comfy(Scenario(forget_first=99), stall_after=30.0, timeout=20.0) as (fake, images):
        with pytest.raises(RetryLater) as caught:
            await images.generate(make_object(), seed=4, size=64)
    took = time.monotonic() - started

    assert caught.value.code == "comfyui_forgotten"
    assert "chair-1" in caught.value.message
    assert len(fake.calls("POST", "/prompt")) == 3  # the first and two more
    assert fake.restarts == 3
    assert took < 10.0


async def test_eight_images_at_once_survive_a_restart():
    # No bound on prompts in flight: all eight wait in the server's queue when it restarts.
    async with comfy(Scenario(step_delay=0.01), stall_after=30.0, timeout=20.0, concurrency=0) as (
        fake,
        images,
    ):
        runs = [
            asyncio.create_task(images.generate(make_object(f"chair-{i}"), seed=i, size=64))
            for i in range(8)
        ]
        await wait_for(lambda: len(fake.calls("POST", "/prompt")) == 8)
        await fake.restart()
        pngs = await asyncio.gather(*runs)

    assert all(png_size(png) == (64, 64) for png in pngs)
    assert len(set(pngs)) == 8
    # History was wiped by the restart: the eight prompts that made the images came after.
    assert len(fake.history) == 8
    assert len(fake.calls("POST", "/prompt")) > 8


# A WebSocket that would not open ----------------------------------------------------------


async def test_a_socket_refused_at_first_is_opened_again_and_relays_progress():
    seen: list[float] = []

    async def progress(fraction: float) -> None:
        seen.append(fraction)

    async with comfy(Scenario(refused_sockets=1, step_delay=0.02)) as (fake, images):
        png = await images.generate(make_object(), seed=3, size=64, progress=progress)

    assert png_size(png) == (64, 64)
    attempts = fake.calls("WS", "/ws")
    assert len(attempts) == 2
    assert {a.query["clientId"] for a in attempts} == set(fake.socket_clients)
    assert any(0 < fraction < 1 for fraction in seen), seen


async def test_socket_retries_are_bounded_and_history_still_answers():
    scenario = Scenario(sockets=False, step_delay=0.02)
    async with comfy(scenario, socket_retries=2) as (fake, images):
        png = await images.generate(make_object(), seed=3, size=64)

    assert png_size(png) == (64, 64)
    assert len(fake.calls("WS", "/ws")) == 3
    assert fake.calls("GET", f"/history/{next(iter(fake.history))}")


async def test_a_dropped_socket_is_opened_again():
    async with comfy(Scenario(drop_socket=True, step_delay=0.02)) as (fake, images):
        png = await images.generate(make_object(), seed=3, size=64)

    assert png_size(png) == (64, 64)
    attempts = fake.calls("WS", "/ws")
    assert len(attempts) == 2 and len(fake.socket_clients) == 2
    pid = next(iter(fake.history))
    assert fake.calls("GET", f"/history/{pid}")


# One seed per object --------------------------------------------------------------------------


EXPECTED_CHAIR_SEED = 8964016667391267  # object_seed(7, "chair-1", OBJECT_SEED_RANGE)


def delivery() -> Delivery:
    return Delivery(subject="imagegen.work", stream_seq=1, stored_at=datetime.now(UTC), attempt=1)


def test_object_seeds_are_stable_distinct_and_in_range():
    # Pinned: another derivation would change every image a deployment has made.
    assert object_seed(7, "chair-1", OBJECT_SEED_RANGE) == EXPECTED_CHAIR_SEED
    seeds = {object_seed(7, f"chair-{i}", OBJECT_SEED_RANGE) for i in range(200)}
    assert len(seeds) == 200
    assert all(0 <= seed < OBJECT_SEED_RANGE for seed in seeds)
    assert object_seed(8, "chair-1", OBJECT_SEED_RANGE) != EXPECTED_CHAIR_SEED
    assert {object_seed(7, f"o{i}", 10) for i in range(200)} == set(range(10))
    with pytest.raises(ValueError):
        object_seed(7, "chair-1", 0)


async def test_each_object_of_a_scene_gets_its_own_seed(tmp_path: Path):
    store = LocalArtifactStore(tmp_path / "artifacts")
    chair, twin = make_object("chair-1"), make_object("chair-2")
    async with comfy() as (fake, images):
        maker = ImageMaker("imagegen@test", store, images, 64)
        events: list[ImagesReady] = []
        for obj in (chair, twin, chair):
            work = ImageWork(scene_id="s1", object_id=obj.id, object=obj, seed=7, object_count=2)
            [out] = await maker(work, delivery())
            assert isinstance(out.event, ImagesReady)
            events.append(out.event)

    seeds = [
        node_of(r.body["prompt"], "KSampler")["inputs"]["seed"]
        for r in fake.calls("POST", "/prompt")
    ]
    assert seeds == [
        EXPECTED_CHAIR_SEED,
        object_seed(7, "chair-2", OBJECT_SEED_RANGE),
        EXPECTED_CHAIR_SEED,
    ]
    assert events[0].image.sha256 == events[2].image.sha256  # same object, same seed
    assert events[0].image.sha256 != events[1].image.sha256  # its twin: another seed
    assert all(event.seed == 7 for event in events)  # the events keep the scene's seed
