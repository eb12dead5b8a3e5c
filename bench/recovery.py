"""Recovery after a backend outage: scenes fail while the image-to-3D server is down,
``holodeck replay --failed`` brings them back, and a backup restores the whole deployment.

1. An embedded stack (its own nats-server, every stage in this process) makes
   ``--scenes`` scenes; meshgen talks to a fake SF3D server over real HTTP that answers
   503 for a stretch in the middle of the run, so roughly a third of the scenes fail with
   ``backend_unavailable`` after their retries.
2. The server comes back; every scene that failed in the window is replayed from where it
   failed (meshgen), reusing the stored layouts and images.
3. The stream and artifacts are backed up, restored into a fresh deployment, and every
   scene's artifacts are read back there.

Reported: scenes recovered / failed, the work the replay redid as a share of what a full
re-run of the failed scenes would redo, replay throughput, backup size and time, restore
time, and the share of scenes the restored deployment serves.

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

from services.recovery_commands import replay_scenes
from services.runtime import WORKERS
from services.stack import nats_endpoint, running_stack
from shared.artifacts import LocalArtifactStore, digest
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
                three_d_generation={"default_backend": "sf3d", "sf3d_url": sf3d.base_url},
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
                sf3d.down = False
                first = await wait_all(js, ids, 1, 600)
                result["first_run_s"] = round(time.monotonic() - started, 1)
                failed = [sid for sid, how in first.items() if how == "failed"]
                result["failed"] = len(failed)
                result["succeeded_first"] = sum(how == "ready" for how in first.values())

                replay_started = time.monotonic()
                report = await replay_scenes(
                    settings, None, None, True, None, None, None, None, False, None, "outage"
                )
                replayed = [item["scene_id"] for item in report["replayed"]]
                second = await wait_all(js, replayed, 2, 600)
                replay_s = time.monotonic() - replay_started
                recovered = sum(how == "ready" for how in second.values())
                # A full re-run would redo every stage the replay reused as well.
                redone = sum(report["redone"].values())
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
                    backend_calls=sf3d.calls,
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
        result.update(await restore_and_serve(Path(work), backup_file, ready))
    result["targets_met"] = {
        "every_failed_scene_recovered": result.get("recovered") == result.get("failed"),
        "only_failed_stages_redone": result.get("redone_share_of_full_rerun", 1) < 0.5,
        "restored_deployment_serves_every_scene": result.get("restored_served_pct") == 100.0,
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
    work: Path, backup_file: Path, ready: dict[str, SceneReady]
) -> dict[str, Any]:
    """Restore into a fresh deployment and read every scene's artifacts back there."""
    settings = load_settings(storage={"workspace": work / "restored"}, logging={"level": "ERROR"})
    started = time.monotonic()
    async with nats_endpoint(settings) as (url, _):
        nc = await connect(url, "holodeck-bench-restore")
        try:
            await restore_backup(
                nc.jetstream(),
                backup_file,
                PASSWORD,
                settings,
                artifacts_dir=settings.storage.root / "artifacts",
            )
            restore_s = time.monotonic() - started
            store = LocalArtifactStore(settings.storage.root / "artifacts")
            served = 0
            for event in ready.values():
                blobs = [await store.get(ref.sha256) for ref in event.artifacts.values()]
                served += all(
                    digest(b) == ref.sha256
                    for b, ref in zip(blobs, event.artifacts.values(), strict=True)
                )
        finally:
            await nc.close()
    return {
        "restore_s": round(restore_s, 2),
        "restored_scenes_served": served,
        "restored_served_pct": round(100 * served / max(len(ready), 1), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=200)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.scenes))), flush=True)


if __name__ == "__main__":
    main()
