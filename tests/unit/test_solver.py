"""The layout solver: hard constraints (checked by the independent checker), the rules
it reports, priorities in a fixed room, growth in a free one, and determinism."""

from __future__ import annotations

import math
from typing import Any

import pytest

from services.planner import check
from services.planner.solver import solve
from services.planner.spec import parse_spec
from shared.layout import Layout, Opening, PlacedObject, Room, rectangle

L_ROOM = [[0, 0], [0, 6], [3, 6], [3, 3], [6, 3], [6, 0]]


def spec_of(objects: list[dict[str, Any]], **room: Any) -> Any:
    return parse_spec({"room": room, "objects": objects})


def assert_sound(layout: Layout) -> None:
    report = check.check(layout)
    assert not report.overlaps, report.overlaps
    assert not report.out_of_bounds, report.out_of_bounds
    assert not report.blocked_doors, report.blocked_doors
    assert not report.blocked_windows, report.blocked_windows
    assert not report.covered_openings, report.covered_openings
    assert not report.floating, report.floating
    assert not report.unreachable, report.unreachable


def by_category(layout: Layout, category: str) -> list[PlacedObject]:
    return [o for o in layout.objects if o.category == category]


def front(obj: PlacedObject) -> tuple[float, float]:
    yaw = math.radians(obj.rotation)
    return math.sin(yaw), math.cos(yaw)


def local(obj: PlacedObject, x: float, z: float) -> tuple[float, float]:
    yaw = math.radians(obj.rotation)
    dx, dz = x - obj.position[0], z - obj.position[2]
    return dx * math.cos(yaw) - dz * math.sin(yaw), dx * math.sin(yaw) + dz * math.cos(yaw)


def rule(obj: PlacedObject, kind: str) -> Any:
    return next(c for c in obj.constraints if c.kind == kind)


LIVING = [
    {"category": "sofa", "constraints": [{"kind": "against_wall"}]},
    {"category": "coffee table", "constraints": [{"kind": "in_front_of", "target": "sofa"}]},
    {
        "category": "armchair",
        "count": 2,
        "constraints": [{"kind": "around", "target": "coffee table"}],
    },
    {"category": "tv stand", "constraints": [{"kind": "facing", "target": "sofa"}]},
    {"category": "tv", "constraints": [{"kind": "on", "target": "tv stand"}]},
    {"category": "rug", "constraints": [{"kind": "under", "target": "coffee table"}]},
    {"category": "painting", "constraints": [{"kind": "above", "target": "sofa"}]},
    {"category": "plant", "constraints": [{"kind": "corner"}]},
    {"category": "bookshelf", "count": 2, "constraints": [{"kind": "against_wall"}]},
    {"category": "floor lamp", "constraints": [{"kind": "beside", "target": "sofa"}]},
]


# --------------------------------------------------------------------------- hard rules


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_l_shaped_rooms_keep_every_footprint_out_of_the_notch(seed: int) -> None:
    objects = [
        {"category": "wardrobe", "count": 2},
        {"category": "bookshelf", "count": 3},
        {"category": "sofa"},
        {"category": "dining table"},
        {
            "category": "chair",
            "count": 4,
            "constraints": [{"kind": "around", "target": "dining table"}],
        },
        {"category": "piano"},
        {"category": "plant", "count": 3},
        {"category": "painting", "count": 3},
    ]
    layout = solve(spec_of(objects, type="living room", polygon=L_ROOM), seed)
    assert len(layout.room.polygon) == 6
    assert not layout.unplaced, layout.unplaced
    assert_sound(layout)
    for obj in layout.objects:
        for x, z in obj.footprint():
            assert not (x > 3 + 1e-6 and z > 3 + 1e-6), f"{obj.id} is in the notch"


def test_l_shape_from_a_size_is_an_l_and_stays_sound() -> None:
    layout = solve(spec_of(LIVING, type="living room", shape="l_shape"), seed=5)
    assert len(layout.room.polygon) == 6
    xs = [p[0] for p in layout.room.polygon]
    zs = [p[1] for p in layout.room.polygon]
    assert layout.room.area < (max(xs) - min(xs)) * (max(zs) - min(zs)) - 1.0
    assert_sound(layout)


def test_the_checker_catches_a_footprint_across_the_inner_corner() -> None:
    room = Room(type="living room", polygon=[(float(x), float(z)) for x, z in L_ROOM], height=2.7)
    sofa = PlacedObject(
        id="sofa-1",
        category="sofa",
        description="sofa",
        size=(2.0, 0.8, 0.9),
        position=(3.2, 0, 3.2),
    )
    assert check.out_of_bounds(Layout(room=room, objects=[sofa])) == ["sofa-1"]
    inside = sofa.model_copy(update={"position": (1.5, 0.0, 1.5)})
    assert check.out_of_bounds(Layout(room=room, objects=[inside])) == []


def test_doors_keep_a_clear_metre() -> None:
    objects = [{"category": "wardrobe", "count": 3}, {"category": "bookshelf", "count": 4}]
    for seed in range(4):
        layout = solve(spec_of(objects, type="bedroom", size={"width": 4, "depth": 4}), seed)
        assert layout.room.doors
        assert check.blocked_doors(layout) == []
        door = layout.room.doors[0]
        (x1, z1), (x2, z2) = layout.room.wall_segment(door.wall)
        length = math.hypot(x2 - x1, z2 - z1)
        nx, nz = layout.room.inward_normal(door.wall)
        for obj in layout.objects:
            for k in range(11):
                t = door.offset - door.width / 2 + door.width * k / 10
                for out in (0.05, 0.5, 0.95):
                    px = x1 + (x2 - x1) / length * t + nx * out
                    pz = z1 + (z2 - z1) / length * t + nz * out
                    lx, lz = local(obj, px, pz)
                    inside = abs(lx) < obj.size[0] / 2 and abs(lz) < obj.size[2] / 2
                    assert not inside, f"{obj.id} stands in front of the door"


def test_doors_and_windows_from_the_spec_are_kept() -> None:
    spec = spec_of(
        [{"category": "bed"}, {"category": "wardrobe"}],
        type="bedroom",
        size={"width": 4, "depth": 5},
        doors=[{"wall": 2, "offset": 1.0}],
        windows=[{"wall": 0, "offset": 2.5, "width": 1.2}],
    )
    layout = solve(spec, seed=0)
    assert layout.room.doors == [Opening(wall=2, offset=1.0, width=0.9, height=2.1, sill=0.0)]
    assert layout.room.windows[0].wall == 0 and layout.room.windows[0].width == 1.2
    assert_sound(layout)


def test_every_floor_object_can_be_walked_to() -> None:
    objects = [
        {"category": "dining table"},
        {
            "category": "chair",
            "count": 6,
            "constraints": [{"kind": "around", "target": "dining table"}],
        },
        {"category": "sideboard"},
        {"category": "bookshelf", "count": 4},
        {"category": "armchair", "count": 2},
        {"category": "plant", "count": 2},
    ]
    for seed in range(3):
        layout = solve(spec_of(objects, type="dining room", size={"width": 5, "depth": 5}), seed)
        reachable, unreachable = check.reachability(layout)
        assert not unreachable
        assert len(reachable) == len([o for o in layout.objects if o.placement == "floor"])


def test_the_checker_sees_a_boxed_in_object() -> None:
    room = Room(
        type="bedroom",
        polygon=rectangle(4, 4),
        height=2.7,
        doors=[Opening(wall=3, offset=2.0, width=0.9, height=2.1)],
    )

    def box(i: str, cat: str, x: float, z: float, w: float, d: float, rot: float) -> PlacedObject:
        return PlacedObject(
            id=i, category=cat, description=cat, size=(w, 1.0, d), position=(x, 0, z), rotation=rot
        )

    # A wardrobe in the far corner, walled off by two sideboards around it.
    objects = [
        box("wardrobe-1", "wardrobe", 3.4, 3.7, 1.0, 0.6, 180.0),
        box("sideboard-1", "sideboard", 2.1, 3.3, 1.4, 0.4, 270.0),
        box("sideboard-2", "sideboard", 3.3, 2.8, 1.4, 0.4, 180.0),
    ]
    layout = Layout(room=room, objects=objects)
    reachable, unreachable = check.reachability(layout)
    assert unreachable == ["wardrobe-1"]
    assert set(reachable) == {"sideboard-1", "sideboard-2"}


def test_wall_objects_never_cover_a_door_or_window() -> None:
    objects = [
        {"category": "painting", "count": 6},
        {"category": "mirror", "count": 2},
        {"category": "clock"},
        {"category": "curtains"},
    ]
    for seed in range(4):
        layout = solve(spec_of(objects, type="living room", size={"width": 4, "depth": 3.5}), seed)
        assert check.covered_openings(layout) == []
        for obj in layout.objects:
            if obj.placement != "wall" or obj.category == "curtains":
                continue
            for opening in (*layout.room.doors, *layout.room.windows):
                (x1, z1), (x2, z2) = layout.room.wall_segment(opening.wall)
                length = math.hypot(x2 - x1, z2 - z1)
                nx, nz = layout.room.inward_normal(opening.wall)
                off = (obj.position[0] - x1) * nx + (obj.position[2] - z1) * nz
                if off > 0.2:
                    continue  # on another wall
                t = (
                    (obj.position[0] - x1) * (x2 - x1) + (obj.position[2] - z1) * (z2 - z1)
                ) / length
                apart = abs(t - opening.offset) >= (opening.width + obj.size[0]) / 2 - 1e-6
                assert apart, f"{obj.id} hangs over an opening"
        curtains = by_category(layout, "curtains")
        assert curtains, "curtains hang at the window"


def test_tall_furniture_keeps_clear_of_windows() -> None:
    objects = [{"category": "wardrobe", "count": 4}, {"category": "bookshelf", "count": 4}]
    layout = solve(spec_of(objects, type="bedroom"), seed=3)
    assert layout.room.windows
    assert check.blocked_windows(layout) == []
    assert_sound(layout)


def test_surface_objects_stand_on_their_parent() -> None:
    objects = [
        {"category": "desk", "ref": "desk"},
        {"category": "computer monitor", "constraints": [{"kind": "on", "target": "desk"}]},
        {"category": "table lamp", "constraints": [{"kind": "on", "target": "desk"}]},
        {"category": "nightstand", "count": 2},
        {"category": "vase", "count": 2, "constraints": [{"kind": "on", "target": "nightstand"}]},
        {"category": "shelf"},
        {"category": "books", "constraints": [{"kind": "on", "target": "shelf"}]},
    ]
    layout = solve(spec_of(objects, type="office"), seed=2)
    assert not layout.unplaced
    assert check.floating(layout) == []
    ids = {o.id: o for o in layout.objects}
    for obj in layout.objects:
        if obj.placement != "surface":
            continue
        parent = ids[obj.parent or ""]
        assert obj.position[1] == pytest.approx(parent.position[1] + parent.size[1])
        on = rule(obj, "on")
        assert on.met and on.target_id == parent.id
    assert ids[by_category(layout, "book")[0].parent or ""].category == "shelf"
    vases = by_category(layout, "vase")
    assert {v.parent for v in vases} == {o.id for o in by_category(layout, "nightstand")}
    assert_sound(layout)


def test_a_tv_with_nothing_to_stand_on_hangs_on_the_wall() -> None:
    layout = solve(
        spec_of(
            [
                {"category": "sofa"},
                {"category": "tv", "constraints": [{"kind": "facing", "target": "sofa"}]},
            ]
        ),
        seed=0,
    )
    tv = by_category(layout, "tv")[0]
    assert tv.placement == "wall" and rule(tv, "facing").met


# --------------------------------------------------------------------------- rules


def test_rules_are_reported_with_met_flags_and_targets() -> None:
    layout = solve(spec_of(LIVING, type="living room"), seed=4)
    assert not layout.unplaced
    ids = {o.id for o in layout.objects}
    asked = {(o["category"], c["kind"]) for o in LIVING for c in o.get("constraints", [])}
    reported = {(o.category, c.kind) for o in layout.objects for c in o.constraints}
    assert reported == asked
    for obj in layout.objects:
        for result in obj.constraints:
            assert isinstance(result.met, bool)
            assert result.detail
            if result.target is not None:
                assert result.target_id in ids
    met = [c.met for o in layout.objects for c in o.constraints]
    assert sum(met) / len(met) >= 0.9
    assert_sound(layout)


def test_relations_hold_geometrically() -> None:
    layout = solve(spec_of(LIVING, type="living room"), seed=1)
    sofa = by_category(layout, "sofa")[0]
    table = by_category(layout, "coffee table")[0]
    ahead = local(sofa, table.position[0], table.position[2])[1]
    assert rule(table, "in_front_of").met
    assert sofa.size[2] / 2 < ahead < sofa.size[2] / 2 + 1.0 + table.size[2]
    for chair in by_category(layout, "armchair"):
        assert rule(chair, "around").met
        fx, fz = front(chair)
        to = (table.position[0] - chair.position[0], table.position[2] - chair.position[2])
        assert fx * to[0] + fz * to[1] > 0, "armchairs face the table"
    stand = by_category(layout, "tv stand")[0]
    fx, fz = front(stand)
    to = (sofa.position[0] - stand.position[0], sofa.position[2] - stand.position[2])
    assert (fx * to[0] + fz * to[1]) / math.hypot(*to) > 0.8, "the tv stand faces the sofa"
    rug = by_category(layout, "rug")[0]
    lx, lz = local(rug, table.position[0], table.position[2])
    assert abs(lx) < rug.size[0] / 2 and abs(lz) < rug.size[2] / 2, "the rug lies under the table"
    painting = by_category(layout, "painting")[0]
    assert painting.placement == "wall" and rule(painting, "above").met
    assert painting.position[1] >= sofa.size[1]
    lx, _ = local(sofa, painting.position[0], painting.position[2])
    assert abs(lx) <= sofa.size[0] / 2
    plant = by_category(layout, "plant")[0]
    corners = [(x, z) for x, z in layout.room.polygon]
    gap = min(
        math.hypot(
            max(abs(local(plant, x, z)[0]) - plant.size[0] / 2, 0),
            max(abs(local(plant, x, z)[1]) - plant.size[2] / 2, 0),
        )
        for x, z in corners
    )
    assert gap <= 0.3 and rule(plant, "corner").met


def test_left_and_right_are_seen_from_the_front() -> None:
    objects = [
        {"category": "sofa", "constraints": [{"kind": "against_wall"}]},
        {"category": "side table", "constraints": [{"kind": "left_of", "target": "sofa"}]},
        {"category": "floor lamp", "constraints": [{"kind": "right_of", "target": "sofa"}]},
    ]
    for seed in range(3):
        layout = solve(spec_of(objects, type="living room"), seed)
        sofa = by_category(layout, "sofa")[0]
        left = by_category(layout, "side table")[0]
        right = by_category(layout, "floor lamp")[0]
        assert rule(left, "left_of").met and rule(right, "right_of").met
        # Looking at the sofa's front, its local -X lies on the viewer's left.
        assert local(sofa, left.position[0], left.position[2])[0] < -sofa.size[0] / 2
        assert local(sofa, right.position[0], right.position[2])[0] > sofa.size[0] / 2


def test_near_far_and_the_window() -> None:
    objects = [
        {"category": "bed"},
        {"category": "desk", "constraints": [{"kind": "near", "target": "window"}]},
        {"category": "bookshelf", "constraints": [{"kind": "far", "target": "bed"}]},
    ]
    layout = solve(spec_of(objects, type="bedroom"), seed=0)
    desk = by_category(layout, "desk")[0]
    shelf = by_category(layout, "bookshelf")[0]
    assert rule(desk, "near").met and rule(shelf, "far").met
    bed = by_category(layout, "bed")[0]
    assert math.dist(bed.position, shelf.position) > 1.5


def test_an_unmet_rule_is_reported_unmet() -> None:
    objects = [
        {"category": "bed"},
        {"category": "plant", "constraints": [{"kind": "near", "target": "piano"}]},
    ]
    layout = solve(spec_of(objects, type="bedroom"), seed=0)
    result = rule(by_category(layout, "plant")[0], "near")
    assert result.met is False and result.target_id is None
    assert "piano" in result.detail


def test_a_low_object_may_go_under_a_table() -> None:
    objects = [
        {"category": "desk", "constraints": [{"kind": "against_wall"}]},
        {"category": "ottoman", "constraints": [{"kind": "under", "target": "desk"}]},
    ]
    layout = solve(spec_of(objects, type="office"), seed=0)
    ottoman = by_category(layout, "ottoman")[0]
    assert rule(ottoman, "under").met
    assert check.overlaps(layout) == []


# --------------------------------------------------------------------------- capacity


def test_a_fixed_room_places_by_priority_and_reports_the_rest() -> None:
    objects = [
        {"category": "wardrobe"},
        {"category": "desk"},
        {"category": "double bed"},
        {"category": "piano"},
        {"category": "sofa"},
        {"category": "bookshelf", "count": 2},
        {"category": "dresser", "requested": False},
    ]
    layout = solve(spec_of(objects, type="bedroom", size={"width": 3, "depth": 3}), seed=0)
    assert layout.room.area == pytest.approx(9.0)
    assert len(layout.objects) + len(layout.unplaced) == 8
    assert layout.unplaced, "a 9 m² room cannot hold all of this"
    placed = {o.category for o in layout.objects}
    assert "wardrobe" in placed, "the first object named is placed first"
    for item in layout.unplaced:
        assert item.reason and item.description
        assert any(word in item.reason for word in ("floor", "walkway", "room", "wall"))
    assert_sound(layout)


def test_template_objects_give_way_to_named_ones() -> None:
    objects = [
        {"category": "wardrobe", "count": 3, "requested": False},
        {"category": "double bed"},
        {"category": "desk"},
    ]
    layout = solve(spec_of(objects, type="bedroom", size={"width": 3.2, "depth": 3.4}), seed=1)
    placed = {o.category for o in layout.objects}
    assert {"double bed", "desk"} <= placed
    assert all(u.category == "wardrobe" for u in layout.unplaced)


def test_a_room_the_spec_does_not_size_grows_to_fit() -> None:
    objects = [
        {"category": "wardrobe", "count": 4},
        {"category": "bookshelf", "count": 6},
        {"category": "desk", "count": 3},
        {"category": "piano", "count": 2},
        {"category": "double bed", "count": 2},
    ]
    grown = solve(spec_of(objects, type="bedroom"), seed=0)
    assert not grown.unplaced
    assert grown.room.area > 4.0 * 4.5
    assert_sound(grown)
    fixed = solve(spec_of(objects, type="bedroom", size={"width": 4, "depth": 4.5}), seed=0)
    assert fixed.room.area == pytest.approx(18.0)
    assert fixed.unplaced


def test_an_object_taller_than_the_room_is_reported() -> None:
    objects = [{"category": "wardrobe", "size": {"width": 1, "height": 3.5, "depth": 0.6}}]
    layout = solve(spec_of(objects, type="bedroom", height=2.5), seed=0)
    assert not layout.objects
    assert "taller" in layout.unplaced[0].reason


def test_unknown_categories_are_placed_with_their_size() -> None:
    objects = [{"category": "harp", "size": {"width": 0.6, "height": 1.7, "depth": 0.9}}]
    layout = solve(spec_of(objects), seed=0)
    harp = layout.objects[0]
    assert harp.category == "harp" and harp.size == (0.6, 1.7, 0.9)
    assert layout.room.type == "living room"


# --------------------------------------------------------------------------- determinism


def test_the_same_spec_and_seed_give_the_same_layout() -> None:
    spec = spec_of(LIVING, type="living room")
    first = solve(spec, seed=7).model_dump_json()
    assert solve(spec, seed=7).model_dump_json() == first
    others = {solve(spec, seed=s).model_dump_json() for s in range(4)}
    assert len(others) > 1, "seeds vary the layout"
