"""Asset benchmark: the procedural backends, scene assembly, and the asset cache.

1. One procedural image (``object_image``) and one textured mesh (``mesh_glb``) per
   shape family (``shapes.CATEGORIES``), for the first catalog category it draws, at
   the catalogue's size, material and colour.
2. ``build_scene_glb`` on planned layouts of 12 and 50 objects (meshes made beforehand).
3. The same prompt and seed built twice through the embedded stack in a fresh
   workspace: cold (empty cache), then warm (every image and mesh from the cache);
   ``--rounds`` pairs, one seed each, and the medians.

    python bench/assets.py [--repeat 5] [--rounds 3] [--seed 0] [--size 512] [--prompt ...]

Prints tables on stderr; the last line on stdout is one JSON object of the headline
figures. Targets on a laptop CPU: a mesh ≤ 20 ms and an image ≤ 50 ms per object, a
50-object assembly ≤ 1 s, a warm rebuild at least 5 × faster than the cold build.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from prometheus_client import REGISTRY
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from services.assembly.scene import build_scene_glb
from services.cli import DEFAULT_PROMPT
from services.imagegen.procedural import object_image
from services.imagegen.work import ImageMaker
from services.meshgen.shapes import CATEGORIES, mesh_glb
from services.meshgen.work import MeshMaker
from services.planner.plan import plan_scene
from services.runtime import WORKERS
from services.stack import Stack, request_scene, running_stack
from shared.cache import AssetCache
from shared.catalog import entries as catalog_entries
from shared.catalog import lookup as catalog_entry
from shared.catalog import slug
from shared.config import Settings, load_settings
from shared.layout import Layout, PlacedObject
from shared.logs import configure_logging

TARGET_MESH_MS = 20.0
TARGET_IMAGE_MS = 50.0
TARGET_ASSEMBLY_50_S = 1.0
TARGET_WARM_SPEEDUP = 5.0
STAGES = ("imagegen", "meshgen")  # the cached ones
PIPELINE = ("planner", "imagegen", "meshgen", "assembly")

# Prompts the planner furnishes with at least 12 and 50 objects.
SCENE_PROMPTS = {
    12: "a living room with a sofa, two armchairs, a coffee table, a tv stand, a tv, "
    "a bookshelf, a floor lamp, a rug, two plants and a side table",
    50: "a huge open-plan loft with three sofas, six armchairs, three coffee tables, "
    "four bookshelves, eight plants, four floor lamps, three rugs, a dining table, "
    "seven chairs, three side tables, a tv stand with a tv, four paintings, a piano, "
    "a pool table, two vases and a clock",
}


def median_ms(action: Callable[[], Any], repeat: int) -> float:
    """Median wall time of ``action`` in milliseconds, after one untimed call."""
    action()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def sample_object(category: str) -> PlacedObject:
    known = catalog_entry(category)
    size = known.size if known else (1.0, 1.0, 1.0)
    material = known.material if known else "wood"
    color = known.color if known else "brown"
    return PlacedObject(
        id=slug(category),
        category=category,
        description=f"a {color} {material} {category}",
        size=size,
        position=(0.0, 0.0, 0.0),
        material=material,
        color=color,
    )


def family_samples() -> dict[str, str]:
    """Each shape family → the first catalog category it draws."""
    samples: dict[str, str] = {}
    for item in catalog_entries():
        samples.setdefault(item.shape, item.name)
    return {family: samples[family] for family in sorted(CATEGORIES) if family in samples}


def per_category(repeat: int, seed: int, size: int) -> dict[str, tuple[float, float]]:
    """Shape family (its sample category) → (image ms, mesh ms)."""
    results: dict[str, tuple[float, float]] = {}
    for family, category in family_samples().items():
        obj = sample_object(category)
        image = object_image(obj, seed, size)
        image_ms = median_ms(partial(object_image, obj, seed, size), repeat)
        mesh_ms = median_ms(partial(mesh_glb, obj.category, obj.size, image), repeat)
        results[f"{family} ({category})" if family != category else family] = (image_ms, mesh_ms)
    return results


def layout_of(count: int) -> Layout:
    """A planned layout of exactly ``count`` objects (surplus ones nothing stands on dropped)."""
    layout = plan_scene(SCENE_PROMPTS[count], 0)
    objects = list(layout.objects)
    if len(objects) < count:
        raise SystemExit(f"the planner placed {len(objects)} objects, not {count}")
    parents = {o.parent for o in objects if o.parent}
    while len(objects) > count:
        objects.remove(next(o for o in reversed(objects) if o.id not in parents))
    return layout.model_copy(update={"objects": objects})


def assembly(count: int, repeat: int, seed: int, size: int) -> tuple[float, int]:
    """(median seconds of build_scene_glb, GLB bytes) for ``count`` objects."""
    layout = layout_of(count)
    meshes = {
        o.id: mesh_glb(o.category, o.size, object_image(o, seed, size)) for o in layout.objects
    }
    glb = build_scene_glb(layout, meshes)
    return median_ms(lambda: build_scene_glb(layout, meshes), repeat) / 1000, len(glb)


def cache_lookups() -> dict[str, dict[str, float]]:
    return {
        stage: {
            result: REGISTRY.get_sample_value(
                "holodeck_cache_lookups_total", {"stage": stage, "result": result}
            )
            or 0.0
            for result in ("hit", "miss")
        }
        for stage in STAGES
    }


async def attach_cache(stack: Stack, settings: Settings) -> AssetCache | None:
    """Give the stack's image and mesh makers the shared cache, the way the runtime does.

    Returns the cache when this function opened it (the caller closes it), None when the
    service host already runs with one.
    """
    makers = [r.work for r in stack.host.runners if isinstance(r.work, ImageMaker | MeshMaker)]
    if all(m.cache is not None for m in makers):
        return None
    cache = await AssetCache.open(stack.host.js, stack.host.store, settings.performance)
    for maker in makers:
        maker.cache = cache
    return cache


@dataclass
class Build:
    """One build of the scene: its timings and the cache lookups it made."""

    phase: str
    seed: int
    objects: int
    timings: dict[str, float]
    lookups: dict[str, dict[str, int]]


async def cold_and_warm(prompt: str, seed: int, rounds: int) -> list[Build]:
    """The same scene built twice per round in one fresh workspace: cold, then warm.

    Each round uses its own seed, so its cold build finds none of its images or meshes
    in the cache (other rounds' entries have other keys), and its warm build all of them.
    """
    workspace = Path(tempfile.mkdtemp(prefix="holodeck-bench-assets-"))
    settings = load_settings(storage={"workspace": workspace}, logging={"level": "WARNING"})
    configure_logging(settings.logging)
    builds: list[Build] = []
    async with running_stack(settings, WORKERS) as stack:
        opened = await attach_cache(stack, settings)
        try:
            # Warm the process (thread pool, first imports), not the cache: another room.
            await request_scene(stack.nc, "a small bathroom with a toilet", seed=seed + 9999)
            for round_seed in range(seed, seed + rounds):
                for phase in ("cold", "warm"):
                    before = cache_lookups()
                    watch = await request_scene(stack.nc, prompt, seed=round_seed)
                    if watch.ready is None:
                        raise SystemExit(f"{phase} build failed: {watch.failed}")
                    after = cache_lookups()
                    lookups = {
                        stage: {r: int(after[stage][r] - before[stage][r]) for r in ("hit", "miss")}
                        for stage in STAGES
                    }
                    builds.append(
                        Build(phase, round_seed, watch.object_count, watch.timings(), lookups)
                    )
        finally:
            if opened is not None:
                await opened.close()
    return builds


def summed(builds: list[Build], phase: str) -> dict[str, dict[str, int]]:
    """Cache hits and misses per stage over every build of ``phase``."""
    return {
        stage: {
            r: sum(b.lookups[stage][r] for b in builds if b.phase == phase) for r in ("hit", "miss")
        }
        for stage in STAGES
    }


def cached_stages_s(build: Build) -> float:
    return sum(build.timings.get(f"{stage}_s", 0.0) for stage in STAGES)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", type=int, default=512, help="image size in pixels")
    parser.add_argument("--prompt", default=DEFAULT_PROMPT)
    parser.add_argument("--rounds", type=int, default=3, help="cold + warm pairs, one seed each")
    args = parser.parse_args()
    console = Console(stderr=True, width=max(Console(stderr=True).width, 120))

    objects = per_category(args.repeat, args.seed, args.size)
    table = Table(title=f"per shape family ({args.size} px images, median of {args.repeat})")
    table.add_column("family (category)")
    table.add_column("image (ms)", justify="right")
    table.add_column("mesh (ms)", justify="right")
    for category, (image_ms, mesh_ms) in objects.items():
        table.add_row(category, f"{image_ms:.1f}", f"{mesh_ms:.1f}")
    image_times = [v[0] for v in objects.values()]
    mesh_times = [v[1] for v in objects.values()]
    table.add_row(
        "median", f"{statistics.median(image_times):.1f}", f"{statistics.median(mesh_times):.1f}"
    )
    table.add_row("max", f"{max(image_times):.1f}", f"{max(mesh_times):.1f}")
    console.print(table)

    assembled = {n: assembly(n, args.repeat, args.seed, args.size) for n in SCENE_PROMPTS}
    table = Table(title="scene assembly (build_scene_glb)")
    table.add_column("objects", justify="right")
    table.add_column("seconds", justify="right")
    table.add_column("GLB (MB)", justify="right")
    for n, (seconds, size) in assembled.items():
        table.add_row(str(n), f"{seconds:.3f}", f"{size / 1e6:.1f}")
    console.print(table)

    builds = asyncio.run(cold_and_warm(args.prompt, args.seed, args.rounds))
    table = Table(title=f"the same scene twice per seed ({builds[0].objects} objects)")
    table.add_column("build")
    table.add_column("seed", justify="right")
    table.add_column("end to end (s)", justify="right")
    for stage in PIPELINE:
        table.add_column(f"{stage} (s)", justify="right")
    table.add_column("hits/lookups", justify="right")
    for build in builds:
        hits = " ".join(f"{c['hit']}/{c['hit'] + c['miss']}" for c in build.lookups.values())
        stage_times = [f"{build.timings.get(f'{s}_s', float('nan')):.3f}" for s in PIPELINE]
        table.add_row(
            build.phase, str(build.seed), f"{build.timings['total_s']:.3f}", *stage_times, hits
        )
    console.print(table)
    console.print("hits/lookups: imagegen then meshgen")
    cold_s = statistics.median(b.timings["total_s"] for b in builds if b.phase == "cold")
    warm_s = statistics.median(b.timings["total_s"] for b in builds if b.phase == "warm")
    # The cached stages alone (imagegen + meshgen), without the planner and assembly,
    # which run in full in both builds.
    cold_cached_s = statistics.median(cached_stages_s(b) for b in builds if b.phase == "cold")
    warm_cached_s = statistics.median(cached_stages_s(b) for b in builds if b.phase == "warm")

    speedup = cold_s / warm_s if warm_s > 0 else float("inf")
    image_max, mesh_max = max(image_times), max(mesh_times)
    assembly_50 = assembled[50][0]
    result = {
        "image_ms_median": round(statistics.median(image_times), 2),
        "image_ms_max": round(image_max, 2),
        "mesh_ms_median": round(statistics.median(mesh_times), 2),
        "mesh_ms_max": round(mesh_max, 2),
        "assembly_12_s": round(assembled[12][0], 4),
        "assembly_50_s": round(assembly_50, 4),
        "cold_s_median": round(cold_s, 4),
        "warm_s_median": round(warm_s, 4),
        "warm_speedup": round(speedup, 2),
        "cached_stages_cold_s": round(cold_cached_s, 4),
        "cached_stages_warm_s": round(warm_cached_s, 4),
        "cached_stages_speedup": round(cold_cached_s / warm_cached_s, 2),
        "cold_cache": summed(builds, "cold"),
        "warm_cache": summed(builds, "warm"),
        "targets_met": {
            "image": image_max <= TARGET_IMAGE_MS,
            "mesh": mesh_max <= TARGET_MESH_MS,
            "assembly_50": assembly_50 <= TARGET_ASSEMBLY_50_S,
            "warm_speedup": speedup >= TARGET_WARM_SPEEDUP,
        },
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
