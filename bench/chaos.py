"""Fault injection: the stack as separate processes against its own nats-server.

Each scenario starts a fresh nats-server (a private store directory and port), one
process per service (``holodeck serve planner``, ``imagegen``, ``meshgen``, ``assembly``
and the gateway), submits scenes the way another system does (``scene.requested.<id>``
over raw nats-py), does something bad while they run, and then reads the truth from the
stream:

a. ``kill``: kill -9 of imagegen, meshgen and assembly mid-run (each restarted);
b. ``nats``: the nats-server stopped and started again on the same store mid-run;
c. ``garbage``: 1,000 malformed messages on every subject of the stream, many of them
   naming the live scenes;
d. ``flaky``: the image-to-3D backend (a fake SF3D server over real HTTP) failing 30 %
   of calls with 503;
e. ``big``: 30 scenes of ~130 objects at once, artifacts in the JetStream object store.

For every scene: succeeded, failed (with its reason), stuck (no end within the bound) or
flipped (both ``scene.ready`` and ``scene.failed``); duplicated outputs are subjects
holding more than one message of a scene's stage output. The gateway's lag is the time
from the last scene's end until its status view agrees with the stream for every scene.

    python bench/chaos.py [--scenario kill nats garbage flaky big] [--scenes 12]

The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import nats
from nats.js import JetStreamContext

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._stack import Cluster, connect, stop_on_sigterm, wait_tcp
from bench._stack import cluster as _cluster
from shared.contract import (
    OBJECT_STORE_BUCKET,
    STREAM,
    MalformedEvent,
    SceneRequested,
    Subject,
    encode,
    parse_event,
    subject,
)

PROMPTS = [
    "a bedroom with a double bed, two nightstands, a wardrobe, a desk and a chair",
    "a living room with a grey sofa, two armchairs, a coffee table, a rug and a floor lamp",
    "a small office with a desk, an office chair, a bookshelf and a plant",
    "a kitchen with a fridge, a stove, a sink, a dining table and four chairs",
]
BIG_PROMPT = "a hall with 10000 tables"
END_BOUND_S = 240.0  # a scene without an end after this long is stuck


def cluster(env: dict[str, str] | None = None) -> contextlib.AbstractAsyncContextManager[Cluster]:
    return _cluster(env, prefix="holodeck-chaos-")


async def submit(js: JetStreamContext, scene_id: str, prompt: str, seed: int) -> None:
    request = SceneRequested(scene_id=scene_id, prompt=prompt, options={"seed": seed})
    await js.publish(
        subject(Subject.SCENE_REQUESTED, scene_id),
        encode(request),
        headers={"Nats-Msg-Id": f"chaos:{scene_id}"},
    )


async def subject_counts(js: JetStreamContext, pattern: str) -> dict[str, int]:
    for _ in range(50):
        try:
            info = await js.stream_info(STREAM, subjects_filter=pattern)
            return dict(info.state.subjects or {})
        except (nats.errors.Error, TimeoutError):
            await asyncio.sleep(0.5)  # the server is restarting
    raise RuntimeError("the stream does not answer")


async def valid_events(js: JetStreamContext, pattern: str) -> dict[str, list[Any]]:
    """Every valid event stored on ``pattern`` by subject; garbage is left out."""
    found: dict[str, list[Any]] = {}
    if not await subject_counts(js, pattern):
        return found
    sub = await js.subscribe(pattern, ordered_consumer=True)
    try:
        while True:
            try:
                msg = await sub.next_msg(timeout=1.0)
            except (TimeoutError, nats.errors.TimeoutError):
                return found
            with contextlib.suppress(MalformedEvent):
                found.setdefault(msg.subject, []).append(parse_event(msg.subject, msg.data))
            if msg.metadata.num_pending == 0:
                return found
    finally:
        await sub.unsubscribe()


@dataclass
class Truth:
    """What the stream says of each scene: its valid end events."""

    ready: dict[str, list[Any]]
    failed: dict[str, list[Any]]

    def ends(self, sid: str) -> set[str]:
        got = set()
        if self.ready.get(subject(Subject.SCENE_READY, sid)):
            got.add("ready")
        if self.failed.get(subject(Subject.SCENE_FAILED, sid)):
            got.add("failed")
        return got


async def truth(js: JetStreamContext) -> Truth:
    return Truth(
        await valid_events(js, f"{Subject.SCENE_READY}.*"),
        await valid_events(js, f"{Subject.SCENE_FAILED}.*"),
    )


async def wait_for_ends(
    js: JetStreamContext, scene_ids: list[str], bound: float, started: float
) -> float:
    """Wait until every scene has ended (or ``bound`` seconds from ``started``)."""
    while time.monotonic() - started < bound:
        now = await truth(js)
        if all(now.ends(sid) for sid in scene_ids):
            break
        await asyncio.sleep(1.0)
    return time.monotonic() - started


async def duplicates(js: JetStreamContext) -> int:
    """Valid stage outputs stored more than once on one subject (one scene or object)."""
    extra = 0
    for root in (
        Subject.LAYOUT_READY,
        Subject.IMAGES_READY,
        Subject.MESH_READY,
        Subject.SCENE_READY,
        Subject.SCENE_FAILED,
    ):
        wildcard = ".*.*" if root in (Subject.IMAGES_READY, Subject.MESH_READY) else ".*"
        for events in (await valid_events(js, root + wildcard)).values():
            extra += max(len(events) - 1, 0)
    return extra


async def gateway_agrees(c: Cluster, now: Truth, scene_ids: list[str]) -> float:
    """Seconds until the gateway shows every scene's end as the stream has it."""
    want = {}
    for sid in scene_ids:
        got = now.ends(sid)
        if got:
            # The first end in the stream is the one that holds.
            want[sid] = "FAILED" if got == {"failed"} else "SUCCEEDED"
            if got == {"ready", "failed"}:
                want.pop(sid)
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{c.gateway_port}") as client:
        while time.monotonic() - started < 120:
            agreed = True
            for sid, status in want.items():
                try:
                    response = await client.get(f"/v1/scenes/{sid}", timeout=5)
                except httpx.HTTPError:
                    agreed = False
                    break
                shown = response.json().get("status") if response.status_code == 200 else None
                if shown != status:
                    agreed = False
                    break
            if agreed:
                return time.monotonic() - started
            await asyncio.sleep(0.25)
    return float("inf")


async def report(
    c: Cluster, js: JetStreamContext, name: str, scene_ids: list[str], took: float
) -> dict[str, Any]:
    now = await truth(js)
    reasons = {
        f"{ev.stage}: {ev.code}"
        for sid in scene_ids
        for ev in now.failed.get(subject(Subject.SCENE_FAILED, sid), [])
    }
    ends = [now.ends(sid) for sid in scene_ids]
    result = {
        "scenario": name,
        "submitted": len(scene_ids),
        "succeeded": sum(got == {"ready"} for got in ends),
        "failed": sum(got == {"failed"} for got in ends),
        "stuck": sum(not got for got in ends),
        "flipped": sum(got == {"ready", "failed"} for got in ends),
        "duplicated": await duplicates(js),
        "seconds": round(took, 1),
        "gateway_lag_s": round(await gateway_agrees(c, now, scene_ids), 2),
        "failure_reasons": sorted(reasons),
    }
    print(json.dumps(result), flush=True)
    return result


def scene_ids(tag: str, count: int) -> list[str]:
    stamp = f"{int(time.time()) % 100000:05d}"
    return [f"chaos-{tag}-{stamp}-{k:03d}" for k in range(count)]


async def submit_all(js: JetStreamContext, ids: list[str], prompt: str | None = None) -> None:
    for k, sid in enumerate(ids):
        await submit(js, sid, prompt or PROMPTS[k % len(PROMPTS)], seed=k)


async def scenario_kill(scenes: int) -> dict[str, Any]:
    async with cluster() as c:
        nc = await connect(c.url)
        js = nc.jetstream()
        ids = scene_ids("kill", scenes)
        t0 = time.monotonic()
        await submit_all(js, ids)
        for name in ("imagegen", "meshgen", "assembly"):
            await asyncio.sleep(0.7)
            c.kill(name)
            c.start(name)
        took = await wait_for_ends(js, ids, END_BOUND_S, t0)
        result = await report(c, js, "kill", ids, took)
        await nc.close()
        return result


async def scenario_nats(scenes: int) -> dict[str, Any]:
    async with cluster() as c:
        nc = await connect(c.url)
        js = nc.jetstream()
        ids = scene_ids("nats", scenes)
        t0 = time.monotonic()
        await submit_all(js, ids)
        await asyncio.sleep(1)
        c.stop_nats()
        await asyncio.sleep(2)
        c.start_nats()
        await wait_tcp(c.nats_port)
        took = await wait_for_ends(js, ids, END_BOUND_S, t0)
        result = await report(c, js, "nats", ids, took)
        await nc.close()
        return result


def garbage(rng: random.Random, scene_ids_: list[str]) -> list[bytes]:
    """Every kind of bad body: not JSON, too deep, wrong types, out of range, binary."""
    sid = rng.choice(scene_ids_)
    return [
        b"{not json",
        b"[" * 5000 + b"]" * 5000,
        b"",
        bytes(rng.randrange(256) for _ in range(64)),
        json.dumps({"scene_id": sid, "object_count": 1e40}).encode(),
        json.dumps({"scene_id": sid, "prompt": "x" * 5000}).encode(),
        json.dumps({"scene_id": sid, "schema_version": 99}).encode(),
        json.dumps([sid] * 10).encode(),
    ]


async def scenario_garbage(scenes: int, per_subject: int = 1000) -> dict[str, Any]:
    async with cluster() as c:
        nc = await connect(c.url)
        js = nc.jetstream()
        ids = scene_ids("garbage", scenes)
        t0 = time.monotonic()
        await submit_all(js, ids)
        rng = random.Random(7)
        subjects = [
            lambda s: Subject.SCENE_REQUESTED,
            lambda s: subject(Subject.SCENE_REQUESTED, s),
            lambda s: subject(Subject.LAYOUT_READY, s),
            lambda s: subject(Subject.IMAGE_WORK, s, "o1"),
            lambda s: subject(Subject.IMAGES_READY, s, "o1"),
            lambda s: subject(Subject.MESH_READY, s, "o1"),
            lambda s: subject(Subject.SCENE_READY, s),
            lambda s: subject(Subject.SCENE_FAILED, s),
            lambda s: subject(Subject.DEAD_LETTER, "planner"),
        ]
        sent = 0
        for make in subjects:
            bodies = garbage(rng, ids)
            for k in range(per_subject):
                target = ids[k % len(ids)]
                await js.publish(make(target), bodies[k % len(bodies)])
                sent += 1
        took = await wait_for_ends(js, ids, END_BOUND_S, t0)
        result = await report(c, js, "garbage", ids, took)
        result["garbage_sent"] = sent
        processes_alive = all(p.poll() is None for p in c.services.values())
        result["every_process_alive"] = processes_alive
        print(json.dumps(result), flush=True)
        await nc.close()
        return result


async def scenario_flaky(scenes: int) -> dict[str, Any]:
    from tests.fakes.image_to_3d import FakeSF3D

    class FlakySF3D(FakeSF3D):
        """Fails 30 % of calls with a 503-class error, at random but reproducibly."""

        def __init__(self) -> None:
            super().__init__("ok", retry_after=None)
            self.rng = random.Random(30)
            self.outcomes: list[str] = []

        def _next(self) -> str:
            outcome = "server_error" if self.rng.random() < 0.3 else "ok"
            self.outcomes.append(outcome)
            return outcome

    async with FlakySF3D() as fake:
        env = {
            "SF3D_API_URL": fake.base_url,
            "HOLODECK_THREE_D_GENERATION__DEFAULT_BACKEND": "sf3d",
            "HOLODECK_NATS__MAX_DELIVER": "8",
        }
        async with cluster(env) as c:
            nc = await connect(c.url)
            js = nc.jetstream()
            ids = scene_ids("flaky", scenes)
            t0 = time.monotonic()
            await submit_all(js, ids)
            took = await wait_for_ends(js, ids, END_BOUND_S, t0)
            result = await report(c, js, "flaky", ids, took)
            result["backend_calls"] = len(fake.outcomes)
            result["backend_failures"] = fake.outcomes.count("server_error")
            print(json.dumps(result), flush=True)
            await nc.close()
            return result


async def scenario_big(scenes: int) -> dict[str, Any]:
    env = {
        "HOLODECK_STORAGE__ARTIFACT_STORE": "nats",
        "HOLODECK_PERFORMANCE__CONCURRENT_WORKERS": "8",
    }
    async with cluster(env) as c:
        nc = await connect(c.url)
        js = nc.jetstream()
        ids = scene_ids("big", scenes)
        t0 = time.monotonic()
        await submit_all(js, ids, BIG_PROMPT)
        took = await wait_for_ends(js, ids, END_BOUND_S * 4, t0)
        result = await report(c, js, "big", ids, took)
        result["objects"] = len(await subject_counts(js, f"{Subject.MESH_READY}.*.*"))
        store = await js.stream_info(f"OBJ_{OBJECT_STORE_BUCKET}")
        result["object_store_consumers_after"] = store.state.consumer_count
        print(json.dumps(result), flush=True)
        await nc.close()
        return result


SCENARIOS = {
    "kill": scenario_kill,
    "nats": scenario_nats,
    "garbage": scenario_garbage,
    "flaky": scenario_flaky,
    "big": scenario_big,
}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", nargs="+", choices=list(SCENARIOS), default=list(SCENARIOS))
    parser.add_argument("--scenes", type=int, default=12, help="scenes per scenario (big: 30)")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    for name in args.scenario:
        count = 30 if name == "big" else args.scenes
        results[name] = await SCENARIOS[name](count)
    totals = {
        key: sum(r[key] for r in results.values())
        for key in ("submitted", "succeeded", "failed", "stuck", "flipped", "duplicated")
    }
    worst_lag = max((r["gateway_lag_s"] for r in results.values()), default=0.0)
    summary = {
        **totals,
        "worst_gateway_lag_s": worst_lag,
        "scenarios": {
            k: {
                kk: v[kk]
                for kk in (
                    "submitted",
                    "succeeded",
                    "failed",
                    "stuck",
                    "duplicated",
                    "seconds",
                    "gateway_lag_s",
                )
            }
            for k, v in results.items()
        },
        "targets_met": {
            "none_stuck": totals["stuck"] == 0,
            "none_duplicated": totals["duplicated"] == 0,
            "none_flipped": totals["flipped"] == 0,
            "gateway_lag_at_most_5s": worst_lag <= 5,
        },
    }
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    stop_on_sigterm()
    asyncio.run(main())
