"""Backend pool benchmark: images per second through one ComfyUI image backend over 1 and
over 3 ComfyUI servers that each run one prompt at a time.

The servers are the test fake of ComfyUI (``tests/fakes``): real HTTP and WebSocket on
loopback, one prompt at a time, each prompt's sampling taking ``--latency`` seconds.
``--workers`` callers ask for images at once, as that many worker slots
(``HOLDECK_WORKERS`` across imagegen replicas) would; every image is a different object,
so the fake's node cache never answers. Each pool size gets fresh servers.

    python bench/backend_pool.py [--latency 0.5] [--images 24] [--workers 8] [--servers 1,3]

Per pool size it prints the images, the seconds, images per second and how the prompts
spread over the servers. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from services.imagegen.comfyui import ComfyUIImages
from shared.config import LoggingSettings
from shared.layout import PlacedObject
from shared.logs import configure_logging
from tests.fakes.comfyui_server import FakeComfyUI, Scenario

SIZE = 64


def chair(k: int) -> PlacedObject:
    return PlacedObject(
        id=f"chair-{k}",
        category="armchair",
        description=f"lounge chair number {k}",
        size=(0.8, 0.9, 0.8),
        position=(1.0, 0.0, 1.0),
    )


async def one_pool(servers: int, latency: float, images: int, workers: int) -> dict[str, Any]:
    async with contextlib.AsyncExitStack() as stack:
        fakes = [
            await stack.enter_async_context(FakeComfyUI(Scenario(run_seconds=lambda: latency)))
            for _ in range(servers)
        ]
        backend = ComfyUIImages([fake.base_url for fake in fakes], negative_prompt="")
        todo = iter(range(images))

        async def worker() -> None:
            for k in todo:
                await backend.generate(chair(k), seed=k, size=SIZE)

        try:
            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(workers)))
            seconds = time.perf_counter() - started
        finally:
            await backend.close()
    return {
        "servers": servers,
        "images": images,
        "seconds": round(seconds, 3),
        "images_per_s": round(images / seconds, 3),
        "prompts_per_server": [len(fake.calls("POST", "/prompt")) for fake in fakes],
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    configure_logging(LoggingSettings(level="ERROR"))
    sizes = [int(n) for n in args.servers.split(",")]
    results = [await one_pool(n, args.latency, args.images, args.workers) for n in sizes]
    table = Table(title=f"{args.images} images, {args.workers} workers, {args.latency} s each")
    for column in ("servers", "seconds", "images/s", "prompts per server"):
        table.add_column(column)
    for r in results:
        table.add_row(
            str(r["servers"]),
            f"{r['seconds']:.2f}",
            f"{r['images_per_s']:.2f}",
            " ".join(map(str, r["prompts_per_server"])),
        )
    Console(stderr=True).print(table)
    by_size = {str(r["servers"]): r for r in results}
    summary: dict[str, Any] = {
        "latency_s": args.latency,
        "images": args.images,
        "workers": args.workers,
        "pools": by_size,
    }
    if len(results) > 1:
        summary["speedup"] = round(results[-1]["images_per_s"] / results[0]["images_per_s"], 2)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.5, help="seconds per prompt")
    parser.add_argument("--images", type=int, default=24)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--servers", default="1,3", help="pool sizes, comma-separated")
    args = parser.parse_args()
    logging.getLogger("uvicorn").setLevel(logging.ERROR)
    print(json.dumps(asyncio.run(run(args))))


if __name__ == "__main__":
    main()
