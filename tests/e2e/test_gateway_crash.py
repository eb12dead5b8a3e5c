"""The gateway process killed with requests in flight and started again: every request a
client retries with its Idempotency-Key is one scene, whatever the first attempt saw."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import nats
from nats.js import JetStreamContext

from services.gateway.requests import scene_id_for_key
from shared.bus import free_port
from shared.config import NatsSettings
from shared.contract import Subject, subject

HOLODECK = str(Path(sys.executable).parent / "holodeck")
STREAM = NatsSettings().stream


@contextmanager
def gateway_process(
    nats_url: str, workspace: Path, port: int, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOLODECK_", "HOLDECK_"))}
    env.update(NATS_URL=nats_url, HOLODECK_WORKSPACE=str(workspace), HOLODECK_LOG_FORMAT="json")
    process = subprocess.Popen(
        [HOLODECK, "serve", "gateway", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(log, "ab"),
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)


async def wait_healthy(client: httpx.AsyncClient, process: subprocess.Popen[bytes]) -> dict:
    async with asyncio.timeout(30):
        while True:
            assert process.poll() is None, f"gateway exited with {process.returncode}"
            try:
                response = await client.get("/health")
                if response.status_code == 200:
                    return response.json()
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)


async def requests_stored(js: JetStreamContext, scene_id: str) -> int:
    info = await js.stream_info(STREAM, subjects_filter=subject(Subject.SCENE_REQUESTED, scene_id))
    return sum((info.state.subjects or {}).values())


async def post(client: httpx.AsyncClient, key: str) -> tuple[str, int | str, str | None]:
    try:
        response = await client.post(
            "/v1/scenes",
            json={"prompt": f"a room for {key}"},
            headers={"Idempotency-Key": key},
        )
    except httpx.TransportError as exc:
        return key, type(exc).__name__, None
    return key, response.status_code, response.json().get("scene_id")


async def test_requests_cut_off_by_a_crash_are_one_scene_each_after_retry(
    nats_server: str, tmp_path: Path, unique: str
) -> None:
    port = free_port()
    workspace = tmp_path / "gateway"
    log = tmp_path / "gateway.log"
    keys = [f"crash-{unique}-{i}" for i in range(24)]
    nc = await nats.connect(nats_server)
    js = nc.jetstream()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=20) as client:
            with gateway_process(nats_server, workspace, port, log) as first:
                await wait_healthy(client, first)
                # Requests keep coming; the gateway is killed once one has been answered,
                # with the next ones in flight or not yet sent.
                posting: list[asyncio.Task[tuple[str, int | str, str | None]]] = []
                async with asyncio.timeout(30):
                    for key in keys:
                        posting.append(asyncio.create_task(post(client, key)))
                        await asyncio.sleep(0.02)
                        if any(t.done() and t.result()[1] == 202 for t in posting):
                            break
                    while not any(t.done() and t.result()[1] == 202 for t in posting):
                        await asyncio.sleep(0.01)
                first.send_signal(signal.SIGKILL)
                first.wait(timeout=10)
                before = await asyncio.gather(*posting)
            answered = {key: scene for key, code, scene in before if code == 202}
            assert answered, before

            with gateway_process(nats_server, workspace, port, log) as second:
                await wait_healthy(client, second)
                after = await asyncio.gather(*(post(client, key) for key in keys))
                assert {code for _, code, _ in after} == {202}, after
                for key, _, scene_id in after:
                    assert scene_id == scene_id_for_key(key)
                    assert answered.get(key, scene_id) == scene_id
                    assert await requests_stored(js, scene_id) == 1, key
                    # The restarted projection shows every one of them.
                    found = await client.get(f"/v1/scenes/{scene_id}")
                    assert found.status_code == 200, (key, found.text)
                health = await wait_healthy(client, second)
                assert health["projection"]["applied_seq"] >= len(keys)
    finally:
        await nc.close()
