"""Live per-object progress: the board and how the gateway shows it."""

from __future__ import annotations

from services.gateway.progress import ProgressBoard
from services.gateway.projection import ObjectView, Status
from services.gateway.readmodel import object_body as _object_body
from shared.contract import ObjectProgress


def view(image_status: Status) -> ObjectView:
    return ObjectView(
        object_id="sofa-1",
        category="sofa",
        description="grey sofa",
        image_status=image_status,
        image=None,
        mesh_status=Status.PENDING,
        mesh=None,
    )


def test_board_keeps_the_latest_fraction_and_stays_bounded():
    board = ProgressBoard(capacity=2)
    board.record(ObjectProgress(scene_id="s", object_id="a", stage="imagegen", fraction=0.2))
    board.record(ObjectProgress(scene_id="s", object_id="a", stage="imagegen", fraction=0.6))
    assert board.fraction("s", "a", "imagegen") == 0.6
    board.record(ObjectProgress(scene_id="s", object_id="b", stage="imagegen", fraction=0.1))
    board.record(ObjectProgress(scene_id="s", object_id="c", stage="imagegen", fraction=0.1))
    assert board.fraction("s", "a", "imagegen") is None  # the oldest entry made room
    assert board.fraction("s", "c", "imagegen") == 0.1


def test_object_body_shows_live_percent_until_the_image_is_ready():
    board = ProgressBoard()
    board.record(ObjectProgress(scene_id="s", object_id="sofa-1", stage="imagegen", fraction=0.45))
    body = _object_body("s", view(Status.IN_PROGRESS), board)
    assert body.image.progress == 45 and body.image.url is None
    assert body.mesh.progress is None
    failed = _object_body("s", view(Status.FAILED), board)
    assert failed.image.progress is None
    board.record(ObjectProgress(scene_id="s", object_id="sofa-1", stage="imagegen", fraction=1.0))
    assert _object_body("s", view(Status.IN_PROGRESS), board).image.progress == 99
