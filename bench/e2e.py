"""End-to-end benchmark: scenes through the embedded stack with the procedural backends.

Phase 1 runs scenes one at a time (latency: end to end and per stage, and the bus cost
of a hop = JetStream storing a message → the next stage starting on it). Phase 2 sends
all scenes at once (throughput). Beside them, a raw nats-py publish → pull-consume round
trip on the same server gives the floor a hop cannot beat.

    python bench/e2e.py [--scenes 20] [--seed 0]

The last line is one JSON object of the headline figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from nats.js.api import AckPolicy, ConsumerConfig, StorageType, StreamConfig
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from services.runtime import WORKERS
from services.stack import SceneWatch, request_scene, running_stack
from shared.config import load_settings
from shared.logs import configure_logging

PROMPTS = [
    "a living room with a grey sofa, two armchairs, a coffee table, a tv stand with a tv, "
    "a bookshelf, a floor lamp, a rug and two plants",
    "a bedroom with a double bed, two nightstands, two table lamps, a wardrobe, a dresser, "
    "a mirror, a desk, an office chair and a rug",
    "an office with two desks, two office chairs, a bookshelf, a cabinet, a plant, "
    "a floor lamp, a whiteboard, a sofa and a coffee table",
    "a dining room with a dining table, six chairs, a sideboard, a plant, a painting "
    "and a floor lamp",
    "a kitchen with a fridge, a stove, a sink, four kitchen cabinets, a dining table, "
    "three stools and a plant",
]


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


async def raw_round_trip(url: str, samples: int = 300) -> list[float]:
    """Publish with ack → fetch from a pull consumer → ack, with plain nats-py."""
    import nats

    nc = await nats.connect(url)
    js = nc.jetstream()
    await js.add_stream(
        StreamConfig(name="BENCHRAW", subjects=["benchraw.>"], storage=StorageType.FILE)
    )
    await js.add_consumer(
        "BENCHRAW",
        ConsumerConfig(
            durable_name="raw", filter_subject="benchraw.>", ack_policy=AckPolicy.EXPLICIT
        ),
    )
    sub = await js.pull_subscribe_bind("raw", "BENCHRAW")
    payload = b"x" * 1024
    fetcher = asyncio.create_task(sub.fetch(1, timeout=5))
    await asyncio.sleep(0.05)
    times: list[float] = []
    for i in range(samples):
        start = time.perf_counter()
        await js.publish(f"benchraw.{i}", payload)
        msgs = await fetcher
        times.append(time.perf_counter() - start)
        await msgs[0].ack()
        fetcher = asyncio.create_task(sub.fetch(1, timeout=5))
    fetcher.cancel()
    await js.delete_stream("BENCHRAW")
    await nc.close()
    return times


async def run(scenes: int, seed: int) -> dict[str, object]:
    workspace = Path(tempfile.mkdtemp(prefix="holodeck-bench-"))
    settings = load_settings(storage={"workspace": workspace}, logging={"level": "WARNING"})
    configure_logging(settings.logging)
    console = Console(stderr=True)
    prompts = [PROMPTS[i % len(PROMPTS)] for i in range(scenes)]

    started = time.perf_counter()
    async with running_stack(settings, WORKERS) as stack:
        stack_up = time.perf_counter() - started
        await request_scene(stack.nc, "a small bedroom", seed=seed)  # warm-up
        for runner in stack.host.runners:
            runner.recent_delays.clear()

        sequential: list[SceneWatch] = []
        for i, prompt in enumerate(prompts):
            watch = await request_scene(stack.nc, prompt, seed=seed + i)
            if not watch.ready:
                raise SystemExit(f"scene failed: {watch.failed}")
            sequential.append(watch)
        delays = {r.stage: list(r.recent_delays) for r in stack.host.runners}

        burst_start = time.perf_counter()
        burst = await asyncio.gather(
            *(request_scene(stack.nc, p, seed=seed + 100 + i) for i, p in enumerate(prompts))
        )
        burst_s = time.perf_counter() - burst_start
        failed = [w.scene_id for w in burst if not w.ready]
        raw = await raw_round_trip(stack.url)

    totals = [w.timings()["total_s"] for w in sequential]
    objects = [w.object_count for w in sequential]
    stages = ("planner", "imagegen", "meshgen", "assembly")
    stage_p50 = {s: pct([w.timings()[f"{s}_s"] for w in sequential], 50) for s in stages}
    # Single-message hops, taken while the pipeline is otherwise idle: the bus's own cost.
    hop_samples = delays.get("planner", []) + delays.get("imagegen-fanout", [])
    hop_p50_ms = pct(hop_samples, 50) * 1000
    raw_p50_ms = pct(raw, 50) * 1000

    table = Table(title=f"{scenes} scenes, {statistics.mean(objects):.1f} objects on average")
    table.add_column("measure")
    table.add_column("p50", justify="right")
    table.add_column("p95", justify="right")
    table.add_row("end to end (s)", f"{pct(totals, 50):.3f}", f"{pct(totals, 95):.3f}")
    for s in stages:
        values = [w.timings()[f"{s}_s"] for w in sequential]
        table.add_row(f"  {s} (s)", f"{pct(values, 50):.3f}", f"{pct(values, 95):.3f}")
    for stage, values in sorted(delays.items()):
        table.add_row(
            f"bus delay → {stage} (ms)",
            f"{pct(values, 50) * 1000:.2f}",
            f"{pct(values, 95) * 1000:.2f}",
        )
    table.add_row("raw nats-py round trip (ms)", f"{raw_p50_ms:.2f}", f"{pct(raw, 95) * 1000:.2f}")
    console.print(table)
    console.print(
        f"stack up in {stack_up:.2f} s; burst of {scenes} scenes in {burst_s:.2f} s "
        f"({scenes / burst_s:.2f} scenes/s); failed: {failed or 'none'}"
    )
    return {
        "scenes": scenes,
        "objects_mean": round(statistics.mean(objects), 2),
        "scenes_per_s": round(scenes / burst_s, 3),
        "e2e_p50_s": round(pct(totals, 50), 4),
        "e2e_p95_s": round(pct(totals, 95), 4),
        "stage_p50_s": {k: round(v, 4) for k, v in stage_p50.items()},
        "bus_hop_p50_ms": round(hop_p50_ms, 3),
        "raw_nats_round_trip_p50_ms": round(raw_p50_ms, 3),
        "stack_start_s": round(stack_up, 3),
        "failed": len(failed),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    result = asyncio.run(run(args.scenes, args.seed))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
