"""Asset cache at its size bound: the same scenes through a bounded and an unbounded cache.

Each side is one replica's cached stages: the planner, imagegen (fan-out and images),
meshgen and assembly work classes with the embedded backends, sharing one
:class:`AssetCache` on its own bucket and its own local artifact store. Both sides use
one real ``nats-server`` (:class:`EmbeddedNats`). Each scene is a new seed of one of
a few prompts, so nearly every object is a miss and the cache fills as it does in
production (twins within a scene share one image and one mesh); per scene the cache gets
the plan, every image and mesh, the scene GLB and the floor plan. The bus hops between
stages are left out: they cost the same on both sides, so the ratio is, if anything,
stricter than a whole stack's.

Scenes alternate between the sides (scene i on one, then on the other, who goes first
alternating too) after one untimed scene each, so a noisy machine slows both alike. The
protection window and the refresh and sweep intervals are the production defaults unless
given: with the default 600 s window a run shorter than ten minutes can evict nothing,
which is the regime of a cache filled by a burst; ``--protect-s 30`` lets most of the
run evict as it goes.

    python bench/cache_bound.py [--scenes 1000] [--bound-mb 100] [--batch 100] [--protect-s 600]

Prints per-batch tables on stderr; the last line on stdout is one JSON object whose
``ratio`` is bounded / unbounded throughput (target >= 0.90).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nats
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from e2e import PROMPTS as E2E_PROMPTS

from services.assembly.work import Assembler
from services.imagegen.backend import ProceduralImages
from services.imagegen.work import FanOut, ImageMaker
from services.meshgen.backend import ParametricMeshes
from services.meshgen.work import MeshMaker
from services.planner.work import Planner
from shared.artifacts import LocalArtifactStore
from shared.bus import EmbeddedNats
from shared.cache import (
    DEFAULT_PROTECT_S,
    DEFAULT_SWEEP_INTERVAL_S,
    DEFAULT_TOUCH_INTERVAL_S,
    AssetCache,
)
from shared.config import LoggingSettings, PerformanceSettings
from shared.contract import (
    ImagesReady,
    ImageWork,
    LayoutReady,
    MeshReady,
    SceneOptions,
    SceneReady,
    SceneRequested,
)
from shared.logs import configure_logging
from shared.stage import Delivery

TARGET_RATIO = 0.90
# An "unbounded" cache: a bound no run of this script reaches (1 TiB).
UNBOUNDED_MB = 1024 * 1024
STAGES = ("planner", "imagegen", "meshgen", "assembly")
# The end-to-end bench's prompts, and one small room.
PROMPTS = [*E2E_PROMPTS, "a small bedroom with a single bed, a nightstand, a lamp and a wardrobe"]


def delivery(subject: str, seq: int = 1) -> Delivery:
    return Delivery(subject=subject, stream_seq=seq, stored_at=datetime.now(UTC), attempt=1)


class SceneHistory:
    """The stream as assembly reads it, for the scenes in flight on one side: a scene's
    meshes stand at sequences 1, 2, ... in the order they were made."""

    def __init__(self) -> None:
        self.layouts: dict[str, LayoutReady] = {}
        self.mesh_events: dict[str, list[MeshReady]] = {}

    async def layout(self, scene_id: str, attempt: int = 1) -> LayoutReady | None:
        return self.layouts.get(scene_id)

    async def scene_meshes(
        self, scene_id: str, after: int, upto: int
    ) -> tuple[list[tuple[int, MeshReady]], int]:
        events = self.mesh_events.get(scene_id, [])
        found = [(seq, e) for seq, e in enumerate(events, 1) if after < seq <= upto]
        return found, max(after, min(upto, len(events)))

    def forget(self, scene_id: str) -> None:
        self.layouts.pop(scene_id, None)
        self.mesh_events.pop(scene_id, None)


@dataclass
class Side:
    """One cache and the stages that use it, with what each scene cost them."""

    name: str
    cache: AssetCache
    planner: Planner
    fanout: FanOut
    images: ImageMaker
    meshes: MeshMaker
    assembler: Assembler
    history: SceneHistory
    wall_s: list[float] = field(default_factory=list)
    cpu_s: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in STAGES})
    sweeps: int = 0
    sweep_cpu_s: float = 0.0
    objects: list[int] = field(default_factory=list)
    # (cache MB, entries) at the end of each batch, read outside the timed scenes.
    samples: list[tuple[float, int]] = field(default_factory=list)

    def count_sweeps(self) -> None:
        """Count the cache's sweeps (inline after an insertion or in the background)."""
        original = self.cache.sweep

        async def counted() -> Any:
            self.sweeps += 1
            started = time.process_time()
            try:
                return await original()
            finally:
                self.sweep_cpu_s += time.process_time() - started

        self.cache.sweep = counted  # type: ignore[method-assign]

    async def build(self, scene_id: str, prompt: str, seed: int) -> None:
        cpu: dict[str, float] = {}

        async def timed(stage: str, work: Awaitable[Any]) -> Any:
            started = time.process_time()
            result = await work
            cpu[stage] = cpu.get(stage, 0.0) + time.process_time() - started
            return result

        wall = time.perf_counter()
        request = SceneRequested(scene_id=scene_id, prompt=prompt, options=SceneOptions(seed=seed))
        [planned] = await timed("planner", self.planner(request, delivery("scene.requested")))
        layout = planned.event
        assert isinstance(layout, LayoutReady)
        self.history.layouts[scene_id] = layout
        fanned = await timed("imagegen", self.fanout(layout, delivery("layout.ready")))
        works = [out.event for out in fanned]
        assert all(isinstance(w, ImageWork) for w in works)
        made = await timed(
            "imagegen",
            asyncio.gather(*(self.images(w, delivery("imagegen.work")) for w in works)),
        )
        images = [out.event for [out] in made]
        assert all(isinstance(i, ImagesReady) for i in images)
        meshed = await timed(
            "meshgen",
            asyncio.gather(*(self.meshes(i, delivery("images.ready")) for i in images)),
        )
        meshes = [out.event for [out] in meshed]
        self.history.mesh_events[scene_id] = meshes
        last = delivery("mesh.ready", seq=len(meshes))
        [assembled] = await timed("assembly", self.assembler(meshes[-1], last))
        if not isinstance(assembled.event, SceneReady):
            raise RuntimeError(f"scene {scene_id} was not assembled: {assembled.event!r}")
        self.history.forget(scene_id)
        self.wall_s.append(time.perf_counter() - wall)
        for stage in STAGES:
            self.cpu_s[stage].append(cpu.get(stage, 0.0))
        self.objects.append(len(works))

    def forget_timings(self) -> None:
        self.wall_s.clear()
        self.objects.clear()
        for values in self.cpu_s.values():
            values.clear()

    def sample(self) -> None:
        self.samples.append((self.cache.total_bytes / 2**20, len(self.cache.entries())))


async def open_side(name: str, js: Any, root: Path, bound_mb: int, protect_s: float) -> Side:
    store = LocalArtifactStore(root / name)
    cache = await AssetCache.open(
        js,
        store,
        PerformanceSettings(max_cache_size_mb=bound_mb),
        bucket=f"bench-cache-{name}",
        protect_s=protect_s,
        touch_interval_s=min(DEFAULT_TOUCH_INTERVAL_S, protect_s / 3),
        sweep_interval_s=DEFAULT_SWEEP_INTERVAL_S,
    )
    history = SceneHistory()
    producer = f"bench-{name}"
    side = Side(
        name=name,
        cache=cache,
        planner=Planner(producer, store=store, cache=cache),
        fanout=FanOut(producer),
        images=ImageMaker(producer, store, ProceduralImages(), cache=cache),
        meshes=MeshMaker(producer, store, ParametricMeshes(), cache=cache),
        assembler=Assembler(producer, store, history, cache),
        history=history,
    )
    side.count_sweeps()
    return side


def batch_rows(side: Side, batch: int) -> list[dict[str, float]]:
    """Per batch of scenes: throughput, CPU per scene by stage, and the cache's size."""
    rows = []
    for start, (cache_mb, entries) in zip(
        range(0, len(side.wall_s), batch), side.samples, strict=True
    ):
        end = min(start + batch, len(side.wall_s))
        n = end - start
        row = {
            "scenes": float(end),
            "scenes_per_s": n / sum(side.wall_s[start:end]),
            "cache_mb": cache_mb,
            "entries": float(entries),
        }
        for stage in STAGES:
            row[f"{stage}_cpu_ms"] = 1000 * sum(side.cpu_s[stage][start:end]) / n
        rows.append(row)
    return rows


def cpu_growth(side: Side, batch: int) -> dict[str, float]:
    """CPU per scene of the last batch over the first, by stage."""
    n = min(batch, len(side.wall_s))
    growth = {}
    for stage in STAGES:
        first = sum(side.cpu_s[stage][:n])
        last = sum(side.cpu_s[stage][-n:])
        growth[stage] = last / first if first else float("nan")
    return growth


def print_tables(console: Console, result: dict[str, Any], batch: int) -> None:
    for name in ("bounded", "unbounded"):
        bound = f"{result['bound_mb']} MB bound" if name == "bounded" else "no bound"
        table = Table(
            title=f"{name} ({bound}): per batch of {batch} scenes",
            caption="CPU ms per scene by stage; cache size and entries at the batch's end",
        )
        for column in ("scenes", "scenes/s", *(f"{s} ms" for s in STAGES)):
            table.add_column(column, justify="right")
        table.add_column("cache MB", justify="right")
        table.add_column("entries", justify="right")
        for row in result[name]["batches"]:
            table.add_row(
                f"{row['scenes']:.0f}",
                f"{row['scenes_per_s']:.2f}",
                *(f"{row[f'{s}_cpu_ms']:.1f}" for s in STAGES),
                f"{row['cache_mb']:.0f}",
                f"{row['entries']:.0f}",
            )
        console.print(table)


async def run(
    scenes: int,
    bound_mb: int,
    *,
    protect_s: float = DEFAULT_PROTECT_S,
    batch: int = 100,
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """``scenes`` scenes through a cache bounded at ``bound_mb`` and through an unbounded
    one, alternating; returns the headline figures (``ratio`` = bounded / unbounded)."""
    if scenes < 1 or bound_mb < 1 or batch < 1:
        raise ValueError(
            f"scenes, bound_mb and batch must be positive: {scenes}, {bound_mb}, {batch}"
        )
    with tempfile.TemporaryDirectory(prefix="holodeck-cache-bench-") as tmp:
        root = Path(tmp)
        server = await EmbeddedNats(store_dir=root / "nats").start()
        nc = await nats.connect(server.url)
        sides: list[Side] = []
        try:
            js = nc.jetstream()
            sides = [
                await open_side("bounded", js, root, bound_mb, protect_s),
                await open_side("unbounded", js, root, UNBOUNDED_MB, protect_s),
            ]
            for side in sides:  # imports and first-use tables, on neither side's account
                await side.build(f"{side.name}-warm-up", PROMPTS[0], seed + scenes)
                side.forget_timings()
            started = time.perf_counter()
            for i in range(scenes):
                prompt = PROMPTS[i % len(PROMPTS)]
                for side in sides if i % 2 == 0 else sides[::-1]:
                    await side.build(f"{side.name}-{i}", prompt, seed + i)
                if (i + 1) % batch == 0 or i + 1 == scenes:
                    for side in sides:
                        side.sample()
                    if progress is not None:
                        progress(i + 1)
            elapsed = time.perf_counter() - started
        finally:
            for side in sides:
                await side.cache.close()
            await nc.close()
            await server.stop()

    bounded, unbounded = sides
    n = min(batch, scenes)

    def rate(side: Side, part: slice = slice(None)) -> float:
        walls = side.wall_s[part]
        return len(walls) / sum(walls)

    result: dict[str, Any] = {
        "scenes": scenes,
        "bound_mb": bound_mb,
        "protect_s": protect_s,
        "elapsed_s": round(elapsed, 1),
        "objects_per_scene": round(statistics.mean(bounded.objects), 2),
    }
    for side in sides:
        result[side.name] = {
            "scenes_per_s": round(rate(side), 3),
            "first_batch_scenes_per_s": round(rate(side, slice(None, n)), 3),
            "last_batch_scenes_per_s": round(rate(side, slice(-n, None)), 3),
            "cpu_last_over_first": {k: round(v, 2) for k, v in cpu_growth(side, n).items()},
            "sweeps": side.sweeps,
            "sweep_cpu_s": round(side.sweep_cpu_s, 2),
            "final_cache_mb": round(side.samples[-1][0], 1),
            "final_entries": side.samples[-1][1],
            "batches": [
                {k: round(v, 3) for k, v in row.items()} for row in batch_rows(side, batch)
            ],
        }
    result["ratio"] = round(rate(bounded) / rate(unbounded), 3)
    result["last_batch_ratio"] = round(
        rate(bounded, slice(-n, None)) / rate(unbounded, slice(-n, None)), 3
    )
    result["target_ratio"] = TARGET_RATIO
    result["ok"] = result["ratio"] >= TARGET_RATIO
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=1000)
    parser.add_argument("--bound-mb", type=int, default=100)
    parser.add_argument("--batch", type=int, default=100, help="scenes per row of the tables")
    parser.add_argument("--protect-s", type=float, default=DEFAULT_PROTECT_S)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    configure_logging(LoggingSettings(level="WARNING"))
    console = Console(stderr=True)

    def progress(done: int) -> None:
        console.print(f"{done} / {args.scenes} scenes on each side")

    result = asyncio.run(
        run(
            args.scenes,
            args.bound_mb,
            protect_s=args.protect_s,
            batch=args.batch,
            seed=args.seed,
            progress=progress,
        )
    )
    print_tables(console, result, args.batch)
    headline = {k: v for k, v in result.items() if k not in ("bounded", "unbounded")}
    for name in ("bounded", "unbounded"):
        headline[name] = {k: v for k, v in result[name].items() if k != "batches"}
    print(json.dumps(headline))


if __name__ == "__main__":
    main()
