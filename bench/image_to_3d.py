"""Image-to-3D benchmark: one scene's meshes from a Hunyuan3D-2 server that runs one job
at a time, through the embedded stack with several meshgen workers.

The server is the test fake of Hunyuan3D-2's ``api_server`` (``tests/fakes``): every
job takes ``--job-seconds``, ``/generate`` blocks the server's event loop, ``/send`` runs
the job on a thread. Each mode gets a fresh workspace (no cache hits) and a fresh server:

- ``sync``, ``async``, ``auto``: the configured ``three_d_generation.hunyuan3d_mode``
  with the default per-server bound (``hunyuan3d_concurrency: 1``);
- ``sync-unbounded`` (with ``--baseline``): sync with no bound, every worker sending at
  once, as the client did before the bound.

    python bench/image_to_3d.py [--job-seconds 2] [--timeout 5] [--workers 4] [--baseline]

Per mode it prints the objects, the jobs the server ran, the most it ran at once, the
requests it got and the scene's time and outcome. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from services.runtime import WORKERS
from services.stack import request_scene, running_stack
from shared.config import load_settings
from shared.logs import configure_logging
from tests.fakes.image_to_3d import FakeHunyuan3D

# Nine different objects, so that no two share a cached mesh.
PROMPT = (
    "a living room with a sofa, an armchair, a coffee table, a tv stand, a bookshelf, "
    "a floor lamp, a rug, a plant and a side table"
)
# How long to let jobs the client abandoned run out before counting them.
SETTLE_S = 60.0


async def one_mode(mode: str, job_seconds: float, timeout: float, workers: int) -> dict[str, Any]:
    workspace = Path(tempfile.mkdtemp(prefix="holodeck-bench-i3d-"))
    unbounded = mode.endswith("-unbounded")
    async with FakeHunyuan3D(job_seconds=job_seconds) as server:
        settings = load_settings(
            storage={"workspace": workspace},
            logging={"level": "ERROR"},
            performance={"concurrent_workers": workers},
            three_d_generation={
                "default_backend": "hunyuan3d",
                "hunyuan3d_url": server.base_url,
                "hunyuan3d_mode": mode.removesuffix("-unbounded"),
                "hunyuan3d_concurrency": 0 if unbounded else 1,
                "timeout": timeout,
            },
        )
        configure_logging(settings.logging)
        async with running_stack(settings, WORKERS) as stack:
            started = time.perf_counter()
            watch = await request_scene(stack.nc, PROMPT, seed=1, timeout=600)
            scene_s = time.perf_counter() - started
        # Jobs the client gave up on go on; count them once the server is done.
        try:
            await server.wait_finished(server.jobs_started, timeout=SETTLE_S)
        except TimeoutError:
            pass
        requests = Counter(r.path if r.method == "POST" else "/status" for r in server.requests)
    outcome = "ready" if watch.ready else "failed"
    if watch.failed:
        outcome += f" ({watch.failed.code})"
    return {
        "mode": mode,
        "objects": watch.object_count,
        "jobs": server.jobs_started,
        "most_at_once": server.most_running,
        "scene": outcome,
        "scene_s": round(scene_s, 2),
        "requests": dict(sorted(requests.items())),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    modes = ["sync", "async", "auto"] + (["sync-unbounded"] if args.baseline else [])
    results = []
    for mode in modes:
        results.append(await one_mode(mode, args.job_seconds, args.timeout, args.workers))
    table = Table(
        title=(
            f"one scene, {args.workers} meshgen workers, {args.job_seconds:g} s per job, "
            f"{args.timeout:g} s timeout"
        )
    )
    for column in ("mode", "objects", "jobs run", "most at once", "scene", "scene s", "requests"):
        table.add_column(column)
    for r in results:
        table.add_row(
            r["mode"],
            str(r["objects"]),
            str(r["jobs"]),
            str(r["most_at_once"]),
            r["scene"],
            f"{r['scene_s']:.2f}",
            " ".join(f"{path}={n}" for path, n in r["requests"].items()),
        )
    Console(stderr=True, width=150).print(table)
    return {
        "job_seconds": args.job_seconds,
        "timeout_s": args.timeout,
        "workers": args.workers,
        "modes": {r["mode"]: {k: v for k, v in r.items() if k != "mode"} for r in results},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--job-seconds", type=float, default=2.0)
    parser.add_argument("--timeout", type=float, default=5.0)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--baseline", action="store_true", help="also run sync with no bound")
    args = parser.parse_args()
    logging.getLogger("uvicorn").setLevel(logging.ERROR)
    print(json.dumps(asyncio.run(run(args))))


if __name__ == "__main__":
    main()
