"""SceneWatch, the client side of a build: one attempt of a scene followed to its end."""

from __future__ import annotations

import json

from pydantic import BaseModel

from services.stack import SceneWatch, summary
from shared.contract import (
    ImagesReady,
    LayoutReady,
    MeshReady,
    SceneCancelled,
    SceneFailed,
    SceneReady,
    SceneReplayed,
)
from tests.fakes.scenes import scene_events


def run(scene_id: str) -> list[BaseModel]:
    """The scene's events the watch hears (the work items are imagegen's own)."""
    return [
        event
        for _, event, _ in scene_events(scene_id)
        if isinstance(event, LayoutReady | ImagesReady | MeshReady | SceneReady)
    ]


def test_a_cancelled_scene_is_done_and_says_so() -> None:
    watch = SceneWatch("s1")
    layout, image_a, *_ = run("s1")
    watch.apply(layout)
    watch.apply(image_a)
    assert not watch.done and watch.status == "RUNNING"
    watch.apply(SceneCancelled(scene_id="s1", reason="not needed", requested_by="gateway"))
    assert watch.done and watch.status == "CANCELLED"
    assert watch.cancelled is not None and watch.ready is None and watch.failed is None
    error = watch.cancel_error()
    assert error.code == "cancelled"
    assert error.message == "scene s1 was cancelled by gateway (attempt 1): not needed"
    assert json.loads(summary(watch, {}))["status"] == "CANCELLED"


def test_events_of_another_attempt_are_ignored() -> None:
    watch = SceneWatch("s2")
    layout, *_, ready = run("s2")
    watch.apply(layout)
    watch.apply(SceneCancelled(scene_id="s2", attempt=2))
    watch.apply(ready.model_copy(update={"attempt": 3}))
    watch.apply(SceneFailed(scene_id="s2", attempt=2, stage="meshgen", code="x", message="m"))
    assert not watch.done and watch.attempt == 1


def test_a_replay_moves_the_watch_to_its_attempt() -> None:
    watch = SceneWatch("s3")
    layout, image_a, image_b, mesh_a, mesh_b, ready = run("s3")
    for event in (layout, image_a, image_b, mesh_a):
        watch.apply(event)
    watch.apply(SceneReplayed(scene_id="s3", attempt=2, from_stage="meshgen"))
    assert (watch.attempt, len(watch.images), len(watch.meshes)) == (2, 2, 0)
    assert watch.layout is layout
    watch.apply(ready)  # attempt 1's end, late: not this attempt's
    assert not watch.done
    for event in (mesh_a, mesh_b, ready):
        watch.apply(event.model_copy(update={"attempt": 2}))
    assert watch.status == "SUCCEEDED" and len(watch.meshes) == 2


def test_a_watch_that_ended_stays_with_its_attempt() -> None:
    watch = SceneWatch("s4")
    watch.apply(SceneFailed(scene_id="s4", stage="planner", code="x", message="m"))
    watch.apply(SceneReplayed(scene_id="s4", attempt=2, from_stage="planner"))
    assert (watch.status, watch.attempt) == ("FAILED", 1)
