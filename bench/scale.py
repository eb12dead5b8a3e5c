"""Scale benchmark: how the cost of a scene grows with its number of objects.

For each size (11, 50, 201 and 500 objects by default, open-plan offices whose prompt
names every object: desks, office chairs, computer monitors, table lamps, plants):

- planner: the solve of the prompt (understanding and layout), and of a dining hall of
  the same size (tables with eight chairs each) as a second kind of room;
- assembly: the layout and one mesh per object are published on a real JetStream
  stream, and the assembly work is called for each ``mesh.ready`` as it arrives (as the
  stage runner calls it); the time of each call is taken. The calls before the last
  only decide that the scene is not complete yet: their cost must stay flat as the
  scene grows. The last call builds scene.glb and the floor plan.

Then a scene of each ``--e2e-objects`` size goes end to end through the embedded
stack, as ``holodeck build`` runs it (planner.max_objects raised to fit it). The
planner's times are CPU seconds (with wall-clock ones beside): on a shared machine they
say what the code costs; end to end is wall-clock, with the CPU the services used.

    python bench/scale.py [--sizes 11,50,201,500] [--e2e-objects 50,500] [--no-e2e]

The last line is one JSON object; its targets: the largest scene end to end within
5 s, and assembly's per-mesh cost flat (the largest scene's mean within twice the
smallest's).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import nats
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from services.assembly.work import Assembler
from services.meshgen.shapes import mesh_glb
from services.planner.plan import scene_spec
from services.planner.solver import solve
from services.runtime import WORKERS
from services.stack import request_scene, running_stack
from shared.artifacts import ArtifactRef, LocalArtifactStore
from shared.bus import EmbeddedNats, provision
from shared.config import load_settings
from shared.contract import LayoutReady, MeshReady, Subject, encode, msg_id, subject
from shared.history import StreamHistory
from shared.layout import Layout
from shared.logs import configure_logging
from shared.stage import Delivery

E2E_TARGET_S = 5.0
FLAT_RATIO = 2.0  # the largest scene's per-mesh mean may be at most this times the smallest's


def office(n: int) -> str:
    """An open-plan office of exactly ``n`` named objects (n >= 4)."""
    each, plants = divmod(n, 4)
    things = [f"{each} desks", f"{each} office chairs", f"{each} computer monitors"]
    things.append(f"{each} table lamps")
    if plants:
        things.append("a plant" if plants == 1 else f"{plants} plants")
    return f"an office with {', '.join(things[:-1])} and {things[-1]}"


def dining(n: int) -> str:
    """A dining hall of about ``n`` objects: tables of eight chairs, plants for the rest."""
    tables = max(1, n // 10)
    plants = max(1, n - 9 * tables)
    first = "a dining table" if tables == 1 else f"{tables} dining tables"
    return f"a dining room with {first}, {8 * tables} chairs and {plants} plants"


ROOMS = {"office": office, "dining": dining}


def plan(prompt: str) -> tuple[Layout, float, float]:
    """The layout, and the solve's CPU and wall-clock seconds."""
    spec = scene_spec(prompt)
    cpu, wall = time.process_time(), time.perf_counter()
    layout = solve(spec, 0)
    return layout, time.process_time() - cpu, time.perf_counter() - wall


async def assembly_run(
    js: nats.js.JetStreamContext, stream: str, store: LocalArtifactStore, layout: Layout, tag: str
) -> dict[str, float]:
    """Publish the layout, then each mesh in turn, calling the assembly work on each."""
    scene_id = f"scale{tag}"
    ready = LayoutReady(scene_id=scene_id, prompt=tag, layout=layout)
    await js.publish(
        subject(Subject.LAYOUT_READY, scene_id),
        encode(ready),
        headers={"Nats-Msg-Id": msg_id("planner", scene_id)},
    )
    refs: dict[tuple[str, tuple[float, ...]], ArtifactRef] = {}
    for obj in layout.objects:
        key = (obj.category, tuple(obj.size))
        if key not in refs:
            refs[key] = await store.put(mesh_glb(obj.category, obj.size), "model/gltf-binary")
    assembler = Assembler("bench", store, StreamHistory(js, stream))
    count = len(layout.objects)
    calls: list[float] = []
    built = 0
    for obj in layout.objects:
        event = MeshReady(
            scene_id=scene_id,
            object_id=obj.id,
            mesh=refs[(obj.category, tuple(obj.size))],
            object_count=count,
            producer="bench",
        )
        ack = await js.publish(
            subject(Subject.MESH_READY, scene_id, obj.id),
            encode(event),
            headers={"Nats-Msg-Id": msg_id("meshgen", scene_id, obj.id)},
        )
        delivery = Delivery(
            subject=subject(Subject.MESH_READY, scene_id, obj.id),
            stream_seq=ack.seq,
            stored_at=datetime.now(UTC),
            attempt=1,
        )
        start = time.perf_counter()
        outputs = await assembler(event, delivery)
        calls.append(time.perf_counter() - start)
        built += len(outputs)
    if built != 1:
        raise SystemExit(f"assembly of {count} objects published {built} scene.ready, not 1")
    waiting = calls[:-1] or [0.0]
    return {
        "objects": count,
        "per_mesh_mean_ms": round(1000 * statistics.mean(waiting), 3),
        "per_mesh_max_ms": round(1000 * max(waiting), 3),
        "build_s": round(calls[-1], 3),
        "total_s": round(sum(calls), 3),
    }


async def assembly_all(layouts: dict[int, Layout]) -> dict[int, dict[str, float]]:
    workspace = Path(tempfile.mkdtemp(prefix="holodeck-scale-"))
    settings = load_settings(storage={"workspace": workspace}, logging={"level": "WARNING"})
    server = EmbeddedNats(store_dir=workspace / "nats")
    await server.start()
    nc = await nats.connect(server.url)
    try:
        js = nc.jetstream()
        await provision(js, settings.nats)
        store = LocalArtifactStore(workspace / "artifacts")
        out = {}
        for n, layout in layouts.items():
            out[n] = await assembly_run(js, settings.nats.stream, store, layout, str(n))
        return out
    finally:
        await nc.close()
        await server.stop()


async def end_to_end(objects: int, room: str, timeout: float) -> dict[str, float]:
    """One scene through the embedded stack: seconds per stage, and the CPU seconds this
    process used meanwhile (the services; nats-server runs apart)."""
    workspace = Path(tempfile.mkdtemp(prefix="holodeck-scale-e2e-"))
    settings = load_settings(
        storage={"workspace": workspace},
        logging={"level": "WARNING"},
        planner={"max_objects": max(objects, 150)},
    )
    started = time.perf_counter()
    async with running_stack(settings, WORKERS) as stack:
        up = time.perf_counter() - started
        cpu = time.process_time()
        watch = await request_scene(stack.nc, ROOMS[room](objects), timeout=timeout)
        cpu = time.process_time() - cpu
    if watch.ready is None:
        raise SystemExit(f"the {objects}-object scene did not finish: {watch.failed}")
    timings = watch.timings()
    # Images and meshes overlap: from the layout to the last mesh, per object.
    made = timings.get("imagegen_s", 0.0) + timings.get("meshgen_s", 0.0)
    return {
        "objects": watch.object_count,
        "stack_up_s": round(up, 3),
        "cpu_s": round(cpu, 3),
        "images_and_meshes_per_object_ms": round(1000 * made / max(watch.object_count, 1), 3),
        **timings,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="11,50,201,500")
    parser.add_argument("--e2e-objects", default="50,500", help="scene sizes end to end")
    parser.add_argument("--e2e-room", choices=sorted(ROOMS), default="office")
    parser.add_argument("--no-e2e", action="store_true")
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    console = Console(stderr=True)
    settings = load_settings(logging={"level": "WARNING"})
    configure_logging(settings.logging)

    layouts: dict[int, Layout] = {}
    planner: dict[int, dict[str, float]] = {}
    for n in sizes:
        layout, office_cpu, office_wall = plan(office(n))
        hall, dining_cpu, dining_wall = plan(dining(n))
        layouts[n] = layout
        planner[n] = {
            "office_objects": len(layout.objects),
            "office_cpu_s": round(office_cpu, 3),
            "office_s": round(office_wall, 3),
            "dining_objects": len(hall.objects),
            "dining_cpu_s": round(dining_cpu, 3),
            "dining_s": round(dining_wall, 3),
        }
    assembly = asyncio.run(assembly_all(layouts))

    table = Table(title="cost by scene size (planner: CPU seconds, wall in brackets)")
    for column in ("objects", "planner office", "planner dining", "assembly per mesh (ms)"):
        table.add_column(column, justify="right")
    for column in ("max (ms)", "build (s)", "assembly (s)"):
        table.add_column(column, justify="right")
    for n in sizes:
        p, a = planner[n], assembly[n]
        table.add_row(
            str(a["objects"]),
            f"{p['office_cpu_s']:.2f} ({p['office_s']:.2f})",
            f"{p['dining_cpu_s']:.2f} ({p['dining_s']:.2f})",
            f"{a['per_mesh_mean_ms']:.3f}",
            f"{a['per_mesh_max_ms']:.2f}",
            f"{a['build_s']:.3f}",
            f"{a['total_s']:.3f}",
        )
    console.print(table)

    e2e: dict[str, dict[str, float]] = {}
    if not args.no_e2e:
        for objects in (int(n) for n in args.e2e_objects.split(",")):
            run = asyncio.run(end_to_end(objects, args.e2e_room, args.timeout))
            e2e[str(objects)] = run
            stages = " ".join(
                f"{s} {run[f'{s}_s']:.2f} s"
                for s in ("planner", "imagegen", "meshgen", "assembly")
                if f"{s}_s" in run
            )
            console.print(
                f"end to end, {run['objects']} objects: {run['total_s']:.2f} s ({stages}); "
                f"{run['cpu_s']:.2f} s of CPU in the services' process; images and meshes "
                f"{run['images_and_meshes_per_object_ms']:.1f} ms per object"
            )

    smallest, largest = assembly[sizes[0]], assembly[sizes[-1]]
    ratio = largest["per_mesh_mean_ms"] / max(smallest["per_mesh_mean_ms"], 1e-9)
    targets = {"assembly_per_mesh_flat": ratio <= FLAT_RATIO}
    if e2e:
        biggest = max(e2e, key=int)
        targets[f"e2e_{biggest}_within_{E2E_TARGET_S:g}s"] = e2e[biggest]["total_s"] <= E2E_TARGET_S
    summary = {
        "sizes": sizes,
        "planner": {str(n): planner[n] for n in sizes},
        "assembly": {str(n): assembly[n] for n in sizes},
        "assembly_per_mesh_ratio": round(ratio, 2),
        "e2e": e2e,
        "targets_met": targets,
    }
    print(json.dumps(summary, sort_keys=True))


if __name__ == "__main__":
    main()
