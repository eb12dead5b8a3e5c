"""The projection folds hand-built events into SQLite rows, once per stream sequence."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from prometheus_client import REGISTRY
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError

from services.gateway.projection import (
    STUCK_AFTER_S,
    AttemptStatus,
    Projection,
    ProjectionUnavailable,
    SceneView,
    Status,
    StuckAfter,
    is_outage,
)
from shared.contract import (
    ImagesReady,
    MeshReady,
    SceneCancelled,
    SceneFailed,
    SceneReady,
    SceneReplayed,
    SceneRequested,
    Subject,
    dead_letter,
    derived_scene_id,
    encode,
    subject,
)
from tests.fakes.projection import Poisoned
from tests.fakes.scenes import at, scene_events


class Feed:
    """Applies events to a projection at increasing stream sequences."""

    def __init__(self, projection: Projection, start: int = 0):
        self.projection = projection
        self.seq = start

    async def raw(self, subject_name: str, data: bytes) -> int:
        self.seq += 1
        await self.projection.apply(subject_name, data, self.seq, at(self.seq))
        return self.seq

    async def event(self, subject_name: str, event: BaseModel) -> int:
        return await self.raw(subject_name, encode(event))


@pytest.fixture
async def projection(tmp_path: Path):
    projection = await Projection(f"sqlite+aiosqlite:///{tmp_path}/gateway.db").open()
    try:
        yield projection
    finally:
        await projection.close()


async def view_of(projection: Projection, scene_id: str) -> SceneView:
    view = await projection.get_scene(scene_id)
    assert view is not None, f"scene {scene_id} is not in the projection"
    return view


async def test_a_scene_moves_through_every_stage(projection: Projection, unique: str) -> None:
    scene_id = f"scene-{unique}"
    events = scene_events(scene_id)
    feed = Feed(projection)
    requested, layout, work_a, work_b, image_a, image_b, mesh_a, mesh_b, ready = events

    await feed.event(requested[0], requested[1])
    view = await view_of(projection, scene_id)
    assert view.status == Status.PENDING
    assert view.prompt == "a cozy bedroom"
    assert view.requested_by == "10.0.0.7"
    assert view.stages.planner == Status.IN_PROGRESS
    assert view.stages.imagegen == Status.PENDING
    assert view.progress == 5
    assert view.objects == []
    assert view.created_at == at(1)

    await feed.event(layout[0], layout[1])
    view = await view_of(projection, scene_id)
    assert view.status == Status.IN_PROGRESS
    assert view.stages.planner == Status.SUCCEEDED
    assert view.stages.imagegen == Status.IN_PROGRESS
    assert view.stages.meshgen == Status.PENDING
    assert view.object_count == 2
    assert [(o.object_id, o.category, o.description) for o in view.objects] == [
        ("bed-1", "bed", "a wooden bed"),
        ("lamp-1", "lamp", "a wooden lamp"),
    ]
    assert all(o.image_status == Status.PENDING and o.image is None for o in view.objects)
    assert view.progress == 15

    await feed.event(work_a[0], work_a[1])
    await feed.event(work_b[0], work_b[1])
    assert projection.last_seq() == 4
    assert (await view_of(projection, scene_id)).model_dump(exclude={"updated_at"}) == (
        view.model_dump(exclude={"updated_at"})
    )

    await feed.event(image_a[0], image_a[1])
    view = await view_of(projection, scene_id)
    bed, lamp = view.objects
    assert bed.image_status == Status.SUCCEEDED
    assert isinstance(image_a[1], ImagesReady)
    assert bed.image == image_a[1].image
    assert lamp.image_status == Status.PENDING
    assert view.stages.imagegen == Status.IN_PROGRESS
    assert view.stages.meshgen == Status.IN_PROGRESS
    assert view.progress == 35

    await feed.event(image_b[0], image_b[1])
    view = await view_of(projection, scene_id)
    assert view.stages.imagegen == Status.SUCCEEDED
    assert view.progress == 55

    await feed.event(mesh_a[0], mesh_a[1])
    view = await view_of(projection, scene_id)
    assert view.objects[0].mesh_status == Status.SUCCEEDED
    assert isinstance(mesh_a[1], MeshReady)
    assert view.objects[0].mesh == mesh_a[1].mesh
    assert view.objects[1].mesh is None
    assert view.stages.meshgen == Status.IN_PROGRESS
    assert view.stages.assembly == Status.PENDING
    assert view.progress == 75

    await feed.event(mesh_b[0], mesh_b[1])
    view = await view_of(projection, scene_id)
    assert view.stages.meshgen == Status.SUCCEEDED
    assert view.stages.assembly == Status.IN_PROGRESS
    assert view.status == Status.IN_PROGRESS
    assert view.progress == 95

    await feed.event(ready[0], ready[1])
    view = await view_of(projection, scene_id)
    assert view.status == Status.SUCCEEDED
    assert view.progress == 100
    assert view.stages.model_dump() == dict.fromkeys(
        ("planner", "imagegen", "meshgen", "assembly"), Status.SUCCEEDED
    )
    assert isinstance(ready[1], SceneReady)
    assert view.artifacts == ready[1].artifacts
    assert view.error is None
    assert view.created_at == at(1)
    assert view.updated_at == at(9)
    assert projection.last_seq() == 9
    assert isinstance(mesh_b[1], MeshReady)
    lamp_mesh = mesh_b[1].mesh
    assert view.objects[1].mesh == lamp_mesh
    assert await projection.artifact(lamp_mesh.sha256) == lamp_mesh
    assert await projection.artifact("0" * 64) is None


async def test_replaying_the_same_sequences_changes_nothing(
    projection: Projection, unique: str
) -> None:
    scene_id = f"replay-{unique}"
    events = scene_events(scene_id)
    for seq, (subject_name, event, _) in enumerate(events, start=1):
        await projection.apply(subject_name, encode(event), seq, at(seq))
    before = await view_of(projection, scene_id)

    for seq, (subject_name, event, _) in enumerate(events, start=1):
        await projection.apply(subject_name, encode(event), seq, at(seq + 1000))
    assert await view_of(projection, scene_id) == before
    assert projection.last_seq() == len(events)


async def test_a_duplicate_event_at_a_new_sequence_counts_once(
    projection: Projection, unique: str
) -> None:
    scene_id = f"dup-{unique}"
    requested, layout, _, _, image_a, *_ = scene_events(scene_id)
    feed = Feed(projection)
    for subject_name, event, _ in (requested, layout, image_a, image_a, image_a):
        await feed.event(subject_name, event)
    view = await view_of(projection, scene_id)
    assert view.progress == 35
    assert view.stages.imagegen == Status.IN_PROGRESS


async def test_a_malformed_message_only_advances_the_position(
    projection: Projection, unique: str
) -> None:
    scene_id = f"bad-{unique}"
    requested, layout, *_ = scene_events(scene_id)
    feed = Feed(projection)
    await feed.event(requested[0], requested[1])
    before = await view_of(projection, scene_id)

    await feed.raw(subject(Subject.LAYOUT_READY, scene_id), b"{not json")
    await feed.raw(subject(Subject.IMAGES_READY, scene_id, "bed-1"), b'{"scene_id": "x"}')
    await feed.raw("elsewhere.entirely", b"{}")
    mismatch = SceneRequested(scene_id=scene_id, prompt="another")
    await feed.event(subject(Subject.SCENE_REQUESTED, f"other-{unique}"), mismatch)

    assert projection.last_seq() == 5
    assert await view_of(projection, scene_id) == before
    assert await projection.get_scene(f"other-{unique}") is None
    assert (await projection.list_scenes()).total == 1

    # Each one is kept as the gateway's dead letter with its reason, newest first.
    letters = await projection.list_dead_letters()
    assert [(d.stream_seq, d.rejected_by) for d in letters.items] == [
        (5, "gateway"),
        (4, "gateway"),
        (3, "gateway"),
        (2, "gateway"),
    ]
    by_seq = {d.stream_seq: d for d in letters.items}
    assert by_seq[2].reason.startswith("malformed: ")
    assert by_seq[2].excerpt == "{not json"
    assert by_seq[2].scene_id == scene_id
    assert "no event is defined" in by_seq[4].reason
    assert "differs from the subject" in by_seq[5].reason
    assert projection.dead_letters == 4

    await feed.event(layout[0], layout[1])
    assert (await view_of(projection, scene_id)).stages.planner == Status.SUCCEEDED


async def test_a_failure_fails_the_scene_and_its_stage(projection: Projection, unique: str) -> None:
    scene_id = f"fail-{unique}"
    requested, layout, _, _, image_a, image_b, *_, ready = scene_events(scene_id)
    feed = Feed(projection)
    for subject_name, event, _ in (requested, layout, image_a):
        await feed.event(subject_name, event)
    failure = SceneFailed(
        scene_id=scene_id,
        stage="imagegen",
        object_id="lamp-1",
        code="backend_unavailable",
        message="ComfyUI did not answer",
        retryable=True,
    )
    await feed.event(subject(Subject.SCENE_FAILED, scene_id), failure)

    view = await view_of(projection, scene_id)
    assert view.status == Status.FAILED
    assert view.stages.imagegen == Status.FAILED
    assert view.stages.planner == Status.SUCCEEDED
    assert view.error is not None
    assert view.error.model_dump() == {
        "stage": "imagegen",
        "object_id": "lamp-1",
        "code": "backend_unavailable",
        "message": "ComfyUI did not answer",
        "retryable": True,
    }
    assert [o.image_status for o in view.objects] == [Status.SUCCEEDED, Status.FAILED]
    assert view.progress == 35

    # Work still in flight for the scene does not reopen it.
    await feed.event(image_b[0], image_b[1])
    view = await view_of(projection, scene_id)
    assert view.status == Status.FAILED
    assert view.stages.imagegen == Status.FAILED
    assert view.objects[1].image_status == Status.SUCCEEDED

    # The first terminal event wins: a later scene.ready changes neither the status, the
    # error nor the artifacts, and is noted as a late outcome.
    await feed.event(ready[0], ready[1])
    view = await view_of(projection, scene_id)
    assert view.status == Status.FAILED
    assert view.error is not None and view.error.code == "backend_unavailable"
    assert view.artifacts == {}
    assert view.stages.imagegen == Status.FAILED
    assert view.progress < 100
    assert view.late_outcomes == 1
    assert view.late_outcome is not None
    assert view.late_outcome.startswith("scene.ready at stream sequence 6 ignored")


async def test_a_failure_of_a_sub_stage_reports_on_its_stage(
    projection: Projection, unique: str
) -> None:
    scene_id = f"fanout-{unique}"
    requested, layout, *_ = scene_events(scene_id)
    feed = Feed(projection)
    await feed.event(requested[0], requested[1])
    await feed.event(layout[0], layout[1])
    failure = SceneFailed(scene_id=scene_id, stage="imagegen-fanout", code="x", message="m")
    await feed.event(subject(Subject.SCENE_FAILED, scene_id), failure)
    view = await view_of(projection, scene_id)
    assert view.status == Status.FAILED
    assert view.stages.imagegen == Status.FAILED
    assert view.error is not None and view.error.stage == "imagegen-fanout"


async def test_a_failure_after_success_is_ignored(projection: Projection, unique: str) -> None:
    scene_id = f"late-{unique}"
    feed = Feed(projection)
    for subject_name, event, _ in scene_events(scene_id):
        await feed.event(subject_name, event)
    failure = SceneFailed(scene_id=scene_id, stage="assembly", code="x", message="late")
    await feed.event(subject(Subject.SCENE_FAILED, scene_id), failure)
    view = await view_of(projection, scene_id)
    assert view.status == Status.SUCCEEDED
    assert view.error is None


async def test_a_request_without_scene_id_gets_the_derived_id(projection: Projection) -> None:
    feed = Feed(projection, start=40)
    seq = await feed.event(subject(Subject.SCENE_REQUESTED), SceneRequested(prompt="a study"))
    view = await view_of(projection, derived_scene_id(seq, at(seq)))
    assert view.prompt == "a study"
    assert view.status == Status.PENDING


async def test_a_request_on_a_scene_subject_takes_the_subject_id(
    projection: Projection, unique: str
) -> None:
    feed = Feed(projection)
    scene_id = f"by-subject-{unique}"
    request = SceneRequested(prompt="a kitchen")
    await feed.event(subject(Subject.SCENE_REQUESTED, scene_id), request)
    assert (await view_of(projection, scene_id)).prompt == "a kitchen"


async def test_events_for_an_unknown_scene_create_it(projection: Projection, unique: str) -> None:
    scene_id = f"orphan-{unique}"
    _, layout, _, _, image_a, _, _, mesh_b, _ = scene_events(scene_id)
    feed = Feed(projection)

    # A mesh before anything else: the object is known by its id only.
    await feed.event(mesh_b[0], mesh_b[1])
    view = await view_of(projection, scene_id)
    assert view.status == Status.IN_PROGRESS
    assert view.prompt == ""
    assert view.object_count == 2
    assert [(o.object_id, o.mesh_status) for o in view.objects] == [("lamp-1", Status.SUCCEEDED)]
    assert view.created_at == at(1)

    # An image names its object in full.
    await feed.event(image_a[0], image_a[1])
    view = await view_of(projection, scene_id)
    assert [(o.object_id, o.category) for o in view.objects] == [("lamp-1", ""), ("bed-1", "bed")]

    # The layout, late, fills in the prompt, the names and the layout's order.
    await feed.event(layout[0], layout[1])
    view = await view_of(projection, scene_id)
    assert view.prompt == "a cozy bedroom"
    assert [(o.object_id, o.category) for o in view.objects] == [
        ("bed-1", "bed"),
        ("lamp-1", "lamp"),
    ]
    assert view.progress == 5 + 10 + 20 + 20


async def test_scenes_are_listed_newest_first_by_page(projection: Projection, unique: str) -> None:
    feed = Feed(projection)
    ids = [f"list-{i}-{unique}" for i in range(5)]
    for scene_id in ids:
        await feed.event(
            subject(Subject.SCENE_REQUESTED), SceneRequested(scene_id=scene_id, prompt=scene_id)
        )
    for subject_name, event, _ in scene_events(ids[1])[1:]:
        await feed.event(subject_name, event)

    first = await projection.list_scenes(page=1, page_size=2)
    assert first.total == 5
    assert [item.scene_id for item in first.items] == [ids[4], ids[3]]
    last = await projection.list_scenes(page=3, page_size=2)
    assert [item.scene_id for item in last.items] == [ids[0]]
    assert (await projection.list_scenes(page=4, page_size=2)).items == []

    done = await projection.list_scenes(status=Status.SUCCEEDED)
    assert [(item.scene_id, item.progress) for item in done.items] == [(ids[1], 100)]
    pending = await projection.list_scenes(status="PENDING")
    assert pending.total == 4


async def test_wait_for_seq_wakes_when_the_sequence_is_applied(
    projection: Projection, unique: str
) -> None:
    assert await projection.wait_for_seq(0, timeout=0.01)
    assert not await projection.wait_for_seq(1, timeout=0.05)

    waiting = asyncio.create_task(projection.wait_for_seq(2, timeout=5))
    feed = Feed(projection)
    requested = SceneRequested(scene_id=f"wait-{unique}", prompt="a hall")
    await feed.event(subject(Subject.SCENE_REQUESTED), requested)
    assert not waiting.done()
    await feed.raw(subject(Subject.SCENE_REQUESTED), b"junk")
    assert await asyncio.wait_for(waiting, timeout=5)


async def test_the_position_survives_a_restart(tmp_path: Path, unique: str) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/nested/dir/gateway.db"
    scene_id = f"restart-{unique}"
    events = scene_events(scene_id)
    async with Projection(url) as first:
        for seq, (subject_name, event, _) in enumerate(events[:3], start=1):
            await first.apply(subject_name, encode(event), seq, at(seq))
    async with Projection(url) as second:
        assert second.last_seq() == 3
        for seq, (subject_name, event, _) in enumerate(events, start=1):
            await second.apply(subject_name, encode(event), seq, at(seq))
        view = await view_of(second, scene_id)
    assert view.status == Status.SUCCEEDED
    assert view.created_at == at(1)


async def test_two_gateways_sharing_a_database_apply_each_event_once(
    tmp_path: Path, unique: str
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/shared.db"
    scene_id = f"shared-{unique}"
    events = scene_events(scene_id)
    async with Projection(url) as one, Projection(url) as two:
        for seq, (subject_name, event, _) in enumerate([*events[:5], events[4]], start=1):
            data = encode(event)
            await asyncio.gather(
                one.apply(subject_name, data, seq, at(seq)),
                two.apply(subject_name, data, seq, at(seq)),
            )
        assert one.last_seq() == two.last_seq() == 6
        view = await view_of(one, scene_id)
        assert view == await view_of(two, scene_id)
    # One object's image, applied at two sequences, counts once: 5 + 10 + 40 × 1/2.
    assert view.progress == 35


async def test_an_in_memory_database_keeps_its_rows(unique: str) -> None:
    async with Projection("sqlite+aiosqlite://") as projection:
        scene_id = f"mem-{unique}"
        await projection.apply(
            subject(Subject.SCENE_REQUESTED),
            encode(SceneRequested(scene_id=scene_id, prompt="a loft")),
            1,
            at(1),
        )
        assert (await view_of(projection, scene_id)).prompt == "a loft"
        assert await projection.ping()


async def test_a_closed_projection_says_so(tmp_path: Path) -> None:
    projection = Projection(f"sqlite+aiosqlite:///{tmp_path}/closed.db")
    with pytest.raises(RuntimeError, match="not open"):
        await projection.get_scene("anything")


def dead_letters_counted(rejected_by: str) -> float:
    return (
        REGISTRY.get_sample_value("holodeck_dead_letters_total", {"rejected_by": rejected_by})
        or 0.0
    )


async def test_an_event_that_cannot_be_applied_is_dead_lettered_and_skipped(
    tmp_path: Path, unique: str
) -> None:
    bad, good = f"poison-{unique}", f"fine-{unique}"
    counted_before = dead_letters_counted("gateway")
    async with Poisoned(f"sqlite+aiosqlite:///{tmp_path}/p.db") as projection:
        feed = Feed(projection)
        bad_events = scene_events(bad, prompt="poison")
        await feed.event(bad_events[0][0], bad_events[0][1])
        seq = await feed.event(bad_events[1][0], bad_events[1][1])
        # Nothing of the failed event stays, the position moved past it, the next
        # events (of this scene and of others) apply.
        assert projection.last_seq() == seq
        view = await view_of(projection, bad)
        assert view.stages.planner == Status.IN_PROGRESS
        assert view.objects == []
        for subject_name, event, _ in scene_events(good):
            await feed.event(subject_name, event)
        assert (await view_of(projection, good)).status == Status.SUCCEEDED

        [letter] = (await projection.list_dead_letters()).items
        assert (letter.rejected_by, letter.stream_seq, letter.recorded_seq) == ("gateway", 2, 2)
        assert letter.subject == subject(Subject.LAYOUT_READY, bad)
        assert letter.scene_id == bad
        assert letter.reason == (
            "cannot be applied: OverflowError: Python int too large to convert to SQLite INTEGER"
        )
        assert letter.size == len(encode(bad_events[1][1]))
        assert letter.excerpt.startswith('{"schema_version":1')
    assert dead_letters_counted("gateway") == counted_before + 1

    # Applied again (a restart, a second gateway): still one dead letter, no error.
    async with Poisoned(f"sqlite+aiosqlite:///{tmp_path}/p.db") as again:
        await again.apply(bad_events[1][0], encode(bad_events[1][1]), 2, at(2))
        assert (await again.list_dead_letters()).total == 1


async def test_a_database_outage_is_retried_not_dead_lettered(
    projection: Projection, unique: str
) -> None:
    scene_id = f"outage-{unique}"
    requested, layout, *_ = scene_events(scene_id)
    feed = Feed(projection)
    await feed.event(requested[0], requested[1])
    assert projection._engine is not None
    async with projection._engine.begin() as conn:
        await conn.exec_driver_sql("ALTER TABLE scenes RENAME TO scenes_away")
    with pytest.raises(ProjectionUnavailable, match="stream sequence 2"):
        await projection.apply(layout[0], encode(layout[1]), 2, at(2))
    assert projection.last_seq() == 1
    async with projection._engine.begin() as conn:
        await conn.exec_driver_sql("ALTER TABLE scenes_away RENAME TO scenes")
    assert (await projection.list_dead_letters()).total == 0

    await projection.apply(layout[0], encode(layout[1]), 2, at(2))
    assert projection.last_seq() == 2
    assert (await view_of(projection, scene_id)).stages.planner == Status.SUCCEEDED


def _dbapi(orig: Exception, kind: type[DBAPIError] = DBAPIError, **kw: Any) -> DBAPIError:
    return kind("INSERT INTO scenes ...", {}, orig, **kw)


@pytest.mark.parametrize(
    ("error", "outage"),
    [
        (_dbapi(Exception("database is locked"), OperationalError), True),
        (_dbapi(Exception("gone"), InterfaceError, connection_invalidated=True), True),
        (_dbapi(asyncpg.exceptions.AdminShutdownError("shutting down")), True),
        (_dbapi(asyncpg.exceptions.DeadlockDetectedError("deadlock")), True),
        (_dbapi(asyncpg.exceptions.TooManyConnectionsError("too many")), True),
        (_dbapi(asyncpg.exceptions.UndefinedColumnError("no column")), True),
        (ConnectionRefusedError(111, "Connection refused"), True),
        (TimeoutError(), True),
        (_dbapi(asyncpg.exceptions.CharacterNotInRepertoireError("NUL")), False),
        (_dbapi(asyncpg.exceptions.NumericValueOutOfRangeError("out of range")), False),
        (_dbapi(asyncpg.exceptions.UniqueViolationError("dup"), IntegrityError), False),
        (_dbapi(asyncpg.exceptions.DataError("value out of int32 range"), InterfaceError), False),
        (OverflowError("Python int too large to convert to SQLite INTEGER"), False),
        (RecursionError("maximum recursion depth exceeded"), False),
        (KeyError("object_count"), False),
    ],
)
def test_outages_are_told_apart_from_events_that_cannot_be_stored(
    error: BaseException, outage: bool
) -> None:
    assert is_outage(error) is outage


async def test_stage_dead_letters_are_kept_and_change_no_scene(
    projection: Projection, unique: str
) -> None:
    scene_id = f"dl-{unique}"
    feed = Feed(projection)
    for subject_name, event, _ in scene_events(scene_id)[:2]:
        await feed.event(subject_name, event)
    before = await view_of(projection, scene_id)
    counted_before = dead_letters_counted("imagegen")
    letters = [
        dead_letter(
            "imagegen",
            subject(Subject.IMAGE_WORK, scene_id, f"obj-{i}"),
            b"{not json\x00" + bytes([i]),
            100 + i,
            "malformed: invalid JSON",
            scene_id=scene_id,
            producer="imagegen-1",
        )
        for i in range(3)
    ]
    for letter in letters:
        await feed.event(subject(Subject.DEAD_LETTER, "imagegen"), letter)
    # The same dead letter published again is one row.
    await feed.event(subject(Subject.DEAD_LETTER, "imagegen"), letters[0])

    after = await view_of(projection, scene_id)
    assert after.model_dump(exclude={"updated_at"}) == before.model_dump(exclude={"updated_at"})
    assert dead_letters_counted("imagegen") == counted_before + 3

    first = await projection.list_dead_letters(page=1, page_size=2)
    assert first.total == 3
    assert [d.stream_seq for d in first.items] == [102, 101]
    assert [d.recorded_seq for d in first.items] == [5, 4]
    second = await projection.list_dead_letters(page=2, page_size=2)
    assert [d.stream_seq for d in second.items] == [100]
    kept = second.items[0]
    assert kept.rejected_by == "imagegen"
    assert kept.scene_id == scene_id
    # PostgreSQL stores no NUL character: the excerpt keeps a replacement.
    assert kept.excerpt == "{not json\ufffd\ufffd"
    assert (await projection.list_dead_letters(rejected_by="planner")).total == 0

    # A dead letter that cannot be read is the gateway's own, and names no scene (the
    # subject's last token is who rejected it, not a scene).
    seq = await feed.raw(subject(Subject.DEAD_LETTER, "planner"), b"{not json")
    [own] = (await projection.list_dead_letters(rejected_by="gateway")).items
    assert (own.stream_seq, own.scene_id, own.subject) == (seq, None, "dead.letter.planner")


async def test_a_success_after_a_failure_does_not_flip_the_scene(
    projection: Projection, unique: str
) -> None:
    scene_id = f"flip-{unique}"
    events = scene_events(scene_id)
    feed = Feed(projection)
    for subject_name, event, _ in events[:-1]:
        await feed.event(subject_name, event)
    # A message the stage could not read, then its failure, then the scene built anyway.
    await feed.raw(subject(Subject.LAYOUT_READY, scene_id), b"{not json")
    failure = SceneFailed(scene_id=scene_id, stage="planner", code="bad_input", message="m")
    failed_at = await feed.event(subject(Subject.SCENE_FAILED, scene_id), failure)
    await feed.event(events[-1][0], events[-1][1])
    second = SceneFailed(scene_id=scene_id, stage="assembly", code="other", message="later")
    await feed.event(subject(Subject.SCENE_FAILED, scene_id), second)

    view = await view_of(projection, scene_id)
    assert view.status == Status.FAILED
    assert view.error is not None and (view.error.stage, view.error.code) == (
        "planner",
        "bad_input",
    )
    assert view.artifacts == {}
    assert view.late_outcomes == 2
    assert view.late_outcome == (
        f"scene.failed (assembly: other) at stream sequence {failed_at + 2} ignored: "
        f"the scene ended FAILED at stream sequence {failed_at}"
    )


async def test_an_older_database_gets_the_new_columns(tmp_path: Path, unique: str) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/old.db"
    scene_id = f"old-{unique}"
    events = scene_events(scene_id)
    async with Projection(url) as projection:
        await projection.apply(events[0][0], encode(events[0][1]), 1, at(1))
        assert projection._engine is not None
        async with projection._engine.begin() as conn:
            for column in ("terminal_seq", "late_outcomes", "late_outcome"):
                await conn.exec_driver_sql(f"ALTER TABLE scenes DROP COLUMN {column}")
    async with Projection(url) as projection:
        for seq, (subject_name, event, _) in enumerate(events[1:], start=2):
            await projection.apply(subject_name, encode(event), seq, at(seq))
        view = await view_of(projection, scene_id)
        assert view.status == Status.SUCCEEDED
        assert view.late_outcomes == 0
        assert (await projection.list_dead_letters()).total == 0


def stored(
    events: list[tuple[str, bytes]], start: int = 1
) -> list[tuple[str, bytes, int, datetime]]:
    return [(name, data, seq, at(seq)) for seq, (name, data) in enumerate(events, start=start)]


async def test_a_batch_gives_what_one_at_a_time_gives(tmp_path: Path, unique: str) -> None:
    bad, good = f"poison-{unique}", f"fine-{unique}"
    events = [(name, encode(event)) for name, event, _ in scene_events(good)]
    poison = scene_events(bad, prompt="poison")
    events[2:2] = [
        (poison[0][0], encode(poison[0][1])),
        (poison[1][0], encode(poison[1][1])),  # refused by the database: a dead letter
        (subject(Subject.LAYOUT_READY, bad), b"{not json"),  # malformed: a dead letter
    ]
    async with (
        Poisoned(f"sqlite+aiosqlite:///{tmp_path}/one.db") as one,
        Poisoned(f"sqlite+aiosqlite:///{tmp_path}/many.db") as many,
    ):
        for event in stored(events):
            await one.apply(*event)
        await many.apply_many(stored(events))
        assert many.last_seq() == one.last_seq() == len(events)
        for scene_id in (good, bad):
            assert await view_of(many, scene_id) == await view_of(one, scene_id)
        assert (await many.list_dead_letters()) == (await one.list_dead_letters())
        assert [d.stream_seq for d in (await many.list_dead_letters()).items] == [5, 4]
        assert many.dead_letters == 2

        # Sequences already applied are skipped, the rest go in once.
        more = [(name, encode(event)) for name, event, _ in scene_events(f"more-{unique}")]
        await many.apply_many(stored(events + more)[len(events) - 3 :])
        assert many.last_seq() == len(events) + len(more)
        assert (await view_of(many, good)) == (await view_of(one, good))
        assert (await view_of(many, f"more-{unique}")).status == Status.SUCCEEDED


async def test_a_batch_is_held_whole_during_an_outage(projection: Projection, unique: str) -> None:
    scene_id = f"batch-outage-{unique}"
    events = [(name, encode(event)) for name, event, _ in scene_events(scene_id)]
    await projection.apply_many(stored(events[:2]))
    assert projection._engine is not None
    async with projection._engine.begin() as conn:
        await conn.exec_driver_sql("ALTER TABLE scene_objects RENAME TO objects_away")
    with pytest.raises(ProjectionUnavailable, match="stream sequences 3-9"):
        await projection.apply_many(stored(events[2:], start=3))
    assert projection.last_seq() == 2
    assert (await projection.list_dead_letters()).total == 0
    async with projection._engine.begin() as conn:
        await conn.exec_driver_sql("ALTER TABLE objects_away RENAME TO scene_objects")
    await projection.apply_many(stored(events[2:], start=3))
    assert (await view_of(projection, scene_id)).status == Status.SUCCEEDED


async def test_two_gateways_applying_overlapping_batches_apply_each_event_once(
    tmp_path: Path, unique: str
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/shared-batches.db"
    scene_id = f"overlap-{unique}"
    _, _, _, _, image_a, *_ = scene_events(scene_id)
    events = [(name, encode(event)) for name, event, _ in scene_events(scene_id)[:5]]
    events += [(image_a[0], encode(image_a[1]))] * 3
    batches = stored(events)
    async with Projection(url) as one, Projection(url) as two:
        await asyncio.gather(
            one.apply_many(batches[:5]),
            two.apply_many(batches[2:7]),
            one.apply_many(batches[5:]),
            two.apply_many(batches),
        )
        await one.apply_many(batches)
        view = await view_of(one, scene_id)
        assert view == await view_of(two, scene_id)
    # One object's image, applied at four sequences, counts once: 5 + 10 + 40 × 1/2.
    assert view.progress == 35


def of_attempt(event: BaseModel, attempt: int) -> BaseModel:
    return event.model_copy(update={"attempt": attempt})


async def test_a_replay_opens_the_next_attempt_and_old_events_are_ignored(
    projection: Projection, unique: str
) -> None:
    scene_id = f"replay-{unique}"
    events = scene_events(scene_id)
    requested, layout, _, _, image_a, image_b, mesh_a, mesh_b, ready = events
    feed = Feed(projection)
    for subject_name, event, _ in (requested, layout, image_a, image_b, mesh_a):
        await feed.event(subject_name, event)
    failure = SceneFailed(
        scene_id=scene_id, stage="meshgen", object_id="lamp-1", code="x", message="m"
    )
    await feed.event(subject(Subject.SCENE_FAILED, scene_id), failure)
    assert (await view_of(projection, scene_id)).status == Status.FAILED

    replayed = SceneReplayed(scene_id=scene_id, attempt=2, from_stage="meshgen")
    await feed.event(subject(Subject.SCENE_REPLAYED, scene_id), replayed)
    view = await view_of(projection, scene_id)
    assert (view.status, view.attempt, view.error, view.artifacts) == (
        Status.IN_PROGRESS,
        2,
        None,
        {},
    )
    assert view.stages.model_dump() == {
        "planner": Status.SUCCEEDED,
        "imagegen": Status.SUCCEEDED,
        "meshgen": Status.IN_PROGRESS,
        "assembly": Status.PENDING,
    }
    assert [(o.image_status, o.mesh_status) for o in view.objects] == [
        (Status.SUCCEEDED, Status.PENDING)
    ] * 2
    assert view.progress == 55

    # Late news of attempt 1 changes nothing, however terminal.
    await feed.event(mesh_b[0], mesh_b[1])
    await feed.event(subject(Subject.SCENE_FAILED, scene_id), failure)
    view = await view_of(projection, scene_id)
    assert view.status == Status.IN_PROGRESS
    assert view.progress == 55
    assert view.late_outcomes == 1
    assert view.late_outcome is not None and "attempt 1" in view.late_outcome

    for subject_name, event, _ in (mesh_a, mesh_b, ready):
        await feed.event(subject_name, of_attempt(event, 2))
    view = await view_of(projection, scene_id)
    assert (view.status, view.attempt, view.progress) == (Status.SUCCEEDED, 2, 100)
    assert isinstance(ready[1], SceneReady) and view.artifacts == ready[1].artifacts

    # A replay of the same attempt again is a duplicate.
    await feed.event(subject(Subject.SCENE_REPLAYED, scene_id), replayed)
    assert (await view_of(projection, scene_id)).status == Status.SUCCEEDED


async def test_a_replay_from_the_planner_forgets_the_old_objects(
    projection: Projection, unique: str
) -> None:
    scene_id = f"replan-{unique}"
    feed = Feed(projection)
    for subject_name, event, _ in scene_events(scene_id):
        await feed.event(subject_name, event)
    replayed = SceneReplayed(scene_id=scene_id, attempt=2, from_stage="planner")
    await feed.event(subject(Subject.SCENE_REPLAYED, scene_id), replayed)
    view = await view_of(projection, scene_id)
    assert (view.status, view.objects, view.object_count) == (Status.IN_PROGRESS, [], 0)
    assert set(view.stages.model_dump().values()) == {Status.IN_PROGRESS, Status.PENDING}

    _, layout, *_ = scene_events(scene_id, object_ids=("desk-1",))
    await feed.event(layout[0], of_attempt(layout[1], 2))
    view = await view_of(projection, scene_id)
    assert [o.object_id for o in view.objects] == ["desk-1"]
    assert view.progress == 15


async def test_an_event_of_a_later_attempt_opens_it(projection: Projection, unique: str) -> None:
    scene_id = f"later-{unique}"
    feed = Feed(projection)
    events = scene_events(scene_id)
    for subject_name, event, _ in events[:-1]:
        await feed.event(subject_name, event)
    failure = SceneFailed(scene_id=scene_id, stage="assembly", code="x", message="m")
    await feed.event(subject(Subject.SCENE_FAILED, scene_id), failure)
    await feed.event(events[-1][0], of_attempt(events[-1][1], 3))
    view = await view_of(projection, scene_id)
    assert (view.status, view.attempt, view.error) == (Status.SUCCEEDED, 3, None)


async def test_a_cancelled_scene_stays_cancelled(projection: Projection, unique: str) -> None:
    scene_id = f"cancel-{unique}"
    feed = Feed(projection)
    events = scene_events(scene_id)
    for subject_name, event, _ in events[:3]:
        await feed.event(subject_name, event)
    cancelled = SceneCancelled(scene_id=scene_id, reason="asked by the user")
    await feed.event(subject(Subject.SCENE_CANCELLED, scene_id), cancelled)
    for subject_name, event, _ in events[3:]:
        await feed.event(subject_name, event)
    view = await view_of(projection, scene_id)
    assert view.status == Status.CANCELLED
    assert view.error is not None
    assert (view.error.code, view.error.message) == ("cancelled", "asked by the user")
    assert view.artifacts == {}
    assert view.late_outcomes == 1
    assert (await projection.list_scenes(status=Status.CANCELLED)).total == 1


async def test_each_attempt_keeps_its_start_end_and_outcome(
    projection: Projection, unique: str
) -> None:
    scene_id = f"attempts-{unique}"
    requested, layout, _, _, image_a, image_b, mesh_a, mesh_b, ready = scene_events(scene_id)
    feed = Feed(projection)
    for subject_name, event, _ in (requested, layout, image_a, image_b, mesh_a):
        await feed.event(subject_name, event)
    failure = SceneFailed(
        scene_id=scene_id, stage="meshgen", object_id="lamp-1", code="boom", message="m"
    )
    failed_seq = await feed.event(subject(Subject.SCENE_FAILED, scene_id), failure)
    replayed = SceneReplayed(scene_id=scene_id, attempt=2, from_stage="meshgen")
    replay_seq = await feed.event(subject(Subject.SCENE_REPLAYED, scene_id), replayed)
    view = await view_of(projection, scene_id)
    first, second = view.attempts
    assert (first.attempt, first.from_stage, first.status) == (1, "planner", AttemptStatus.FAILED)
    assert (first.started_at, first.ended_at) == (at(1), at(failed_seq))
    assert first.error is not None and (first.error.stage, first.error.code) == ("meshgen", "boom")
    assert (second.attempt, second.from_stage, second.status, second.ended_at) == (
        2,
        "meshgen",
        AttemptStatus.IN_PROGRESS,
        None,
    )
    assert second.started_at == at(replay_seq)

    # The failed object is worked on again: pending, not failed, in the new attempt.
    assert {o.object_id: o.mesh_status for o in view.objects} == {
        "bed-1": Status.PENDING,
        "lamp-1": Status.PENDING,
    }
    # Outputs re-sent as they were count as soon as they arrive again.
    await feed.event(image_a[0], of_attempt(image_a[1], 2))
    await feed.event(mesh_b[0], mesh_b[1])  # late news of attempt 1: nothing
    view = await view_of(projection, scene_id)
    assert [o.image_status for o in view.objects] == [Status.SUCCEEDED] * 2
    assert view.progress == 55
    for subject_name, event, _ in (image_b, mesh_a, mesh_b, ready):
        await feed.event(subject_name, of_attempt(event, 2))
    view = await view_of(projection, scene_id)
    assert [(a.attempt, a.status) for a in view.attempts] == [
        (1, AttemptStatus.FAILED),
        (2, AttemptStatus.SUCCEEDED),
    ]
    assert view.attempts[1].ended_at == at(feed.seq)
    assert view.attempts[1].error is None


async def test_a_replay_of_a_running_attempt_supersedes_it(
    projection: Projection, unique: str
) -> None:
    scene_id = f"supersede-{unique}"
    feed = Feed(projection)
    for subject_name, event, _ in scene_events(scene_id)[:2]:
        await feed.event(subject_name, event)
    replayed = SceneReplayed(scene_id=scene_id, attempt=2, from_stage="imagegen")
    seq = await feed.event(subject(Subject.SCENE_REPLAYED, scene_id), replayed)
    cancelled = SceneCancelled(scene_id=scene_id, attempt=2, reason="enough")
    await feed.event(subject(Subject.SCENE_CANCELLED, scene_id), cancelled)
    view = await view_of(projection, scene_id)
    assert [(a.attempt, a.status, a.ended_at) for a in view.attempts] == [
        (1, AttemptStatus.SUPERSEDED, at(seq)),
        (2, AttemptStatus.CANCELLED, at(seq + 1)),
    ]
    assert view.attempts[1].error is not None
    assert view.attempts[1].error.message == "enough"


async def test_a_scene_first_seen_at_a_later_attempt_lists_only_that_one(
    projection: Projection, unique: str
) -> None:
    scene_id = f"first-late-{unique}"
    _, layout, *_ = scene_events(scene_id)
    await Feed(projection).event(layout[0], of_attempt(layout[1], 4))
    view = await view_of(projection, scene_id)
    assert [(a.attempt, a.from_stage) for a in view.attempts] == [(4, None)]


async def test_a_replay_from_assembly_runs_a_failed_earlier_stage_again(
    projection: Projection, unique: str
) -> None:
    scene_id = f"reassemble-{unique}"
    requested, layout, _, _, image_a, image_b, mesh_a, *_ = scene_events(scene_id)
    feed = Feed(projection)
    for subject_name, event, _ in (requested, layout, image_a, image_b, mesh_a):
        await feed.event(subject_name, event)
    failure = SceneFailed(
        scene_id=scene_id, stage="meshgen", object_id="lamp-1", code="x", message="m"
    )
    await feed.event(subject(Subject.SCENE_FAILED, scene_id), failure)
    replayed = SceneReplayed(scene_id=scene_id, attempt=2, from_stage="assembly")
    await feed.event(subject(Subject.SCENE_REPLAYED, scene_id), replayed)
    view = await view_of(projection, scene_id)
    assert view.stages.meshgen == Status.IN_PROGRESS
    assert [o.mesh_status for o in view.objects] == [Status.SUCCEEDED, Status.PENDING]


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def test_a_running_scene_with_no_news_for_too_long_is_stuck(
    tmp_path: Path, unique: str
) -> None:
    clock = Clock(at(0))
    policy = StuckAfter(default_s=900, per_stage={"meshgen": 1800})
    url = f"sqlite+aiosqlite:///{tmp_path}/stuck.db"
    async with Projection(url, stuck_after=policy, clock=clock) as projection:
        feed = Feed(projection)
        quiet, busy, done = (f"{name}-{unique}" for name in ("quiet", "busy", "done"))
        for subject_name, event, _ in scene_events(quiet)[:2]:  # planned, imaging
            await feed.event(subject_name, event)
        for subject_name, event, _ in scene_events(busy)[:7]:  # images done, meshing
            await feed.event(subject_name, event)
        for subject_name, event, _ in scene_events(done):
            await feed.event(subject_name, event)
        last_quiet = at(2)

        clock.now = last_quiet + timedelta(seconds=900)
        assert (await view_of(projection, quiet)).status == Status.IN_PROGRESS
        assert await projection.count_stuck() == 0

        clock.now = last_quiet + timedelta(seconds=901)
        view = await view_of(projection, quiet)
        assert (view.status, view.stages.imagegen) == (Status.STUCK, Status.IN_PROGRESS)
        assert view.attempts[-1].status == AttemptStatus.STUCK
        assert view.last_event_at == last_quiet
        # meshgen is allowed longer: the busy scene, as quiet, is not stuck.
        assert (await view_of(projection, busy)).status == Status.IN_PROGRESS
        assert await projection.count_stuck() == 1
        stuck = await projection.list_scenes(status=Status.STUCK)
        assert ([s.scene_id for s in stuck.items], stuck.total) == ([quiet], 1)
        assert [s.status for s in stuck.items] == [Status.STUCK]
        running = await projection.list_scenes(status=Status.IN_PROGRESS)
        assert [s.scene_id for s in running.items] == [busy]

        clock.now = at(feed.seq) + timedelta(days=30)
        assert {s.scene_id for s in (await projection.list_scenes(status="STUCK")).items} == {
            quiet,
            busy,
        }
        # Ended scenes are never stuck; news of the scene's attempt un-sticks it.
        assert (await view_of(projection, done)).status == Status.SUCCEEDED
        _, _, _, _, image_a, *_ = scene_events(quiet)
        await feed.event(image_a[0], image_a[1])
        clock.now = at(feed.seq) + timedelta(seconds=10)
        assert (await view_of(projection, quiet)).status == Status.IN_PROGRESS
        assert await projection.count_stuck() == 0


async def test_news_of_an_earlier_attempt_does_not_keep_a_scene_from_being_stuck(
    tmp_path: Path, unique: str
) -> None:
    clock = Clock(at(0))
    async with Projection(f"sqlite+aiosqlite:///{tmp_path}/old.db", clock=clock) as projection:
        scene_id = f"old-news-{unique}"
        events = scene_events(scene_id)
        feed = Feed(projection)
        for subject_name, event, _ in events[:2]:
            await feed.event(subject_name, event)
        replayed = SceneReplayed(scene_id=scene_id, attempt=2, from_stage="imagegen")
        replay_seq = await feed.event(subject(Subject.SCENE_REPLAYED, scene_id), replayed)
        # Attempt 1's image, stored ten minutes after the replay.
        late_at = at(replay_seq) + timedelta(seconds=600)
        await projection.apply(events[4][0], encode(events[4][1]), replay_seq + 1, late_at)
        clock.now = at(replay_seq) + timedelta(seconds=STUCK_AFTER_S + 1)
        assert clock.now - late_at < timedelta(seconds=STUCK_AFTER_S)
        assert (await view_of(projection, scene_id)).status == Status.STUCK


def test_stuck_allowances_are_checked() -> None:
    with pytest.raises(ValueError, match="unknown stages"):
        StuckAfter(per_stage={"painting": 10})
    with pytest.raises(ValueError, match="positive"):
        StuckAfter(default_s=0)


async def test_waiting_for_an_attempt(projection: Projection, unique: str) -> None:
    scene_id = f"wait-{unique}"
    feed = Feed(projection)
    await feed.event(*scene_events(scene_id)[0][:2])
    assert await projection.wait_for_attempt(scene_id, 1, timeout=0.1)
    assert not await projection.wait_for_attempt(scene_id, 2, timeout=0.1)
    replayed = SceneReplayed(scene_id=scene_id, attempt=2, from_stage="planner")
    waiting = asyncio.create_task(projection.wait_for_attempt(scene_id, 2, timeout=5))
    await feed.event(subject(Subject.SCENE_REPLAYED, scene_id), replayed)
    assert await asyncio.wait_for(waiting, 5)


async def test_dead_letters_in_one_batch_are_one_row_each(projection: Projection) -> None:
    def letter(seq: int) -> bytes:
        return encode(
            dead_letter(
                "meshgen",
                subject(Subject.IMAGES_READY, "s1", "o1"),
                b"{not json",
                seq,
                "malformed: invalid JSON",
                producer="meshgen-1",
            )
        )

    counted_before = dead_letters_counted("meshgen")
    await projection.apply(subject(Subject.DEAD_LETTER, "meshgen"), letter(7), 1, at(1))
    garbage = b"[" * 100 + b"]" * 100
    batch = [
        (subject(Subject.DEAD_LETTER, "meshgen"), letter(7), 2, at(2)),  # stored before
        (subject(Subject.DEAD_LETTER, "meshgen"), letter(8), 3, at(3)),
        (Subject.SCENE_REQUESTED, garbage, 4, at(4)),  # the gateway's own
        (subject(Subject.DEAD_LETTER, "meshgen"), letter(8), 5, at(5)),  # again in the batch
        (subject(Subject.DEAD_LETTER, "meshgen"), letter(9), 6, at(6)),
    ]
    await projection.apply_many(batch)

    assert projection.last_seq() == 6
    kept = await projection.list_dead_letters(rejected_by="meshgen")
    assert [d.stream_seq for d in kept.items] == [9, 8, 7]
    assert [d.recorded_seq for d in kept.items] == [6, 3, 1]
    [own] = (await projection.list_dead_letters(rejected_by="gateway")).items
    assert own.stream_seq == 4
    assert dead_letters_counted("meshgen") == counted_before + 3


def _replayed_runs() -> list[tuple[str, bytes]]:
    """Three scenes' events interleaved: one plain run, one failed in meshgen and replayed
    from meshgen, one replayed from the planner midway with other objects."""
    plain = scene_events("batch-plain", object_ids=tuple(f"o-{i}" for i in range(6)))
    failed = scene_events("batch-failed", object_ids=("bed-1", "lamp-1", "desk-1"))
    first_run = [e for e in failed if e[0].split(".")[0] != "scene"][:-1]  # up to a mesh short
    failed_run = [
        *first_run,
        (
            subject(Subject.SCENE_FAILED, "batch-failed"),
            SceneFailed(
                scene_id="batch-failed",
                stage="meshgen",
                object_id="desk-1",
                code="backend_unavailable",
                message="down",
                retryable=True,
            ),
            "",
        ),
        (
            subject(Subject.SCENE_REPLAYED, "batch-failed"),
            SceneReplayed(scene_id="batch-failed", attempt=2, from_stage="meshgen"),
            "",
        ),
        *[
            (name, event.model_copy(update={"attempt": 2}), "")
            for name, event, _ in failed
            if name.startswith(("mesh.ready", "scene.ready"))
        ],
    ]
    before = scene_events("batch-again", object_ids=("sofa-1", "tv-1"))
    after = scene_events("batch-again", object_ids=("sofa-1", "chair-1", "chair-2"))
    again_run = [
        *before[:5],
        (
            subject(Subject.SCENE_REPLAYED, "batch-again"),
            SceneReplayed(scene_id="batch-again", attempt=2, from_stage="planner"),
            "",
        ),
        *[(name, event.model_copy(update={"attempt": 2}), "") for name, event, _ in after[1:]],
    ]
    runs = [
        [(name, encode(event)) for name, event, _ in run] for run in (plain, failed_run, again_run)
    ]
    mixed: list[tuple[str, bytes]] = []
    while any(runs):
        for run in runs:
            if run:
                mixed.append(run.pop(0))
    return mixed


@pytest.mark.parametrize("batch", [2, 5, 64])
async def test_batches_fold_to_what_one_event_at_a_time_folds(tmp_path: Path, batch: int) -> None:
    events = [(name, data, seq, at(seq)) for seq, (name, data) in enumerate(_replayed_runs(), 1)]
    one = await Projection(f"sqlite+aiosqlite:///{tmp_path}/one.db").open()
    many = await Projection(f"sqlite+aiosqlite:///{tmp_path}/many.db").open()
    try:
        for event in events:
            await one.apply(*event)
        for start in range(0, len(events), batch):
            await many.apply_many(events[start : start + batch])
        for scene_id in ("batch-plain", "batch-failed", "batch-again"):
            alone, batched = await view_of(one, scene_id), await view_of(many, scene_id)
            assert batched == alone
        assert (await view_of(many, "batch-failed")).attempt == 2
        assert [o.object_id for o in (await view_of(many, "batch-again")).objects] == [
            "sofa-1",
            "chair-1",
            "chair-2",
        ]
        shas = {ref["sha256"] for _, data, _, _ in events for ref in _refs(json.loads(data))}
        for sha in shas:
            assert await many.artifact(sha) == await one.artifact(sha) is not None
    finally:
        await one.close()
        await many.close()


def _refs(body: dict[str, Any]) -> list[dict[str, Any]]:
    found = [body[k] for k in ("image", "mesh") if k in body]
    return found + list(body.get("artifacts", {}).values())
