"""Bounds on one prompt's work: objects per scene, prompt length, planner time and memory."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.planner import limits
from services.planner.furnishing import furnish
from services.planner.limits import PlanningLimit, budget, cap_objects
from services.planner.solver import solve
from services.planner.spec import Constraint, ObjectSpec, SceneSpec
from services.planner.understanding import understand
from services.planner.work import Planner
from shared.config import PlannerSettings
from shared.contract import SceneRequested
from shared.errors import BadInput
from shared.stage import Delivery


def delivery() -> Delivery:
    return Delivery(
        subject="scene.requested.s1", stream_seq=1, stored_at=datetime.now(UTC), attempt=1
    )


def test_the_room_usual_objects_give_way_before_the_named_ones() -> None:
    spec = SceneSpec(
        objects=[
            ObjectSpec(category="bed", count=3, ref="beds"),
            ObjectSpec(
                category="lamp", count=4, constraints=[Constraint(kind="near", target="beds")]
            ),
            ObjectSpec(category="chair", count=5, ref="chairs"),
            ObjectSpec(category="wardrobe", count=2, requested=False),
            ObjectSpec(
                category="rug",
                count=1,
                requested=False,
                constraints=[Constraint(kind="near", target="chairs")],
            ),
        ]
    )
    capped, cut = cap_objects(spec, 8)
    assert [(o.category, o.count) for o in capped.objects] == [
        ("bed", 3),
        ("lamp", 4),
        ("chair", 1),
    ]
    assert {u.category for u in cut} == {"chair", "wardrobe", "rug"}
    chair = next(u for u in cut if u.category == "chair")
    assert chair.reason.startswith("4 of 5 not planned") and "planner.max_objects=8" in chair.reason

    capped, cut = cap_objects(spec, 3)
    assert [(o.category, o.count) for o in capped.objects] == [("bed", 3)]
    # Nothing left refers to an object that was cut away.
    assert cap_objects(spec, 7)[0].objects[-1].category == "lamp"
    assert cap_objects(spec, 100) == (spec, [])


def test_a_cut_object_takes_the_rules_that_refer_to_it_along() -> None:
    spec = SceneSpec(
        objects=[
            ObjectSpec(category="table", ref="t1"),
            ObjectSpec(
                category="chair", count=2, constraints=[Constraint(kind="around", target="t1")]
            ),
            ObjectSpec(category="sofa", ref="s1"),
        ]
    )
    spec = spec.model_copy(
        update={
            "objects": [
                spec.objects[0].model_copy(
                    update={"constraints": [Constraint(kind="near", target="s1")]}
                ),
                *spec.objects[1:],
            ]
        }
    )
    capped, _ = cap_objects(spec, 3)
    assert [o.category for o in capped.objects] == ["table", "chair"]
    assert capped.objects[0].constraints == []
    solve(capped, 1)  # still a valid spec to solve


def test_planning_stops_at_the_time_limit() -> None:
    spec = furnish(understand("a living room with a sofa, two armchairs and a coffee table"))
    with pytest.raises(PlanningLimit, match=r"planner\.timeout_s") as raised, budget(1e-9, 1024):
        solve(spec, 1)
    assert raised.value.code == "planner_time_limit"


def test_planning_stops_at_the_memory_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    grown = iter(range(1, 10_000))
    monkeypatch.setattr(limits, "_rss_bytes", lambda: next(grown) * 64 * 1024 * 1024)
    spec = furnish(understand("a bedroom with a bed, a desk and a chair"))
    with (
        pytest.raises(PlanningLimit, match=r"planner\.max_memory_mb=100") as raised,
        budget(60, 100),
    ):
        solve(spec, 1)
    assert raised.value.code == "planner_memory_limit"


def test_without_a_budget_the_solver_is_unbounded() -> None:
    assert solve(furnish(understand("a small office")), 1).objects


async def test_the_planner_reports_what_the_object_limit_cut() -> None:
    planner = Planner("t", limits=PlannerSettings(max_objects=12))
    request = SceneRequested(
        scene_id="s1", prompt="a room with 10000 beds, 5000 tables and 9999 lamps"
    )
    [out] = await planner(request, delivery())
    layout = out.event.layout  # type: ignore[attr-defined]
    assert len(layout.objects) <= 12
    reasons = [u.reason for u in layout.unplaced if "planner.max_objects=12" in u.reason]
    assert reasons, layout.unplaced
    assert len(layout.unplaced) < 10  # one line per kind of object, not one per bed


async def test_a_prompt_over_the_length_limit_is_bad_input() -> None:
    planner = Planner("t", limits=PlannerSettings(max_prompt_chars=40))
    request = SceneRequested(scene_id="s1", prompt="a bedroom " * 10)
    with pytest.raises(BadInput, match="max_prompt_chars allows 40") as raised:
        await planner(request, delivery())
    assert raised.value.code == "prompt_too_long"


def test_limits_are_settings_with_bounds() -> None:
    from shared.config import load_settings
    from shared.errors import ConfigError

    assert load_settings(planner={"max_objects": 50}).planner.max_objects == 50
    with pytest.raises(ConfigError, match="max_objects"):
        load_settings(planner={"max_objects": 10**9})
