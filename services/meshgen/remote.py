"""Image-to-3D mesh backends over HTTP: Stable Fast 3D and Hunyuan3D-2.

Both send the object's image to a server, receive a GLB in the model's own frame and
hand it to :func:`normalize_glb`, which turns, scales and places it in the object's frame.
Which way a model faces follows from how it was conditioned:

- SF3D conditions on a camera on +X of its Z-up frame, looking at the origin, and turns
  its mesh −90° about X and then +90° about Y before export; the side the image showed
  ends up facing −Z (``SF3D_FRONT``).
- Hunyuan3D-2's texturing renders the reference view from +Z of the exported frame, so
  its meshes face +Z (``HUNYUAN3D_FRONT``).

Failures become the project's errors at this boundary. Transient ones (connection errors,
5xx, rate limits) are retried here a few times with backoff and then raised as
:class:`RetryLater`; one structured log line is written per failed attempt.

Several servers of one kind form a pool (:mod:`shared.pool`; ``sf3d_urls``,
``hunyuan3d_urls``): each object goes to the server with the fewest requests in flight
from this process. A server that cannot be reached or answers 5xx hands the object to
another server at once (it is retried on the same server only when no other could take
it), and after ``circuit_failures`` such failures in a row it is left out for
``circuit_cooldown_s`` seconds, then tried with one request.

A server takes only so many requests at once (Hunyuan3D-2's ``/generate`` runs on its
event loop, one at a time). Every request holds one of its server's slots while it runs
(:mod:`shared.slots`): bounded in the process, and across replicas too when a
:class:`SlotBoard` is handed in. Time spent waiting for a slot is not counted against a
job's own ``timeout``, and a request the client gave up on keeps its slot until the
server is done with it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import struct
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal, TypeVar

import httpx
from tenacity import AsyncRetrying, RetryCallState, stop_after_attempt

from services.meshgen.normalize import normalize_glb
from shared.config import MeshSettings
from shared.errors import ConfigError, HolodeckError, Permanent, RetryLater, retry_after_seconds
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

SF3D_PATH = "/v2beta/3d/stable-fast-3d"
SF3D_FRONT = "-z"
HUNYUAN3D_FRONT = "+z"

Sleep = Callable[[float], Awaitable[None]]
T = TypeVar("T")

log = get_logger(__name__)

# Seconds allowed to open a connection, whatever the (long) generation timeout is.
_CONNECT_TIMEOUT = 10.0
# Media types a GLB arrives under; anything else is not taken for a model.
_GLB_TYPES = ("model/gltf-binary", "application/octet-stream")


class _Failed(Exception):
    """One failed attempt. ``outcome`` is raised once the attempt is not repeated;
    ``limit`` caps the attempts for this kind of failure below the client's own."""

    def __init__(
        self,
        outcome: HolodeckError,
        *,
        retry: bool = True,
        retry_after: float | None = None,
        limit: int | None = None,
        status: int | None = None,
        unanswered: bool = False,
    ):
        super().__init__(outcome.message)
        self.outcome = outcome
        self.retry = retry
        self.retry_after = retry_after
        self.limit = limit
        self.status = status
        # The request reached the server, which may still be working on it.
        self.unanswered = unanswered

    @property
    def unwell(self) -> bool:
        """The server failed, not the request (see :class:`ServerDown`)."""
        return isinstance(self.outcome, ServerDown)


def _mime(image: bytes) -> str:
    if image.startswith(b"\x89PNG"):
        return "image/png"
    if image.startswith(b"\xff\xd8"):
        return "image/jpeg"
    if image[:4] == b"RIFF" and image[8:12] == b"WEBP":
        return "image/webp"
    return "application/octet-stream"


class _RemoteMeshes:
    """What both backends share: the HTTP client, retries, logging and normalisation."""

    backend = "remote"
    title = "remote"
    front_axis = "+z"
    # The work's backend slot is held by the server pool around the remote call only
    # (shared.fairness.backend_turn): normalising the answer is not GPU time.
    takes_turns = True

    def __init__(
        self,
        base_url: str | Sequence[str],
        *,
        timeout: float,
        http: httpx.AsyncClient | None,
        attempts: int,
        backoff: float,
        max_wait: float,
        sleep: Sleep | None,
        concurrency: int,
        board: SlotBoard | None,
        circuit_failures: int,
        circuit_cooldown_s: float,
    ):
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        if concurrency < 0:
            raise ValueError("concurrency must be 0 (no bound) or more")
        self.pool = Pool(
            self.backend,
            [base_url] if isinstance(base_url, str) else list(base_url),
            title=self.title,
            concurrency=concurrency,
            board=board,
            failures=circuit_failures,
            cooldown_s=circuit_cooldown_s,
        )
        self.timeout = timeout
        self.concurrency = concurrency
        self.board = board
        self._owns_http = http is None
        self._http = (
            httpx.AsyncClient(
                timeout=httpx.Timeout(timeout, connect=min(timeout, _CONNECT_TIMEOUT))
            )
            if http is None
            else http
        )
        self._attempts = attempts
        self._backoff = backoff
        self._max_wait = max_wait
        self._sleep = asyncio.sleep if sleep is None else sleep

    async def close(self) -> None:
        """Close the HTTP client if this backend created it."""
        await self.pool.close()
        if self._owns_http:
            await self._http.aclose()

    def _slot_taken(self, obj: PlacedObject, lease: Lease) -> None:
        """Log a request that had to wait for a server's slot (the wait is not timed out)."""
        if lease.queued:
            log.info(
                "mesh_slot_taken",
                object_id=obj.id,
                backend=self.backend,
                server=lease.label,
                waited_s=round(lease.waited, 3),
                limit=self.concurrency,
                across_replicas=self.board is not None,
            )

    async def _normalized(self, glb: bytes, obj: PlacedObject) -> bytes:
        return await asyncio.to_thread(normalize_glb, glb, obj.size, front_axis=self.front_axis)

    def _wait(self, state: RetryCallState) -> float:
        failure = state.outcome.exception() if state.outcome else None
        if isinstance(failure, _Failed) and failure.retry_after is not None:
            return min(failure.retry_after, self._max_wait)
        return float(min(self._backoff * 2 ** (state.attempt_number - 1), self._max_wait))

    async def _retrying(
        self, obj: PlacedObject, step: str, attempt: Callable[[], Awaitable[T]], lease: Lease
    ) -> T:
        """``attempt`` until it succeeds, fails for good or runs out of attempts. A failure
        of the server is tried again here only when no other server could take over."""

        def should_retry(state: RetryCallState) -> bool:
            failure = state.outcome.exception() if state.outcome else None
            if not isinstance(failure, _Failed) or not failure.retry:
                return False
            if failure.unwell and not lease.alone:
                return False
            return failure.limit is None or state.attempt_number < failure.limit

        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._attempts),
            wait=self._wait,
            retry=should_retry,
            sleep=self._sleep,
            reraise=True,
        )
        try:
            async for state in retrying:
                with state:
                    try:
                        return await attempt()
                    except _Failed as failure:
                        number = state.retry_state.attempt_number
                        self._log_failure(obj, step, number, failure, lease.url)
                        raise
        except _Failed as failure:
            raise failure.outcome from None
        raise AssertionError("tenacity ended without an outcome")  # pragma: no cover

    def _log_failure(
        self, obj: PlacedObject, step: str, attempt: int, failure: _Failed, server: str
    ) -> None:
        log.warning(
            "mesh_attempt_failed",
            object_id=obj.id,
            backend=self.backend,
            server=server_label(server),
            step=step,
            attempt=attempt,
            status=failure.status,
            code=failure.outcome.code,
            retry_after=failure.retry_after,
            error=failure.outcome.message,
        )

    def _transport_failure(self, exc: httpx.TransportError, server: str) -> _Failed:
        """A request that got no answer. A generation that ran into the read timeout is
        not repeated, here or on another server: it already took the whole budget, so the
        bus retries it later."""
        if isinstance(exc, httpx.TimeoutException) and not isinstance(
            exc, httpx.ConnectTimeout | httpx.PoolTimeout
        ):
            return _Failed(
                ServerDown(
                    f"{self.title} at {server_label(server)} gave no answer "
                    f"within {self.timeout:g} s",
                    code=f"{self.backend}_timeout",
                    elsewhere=False,
                ),
                retry=False,
                unanswered=True,
            )
        return _Failed(
            ServerDown(
                f"{self.title} at {server_label(server)} unreachable: {type(exc).__name__}: {exc}",
                code=f"{self.backend}_unreachable",
            ),
            unanswered=isinstance(exc, httpx.ReadError | httpx.RemoteProtocolError),
        )


# --------------------------------------------------------------------------------------
# Stable Fast 3D.


class SF3DMeshes(_RemoteMeshes):
    """Stable Fast 3D over Stability's protocol (hosted, or a self-hosted wrapper).

    ``POST {base}/v2beta/3d/stable-fast-3d`` as multipart/form-data; the answer is the
    GLB. Errors are JSON ``{"id", "name", "errors"}``.
    """

    backend = "sf3d"
    title = "SF3D"
    front_axis = SF3D_FRONT

    def __init__(
        self,
        base_url: str | Sequence[str],
        *,
        api_key: str | None = None,
        texture_resolution: int = 1024,
        foreground_ratio: float = 0.85,
        remesh: Literal["none", "triangle", "quad"] = "none",
        vertex_count: int = -1,
        timeout: float = 600.0,
        http: httpx.AsyncClient | None = None,
        attempts: int = 3,
        backoff: float = 1.0,
        max_wait: float = 30.0,
        sleep: Sleep | None = None,
        concurrency: int = 0,
        board: SlotBoard | None = None,
        circuit_failures: int = DEFAULT_FAILURES,
        circuit_cooldown_s: float = DEFAULT_COOLDOWN_S,
    ):
        super().__init__(
            base_url,
            timeout=timeout,
            http=http,
            attempts=attempts,
            backoff=backoff,
            max_wait=max_wait,
            sleep=sleep,
            concurrency=concurrency,
            board=board,
            circuit_failures=circuit_failures,
            circuit_cooldown_s=circuit_cooldown_s,
        )
        self.api_key = api_key
        self.texture_resolution = texture_resolution
        self.foreground_ratio = foreground_ratio
        self.remesh = remesh
        self.vertex_count = vertex_count
        self.identity = f"sf3d/{texture_resolution}/{remesh}/{vertex_count}/{foreground_ratio:g}"

    @classmethod
    def from_settings(cls, settings: MeshSettings, board: SlotBoard | None = None) -> SF3DMeshes:
        servers = settings.sf3d_servers
        if not servers:
            raise ConfigError("sf3d_url (SF3D_API_URL) is required for the sf3d backend")
        return cls(
            servers,
            api_key=settings.sf3d_api_key,
            texture_resolution=settings.texture_resolution,
            foreground_ratio=settings.foreground_ratio,
            remesh=settings.remesh,
            vertex_count=settings.vertex_count,
            timeout=settings.timeout,
            concurrency=settings.sf3d_concurrency,
            board=board,
            circuit_failures=settings.circuit_failures,
            circuit_cooldown_s=settings.circuit_cooldown_s,
        )

    async def generate(self, obj: PlacedObject, image_png: bytes) -> bytes:
        """The object's mesh made from its image by a server of the pool, in the
        object's frame."""
        glb = await self.pool.run(lambda lease: self._generate_on(lease, obj, image_png))
        return await self._normalized(glb, obj)

    async def _generate_on(self, lease: Lease, obj: PlacedObject, image: bytes) -> bytes:
        self._slot_taken(obj, lease)
        return await self._retrying(obj, "generate", lambda: self._request(lease.url, image), lease)

    async def _request(self, server: str, image: bytes) -> bytes:
        # Without an explicit Accept the hosted API may answer JSON instead of the file.
        headers = {"Accept": "model/gltf-binary"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        form = {
            "texture_resolution": str(self.texture_resolution),
            "foreground_ratio": f"{self.foreground_ratio:g}",
            "remesh": self.remesh,
        }
        if self.vertex_count != -1:  # not a documented field: sent only when configured
            form["vertex_count"] = str(self.vertex_count)
        try:
            response = await self._http.post(
                server + SF3D_PATH,
                files={"image": ("image", image, _mime(image))},
                data=form,
                headers=headers,
            )
        except httpx.TransportError as exc:
            raise self._transport_failure(exc, server) from None
        if response.status_code == 200:
            return _sf3d_model(response)
        raise self._failure(response, server)

    def _failure(self, response: httpx.Response, server: str) -> _Failed:
        status = response.status_code
        server = server_label(server)
        name, errors, request_id = _sf3d_error(response)
        detail = f"{status} {name or 'error'}: {'; '.join(errors) or 'no detail'}"
        if request_id:
            detail += f" (request {request_id})"
        if status == 429 or status >= 500:
            delay = retry_after_seconds(response.headers.get("retry-after"))
            outcome: RetryLater
            if status == 429:  # the server is well, only busy: no mark against it
                outcome = RetryLater(
                    f"SF3D at {server} answered {detail}", code="sf3d_rate_limited", delay=delay
                )
            else:
                outcome = ServerDown(
                    f"SF3D at {server} answered {detail}", code="sf3d_unavailable", delay=delay
                )
            # A wait longer than we hold a message for goes back to the bus instead.
            retry = delay is None or delay <= self._max_wait
            return _Failed(outcome, retry=retry, retry_after=delay, status=status)
        if status == 401:
            code = "sf3d_unauthorized"
        elif status == 403:
            code = "content_moderation" if name == "content_moderation" else "sf3d_forbidden"
        else:
            code = {
                400: "sf3d_bad_request",
                413: "sf3d_payload_too_large",
                422: "sf3d_unprocessable",
            }.get(status, "sf3d_unexpected_status")
        return _Failed(Permanent(f"SF3D refused: {detail}", code=code), retry=False, status=status)


def _sf3d_model(response: httpx.Response) -> bytes:
    """The GLB of a 200 answer: the body itself, or the base64 ``model`` of a JSON answer.
    A content-filtered answer is refused, naming the reason."""
    media_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type == "application/json":
        try:
            body: Any = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise _Failed(
                Permanent(
                    f"SF3D answered 200 with malformed JSON: {response.text[:200]!r}",
                    code="sf3d_unexpected_answer",
                ),
                retry=False,
                status=200,
            )
        _refuse_filtered(str(body.get("finish_reason") or ""))
        try:
            return base64.b64decode(str(body.get("model") or ""), validate=True)
        except binascii.Error:
            raise _Failed(
                Permanent("SF3D answered a malformed base64 model", code="mesh_invalid"),
                retry=False,
                status=200,
            ) from None
    if media_type not in _GLB_TYPES:
        raise _Failed(
            Permanent(
                f"SF3D answered 200 with {media_type or 'no content type'}, not a GLB: "
                f"{response.text[:200]!r}",
                code="sf3d_unexpected_answer",
            ),
            retry=False,
            status=200,
        )
    _refuse_filtered(response.headers.get("finish-reason", ""))
    return response.content


def _refuse_filtered(finish_reason: str) -> None:
    if finish_reason and finish_reason.upper() != "SUCCESS":
        raise _Failed(
            Permanent(
                f"SF3D withheld the model: finish_reason {finish_reason}",
                code="content_filtered" if finish_reason == "CONTENT_FILTERED" else "sf3d_refused",
            ),
            retry=False,
            status=200,
        )


def _sf3d_error(response: httpx.Response) -> tuple[str, list[str], str]:
    """``name``, ``errors`` and ``id`` of an SF3D error body, or the raw text."""
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        text = response.text.strip()[:300]
        return "", [text] if text else [], ""
    errors = body.get("errors")
    listed = [str(e) for e in errors] if isinstance(errors, list) else []
    return str(body.get("name") or ""), listed, str(body.get("id") or "")


# --------------------------------------------------------------------------------------
# Hunyuan3D-2.

# Octree resolution and face budget per quality level; the step count stays at the
# server's default, which suits its default (turbo) model.
_HUNYUAN3D_QUALITY: dict[str, tuple[int, int]] = {
    "draft": (128, 10000),
    "standard": (256, 40000),
    "high": (384, 80000),
}

# The server's answer to every failure, whatever went wrong.
_HUNYUAN3D_404_ATTEMPTS = 2
# A uid the server never issued. ``/status`` answers it ``processing`` as soon as the
# server's event loop is free again, which is how a busy server is told from an idle one.
_IDLE_PROBE = "holodeck-idle-probe"
# Uids of jobs given up on, kept so that the next attempt polls them instead of
# starting the same work again.
_REMEMBERED_JOBS = 256
# Said with every failure of a textured request: the usual cause on a fresh server.
_TEXTURE_HINT = (
    "; the request asked for a texture, and a server started without --enable_tex fails "
    "every textured request this way (start it with --enable_tex, or set "
    "three_d_generation.hunyuan3d_texture to false)"
)


class Hunyuan3DMeshes(_RemoteMeshes):
    """Tencent Hunyuan3D-2's ``api_server``.

    ``sync`` posts to ``/generate`` and receives the GLB. ``async`` posts to ``/send`` and
    polls ``/status/{uid}`` until the model is ``completed``. ``auto`` (the default) takes
    ``sync`` for a lone object and ``async`` when other objects queue for the server:
    ``/generate`` blocks the server's event loop for the whole job (even ``/status``
    stalls), while ``/send`` answers at once and leaves a job that outlives our deadline
    behind a uid that the next attempt polls again instead of running it twice.

    The server runs ``/generate`` one at a time and starts a GPU thread per ``/send``
    however many arrive, so requests hold one of the server's slots (``concurrency``,
    1 by default) from the request until the model is in; the wait for a slot is not
    part of ``timeout``. A ``/generate`` we gave up on keeps running on the server: after
    a timeout its slot is freed only when the server answers again; after the request was
    cancelled (the stage's deadline, a cancelled scene) or lost its connection, the next
    request to that server first waits, in its slot and outside its own ``timeout``,
    until the server answers again. An async job whose wait was cancelled is polled again
    by the next attempt, as after a timeout.

    The server answers every failure with HTTP 404 ``{"text", "error_code": 1}`` and
    the same fixed text, whether the GPU ran out of memory under load (which passes),
    the image cannot be used, or a texture was asked of a server started without
    ``--enable_tex`` (which do not; the error then says so). A 404 is therefore tried
    once more, which absorbs a passing GPU failure, and a second one is taken as
    permanent rather than spending more GPU minutes on an input that keeps failing. A 404
    without ``error_code`` is a wrong URL and is not retried.

    ``/status`` has no failure state: a job whose worker thread died stays
    ``processing`` forever, so polling stops at ``timeout`` with ``hunyuan3d_timeout``.
    The server also reports ``completed`` as soon as the file exists, possibly while it is
    still being written: a GLB shorter than its header says is polled again.
    """

    backend = "hunyuan3d"
    title = "Hunyuan3D"
    front_axis = HUNYUAN3D_FRONT

    def __init__(
        self,
        base_url: str | Sequence[str],
        *,
        timeout: float = 600.0,
        seed: int = 1234,
        octree_resolution: int = 256,
        num_inference_steps: int = 5,
        guidance_scale: float = 5.0,
        texture: bool = False,
        face_count: int = 40000,
        mode: Literal["auto", "sync", "async"] = "auto",
        poll_interval: float = 1.0,
        concurrency: int = 1,
        board: SlotBoard | None = None,
        http: httpx.AsyncClient | None = None,
        attempts: int = 3,
        backoff: float = 1.0,
        max_wait: float = 30.0,
        sleep: Sleep | None = None,
        circuit_failures: int = DEFAULT_FAILURES,
        circuit_cooldown_s: float = DEFAULT_COOLDOWN_S,
    ):
        if mode not in ("auto", "sync", "async"):
            raise ValueError(f"mode must be 'auto', 'sync' or 'async', got {mode!r}")
        super().__init__(
            base_url,
            timeout=timeout,
            http=http,
            attempts=attempts,
            backoff=backoff,
            max_wait=max_wait,
            sleep=sleep,
            concurrency=concurrency,
            board=board,
            circuit_failures=circuit_failures,
            circuit_cooldown_s=circuit_cooldown_s,
        )
        self.seed = seed
        self.octree_resolution = octree_resolution
        self.num_inference_steps = num_inference_steps
        self.guidance_scale = guidance_scale
        self.texture = texture
        self.face_count = face_count
        self.mode = mode
        self.poll_interval = poll_interval
        self.identity = (
            f"hunyuan3d/{octree_resolution}/{num_inference_steps}/{guidance_scale:g}/"
            f"{'textured' if texture else 'untextured'}/{face_count}/{seed}"
        )
        # Request digest -> (server, uid) of an async job this process gave up waiting for.
        self._unfinished: OrderedDict[str, tuple[str, str]] = OrderedDict()
        # Servers that may still run a /generate this process left without its answer.
        self._maybe_busy: set[str] = set()

    @classmethod
    def from_settings(
        cls, settings: MeshSettings, board: SlotBoard | None = None
    ) -> Hunyuan3DMeshes:
        servers = settings.hunyuan3d_servers
        if not servers:
            raise ConfigError("hunyuan3d_url (HUNYUAN3D_API_URL) is required for hunyuan3d")
        octree_resolution, face_count = _HUNYUAN3D_QUALITY[settings.quality]
        return cls(
            servers,
            timeout=settings.timeout,
            octree_resolution=octree_resolution,
            face_count=face_count,
            texture=settings.hunyuan3d_texture,
            mode=settings.hunyuan3d_mode,
            poll_interval=settings.hunyuan3d_poll_interval,
            concurrency=settings.hunyuan3d_concurrency,
            board=board,
            circuit_failures=settings.circuit_failures,
            circuit_cooldown_s=settings.circuit_cooldown_s,
        )

    def _payload(self, image: bytes) -> dict[str, Any]:
        return {
            "image": base64.b64encode(image).decode("ascii"),
            "seed": self.seed,
            "octree_resolution": self.octree_resolution,
            "num_inference_steps": self.num_inference_steps,
            "guidance_scale": self.guidance_scale,
            "texture": self.texture,
            "face_count": self.face_count,
            "type": "glb",
        }

    async def generate(self, obj: PlacedObject, image_png: bytes) -> bytes:
        """The object's mesh made from its image by a server of the pool, in the
        object's frame. An async job given up on earlier is polled again on its server."""
        payload = self._payload(image_png)
        unfinished = self._unfinished.get(_digest(payload))
        glb = await self.pool.run(
            lambda lease: self._generate_on(lease, obj, payload),
            prefer=unfinished[0] if unfinished else None,
        )
        return await self._normalized(glb, obj)

    async def _generate_on(self, lease: Lease, obj: PlacedObject, payload: dict[str, Any]) -> bytes:
        self._slot_taken(obj, lease)
        await self._settled(lease.url, obj)
        mode = self.mode
        if mode == "auto":
            mode = "async" if lease.queued else "sync"
        if mode == "sync":
            return await self._generate_sync(lease, obj, payload)
        return await self._generate_async(lease, obj, payload)

    async def _generate_sync(
        self, lease: Lease, obj: PlacedObject, payload: dict[str, Any]
    ) -> bytes:
        async def attempt() -> bytes:
            await self._settled(lease.url, obj)
            return await self._generate_request(lease.url, payload)

        try:
            return await self._retrying(obj, "generate", attempt, lease)
        except RetryLater:
            await self._settled(lease.url, obj)  # the slot is kept while the job runs on
            raise

    async def _generate_request(self, server: str, payload: dict[str, Any]) -> bytes:
        """``POST /generate``. Left without an answer (cancelled, timed out, or the
        connection lost once the request was sent), the job may still be running on the
        server's event loop: the server is marked so that the next request waits for it."""
        try:
            return await self._post(server, "/generate", payload)
        except _Failed as failure:
            if failure.unanswered:
                self._maybe_busy.add(server)
            raise
        except asyncio.CancelledError:
            self._maybe_busy.add(server)
            raise

    async def _settled(self, server: str, obj: PlacedObject) -> None:
        """Before a request: wait until the server is done with a ``/generate`` this
        process left without its answer (no part of the request's ``timeout``)."""
        if server in self._maybe_busy:
            self._maybe_busy.discard(server)
            await self._until_idle(server, obj)

    async def _until_idle(self, server: str, obj: PlacedObject) -> None:
        """Wait (up to ``timeout``) until the server has finished the job we gave up on:
        its event loop answers nothing before, and a request sent now would queue behind
        it with its own deadline running."""
        started = time.monotonic()
        try:
            await self._http.get(f"{server}/status/{_IDLE_PROBE}", timeout=self.timeout)
        except httpx.TransportError as exc:
            self._maybe_busy.add(server)  # the next request waits once more
            log.warning(
                "mesh_server_still_busy",
                object_id=obj.id,
                backend=self.backend,
                server=server_label(server),
                waited_s=round(time.monotonic() - started, 3),
                error=f"{type(exc).__name__}: {exc}",
            )
            return
        log.info(
            "mesh_server_idle",
            object_id=obj.id,
            backend=self.backend,
            server=server_label(server),
            waited_s=round(time.monotonic() - started, 3),
        )

    async def _post(self, server: str, path: str, payload: dict[str, Any]) -> bytes:
        try:
            response = await self._http.post(server + path, json=payload)
        except httpx.TransportError as exc:
            raise self._transport_failure(exc, server) from None
        if response.status_code == 200:
            return response.content
        raise self._failure(response, server, path)

    def _failure(self, response: httpx.Response, server: str, path: str) -> _Failed:
        status = response.status_code
        server = server_label(server)
        try:
            body: Any = response.json()
        except ValueError:
            body = None
        if status == 404 and isinstance(body, dict) and "error_code" in body:
            text = str(body.get("text") or "no text")
            message = f"Hunyuan3D failed: {text}" + (_TEXTURE_HINT if self.texture else "")
            failed = Permanent(message, code="hunyuan3d_failed")
            return _Failed(failed, limit=_HUNYUAN3D_404_ATTEMPTS, status=status)
        if status >= 500:
            delay = retry_after_seconds(response.headers.get("retry-after"))
            unavailable = ServerDown(
                f"Hunyuan3D at {server} answered {status} on {path}: {response.text[:200]}",
                code="hunyuan3d_unavailable",
                delay=delay,
            )
            retry = delay is None or delay <= self._max_wait
            return _Failed(unavailable, retry=retry, retry_after=delay, status=status)
        code = "hunyuan3d_not_found" if status == 404 else "hunyuan3d_unexpected_status"
        refused = Permanent(
            f"Hunyuan3D answered {status} on {server}{path}: {response.text[:200]}",
            code=code,
        )
        return _Failed(refused, retry=False, status=status)

    async def _generate_async(
        self, lease: Lease, obj: PlacedObject, payload: dict[str, Any]
    ) -> bytes:
        server = lease.url
        deadline = time.monotonic() + self.timeout
        job = _digest(payload)
        remembered = self._unfinished.pop(job, None)
        # A job lives on the server that took it: elsewhere it is sent anew.
        uid = remembered[1] if remembered is not None and remembered[0] == server else None
        resumed = uid is not None
        if uid is not None:
            log.info(
                "mesh_job_resumed",
                object_id=obj.id,
                backend=self.backend,
                server=lease.label,
                uid=uid,
            )
        else:
            answer = await self._retrying(
                obj, "send", lambda: self._post(server, "/send", payload), lease
            )
            uid = _json_field(answer, "uid")
            if not uid:
                raise Permanent(
                    f"Hunyuan3D /send answered without a uid: {answer[:200]!r}",
                    code="hunyuan3d_unexpected_answer",
                )
        try:
            return await self._until_completed(lease, obj, uid, deadline, resumed)
        except (RetryLater, asyncio.CancelledError):
            if not resumed:
                # The server goes on with it: the next attempt polls it once more.
                self._unfinished[job] = (server, uid)
                while len(self._unfinished) > _REMEMBERED_JOBS:
                    self._unfinished.popitem(last=False)
            raise

    async def _until_completed(
        self, lease: Lease, obj: PlacedObject, uid: str, deadline: float, resumed: bool
    ) -> bytes:
        """Poll ``/status/{uid}`` until the model is in, or the deadline."""
        server = lease.url
        polls = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                failure = _Failed(
                    ServerDown(
                        f"Hunyuan3D job {uid} at {lease.label} still processing after "
                        f"{self.timeout:g} s ({polls} polls); the server has no failure state"
                        + (", and this was its second wait" if resumed else ""),
                        code="hunyuan3d_timeout",
                        elsewhere=False,
                    ),
                    retry=False,
                )
                self._log_failure(obj, "status", polls, failure, server)
                raise failure.outcome
            polls += 1
            glb = await self._poll(server, obj, uid, polls, remaining)
            if glb is not None:
                return glb
            await asyncio.sleep(min(self.poll_interval, max(deadline - time.monotonic(), 0.0)))

    async def _poll(
        self, server: str, obj: PlacedObject, uid: str, poll: int, remaining: float
    ) -> bytes | None:
        """The finished GLB, or None while the job is processing (or did not answer)."""
        try:
            response = await self._http.get(
                f"{server}/status/{uid}", timeout=min(remaining, self.timeout)
            )
        except httpx.TransportError as exc:
            # One lost poll is no verdict on the job: the deadline decides.
            unanswered = RetryLater(
                f"Hunyuan3D /status unanswered: {type(exc).__name__}: {exc}",
                code="hunyuan3d_unreachable",
            )
            self._log_failure(obj, "status", poll, _Failed(unanswered), server)
            return None
        if response.status_code != 200:
            failure = self._failure(response, server, f"/status/{uid}")
            self._log_failure(obj, "status", poll, failure, server)
            if not failure.retry:
                raise failure.outcome
            return None
        try:
            body: Any = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or body.get("status") not in ("processing", "completed"):
            raise Permanent(
                f"Hunyuan3D /status answered {response.text[:200]!r}",
                code="hunyuan3d_unexpected_answer",
            )
        if body["status"] == "processing":
            return None
        try:
            glb = base64.b64decode(str(body.get("model_base64") or ""), validate=True)
        except binascii.Error:
            raise Permanent(
                f"Hunyuan3D job {uid} completed with a malformed model_base64",
                code="mesh_invalid",
            ) from None
        if not _whole_glb(glb):
            log.info("mesh_partial_file", object_id=obj.id, backend=self.backend, uid=uid)
            return None
        return glb


def _digest(payload: dict[str, Any]) -> str:
    """What identifies one request's work: its canonical JSON, hashed."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _json_field(answer: bytes, name: str) -> str | None:
    try:
        body = json.loads(answer)
    except ValueError:
        return None
    value = body.get(name) if isinstance(body, dict) else None
    return str(value) if value else None


def _whole_glb(data: bytes) -> bool:
    """False for a GLB cut short: fewer bytes than its header declares (or no header)."""
    if len(data) < 12:
        return False
    if data[:4] != b"glTF":
        return True  # not a GLB at all: normalisation says so
    (declared,) = struct.unpack_from("<I", data, 8)
    return declared <= len(data)
