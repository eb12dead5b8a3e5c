"""holodeck_scenes_total against the real scene-state bucket: two replicas claiming the
same scene's end, and a claim found again after a redelivery, count the scene once."""

from __future__ import annotations

import nats
from prometheus_client import REGISTRY

from shared.bus import provision
from shared.contract import ArtifactRef, SceneReady, Subject, msg_id, subject
from shared.metrics import SCENE_READY
from shared.stage import Output, StageRunner
from shared.states import KvSceneStates

REF = ArtifactRef(uri="file:///x", sha256="b" * 64, size=1, media_type="model/gltf-binary")


def succeeded() -> float:
    status, reason = SCENE_READY
    labels = {"status": status, "reason": reason}
    return REGISTRY.get_sample_value("holodeck_scenes_total", labels) or 0.0


async def test_a_scene_ready_claimed_twice_in_the_bucket_counts_once(nats_server, settings, unique):
    nc = await nats.connect(nats_server)
    try:
        js = nc.jetstream()
        await provision(js, settings.nats)
        ready = SceneReady(scene_id=unique, artifacts={"scene.glb": REF}, object_count=1)
        out = Output(subject(Subject.SCENE_READY, unique), ready, msg_id("assembly", unique))
        replicas = [
            StageRunner(
                "assembly",
                None,  # type: ignore[arg-type]
                js,
                settings.nats,
                name,
                states=await KvSceneStates.open(js, 3600),
            )
            for name in ("a", "b")
        ]
        before = succeeded()
        for runner in replicas:
            assert await runner._claim_success(unique, [out])
        assert await replicas[0]._claim_success(unique, [out])
        assert succeeded() - before == 1
    finally:
        await nc.close()
