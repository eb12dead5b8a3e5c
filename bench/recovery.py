"""Recovery after a backend outage: scenes fail while the image-to-3D server is down,
``holodeck replay --failed`` brings them back, and a backup restores the whole deployment.

1. An embedded stack (its own nats-server, every stage in this process) makes
   ``--scenes`` scenes; meshgen talks to a fake SF3D server over real HTTP that answers
   500 while the middle third of the scenes is made, so roughly a third of the scenes fail
   in meshgen after their retries (the breaker's cooldown is cut to 1 s, so the outage
   ends when the server is back).
2. The server comes back; every scene that failed in the window is replayed from where it
   failed (meshgen), reusing the stored layouts and images.
3. The stream and artifacts are backed up and restored into a fresh deployment (its own
   nats-server and workspace), the gateway's projection is rebuilt there, and that
   gateway is asked for every scene: SUCCEEDED, each file served with its digest.

Reported: scenes recovered / failed (and succeeded in the end / total), the work the
replay redid (stage runs per object, and assembly per scene) as a share of what a full
re-run of the failed scenes would redo, which stages it redid (target: meshgen alone),
replay throughput, backup size and time, restore time, and the share of all scenes the
restored deployment serves.

    python bench/recovery.py [--scenes 200]

The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx

from services.gateway.api import create_app
from services.gateway.projection import Projection
from services.gateway.projector import rebuild
from services.gateway.requests import JetStreamRequests, KeyValueKeys, SceneRequests
from services.recovery_commands import replay_scenes
from services.runtime import WORKERS, open_store
from services.stack import nats_endpoint, running_stack
from shared.artifacts import digest
from shared.backup import make_backup, restore_backup
from shared.bus import connect
from shared.config import load_settings
from shared.contract import (
    SceneReady,
    SceneRequested,
    Subject,
    encode,
    parse_event,
    subject,
)
from shared.history import StreamHistory
from shared.logs import configure_logging
from tests.fakes.image_to_3d import FakeSF3D

PROMPTS = [
    "a small office with a desk, an office chair and a lamp",
    "a bedroom with a bed, a nightstand and a wardrobe",
    "a reading corner with an armchair, a floor lamp and a bookshelf",
    "a kitchen with a fridge, a stove and a sink",
]
GAP_S = 0.05  # between two requests
COOLDOWN_S = 1.0  # how long the breaker keeps the image-to-3D server out after failures
PASSWORD = "bench-recovery"


class OutageSF3D(FakeSF3D):
    """SF3D that answers 503 while ``down`` is set."""

    def __init__(self) -> None:
        super().__init__("ok", retry_after=None)
        self.down = False
        self.calls = 0

    def _next(self) -> str:
        self.calls += 1
        return "server_error" if self.down else "ok"


async def ends(js: Any, scene_ids: list[str], attempt: int) -> dict[str, str]:
    """How each scene's ``attempt`` ended so far: ``ready`` / ``failed`` (absent: not yet)."""
    found: dict[str, str] = {}
    for root, label in ((Subject.SCENE_READY, "ready"), (Subject.SCENE_FAILED, "failed")):
        sub = await js.subscribe(f"{root}.*", ordered_consumer=True)
        try:
            info = await js.stream_info("HOLODECK", subjects_filter=f"{root}.*")
            if not info.state.subjects:
                continue
            while True:
                msg = await sub.next_msg(timeout=2)
                event = parse_event(msg.subject, msg.data)
                if event.attempt == attempt and event.scene_id in scene_ids:
                    found.setdefault(event.scene_id, label)
                if msg.metadata.num_pending == 0:
                    break
        finally:
            await sub.unsubscribe()
    return found


async def wait_all(js: Any, scene_ids: list[str], attempt: int, bound: float) -> dict[str, str]:
    deadline = time.monotonic() + bound
    while True:
        found = await ends(js, scene_ids, attempt)
        if len(found) == len(scene_ids) or time.monotonic() > deadline:
            return found
        await asyncio.sleep(1.0)


async def run(scenes: int) -> dict[str, Any]:
    result: dict[str, Any] = {"scenes": scenes}
    with tempfile.TemporaryDirectory(prefix="holodeck-recovery-") as work:
        async with OutageSF3D() as sf3d:
            settings = load_settings(
                storage={"workspace": Path(work) / "workspace"},
                three_d_generation={
                    "default_backend": "sf3d",
                    "sf3d_url": sf3d.base_url,
                    # The outage is the bench's: the breaker keeps a server out no longer.
                    "circuit_cooldown_s": COOLDOWN_S,
                },
                nats={"max_deliver": 3, "retry_base_delay_s": 0.05, "retry_max_delay_s": 0.2},
                logging={"level": "ERROR"},
            )
            configure_logging(settings.logging)
            async with running_stack(settings, WORKERS) as stack:
                js = stack.nc.jetstream()
                ids = [f"rec-{k:04d}-{random.randrange(16**6):06x}" for k in range(scenes)]
                started = time.monotonic()
                thirds = [ids[: scenes // 3], ids[scenes // 3 : 2 * scenes // 3]]
                thirds.append(ids[2 * scenes // 3 :])
                for part, batch in enumerate(thirds):
                    # The backend is down while the middle third is made: each third is
                    # waited for, so the outage meets exactly the middle third.
                    sf3d.down = part == 1
                    for sid in batch:
                        k = ids.index(sid)
                        request = SceneRequested(
                            scene_id=sid, prompt=PROMPTS[k % len(PROMPTS)], options={"seed": k}
                        )
                        await js.publish(subject(Subject.SCENE_REQUESTED, sid), encode(request))
                        await asyncio.sleep(GAP_S)
                    if part < 2:
                        await wait_all(js, batch, 1, 600)
                    if part == 1:
                        sf3d.down = False
                        await asyncio.sleep(COOLDOWN_S * 1.5)  # the server is back in use
                sf3d.down = False
                first = await wait_all(js, ids, 1, 600)
                result["first_run_s"] = round(time.monotonic() - started, 1)
                failed = [sid for sid, how in first.items() if how == "failed"]
                result["failed"] = len(failed)
                result["succeeded_first"] = sum(how == "ready" for how in first.values())

                calls_before = sf3d.calls
                replay_started = time.monotonic()
                report = await replay_scenes(
                    settings, None, None, True, None, None, None, None, False, None, "outage"
                )
                replayed = [item["scene_id"] for item in report["replayed"]]
                second = await wait_all(js, replayed, 2, 600)
                replay_s = time.monotonic() - replay_started
                recovered = sum(how == "ready" for how in second.values())
                # A full re-run would redo every stage the replay reused as well; each
                # replayed scene is assembled again either way.
                redone = sum(report["redone"].values()) + len(replayed)
                reused = sum(report["reused"].values())
                result.update(
                    replayed=len(replayed),
                    recovered=recovered,
                    recovered_pct=round(100 * recovered / max(len(failed), 1), 1),
                    replay_s=round(replay_s, 1),
                    replay_scenes_per_s=round(len(replayed) / replay_s, 2) if replay_s else None,
                    redone_stage_objects=redone,
                    reused_stage_objects=reused,
                    redone_share_of_full_rerun=round(redone / max(redone + reused, 1), 3),
                    redone_by_stage=report["redone"],
                    reused_by_stage=report["reused"],
                    replay_backend_calls=sf3d.calls - calls_before,
                    recovered_of_total=f"{result['succeeded_first'] + recovered}/{scenes}",
                )
                backup_file = Path(work) / "deployment.hdbk"
                made = await make_backup(
                    js,
                    backup_file,
                    PASSWORD,
                    settings,
                    artifacts_dir=settings.storage.root / "artifacts",
                )
                result["backup_mb"] = round(made.size_bytes / 1e6, 2)
                result["backup_s"] = round(made.seconds, 2)
                ready = await newest_ready(js, ids)
        result.update(await restore_and_serve(Path(work), backup_file, ids, ready))
    result["targets_met"] = {
        "every_failed_scene_recovered": result.get("recovered") == result.get("failed"),
        # The outage was meshgen's: planning and images are reused, not made again.
        "only_failed_stages_redone": set(result.get("redone_by_stage", {"?": 0})) == {"meshgen"},
        "restored_deployment_serves_every_scene": result.get("restored_served") == scenes,
    }
    return result


async def newest_ready(js: Any, scene_ids: list[str]) -> dict[str, SceneReady]:
    """Each scene's newest ``scene.ready`` (its last attempt's artifacts)."""
    found: dict[str, SceneReady] = {}
    history = StreamHistory(js, "HOLODECK")
    for sid in scene_ids:
        event = await history.newest(subject(Subject.SCENE_READY, sid), SceneReady)
        if event is not None:
            found[sid] = event
    return found


async def restore_and_serve(
    work: Path, backup_file: Path, ids: list[str], ready: dict[str, SceneReady]
) -> dict[str, Any]:
    """Restore into a fresh deployment, rebuild the gateway's projection as ``holodeck
    restore`` does, and ask that gateway for every scene: SUCCEEDED, and its files served
    with the digests the original deployment made."""
    settings = load_settings(storage={"workspace": work / "restored"}, logging={"level": "ERROR"})
    started = time.monotonic()
    async with nats_endpoint(settings) as (url, _):
        nc = await connect(url, "holodeck-bench-restore")
        try:
            js = nc.jetstream()
            await restore_backup(
                js,
                backup_file,
                PASSWORD,
                settings,
                artifacts_dir=settings.storage.root / "artifacts",
            )
            projection = await Projection(settings.database_url).open()
            try:
                await projection.reset()
                await rebuild(js, settings.nats.stream, projection)
                restore_s = time.monotonic() - started
                app = create_app(
                    projection,
                    await open_store(settings, js),
                    SceneRequests(
                        JetStreamRequests(js, settings.nats.stream), KeyValueKeys(js, 60)
                    ),
                )
                served = 0
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
                    for sid in ids:
                        served += await serves(client, sid, ready.get(sid))
            finally:
                await projection.close()
        finally:
            await nc.close()
    return {
        "restore_s": round(restore_s, 2),
        "restored_served": served,
        "restored_served_pct": round(100 * served / max(len(ids), 1), 1),
    }


async def serves(client: httpx.AsyncClient, scene_id: str, ready: SceneReady | None) -> bool:
    """Whether the gateway shows the scene SUCCEEDED and serves each of its files as made."""
    if ready is None:
        return False
    view = await client.get(f"/v1/scenes/{scene_id}")
    if view.status_code != 200 or view.json()["status"] != "SUCCEEDED":
        return False
    for name, ref in ready.artifacts.items():
        got = await client.get(f"/v1/scenes/{scene_id}/artifacts/{name}")
        if got.status_code != 200 or digest(got.content) != ref.sha256:
            return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=200)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.scenes))), flush=True)


if __name__ == "__main__":
    main()
