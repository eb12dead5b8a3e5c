"""Meshgen on the Hunyuan3D-2 backend inside the pipeline, against a fake server that
runs one job at a time on a blocked event loop, as the real ``api_server`` does."""

from __future__ import annotations

from typing import Any

import pytest

from shared.contract import MeshReady, SceneFailed, SceneReady, Subject, encode, subject
from tests.fakes.image_to_3d import FakeHunyuan3D
from tests.integration.test_pipeline import collecting, hosting, layout_event, publish

# Nine different objects: no two share a cached mesh, so each needs its own job.
NINE_OBJECTS = (
    "a living room with a sofa, an armchair, a coffee table, a tv stand, a bookshelf, "
    "a floor lamp, a rug, a plant and a side table"
)
# Each job alone takes well under the timeout; four queued in the server would not.
JOB_SECONDS = 0.3
TIMEOUT = 0.75


def hunyuan_settings(settings: Any, url: str, mode: str, workers: int) -> Any:
    return settings.model_copy(
        update={
            "three_d_generation": settings.three_d_generation.model_copy(
                update={
                    "default_backend": "hunyuan3d",
                    "hunyuan3d_url": url,
                    "hunyuan3d_mode": mode,
                    "hunyuan3d_poll_interval": 0.05,
                    "timeout": TIMEOUT,
                }
            ),
            "performance": settings.performance.model_copy(update={"concurrent_workers": workers}),
        }
    )


@pytest.mark.parametrize("mode", ["sync", "auto"])
async def test_nine_objects_through_a_one_at_a_time_server_with_four_workers(
    settings, nats_server, unique, mode
):
    layout = layout_event(unique, NINE_OBJECTS)
    assert len(layout.layout.objects) == 9
    async with FakeHunyuan3D(job_seconds=JOB_SECONDS) as fake:
        configured = hunyuan_settings(settings, fake.base_url, mode, workers=4)
        async with (
            hosting(configured, nats_server, "imagegen", "meshgen", "assembly"),
            collecting(
                nats_server,
                f"{Subject.SCENE_READY}.{unique}",
                f"{Subject.SCENE_FAILED}.{unique}",
                f"{Subject.MESH_READY}.{unique}.*",
            ) as (nc, got),
        ):
            await publish(nc, subject(Subject.LAYOUT_READY, unique), encode(layout))
            await got.wait(
                lambda ev: any(isinstance(e, SceneReady | SceneFailed) for e in ev), timeout=60
            )

    assert got.of(SceneFailed) == []
    assert len(got.of(SceneReady)) == 1
    assert {e.object_id for e in got.of(MeshReady)} == {o.id for o in layout.layout.objects}
    assert fake.jobs_started == 9
    assert fake.most_running == 1
    posts = [r.path for r in fake.requests if r.method == "POST"]
    if mode == "sync":
        assert set(posts) == {"/generate"}
    else:
        assert "/send" in posts  # objects queued behind another went asynchronously
