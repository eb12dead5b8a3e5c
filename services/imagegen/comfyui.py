"""The ComfyUI image backend: fill a workflow template, queue it, follow it, fetch the PNG.

Per image the WebSocket ``/ws?clientId=`` is opened before ``POST /prompt`` (with the same
``client_id``, without which ComfyUI sends no execution events), so no event is missed.
Whenever the socket cannot be opened, drops or goes quiet, ``GET /history/{prompt_id}``
says how the prompt ended, and the socket is opened again a bounded number of times with
backoff. ComfyUI keeps its queue and history in memory only: a prompt that is neither in
``GET /queue`` nor in history was forgotten (a restart, a cleared queue) and is queued
again at once, a bounded number of times. The whole image has one deadline; past it the
prompt is taken off the queue and interrupted, and the caller is told to retry later.

Several ComfyUI servers form one pool (:mod:`shared.pool`; ``image_generation.comfyui_urls``),
all expected to have the same models and nodes installed. Each image goes to the server
with the fewest prompts running or waiting, as its ``GET /queue`` says (read at most once
a second per server, in the background) plus this process's images in flight; each
server is sent at most ``comfyui_concurrency`` prompts at once, across replicas too when
a :class:`~shared.slots.SlotBoard` is handed in, so the rest wait here, for whichever
server frees first, instead of in one server's queue. A server that cannot be reached,
answers 5xx, loses prompts or misses the deadline fails the image over to another server
at once, and after ``circuit_failures`` such failures in a row it is left out for
``circuit_cooldown_s`` seconds (then one image tries it again).
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import io
import json
import random
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from PIL import Image, ImageOps
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from services.imagegen.backend import Progress
from shared.config import ImageSettings
from shared.errors import ConfigError, Permanent, RetryLater
from shared.layout import PlacedObject
from shared.logs import get_logger
from shared.pool import (
    DEFAULT_COOLDOWN_S,
    DEFAULT_FAILURES,
    Lease,
    Pool,
    ServerDown,
    server_label,
)
from shared.slots import SlotBoard

log = get_logger(__name__)

DEFAULT_WORKFLOW = Path(__file__).parent / "workflows" / "text_to_image.json"
"""The shipped text-to-image template (CheckpointLoaderSimple → … → SaveImage)."""

STYLE = "single object, centered, product photo, studio lighting, plain white background"
STEPS = {"draft": 12, "standard": 20, "high": 30}
"""Sampler steps per ``ImageSettings.quality``, filled into a template's ``{{steps}}``."""

TEXT_MARKERS = frozenset({"prompt", "negative_prompt", "filename_prefix"})
NUMBER_MARKERS = frozenset({"seed", "width", "height", "steps"})
MARKERS = TEXT_MARKERS | NUMBER_MARKERS
MARKER = re.compile(r"\{\{([^{}]*)\}\}")

SEED_RANGE = 2**64  # ComfyUI's KSampler seed is an unsigned 64-bit integer
# Per-object seeds stay below 2**53: inside the sampler's range, and exact as a number in
# the web editor that reopens a saved image's embedded workflow (JavaScript doubles).
OBJECT_SEED_RANGE = 2**53
LATENT_STEP = 8  # latent images are a multiple of 8 pixels on a side
MAX_FRAME = 32 * 2**20  # binary preview frames can exceed websockets' 1 MiB default
ABANDON_TIMEOUT = 5.0
# A load reading (GET /queue for the pool) gets this long; it is advice, never waited on.
QUEUE_READING_TIMEOUT = 2.0
# Prompts a server is sent at once: one running and one waiting, so the GPU never idles
# between two prompts while the others wait where any server can take them.
DEFAULT_CONCURRENCY = 2


class _ServerBusy(Exception):
    """A 5xx or 429 answer: worth another attempt."""


class _Forgotten(Exception):
    """The prompt is neither queued, running nor in history: the server lost it."""


@dataclass(frozen=True)
class Workflow:
    """An API-format ComfyUI graph whose inputs hold ``{{marker}}`` strings to fill.

    A value that is exactly one marker becomes the typed value (ints stay ints); every
    marker inside a longer string is replaced by its text. ``{{prompt}}`` is required; the
    other markers are ``negative_prompt``, ``seed``, ``width``, ``height``, ``steps`` and
    ``filename_prefix``. An unknown or unclosed marker fails at load, naming the file.
    """

    graph: dict[str, Any]
    source: str
    digest: str

    @classmethod
    def load(cls, path: Path | None = None) -> Workflow:
        """Read and check a template; every problem is a :class:`ConfigError` naming it."""
        path = path or DEFAULT_WORKFLOW
        try:
            text = path.expanduser().read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"ComfyUI workflow {path}: {exc.strerror or exc}") from None
        try:
            graph = json.loads(text)
        except ValueError as exc:
            raise ConfigError(f"ComfyUI workflow {path} is not valid JSON: {exc}") from None
        return cls.from_graph(graph, source=str(path))

    @classmethod
    def from_graph(cls, graph: Any, *, source: str) -> Workflow:
        if not isinstance(graph, dict) or not graph:
            raise ConfigError(f"ComfyUI workflow {source} must be a non-empty object of nodes")
        if "nodes" in graph and "links" in graph:
            raise ConfigError(
                f"ComfyUI workflow {source} is in the editor's format; "
                "export it in the API format instead"
            )
        found: set[str] = set()
        for node_id, node in graph.items():
            if (
                not isinstance(node, dict)
                or not isinstance(node.get("class_type"), str)
                or not isinstance(node.get("inputs"), dict)
            ):
                raise ConfigError(
                    f"ComfyUI workflow {source}: node {node_id!r} needs a string "
                    "'class_type' and an 'inputs' object"
                )
            where = f"ComfyUI workflow {source}: node {node_id} ({node['class_type']})"
            for text in _strings(node["inputs"]):
                for name in _markers(text):
                    if name not in MARKERS:
                        raise ConfigError(
                            f"{where} has an unknown marker {{{{{name}}}}}; known markers: "
                            + ", ".join(sorted(MARKERS))
                        )
                    found.add(name)
                rest = MARKER.sub("", text)
                if "{{" in rest or "}}" in rest:
                    raise ConfigError(f"{where} has an unclosed marker in {text!r}")
        if "prompt" not in found:
            raise ConfigError(
                f"ComfyUI workflow {source} has no {{{{prompt}}}} marker for the object's text"
            )
        canonical = json.dumps(graph, sort_keys=True, separators=(",", ":"))
        digest = hashlib.sha256(canonical.encode()).hexdigest()
        return cls(graph=graph, source=source, digest=digest)

    def fill(self, values: Mapping[str, str | int]) -> dict[str, Any]:
        """A copy of the graph with every marker replaced; ``values`` covers all markers."""
        missing = MARKERS - values.keys()
        if missing:
            raise ValueError(f"no value for markers {sorted(missing)}")
        graph = copy.deepcopy(self.graph)
        for node in graph.values():
            node["inputs"] = _fill(node["inputs"], values)
        return graph


def _strings(value: Any) -> list[str]:
    """Every string inside an inputs object, however deep."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _strings(item)]
    return []


def _markers(text: str) -> list[str]:
    return [match.strip() for match in MARKER.findall(text)]


def _fill(value: Any, values: Mapping[str, str | int]) -> Any:
    if isinstance(value, str):
        whole = MARKER.fullmatch(value)
        if whole is not None:
            return values[whole.group(1).strip()]
        return MARKER.sub(lambda match: str(values[match.group(1).strip()]), value)
    if isinstance(value, list):
        return [_fill(item, values) for item in value]
    if isinstance(value, dict):
        return {key: _fill(item, values) for key, item in value.items()}
    return value


def object_prompt(obj: PlacedObject) -> str:
    """The positive prompt: what the object is, its material and colour, in a studio shot."""
    subject = obj.description.strip() or obj.category
    parts = [subject]
    if obj.category.lower() not in subject.lower():
        parts.append(obj.category)
    if obj.material:
        parts.append(f"made of {obj.material}")
    if obj.color:
        parts.append(f"{obj.color} colour")
    parts.append(STYLE)
    return ", ".join(parts)


class _Rising:
    """Relays one image's progress, never backwards (several step-based nodes each
    count 0→1, and an image failed over to another server starts again)."""

    def __init__(self, progress: Progress | None):
        self.progress = progress
        self.reported = 0.0

    async def __call__(self, fraction: float) -> None:
        if self.progress is not None and fraction > self.reported:
            self.reported = fraction
            await self.progress(fraction)


@dataclass
class _Job:
    """One image's state while one ComfyUI server works on it."""

    object_id: str
    client_id: str
    report: _Rising
    server: str  # the base URL of the server running it
    alone: bool = True  # no other server could take it over (see shared.pool.Lease)
    prompt_id: str = ""
    images: list[dict[str, Any]] = field(default_factory=list)
    started: bool = False  # execution_start of prompt_id was seen
    queue_stale: bool = False  # the queue changed since it was last asked about prompt_id
    queue_due: float = 0.0  # loop time from which the queue may be asked again
    socket: ClientConnection | None = None
    socket_attempts: int = 0
    socket_due: float = 0.0  # loop time at which the socket may be opened again

    @property
    def label(self) -> str:
        """The server's URL without credentials, for messages and logs."""
        return server_label(self.server)


class ComfyUIImages:
    """Makes object images with a ComfyUI server (``ImageBackend``)."""

    object_seed_range = OBJECT_SEED_RANGE
    """Each object gets its own seed below this (see ``services.imagegen.work``): the
    sampler's noise is all that tells two objects' compositions apart."""
    takes_turns = True
    """The work's backend slot is held by the server pool around the remote call only
    (:func:`shared.fairness.backend_turn`)."""

    def __init__(
        self,
        base_url: str | Sequence[str],
        *,
        workflow: Path | None = None,
        negative_prompt: str = "",
        timeout: float = 300.0,
        http: httpx.AsyncClient | None = None,
        steps: int = STEPS["standard"],
        retry_attempts: int = 4,
        retry_wait: float = 0.5,
        poll_interval: float = 1.0,
        stall_after: float = 15.0,
        resubmit_attempts: int = 2,
        socket_retries: int = 3,
        socket_retry_wait: float = 0.5,
        concurrency: int = DEFAULT_CONCURRENCY,
        board: SlotBoard | None = None,
        circuit_failures: int = DEFAULT_FAILURES,
        circuit_cooldown_s: float = DEFAULT_COOLDOWN_S,
        load_ttl: float = 1.0,
    ):
        urls = [base_url] if isinstance(base_url, str) else list(base_url)
        self.pool = Pool(
            "comfyui",
            urls,
            title="ComfyUI",
            concurrency=concurrency,
            board=board,
            failures=circuit_failures,
            cooldown_s=circuit_cooldown_s,
            load=self._queue_length,
            load_ttl=load_ttl,
        )
        self.workflow = Workflow.load(workflow)
        self.negative_prompt = negative_prompt
        self.timeout = timeout
        self.steps = steps
        self.retry_attempts = retry_attempts
        self.retry_wait = retry_wait
        self.poll_interval = poll_interval
        self.stall_after = stall_after
        self.resubmit_attempts = resubmit_attempts
        self.socket_retries = socket_retries
        self.socket_retry_wait = socket_retry_wait
        self._owns_http = http is None
        self._http = (
            http
            if http is not None
            else httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=10.0))
        )
        # Everything that changes the pixels for the same object, seed and size.
        recipe = f"{self.workflow.digest}\0{negative_prompt}\0{steps}".encode()
        self.identity = f"comfyui/{hashlib.sha256(recipe).hexdigest()[:12]}"

    @classmethod
    def from_settings(
        cls, settings: ImageSettings, board: SlotBoard | None = None
    ) -> ComfyUIImages:
        """The backend of ``settings``; with ``board`` the servers' prompt limit holds
        across replicas."""
        servers = settings.comfyui_servers
        if not servers:
            raise ConfigError("image_generation.comfyui_url (COMFYUI_API_URL) is not set")
        return cls(
            servers,
            workflow=settings.workflow_path,
            negative_prompt=settings.negative_prompt,
            timeout=settings.timeout,
            steps=STEPS[settings.quality],
            concurrency=settings.comfyui_concurrency,
            board=board,
            circuit_failures=settings.circuit_failures,
            circuit_cooldown_s=settings.circuit_cooldown_s,
        )

    async def generate(
        self, obj: PlacedObject, seed: int, size: int, progress: Progress | None = None
    ) -> bytes:
        """Queue the filled workflow on a server of the pool, follow it to the end and
        return a ``size``² PNG."""
        # Ask for a latent-friendly size; the answer is fitted to ``size`` afterwards.
        side = -(-size // LATENT_STEP) * LATENT_STEP
        graph = self.workflow.fill(
            {
                "prompt": object_prompt(obj),
                "negative_prompt": self.negative_prompt,
                "seed": seed % SEED_RANGE,
                "width": side,
                "height": side,
                "steps": self.steps,
                "filename_prefix": f"holodeck/{obj.id}",
            }
        )
        report = _Rising(progress)
        return await self.pool.run(lambda lease: self._generate_on(lease, obj, graph, size, report))

    async def _generate_on(
        self, lease: Lease, obj: PlacedObject, graph: dict[str, Any], size: int, report: _Rising
    ) -> bytes:
        job = _Job(
            object_id=obj.id,
            client_id=uuid.uuid4().hex,
            report=report,
            server=lease.url,
            alone=lease.alone,
        )
        if lease.queued:
            log.info(
                "comfyui server slot taken",
                object_id=obj.id,
                server=lease.label,
                waited_s=round(lease.waited, 3),
            )
        deadline = asyncio.timeout(self.timeout)
        try:
            async with deadline:
                return await self._run(job, graph, size)
        except asyncio.CancelledError:
            # The scene was cancelled (or the worker is stopping): free the GPU for others.
            await self._abandon(job)
            raise
        except TimeoutError:
            if not deadline.expired():
                raise
            await self._abandon(job)
            # The image's whole time went here: the bus retries it, not another server now.
            raise ServerDown(
                f"ComfyUI at {job.label} did not finish object {obj.id} "
                f"(prompt {job.prompt_id or 'not queued'}) within {self.timeout:g}s",
                code="comfyui_timeout",
                elsewhere=False,
            ) from None

    async def close(self) -> None:
        await self.pool.close()
        if self._owns_http:
            await self._http.aclose()

    async def _queue_length(self, server: str) -> int:
        """Prompts running or waiting on ``server`` (the pool's load reading)."""
        response = await self._http.get(f"{server}/queue", timeout=QUEUE_READING_TIMEOUT)
        if response.status_code != 200:
            raise ValueError(f"GET /queue answered {response.status_code}")
        return _queue_size(_json_object(response, "GET /queue"))

    async def _run(self, job: _Job, graph: dict[str, Any], size: int) -> bytes:
        try:
            await self._open_socket(job)
            for submission in range(1, self.resubmit_attempts + 2):
                job.prompt_id = await self._submit(job, graph)
                job.images, job.started, job.queue_stale = [], False, False
                log.info(
                    "comfyui prompt queued",
                    object_id=job.object_id,
                    prompt_id=job.prompt_id,
                    server=job.label,
                    submission=submission,
                    socket=job.socket is not None,
                )
                try:
                    await self._await_end(job)
                    break
                except _Forgotten:
                    log.warning(
                        "comfyui forgot the prompt",
                        object_id=job.object_id,
                        prompt_id=job.prompt_id,
                        submission=submission,
                    )
            else:
                raise ServerDown(
                    f"ComfyUI at {job.label} lost the prompt of object {job.object_id} "
                    f"{self.resubmit_attempts + 1} times (restarted or its queue cleared)",
                    code="comfyui_forgotten",
                )
        finally:
            await self._close_socket(job)
        image = _first_image(job)
        data = await self._download(job, image)
        png = await asyncio.to_thread(_as_png, data, size)
        await job.report(1.0)
        log.info("comfyui image ready", object_id=job.object_id, prompt_id=job.prompt_id)
        return png

    async def _await_end(self, job: _Job) -> None:
        """Follow the queued prompt until it ends well (its images then in ``job.images``).

        Raises for a failed prompt, and :class:`_Forgotten` when the server lost it.
        """
        while True:
            if job.socket is None and self._socket_due(job):
                await self._open_socket(job)
                # Frames sent while no socket was open are lost: history says if it ended.
                if job.socket is not None and await self._check_history(job):
                    return
            if job.socket is not None:
                if await self._follow(job):
                    if not job.images:
                        # The done signal comes after history is written.
                        await self._poll(job)
                    return
                continue
            if await self._check(job):
                return
            await asyncio.sleep(self._poll_wait(job))

    def _socket_due(self, job: _Job) -> bool:
        return (
            job.socket_attempts <= self.socket_retries
            and asyncio.get_running_loop().time() >= job.socket_due
        )

    def _poll_wait(self, job: _Job) -> float:
        if job.socket_attempts > self.socket_retries:
            return self.poll_interval
        until = job.socket_due - asyncio.get_running_loop().time()
        return max(0.0, min(self.poll_interval, until))

    def _socket_backoff(self, job: _Job) -> None:
        wait = min(self.socket_retry_wait * 2 ** (job.socket_attempts - 1), 30.0)
        wait += random.uniform(0, self.socket_retry_wait)
        job.socket_due = asyncio.get_running_loop().time() + wait

    async def _open_socket(self, job: _Job) -> None:
        job.socket_attempts += 1
        url = httpx.URL(f"{job.server}/ws", params={"clientId": job.client_id})
        url = url.copy_with(scheme="wss" if url.scheme == "https" else "ws")
        try:
            job.socket = await connect(str(url), max_size=MAX_FRAME, close_timeout=2)
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            # History still tells how the prompt ends; the POST decides if the server is up.
            self._socket_backoff(job)
            log.warning(
                "comfyui socket unavailable, polling history meanwhile",
                object_id=job.object_id,
                attempt=job.socket_attempts,
                retries_left=max(0, self.socket_retries + 1 - job.socket_attempts),
                error=repr(exc),
            )

    async def _close_socket(self, job: _Job) -> None:
        socket, job.socket = job.socket, None
        if socket is not None:
            await socket.close()

    async def _submit(self, job: _Job, graph: dict[str, Any]) -> str:
        # With another server to go to, a server that fails the POST is not tried again.
        response = await self._request(
            job,
            "POST",
            "/prompt",
            attempts=None if job.alone else 1,
            json={"prompt": graph, "client_id": job.client_id},
        )
        if response.status_code == 400:
            raise Permanent(_rejection(response, self.workflow.source), code="comfyui_rejected")
        if response.status_code >= 400:
            raise Permanent(
                f"ComfyUI answered {response.status_code} to POST /prompt: {_snippet(response)}",
                code="comfyui_rejected",
            )
        body = _json_object(response, "POST /prompt")
        prompt_id = body.get("prompt_id")
        if not isinstance(prompt_id, str) or not prompt_id:
            raise Permanent(f"ComfyUI queued no prompt_id: {_snippet(response)}")
        if body.get("node_errors"):
            log.warning(
                "comfyui dropped some outputs", prompt_id=prompt_id, node_errors=body["node_errors"]
            )
        return prompt_id

    async def _follow(self, job: _Job) -> bool:
        """Relay frames until the done signal (True) or until the socket drops (False)."""
        assert job.socket is not None
        loop = asyncio.get_running_loop()
        quiet_from = loop.time()
        while True:
            # Wake for whichever comes first: a queue check held back, or a quiet socket.
            queue_first = job.queue_stale and job.queue_due < quiet_from + self.stall_after
            wake = job.queue_due if queue_first else quiet_from + self.stall_after
            try:
                async with asyncio.timeout(max(0.0, wake - loop.time())):
                    message = await job.socket.recv()
            except TimeoutError:
                if queue_first:
                    await self._recheck_queue(job)
                    continue
                log.info("comfyui socket quiet, asking history", prompt_id=job.prompt_id)
                quiet_from = loop.time()
                if await self._check(job):
                    return True
                continue
            except ConnectionClosed as exc:
                log.warning(
                    "comfyui socket closed mid-run, polling history",
                    prompt_id=job.prompt_id,
                    error=repr(exc),
                )
                await self._close_socket(job)
                self._socket_backoff(job)
                return False
            quiet_from = loop.time()
            # Binary frames are previews.
            if isinstance(message, str) and await self._on_frame(job, message):
                return True

    async def _on_frame(self, job: _Job, message: str) -> bool:
        try:
            frame = json.loads(message)
        except ValueError:
            return False
        if not isinstance(frame, dict) or not isinstance(frame.get("data"), dict):
            return False
        kind, data = frame.get("type"), frame["data"]
        if data.get("prompt_id", job.prompt_id) != job.prompt_id:
            return False
        if kind == "progress":
            value, maximum = data.get("value"), data.get("max")
            if isinstance(value, int | float) and isinstance(maximum, int | float) and maximum > 0:
                await job.report(min(value / maximum, 1.0))
        elif kind == "executed":
            output = data.get("output")
            if isinstance(output, dict):
                job.images.extend(_images(output))
        elif kind == "status" and not job.started:
            # The queue changed (a cleared queue among other reasons): is ours still in it?
            # Asked at most once per poll interval: the answer lists every queued graph.
            job.queue_stale = True
            if asyncio.get_running_loop().time() >= job.queue_due:
                await self._recheck_queue(job)
        elif kind == "execution_start":
            job.started, job.queue_stale = True, False
        elif kind == "execution_cached":
            log.debug("comfyui nodes cached", prompt_id=job.prompt_id, nodes=data.get("nodes"))
        elif kind == "execution_error":
            raise Permanent(_execution_error(data), code="comfyui_execution_error")
        elif kind == "execution_interrupted":
            raise RetryLater(_interrupted(data), code="comfyui_interrupted")
        elif kind == "execution_success":
            # Without images yet, wait for the done signal: history is written before it.
            return bool(job.images)
        elif kind == "executing":
            return data.get("node") is None and data.get("prompt_id") == job.prompt_id
        return False

    async def _recheck_queue(self, job: _Job) -> None:
        """Raise :class:`_Forgotten` if the prompt is neither queued nor in history.

        A prompt that ended meanwhile still sends its frames: they are read as usual.
        """
        job.queue_stale = False
        job.queue_due = asyncio.get_running_loop().time() + self.poll_interval
        if not await self._queued(job) and await self._history_entry(job) is None:
            raise _Forgotten(job.prompt_id)

    async def _poll(self, job: _Job) -> None:
        while True:
            if await self._check(job):
                return
            await asyncio.sleep(self.poll_interval)

    async def _check(self, job: _Job) -> bool:
        """True once the prompt has ended; raises :class:`_Forgotten` when it is lost."""
        return await self._check_history(job) or await self._check_queue(job)

    async def _check_queue(self, job: _Job) -> bool:
        """False while the prompt is queued or running; True if it ended meanwhile;
        :class:`_Forgotten` when the server holds it nowhere."""
        if await self._queued(job):
            return False
        # ComfyUI moves a finished prompt from the queue to history in one step, so history
        # asked after the queue holds every prompt that ended.
        if await self._check_history(job):
            return True
        raise _Forgotten(job.prompt_id)

    async def _queued(self, job: _Job) -> bool:
        """Whether ``GET /queue`` lists the prompt as running or pending."""
        response = await self._request(job, "GET", "/queue")
        if response.status_code != 200:
            raise Permanent(
                f"ComfyUI answered {response.status_code} to GET /queue: {_snippet(response)}"
            )
        body = _json_object(response, "GET /queue")
        try:
            self.pool.observe(job.server, _queue_size(body))
        except ValueError as exc:
            raise Permanent(f"ComfyUI answered GET /queue {exc}") from None
        for name in ("queue_running", "queue_pending"):
            for entry in body[name]:
                # Each entry is [number, prompt_id, prompt, extra_data, outputs_to_execute].
                if isinstance(entry, list) and len(entry) > 1 and entry[1] == job.prompt_id:
                    return True
        return False

    async def _history_entry(self, job: _Job) -> dict[str, Any] | None:
        path = f"/history/{quote(job.prompt_id, safe='')}"
        response = await self._request(job, "GET", path)
        if response.status_code != 200:
            raise Permanent(
                f"ComfyUI answered {response.status_code} to GET {path}: {_snippet(response)}"
            )
        entry = _json_object(response, f"GET {path}").get(job.prompt_id)
        return entry if isinstance(entry, dict) else None

    async def _check_history(self, job: _Job) -> bool:
        """True once history holds the prompt (its images then in ``job.images``)."""
        entry = await self._history_entry(job)
        if entry is None:
            return False
        status = entry.get("status")
        if isinstance(status, dict) and status.get("status_str") == "error":
            raise _history_failure(job.prompt_id, status.get("messages"))
        outputs = entry.get("outputs")
        if isinstance(outputs, dict):
            images = [
                image
                for output in outputs.values()
                if isinstance(output, dict)
                for image in _images(output)
            ]
            if images:
                job.images = images
        return True

    async def _download(self, job: _Job, image: dict[str, Any]) -> bytes:
        params = {
            "filename": image["filename"],
            "subfolder": str(image.get("subfolder") or ""),
            "type": str(image.get("type") or "output"),
        }
        response = await self._request(job, "GET", "/view", params=params)
        if response.status_code == 404:
            raise Permanent(
                f"ComfyUI has no {params['type']} file {params['filename']!r} "
                f"in {params['subfolder']!r}",
                code="comfyui_missing_output",
            )
        if response.status_code >= 400:
            raise Permanent(
                f"ComfyUI refused /view for {params['filename']!r} "
                f"in {params['subfolder']!r}: {response.status_code}",
                code="comfyui_missing_output",
            )
        return response.content

    async def _request(
        self, job: _Job, method: str, path: str, *, attempts: int | None = None, **kwargs: Any
    ) -> httpx.Response:
        """One HTTP call to the job's server, retried with backoff on connection errors,
        429 and 5xx (``attempts`` times, by default ``retry_attempts``)."""
        attempts = attempts or self.retry_attempts
        retrying = AsyncRetrying(
            stop=stop_after_attempt(attempts),
            wait=wait_exponential(multiplier=self.retry_wait, max=30)
            + wait_random(0, self.retry_wait),
            retry=retry_if_exception_type((httpx.TransportError, _ServerBusy)),
            reraise=True,
        )
        try:
            return await retrying(self._attempt, f"{job.server}{path}", method, **kwargs)
        except (httpx.TransportError, _ServerBusy) as exc:
            raise ServerDown(
                f"ComfyUI at {job.label} unavailable for {method} {path} "
                f"after {attempts} attempt{'s' * (attempts > 1)}: {exc!r}",
                code="comfyui_unavailable",
            ) from exc

    async def _attempt(self, url: str, method: str, **kwargs: Any) -> httpx.Response:
        response = await self._http.request(method, url, **kwargs)
        if response.status_code >= 500 or response.status_code == 429:
            raise _ServerBusy(f"{response.status_code}: {_snippet(response)}")
        return response

    async def _abandon(self, job: _Job) -> None:
        """Best effort: take the prompt off the queue, or stop it if it is running."""
        if not job.prompt_id:
            return
        try:
            async with asyncio.timeout(ABANDON_TIMEOUT):
                await self._http.post(f"{job.server}/queue", json={"delete": [job.prompt_id]})
                await self._http.post(f"{job.server}/interrupt", json={"prompt_id": job.prompt_id})
        except (httpx.HTTPError, TimeoutError) as exc:
            log.warning("comfyui interrupt failed", prompt_id=job.prompt_id, error=repr(exc))


def _images(output: dict[str, Any]) -> list[dict[str, Any]]:
    images = output.get("images")
    if not isinstance(images, list):
        return []
    return [
        image
        for image in images
        if isinstance(image, dict) and isinstance(image.get("filename"), str)
    ]


def _queue_size(body: dict[str, Any]) -> int:
    """Prompts running and waiting in a ``GET /queue`` answer."""
    size = 0
    for name in ("queue_running", "queue_pending"):
        entries = body.get(name)
        if not isinstance(entries, list):
            raise ValueError(f"without a {name} list")
        size += len(entries)
    return size


def _first_image(job: _Job) -> dict[str, Any]:
    # Saved outputs first; preview nodes report "temp" files.
    for image in job.images:
        if image.get("type", "output") == "output":
            return image
    if job.images:
        return job.images[0]
    raise Permanent(
        f"ComfyUI prompt {job.prompt_id} finished without an output image", code="comfyui_no_image"
    )


def _as_png(data: bytes, size: int) -> bytes:
    """``data`` as a ``size``×``size`` PNG; other formats and sizes are converted."""
    try:
        with Image.open(io.BytesIO(data)) as opened:
            opened.load()
            if opened.format == "PNG" and opened.size == (size, size):
                return data
            image: Image.Image = opened
            if image.mode not in ("RGB", "RGBA"):
                has_alpha = "A" in image.getbands() or "transparency" in image.info
                image = image.convert("RGBA" if has_alpha else "RGB")
            if image.width != image.height:
                # Pad with the background colour rather than crop into the object.
                corner = image.getpixel((0, 0))
                background = corner if isinstance(corner, tuple) else None
                image = ImageOps.pad(image, (size, size), color=background)
            elif image.size != (size, size):
                image = image.resize((size, size), Image.Resampling.LANCZOS)
            out = io.BytesIO()
            image.save(out, format="PNG")
            return out.getvalue()
    except (OSError, Image.DecompressionBombError) as exc:
        raise Permanent(
            f"ComfyUI sent an unreadable image: {exc}", code="comfyui_bad_image"
        ) from None


def _json_object(response: httpx.Response, what: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise Permanent(f"ComfyUI answered {what} with no JSON object: {_snippet(response)}")
    return body


def _snippet(response: httpx.Response, limit: int = 300) -> str:
    return response.text[:limit] or "(empty body)"


def _rejection(response: httpx.Response, source: str) -> str:
    """A 400 on POST /prompt as one line naming every failing node."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return f"ComfyUI rejected workflow {source}: {_snippet(response)}"
    error = body.get("error")
    if isinstance(error, dict):
        head = f"{error.get('type')}: {error.get('message')}"
    else:
        head, error = str(error), {}
    parts = [f"ComfyUI rejected workflow {source}: {head}"]
    node_errors = body.get("node_errors")
    if isinstance(node_errors, dict):
        for node_id, info in node_errors.items():
            if not isinstance(info, dict):
                continue
            for problem in info.get("errors") or []:
                if not isinstance(problem, dict):
                    continue
                text = (
                    f"node {node_id} ({info.get('class_type')}): "
                    f"{problem.get('type')}: {problem.get('message')}"
                )
                if problem.get("details"):
                    text += f" ({problem['details']})"
                parts.append(text)
    if len(parts) == 1 and error.get("details"):
        parts.append(str(error["details"]))
    return "; ".join(parts)


def _execution_error(data: Mapping[str, Any]) -> str:
    return (
        f"ComfyUI failed prompt {data.get('prompt_id')} at node {data.get('node_id')} "
        f"({data.get('node_type')}): {data.get('exception_type')}: "
        f"{data.get('exception_message')}"
    )


def _interrupted(data: Mapping[str, Any]) -> str:
    return (
        f"ComfyUI prompt {data.get('prompt_id')} was interrupted at node "
        f"{data.get('node_id')} ({data.get('node_type')})"
    )


def _history_failure(prompt_id: str, messages: Any) -> Permanent | RetryLater:
    for message in messages if isinstance(messages, list) else []:
        if not isinstance(message, list | tuple) or len(message) != 2:
            continue
        event, data = message
        if not isinstance(data, dict):
            continue
        if event == "execution_error":
            return Permanent(_execution_error(data), code="comfyui_execution_error")
        if event == "execution_interrupted":
            return RetryLater(_interrupted(data), code="comfyui_interrupted")
    return Permanent(
        f"ComfyUI prompt {prompt_id} ended in error without details",
        code="comfyui_execution_error",
    )
