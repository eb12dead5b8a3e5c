"""The embedded stack: the workspace's nats-server (unless NATS_URL is set) and services
in-process.

Also the client side of a build: publish a request and follow its scene to the end.

The services (:mod:`services.runtime`) and the HTTP stack are imported where they are
started: a command that only talks to NATS does not load the pipeline's backends.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shared.bus import EmbeddedNats, store_held, workspace_server
from shared.contract import (
    ImagesReady,
    LayoutReady,
    MeshReady,
    SceneCancelled,
    SceneFailed,
    SceneOptions,
    SceneReady,
    SceneReplayed,
    SceneRequested,
    Subject,
    encode,
    msg_id,
    parse_event,
    scene_subjects,
    subject,
)
from shared.errors import HolodeckError, Permanent, RetryLater

if TYPE_CHECKING:
    from fastapi import FastAPI
    from nats.aio.client import Client as NATS

    from services.runtime import ServiceHost
    from shared.artifacts import ArtifactStore
    from shared.config import Settings

# Stopping the services (finishing or nakking in-flight work) is bounded so that a
# broken connection cannot hold a command open after its work is done or abandoned.
STOP_TIMEOUT_S = 15.0
# How often a command using another process's embedded server checks that it still runs.
OWNER_POLL_S = 1.0


@dataclass
class Stack:
    url: str
    host: ServiceHost
    server: EmbeddedNats | None

    @property
    def nc(self) -> NATS:
        return self.host.nc

    @property
    def store(self) -> ArtifactStore:
        return self.host.store


@contextlib.asynccontextmanager
async def nats_endpoint(
    settings: Settings, url: str | None = None, *, timeout: float = 15.0
) -> AsyncIterator[tuple[str, EmbeddedNats | None]]:
    """The NATS URL to use: the given or configured one, else the workspace's embedded
    server: the one already running on its store (used as a client and left running), or
    a new one that this context owns and stops at the end."""
    url = url or settings.nats.url
    if url:
        yield url, None
        return
    store = settings.storage.root / "nats"
    url, server = await workspace_server(
        store, sync_always=settings.nats.sync_always, timeout=timeout
    )
    if server is not None:
        try:
            yield url, server
        finally:
            # The server flushes the store after we are gone, holding its lock till done.
            await server.stop(wait=False)
        return
    async with _while_held(store, url):
        yield url, None


@contextlib.asynccontextmanager
async def _while_held(store: Path, url: str) -> AsyncIterator[None]:
    """Run the body while another process's server owns ``store``; once that server is
    gone (its owner stopped or was killed), end the body with a clear error instead of
    leaving the client reconnecting to nothing."""
    task = asyncio.current_task()
    assert task is not None
    gone = False

    async def watch() -> None:
        nonlocal gone
        # Another process's lock offers nothing to await: look at it now and then.
        while store_held(store):  # noqa: ASYNC110
            await asyncio.sleep(OWNER_POLL_S)
        gone = True
        task.cancel()

    watcher = asyncio.create_task(watch())
    try:
        yield
    except asyncio.CancelledError:
        if not gone:
            raise
        task.uncancel()
        raise RetryLater(
            f"the workspace's embedded server at {url} stopped (its owner ended)",
            code="nats_owner_gone",
        ) from None
    finally:
        watcher.cancel()


@contextlib.asynccontextmanager
async def running_stack(
    settings: Settings, services: tuple[str, ...], url: str | None = None
) -> AsyncIterator[Stack]:
    """NATS (see :func:`nats_endpoint`) with ``services`` running in this process."""
    from services.runtime import ServiceHost

    async with nats_endpoint(settings, url) as (url, server):
        host = ServiceHost(settings, url, services, started_here=server is not None)
        try:
            await host.start()
            yield Stack(url, host, server)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(host.stop()), STOP_TIMEOUT_S)


@dataclass
class SceneWatch:
    """Progress of one attempt of a scene as seen on the bus.

    Events of other attempts are ignored; a ``scene.replayed`` of a later attempt moves
    the watch to that attempt, forgetting what it redoes. The watch is done once its
    attempt is ready, failed or cancelled.
    """

    scene_id: str
    attempt: int = 1
    object_count: int = 0
    images: set[str] = field(default_factory=set)
    meshes: set[str] = field(default_factory=set)
    layout: LayoutReady | None = None
    ready: SceneReady | None = None
    failed: SceneFailed | None = None
    cancelled: SceneCancelled | None = None
    started: float = field(default_factory=time.perf_counter)
    marks: dict[str, float] = field(default_factory=dict)
    cached: dict[str, set[str]] = field(
        default_factory=lambda: {"imagegen": set(), "meshgen": set()}
    )

    def apply(self, event: Any) -> None:
        now = time.perf_counter() - self.started
        attempt = getattr(event, "attempt", self.attempt)
        if isinstance(event, SceneReplayed) and attempt > self.attempt and not self.done:
            self._follow(event)
            return
        if attempt != self.attempt:
            return
        if isinstance(event, LayoutReady):
            self.layout = event
            self.object_count = len(event.layout.objects)
            self.marks.setdefault("planner", now)
        elif isinstance(event, ImagesReady):
            self.images.add(event.object_id)
            if event.cached:
                self.cached["imagegen"].add(event.object_id)
            if len(self.images) >= event.object_count:
                self.marks.setdefault("imagegen", now)
        elif isinstance(event, MeshReady):
            self.meshes.add(event.object_id)
            if event.cached:
                self.cached["meshgen"].add(event.object_id)
            if len(self.meshes) >= event.object_count:
                self.marks.setdefault("meshgen", now)
        elif isinstance(event, SceneReady):
            self.ready = event
            self.marks.setdefault("assembly", now)
        elif isinstance(event, SceneFailed):
            self.failed = event
        elif isinstance(event, SceneCancelled):
            self.cancelled = event

    def _follow(self, replayed: SceneReplayed) -> None:
        """Move to the replay's attempt: what it redoes is made again."""
        self.attempt = replayed.attempt
        stages = ("planner", "imagegen", "meshgen", "assembly")
        redo = stages[stages.index(replayed.from_stage) :]
        if "planner" in redo:
            self.layout, self.object_count = None, 0
        if "imagegen" in redo:
            self.images.clear()
            self.cached["imagegen"].clear()
        if "meshgen" in redo:
            self.meshes.clear()
            self.cached["meshgen"].clear()
        for stage in redo:
            self.marks.pop(stage, None)

    @property
    def status(self) -> str:
        """SUCCEEDED, FAILED or CANCELLED once done, else RUNNING."""
        if self.ready is not None:
            return "SUCCEEDED"
        if self.failed is not None:
            return "FAILED"
        return "CANCELLED" if self.cancelled is not None else "RUNNING"

    def cancel_error(self) -> HolodeckError:
        """The error a command following a cancelled scene ends with."""
        assert self.cancelled is not None
        by = f" by {self.cancelled.requested_by}" if self.cancelled.requested_by else ""
        return Permanent(
            f"scene {self.scene_id} was cancelled{by} (attempt {self.attempt}): "
            f"{self.cancelled.reason}",
            code="cancelled",
        )

    def cache_report(self) -> dict[str, dict[str, int]]:
        """Asset-cache hits and misses per stage for this scene."""
        made = {"imagegen": self.images, "meshgen": self.meshes}
        return {
            stage: {
                "hits": len(self.cached[stage]),
                "misses": len(made[stage] - self.cached[stage]),
            }
            for stage in made
        }

    @property
    def done(self) -> bool:
        return self.status != "RUNNING"

    def timings(self) -> dict[str, float]:
        """Seconds from the request to each stage's completion, and per stage."""
        out: dict[str, float] = {}
        previous = 0.0
        for stage in ("planner", "imagegen", "meshgen", "assembly"):
            if stage in self.marks:
                out[f"{stage}_s"] = round(self.marks[stage] - previous, 4)
                previous = self.marks[stage]
        out["total_s"] = round(previous if self.ready else time.perf_counter() - self.started, 4)
        return out


async def request_scene(
    nc: NATS,
    prompt: str,
    *,
    seed: int = 0,
    scene_id: str | None = None,
    requested_by: str = "cli",
    timeout: float = 300.0,
    on_event: Callable[[SceneWatch], None] | None = None,
) -> SceneWatch:
    """Publish a scene request and follow the scene until it is ready or failed."""
    scene_id = scene_id or uuid.uuid4().hex[:20]
    request = SceneRequested(
        scene_id=scene_id,
        prompt=prompt,
        options=SceneOptions(seed=seed),
        producer=requested_by,
        requested_by=requested_by,
    )
    watch = SceneWatch(scene_id)
    queue: asyncio.Queue[Any] = asyncio.Queue()

    async def collect(msg: Any) -> None:
        queue.put_nowait(msg)

    subs = [await nc.subscribe(s, cb=collect) for s in scene_subjects(scene_id)]
    try:
        await nc.flush()
        js = nc.jetstream()
        watch.started = time.perf_counter()
        await js.publish(
            subject(Subject.SCENE_REQUESTED, scene_id),
            encode(request),
            headers={"Nats-Msg-Id": msg_id("request", scene_id)},
        )
        deadline = time.monotonic() + timeout
        while not watch.done:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RetryLater(f"scene {scene_id} did not finish within {timeout:.0f} s")
            try:
                # Not wait_for, which on Python 3.11 may lose a SIGTERM's cancellation.
                async with asyncio.timeout(remaining):
                    msg = await queue.get()
            except TimeoutError:
                continue
            watch.apply(parse_event(msg.subject, msg.data))
            if on_event is not None:
                on_event(watch)
    finally:
        for sub in subs:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
    return watch


async def save_artifacts(store: ArtifactStore, ready: SceneReady, out_dir: Path) -> dict[str, Path]:
    """Copy a finished scene's artifacts into ``out_dir/<scene_id>/``."""
    target = out_dir / ready.scene_id
    target.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for name, ref in ready.artifacts.items():
        path = target / name
        path.write_bytes(await store.get(ref.sha256))
        paths[name] = path
    return paths


def failure_error(watch: SceneWatch) -> HolodeckError:
    failed = watch.failed
    assert failed is not None
    where = failed.stage + (f" ({failed.object_id})" if failed.object_id else "")
    return Permanent(
        f"scene {watch.scene_id} failed in {where}: {failed.message}", code=failed.code
    )


def probe_app(host: ServiceHost) -> FastAPI:
    """``/health`` and ``/metrics`` for worker services."""
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse, PlainTextResponse
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    from services.probes import add_probes

    app = FastAPI(title="holodeck " + "+".join(host.names), docs_url=None, redoc_url=None)

    # response_model=None: the handlers return responses, and their annotations name
    # classes imported in this function, where FastAPI would not look them up.
    @app.get("/health", response_model=None)
    async def health() -> JSONResponse:
        checks = host.healthy()
        ok = all(checks.values())
        body = {"status": "ok" if ok else "unavailable", "services": list(host.names), **checks}
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/metrics", response_model=None)
    async def prometheus() -> PlainTextResponse:
        return PlainTextResponse(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    async def live() -> tuple[bool, dict[str, Any]]:
        # Handlers give up at work_deadline_s; one far past it means the loop is wedged.
        limit = 2 * host.settings.nats.work_deadline_s
        oldest = max((r.oldest_handler_s() for r in host.runners), default=0.0)
        return oldest <= limit, {"oldest_handler_s": round(oldest, 1), "limit_s": limit}

    async def ready() -> tuple[bool, dict[str, Any]]:
        checks = host.healthy()
        return all(checks.values()), {"checks": checks}

    add_probes(app, live, ready)
    return app


async def serve_http(app: FastAPI, host: str, port: int, stop: asyncio.Event) -> None:
    """Run ``app`` with uvicorn inside this event loop until ``stop`` is set."""
    import uvicorn

    config = uvicorn.Config(
        app, host=host, port=port, log_config=None, access_log=False, lifespan="off"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    stopper = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    stopper.cancel()
    await task
    if task in done and not stop.is_set() and not server.started:
        raise RetryLater(f"HTTP server could not start on {host}:{port}")


def summary(watch: SceneWatch, paths: dict[str, Path]) -> str:
    return json.dumps(
        {
            "scene_id": watch.scene_id,
            "status": watch.status,
            "artifacts": {name: str(path) for name, path in paths.items()},
            "objects": watch.object_count,
            "timings": watch.timings(),
            "cache": watch.cache_report(),
        }
    )
