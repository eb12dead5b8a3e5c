"""How fast the gateway serves reads and live events, beside a bare FastAPI endpoint.

One run, against an embedded nats-server and a SQLite database built by the gateway's own
projector from events published to the stream:

- **read**: ``GET /v1/scenes/{id}`` (a finished scene of 20 objects) from ``--clients``
  concurrent keep-alive connections, and the same number of connections on a bare
  FastAPI endpoint that answers the very same bytes, served by uvicorn with the same
  settings in a process of its own. The gateway runs with an API key and rate limits on
  (limits in the JetStream key-value store, set high enough that none is refused).
  Rounds alternate the two servers; the medians are reported.
- **list**: ``GET /v1/scenes`` with ``--scenes`` scenes in the database: the first page,
  ``page_size=500``, a page deep in the list, a status filter and the page after the
  deep one by cursor, each beside the bare endpoint answering the same bytes.
- **sse**: ``--subscribers`` clients on ``GET /v1/events`` while the events of
  ``--sse-scenes`` scenes (request, layout, every image and mesh, the end; interleaved)
  are published at ``--sse-rate`` per second; each message's delay is its arrival minus
  the time stamped in the event, beside the same events heard on core NATS (the floor).
  Every client must receive every event.
- **inproc**: the cost of one ``GET /v1/scenes/{id}`` inside the process (ASGI, no
  sockets) with no security, with keys, and with keys and rate limits (one gateway,
  then two replicas taking turns on one key).

    python bench/gateway.py [--only read,list,sse,inproc] [--clients 50] [--duration 4]
        [--rounds 3] [--scenes 10000] [--subscribers 500] [--sse-scenes 20] [--sse-rate 20]

The load generator is a minimal HTTP/1.1 client on raw asyncio streams in this process,
the servers run in processes of their own (on one machine, so they share its cores).
Prints a line per measurement and whether each target was met on stderr; the last line
on stdout is one JSON object. Targets: the read at least half the bare rate, the list's
p99 at most 50 ms, SSE with no message missed and a median delay of at most 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import nats
from nats.js import JetStreamContext

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shared.bus import EmbeddedNats, free_port, provision
from shared.config import LoggingSettings, NatsSettings
from shared.contract import (
    ArtifactRef,
    ImagesReady,
    LayoutReady,
    MeshReady,
    SceneFailed,
    SceneReady,
    SceneRequested,
    Subject,
    encode,
    msg_id,
    subject,
)
from shared.layout import Layout, PlacedObject, Room, rectangle
from shared.logs import configure_logging

REPO = Path(__file__).resolve().parent.parent
# The CLI of the code beside this file, whatever copy of the project is installed.
HOLODECK = [sys.executable, "-c", "import sys; from services.cli import app; app()"]
KEY = "bench-" + "k" * 32
AUTH = {"X-API-Key": KEY}
CATEGORIES = ("bed", "lamp", "desk", "chair", "bookshelf", "rug", "plant", "sofa")
PROMPT = "a cozy bedroom with a reading corner, two bookshelves and a desk by the window"


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# -- events --------------------------------------------------------------------------


def ref(kind: str, *parts: str, media_type: str) -> ArtifactRef:
    import hashlib

    sha = hashlib.sha256("/".join((kind, *parts)).encode()).hexdigest()
    return ArtifactRef(uri=f"file:///artifacts/{sha}", sha256=sha, size=1000, media_type=media_type)


def layout_of(objects: int) -> Layout:
    placed = [
        PlacedObject(
            id=f"{CATEGORIES[i % len(CATEGORIES)]}-{i + 1}",
            category=CATEGORIES[i % len(CATEGORIES)],
            description=f"a wooden {CATEGORIES[i % len(CATEGORIES)]}, number {i + 1}",
            size=(0.5, 0.5, 0.5),
            position=(0.5 + 0.6 * (i % 6), 0.0, 0.5 + 0.6 * (i // 6)),
        )
        for i in range(objects)
    ]
    return Layout(
        room=Room(type="bedroom", polygon=rectangle(4.0, 4.0), height=2.6), objects=placed
    )


def scene_run(scene_id: str, objects: int, end: str = "ready") -> Iterator[tuple[str, Any, str]]:
    """(subject, event, msg id) of a scene's run: request, layout (with objects), every
    image and mesh, then its end (``ready``, ``failed``, or ``none`` to leave it
    running). The events are made as they are taken, so each carries the time it was
    published."""
    yield (
        subject(Subject.SCENE_REQUESTED, scene_id),
        SceneRequested(scene_id=scene_id, prompt=PROMPT, requested_by="bench"),
        msg_id("request", scene_id),
    )
    layout = layout_of(objects)
    if objects:
        yield (
            subject(Subject.LAYOUT_READY, scene_id),
            LayoutReady(scene_id=scene_id, prompt=PROMPT, layout=layout),
            msg_id("planner", scene_id),
        )
    for obj in layout.objects:
        yield (
            subject(Subject.IMAGES_READY, scene_id, obj.id),
            ImagesReady(
                scene_id=scene_id,
                object_id=obj.id,
                object=obj,
                image=ref("image", scene_id, obj.id, media_type="image/png"),
                object_count=objects,
            ),
            msg_id("imagegen", scene_id, obj.id),
        )
    for obj in layout.objects:
        yield (
            subject(Subject.MESH_READY, scene_id, obj.id),
            MeshReady(
                scene_id=scene_id,
                object_id=obj.id,
                mesh=ref("mesh", scene_id, obj.id, media_type="model/gltf-binary"),
                object_count=objects,
            ),
            msg_id("meshgen", scene_id, obj.id),
        )
    if end == "ready":
        artifacts = {
            "scene.glb": ref("scene", scene_id, media_type="model/gltf-binary"),
            "layout.json": ref("layout", scene_id, media_type="application/json"),
        }
        yield (
            subject(Subject.SCENE_READY, scene_id),
            SceneReady(scene_id=scene_id, artifacts=artifacts, object_count=objects),
            msg_id("assembly", scene_id),
        )
    elif end == "failed":
        yield (
            subject(Subject.SCENE_FAILED, scene_id),
            SceneFailed(
                scene_id=scene_id,
                stage="assembly" if objects else "planner",
                code="bench",
                message="bench failure",
            ),
            msg_id("assembly-failed", scene_id),
        )


async def publish_all(js: JetStreamContext, events: list[tuple[str, Any, str]]) -> None:
    """Publish in order, many acknowledgements awaited at once."""
    window = 256
    for start in range(0, len(events), window):
        await asyncio.gather(
            *(
                js.publish(name, encode(event), headers={"Nats-Msg-Id": mid})
                for name, event, mid in events[start : start + window]
            )
        )


# -- servers -------------------------------------------------------------------------


def bare_server(port: int, bodies_dir: Path) -> None:
    """A bare FastAPI app answering constant JSON bytes, under the gateway's uvicorn settings."""
    from fastapi import FastAPI
    from fastapi.responses import Response

    from services.stack import serve_http

    app = FastAPI()
    bodies = {path.stem: path.read_bytes() for path in bodies_dir.glob("*.json")}

    @app.get("/bodies/{name}")
    async def body(name: str) -> Response:
        return Response(bodies[name], media_type="application/json")

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        await serve_http(app, "127.0.0.1", port, stop)

    asyncio.run(run())


async def wait_answering(base: str, process: subprocess.Popen[bytes], path: str) -> None:
    async with httpx.AsyncClient(base_url=base, headers=AUTH) as probe:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited with {process.returncode}")
            with contextlib.suppress(httpx.TransportError):
                if (await probe.get(path)).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise TimeoutError(f"{base}{path} did not answer")


@contextlib.contextmanager
def process(args: list[str], env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(args, env=env, cwd=REPO, stderr=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def gateway_env(
    workspace: Path, nats_url: str, database: Path, rate_limits: bool = True
) -> dict[str, str]:
    config = workspace / "bench.yaml"
    config.write_text(
        json.dumps(
            {
                "security": {
                    "api_keys": [{"name": "bench", "key": KEY, "permissions": ["read", "write"]}],
                    "rate_limiting": {
                        "enabled": rate_limits,
                        "default_limit": "1000000000/hour",
                    },
                }
            }
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOLODECK_", "HOLDECK_"))}
    env.update(
        HOLODECK_WORKSPACE=str(workspace),
        HOLODECK_CONFIG=str(config),
        HOLODECK_LOG_LEVEL="WARNING",
        NATS_URL=nats_url,
        PYTHONPATH=str(REPO),
        DATABASE_URL=f"sqlite+aiosqlite:///{database}",
    )
    return env


# -- load ----------------------------------------------------------------------------


async def _response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return status, await reader.readexactly(length)


def _request(port: int, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def load(
    port: int,
    paths: Callable[[int], str],
    clients: int,
    duration: float,
    headers: dict[str, str] | None = None,
    warmup: float = 0.5,
) -> dict[str, Any]:
    """``clients`` keep-alive connections asking in turn for ``duration`` seconds."""
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    started = time.perf_counter()
    measure_from = started + warmup
    end = measure_from + duration

    async def client(n: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            count = 0
            while True:
                t0 = time.perf_counter()
                if t0 >= end:
                    return
                writer.write(_request(port, paths(n + count * clients), headers or {}))
                status, _ = await _response(reader)
                t1 = time.perf_counter()
                count += 1
                if t0 >= measure_from:
                    latencies.append(t1 - t0)
                    statuses[status] += 1
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    await asyncio.gather(*(client(n) for n in range(clients)))
    ms = sorted(x * 1000 for x in latencies)
    return {
        "rps": round(len(ms) / duration, 1),
        "p50_ms": round(ms[len(ms) // 2], 2) if ms else None,
        "p99_ms": round(ms[min(len(ms) - 1, int(len(ms) * 0.99))], 2) if ms else None,
        "statuses": dict(statuses),
    }


async def side_by_side(
    name: str,
    gateway_port: int,
    bare_port: int,
    gateway_paths: Callable[[int], str],
    bare_path: str,
    clients: int,
    duration: float,
    rounds: int,
) -> dict[str, Any]:
    gateway_runs, bare_runs = [], []
    for _ in range(rounds):
        bare_runs.append(await load(bare_port, lambda n: bare_path, clients, duration))
        gateway_runs.append(await load(gateway_port, gateway_paths, clients, duration, AUTH))
    for run in gateway_runs:
        if set(run["statuses"]) != {200}:
            raise RuntimeError(f"{name}: the gateway answered {run['statuses']}")

    def median(runs: list[dict[str, Any]], key: str) -> float:
        return round(statistics.median(r[key] for r in runs), 2)

    row = {
        "gateway_rps": median(gateway_runs, "rps"),
        "gateway_p50_ms": median(gateway_runs, "p50_ms"),
        "gateway_p99_ms": median(gateway_runs, "p99_ms"),
        "bare_rps": median(bare_runs, "rps"),
        "bare_p50_ms": median(bare_runs, "p50_ms"),
        "bare_p99_ms": median(bare_runs, "p99_ms"),
    }
    row["ratio"] = round(row["gateway_rps"] / row["bare_rps"], 3)
    log(
        f"{name}: gateway {row['gateway_rps']} req/s (p50 {row['gateway_p50_ms']} ms, "
        f"p99 {row['gateway_p99_ms']} ms); bare {row['bare_rps']} req/s (p50 "
        f"{row['bare_p50_ms']} ms, p99 {row['bare_p99_ms']} ms); {row['ratio']:.0%} of bare"
    )
    return row


# -- sse -----------------------------------------------------------------------------


async def sse_listener(
    port: int, run: str, arrivals: dict[str, list[float]], ready: asyncio.Event
) -> None:
    """One ``GET /v1/events`` connection: the arrival delay of each message of ``run``."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(_request(port, "/v1/events", {**AUTH, "Accept": "text/event-stream"}))
    head = await reader.readuntil(b"\r\n\r\n")
    if head[9:12] != b"200":
        raise RuntimeError(f"GET /v1/events answered {head[:12]!r}")
    chunked = b"chunked" in head.lower()
    buffer = b""
    try:
        while True:
            if chunked:
                size_line = await reader.readuntil(b"\r\n")
                size = int(size_line.strip() or b"0", 16)
                if size == 0:
                    return
                buffer += await reader.readexactly(size)
                await reader.readexactly(2)
            else:
                chunk = await reader.read(65536)
                if not chunk:
                    return
                buffer += chunk
            *messages, buffer = buffer.replace(b"\r\n", b"\n").split(b"\n\n")
            now = time.time()
            for message in messages:
                data = b"".join(
                    line[5:].strip() for line in message.split(b"\n") if line.startswith(b"data:")
                )
                if not data or b'"time"' not in data:
                    continue
                body = json.loads(data)
                scene_id = body.get("scene_id", "")
                if not scene_id.startswith(run) or body.get("event") == "progress":
                    continue
                if scene_id.startswith(f"{run}-ready"):
                    ready.set()
                    continue
                sent = datetime.fromisoformat(body["time"]).timestamp()
                arrivals.setdefault(f"{scene_id}/{body['event']}/{body.get('object_id')}", [])
                arrivals[f"{scene_id}/{body['event']}/{body.get('object_id')}"].append(now - sent)
    finally:
        writer.close()


async def sse_bench(
    port: int, nats_url: str, subscribers: int, scenes: int, objects: int, rate: float
) -> dict[str, Any]:
    run = uuid.uuid4().hex[:8]
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    # The floor: the same events heard on core NATS in this process.
    bus: list[float] = []

    async def heard(msg: Any) -> None:
        if f".{run}-" in msg.subject and "-ready-" not in msg.subject:
            sent = json.loads(msg.data)["time"]
            bus.append(time.time() - datetime.fromisoformat(sent).timestamp())

    await nc.subscribe(">", cb=heard)
    listeners_arrivals = [dict[str, list[float]]() for _ in range(subscribers)]
    readies = [asyncio.Event() for _ in range(subscribers)]
    tasks = []
    for arrivals, ready in zip(listeners_arrivals, readies, strict=True):
        tasks.append(asyncio.create_task(sse_listener(port, run, arrivals, ready)))
        await asyncio.sleep(0)
    # Every listener is reading once it has seen a marker scene.
    deadline = time.monotonic() + 120
    while not all(r.is_set() for r in readies):
        failed = [t for t in tasks if t.done()]
        if failed:
            raise RuntimeError(f"{len(failed)} listeners ended: {failed[0].exception()!r}")
        if time.monotonic() > deadline:
            raise TimeoutError("the listeners did not all start")
        marker = f"{run}-ready-{uuid.uuid4().hex[:6]}"
        await publish_all(js, list(scene_run(marker, 0, end="failed")))
        await asyncio.sleep(0.5)
    # The scenes' runs interleaved, as stages working on several scenes publish them.
    runs = [scene_run(f"{run}-{n}", objects) for n in range(scenes)]
    expected = 0
    started = time.perf_counter()
    while runs:
        for one in list(runs):
            step = next(one, None)
            if step is None:
                runs.remove(one)
                continue
            name, event, mid = step
            await js.publish(name, encode(event), headers={"Nats-Msg-Id": mid})
            expected += 1
            await asyncio.sleep(max(0.0, started + expected / rate - time.perf_counter()))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if all(sum(len(v) for v in a.values()) >= expected for a in listeners_arrivals):
            break
        await asyncio.sleep(0.1)
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    await nc.drain()
    delays = sorted(d * 1000 for a in listeners_arrivals for v in a.values() for d in v)
    received = [sum(len(v) for v in a.values()) for a in listeners_arrivals]
    missed = sum(max(0, expected - r) for r in received)
    row = {
        "subscribers": subscribers,
        "events": expected,
        "delivered": len(delays),
        "missed": missed,
        "complete_subscribers": sum(r >= expected for r in received),
        "rate": rate,
        "p50_ms": round(statistics.median(delays), 1) if delays else None,
        "p95_ms": round(delays[int(len(delays) * 0.95) - 1], 1) if delays else None,
        "max_ms": round(delays[-1], 1) if delays else None,
        "bus_p50_ms": round(statistics.median(bus) * 1000, 2) if bus else None,
    }
    log(
        f"sse: {subscribers} subscribers x {expected} events: {row['delivered']} delivered, "
        f"{missed} missed; delay p50 {row['p50_ms']} ms, p95 {row['p95_ms']} ms, "
        f"max {row['max_ms']} ms (the bus alone p50 {row['bus_p50_ms']} ms)"
    )
    return row


# -- in process ----------------------------------------------------------------------


@asynccontextmanager
async def inproc_gateways(
    nats_url: str, database_url: str, workdir: Path, limits: bool | None, replicas: int
) -> AsyncIterator[list[httpx.AsyncClient]]:
    """``replicas`` gateway apps over one projection; ``limits`` None: no security."""
    from services.gateway.api import create_app
    from services.gateway.projection import Projection
    from services.gateway.requests import JetStreamRequests, KeyValueKeys, SceneRequests
    from services.gateway.security import (
        KeyValueCounters,
        RateLimiter,
        limiter_max_age,
        secure,
    )
    from shared.artifacts import LocalArtifactStore
    from shared.config import SecuritySettings

    async with AsyncExitStack() as stack:
        projection = await Projection(database_url).open()
        stack.push_async_callback(projection.close)
        clients = []
        for n in range(replicas):
            nc = await nats.connect(nats_url)
            stack.push_async_callback(nc.drain)
            js = nc.jetstream()
            app = create_app(
                projection,
                LocalArtifactStore(workdir / "artifacts"),
                SceneRequests(JetStreamRequests(js, NatsSettings().stream), KeyValueKeys(js, 60)),
            )
            if limits is not None:
                security = SecuritySettings.model_validate(
                    {
                        "api_keys": [
                            {"name": "bench", "key": KEY, "permissions": ["read", "write"]}
                        ],
                        "rate_limiting": {"enabled": limits, "default_limit": "1000000000/hour"},
                    }
                )
                counters = KeyValueCounters(js, limiter_max_age(security))
                secure(app, security, "127.0.0.1", RateLimiter(counters))
            transport = httpx.ASGITransport(app=app)
            client = httpx.AsyncClient(transport=transport, base_url=f"http://gw{n}", headers=AUTH)
            clients.append(await stack.enter_async_context(client))
        yield clients


INPROC_VARIANTS: dict[str, tuple[bool | None, int]] = {
    "no security": (None, 1),
    "keys, no rate limit": (False, 1),
    "keys + rate limit (1 gateway)": (True, 1),
    "keys + rate limit (2 replicas alternating)": (True, 2),
}


async def inproc_bench(
    nats_url: str, database_url: str, workdir: Path, path: str, requests: int, rounds: int
) -> dict[str, float]:
    results: dict[str, list[float]] = {name: [] for name in INPROC_VARIANTS}
    for _ in range(rounds):
        for name, (limits, replicas) in INPROC_VARIANTS.items():
            async with inproc_gateways(
                nats_url, database_url, workdir, limits, replicas
            ) as clients:
                for client in clients:  # warm-up: open buckets, load what is read
                    assert (await client.get(path)).status_code == 200
                started = time.perf_counter()
                for n in range(requests):
                    response = await clients[n % len(clients)].get(path)
                    if response.status_code != 200:
                        raise RuntimeError(f"unexpected {response.status_code}: {response.text}")
                results[name].append((time.perf_counter() - started) / requests * 1000)
    medians = {name: round(statistics.median(v), 3) for name, v in results.items()}
    for name, value in medians.items():
        log(f"in process, {name}: {value} ms per GET")
    return medians


# -- the run -------------------------------------------------------------------------


def targets(figures: dict[str, Any]) -> dict[str, bool]:
    """Which of the gateway's read targets this run met."""
    met = {}
    if "read" in figures:
        met["read at least half the bare rate"] = figures["read"]["ratio"] >= 0.5
    if "list" in figures:
        met["list p99 at most 50 ms"] = figures["list"]["list"]["gateway_p99_ms"] <= 50
    if "sse" in figures:
        sse = figures["sse"]
        met["sse none missed"] = sse["missed"] == 0
        met["sse p50 at most 50 ms"] = (sse["p50_ms"] or 0) <= 50
    return met


async def populate(js: JetStreamContext, scenes: int, objects: int) -> str:
    """The list's scenes (most finished, some failed, some running) and one finished
    scene of ``objects`` objects, whose id is returned."""
    events: list[tuple[str, Any, str]] = []
    for n in range(scenes - 1):
        end = "failed" if n % 10 == 3 else "none" if n % 10 == 7 else "ready"
        events.extend(scene_run(f"list-{n:05d}", 0, end=end))
    target = "bench-scene"
    events.extend(scene_run(target, objects))
    started = time.perf_counter()
    await publish_all(js, events)
    log(f"published {len(events)} events in {time.perf_counter() - started:.1f} s")
    return target


async def main(args: argparse.Namespace) -> dict[str, Any]:
    configure_logging(LoggingSettings(level="WARNING"))
    only = set(args.only.split(","))
    out: dict[str, Any] = {"clients": args.clients, "scenes": args.scenes}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        server = EmbeddedNats(store_dir=workdir / "nats")
        await server.start()
        try:
            nc = await nats.connect(server.url)
            js = nc.jetstream()
            await provision(js, NatsSettings())
            target = await populate(js, args.scenes, args.objects)
            stream_last = (await js.stream_info(NatsSettings().stream)).state.last_seq
            await nc.drain()
            database = workdir / "gateway.db"
            gateway_port, bare_port = free_port(), free_port()
            env = gateway_env(workdir, server.url, database, not args.no_rate_limits)
            gateway_args = [*HOLODECK, "serve", "gateway", "--port", str(gateway_port)]
            with process(gateway_args, env) as gateway:
                base = f"http://127.0.0.1:{gateway_port}"
                started = time.perf_counter()
                await wait_answering(base, gateway, "/health")
                async with httpx.AsyncClient(base_url=base, headers=AUTH, timeout=60) as client:
                    while True:
                        health = (await client.get("/health")).json()
                        if (health.get("last_seq") or 0) >= stream_last:
                            break
                        await asyncio.sleep(0.2)
                    projected = time.perf_counter() - started
                    log(f"the gateway projected {stream_last} events in {projected:.1f} s")
                    out["projected_events"] = stream_last
                    out["projection_s"] = round(projected, 2)
                    bodies = workdir / "bodies"
                    bodies.mkdir()
                    cases = {
                        "scene": f"/v1/scenes/{target}",
                        "list": "/v1/scenes",
                        "list_500": "/v1/scenes?page_size=500",
                        "list_deep": f"/v1/scenes?page={max(1, args.scenes // 50 - 1)}",
                        "list_failed": "/v1/scenes?status=FAILED&page_size=50",
                    }
                    for name, path in list(cases.items()):
                        answer = await client.get(path)
                        assert answer.status_code == 200, answer.text
                        (bodies / f"{name}.json").write_bytes(answer.content)
                        cursor = answer.json().get("next_cursor") if name == "list_deep" else None
                        if cursor:  # the page after the deep one, by keyset
                            cases["list_cursor"] = f"/v1/scenes?cursor={cursor}"
                            answer = await client.get(cases["list_cursor"])
                            (bodies / "list_cursor.json").write_bytes(answer.content)
                    out["scene_body_bytes"] = len((bodies / "scene.json").read_bytes())
                bare_args = [sys.executable, __file__, "--bare", str(bare_port), str(bodies)]
                with process(bare_args, env) as bare:
                    await wait_answering(f"http://127.0.0.1:{bare_port}", bare, "/bodies/scene")
                    if "read" in only:
                        out["read"] = await side_by_side(
                            "GET /v1/scenes/{id}",
                            gateway_port,
                            bare_port,
                            lambda n: cases["scene"],
                            "/bodies/scene",
                            args.clients,
                            args.duration,
                            args.rounds,
                        )
                    if "list" in only:
                        out["list"] = {}
                        for name in (n for n in cases if n.startswith("list")):
                            out["list"][name] = await side_by_side(
                                f"GET {cases[name]}",
                                gateway_port,
                                bare_port,
                                lambda n, name=name: cases[name],
                                f"/bodies/{name}",
                                args.clients,
                                args.duration,
                                args.rounds,
                            )
                if "sse" in only:
                    out["sse"] = await sse_bench(
                        gateway_port,
                        server.url,
                        args.subscribers,
                        args.sse_scenes,
                        args.sse_objects,
                        args.sse_rate,
                    )
            if "inproc" in only:
                out["inproc_ms"] = await inproc_bench(
                    server.url,
                    f"sqlite+aiosqlite:///{database}",
                    workdir,
                    f"/v1/scenes/{target}",
                    args.requests,
                    args.rounds,
                )
        finally:
            await server.stop()
    return out


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--bare":
        bare_server(int(sys.argv[2]), Path(sys.argv[3]))
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="read,list,sse,inproc")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=4.0, help="Seconds per load run.")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--scenes", type=int, default=10_000)
    parser.add_argument("--objects", type=int, default=20, help="Objects of the scene read.")
    parser.add_argument("--subscribers", type=int, default=500)
    parser.add_argument("--sse-scenes", type=int, default=20)
    parser.add_argument("--sse-objects", type=int, default=4)
    parser.add_argument("--sse-rate", type=float, default=20.0, help="Events per second.")
    parser.add_argument("--requests", type=int, default=500, help="In-process GETs per round.")
    parser.add_argument(
        "--no-rate-limits", action="store_true", help="Serve without rate limits (keys only)."
    )
    arguments = parser.parse_args()
    figures = asyncio.run(main(arguments))
    figures["targets"] = targets(figures)
    for name, met in figures["targets"].items():
        log(f"target {name}: {'met' if met else 'NOT met'}")
    print(json.dumps(figures))
