"""Capacity model: the stack against simulated GPU backends, for sizing a deployment.

Every service runs as its own ``holodeck serve`` process against one fresh nats-server
(as in production); images come from the fake ComfyUI and meshes from the fake SF3D
server (``tests/fakes``), both in this process on loopback, each call taking a latency
drawn from a distribution: ``fixed`` (always the given seconds) or ``lognormal`` (the
given seconds as median, ``--sigma`` the spread of its logarithm). A backend has a
number of servers (GPUs), at most that many calls in service at once, the others
waiting their turn: by default one address per backend serving that many at once
(``--servers-as address``); ``--servers-as pool`` gives each GPU a fake server of its
own and hands the stack the list (one server per GPU, as real ComfyUI and SF3D run).
Scenes are submitted over NATS as another system does (``scene.requested.<id>``,
``options.priority`` batch or interactive), all at once.

Measured at the fakes: calls, busy time (a call's time in service), the most calls in
service at once, and duplicates (the same image or mesh request made twice, by its
content). GPU utilisation is busy time / (servers x wall time of the run);
``window_utilisation`` the same over the backend's own window (its first call's start
to its last call's end), i.e. how busy the stack kept the GPUs while it had work for
them. Measured on the stream: each scene's latency (request to ``scene.ready``), p50
and p95 per priority class, and scenes/hour (scenes over the run's wall time). Each
run also gives the CPU seconds every process used (``bench_and_fakes``: this one).

Scenarios (``--scenario``, several allowed; ``all`` is every one but ``run``):

- ``run``: one burst of ``--scenes`` scenes with exactly the given settings, and the
  GPUs ``--plan`` scenes/hour need at its latencies and utilisation (``sizing``): what
  the sizing advice in deploy/README.md ("Scaling out") is made from.
- ``utilisation``: meshgen's calls/s over its window against its ideal, ``min(workers
  x replicas, mesh servers) / mean mesh latency``, at 4 and 16 workers per replica
  (``--workers`` picks one); target >= 90 %. The window holds the burst's first round
  (meshgen waits for the first images) and its last (fewer objects than workers); so
  ``while_queued`` also gives the GPUs' use while some object waited for a mesh (an
  image finished and no mesh call started for it yet): the workers' idleness alone.
- ``replicas``: the same scenes with 1 and 2 replicas of imagegen and meshgen
  (``--workers`` each, 4 by default); meshgen calls/s ratio, target >= 1.9.
- ``fairness``: one interactive scene alone (its solo latency), then ``--scenes``
  batch scenes at once and the same interactive scene (another seed: nothing cached)
  5 s in; its latency during the burst, target <= 3x solo. A stack whose contract
  refuses ``options.priority`` is sent none (``priority_sent: false`` says so).
- ``cache``: ``bench/cache_bound.py``'s ``run``: ``--cache-scenes`` scenes through a
  ``--cache-mb`` cache and an unbounded one; throughput ratio, target >= 0.90.
- ``scale``: ``bench/scale.py``'s end-to-end scene of ``--scale-objects`` objects
  (embedded stack, offline backends); target <= 5 s.

Defaults: image 0.5 s, mesh 1.0 s, fixed; 20 scenes of 11 objects per run; 4 workers
per replica, 1 replica; servers as many as the stack sends at once (workers x
replicas), so the backends never hold it back; images of 256 px at draft quality (the
fake renders real PNGs and sends two progress frames per sampler step, work of the GPU
server, not of the stack's machine); 100 cache scenes (``--cache-scenes 1000`` for the
1,000-scene figure, about half an hour here). ``all`` takes about 9 minutes on a
loaded 2-core machine. ``--set NAME=VALUE`` adds a variable to the stack's environment.

    python bench/capacity.py [--scenario all] [--image-latency 0.5] [--mesh-latency 1.0]
        [--dist fixed|lognormal] [--sigma 0.5] [--image-servers N] [--mesh-servers N]
        [--workers N] [--replicas N] [--scenes 20] [--servers-as address|pool]
        [--plan 1000] [--set NAME=VALUE]

Each scenario prints one JSON line as it ends; the last line is one JSON object of the
headline figures and which targets are met.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import hashlib
import importlib
import inspect
import json
import math
import random
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from pydantic import ValidationError

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._stack import Cluster, cluster, connect, stop_on_sigterm
from shared.config import ImageSettings, LoggingSettings, MeshSettings
from shared.contract import SceneRequested, Subject, encode, subject
from shared.logs import configure_logging
from tests.fakes.comfyui_server import FakeComfyUI, Scenario
from tests.fakes.image_to_3d import FakeSF3D

# Prompts of 11 objects each, every object named (the planner adds none of its own).
PROMPTS = [
    "a bedroom with a double bed, two nightstands, two table lamps, a wardrobe, a dresser, "
    "a desk, a desk chair, a rug and a plant",
    "a living room with a grey sofa, two armchairs, a coffee table, a rug, a floor lamp, "
    "a tv stand, a tv, a bookshelf, a side table and a plant",
    "a small office with two desks, two office chairs, a bookshelf, a filing cabinet, "
    "two monitors, a desk lamp, a plant and a whiteboard",
    "a kitchen with a fridge, a stove, a sink, a dining table, four chairs, a pendant lamp, "
    "a trash can and a plant",
]
TARGETS = {
    "utilisation_of_ideal": 0.90,
    "replica_speedup": 1.9,
    "duplicates": 0,
    "interactive_over_solo": 3.0,
    "cache_bounded_over_unbounded": 0.90,
    "scene_500_objects_s": 5.0,
}
BURST_DELAY_S = 5.0  # the interactive scene comes this long into the burst
END_BOUND_S = 900.0  # a run whose scenes have not all ended by then is reported stuck
# Small images of few sampler steps: the fake renders real PNGs and sends two progress
# frames per step, work a GPU server does, not the machine the stack runs on.
IMAGE_SIZE = 256
IMAGE_QUALITY = "draft"
UTILISATION_WORKERS = (4, 16)


# --------------------------------------------------------------------------------------
# Latency and what the fakes saw.


@dataclass
class Latency:
    """Seconds a backend call takes: ``fixed`` or ``lognormal`` around ``median``."""

    dist: str
    median: float
    sigma: float = 0.5
    rng: random.Random = field(default_factory=lambda: random.Random(7))

    def __post_init__(self) -> None:
        if self.dist not in ("fixed", "lognormal"):
            raise ValueError(f"--dist must be fixed or lognormal, got {self.dist!r}")
        if self.median <= 0 or self.sigma < 0:
            raise ValueError(f"latency must be > 0 and sigma >= 0: {self.median}, {self.sigma}")

    def draw(self) -> float:
        if self.dist == "fixed":
            return self.median
        return self.median * math.exp(self.rng.gauss(0.0, self.sigma))

    @property
    def mean(self) -> float:
        return self.median if self.dist == "fixed" else self.median * math.exp(self.sigma**2 / 2)


@dataclass(frozen=True)
class Call:
    """One backend call as its server saw it: in service from ``start`` to ``end``
    (wall-clock seconds), and what was asked (``key``)."""

    start: float
    end: float
    key: str


def summarise(every: Sequence[Call], servers: int, t0: float, t1: float) -> dict[str, Any]:
    """Duplicates among ``every`` call; counts, busy time and concurrency of the calls
    started from ``t0`` on, with the utilisation of ``servers`` over the run ``t0``..``t1``
    and over the backend's own window (its first call's start to its last call's end)."""
    calls = [c for c in every if c.start >= t0]
    if not calls:
        return {"calls": 0, "duplicates": 0}
    busy = sum(c.end - c.start for c in calls)
    first = min(c.start for c in calls)
    last = max(c.end for c in calls)
    keys: dict[str, int] = {}
    for c in every:
        keys[c.key] = keys.get(c.key, 0) + 1
    edges = sorted([(c.start, 1) for c in calls] + [(c.end, -1) for c in calls])
    now = most = 0
    for _, step in edges:
        now += step
        most = max(most, now)
    window = max(last - first, 1e-9)
    return {
        "calls": len(calls),
        "servers": servers,
        "busy_s": round(busy, 2),
        "mean_latency_s": round(busy / len(calls), 3),
        "window_s": round(window, 2),
        "calls_per_s": round(len(calls) / window, 3),
        "most_in_service": most,
        "duplicates": sum(n - 1 for n in keys.values()),
        "gpu_utilisation": round(busy / (servers * max(t1 - t0, 1e-9)), 3),
        "window_utilisation": round(busy / (servers * window), 3),
    }


def while_queued(images: Sequence[float], meshes: Sequence[Call], t0: float) -> dict[str, float]:
    """Mesh calls in service while an object waited for one: an object counts as
    waiting from its ``images.ready`` (stored in the stream, at ``images``) until a
    mesh call starts. ``queued_s`` is how long some object waited, ``busy_slot_s`` the
    mesh calls in service over that time; their ratio to the slots is how busy meshgen
    kept its GPUs while work was queued for it."""
    edges = sorted(
        [(at, 1, 0) for at in images if at >= t0]
        + [(c.start, -1, 1) for c in meshes if c.start >= t0]
        + [(c.end, 0, -1) for c in meshes if c.start >= t0]
    )
    waiting = busy = 0
    queued = busy_slots = 0.0
    last = edges[0][0] if edges else 0.0
    for at, wait_step, busy_step in edges:
        if waiting > 0:
            queued += at - last
            busy_slots += busy * (at - last)
        last = at
        waiting += wait_step
        busy += busy_step
    return {"queued_s": round(queued, 3), "busy_slot_s": round(busy_slots, 3)}


class MeteredSF3D(FakeSF3D):
    """The fake SF3D server behind ``servers`` GPUs: each request holds one for a drawn
    latency (then the fake answers), the others wait their turn."""

    def __init__(self, servers: int, latency: Latency) -> None:
        super().__init__("ok", retry_after=None)
        self.servers = servers
        self.latency = latency
        self.calls: list[Call] = []

    def _app(self) -> FastAPI:
        app = super()._app()
        app.add_middleware(_GPUs, fake=self)
        return app


class _GPUs:
    """ASGI middleware holding each POST to one of the fake's GPUs while it is served."""

    def __init__(self, app: Any, fake: MeteredSF3D) -> None:
        self.app = app
        self.fake = fake
        self.free = asyncio.Semaphore(fake.servers)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        content_type = dict(scope["headers"]).get(b"content-type", b"")
        boundary = content_type.partition(b"boundary=")[2]
        # The form less its random boundary: equal for equal requests.
        key = hashlib.sha256(body.replace(boundary, b"") if boundary else body).hexdigest()
        sent = False

        async def replay() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return dict(await receive())
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async with self.free:
            start = time.time()
            await asyncio.sleep(self.fake.latency.draw())
            await self.app(scope, replay, send)
            self.fake.calls.append(Call(start, time.time(), key))


def graph_key(graph: Any) -> str:
    """A ComfyUI graph less its file names: equal for requests of the same image."""
    copy = json.loads(json.dumps(graph))
    for node in copy.values() if isinstance(copy, dict) else ():
        if isinstance(node, dict) and isinstance(node.get("inputs"), dict):
            node["inputs"].pop("filename_prefix", None)
    return hashlib.sha256(json.dumps(copy, sort_keys=True).encode()).hexdigest()


def comfy_calls(fake: FakeComfyUI) -> list[Call]:
    """Every prompt the fake ComfyUI ran, its run time from its history."""
    calls = []
    for entry in fake.history.values():
        stamps = {kind: data["timestamp"] for kind, data in entry["status"]["messages"]}
        end = stamps.get("execution_success") or stamps.get("execution_error")
        if "execution_start" in stamps and end is not None:
            graph = entry["prompt"][2]
            calls.append(Call(stamps["execution_start"] / 1000, end / 1000, graph_key(graph)))
    return calls


def prompt_keys(fake: FakeComfyUI) -> list[str]:
    """A key per ``POST /prompt`` (a request, whether or not it ran)."""
    out = []
    for recorded in fake.calls("POST", "/prompt"):
        body = recorded.body if isinstance(recorded.body, dict) else {}
        out.append(graph_key(body.get("prompt", {})))
    return out


def takes_pools() -> bool:
    """Whether this code's backends take several servers (a pool) per backend."""
    return "comfyui_urls" in ImageSettings.model_fields and "sf3d_urls" in MeshSettings.model_fields


@dataclass
class Backends:
    """The two fake GPU backends of one run: one fake per backend (one address) serving
    ``*_servers`` requests at once, or (``pooled``) one fake server per GPU."""

    images: list[FakeComfyUI]
    meshes: list[MeteredSF3D]
    image_servers: int
    mesh_servers: int
    pooled: bool

    def env(self) -> dict[str, str]:
        env = {}
        if not self.pooled and "comfyui_concurrency" in ImageSettings.model_fields:
            # One address stands for every image GPU: it may be sent that many at once.
            env["HOLODECK_IMAGE_GENERATION__COMFYUI_CONCURRENCY"] = str(self.image_servers)
        return env | {
            "HOLODECK_IMAGE_GENERATION__DEFAULT_BACKEND": "comfyui",
            "COMFYUI_API_URL": ",".join(fake.base_url for fake in self.images),
            "HOLODECK_IMAGE_GENERATION__SIZE": str(IMAGE_SIZE),
            "HOLODECK_IMAGE_GENERATION__QUALITY": IMAGE_QUALITY,
            "HOLODECK_THREE_D_GENERATION__DEFAULT_BACKEND": "sf3d",
            "SF3D_API_URL": ",".join(fake.base_url for fake in self.meshes),
        }

    def report(self, t0: float, t1: float) -> dict[str, Any]:
        image_calls = [call for fake in self.images for call in comfy_calls(fake)]
        image = summarise(image_calls, self.image_servers, t0, t1)
        # A request any server took twice is a duplicate, even if it ran once.
        keys = [key for fake in self.images for key in prompt_keys(fake)]
        image["requests"] = len(keys)
        image["duplicates"] = len(keys) - len(set(keys))
        mesh_calls = [call for fake in self.meshes for call in fake.calls]
        return {"image": image, "mesh": summarise(mesh_calls, self.mesh_servers, t0, t1)}

    def mesh_calls(self) -> list[Call]:
        return [call for fake in self.meshes for call in fake.calls]


@contextlib.asynccontextmanager
async def backends(
    image: Latency, mesh: Latency, image_servers: int, mesh_servers: int, pooled: bool
) -> AsyncIterator[Backends]:
    if pooled and not takes_pools():
        raise SystemExit("--servers-as pool: this code's backends take one server each")
    async with contextlib.AsyncExitStack() as fakes:
        if pooled:
            images = [
                await fakes.enter_async_context(FakeComfyUI(Scenario(run_seconds=image.draw)))
                for _ in range(image_servers)
            ]
            meshes = [
                await fakes.enter_async_context(MeteredSF3D(1, mesh)) for _ in range(mesh_servers)
            ]
        else:
            scenario = Scenario(run_seconds=image.draw, parallel=image_servers)
            images = [await fakes.enter_async_context(FakeComfyUI(scenario))]
            meshes = [await fakes.enter_async_context(MeteredSF3D(mesh_servers, mesh))]
        yield Backends(images, meshes, image_servers, mesh_servers, pooled)


# --------------------------------------------------------------------------------------
# Scenes through the stack.


@dataclass
class Scene:
    scene_id: str
    prompt: str
    seed: int
    priority: str  # the class it belongs to (sent when the stack takes the option)
    submitted: float = 0.0  # wall clock
    ended: float | None = None
    outcome: str | None = None  # ready / failed
    objects: int = 0
    failure: str | None = None

    @property
    def latency(self) -> float | None:
        return None if self.ended is None else self.ended - self.submitted


def takes_priority() -> bool:
    """Whether this code's contract accepts ``options.priority``."""
    try:
        SceneRequested(prompt="a room", options={"priority": "batch"})  # type: ignore[arg-type]
    except ValidationError:
        return False
    return True


class Run:
    """Scenes submitted to one running stack, and when each ended (from the stream)."""

    def __init__(self, c: Cluster, send_priority: bool):
        self.c = c
        self.send_priority = send_priority
        self.scenes: dict[str, Scene] = {}
        # When each images.ready of these scenes was stored: meshgen's work arriving.
        self.images_ready: list[float] = []
        self.nc: Any = None
        self.js: Any = None
        self._sub: Any = None
        self._images: Any = None
        self._changed = asyncio.Event()

    async def __aenter__(self) -> Run:
        self.nc = await connect(self.c.url)
        self.js = self.nc.jetstream()
        self._sub = await self.js.subscribe(
            "scene.>", ordered_consumer=True, cb=self._on_event, deliver_policy="new"
        )
        self._images = await self.js.subscribe(
            f"{Subject.IMAGES_READY}.>",
            ordered_consumer=True,
            cb=self._on_image,
            deliver_policy="new",
        )
        return self

    async def _on_image(self, msg: Any) -> None:
        if msg.subject.split(".")[2] in self.scenes:
            self.images_ready.append(msg.metadata.timestamp.timestamp())

    async def __aexit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            await self._sub.unsubscribe()
            await self._images.unsubscribe()
        await self.nc.close()

    async def _on_event(self, msg: Any) -> None:
        parts = msg.subject.split(".")
        root = ".".join(parts[:2])
        if len(parts) != 3 or root not in (Subject.SCENE_READY, Subject.SCENE_FAILED):
            return
        scene = self.scenes.get(parts[2])
        if scene is None or scene.ended is not None:
            return
        body = json.loads(msg.data)
        if body.get("attempt", 1) != 1:
            return
        scene.ended = msg.metadata.timestamp.timestamp()
        scene.outcome = "ready" if root == Subject.SCENE_READY else "failed"
        scene.objects = int(body.get("object_count") or 0)
        if scene.outcome == "failed":
            scene.failure = f"{body.get('stage')}: {body.get('code')} {body.get('message', '')}"
        self._changed.set()

    async def submit(self, prompt: str, seed: int, priority: str, tag: str) -> Scene:
        sid = f"cap-{tag}-{uuid.uuid4().hex[:10]}"
        options: dict[str, Any] = {"seed": seed}
        if self.send_priority:
            options["priority"] = priority
        request = SceneRequested(scene_id=sid, prompt=prompt, options=options)  # type: ignore[arg-type]
        scene = Scene(sid, prompt, seed, priority)
        self.scenes[sid] = scene
        scene.submitted = time.time()
        await self.js.publish(
            subject(Subject.SCENE_REQUESTED, sid),
            encode(request),
            headers={"Nats-Msg-Id": f"capacity:{sid}"},
        )
        return scene

    async def wait(self, scenes: Iterable[Scene], bound: float = END_BOUND_S) -> None:
        """Until every one of ``scenes`` has ended, or ``bound`` seconds."""
        waiting = list(scenes)
        deadline = time.monotonic() + bound
        while any(s.ended is None for s in waiting) and time.monotonic() < deadline:
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=1.0)
            for label, process in self.c.services.items():
                if process.poll() is not None:
                    raise RuntimeError(f"{label} exited: {self.c.log_tail(label)}")


def percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    low, high = math.floor(k), math.ceil(k)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


def scene_figures(scenes: Sequence[Scene]) -> dict[str, Any]:
    """Scenes/hour over the run, latency p50/p95 per priority class, failures."""
    done = [s for s in scenes if s.outcome == "ready"]
    t0 = min(s.submitted for s in scenes)
    t1 = max((s.ended for s in scenes if s.ended is not None), default=time.time())
    figures: dict[str, Any] = {
        "scenes": len(scenes),
        "ready": len(done),
        "failed": sum(s.outcome == "failed" for s in scenes),
        "stuck": sum(s.ended is None for s in scenes),
        "objects_per_scene": round(statistics.mean(s.objects for s in done), 1) if done else 0,
        "wall_s": round(t1 - t0, 2),
        "scenes_per_hour": round(3600 * len(done) / max(t1 - t0, 1e-9)),
    }
    for klass in ("interactive", "batch"):
        latencies = [s.latency for s in done if s.priority == klass and s.latency is not None]
        if latencies:
            figures[klass] = {
                "scenes": len(latencies),
                "p50_s": round(percentile(latencies, 0.5) or 0, 2),
                "p95_s": round(percentile(latencies, 0.95) or 0, 2),
            }
    reasons = sorted({s.failure for s in scenes if s.failure})
    if reasons:
        figures["failure_reasons"] = reasons[:5]
    return figures


@dataclass
class Config:
    image: Latency
    mesh: Latency
    image_servers: int  # 0: as many as the stack sends at once
    mesh_servers: int
    workers: int
    replicas: int
    scenes: int
    servers_as: str = "address"  # or "pool"
    settings: dict[str, str] = field(default_factory=dict)  # more of the stack's environment

    def servers(self) -> tuple[int, int]:
        most = self.workers * self.replicas
        return self.image_servers or most, self.mesh_servers or most

    def describe(self) -> dict[str, Any]:
        image_servers, mesh_servers = self.servers()
        return {
            "image_latency": f"{self.image.dist} {self.image.median} s"
            + (f" sigma {self.image.sigma}" if self.image.dist == "lognormal" else ""),
            "mesh_latency": f"{self.mesh.dist} {self.mesh.median} s"
            + (f" sigma {self.mesh.sigma}" if self.mesh.dist == "lognormal" else ""),
            "image_servers": image_servers,
            "mesh_servers": mesh_servers,
            "workers": self.workers,
            "replicas": self.replicas,
            "servers_as": self.servers_as,
            **({"settings": self.settings} if self.settings else {}),
        }


_seeds = iter(range(1, 10**9))


def next_seed() -> int:
    """A seed no scene of this bench had: nothing is served from a cache or the fakes'
    node cache."""
    return next(_seeds)


@contextlib.asynccontextmanager
async def stack(cfg: Config) -> AsyncIterator[tuple[Cluster, Backends]]:
    image_servers, mesh_servers = cfg.servers()
    pooled = cfg.servers_as == "pool"
    async with backends(cfg.image, cfg.mesh, image_servers, mesh_servers, pooled) as fakes:
        env = {**fakes.env(), "HOLDECK_WORKERS": str(cfg.workers), **cfg.settings}
        replicas = {"imagegen": cfg.replicas, "meshgen": cfg.replicas}
        started = time.monotonic()
        async with cluster(
            env,
            services=("planner", "imagegen", "meshgen", "assembly"),
            replicas=replicas,
            prefix="holodeck-capacity-",
        ) as c:
            log(f"stack of {len(c.services)} processes up in {time.monotonic() - started:.1f} s")
            yield c, fakes


_bursts: dict[str, dict[str, Any]] = {}


async def burst(cfg: Config, send_priority: bool, tag: str) -> dict[str, Any]:
    """``cfg.scenes`` batch scenes at once; figures of the scenes and the backends.
    A configuration already run by this bench is not run again."""
    known = json.dumps([cfg.describe(), cfg.scenes, send_priority])
    if known not in _bursts:
        _bursts[known] = await _burst(cfg, send_priority, tag)
        _bursts[known]["mesh_of_ideal"] = mesh_ideal(_bursts[known], cfg)
    return dict(_bursts[known])


async def _burst(cfg: Config, send_priority: bool, tag: str) -> dict[str, Any]:
    async with stack(cfg) as (c, fakes), Run(c, send_priority) as run:
        cpu_before, bench_before = c.cpu_seconds(), time.process_time()
        scenes = [
            await run.submit(PROMPTS[k % len(PROMPTS)], next_seed(), "batch", tag)
            for k in range(cfg.scenes)
        ]
        await run.wait(scenes)
        cpu = cpu_used(c, cpu_before, time.process_time() - bench_before)
        figures = scene_figures(scenes)
        warn_unready(figures)
        t0 = min(s.submitted for s in scenes)
        t1 = max((s.ended or time.time()) for s in scenes)
        report = fakes.report(t0, t1)
        report["mesh"]["while_queued"] = while_queued(run.images_ready, fakes.mesh_calls(), t0)
        return {**cfg.describe(), **figures, **report, "cpu_s": cpu}


def cpu_used(c: Cluster, before: dict[str, float], bench: float) -> dict[str, float]:
    """CPU seconds each process used since ``before``, and this process (the fakes)."""
    after = c.cpu_seconds()
    used = {label: round(after[label] - before.get(label, 0.0), 1) for label in after}
    return {**used, "bench_and_fakes": round(bench, 1)}


def mesh_ideal(result: dict[str, Any], cfg: Config) -> dict[str, Any]:
    """Meshgen's calls/s against ``min(workers x replicas, servers) / mean latency``."""
    mesh = result.get("mesh", {})
    _, mesh_servers = cfg.servers()
    slots = min(cfg.workers * cfg.replicas, mesh_servers)
    mean = mesh.get("mean_latency_s") or cfg.mesh.mean
    ideal = slots / mean
    got = mesh.get("calls_per_s", 0.0)
    queued = mesh.get("while_queued", {})
    busy_while_queued = queued.get("busy_slot_s", 0.0) / max(
        slots * queued.get("queued_s", 0), 1e-9
    )
    return {
        "ideal_calls_per_s": round(ideal, 3),
        # Over meshgen's whole window: the burst's first and last rounds included.
        "of_ideal": round(got / ideal, 3),
        # While some object waited for a mesh: are the workers ever idle with work queued?
        "while_queued": round(busy_while_queued, 3),
    }


# --------------------------------------------------------------------------------------
# Scenarios.


async def scenario_run(cfg: Config, send_priority: bool, plan: int) -> dict[str, Any]:
    result = await burst(cfg, send_priority, "run")
    result["sizing"] = sizing(result, plan)
    return result


def sizing(result: dict[str, Any], scenes_per_hour: int) -> dict[str, Any]:
    """GPUs of each kind ``scenes_per_hour`` needs, from this run's objects per scene,
    mean latencies and the utilisation the stack kept each kind's GPUs at while it had
    work for them (``window_utilisation``)."""
    objects = result.get("objects_per_scene") or 0
    out: dict[str, Any] = {"scenes_per_hour": scenes_per_hour, "objects_per_scene": objects}
    for kind in ("image", "mesh"):
        figures = result.get(kind, {})
        latency, used = figures.get("mean_latency_s"), figures.get("window_utilisation")
        if not latency or not used:
            continue
        gpu_seconds = scenes_per_hour * objects * latency / 3600
        out[f"{kind}_gpus"] = math.ceil(gpu_seconds / min(used, 1.0))
        out[f"{kind}_gpu_seconds_per_second"] = round(gpu_seconds, 2)
    return out


async def scenario_utilisation(
    cfg: Config, send_priority: bool, workers: Sequence[int]
) -> dict[str, Any]:
    runs = []
    for w in workers:
        one = dataclasses.replace(cfg, workers=w, replicas=1)
        result = await burst(one, send_priority, f"util{w}")
        log(
            f"utilisation, {w} workers: meshgen at {result['mesh_of_ideal']['of_ideal']:.0%} "
            f"of ideal, {result['scenes_per_hour']} scenes/h"
        )
        runs.append(result)
    worst = min(r["mesh_of_ideal"]["of_ideal"] for r in runs)
    return {
        "runs": runs,
        "worst_of_ideal": worst,
        "ok": worst >= TARGETS["utilisation_of_ideal"],
    }


async def scenario_replicas(cfg: Config, send_priority: bool) -> dict[str, Any]:
    runs = {}
    for n in (1, 2):
        one = dataclasses.replace(cfg, replicas=n)
        result = await burst(one, send_priority, f"rep{n}")
        log(
            f"replicas {n}: meshgen {result['mesh'].get('calls_per_s')} calls/s, "
            f"{result['scenes_per_hour']} scenes/h"
        )
        runs[n] = result
    speedup = runs[2]["mesh"]["calls_per_s"] / runs[1]["mesh"]["calls_per_s"]
    scenes_speedup = runs[2]["scenes_per_hour"] / max(runs[1]["scenes_per_hour"], 1)
    return {
        "one": runs[1],
        "two": runs[2],
        "mesh_speedup": round(speedup, 3),
        "scenes_per_hour_speedup": round(scenes_speedup, 3),
        "ok": speedup >= TARGETS["replica_speedup"],
    }


async def scenario_fairness(cfg: Config, send_priority: bool) -> dict[str, Any]:
    prompt = PROMPTS[0]
    async with stack(cfg) as (c, fakes), Run(c, send_priority) as run:
        solo = await run.submit(prompt, next_seed(), "interactive", "solo")
        await run.wait([solo])
        if solo.outcome == "failed" and send_priority and "malformed" in (solo.failure or ""):
            # The stack refuses options.priority: the same scene again without it.
            run.send_priority = send_priority = False
            solo = await run.submit(prompt, next_seed(), "interactive", "solo")
            await run.wait([solo])
        started = time.time()
        batch = [
            await run.submit(PROMPTS[k % len(PROMPTS)], next_seed(), "batch", "burst")
            for k in range(cfg.scenes)
        ]
        await asyncio.sleep(max(0.0, started + BURST_DELAY_S - time.time()))
        interactive = await run.submit(prompt, next_seed(), "interactive", "interactive")
        await run.wait([*batch, interactive])
        figures = scene_figures([*batch, interactive])
        warn_unready(figures)
        backend = fakes.report(started, max((s.ended or time.time()) for s in batch))
    ratio = (
        interactive.latency / solo.latency
        if interactive.outcome == solo.outcome == "ready"
        and interactive.latency is not None
        and solo.latency
        else None
    )
    log(
        f"fairness: interactive {interactive.latency or 0:.1f} s in the burst, "
        f"{solo.latency or 0:.1f} s alone"
    )
    return {
        **cfg.describe(),
        "priority_sent": send_priority,
        "solo_s": round(solo.latency or 0, 2),
        "solo_objects": solo.objects,
        "interactive_in_burst_s": round(interactive.latency or 0, 2),
        "interactive_objects": interactive.objects,
        "interactive_submitted_after_s": round(interactive.submitted - started, 2),
        "over_solo": round(ratio, 2) if ratio is not None else None,
        **figures,
        **backend,
        "ok": ratio is not None and ratio <= TARGETS["interactive_over_solo"],
    }


def _sibling(name: str) -> Any | None:
    """The module ``bench/<name>.py``, or None where there is none."""
    if not (ROOT / "bench" / f"{name}.py").exists():
        return None
    return importlib.import_module(f"bench.{name}")


async def scenario_cache(scenes: int, bound_mb: int) -> dict[str, Any]:
    module = _sibling("cache_bound")
    if module is None or not hasattr(module, "run"):
        return {"skipped": "bench/cache_bound.py has no run()"}
    result: dict[str, Any] = await module.run(scenes, bound_mb)
    headline = {k: v for k, v in result.items() if k not in ("bounded", "unbounded")}
    for side in ("bounded", "unbounded"):
        headline[side] = {
            k: v for k, v in result.get(side, {}).items() if k in ("scenes_per_s", "final_cache_mb")
        }
    headline["ok"] = result.get("ratio", 0) >= TARGETS["cache_bounded_over_unbounded"]
    return headline


async def scenario_scale(objects: int) -> dict[str, Any]:
    module = _sibling("scale")
    if module is None or not hasattr(module, "end_to_end"):
        return {"skipped": "bench/scale.py has no end_to_end()"}
    # Its other parameters (the room, ...) keep their defaults where they have one.
    wanted = inspect.signature(module.end_to_end).parameters
    options = {k: v for k, v in (("room", "office"), ("timeout", 600.0)) if k in wanted}
    result: dict[str, Any] = await module.end_to_end(objects, **options)
    total = result.get("total_s")
    return {
        **result,
        "ok": total is not None and total <= TARGETS["scene_500_objects_s"],
    }


# --------------------------------------------------------------------------------------


def log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def warn_unready(figures: dict[str, Any]) -> None:
    if figures["ready"] < figures["scenes"]:
        log(
            f"WARNING: {figures['failed']} scenes failed, {figures['stuck']} stuck: "
            f"{figures.get('failure_reasons', [])}; this run's figures do not hold"
        )


async def timed(name: str, work: Awaitable[dict[str, Any]]) -> dict[str, Any]:
    started = time.monotonic()
    result = await work
    result["bench_s"] = round(time.monotonic() - started, 1)
    log(f"{name}: {result['bench_s']} s")
    print(json.dumps({"scenario": name, **result}), flush=True)
    return result


SCENARIOS = ("utilisation", "replicas", "fairness", "cache", "scale")


def positive(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scenario", nargs="+", choices=[*SCENARIOS, "run", "all"], default=["all"]
    )
    parser.add_argument("--image-latency", type=float, default=0.5, help="seconds (median)")
    parser.add_argument("--mesh-latency", type=float, default=1.0, help="seconds (median)")
    parser.add_argument("--dist", choices=["fixed", "lognormal"], default="fixed")
    parser.add_argument("--sigma", type=float, default=0.5, help="lognormal spread")
    parser.add_argument("--image-servers", type=positive, default=0, help="0: workers x replicas")
    parser.add_argument("--mesh-servers", type=positive, default=0, help="0: workers x replicas")
    parser.add_argument(
        "--workers", type=int, default=None, help="per replica (utilisation: 4 and 16; otherwise 4)"
    )
    parser.add_argument("--replicas", type=int, default=1, help="imagegen and meshgen (run)")
    parser.add_argument("--scenes", type=int, default=20, help="scenes per run")
    parser.add_argument(
        "--servers-as",
        choices=["address", "pool"],
        default="address",
        help="one address per backend serving N at once, or a pool of N one-GPU servers",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a variable of the stack's environment, e.g. HOLDECK_CACHE_SIZE_MB=100",
    )
    parser.add_argument(
        "--plan", type=int, default=1000, help="run: GPUs needed for this many scenes/hour"
    )
    parser.add_argument("--cache-scenes", type=int, default=100)
    parser.add_argument("--cache-mb", type=int, default=100)
    parser.add_argument("--scale-objects", type=int, default=500)
    args = parser.parse_args()
    if args.scenes < 1 or (args.workers is not None and args.workers < 1) or args.replicas < 1:
        parser.error("--scenes, --workers and --replicas must be at least 1")
    try:
        image = Latency(args.dist, args.image_latency, args.sigma, random.Random(11))
        mesh = Latency(args.dist, args.mesh_latency, args.sigma, random.Random(13))
    except ValueError as exc:
        parser.error(str(exc))
    settings = {}
    for item in args.set:
        name, sep, value = item.partition("=")
        if not sep or not name:
            parser.error(f"--set takes NAME=VALUE, got {item!r}")
        settings[name] = value
    cfg = Config(
        image,
        mesh,
        args.image_servers,
        args.mesh_servers,
        args.workers or 4,
        args.replicas,
        args.scenes,
        args.servers_as,
        settings,
    )
    # The benches run in this process (cache, scale) log their warnings to stderr.
    configure_logging(LoggingSettings(level="WARNING"))
    chosen = SCENARIOS if "all" in args.scenario else tuple(args.scenario)
    send_priority = takes_priority()
    if not send_priority:
        log("this stack's contract has no options.priority: scenes are sent without one")
    results: dict[str, Any] = {}
    for name in chosen:
        if name == "run":
            work = scenario_run(cfg, send_priority, args.plan)
        elif name == "utilisation":
            workers = (args.workers,) if args.workers else UTILISATION_WORKERS
            work = scenario_utilisation(cfg, send_priority, workers)
        elif name == "replicas":
            work = scenario_replicas(cfg, send_priority)
        elif name == "fairness":
            work = scenario_fairness(cfg, send_priority)
        elif name == "cache":
            work = scenario_cache(args.cache_scenes, args.cache_mb)
        else:
            work = scenario_scale(args.scale_objects)
        results[name] = await timed(name, work)
    print(json.dumps(headline(results, send_priority)), flush=True)


def headline(results: dict[str, Any], send_priority: bool) -> dict[str, Any]:
    """The figures the targets are about, and whether each is met."""
    out: dict[str, Any] = {"priority_sent": send_priority, "targets": TARGETS, "met": {}}
    duplicates = not_ready = 0
    for name, result in results.items():
        runs: list[dict[str, Any]] = []
        if name == "utilisation":
            runs = result["runs"]
            out["utilisation_of_ideal"] = {
                str(r["workers"]): r["mesh_of_ideal"]["of_ideal"] for r in runs
            }
        elif name == "replicas":
            runs = [result["one"], result["two"]]
            out["replica_speedup"] = result["mesh_speedup"]
            out["replica_scenes_per_hour_speedup"] = result["scenes_per_hour_speedup"]
        elif name == "fairness":
            runs = [result]
            out["interactive_over_solo"] = result["over_solo"]
        elif name == "run":
            runs = [result]
            out["run"] = {
                k: result.get(k)
                for k in ("scenes_per_hour", "interactive", "batch", "mesh_of_ideal", "sizing")
            }
            out["gpu_utilisation"] = {
                kind: result.get(kind, {}).get("gpu_utilisation") for kind in ("image", "mesh")
            }
        elif name == "cache":
            out["cache_ratio"] = result.get("ratio", result.get("skipped"))
        elif name == "scale":
            out["scene_500_objects_s"] = result.get("total_s", result.get("skipped"))
        if "ok" in result:
            out["met"][name] = result["ok"]
        for r in runs:
            duplicates += sum(r.get(kind, {}).get("duplicates", 0) for kind in ("image", "mesh"))
            not_ready += r["scenes"] - r["ready"]
        if runs:
            out.setdefault("scenes_per_hour", {})[name] = [r["scenes_per_hour"] for r in runs]
    out["duplicates"] = duplicates
    out["scenes_not_ready"] = not_ready
    if any(n in results for n in ("utilisation", "replicas", "fairness", "run")):
        out["met"]["no_duplicates"] = duplicates == 0
        # A failed or stuck scene leaves the other figures of its run meaningless.
        out["met"]["every_scene_ready"] = not_ready == 0
    return out


if __name__ == "__main__":
    stop_on_sigterm()
    asyncio.run(main())
