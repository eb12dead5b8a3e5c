"""The time window of ``holodeck replay --failed`` and ``--stage`` on a real nats-server,
judged by when the events happened: in a restored stream every message is stored at the
time of the restore."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import nats

from services.recovery import Recovery
from shared.bus import provision
from shared.contract import (
    STREAM,
    MeshReady,
    SceneFailed,
    Subject,
    encode,
    msg_id,
    subject,
)
from shared.states import SceneState


async def test_a_window_is_judged_by_when_the_events_happened(
    nats_server: str, settings: Any, unique: str
) -> None:
    nc = await nats.connect(nats_server)
    js = nc.jetstream()
    try:
        await provision(js, settings.nats)
        recovery = await Recovery.open(js, STREAM, 3600, "test")
        now = datetime.now(UTC)
        # Published now, as a restore publishes them, but they happened 3 h and 1 h ago.
        happened = {
            f"{unique}-old": now - timedelta(hours=3),
            f"{unique}-hour": now - timedelta(hours=1),
        }
        happened[f"{unique}-new"] = now
        for scene_id, when in happened.items():
            failed = SceneFailed(
                scene_id=scene_id,
                time=when,
                stage="meshgen",
                code="sf3d_unavailable",
                message="down",
            )
            name = subject(Subject.SCENE_FAILED, scene_id)
            mid = msg_id("meshgen", scene_id, None, 1)
            end = SceneState(
                state="FAILED", msg_id=mid, subject=name, event=encode(failed).decode()
            )
            await recovery.states.claim(scene_id, end)
            await js.publish(name, encode(failed), headers={"Nats-Msg-Id": mid})
            mesh = MeshReady.model_validate(
                {
                    "scene_id": scene_id,
                    "time": when,
                    "object_id": "chair-1",
                    "object_count": 1,
                    "mesh": {
                        "uri": "artifact://" + "0" * 64,
                        "sha256": "0" * 64,
                        "size": 1,
                        "media_type": "model/gltf-binary",
                    },
                }
            )
            await js.publish(subject(Subject.MESH_READY, scene_id, "chair-1"), encode(mesh))

        since, until = now - timedelta(hours=2), now - timedelta(minutes=30)
        assert await recovery.failed_scenes(since, until) == [f"{unique}-hour"]
        assert await recovery.failed_scenes(since, None) == [f"{unique}-hour", f"{unique}-new"]
        assert await recovery.failed_scenes(None, until) == [f"{unique}-old", f"{unique}-hour"]
        assert await recovery.touched_by("meshgen", since, until) == [f"{unique}-hour"]
    finally:
        await nc.close()
