"""Services as separate processes against one NATS URL, as an operator runs them."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import nats

from services.stack import request_scene
from shared.bus import free_port

HOLODECK = str(Path(sys.executable).parent / "holodeck")


async def wait_healthy(port: int, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    async with httpx.AsyncClient() as client, asyncio.timeout(timeout):
        while True:
            assert process.poll() is None, f"service on {port} exited with {process.returncode}"
            try:
                if (await client.get(f"http://127.0.0.1:{port}/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)


async def test_separate_processes_finish_a_scene_and_stop_cleanly(nats_server, tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOLODECK_", "HOLDECK_"))}
    env.update(
        NATS_URL=nats_server,
        HOLODECK_STORAGE__ARTIFACT_STORE="nats",
        HOLODECK_LOG_FORMAT="json",
    )
    groups = [["planner"], ["imagegen"], ["imagegen"], ["meshgen", "assembly"]]
    processes: list[tuple[int, subprocess.Popen[bytes]]] = []
    try:
        for i, names in enumerate(groups):
            port = free_port()
            workspace = tmp_path / f"node-{i}"  # no shared disk: artifacts travel over NATS
            process = subprocess.Popen(
                [HOLODECK, "serve", *names, "--metrics-port", str(port)],
                env={**env, "HOLODECK_WORKSPACE": str(workspace)},
                stdout=subprocess.DEVNULL,
                stderr=open(tmp_path / f"node-{i}.log", "wb"),
            )
            processes.append((port, process))
        for port, process in processes:
            await wait_healthy(port, process)

        nc = await nats.connect(nats_server)
        try:
            watch = await request_scene(
                nc, "an office with a desk, a chair and a plant", timeout=60
            )
        finally:
            await nc.close()
        assert watch.ready is not None, watch.failed
        assert watch.object_count == len(watch.meshes)

        async with httpx.AsyncClient() as client:
            metrics = (await client.get(f"http://127.0.0.1:{processes[0][0]}/metrics")).text
        assert 'holodeck_requests_total{endpoint="scene.requested",method="nats",status="ok"}' in (
            metrics
        )
    finally:
        for _, process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        codes = [process.wait(timeout=30) for _, process in processes]
    assert codes == [0] * len(processes), [
        (tmp_path / f"node-{i}.log").read_text()[-1500:] for i, c in enumerate(codes) if c
    ]
