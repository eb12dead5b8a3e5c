"""How late the gateway's event streams deliver, with N clients listening at once.

``holodeck up`` runs in its own process (embedded NATS, every stage, the gateway); this
process holds N clients on ``GET /v1/events`` and publishes ``scene.failed`` events of
made-up scenes straight to the stream, paced, each stamped with its publish time. A
message's delay is its arrival at a client minus that stamp: JetStream storing it, the
gateway's ordered consumer per client, the wait for the projection to apply it, and the
HTTP stream. No stage is working meanwhile, so this is the streams' own cost.

    python bench/sse_fanout.py [--subscribers 1,10,50] [--events 50] [--rate 20]

The last line is one JSON object: per N, the messages received and the p50/p95/max delay.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import nats

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from services.watch_command import stream_messages
from shared.contract import SceneFailed, Subject, encode, subject

HOLODECK = str(Path(sys.executable).parent / "holodeck")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def listen(
    client: httpx.AsyncClient, run: str, delays: list[float], ready: asyncio.Event
) -> None:
    async for message in stream_messages(client, "/v1/events", {}):
        if message.id is None:
            continue
        data = json.loads("\n".join(message.data))
        if data["scene_id"].startswith(f"{run}-ready"):
            ready.set()
        elif data["scene_id"].startswith(run):
            delays.append(time.time() - datetime.fromisoformat(data["time"]).timestamp())


async def one_round(
    base: str, nats_url: str, subscribers: int, events: int, rate: float
) -> dict[str, Any]:
    run = uuid.uuid4().hex[:8]
    nc = await nats.connect(nats_url)
    js = nc.jetstream()

    async def publish(scene_id: str) -> None:
        failed = SceneFailed(scene_id=scene_id, stage="planner", code="bench", message="bench")
        await js.publish(subject(Subject.SCENE_FAILED, scene_id), encode(failed))

    # The floor: the same events heard on core NATS in this process.
    bus: list[float] = []

    async def heard(msg: Any) -> None:
        event = SceneFailed.model_validate_json(msg.data)
        if event.scene_id.startswith(run) and "-ready" not in event.scene_id:
            bus.append(time.time() - event.time.timestamp())

    await nc.subscribe(f"{Subject.SCENE_FAILED}.*", cb=heard)
    limits = httpx.Limits(max_connections=subscribers + 10)
    async with httpx.AsyncClient(base_url=base, timeout=None, limits=limits) as client:
        delays: list[float] = []
        readies = [asyncio.Event() for _ in range(subscribers)]
        listeners = [asyncio.create_task(listen(client, run, delays, r)) for r in readies]
        # Every listener is reading once it has seen a marker event.
        while not all(r.is_set() for r in readies):
            failed = [t for t in listeners if t.done()]
            if failed:
                raise RuntimeError(f"{len(failed)} listeners ended: {failed[0].exception()!r}")
            # A new scene each time: a scene that failed already is not news again.
            await publish(f"{run}-ready-{uuid.uuid4().hex[:6]}")
            await asyncio.sleep(0.2)
        for i in range(events):
            await publish(f"{run}-{i}")
            await asyncio.sleep(1 / rate)
        deadline = time.monotonic() + 30
        while len(delays) < events * subscribers and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        for task in listeners:
            task.cancel()
        for task in listeners:
            with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
                await task
    await nc.drain()
    ms = sorted(d * 1000 for d in delays)
    return {
        "subscribers": subscribers,
        "messages": len(ms),
        "expected": events * subscribers,
        "p50_ms": round(statistics.median(ms), 1),
        "p95_ms": round(ms[max(0, int(len(ms) * 0.95) - 1)], 1),
        "max_ms": round(ms[-1], 1),
        "bus_p50_ms": round(statistics.median(bus) * 1000, 2) if bus else None,
    }


async def wait_healthy(base: str, process: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient(base_url=base) as probe:
        for _ in range(600):
            assert process.poll() is None, "holodeck up exited"
            with contextlib.suppress(httpx.TransportError):
                if (await probe.get("/health")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise TimeoutError("the gateway did not start")


def main(subscribers: list[int], events: int, rate: float) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as workspace:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("HOLODECK_")}
        env.pop("NATS_URL", None)
        env.update(HOLODECK_WORKSPACE=workspace, HOLODECK_LOG_LEVEL="WARNING")
        process = subprocess.Popen(
            [HOLODECK, "up", "--port", str(port)], env=env, stderr=subprocess.DEVNULL
        )
        try:
            base = f"http://127.0.0.1:{port}"
            asyncio.run(wait_healthy(base, process))
            nats_url = json.loads((Path(workspace) / "nats" / "server.json").read_text())["url"]
            return [asyncio.run(one_round(base, nats_url, n, events, rate)) for n in subscribers]
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", default="1,10,50")
    parser.add_argument("--events", type=int, default=50)
    parser.add_argument("--rate", type=float, default=20.0, help="Events per second.")
    args = parser.parse_args()
    counts = [int(n) for n in args.subscribers.split(",")]
    results = main(counts, args.events, args.rate)
    for row in results:
        print(
            f"{row['subscribers']:>4} subscribers: {row['messages']}/{row['expected']} messages, "
            f"delay p50 {row['p50_ms']} ms, p95 {row['p95_ms']} ms, max {row['max_ms']} ms "
            f"(bus alone p50 {row['bus_p50_ms']} ms)"
        )
    print(json.dumps(results))
