"""The event contract: round trips, versions, rejects, subjects and ids."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from shared.contract import (
    EVENT_BY_ROOT,
    STREAM_SUBJECTS,
    ArtifactRef,
    ImagesReady,
    LayoutReady,
    MalformedEvent,
    SceneFailed,
    SceneReady,
    SceneRequested,
    Subject,
    dead_letter,
    dead_letter_msg_id,
    derived_scene_id,
    encode,
    ids_from_subject,
    json_schemas,
    json_shape_problem,
    msg_id,
    parse_event,
    request_scene_id,
    root_of,
    subject,
)
from shared.layout import Layout, PlacedObject, Room, rectangle

SHA = "a" * 64


def a_layout() -> Layout:
    return Layout(
        room=Room(type="bedroom", polygon=rectangle(4, 5), height=2.7),
        objects=[
            PlacedObject(
                id="bed-1",
                category="bed",
                description="oak bed",
                size=(1.6, 1.0, 2.1),
                position=(2, 0, 1.05),
            )
        ],
    )


def test_every_event_round_trips_through_its_subject():
    ref = ArtifactRef(uri="file:///x", sha256=SHA, size=3, media_type="image/png")
    obj = a_layout().objects[0]
    events = [
        (subject(Subject.SCENE_REQUESTED, "s1"), SceneRequested(scene_id="s1", prompt="a room")),
        (
            subject(Subject.LAYOUT_READY, "s1"),
            LayoutReady(scene_id="s1", prompt="p", layout=a_layout()),
        ),
        (
            subject(Subject.IMAGES_READY, "s1", "bed-1"),
            ImagesReady(scene_id="s1", object_id="bed-1", object=obj, image=ref, object_count=1),
        ),
        (
            subject(Subject.SCENE_READY, "s1"),
            SceneReady(scene_id="s1", artifacts={"scene.glb": ref}, object_count=1),
        ),
        (
            subject(Subject.SCENE_FAILED, "s1"),
            SceneFailed(scene_id="s1", stage="meshgen", code="x", message="boom"),
        ),
    ]
    for subj, event in events:
        assert parse_event(subj, encode(event)) == event


def test_events_are_frozen():
    event = SceneRequested(prompt="a room")
    with pytest.raises(ValueError):
        event.prompt = "other"  # type: ignore[misc]


def test_minimal_external_request_gets_defaults():
    event = parse_event("scene.requested", b'{"prompt": "  a kitchen  "}')
    assert event.prompt == "a kitchen"
    assert event.schema_version == 1 and event.scene_id is None and event.options.seed == 0
    assert len(event.event_id) == 32


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"{not json", "Invalid JSON"),
        (b'{"prompt": ""}', "prompt"),
        (b'{"prompt": "   "}', "prompt"),
        (b'{"prompt": "x", "schema_version": 2}', "schema_version"),
        (b'{"prompt": "x", "options": {"sead": 1}}', "options.sead"),
        (b'{"prompt": "x", "scene_id": "has.dots"}', "scene_id"),
        (b'{"prompt": "x", "options": {"seed": -1}}', "options.seed"),
        (b"[]", "body"),
    ],
)
def test_bad_requests_are_rejected_with_the_reason(body: bytes, expected: str):
    with pytest.raises(MalformedEvent) as info:
        parse_event("scene.requested", body)
    assert expected in info.value.reason


def test_malformed_event_keeps_a_usable_scene_id():
    with pytest.raises(MalformedEvent) as info:
        parse_event("layout.ready.s9", json.dumps({"scene_id": "s9", "prompt": "p"}).encode())
    assert info.value.scene_id == "s9"
    with pytest.raises(MalformedEvent) as info:
        parse_event("layout.ready.s9", b"garbage")
    assert info.value.scene_id == "s9"


def test_unknown_subject_is_malformed():
    with pytest.raises(MalformedEvent):
        parse_event("weather.report.x", b"{}")


def test_subject_helpers():
    assert subject(Subject.MESH_READY, "s", "o") == "mesh.ready.s.o"
    assert root_of("mesh.ready.s.o") == "mesh.ready"
    assert ids_from_subject("mesh.ready.s.o") == ("s", "o")
    assert ids_from_subject("scene.requested") == (None, None)
    assert msg_id("imagegen", "s", "o") == "imagegen:s:o"
    assert set(EVENT_BY_ROOT) == {root_of(s) for s in STREAM_SUBJECTS}


def test_request_scene_id_sources():
    stamp = datetime(2026, 1, 1, tzinfo=UTC)
    bare = SceneRequested(prompt="p")
    derived = request_scene_id(bare, "scene.requested", 7, stamp)
    assert (
        derived == derived_scene_id(7, stamp) == request_scene_id(bare, "scene.requested", 7, stamp)
    )
    assert derived != request_scene_id(bare, "scene.requested", 8, stamp)
    assert request_scene_id(bare, "scene.requested.abc", 7, stamp) == "abc"
    named = SceneRequested(prompt="p", scene_id="abc")
    assert request_scene_id(named, "scene.requested", 7, stamp) == "abc"
    with pytest.raises(MalformedEvent):
        request_scene_id(named, "scene.requested.other", 7, stamp)


def test_json_schemas_cover_every_event():
    schemas = json_schemas()
    assert set(schemas) == set(EVENT_BY_ROOT)
    assert schemas["scene.requested"]["required"] == ["prompt"]
    assert "schema_version" in schemas["layout.ready"]["properties"]


def test_layout_footprint_rotation():
    obj = PlacedObject(
        id="d", category="desk", description="desk", size=(2.0, 0.8, 1.0), position=(0, 0, 0),
        rotation=90,
    )  # fmt: skip
    xs = [p[0] for p in obj.footprint()]
    zs = [p[1] for p in obj.footprint()]
    assert max(xs) - min(xs) == pytest.approx(1.0)
    assert max(zs) - min(zs) == pytest.approx(2.0)


def test_room_rejects_clockwise_polygon():
    with pytest.raises(ValueError, match="counter-clockwise"):
        Room(type="x", polygon=list(reversed(rectangle(3, 3))), height=2.5)


# Bounds checked before and during parsing: a hostile message is malformed, not a crash.


def test_deeply_nested_json_is_malformed_before_parsing() -> None:
    bomb = b"[" * 5000 + b"]" * 5000
    for root in (Subject.SCENE_REQUESTED, "images.ready.s1.o1", "dead.letter.planner"):
        with pytest.raises(MalformedEvent, match="nested more than 32 levels"):
            parse_event(root, bomb)


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    prompt = "a room " + "[" * 100 + ' \\" ' + "{" * 100
    event = SceneRequested(prompt=prompt)
    assert parse_event(Subject.SCENE_REQUESTED, encode(event)).prompt == prompt
    assert json_shape_problem(encode(event)) is None


def test_oversized_message_is_malformed() -> None:
    data = b'{"prompt": "' + b"x" * (1024 * 1024) + b'"}'
    with pytest.raises(MalformedEvent, match="exceeds the limit"):
        parse_event(Subject.SCENE_REQUESTED, data)


def test_integers_and_floats_have_bounds() -> None:
    ref = {"uri": "file:///x", "sha256": "a" * 64, "size": 1, "media_type": "image/png"}
    mesh = {"scene_id": "s1", "object_id": "o1", "mesh": ref, "object_count": 1e40}
    with pytest.raises(MalformedEvent, match="object_count"):
        parse_event("mesh.ready.s1.o1", json.dumps(mesh).encode())
    mesh["object_count"] = 10**30
    with pytest.raises(MalformedEvent, match="object_count"):
        parse_event("mesh.ready.s1.o1", json.dumps(mesh).encode())
    mesh["object_count"] = 1
    mesh["mesh"] = {**ref, "size": 2**70}
    with pytest.raises(MalformedEvent, match="size"):
        parse_event("mesh.ready.s1.o1", json.dumps(mesh).encode())
    with pytest.raises(MalformedEvent):
        parse_event(Subject.SCENE_REQUESTED, b'{"prompt": "x", "options": {"seed": 1e40}}')


def test_dead_letter_keeps_a_printable_excerpt_and_the_reason() -> None:
    data = b"\xff\xfe{not json" + b"x" * 5000
    letter = dead_letter("meshgen", "images.ready.s1.o1", data, 42, "not JSON", scene_id="s1")
    assert letter.size == len(data) and len(letter.excerpt) <= 512
    assert letter.scene_id == "s1" and letter.stream_seq == 42
    again = parse_event(subject(Subject.DEAD_LETTER, "meshgen"), encode(letter))
    assert again == letter
    assert dead_letter("x", "s", b"", 1, "r", scene_id="bad id!").scene_id is None
    assert "\x00" not in dead_letter("x", "s", b"a\x00b", 1, "r").excerpt
    assert dead_letter_msg_id("meshgen", 42) == dead_letter_msg_id("meshgen", 42)


def test_a_restored_message_is_dated_by_its_original_storage() -> None:
    from datetime import UTC, datetime

    from shared.contract import STORED_AT_HEADER, stored_at

    now = datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC)
    original = datetime(2030, 6, 7, 8, 9, 10, 123456, tzinfo=UTC)
    assert stored_at({STORED_AT_HEADER: "2030-06-07T08:09:10.123456Z"}, now) == original
    assert stored_at({"Nats-Msg-Id": "x"}, now) == now
    assert stored_at(None, now) == now
    # A header that is not a time with its zone is not trusted.
    assert stored_at({STORED_AT_HEADER: "yesterday"}, now) == now
    assert stored_at({STORED_AT_HEADER: "2030-06-07T08:09:10"}, now) == now
