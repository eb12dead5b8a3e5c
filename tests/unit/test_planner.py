"""The rule-based planner: prompt understanding, room templates and the layout solver."""

from __future__ import annotations

import json
import math
import re

import pytest

from services.planner import check
from services.planner.commands import plan_prompt
from services.planner.furnishing import furnish
from services.planner.plan import plan_scene, scene_spec
from services.planner.solver import solve
from services.planner.spec import ObjectSpec, RoomSpec, SceneSpec
from services.planner.understanding import understand
from shared import catalog
from shared.errors import BadInput
from shared.layout import ID_PATTERN, Layout, PlacedObject, Vec2

PROMPTS = [
    "A cozy bedroom with a double bed, two nightstands and a wardrobe",
    "A living room with a red velvet sofa, two armchairs, a glass coffee table and a rug",
    "A small kitchen with a fridge, a stove, a sink and a table with 4 chairs",
    "A bathroom with a bathtub, a toilet, a sink and a mirror",
    "A dining room with a dining table and six chairs under a chandelier",
    "A home office with an oak desk, an office chair, a bookshelf and a pair of lamps",
    "A classroom with twelve desks and a whiteboard",
    "A kids room with a bunk bed, a toy box and a bean bag",
    "A studio apartment with a bed, a sofa and a kitchenette",
    "A library with bookcases, three armchairs and a reading table",
    "A 4 by 5 meters bedroom with a queen bed and a desk",
    "Something to relax in",
]


# --------------------------------------------------------------------------- geometry


def _separated(a: list[Vec2], b: list[Vec2]) -> bool:
    """Separating-axis test for two convex quadrilaterals (touching counts as apart)."""
    for quad in (a, b):
        for k in range(4):
            (x1, z1), (x2, z2) = quad[k], quad[(k + 1) % 4]
            axis = (z1 - z2, x2 - x1)
            pa = [x * axis[0] + z * axis[1] for x, z in a]
            pb = [x * axis[0] + z * axis[1] for x, z in b]
            if max(pa) <= min(pb) + 1e-6 or max(pb) <= min(pa) + 1e-6:
                return True
    return False


def _inside_rect(points: list[Vec2], polygon: list[Vec2]) -> bool:
    xs = [p[0] for p in polygon]
    zs = [p[1] for p in polygon]
    return all(
        min(xs) - 1e-6 <= x <= max(xs) + 1e-6 and min(zs) - 1e-6 <= z <= max(zs) + 1e-6
        for x, z in points
    )


def _floor_objects(layout: Layout) -> list[PlacedObject]:
    return [o for o in layout.objects if o.placement == "floor" and o.category != "rug"]


def _door_zone(layout: Layout) -> list[list[Vec2]]:
    zones = []
    for door in layout.room.doors:
        (x1, z1), (x2, z2) = layout.room.wall_segment(door.wall)
        length = math.hypot(x2 - x1, z2 - z1)
        ux, uz = (x2 - x1) / length, (z2 - z1) / length
        nx, nz = layout.room.inward_normal(door.wall)
        corners = []
        for along, out in ((-1, 0.0), (1, 0.0), (1, 0.9), (-1, 0.9)):
            t = door.offset + along * door.width / 2
            corners.append((x1 + ux * t + nx * out, z1 + uz * t + nz * out))
        zones.append(corners)
    return zones


def assert_valid(layout: Layout) -> None:
    """Every invariant a layout must hold, whatever the prompt."""
    room = layout.room
    ids = [o.id for o in layout.objects]
    assert len(ids) == len(set(ids)), "object ids must be unique"
    for obj in layout.objects:
        assert re.fullmatch(ID_PATTERN, obj.id)
        assert re.fullmatch(r"[a-z0-9-]+-\d+", obj.id), obj.id
        assert _inside_rect(obj.footprint(), room.polygon), f"{obj.id} leaves the room"
        assert obj.position[1] + obj.size[1] <= room.height + 1e-6, f"{obj.id} pierces the ceiling"
        assert obj.description
        assert obj.placement in ("floor", "wall", "surface", "ceiling")
    floor = _floor_objects(layout)
    for i, a in enumerate(floor):
        for b in floor[i + 1 :]:
            assert _separated(a.footprint(), b.footprint()), f"{a.id} overlaps {b.id}"
        for zone in _door_zone(layout):
            assert _separated(a.footprint(), zone), f"{a.id} blocks the door"
    for obj in layout.objects:
        if obj.placement == "surface":
            assert obj.parent is not None, f"{obj.id} stands on nothing"
            parent = layout.object(obj.parent)
            entry = catalog.lookup(parent.category)
            boards = catalog.board_heights(entry, parent.size[1]) if entry is not None else ()
            levels = [parent.position[1] + h for h in (*boards, parent.size[1])]
            assert any(obj.position[1] == pytest.approx(y, abs=1e-3) for y in levels), obj.id
            px, _, pz = parent.position
            yaw = math.radians(parent.rotation)
            for x, z in obj.footprint():
                dx, dz = x - px, z - pz
                local_x = dx * math.cos(yaw) - dz * math.sin(yaw)
                local_z = dx * math.sin(yaw) + dz * math.cos(yaw)
                assert abs(local_x) <= parent.size[0] / 2 + 1e-3, f"{obj.id} hangs off"
                assert abs(local_z) <= parent.size[2] / 2 + 1e-3, f"{obj.id} hangs off"
        else:
            assert obj.parent is None
        if obj.placement == "wall":
            _assert_on_wall(layout, obj)
    for item in layout.unplaced:
        assert item.reason
    report = check.check(layout)
    assert report.valid, report
    assert not report.unreachable, report.unreachable


def _assert_on_wall(layout: Layout, obj: PlacedObject) -> None:
    room = layout.room
    best = None
    for index in range(len(room.polygon)):
        (x1, z1), (x2, z2) = room.wall_segment(index)
        nx, nz = room.inward_normal(index)
        distance = (obj.position[0] - x1) * nx + (obj.position[2] - z1) * nz
        length = math.hypot(x2 - x1, z2 - z1)
        along = ((obj.position[0] - x1) * (x2 - x1) + (obj.position[2] - z1) * (z2 - z1)) / length
        if distance < -1e-6 or not -1e-6 <= along <= length + 1e-6:
            continue  # the wall's line, not the wall (an L's inner walls)
        if best is None or distance < best[0]:
            best = (distance, index, (nx, nz))
    assert best is not None
    distance, index, (nx, nz) = best
    assert distance <= obj.size[2] / 2 + 0.05, f"{obj.id} is not against a wall"
    front = (math.sin(math.radians(obj.rotation)), math.cos(math.radians(obj.rotation)))
    assert front[0] * nx + front[1] * nz == pytest.approx(1.0, abs=1e-6), f"{obj.id} faces the wall"
    (x1, z1), (x2, z2) = room.wall_segment(index)
    length = math.hypot(x2 - x1, z2 - z1)
    t = ((obj.position[0] - x1) * (x2 - x1) + (obj.position[2] - z1) * (z2 - z1)) / length
    for door in room.doors:
        if door.wall == index:
            apart = abs(t - door.offset) >= (door.width + obj.size[0]) / 2 - 1e-6
            assert apart, f"{obj.id} hangs over the door"


def _all(layout: Layout, category: str) -> tuple[list[PlacedObject], int]:
    placed = [o for o in layout.objects if o.category == category]
    return placed, len([u for u in layout.unplaced if u.category == category])


# --------------------------------------------------------------------------- layouts


@pytest.mark.parametrize("prompt", PROMPTS)
def test_layouts_hold_every_invariant(prompt: str) -> None:
    for seed in (0, 7):
        layout = plan_scene(prompt, seed)
        assert layout.objects
        assert_valid(layout)


def test_requested_objects_are_all_present_with_their_counts() -> None:
    layout = plan_scene(
        "A living room with a sofa, two armchairs, 4 chairs, a pair of floor lamps, "
        "three plants and a piano"
    )
    wanted = {"sofa": 1, "armchair": 2, "chair": 4, "floor lamp": 2, "plant": 3, "piano": 1}
    for category, count in wanted.items():
        placed, unplaced = _all(layout, category)
        assert len(placed) + unplaced == count, category
        assert len(placed) == count, f"{category} should fit in a grown room"
    assert [o.id for o in _all(layout, "armchair")[0]] == ["armchair-1", "armchair-2"]


def test_objects_that_cannot_fit_are_reported_not_dropped() -> None:
    layout = plan_scene("A 2 by 2 m room with a wardrobe, a piano, a double bed and a sofa")
    assert layout.room.area == pytest.approx(4.0)
    for category in ("wardrobe", "piano", "double bed", "sofa"):
        placed, unplaced = _all(layout, category)
        assert len(placed) + unplaced == 1, category
    assert layout.unplaced, "a 4 m² room cannot hold all of these"
    assert all(u.reason for u in layout.unplaced)
    assert_valid(layout)


def test_colours_and_materials_attach_to_the_next_object() -> None:
    layout = plan_scene("A bedroom with a red velvet sofa, an oak desk and a bed")
    sofa = _all(layout, "sofa")[0][0]
    assert sofa.color == "red"
    assert sofa.material == "velvet"
    assert sofa.description.startswith("red velvet sofa")
    desk = _all(layout, "desk")[0][0]
    assert desk.material == "oak"
    assert desk.color is not None and desk.color != "red"
    bed = _all(layout, "bed")[0][0]
    assert bed.material != "oak" and bed.color != "red"


def test_room_wide_style_and_surfaces() -> None:
    spec = understand("A minimalist scandinavian bedroom with white walls and oak floors")
    assert spec.room.type == "bedroom"
    assert spec.room.style == ["minimalist", "scandinavian"]
    assert spec.room.wall_material == "white painted plaster"
    assert spec.room.floor_material == "oak"
    layout = plan_scene("A minimalist scandinavian bedroom with white walls and oak floors")
    assert layout.room.floor_material == "oak"
    assert all("scandinavian" in o.description for o in layout.objects)


@pytest.mark.parametrize(
    ("prompt", "width", "depth"),
    [
        ("A 4 by 5 meters bedroom", 4.0, 5.0),
        ("An office, 4x5 m, with a desk", 4.0, 5.0),
        ("A 12x15 ft living room with a sofa", 12 * 0.3048, 15 * 0.3048),
        ("A kitchen 3.5 m by 2.8 m", 3.5, 2.8),
    ],
)
def test_explicit_dimensions_fix_the_room(prompt: str, width: float, depth: float) -> None:
    layout = plan_scene(prompt)
    xs = [p[0] for p in layout.room.polygon]
    zs = [p[1] for p in layout.room.polygon]
    assert max(xs) - min(xs) == pytest.approx(width, abs=1e-6)
    assert max(zs) - min(zs) == pytest.approx(depth, abs=1e-6)
    assert_valid(layout)


def test_size_words_scale_the_room() -> None:
    small = plan_scene("A small bedroom").room.area
    normal = plan_scene("A bedroom").room.area
    large = plan_scene("A spacious bedroom").room.area
    assert small < normal < large


def test_crowded_rooms_grow_unless_the_size_is_fixed() -> None:
    crowded = plan_scene("A bedroom with 3 wardrobes, 4 bookshelves, 2 desks and a piano")
    floor = sum(o.size[0] * o.size[2] for o in _floor_objects(crowded))
    assert floor <= 0.36 * crowded.room.area
    assert not crowded.unplaced
    fixed = plan_scene("A 3 by 3 m bedroom with 3 wardrobes, 4 bookshelves, 2 desks and a piano")
    assert fixed.room.area == pytest.approx(9.0)


def test_same_prompt_and_seed_give_the_same_layout() -> None:
    prompt = "A living room with a sofa, a coffee table, two armchairs and a plant"
    first = plan_scene(prompt, seed=3)
    assert plan_scene(prompt, seed=3).model_dump_json() == first.model_dump_json()
    others = {plan_scene(prompt, seed=s).model_dump_json() for s in range(6)}
    assert len(others) > 1, "different seeds should vary the layout"


def test_an_unknown_noun_becomes_an_object() -> None:
    layout = plan_scene("A music room with a theremin and two golden zithers")
    theremins, _ = _all(layout, "theremin")
    assert len(theremins) == 1
    assert theremins[0].placement == "floor"
    assert min(theremins[0].size) > 0.1
    assert theremins[0].estimated and "not in the catalog" in (theremins[0].estimate or "")
    zithers, _ = _all(layout, "zither")
    assert len(zithers) == 2
    assert zithers[0].description.startswith("gold zither")
    assert zithers[0].color == "gold"
    assert_valid(layout)


def test_a_named_instrument_is_the_catalogs() -> None:
    layout = plan_scene("A music room with a harp and two golden cellos")
    harps, _ = _all(layout, "harp")
    violins, _ = _all(layout, "violin")
    assert len(harps) == 1 and len(violins) == 2
    assert not harps[0].estimated
    assert violins[0].color == "gold"
    assert_valid(layout)


def test_ordinary_words_do_not_become_furniture() -> None:
    spec = understand("A bedroom that feels like a dream, with a lot of natural light and a view")
    assert spec.objects == []
    spec = understand("A cozy place for a teenager with a bed")
    assert [r.category for r in spec.objects] == ["bed"]


def test_empty_prompt_is_bad_input() -> None:
    for prompt in ("", "   ", "\n\t"):
        with pytest.raises(BadInput):
            plan_scene(prompt)


# --------------------------------------------------------------------------- understanding


def test_room_types_and_synonyms() -> None:
    cases = {
        "a cosy lounge": "living room",
        "a quiet study": "office",
        "a nursery": "nursery",
        "a children's room": "kids room",
        "a washroom": "bathroom",
        "a reading room": "library",
        "a loft": "studio",
        "a room with a bed and two nightstands": "bedroom",
        "a space with a toilet": "bathroom",
        "a garage": "garage",
        "a bookshop": "bookstore",
        "a flower shop": "florist",
        "a cozy bar with a piano": "bar",
        "a sushi restaurant": "sushi restaurant",
        "a tattoo parlour with a chair": "tattoo parlour",
        "a bowling alley with two benches": "bowling alley",
    }
    for prompt, room_type in cases.items():
        assert understand(prompt).room.type == room_type, prompt


def test_synonyms_plurals_and_counts() -> None:
    spec = understand(
        "a couch, two televisions, 3 bookcases, a pair of lamps, several shelves, four benches"
    )
    counts = {r.category: r.count for r in spec.objects}
    assert counts == {
        "sofa": 1,
        "tv": 2,
        "bookshelf": 3,
        "floor lamp": 2,
        "shelf": 3,
        "bench": 4,
    }


def test_negation_removes_template_objects() -> None:
    layout = plan_scene("A living room without a tv or a rug")
    assert not _all(layout, "tv")[0]
    assert not _all(layout, "rug")[0]
    assert _all(layout, "sofa")[0]


def test_wall_mounted_tv_hangs_facing_the_sofa() -> None:
    layout = plan_scene("A living room with a sofa and a wall-mounted TV", seed=2)
    tv = _all(layout, "tv")[0][0]
    assert tv.placement == "wall"
    sofa = _all(layout, "sofa")[0][0]
    to_sofa = (sofa.position[0] - tv.position[0], sofa.position[2] - tv.position[2])
    tv_front = (math.sin(math.radians(tv.rotation)), math.cos(math.radians(tv.rotation)))
    assert to_sofa[0] * tv_front[0] + to_sofa[1] * tv_front[1] > 0


def test_templates_furnish_sparse_prompts_only() -> None:
    sparse = furnish(understand("A bedroom"))
    categories = {r.category for r in sparse.objects}
    assert {"double bed", "nightstand", "wardrobe"} <= categories
    assert all(not r.requested for r in sparse.objects)
    named = furnish(understand("A bedroom with a desk"))
    assert [o.requested for o in named.objects][:1] == [True]
    named = furnish(understand("A bedroom with a single bed, a desk, a chair and a guitar"))
    names = [r.category for r in named.objects]
    assert "double bed" not in names, "a named bed satisfies the template's bed"
    assert "wardrobe" not in names, "extras are left out when the prompt names enough"
    assert names.count("nightstand") == 1, "core items still come"


@pytest.mark.parametrize("room_type", sorted(catalog.rooms()))
def test_every_room_type_is_furnished(room_type: str) -> None:
    spec = furnish(SceneSpec(room=RoomSpec(type=room_type)))
    assert spec.objects
    layout = solve(spec, seed=1)
    assert layout.room.type == room_type
    assert len(layout.objects) >= 4
    assert not layout.unplaced, layout.unplaced
    assert_valid(layout)


def test_catalog_covers_the_basics() -> None:
    assert len(catalog.entries()) >= 400
    names = {e.name for e in catalog.entries()}
    for entry in catalog.entries():
        w, h, d = entry.size
        assert min(w, h, d) > 0, entry.name
        if entry.placement == "wall":
            assert entry.mount_height is not None, entry.name
        for parent in entry.parents:
            assert parent in names, (entry.name, parent)
    for word, category in {
        "couch": "sofa",
        "television": "tv",
        "shelves": "shelf",
        "bookcases": "bookshelf",
        "nightstands": "nightstand",
    }.items():
        found = catalog.lookup(word)
        assert found is not None and found.name == category, word


# --------------------------------------------------------------------------- pairings


def test_nightstands_flank_the_bed_and_lamps_stand_on_them() -> None:
    layout = plan_scene("A bedroom", seed=4)
    bed = _all(layout, "double bed")[0][0]
    stands, _ = _all(layout, "nightstand")
    assert len(stands) == 2
    for stand in stands:
        assert stand.rotation == pytest.approx(bed.rotation)
        assert math.dist(stand.position, bed.position) < bed.size[0] / 2 + stand.size[0] + 0.2
    for lamp in _all(layout, "table lamp")[0]:
        assert lamp.parent in {s.id for s in stands}


def test_chairs_gather_around_the_dining_table() -> None:
    layout = plan_scene("A dining room with a dining table and 6 chairs")
    table = _all(layout, "dining table")[0][0]
    chairs, _ = _all(layout, "chair")
    assert len(chairs) == 6
    for chair in chairs:
        assert math.dist(chair.position, table.position) < table.size[0] / 2 + chair.size[2] + 0.3
        front = (math.sin(math.radians(chair.rotation)), math.cos(math.radians(chair.rotation)))
        to_table = (table.position[0] - chair.position[0], table.position[2] - chair.position[2])
        assert front[0] * to_table[0] + front[1] * to_table[1] > 0, "chairs face the table"


def test_coffee_table_sits_in_front_of_the_sofa() -> None:
    layout = plan_scene("A living room with a sofa, a coffee table and a rug")
    sofa = _all(layout, "sofa")[0][0]
    table = _all(layout, "coffee table")[0][0]
    front = (math.sin(math.radians(sofa.rotation)), math.cos(math.radians(sofa.rotation)))
    offset = (table.position[0] - sofa.position[0], table.position[2] - sofa.position[2])
    ahead = offset[0] * front[0] + offset[1] * front[1]
    assert 0.5 < ahead < 1.5
    rug = _all(layout, "rug")[0][0]
    assert math.dist(rug.position, table.position) < 0.05, "the rug lies under the coffee table"


def test_against_wall_objects_back_onto_a_wall_facing_in() -> None:
    layout = plan_scene("A bedroom with a wardrobe, a bookshelf and a dresser", seed=5)
    for category in ("wardrobe", "bookshelf", "dresser"):
        obj = _all(layout, category)[0][0]
        _assert_on_wall(layout, obj)


def test_room_has_one_door_and_windows() -> None:
    layout = plan_scene("A living room")
    assert len(layout.room.doors) == 1
    assert 1 <= len(layout.room.windows) <= 2
    walls = {w.wall for w in layout.room.windows}
    assert layout.room.doors[0].wall not in walls


# --------------------------------------------------------------------- large prompts
# (Solve times are measured by bench/, never asserted here.)


def test_large_prompts_keep_every_object() -> None:
    twelve = (
        "A living room with a sofa, a coffee table, two armchairs, a tv stand, a tv, "
        "a bookshelf, a floor lamp, a plant, a rug, a painting and a side table"
    )
    layout = plan_scene(twelve, seed=11)
    assert len(layout.objects) + len(layout.unplaced) == 12
    twenty_five = (
        "A dining room with a dining table, 8 chairs, a sideboard, 2 plants, a rug, "
        "2 paintings, a chandelier, a bookshelf, 2 armchairs, a side table, 2 floor lamps, "
        "a mirror, a clock and a piano"
    )
    layout = plan_scene(twenty_five, seed=11)
    assert len(layout.objects) + len(layout.unplaced) == 25


def test_specs_can_be_written_by_hand() -> None:
    spec = SceneSpec(
        room=RoomSpec(type="living room"),
        objects=[ObjectSpec(category="sofa", count=2, color="red")],
    )
    layout = solve(spec, seed=0)
    sofas = _all(layout, "sofa")[0]
    assert [s.id for s in sofas] == ["sofa-1", "sofa-2"]
    assert all(s.color == "red" for s in sofas)


def test_plan_prompt_gives_layout_json() -> None:
    text = plan_prompt("a bedroom with a bed", seed=3)
    layout = Layout.model_validate(json.loads(text))
    assert layout == plan_scene("a bedroom with a bed", 3)
    with pytest.raises(BadInput):
        plan_prompt("  ", seed=0)


# --------------------------------------------------------------------------- relations


def _rules(prompt: str) -> dict[str, list[tuple[str, str | None]]]:
    spec = understand(prompt)
    return {o.category: [(c.kind, c.target) for c in o.constraints] for o in spec.objects}


@pytest.mark.parametrize(
    ("prompt", "category", "expected"),
    [
        ("a bedroom with a lamp next to the bed", "table lamp", ("beside", "bed")),
        ("a dining room with chairs around the table", "chair", ("around", "dining table")),
        ("a living room with a rug under the coffee table", "rug", ("under", "coffee table")),
        ("a living room with a TV facing the sofa", "tv", ("facing", "sofa")),
        ("a bedroom with a painting above the bed", "painting", ("above", "bed")),
        ("a library with books on the shelf", "book", ("on", "bookshelf")),
        ("an office with books on the shelf", "book", ("on", "shelf")),
        ("a living room with a plant in the corner", "plant", ("corner", None)),
        ("an office with a desk against the wall", "desk", ("against_wall", None)),
        ("a dining room with a table in the middle", "dining table", ("middle", None)),
        ("a room with a table in the middle of the room", "table", ("middle", None)),
        ("a bedroom with a desk near the window", "desk", ("near", "window")),
        ("a bedroom with a desk far from the bed", "desk", ("far", "bed")),
        ("a living room with a lamp to the left of the sofa", "floor lamp", ("left_of", "sofa")),
        ("a living room with a plant right of the sofa", "plant", ("right_of", "sofa")),
        ("a coffee table in front of the sofa", "coffee table", ("in_front_of", "sofa")),
        ("a console table behind the sofa", "console table", ("behind", "sofa")),
        ("a bed with nightstands on either side", "nightstand", ("beside", "bed")),
        ("a desk with an office chair at it", "office chair", ("around", "desk")),
        ("a room with a harp next to the piano", "harp", ("beside", "piano")),
    ],
)
def test_relations_are_read_from_plain_english(
    prompt: str, category: str, expected: tuple[str, str | None]
) -> None:
    rules = _rules(prompt)
    assert expected in rules[category], rules


def test_relation_targets_become_objects_once() -> None:
    spec = understand("a bedroom with a bed, a lamp next to the bed and a painting above the bed")
    assert [o.category for o in spec.objects].count("bed") == 1
    assert {o.category for o in spec.objects} == {"bed", "table lamp", "painting"}
    painting = next(o for o in spec.objects if o.category == "painting")
    assert painting.placement in (None, "wall")


def test_a_leading_rule_belongs_to_the_next_object() -> None:
    assert _rules("In the corner, a plant. A sofa against the wall.") == {
        "plant": [("corner", None)],
        "sofa": [("against_wall", None)],
    }


def test_relations_from_prompts_are_met_in_the_layout() -> None:
    prompt = (
        "a living room with a sofa against the wall, a coffee table in front of the sofa, "
        "a rug under the coffee table, a tv facing the sofa, a painting above the sofa, "
        "a plant in the corner and a floor lamp next to the sofa"
    )
    layout = plan_scene(prompt, seed=2)
    results = [c for o in layout.objects for c in o.constraints]
    assert results and sum(c.met for c in results) / len(results) >= 0.85
    assert_valid(layout)


# --------------------------------------------------------------------------- shapes


def test_l_shaped_rooms_are_understood_and_built() -> None:
    spec = understand("an L-shaped living room with a sofa and two armchairs")
    assert spec.room.shape == "l_shape" and spec.room.type == "living room"
    assert understand("an L-shaped sofa").room.shape is None
    layout = plan_scene("an L-shaped living room with a sofa and two armchairs", seed=1)
    assert len(layout.room.polygon) == 6
    assert_valid(layout)
    fixed = plan_scene("a 6 by 7 meters L-shaped office with two desks", seed=0)
    xs = [p[0] for p in fixed.room.polygon]
    zs = [p[1] for p in fixed.room.polygon]
    assert (max(xs) - min(xs), max(zs) - min(zs)) == pytest.approx((6.0, 7.0))
    assert len(fixed.room.polygon) == 6


def test_templates_bring_their_usual_rules() -> None:
    spec = scene_spec("a bedroom")
    rules = {o.category: [(c.kind, c.target) for c in o.constraints] for o in spec.objects}
    assert ("against_wall", None) in rules["double bed"]
    assert ("beside", "double bed") in rules["nightstand"]
    assert ("on", "nightstand") in rules["table lamp"]
    living = scene_spec("a living room")
    rules = {o.category: [(c.kind, c.target) for c in o.constraints] for o in living.objects}
    assert ("in_front_of", "sofa") in rules["coffee table"]
    assert ("facing", "sofa") in rules["tv stand"]
    dining = scene_spec("a dining room")
    rules = {o.category: [(c.kind, c.target) for c in o.constraints] for o in dining.objects}
    assert ("around", "dining table") in rules["chair"]
    assert ("above", "dining table") in rules["chandelier"]
    own = scene_spec("a bedroom with a bed in the corner")
    bed = next(o for o in own.objects if o.category == "bed")
    assert [(c.kind, c.target) for c in bed.constraints] == [("corner", None)]
