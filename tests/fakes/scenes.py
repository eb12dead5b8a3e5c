"""A scene's events built by hand, as the services would publish them, for tests of the
projection and the gateway."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel

from shared.contract import (
    ArtifactRef,
    ImagesReady,
    ImageWork,
    LayoutReady,
    MeshReady,
    SceneReady,
    SceneRequested,
    Subject,
    msg_id,
    subject,
)
from shared.layout import Layout, PlacedObject, Room, rectangle

T0 = datetime(2031, 5, 4, 12, 0, tzinfo=UTC)
OBJECTS = ("bed-1", "lamp-1")


def at(seq: int) -> datetime:
    """The storage time the tests give stream sequence ``seq``."""
    return T0 + timedelta(seconds=seq)


def ref_of(content: bytes, media_type: str) -> ArtifactRef:
    sha = hashlib.sha256(content).hexdigest()
    return ArtifactRef(
        uri=f"file:///artifacts/{sha}", sha256=sha, size=len(content), media_type=media_type
    )


def make_layout(object_ids: tuple[str, ...] = OBJECTS) -> Layout:
    room = Room(type="bedroom", polygon=rectangle(4.0, 3.0), height=2.6)
    objects = [
        PlacedObject(
            id=object_id,
            category=object_id.split("-")[0],
            description=f"a wooden {object_id.split('-')[0]}",
            size=(1.0, 0.8, 1.0),
            position=(0.8 + 1.2 * i, 0.0, 1.0),
        )
        for i, object_id in enumerate(object_ids)
    ]
    return Layout(room=room, objects=objects)


def image_bytes(scene_id: str, object_id: str) -> bytes:
    return f"png of {object_id} in {scene_id}".encode()


def mesh_bytes(scene_id: str, object_id: str) -> bytes:
    return f"glb of {object_id} in {scene_id}".encode()


def scene_events(
    scene_id: str, prompt: str = "a cozy bedroom", object_ids: tuple[str, ...] = OBJECTS
) -> list[tuple[str, BaseModel, str]]:
    """A scene's whole run as the services publish it: (subject, event, Nats-Msg-Id)."""
    layout = make_layout(object_ids)
    count = len(layout.objects)
    events: list[tuple[str, BaseModel, str]] = [
        (
            subject(Subject.SCENE_REQUESTED),
            SceneRequested(scene_id=scene_id, prompt=prompt, requested_by="10.0.0.7"),
            msg_id("request", scene_id),
        ),
        (
            subject(Subject.LAYOUT_READY, scene_id),
            LayoutReady(scene_id=scene_id, prompt=prompt, layout=layout),
            msg_id("planner", scene_id),
        ),
    ]
    for obj in layout.objects:
        events.append(
            (
                subject(Subject.IMAGE_WORK, scene_id, obj.id),
                ImageWork(scene_id=scene_id, object_id=obj.id, object=obj, object_count=count),
                msg_id("imagegen-fanout", scene_id, obj.id),
            )
        )
    for obj in layout.objects:
        image = ref_of(image_bytes(scene_id, obj.id), "image/png")
        events.append(
            (
                subject(Subject.IMAGES_READY, scene_id, obj.id),
                ImagesReady(
                    scene_id=scene_id, object_id=obj.id, object=obj, image=image, object_count=count
                ),
                msg_id("imagegen", scene_id, obj.id),
            )
        )
    for obj in layout.objects:
        mesh = ref_of(mesh_bytes(scene_id, obj.id), "model/gltf-binary")
        events.append(
            (
                subject(Subject.MESH_READY, scene_id, obj.id),
                MeshReady(scene_id=scene_id, object_id=obj.id, mesh=mesh, object_count=count),
                msg_id("meshgen", scene_id, obj.id),
            )
        )
    artifacts = {
        "scene.glb": ref_of(f"scene {scene_id}".encode(), "model/gltf-binary"),
        "layout.json": ref_of(f'{{"scene_id": "{scene_id}"}}'.encode(), "application/json"),
    }
    events.append(
        (
            subject(Subject.SCENE_READY, scene_id),
            SceneReady(scene_id=scene_id, artifacts=artifacts, object_count=count),
            msg_id("assembly", scene_id),
        )
    )
    return events
