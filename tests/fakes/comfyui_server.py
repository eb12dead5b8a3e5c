"""A fake ComfyUI on loopback: real HTTP and WebSocket, answering as the handbook says.

``async with FakeComfyUI(Scenario(...)) as fake:`` serves on ``fake.base_url`` (every route
also under ``/api/``), validates graphs the way ComfyUI does, runs one prompt at a time
and "renders" a deterministic PNG of the requested size with Pillow. It records every
request, the frames it addressed to each prompt's client, and the interrupts it got.

The scenario decides how a valid prompt runs: ``success``, ``error`` (an
``execution_error`` at the sampler; history ``status_str`` ``error``, ``outputs`` ``{}``)
or ``stall`` (never finishes until interrupted; history stays ``{}``). ``drop_socket``
closes the client's WebSocket at the first step while the run goes on. An identical
re-run is served from the node cache (``execution_cached``, ``executed``, no
``executing`` for the cached nodes), as ComfyUI does.

A server forgets, as ComfyUI does on a restart: :meth:`FakeComfyUI.restart` drops the
running and queued prompts, the history and the node cache and closes every WebSocket,
so ``/history/<id>`` answers ``{}`` forever and ``/queue`` no longer lists the prompt;
``forget_first`` does that to the first prompts as they are about to run. ``POST /queue``
``{"clear": true}`` forgets the queued prompts only, as ComfyUI does.

Capacity: ``run_seconds`` draws each prompt's sampling time (a latency distribution) and
``parallel`` runs that many prompts at once, as several GPUs behind one address would;
``/queue`` then lists every running prompt.

A server in trouble: while ``failing`` is set every HTTP request is answered 500 with
aiohttp's own text (as ComfyUI answers when a handler raises) and WebSocket handshakes are
refused; :meth:`FakeComfyUI.kill` stops it altogether (connections to its port are
refused) and :meth:`FakeComfyUI.revive` starts it again on the same port, its memory
empty as after a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import random
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
from fastapi import APIRouter, FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from PIL import Image, ImageDraw

from tests.fakes.loopback import serving

DEFAULT_CHECKPOINTS = ("v1-5-pruned-emaonly.safetensors",)
SAMPLERS = ("euler", "euler_ancestral", "heun", "dpm_2", "dpmpp_2m", "dpmpp_2m_sde", "ddim")
SCHEDULERS = ("normal", "karras", "exponential", "sgm_uniform", "simple", "ddim_uniform")
UPSCALE_METHODS = ("nearest-exact", "bilinear", "area", "bicubic", "lanczos")
CHECKPOINTS = "<installed checkpoints>"  # stands for the scenario's list in a node spec
FORMATS = {
    "PNG": ("png", "image/png"),
    "WEBP": ("webp", "image/webp"),
    "JPEG": ("jpg", "image/jpeg"),
}
PREVIEW_EVENT, PREVIEW_JPEG = 1, 1  # ComfyUI's binary frame header: event type, image type
# aiohttp's answer to a request whose handler raised.
SERVER_ERROR_TEXT = "500 Internal Server Error\n\nServer got itself in trouble"


@dataclass
class Scenario:
    outcome: Literal["success", "error", "stall"] = "success"
    drop_socket: bool = False
    checkpoints: tuple[str, ...] = DEFAULT_CHECKPOINTS
    post_failures: int = 0  # the first POST /prompt calls answer 500
    image_format: Literal["PNG", "WEBP", "JPEG"] = "PNG"
    foreign_frames: bool = False  # also address frames of another prompt to the client
    sockets: bool = True  # False: refuse WebSocket handshakes, as a proxy without WS would
    refused_sockets: int = 0  # the first handshakes are refused (the server not ready yet)
    forget_first: int = 0  # the first prompts are lost to a restart as they are about to run
    step_delay: float = 0.0
    # Seconds one prompt's sampling takes, drawn per prompt and spread over its steps in
    # place of ``step_delay`` (a latency distribution).
    run_seconds: Callable[[], float] | None = None
    # Prompts run at once: ComfyUI runs one; more stand for several GPUs behind one address.
    parallel: int = 1
    error_message: str = "Allocation on device 0 would exceed allowed memory. (out of memory)"


@dataclass(frozen=True)
class Spec:
    """One input of a node class: INT, FLOAT, STRING, a link type, or a list of choices."""

    kind: str | tuple[str, ...]
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True)
class NodeClass:
    inputs: dict[str, Spec]
    outputs: tuple[str, ...] = ()
    output_node: bool = False
    steps_input: str | None = None


def _int(low: int, high: int) -> Spec:
    return Spec("INT", low, high)


NODE_CLASSES: dict[str, NodeClass] = {
    "CheckpointLoaderSimple": NodeClass({"ckpt_name": Spec(CHECKPOINTS)}, ("MODEL", "CLIP", "VAE")),
    "CLIPTextEncode": NodeClass({"text": Spec("STRING"), "clip": Spec("CLIP")}, ("CONDITIONING",)),
    "EmptyLatentImage": NodeClass(
        {"width": _int(16, 16384), "height": _int(16, 16384), "batch_size": _int(1, 4096)},
        ("LATENT",),
    ),
    "KSampler": NodeClass(
        {
            "model": Spec("MODEL"),
            "seed": _int(0, 2**64 - 1),
            "steps": _int(1, 10000),
            "cfg": Spec("FLOAT", 0.0, 100.0),
            "sampler_name": Spec(SAMPLERS),
            "scheduler": Spec(SCHEDULERS),
            "positive": Spec("CONDITIONING"),
            "negative": Spec("CONDITIONING"),
            "latent_image": Spec("LATENT"),
            "denoise": Spec("FLOAT", 0.0, 1.0),
        },
        ("LATENT",),
        steps_input="steps",
    ),
    "VAEDecode": NodeClass({"samples": Spec("LATENT"), "vae": Spec("VAE")}, ("IMAGE",)),
    "EmptyImage": NodeClass(
        {
            "width": _int(1, 16384),
            "height": _int(1, 16384),
            "batch_size": _int(1, 4096),
            "color": _int(0, 0xFFFFFF),
        },
        ("IMAGE",),
    ),
    "ImageScale": NodeClass(
        {
            "image": Spec("IMAGE"),
            "upscale_method": Spec(UPSCALE_METHODS),
            "width": _int(0, 16384),
            "height": _int(0, 16384),
            "crop": Spec(("disabled", "center")),
        },
        ("IMAGE",),
    ),
    "SaveImage": NodeClass(
        {"images": Spec("IMAGE"), "filename_prefix": Spec("STRING")}, output_node=True
    ),
    "PreviewImage": NodeClass({"images": Spec("IMAGE")}, output_node=True),
}


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    body: Any


@dataclass
class _Prompt:
    prompt_id: str
    number: int
    graph: dict[str, Any]
    client_id: str | None
    outputs: list[str]
    interrupted: asyncio.Event = field(default_factory=asyncio.Event)
    node: str | None = None  # the node it is running

    def queue_entry(self) -> list[Any]:
        extra = {"client_id": self.client_id} if self.client_id else {}
        return [self.number, self.prompt_id, self.graph, extra, self.outputs]


class _NodeStopped(Exception):
    def __init__(self, node_id: str, node_type: str, message: str = ""):
        super().__init__(message)
        self.node_id, self.node_type, self.message = node_id, node_type, message


class _Interrupted(_NodeStopped):
    pass


def _error(kind: str, message: str, details: str = "", **extra: Any) -> dict[str, Any]:
    return {"type": kind, "message": message, "details": details, "extra_info": extra}


def _now_ms() -> int:
    return int(time.time() * 1000)


class FakeComfyUI:
    """A ComfyUI stand-in serving on a free 127.0.0.1 port while the context is open."""

    def __init__(self, scenario: Scenario | None = None):
        self.scenario = scenario or Scenario()
        self.requests: list[Recorded] = []
        self.frames: dict[str, list[dict[str, Any]]] = {}
        self.history: dict[str, dict[str, Any]] = {}
        self.interrupts: list[Any] = []
        self.socket_clients: list[str] = []
        self.base_url = ""
        self.failing = False  # every request answered 500 (see the module docstring)
        self._post_failures = self.scenario.post_failures
        self._refused_sockets = self.scenario.refused_sockets
        self._forget_left = self.scenario.forget_first
        self.restarts = 0
        self._pending: list[_Prompt] = []
        self._running: list[_Prompt] = []
        self._wakeup = asyncio.Event()
        self._number = 0
        self._cache: dict[str, dict[str, Any]] = {}
        self._outboxes: dict[str, list[asyncio.Queue[str | bytes | None]]] = {}
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._stack = contextlib.AsyncExitStack()
        self._serving = contextlib.AsyncExitStack()
        self._worker: asyncio.Task[None] | None = None

    # Context -----------------------------------------------------------------------------

    async def __aenter__(self) -> FakeComfyUI:
        self._tmp = tempfile.TemporaryDirectory(prefix="fake-comfyui-")
        for kind in ("output", "temp", "input"):
            (Path(self._tmp.name) / kind).mkdir()
        self._stack = contextlib.AsyncExitStack()
        self._serving = contextlib.AsyncExitStack()
        self.base_url = await self._serving.enter_async_context(
            serving(self._app(), ws="websockets-sansio")
        )
        self._worker = asyncio.create_task(self._work())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        for outboxes in self._outboxes.values():
            for outbox in outboxes:
                outbox.put_nowait(None)
        await self._serving.aclose()
        await self._stack.aclose()
        if self._tmp is not None:
            self._tmp.cleanup()

    # What tests do -----------------------------------------------------------------------

    async def restart(self) -> None:
        """Forget everything in memory, as a restarted ComfyUI has: the running prompt
        stops without a history entry, the queue, history and node cache are gone, and
        every WebSocket closes. Saved files stay on disk."""
        assert self._worker is not None
        self._worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._worker
        self._wipe()
        self._worker = asyncio.create_task(self._work())

    async def kill(self) -> None:
        """Stop like a crashed server: the running prompt and the queue are lost, every
        WebSocket closes, and connections to the port are refused from now on."""
        assert self._worker is not None
        self._worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._worker
        self._worker = None
        self._wipe()
        await self._serving.aclose()

    async def revive(self) -> None:
        """Serve again on the same address after :meth:`kill`, with an empty memory."""
        assert self._worker is None, "revive() follows kill()"
        port = httpx.URL(self.base_url).port
        self._serving = contextlib.AsyncExitStack()
        await self._serving.enter_async_context(
            serving(self._app(), ws="websockets-sansio", port=port or 0)
        )
        self._worker = asyncio.create_task(self._work())

    def _wipe(self) -> None:
        self.restarts += 1
        self._pending.clear()
        self._running.clear()
        self.history.clear()
        self._cache.clear()
        for client_id in list(self._outboxes):
            self._drop(client_id)

    # What tests look at ------------------------------------------------------------------

    def calls(self, method: str, path: str) -> list[Recorded]:
        """Recorded requests to ``path``, with or without the ``/api`` prefix."""
        return [r for r in self.requests if r.method == method and r.path in (path, f"/api{path}")]

    def output_dir(self, kind: str = "output") -> Path:
        assert self._tmp is not None
        return Path(self._tmp.name) / kind

    # The app -----------------------------------------------------------------------------

    def _app(self) -> FastAPI:
        router = APIRouter()

        @router.post("/prompt")
        async def post_prompt(request: Request) -> Response:
            body = await self._body(request)
            if self._post_failures > 0:
                self._post_failures -= 1
                return PlainTextResponse("500 Internal Server Error", status_code=500)
            if not isinstance(body, dict) or "prompt" not in body:
                error = _error("no_prompt", "No prompt provided", "No prompt provided")
                return JSONResponse({"error": error, "node_errors": {}}, status_code=400)
            graph = body["prompt"]
            rejected = self._validate(graph)
            if rejected is not None:
                return JSONResponse(rejected, status_code=400)
            client_id = body.get("client_id")
            prompt = _Prompt(
                prompt_id=str(body.get("prompt_id") or uuid.uuid4()),
                number=self._number,
                graph=graph,
                client_id=client_id if isinstance(client_id, str) and client_id else None,
                outputs=self._outputs(graph),
            )
            self._number += 1
            self._pending.append(prompt)
            self._wakeup.set()
            self._queue_changed()
            return JSONResponse(
                {"prompt_id": prompt.prompt_id, "number": prompt.number, "node_errors": {}}
            )

        @router.get("/history/{prompt_id}")
        async def get_history(prompt_id: str, request: Request) -> Response:
            self._record(request, None)
            entry = self.history.get(prompt_id)
            return JSONResponse({prompt_id: entry} if entry is not None else {})

        @router.get("/history")
        async def get_all_history(request: Request) -> Response:
            self._record(request, None)
            return JSONResponse(self.history)

        @router.get("/view")
        async def view(request: Request) -> Response:
            self._record(request, None)
            return self._view(dict(request.query_params))

        @router.get("/queue")
        async def get_queue(request: Request) -> Response:
            self._record(request, None)
            running = [p.queue_entry() for p in self._running]
            pending = [p.queue_entry() for p in self._pending]
            return JSONResponse({"queue_running": running, "queue_pending": pending})

        @router.post("/queue")
        async def post_queue(request: Request) -> Response:
            body = await self._body(request)
            if isinstance(body, dict):
                if body.get("clear"):
                    self._pending.clear()
                for prompt_id in body.get("delete") or []:
                    self._pending = [p for p in self._pending if p.prompt_id != prompt_id]
                self._queue_changed()
            return Response(status_code=200)

        @router.post("/interrupt")
        async def interrupt(request: Request) -> Response:
            body = await self._body(request)
            self.interrupts.append(body)
            wanted = body.get("prompt_id") if isinstance(body, dict) else None
            for running in self._running:
                if wanted in (None, running.prompt_id):
                    running.interrupted.set()
            return Response(status_code=200)

        @router.get("/system_stats")
        async def system_stats(request: Request) -> Response:
            self._record(request, None)
            return JSONResponse(
                {
                    "system": {
                        "os": "posix",
                        "comfyui_version": "0.0.0-fake",
                        "python_version": "3.11",
                        "embedded_python": False,
                        "ram_total": 8 * 2**30,
                        "ram_free": 4 * 2**30,
                    },
                    "devices": [
                        {
                            "name": "cpu",
                            "type": "cpu",
                            "index": None,
                            "vram_total": 8 * 2**30,
                            "vram_free": 4 * 2**30,
                            "torch_vram_total": 0,
                            "torch_vram_free": 0,
                        }
                    ],
                }
            )

        @router.websocket("/ws")
        async def ws(websocket: WebSocket) -> None:
            await self._socket(websocket)

        app = FastAPI()

        @app.middleware("http")
        async def in_trouble(request: Request, call_next: Any) -> Response:
            if self.failing:
                self._record(request, None)
                return PlainTextResponse(SERVER_ERROR_TEXT, status_code=500)
            response: Response = await call_next(request)
            return response

        app.include_router(router)
        app.include_router(router, prefix="/api")
        return app

    async def _body(self, request: Request) -> Any:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        self._record(request, body)
        return body

    def _record(self, request: Request, body: Any) -> None:
        self.requests.append(
            Recorded(request.method, request.url.path, dict(request.query_params), body)
        )

    # Validation, as ComfyUI's validate_prompt ---------------------------------------------

    def _outputs(self, graph: dict[str, Any]) -> list[str]:
        return [
            node_id
            for node_id, node in graph.items()
            if NODE_CLASSES[node["class_type"]].output_node
        ]

    def _validate(self, graph: Any) -> dict[str, Any] | None:
        if not isinstance(graph, dict):
            error = _error("invalid_prompt", "Cannot execute because the prompt is not an object.")
            return {"error": error, "node_errors": {}}
        for node_id, node in graph.items():
            if not isinstance(node, dict) or "class_type" not in node:
                error = _error(
                    "invalid_prompt",
                    "Cannot execute because a node is missing the class_type property.",
                    f"Node ID '#{node_id}'",
                )
                return {"error": error, "node_errors": {}}
            if node["class_type"] not in NODE_CLASSES:
                error = _error(
                    "invalid_prompt",
                    f"Cannot execute because node {node['class_type']} does not exist.",
                    f"Node ID '#{node_id}'",
                )
                return {"error": error, "node_errors": {}}
        outputs = self._outputs(graph)
        if not outputs:
            return {
                "error": _error("prompt_no_outputs", "Prompt has no outputs"),
                "node_errors": {},
            }
        checked: dict[str, tuple[bool, list[dict[str, Any]]]] = {}
        node_errors: dict[str, dict[str, Any]] = {}
        good = []
        for output in outputs:
            if self._check(graph, output, checked):
                good.append(output)
                continue
            for node_id, (valid, reasons) in checked.items():
                if not valid and reasons:
                    entry = node_errors.setdefault(
                        node_id,
                        {
                            "errors": reasons,
                            "dependent_outputs": [],
                            "class_type": graph[node_id]["class_type"],
                        },
                    )
                    entry["dependent_outputs"].append(output)
        if good:
            return None
        details = "\n".join(
            f"{reason['message']}: {reason['details']}"
            for entry in node_errors.values()
            for reason in entry["errors"]
        )
        error = _error(
            "prompt_outputs_failed_validation", "Prompt outputs failed validation", details
        )
        return {"error": error, "node_errors": node_errors}

    def _check(
        self, graph: dict[str, Any], node_id: str, checked: dict[str, tuple[bool, list[Any]]]
    ) -> bool:
        if node_id in checked:
            return checked[node_id][0]
        checked[node_id] = (True, [])  # a cycle stops here
        node = graph[node_id]
        inputs = node.get("inputs") if isinstance(node.get("inputs"), dict) else {}
        reasons: list[dict[str, Any]] = []
        valid = True
        for name, spec in NODE_CLASSES[node["class_type"]].inputs.items():
            if name not in inputs:
                reasons.append(
                    _error(
                        "required_input_missing", "Required input is missing", name, input_name=name
                    )
                )
                continue
            value = inputs[name]
            if isinstance(value, list):
                source = str(value[0]) if len(value) == 2 else None
                if source is None or source not in graph:
                    reasons.append(
                        _error(
                            "bad_linked_input",
                            "Bad linked input, must be a length-2 list of [node_id, slot_index]",
                            name,
                            input_name=name,
                        )
                    )
                    continue
                produced = NODE_CLASSES[graph[source]["class_type"]].outputs
                slot = value[1]
                received = (
                    produced[slot] if isinstance(slot, int) and 0 <= slot < len(produced) else None
                )
                if received != spec.kind:
                    reasons.append(
                        _error(
                            "return_type_mismatch",
                            "Return type mismatch between linked nodes",
                            f"{name}, received_type({received}) mismatch input_type({spec.kind})",
                            input_name=name,
                            received_type=received,
                            linked_node=value,
                        )
                    )
                    continue
                if not self._check(graph, source, checked):
                    valid = False
                continue
            problem = self._check_value(name, spec, value)
            if problem is not None:
                reasons.append(problem)
        checked[node_id] = (valid and not reasons, reasons)
        return checked[node_id][0]

    def _check_value(self, name: str, spec: Spec, value: Any) -> dict[str, Any] | None:
        choices = self.scenario.checkpoints if spec.kind == CHECKPOINTS else spec.kind
        if isinstance(choices, tuple):
            if value in choices:
                return None
            listed = (
                str(list(choices)) if len(choices) <= 20 else f"(list of length {len(choices)})"
            )
            return _error(
                "value_not_in_list",
                "Value not in list",
                f"{name}: '{value}' not in {listed}",
                input_name=name,
                received_value=value,
            )
        convert = {"INT": int, "FLOAT": float, "STRING": str}.get(str(spec.kind))
        if convert is None:
            return _error(
                "invalid_input_type",
                f"Input {name} needs a link to a {spec.kind} output",
                f"{name}, {value!r}",
                input_name=name,
                received_value=value,
            )
        try:
            number = convert(value)
        except (TypeError, ValueError) as exc:
            return _error(
                "invalid_input_type",
                f"Failed to convert an input value to a {spec.kind} value",
                f"{name}, {value}, {exc}",
                input_name=name,
                received_value=value,
            )
        if spec.min is not None and number < spec.min:
            return _error(
                "value_smaller_than_min",
                f"Value {number} smaller than min of {spec.min}",
                name,
                input_name=name,
                received_value=value,
            )
        if spec.max is not None and number > spec.max:
            return _error(
                "value_bigger_than_max",
                f"Value {number} bigger than max of {spec.max}",
                name,
                input_name=name,
                received_value=value,
            )
        return None

    # Execution ---------------------------------------------------------------------------

    async def _work(self) -> None:
        async with asyncio.TaskGroup() as group:
            for _ in range(max(1, self.scenario.parallel)):
                group.create_task(self._run_prompts())

    async def _run_prompts(self) -> None:
        while True:
            while not self._pending:
                self._wakeup.clear()
                await self._wakeup.wait()
            prompt = self._pending.pop(0)
            self._running.append(prompt)
            self._queue_changed()
            if self._forget_left > 0:
                self._forget_left -= 1
                self._wipe()
                continue
            try:
                await self._execute(prompt)
            finally:
                if prompt in self._running:
                    self._running.remove(prompt)
                self._queue_changed()

    async def _execute(self, prompt: _Prompt) -> None:
        pid, graph = prompt.prompt_id, prompt.graph
        messages: list[list[Any]] = []

        async def emit(kind: str, data: dict[str, Any], *, status: bool = False) -> None:
            if status:
                messages.append([kind, data])
            if prompt.client_id is None:
                return  # ComfyUI sends execution events only to the client that asked
            frame = {"type": kind, "data": data}
            self.frames.setdefault(pid, []).append(frame)
            await self._send(prompt.client_id, json.dumps(frame))

        if self.scenario.foreign_frames and prompt.client_id is not None:
            other = str(uuid.uuid4())
            for frame in (
                {
                    "type": "progress",
                    "data": {"value": 9, "max": 9, "prompt_id": other, "node": "3"},
                },
                {
                    "type": "execution_error",
                    "data": self._failure_payload(
                        other, _NodeStopped("3", "KSampler", "another prompt failed"), []
                    ),
                },
                {"type": "executing", "data": {"node": None, "prompt_id": other}},
            ):
                await self._send(prompt.client_id, json.dumps(frame))

        await emit("execution_start", {"prompt_id": pid, "timestamp": _now_ms()}, status=True)
        order = self._order(graph, prompt.outputs)
        signatures = {node_id: self._signature(graph, node_id) for node_id in order}
        cached = [node_id for node_id in order if signatures[node_id] in self._cache]
        await emit(
            "execution_cached",
            {"nodes": cached, "prompt_id": pid, "timestamp": _now_ms()},
            status=True,
        )
        outputs: dict[str, dict[str, Any]] = {}
        executed = list(cached)
        try:
            for node_id in order:
                node_class = NODE_CLASSES[graph[node_id]["class_type"]]
                if node_id in cached:
                    if node_class.output_node:
                        outputs[node_id] = self._cache[signatures[node_id]]
                        await emit("executed", self._executed(pid, node_id, outputs[node_id]))
                    continue
                prompt.node = node_id
                await emit(
                    "executing", {"node": node_id, "display_node": node_id, "prompt_id": pid}
                )
                ui = await self._run_node(prompt, node_id, node_class, emit)
                if ui is not None:
                    outputs[node_id] = ui
                    await emit("executed", self._executed(pid, node_id, ui))
                self._cache[signatures[node_id]] = ui or {}
                executed.append(node_id)
            await emit("execution_success", {"prompt_id": pid, "timestamp": _now_ms()}, status=True)
            status_str = "success"
        except _Interrupted as stop:
            payload = {
                "prompt_id": pid,
                "node_id": stop.node_id,
                "node_type": stop.node_type,
                "executed": executed,
                "timestamp": _now_ms(),
            }
            await emit("execution_interrupted", payload, status=True)
            status_str, outputs = "error", {}
        except _NodeStopped as stop:
            await emit("execution_error", self._failure_payload(pid, stop, executed), status=True)
            status_str, outputs = "error", {}
        self.history[pid] = {
            "prompt": prompt.queue_entry(),
            "outputs": outputs,
            "status": {
                "status_str": status_str,
                "completed": status_str == "success",
                "messages": messages,
            },
            "meta": {
                node_id: {
                    "node_id": node_id,
                    "display_node": node_id,
                    "parent_node": None,
                    "real_node_id": node_id,
                }
                for node_id in outputs
            },
        }
        await emit("executing", {"node": None, "prompt_id": pid})

    async def _run_node(
        self, prompt: _Prompt, node_id: str, node_class: NodeClass, emit: Any
    ) -> dict[str, Any] | None:
        node = prompt.graph[node_id]
        failing = self.scenario.outcome == "error"
        if failing and (node_class.steps_input or node_class.output_node):
            raise _NodeStopped(node_id, node["class_type"], self.scenario.error_message)
        if node_class.steps_input:
            steps = int(node["inputs"][node_class.steps_input])
            pause = self.scenario.step_delay
            if self.scenario.run_seconds is not None:
                pause = self.scenario.run_seconds() / steps
            loop = asyncio.get_running_loop()
            began = loop.time()
            for step in range(1, steps + 1):
                await emit(
                    "progress",
                    {"value": step, "max": steps, "prompt_id": prompt.prompt_id, "node": node_id},
                )
                await emit(
                    "progress_state",
                    {
                        "prompt_id": prompt.prompt_id,
                        "nodes": {
                            node_id: {
                                "value": step,
                                "max": steps,
                                "state": "running",
                                "node_id": node_id,
                                "prompt_id": prompt.prompt_id,
                                "display_node_id": node_id,
                                "parent_node_id": None,
                                "real_node_id": node_id,
                            }
                        },
                    },
                )
                if prompt.client_id is not None and step % 5 == 1:
                    await self._send(prompt.client_id, self._preview())
                if self.scenario.drop_socket and step == 1 and prompt.client_id is not None:
                    self._drop(prompt.client_id)
                if self.scenario.outcome == "stall":
                    await prompt.interrupted.wait()
                if prompt.interrupted.is_set():
                    raise _Interrupted(node_id, node["class_type"])
                # Each step ends on its schedule: a busy loop does not stretch the run.
                await asyncio.sleep(max(0.0, began + step * pause - loop.time()))
        if not node_class.output_node:
            return None
        value = self._value(prompt.graph, str(node["inputs"]["images"][0]), {})
        if node["class_type"] == "PreviewImage":
            return {"images": [self._save(value, "temp", f"ComfyUI_temp_{prompt.number:05}")]}
        prefix = str(node["inputs"]["filename_prefix"])
        if os.path.isabs(prefix) or ".." in Path(prefix).parts:
            raise _NodeStopped(
                node_id,
                node["class_type"],
                "**** ERROR: Saving image outside the output folder is not allowed.",
            )
        return {"images": [self._save(value, "output", prefix)]}

    def _failure_payload(self, pid: str, stop: _NodeStopped, executed: list[str]) -> dict[str, Any]:
        return {
            "prompt_id": pid,
            "node_id": stop.node_id,
            "node_type": stop.node_type,
            "executed": executed,
            "exception_message": stop.message,
            "exception_type": "torch.OutOfMemoryError",
            "traceback": ['  File "execution.py", line 1, in execute\n'],
            "current_inputs": {},
            "current_outputs": {},
            "timestamp": _now_ms(),
        }

    @staticmethod
    def _executed(pid: str, node_id: str, ui: dict[str, Any]) -> dict[str, Any]:
        return {"node": node_id, "display_node": node_id, "output": ui, "prompt_id": pid}

    def _order(self, graph: dict[str, Any], outputs: list[str]) -> list[str]:
        order: list[str] = []

        def visit(node_id: str) -> None:
            if node_id in order:
                return
            for value in graph[node_id]["inputs"].values():
                if isinstance(value, list):
                    visit(str(value[0]))
            order.append(node_id)

        for output in outputs:
            visit(output)
        return order

    def _signature(self, graph: dict[str, Any], node_id: str) -> str:
        node = graph[node_id]
        inputs = {
            name: self._signature(graph, str(value[0])) + f"#{value[1]}"
            if isinstance(value, list)
            else value
            for name, value in sorted(node["inputs"].items())
        }
        return json.dumps([node["class_type"], inputs], sort_keys=True)

    def _value(self, graph: dict[str, Any], node_id: str, memo: dict[str, Any]) -> dict[str, Any]:
        """What an image-producing node yields: its size and what seeds its pixels."""
        if node_id in memo:
            return memo[node_id]
        node = graph[node_id]
        inputs = node["inputs"]

        def linked(name: str) -> dict[str, Any]:
            return self._value(graph, str(inputs[name][0]), memo)

        kind = node["class_type"]
        value: dict[str, Any]
        if kind == "EmptyLatentImage":
            # A latent pixel covers 8×8 image pixels; odd sizes round down.
            value = {
                "width": int(inputs["width"]) // 8 * 8,
                "height": int(inputs["height"]) // 8 * 8,
            }
        elif kind == "KSampler":
            value = {**linked("latent_image"), "seed": int(inputs["seed"])}
        elif kind == "VAEDecode":
            value = linked("samples")
        elif kind == "EmptyImage":
            value = {
                "width": int(inputs["width"]),
                "height": int(inputs["height"]),
                "color": int(inputs["color"]),
            }
        elif kind == "ImageScale":
            source = linked("image")
            value = {
                **source,
                "width": int(inputs["width"]) or source["width"],
                "height": int(inputs["height"]) or source["height"],
            }
        else:
            value = {}
        memo[node_id] = value
        return value

    def _save(self, value: dict[str, Any], kind: str, prefix: str) -> dict[str, str]:
        subfolder, base = os.path.split(prefix)
        folder = self.output_dir(kind) / subfolder
        folder.mkdir(parents=True, exist_ok=True)
        extension, _ = FORMATS[self.scenario.image_format]
        counter = 1 + len(list(folder.glob(f"{base}_*_.{extension}")))
        filename = f"{base}_{counter:05}_.{extension}"
        image = render(value)
        image.save(folder / filename, format=self.scenario.image_format)
        return {"filename": filename, "subfolder": subfolder, "type": kind}

    @staticmethod
    def _preview() -> bytes:
        out = io.BytesIO()
        Image.new("RGB", (8, 8), (128, 128, 128)).save(out, format="JPEG")
        header = PREVIEW_EVENT.to_bytes(4, "big") + PREVIEW_JPEG.to_bytes(4, "big")
        return header + out.getvalue()

    # /view, with ComfyUI's path rules ----------------------------------------------------

    def _view(self, query: dict[str, str]) -> Response:
        filename = query.get("filename")
        if filename is None:
            return Response(status_code=404)
        if not filename or filename[0] == "/" or ".." in filename:
            return Response(status_code=400)
        kind = query.get("type", "output")
        if kind not in ("output", "temp", "input"):
            return Response(status_code=400)
        root = os.path.abspath(self.output_dir(kind))
        folder = os.path.abspath(os.path.join(root, query.get("subfolder", "")))
        if os.path.commonpath((folder, root)) != root:
            return Response(status_code=403)
        path = os.path.join(folder, filename)
        if not os.path.isfile(path):
            return Response(status_code=404)
        media = {ext: media for ext, media in FORMATS.values()}
        extension = filename.rsplit(".", 1)[-1]
        return Response(
            Path(path).read_bytes(),
            media_type=media.get(extension, "application/octet-stream"),
            headers={"Content-Disposition": f'filename="{filename}"'},
        )

    # WebSocket ---------------------------------------------------------------------------

    async def _socket(self, websocket: WebSocket) -> None:
        client_id = websocket.query_params.get("clientId") or uuid.uuid4().hex
        self.requests.append(Recorded("WS", websocket.url.path, dict(websocket.query_params), None))
        if not self.scenario.sockets or self._refused_sockets > 0 or self.failing:
            self._refused_sockets -= 1
            await websocket.close(code=1008)  # before accept: the handshake gets a 403
            return
        self.socket_clients.append(client_id)
        outbox: asyncio.Queue[str | bytes | None] = asyncio.Queue()
        # Registered before the handshake completes, so nothing sent after it is lost.
        self._outboxes.setdefault(client_id, []).append(outbox)
        outbox.put_nowait(
            json.dumps(
                {
                    "type": "status",
                    "data": {
                        "status": {"exec_info": {"queue_remaining": self._remaining()}},
                        "sid": client_id,
                    },
                }
            )
        )
        for running in self._running:
            if running.client_id == client_id and running.node:
                # A client back on the socket mid-run hears the node, without the prompt_id.
                frame = {"type": "executing", "data": {"node": running.node}}
                outbox.put_nowait(json.dumps(frame))
        try:
            await websocket.accept()
            pump = asyncio.create_task(self._pump(websocket, outbox))
            listen = asyncio.create_task(self._listen(websocket))
            _, pending = await asyncio.wait({pump, listen}, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        finally:
            self._forget(client_id, outbox)

    @staticmethod
    async def _pump(websocket: WebSocket, outbox: asyncio.Queue[str | bytes | None]) -> None:
        with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
            while True:
                item = await outbox.get()
                if item is None:
                    await websocket.close(code=1001)
                    return
                if isinstance(item, bytes):
                    await websocket.send_bytes(item)
                else:
                    await websocket.send_text(item)

    @staticmethod
    async def _listen(websocket: WebSocket) -> None:
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    return

    async def _send(self, client_id: str, item: str | bytes) -> None:
        for outbox in self._outboxes.get(client_id, []):
            outbox.put_nowait(item)
        await asyncio.sleep(0)

    def _drop(self, client_id: str) -> None:
        for outbox in self._outboxes.pop(client_id, []):
            outbox.put_nowait(None)

    def _forget(self, client_id: str, outbox: asyncio.Queue[str | bytes | None]) -> None:
        outboxes = self._outboxes.get(client_id, [])
        if outbox in outboxes:
            outboxes.remove(outbox)
        if not outboxes:
            self._outboxes.pop(client_id, None)

    def _remaining(self) -> int:
        return len(self._pending) + len(self._running)

    def _queue_changed(self) -> None:
        frame = json.dumps(
            {
                "type": "status",
                "data": {"status": {"exec_info": {"queue_remaining": self._remaining()}}},
            }
        )
        for outboxes in self._outboxes.values():
            for outbox in outboxes:
                outbox.put_nowait(frame)


def render(value: dict[str, Any]) -> Image.Image:
    """A deterministic stand-in picture: a seeded background and disc, or a flat colour."""
    width, height = value.get("width", 64), value.get("height", 64)
    if "color" in value:
        color = value["color"]
        return Image.new("RGB", (width, height), (color >> 16, (color >> 8) & 255, color & 255))
    rng = random.Random(value.get("seed", 0))
    background = tuple(rng.randrange(160, 256) for _ in range(3))
    image = Image.new("RGB", (width, height), background)
    disc = tuple(rng.randrange(0, 120) for _ in range(3))
    ImageDraw.Draw(image).ellipse(
        (width // 4, height // 4, 3 * width // 4, 3 * height // 4), fill=disc
    )
    return image
