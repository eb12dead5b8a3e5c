"""Fake image-to-3D servers on loopback: real HTTP, answering as the real servers do.

``async with FakeSF3D() as sf3d:`` serves Stability's Stable Fast 3D protocol on
``sf3d.base_url``: ``POST /v2beta/3d/stable-fast-3d`` with a multipart/form-data body,
parsed and validated the way the hosted API does (``image`` required,
``texture_resolution`` 512|1024|2048, ``foreground_ratio`` 0.1–1.0, ``remesh``
none|triangle|quad, ``vertex_count`` -1..20000; an ``api_key`` makes it demand
``Authorization: Bearer``). Errors are JSON ``{"id", "name", "errors"}``. A valid request
answers a real GLB (``model/gltf-binary``, with a ``finish-reason`` header) of
:func:`model_glb` facing ``front``; a request whose ``Accept`` asks for
``application/json`` gets ``{"model": <base64 GLB>, "finish_reason", "seed"}`` instead.

``async with FakeHunyuan3D() as hy:`` serves Hunyuan3D-2's ``api_server`` from a thread
of its own: ``/generate`` (the GLB as a file, the job run on the server's event loop),
``/send`` (``{"uid"}``, the job run on a thread) and ``/status/{uid}`` (``processing``
until the file exists, then ``completed`` with ``model_base64``). Every failure is HTTP
404 ``{"text", "error_code": 1}`` with the server's fixed text, and a job that fails in
the background simply stays ``processing``, as on the real server.

Each fake records every request (``requests``) and takes a scenario per request: the
next ones queued with ``script(...)``, then ``scenario``. SF3D's are ``ok``,
``unauthorized`` (401), ``content_moderation`` (403), ``too_large`` (413),
``unprocessable`` (422), ``rate_limited`` (429 with ``retry-after``), ``server_error``
(500), ``not_glb`` (200 with an HTML page labelled a GLB), ``html_page`` (200
``text/html``), ``content_filtered`` (finish reason ``CONTENT_FILTERED``) and ``slow``
(no answer until the fake stops); ``answers_json=True`` makes it answer JSON whatever
``Accept`` says. ``seconds`` is how long making a model takes (requests in flight at
once are counted in ``running`` and ``most_running``).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import concurrent.futures
import contextlib
import email
import email.policy
import io
import json
import math
import tempfile
import threading
import uuid
from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import numpy as np
import trimesh
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from PIL import Image, UnidentifiedImageError

from shared.layout import PlacedObject
from tests.fakes.loopback import serving

SF3D_PATH = "/v2beta/3d/stable-fast-3d"
HUNYUAN3D_ERROR_TEXT = (
    "**NETWORK ERROR DUE TO HIGH TRAFFIC. PLEASE REGENERATE OR REFRESH THIS PAGE.**"
)

# --------------------------------------------------------------------------------------
# The model both fakes answer: asymmetric, so a turn or a mirror shows.
#
# In its own frame it faces +Z: a body, a fin on its +X side near the top, and a nose
# sticking out of its front. Served, it is turned to face ``front``, scaled unevenly and
# moved off the origin by a two-level node tree, and textured with a PNG.

BODY = ((-0.5, 0.0, -0.3), (0.5, 1.0, 0.3))
FIN = ((0.5, 0.8, -0.1), (0.8, 1.0, 0.1))
NOSE = ((-0.1, 0.4, 0.3), (0.1, 0.6, 0.6))
# Yaw (degrees about +Y) that turns the +Z-facing model to face each axis.
TURN_TO = {"+z": 0.0, "+x": 90.0, "-z": 180.0, "-x": -90.0}


def _box(bounds: tuple[tuple[float, float, float], tuple[float, float, float]]) -> trimesh.Trimesh:
    return trimesh.creation.box(bounds=np.asarray(bounds, dtype=np.float64))


def canonical_parts() -> dict[str, trimesh.Trimesh]:
    """The model's meshes in its own frame (front +Z, bottom at y = 0), untextured."""
    body = _box(BODY)
    fin = _box(FIN)
    joined = trimesh.Trimesh(
        vertices=np.concatenate((body.vertices, fin.vertices)),
        faces=np.concatenate((body.faces, fin.faces + len(body.vertices))),
        process=False,
    )
    return {"body": joined, "nose": _box(NOSE)}


# The object the clients' tests ask for: a green velvet armchair of this size.
ARMCHAIR_SIZE = (0.6, 0.95, 0.55)


def armchair() -> PlacedObject:
    """An armchair to make a mesh of, with an id of its own."""
    return PlacedObject(
        id=f"chair-{uuid.uuid4().hex[:8]}",
        category="armchair",
        description="a green velvet armchair",
        size=ARMCHAIR_SIZE,
        position=(1.0, 0.0, 2.0),
    )


@cache
def texture_png() -> bytes:
    """A small gradient PNG: the texture every served model carries."""
    ramp = np.linspace(0, 255, 32, dtype=np.uint8)
    pixels = np.stack(np.broadcast_arrays(ramp[None, :], ramp[:, None], 128), axis=-1)
    buffer = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8), "RGB").save(buffer, format="PNG")
    return buffer.getvalue()


@cache
def model_glb(
    front: str = "+z",
    *,
    offset: tuple[float, float, float] = (1.7, -0.4, 2.2),
    stretch: tuple[float, float, float] = (0.9, 1.3, 0.6),
    scale: float = 0.45,
) -> bytes:
    """The model as a textured GLB facing ``front``, stretched per axis, scaled and moved.

    The node tree is ``model`` (translation ``offset``, uniform ``scale``) over ``body`` and
    ``nose`` (the turn, then ``stretch`` along the served frame's axes).
    """
    image = Image.open(io.BytesIO(texture_png()))
    material = trimesh.visual.material.PBRMaterial(baseColorTexture=image, metallicFactor=0.0)
    scene = trimesh.Scene()
    root = trimesh.transformations.translation_matrix(offset) @ np.diag([scale] * 3 + [1.0])
    scene.graph.update(frame_from=scene.graph.base_frame, frame_to="model", matrix=root)
    turn = trimesh.transformations.rotation_matrix(math.radians(TURN_TO[front]), (0, 1, 0))
    local = np.diag([*stretch, 1.0]) @ turn
    for name, part in canonical_parts().items():
        vertices = np.asarray(part.vertices)
        uv = (vertices[:, :2] - vertices[:, :2].min(axis=0)) / np.ptp(vertices[:, :2], axis=0)
        part.visual = trimesh.visual.TextureVisuals(uv=uv, material=material)
        scene.add_geometry(
            part, node_name=name, geom_name=name, parent_node_name="model", transform=local
        )
    data: Any = scene.export(file_type="glb")
    return bytes(data)


def placed_parts(size: tuple[float, float, float]) -> dict[str, np.ndarray]:
    """The model's vertices where normalising it into ``size`` must put them: front +Z,
    footprint centred on the origin, bottom at y = 0, bounding box ``size``."""
    parts = canonical_parts()
    every = np.concatenate([np.asarray(p.vertices) for p in parts.values()])
    low, high = every.min(axis=0), every.max(axis=0)
    anchor = np.array([(low[0] + high[0]) / 2.0, low[1], (low[2] + high[2]) / 2.0])
    scale = np.asarray(size, dtype=np.float64) / (high - low)
    return {name: (np.asarray(p.vertices) - anchor) * scale for name, p in parts.items()}


def node_vertices(glb: bytes) -> dict[str, np.ndarray]:
    """World-space vertices of each node that draws a mesh, by node name."""
    scene = trimesh.load_scene(io.BytesIO(glb), file_type="glb")
    found: dict[str, np.ndarray] = {}
    for node in scene.graph.nodes_geometry:
        transform, geometry = scene.graph[node]
        vertices = np.asarray(scene.geometry[geometry].vertices)
        found[node] = trimesh.transform_points(vertices, transform)
    return found


def assert_model_placed(glb: bytes, size: tuple[float, float, float]) -> None:
    """``glb`` is the served model, turned to face +Z and fitted to ``size``."""
    placed = node_vertices(glb)
    expected = placed_parts(size)
    assert set(placed) == set(expected)
    for name, want in expected.items():
        got = placed[name]
        # Same point sets, whatever the vertex order: every point has a twin.
        distance = np.linalg.norm(got[:, None, :] - want[None, :, :], axis=2)
        assert distance.min(axis=1).max() < 1e-4, name
        assert distance.min(axis=0).max() < 1e-4, name


# --------------------------------------------------------------------------------------
# Serving.


@dataclass
class Recorded:
    """One request as the server saw it."""

    method: str
    path: str
    headers: dict[str, str]
    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, tuple[str | None, str, bytes]] = field(default_factory=dict)
    json: Any = None


class _LoopbackServer(ABC):
    """A FastAPI app served by uvicorn on a free 127.0.0.1 port, as an asyncio task."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.base_url = ""
        self._stack = contextlib.AsyncExitStack()

    @abstractmethod
    def _app(self) -> FastAPI:
        """The routes this fake serves."""

    async def __aenter__(self) -> Any:
        self._stack = contextlib.AsyncExitStack()
        self.base_url = await self._stack.enter_async_context(serving(self._app()))
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stack.aclose()


class _Scripted:
    """A default scenario, and scenarios queued for the next requests."""

    def __init__(self, scenario: str) -> None:
        self.scenario = scenario
        self._queued: deque[str] = deque()

    def script(self, *scenarios: str) -> None:
        """Answer the next requests with these scenarios, then with ``scenario``."""
        self._queued.extend(scenarios)

    def _next(self) -> str:
        return self._queued.popleft() if self._queued else self.scenario


# --------------------------------------------------------------------------------------
# Stable Fast 3D.

SF3DScenario = Literal[
    "ok",
    "unauthorized",
    "content_moderation",
    "too_large",
    "unprocessable",
    "rate_limited",
    "server_error",
    "not_glb",
    "slow",
    "content_filtered",
    "html_page",
]


class _BadForm(Exception):
    pass


def parse_form(
    content_type: str, body: bytes
) -> tuple[dict[str, str], dict[str, tuple[str | None, str, bytes]]]:
    """Fields and files of a multipart/form-data body."""
    if not content_type.lower().startswith("multipart/form-data") or "boundary=" not in (
        content_type
    ):
        raise _BadForm("content-type: expected multipart/form-data with a boundary")
    message = email.message_from_bytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body,
        policy=email.policy.HTTP,
    )
    if not message.is_multipart():
        raise _BadForm("body: not a multipart/form-data body")
    fields: dict[str, str] = {}
    files: dict[str, tuple[str | None, str, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            raise _BadForm("body: a part without a form field name")
        payload = part.get_payload(decode=True)
        content = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        if filename is None and part.get_content_type() == "text/plain":
            fields[name] = content.decode("utf-8")
        else:
            files[name] = (filename, part.get_content_type(), content)
    return fields, files


def _validate_sf3d(fields: dict[str, str], files: dict[str, Any]) -> list[str]:
    errors: list[str] = []
    image = files.get("image")
    if image is None or not image[2]:
        errors.append("image: required")
    texture = fields.get("texture_resolution", "1024")
    if texture not in ("512", "1024", "2048"):
        errors.append(f"texture_resolution: must be one of [512, 1024, 2048], got {texture}")
    try:
        ratio = float(fields.get("foreground_ratio", "0.85"))
        if not 0.1 <= ratio <= 1.0:
            raise ValueError
    except ValueError:
        errors.append("foreground_ratio: must be a number between 0.1 and 1")
    remesh = fields.get("remesh", "none")
    if remesh not in ("none", "triangle", "quad"):
        errors.append(f"remesh: must be one of [none, triangle, quad], got {remesh}")
    try:
        vertices = int(fields.get("vertex_count", "-1"))
        if not -1 <= vertices <= 20000:
            raise ValueError
    except ValueError:
        errors.append("vertex_count: must be an integer between -1 and 20000")
    return errors


def _wants_json(accept: str) -> bool:
    """Whether an Accept header asks for JSON rather than the model file."""
    kinds = [part.split(";")[0].strip().lower() for part in accept.split(",")]
    return "application/json" in kinds and "model/gltf-binary" not in kinds


class FakeSF3D(_LoopbackServer, _Scripted):
    """Stable Fast 3D on loopback; see the module docstring."""

    def __init__(
        self,
        scenario: SF3DScenario = "ok",
        *,
        api_key: str | None = None,
        front: str = "-z",
        retry_after: str | None = "1",
        answers_json: bool = False,
        seconds: float = 0.0,
    ) -> None:
        _LoopbackServer.__init__(self)
        _Scripted.__init__(self, scenario)
        self.answers_json = answers_json
        self.seconds = seconds
        self.running = 0
        self.most_running = 0
        self.api_key = api_key
        self.front = front
        self.retry_after = retry_after
        self._released = asyncio.Event()  # ends a ``slow`` answer when the fake stops

    async def __aenter__(self) -> FakeSF3D:
        await asyncio.to_thread(model_glb, self.front)  # built before the first request
        served: FakeSF3D = await _LoopbackServer.__aenter__(self)
        return served

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._released.set()
        await _LoopbackServer.__aexit__(self, kind, exc, tb)

    @staticmethod
    def _error(status: int, name: str, *errors: str, headers: dict[str, str] | None = None):
        body = {"id": uuid.uuid4().hex, "name": name, "errors": list(errors)}
        return JSONResponse(body, status_code=status, headers=headers)

    def _app(self) -> FastAPI:
        app = FastAPI()

        @app.post(SF3D_PATH)
        async def stable_fast_3d(request: Request) -> Response:
            body = await request.body()
            record = Recorded("POST", request.url.path, dict(request.headers))
            self.requests.append(record)
            scenario = self._next()
            if self.api_key is not None and (
                request.headers.get("authorization") != f"Bearer {self.api_key}"
            ):
                scenario = "unauthorized"
            if scenario == "unauthorized":
                return self._error(401, "unauthorized", "authorization: invalid or missing key")
            if scenario == "too_large":
                return self._error(413, "payload_too_large", "image: exceeds the size limit")
            try:
                record.fields, record.files = parse_form(
                    request.headers.get("content-type", ""), body
                )
            except _BadForm as exc:
                return self._error(400, "bad_request", str(exc))
            errors = _validate_sf3d(record.fields, record.files)
            if errors:
                return self._error(400, "bad_request", *errors)
            if scenario == "content_moderation":
                return self._error(
                    403,
                    "content_moderation",
                    "Your request was flagged by our content moderation system.",
                )
            if scenario == "unprocessable":
                return self._error(422, "invalid_image", "image: could not find an object")
            if scenario == "rate_limited":
                headers = {"retry-after": self.retry_after} if self.retry_after else None
                return self._error(429, "rate_limit_exceeded", "too many requests", headers=headers)
            if scenario == "server_error":
                return self._error(500, "internal_error", "an unexpected error occurred")
            if scenario == "slow":
                await self._released.wait()  # answers only when the fake stops
            if scenario == "not_glb":
                return Response(b"<html>gateway</html>", media_type="model/gltf-binary")
            if scenario == "html_page":
                return Response(b"<html>sign in</html>", media_type="text/html")
            self.running += 1
            self.most_running = max(self.most_running, self.running)
            try:
                await asyncio.sleep(self.seconds)  # the model being made
            finally:
                self.running -= 1
            glb = model_glb(self.front)
            reason = "CONTENT_FILTERED" if scenario == "content_filtered" else "SUCCESS"
            if self.answers_json or _wants_json(request.headers.get("accept", "")):
                answer = {
                    "model": base64.b64encode(glb).decode("ascii"),
                    "finish_reason": reason,
                    "seed": 0,
                }
                return JSONResponse(answer)
            headers = {"finish-reason": reason, "seed": "0"}
            return Response(glb, media_type="model/gltf-binary", headers=headers)

        return app


# --------------------------------------------------------------------------------------
# Hunyuan3D-2.

HunyuanScenario = Literal["ok", "fail", "stall", "partial"]


class _ServerThread:
    """Serves an app on loopback from a thread with its own event loop, so that a handler
    blocking its loop blocks that server alone, as a real server's would, and not the
    test (or the client) talking to it."""

    def __init__(self, app: FastAPI) -> None:
        self._app = app
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None

    async def __aenter__(self) -> str:
        ready: concurrent.futures.Future[str] = concurrent.futures.Future()
        self._thread = threading.Thread(
            target=asyncio.run, args=(self._serve(ready),), name="fake-server", daemon=True
        )
        self._thread.start()
        return await asyncio.wait_for(asyncio.wrap_future(ready), timeout=15)

    async def _serve(self, ready: concurrent.futures.Future[str]) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            async with serving(self._app) as url:
                ready.set_result(url)
                await self._stop.wait()
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(exc)
            raise

    async def __aexit__(self, *exc_info: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 15)


class FakeHunyuan3D(_Scripted):
    """Hunyuan3D-2's api_server on loopback, in a thread of its own; see the module
    docstring.

    Like the real server, a job loads the image (an unusable one fails at once), makes
    the shape (``job_seconds``), then textures it if asked, which fails on a server
    without texturing (``texture_enabled=False``, its documented launch). ``/generate``
    runs the job on the server's event loop: one job at a time, nothing else answered
    meanwhile (``/status`` included), and a job whose client gave up runs to its end.
    ``/send`` runs the job on a thread per request; a job that fails there leaves no
    file, so its ``/status`` stays ``processing`` forever. A body that is not JSON is a
    plain-text 500.

    Scenarios: ``ok``; ``fail`` (the job fails after its shape time); ``stall``
    (``/status`` stays ``processing``); ``partial`` (the first ``completed`` answer holds
    a GLB cut short, as when the file is read mid-write). A finished ``/send`` job
    reports ``completed`` after ``processing_polls`` answers of ``processing``; a job of
    no time is finished before ``/send`` answers.

    ``jobs_started``, ``jobs_finished`` and ``most_running`` (the most jobs at once)
    count both kinds of job; :meth:`wait_finished` waits for a number of them.
    """

    def __init__(
        self,
        scenario: HunyuanScenario = "ok",
        *,
        front: str = "+z",
        processing_polls: int = 0,
        job_seconds: float = 0.0,
        texture_enabled: bool = False,
    ) -> None:
        _Scripted.__init__(self, scenario)
        self.front = front
        self.processing_polls = processing_polls
        self.job_seconds = job_seconds
        self.texture_enabled = texture_enabled
        self.requests: list[Recorded] = []
        self.base_url = ""
        self.jobs: dict[str, dict[str, Any]] = {}
        self.jobs_started = 0
        self.jobs_finished = 0
        self.most_running = 0
        self._running = 0
        self._changed = threading.Condition()
        self._stopping = threading.Event()  # cuts jobs short when the fake stops
        self._files = tempfile.TemporaryDirectory(prefix="fake-hunyuan3d-")
        self._server = _ServerThread(self._app())

    async def __aenter__(self) -> FakeHunyuan3D:
        await asyncio.to_thread(model_glb, self.front)
        self.base_url = await self._server.__aenter__()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stopping.set()
        try:
            await self._server.__aexit__(kind, exc, tb)
        finally:
            self._files.cleanup()

    async def wait_finished(self, jobs: int, timeout: float = 10.0) -> None:
        """Until ``jobs`` jobs have finished (successfully or not)."""

        def wait() -> bool:
            with self._changed:
                return self._changed.wait_for(lambda: self.jobs_finished >= jobs, timeout)

        if not await asyncio.to_thread(wait):
            raise TimeoutError(f"{self.jobs_finished} of {jobs} jobs finished in {timeout} s")

    @staticmethod
    def _failure() -> JSONResponse:
        return JSONResponse({"text": HUNYUAN3D_ERROR_TEXT, "error_code": 1}, status_code=404)

    @staticmethod
    def _usable(params: Any) -> bool:
        """Whether the worker would get past loading the image."""
        if not isinstance(params, dict) or "image" not in params:
            return False
        try:
            Image.open(io.BytesIO(base64.b64decode(params["image"]))).load()
        except (binascii.Error, UnidentifiedImageError, OSError, TypeError, ValueError):
            return False
        return True

    def _work(self, params: Any, scenario: str) -> bytes | None:
        """One job, in the calling thread: the model, or None where the worker raises."""
        with self._changed:
            self.jobs_started += 1
            self._running += 1
            self.most_running = max(self.most_running, self._running)
        try:
            if not self._usable(params):
                return None
            self._stopping.wait(self.job_seconds)  # the shape
            if scenario == "fail":
                return None
            if params.get("texture", False) and not self.texture_enabled:
                return None  # the texture stage was never loaded
            return model_glb(self.front)
        finally:
            with self._changed:
                self._running -= 1
                self.jobs_finished += 1
                self._changed.notify_all()

    async def _params(self, request: Request) -> Any:
        record = Recorded(request.method, request.url.path, dict(request.headers))
        self.requests.append(record)
        record.json = await request.json()
        return record.json

    def _app(self) -> FastAPI:
        app = FastAPI()

        @app.exception_handler(json.JSONDecodeError)
        async def not_json(request: Request, exc: json.JSONDecodeError) -> Response:
            # The real server reads the body outside its try: the framework's own 500.
            return PlainTextResponse("Internal Server Error", status_code=500)

        @app.post("/generate")
        async def generate(request: Request) -> Response:
            params = await self._params(request)
            glb = self._work(params, self._next())  # blocks this server's event loop
            if glb is None:
                return self._failure()
            path = Path(self._files.name) / f"{uuid.uuid4()}.glb"
            path.write_bytes(glb)
            return FileResponse(path)

        @app.post("/send")
        async def send(request: Request) -> Response:
            params = await self._params(request)
            uid = str(uuid.uuid4())
            job: dict[str, Any] = {"scenario": self._next(), "polls": 0, "glb": None}
            self.jobs[uid] = job
            if self.job_seconds > 0:
                threading.Thread(target=self._background, args=(job, params), daemon=True).start()
            else:
                self._background(job, params)
            return JSONResponse({"uid": uid})

        @app.get("/status/{uid}")
        async def status(uid: str, request: Request) -> Response:
            self.requests.append(Recorded("GET", request.url.path, dict(request.headers)))
            return self._status(uid)

        return app

    def _background(self, job: dict[str, Any], params: Any) -> None:
        glb = self._work(params, job["scenario"])
        if glb is not None and job["scenario"] != "stall":
            job["glb"] = glb  # the file appears; a failed job leaves none

    def _status(self, uid: str) -> Response:
        job = self.jobs.get(uid)
        if job is None or job["glb"] is None:  # the real server only looks for the file
            return JSONResponse({"status": "processing"})
        job["polls"] += 1
        if job["polls"] <= self.processing_polls:
            return JSONResponse({"status": "processing"})
        glb = job["glb"]
        if job["scenario"] == "partial":
            job["scenario"] = "ok"
            glb = glb[: len(glb) // 2]
        return JSONResponse(
            {"status": "completed", "model_base64": base64.b64encode(glb).decode("ascii")}
        )
