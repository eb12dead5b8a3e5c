"""Wiring: the services' FastStream subscribers, their health and metrics endpoints.

One :class:`ServiceHost` runs any set of services in one process against one NATS URL;
``holodeck serve planner`` on one node and ``holodeck serve imagegen`` on another run the
same code. Each stage's work is plain async Python (``services/*/work.py``); this module
binds it to its durable consumer through :class:`shared.stage.StageRunner`.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, cast

from faststream import BaseMiddleware
from faststream.message import StreamMessage
from faststream.middlewares import AckPolicy
from faststream.nats import JStream, NatsBroker, PullSub
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from pydantic import BaseModel

from services.assembly.work import Assembler
from services.imagegen.backend import image_backend
from services.imagegen.work import FanOut, ImageMaker
from services.meshgen.backend import mesh_backend
from services.meshgen.work import MeshMaker
from services.planner.llm import ChatCompletions
from services.planner.work import Planner, llm_understander
from shared import metrics
from shared.artifacts import ArtifactStore, LocalArtifactStore, NatsArtifactStore
from shared.bus import (
    broker_security,
    check_credentials,
    ensure_reachable,
    log_client_error,
    provision,
    server_urls,
)
from shared.cache import AssetCache
from shared.claims import WorkClaims
from shared.config import Settings
from shared.contract import (
    SCHEMA_VERSION,
    STREAM,
    Consumer,
    ImagesReady,
    ImageWork,
    LayoutReady,
    MeshReady,
    ObjectProgress,
    SceneFailed,
    SceneReady,
    SceneRequested,
    Subject,
    ids_from_subject,
    subject,
)
from shared.errors import ConfigError
from shared.fairness import FairSlots
from shared.history import StreamHistory
from shared.logs import get_logger, route_library_logs
from shared.stage import StageRunner, Work
from shared.states import KvSceneStates, SceneStates

log = get_logger(__name__)


class _Closable(Protocol):
    async def close(self) -> None: ...


B = TypeVar("B", bound=_Closable)

WORKERS = ("planner", "imagegen", "meshgen", "assembly")
SERVICES = (*WORKERS, "gateway")
# Each service's own port for /health and /metrics when it runs alone.
DEFAULT_PORTS = {"planner": 9101, "imagegen": 9102, "meshgen": 9103, "assembly": 9104}


def instance_id(service: str) -> str:
    return f"{service}@{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


async def open_store(settings: Settings, js: JetStreamContext) -> ArtifactStore:
    if settings.storage.artifact_store == "nats":
        return await NatsArtifactStore.open(
            js, storage=settings.storage, replicas=settings.nats.replicas
        )
    return LocalArtifactStore(settings.storage.root / "artifacts")


@dataclass
class ServiceHost:
    """Some of the pipeline's services, sharing one broker connection in one process."""

    settings: Settings
    url: str
    names: tuple[str, ...]
    # True when the caller started the server itself and saw it answer: no probes.
    started_here: bool = False
    broker: NatsBroker = field(init=False)
    nc: NATS = field(init=False)
    js: JetStreamContext = field(init=False)
    store: ArtifactStore = field(init=False)
    runners: list[StageRunner] = field(default_factory=list, init=False)
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list, init=False)
    cache: AssetCache | None = field(default=None, init=False)
    states: SceneStates | None = field(default=None, init=False)
    claims: WorkClaims | None = field(default=None, init=False)
    _backlog_task: asyncio.Task[None] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        unknown = [n for n in self.names if n not in SERVICES]
        if unknown:
            raise ConfigError(f"unknown service(s) {unknown}; choose from {list(SERVICES)}")
        self.broker = NatsBroker(
            server_urls(self.url),
            security=broker_security(self.settings.nats),
            name="holodeck-" + "+".join(self.names),
            max_reconnect_attempts=-1,
            reconnect_time_wait=1,
            error_cb=log_client_error,
            log_level=logging.DEBUG,  # per-message lines only at DEBUG
            middlewares=[_RawMessage],
        )

    async def start(self) -> None:
        if not self.started_here:
            await ensure_reachable(self.url)
            await check_credentials(self.url, self.settings.nats)
        self.nc = await self.broker.connect()
        self.js = self.nc.jetstream()
        await provision(self.js, self.settings.nats)
        self.store = await open_store(self.settings, self.js)
        if {"planner", "imagegen", "meshgen", "assembly"} & set(self.names):
            replicas = self.settings.nats.replicas
            self.cache = await AssetCache.open(
                self.js, self.store, self.settings.performance, replicas=replicas
            )
            self.states = await KvSceneStates.open(
                self.js, self.settings.nats.max_age_days * 86400, replicas=replicas
            )
        if {"imagegen", "meshgen"} & set(self.names):
            self.claims = await WorkClaims.open(
                self.js, holder=instance_id("+".join(self.names)), replicas=replicas
            )
        for name in self.names:
            if name in WORKERS:
                self._register(name)
        if self.runners:
            # Cancels arrive on core NATS too: stop the cancelled scene's work in progress.
            await self.nc.subscribe(f"{Subject.SCENE_CANCELLED}.*", cb=self._on_cancel)
        await self.broker.start()
        route_library_logs()
        if self.runners:
            self._backlog_task = asyncio.create_task(self._watch_backlog())
        log.info("services started", services=list(self.names), nats=self.url)

    def _register(self, name: str) -> None:
        producer = instance_id(name)
        nats = self.settings.nats
        performance = self.settings.performance
        workers = performance.concurrent_workers
        # Object stages hold more messages than they make backend calls (FairSlots bound
        # the calls); the other stages' work is their own CPU time.
        slots = FairSlots(workers, stage=name)
        in_hand = performance.messages_in_hand
        bindings: list[tuple[str, str, Work, int]] = []
        if name == "planner":
            understander = None
            identity = "rules"
            llm = self.settings.llm
            if llm.default_provider == "openai":
                client = ChatCompletions.from_settings(llm)
                self.closers.append(client.aclose)
                understander = llm_understander(client, fallback=llm.fallback_to_rules)
                identity = f"openai/{llm.base_url}/{llm.model}/{llm.json_mode}"
            planner = Planner(
                producer,
                understander,
                identity=identity,
                store=self.store,
                cache=self.cache,
                limits=self.settings.planner,
            )
            bindings += [
                ("planner", Consumer.PLANNER, planner, workers),
                ("planner", Consumer.PLANNER_BY_ID, planner, workers),
            ]
        elif name == "imagegen":
            images = ImageMaker(
                producer,
                self.store,
                self._backend(
                    image_backend(self.settings.image_generation, self.js, nats.replicas)
                ),
                self.settings.image_generation.size,
                cache=self.cache,
                report=self._report_progress,
                slots=slots,
                claims=self.claims,
            )
            bindings += [
                ("imagegen-fanout", Consumer.IMAGEGEN_FANOUT, FanOut(producer), workers),
                ("imagegen", Consumer.IMAGEGEN, images, in_hand),
                ("imagegen", Consumer.IMAGEGEN_BATCH, images, in_hand),
            ]
        elif name == "meshgen":
            backend = self._backend(
                mesh_backend(self.settings.three_d_generation, self.js, self.settings.nats.replicas)
            )
            meshes = MeshMaker(
                producer, self.store, backend, cache=self.cache, slots=slots, claims=self.claims
            )
            bindings += [
                ("meshgen", Consumer.MESHGEN, meshes, in_hand),
                ("meshgen", Consumer.MESHGEN_BATCH, meshes, in_hand),
            ]
        elif name == "assembly":
            history = StreamHistory(self.js, nats.stream)
            bindings.append(
                (
                    "assembly",
                    Consumer.ASSEMBLY,
                    Assembler(producer, self.store, history, self.cache),
                    workers,
                )
            )
        for stage, durable, work, loops in bindings:
            runner = StageRunner(
                stage, work, self.js, nats, producer, states=self.states, started=self._started
            )
            self.runners.append(runner)
            handler = _handler(runner)
            # `workers` pull loops of one message each on the same durable: bounded
            # concurrency without a batch's head-of-line wait, and the lowest hop latency
            # (FastStream's own `max_workers` over-fetches on pull consumers).
            for slot in range(loops):
                self.broker.subscriber(
                    Consumer.FILTERS[durable],
                    durable=durable,
                    stream=JStream(nats.stream, declare=False),
                    pull_sub=PullSub(batch_size=1, timeout=5.0),
                    ack_policy=AckPolicy.MANUAL,
                    decoder=_raw_body,
                    title=f"{stage}:{durable}:{slot}",
                    include_in_schema=False,
                )(handler)

    async def _started(self, scene_id: str, before_seq: int) -> bool:
        """Was this scene requested before ``before_seq``, or laid out already?"""
        stream = self.settings.nats.stream
        try:
            await self.js.get_last_msg(stream, subject(Subject.LAYOUT_READY, scene_id))
            return True
        except NotFoundError:
            pass
        try:
            first = await self.js.get_msg(
                stream, seq=1, subject=subject(Subject.SCENE_REQUESTED, scene_id), next=True
            )
        except NotFoundError:
            return False
        return first.seq is not None and first.seq < before_seq

    async def _on_cancel(self, msg: Msg) -> None:
        scene_id, _ = ids_from_subject(msg.subject)
        if not scene_id or self.states is None:
            return
        with contextlib.suppress(Exception):
            # Anyone can publish on the subject: only a scene cancelled in the state bucket
            # (the cancel command claims it there first) has its work stopped.
            state = await self.states.get(scene_id)
            if state is not None and state.state == "CANCELLED":
                stopped = sum(r.cancel_scene(scene_id) for r in self.runners)
                if stopped:
                    log.info("cancelled scene's work stopped", scene_id=scene_id, tasks=stopped)

    async def _report_progress(self, event: ObjectProgress) -> None:
        """Live progress goes out on core NATS only: news of the moment, not history."""
        with contextlib.suppress(Exception):
            await self.nc.publish(
                subject(Subject.PROGRESS, event.scene_id, event.object_id),
                event.model_dump_json().encode(),
            )

    def _backend(self, backend: B) -> B:
        self.closers.append(backend.close)
        return backend

    async def _watch_backlog(self) -> None:
        """Export each durable's backlog for the ``holodeck_consumer_*`` gauges."""
        durables = {d for n in self.names for d in _durables_of(n)}
        while True:
            for durable in durables:
                with contextlib.suppress(Exception):
                    info = await self.js.consumer_info(self.settings.nats.stream, durable)
                    metrics.CONSUMER_PENDING.labels(durable).set(info.num_pending or 0)
                    metrics.CONSUMER_ACK_PENDING.labels(durable).set(info.num_ack_pending or 0)
            await asyncio.sleep(5)

    def healthy(self) -> dict[str, bool]:
        return {"nats": self.nc.is_connected}

    async def stop(self, grace: float = 10.0) -> None:
        """Stop taking messages, let in-flight ones finish (or nak them), then disconnect."""
        for runner in self.runners:
            runner.closing = True
        await asyncio.gather(*(r.drain(grace) for r in self.runners))
        if self.cache is not None:
            await self.cache.close()
        if self._backlog_task is not None:
            self._backlog_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._backlog_task
        await self.broker.stop()
        for close in self.closers:
            with contextlib.suppress(Exception):
                await close()
        log.info("services stopped", services=list(self.names))


def _durables_of(name: str) -> list[str]:
    return {
        "planner": [Consumer.PLANNER, Consumer.PLANNER_BY_ID],
        "imagegen": [Consumer.IMAGEGEN_FANOUT, Consumer.IMAGEGEN, Consumer.IMAGEGEN_BATCH],
        "meshgen": [Consumer.MESHGEN, Consumer.MESHGEN_BATCH],
        "assembly": [Consumer.ASSEMBLY],
    }.get(name, [])


# The handler needs the raw JetStream message (to ack, nak, term and heartbeat). Asking
# FastStream to inject it as a `Context` parameter costs a thread-pool hop per message
# (about 0.5 ms); a middleware hands it over through a context variable instead, and the
# body is not decoded twice: StageRunner validates it against the contract itself.
_current_message: contextvars.ContextVar[Msg] = contextvars.ContextVar("holodeck_message")


class _RawMessage(BaseMiddleware):
    async def on_receive(self) -> None:
        _current_message.set(cast(Msg, self.msg))
        await super().on_receive()


async def _raw_body(message: StreamMessage[Any]) -> bytes:
    body: bytes = message.body
    return body


def _handler(runner: StageRunner) -> Callable[..., Any]:
    async def handle(body: bytes) -> None:
        await runner.handle(_current_message.get())

    handle.__name__ = f"handle_{runner.stage.replace('-', '_')}"
    return handle


# Which event each durable consumes and what its stage publishes, for the AsyncAPI document.
_FLOWS: dict[str, tuple[type[BaseModel], list[tuple[str, type[BaseModel]]]]] = {
    Consumer.PLANNER: (SceneRequested, [(f"{Subject.LAYOUT_READY}.{{scene_id}}", LayoutReady)]),
    Consumer.PLANNER_BY_ID: (SceneRequested, []),
    Consumer.IMAGEGEN_FANOUT: (
        LayoutReady,
        [
            (f"{Subject.IMAGE_WORK}.{{scene_id}}.{{object_id}}", ImageWork),
            (f"{Subject.IMAGE_BATCH}.{{scene_id}}.{{object_id}}", ImageWork),
        ],
    ),
    Consumer.IMAGEGEN: (
        ImageWork,
        [(f"{Subject.IMAGES_READY}.{{scene_id}}.{{object_id}}", ImagesReady)],
    ),
    Consumer.IMAGEGEN_BATCH: (ImageWork, []),
    Consumer.MESHGEN: (
        ImagesReady,
        [
            (f"{Subject.MESH_READY}.{{scene_id}}.{{object_id}}", MeshReady),
            (f"{Subject.MESH_BATCH}.{{scene_id}}.{{object_id}}", ImagesReady),
        ],
    ),
    Consumer.MESHGEN_BATCH: (ImagesReady, []),
    Consumer.ASSEMBLY: (MeshReady, [(f"{Subject.SCENE_READY}.{{scene_id}}", SceneReady)]),
}


def asyncapi_document() -> dict[str, Any]:
    """The AsyncAPI 3.0 document of the bus: every consumer, its input and its outputs."""
    from faststream.specification import AsyncAPI

    broker = NatsBroker()
    for durable, (model, outputs) in _FLOWS.items():

        async def consume(body: Any) -> None:
            return None

        consume.__annotations__["body"] = model
        broker.subscriber(
            Consumer.FILTERS[durable],
            durable=durable,
            stream=JStream(STREAM, declare=False),
            pull_sub=PullSub(),
            title=durable,
            description=f"Durable consumer {durable!r} reads {model.__name__} events. "
            + " ".join((model.__doc__ or "").split()),
        )(consume)
        for pattern, out_model in outputs:
            broker.publisher(pattern, title=pattern, schema=out_model)
    broker.publisher(
        f"{Subject.SCENE_FAILED}.{{scene_id}}", title="scene.failed", schema=SceneFailed
    )
    spec = AsyncAPI(broker, title="Holodeck events", version=str(SCHEMA_VERSION))
    result: dict[str, Any] = spec.to_specification().to_jsonable()
    return result
