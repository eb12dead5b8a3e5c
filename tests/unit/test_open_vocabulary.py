"""Rooms of any type, objects of any name: what a person names is what the room holds,
at its real size, in its real place."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from services.planner import check
from services.planner.furnishing import furnish
from services.planner.plan import plan_scene, scene_spec
from services.planner.solver import solve
from services.planner.spec import parse_spec
from services.planner.understanding import understand
from shared import catalog
from shared.layout import Layout, PlacedObject, Room, rectangle


def _of(layout: Layout, category: str) -> list[PlacedObject]:
    return [o for o in layout.objects if o.category == category]


def _sound(layout: Layout) -> None:
    report = check.check(layout)
    assert report.valid, report
    assert not report.unreachable, report.unreachable


# --------------------------------------------------------------------------- words


@pytest.mark.parametrize(
    ("prompt", "category", "count"),
    [
        ("a kitchen with six knives", "knife", 6),
        ("a garage with two pairs of gloves", "gloves", 2),
        ("a game room with a pool table", "pool table", 1),
        ("a game room with a ping-pong table", "ping pong table", 1),
        ("a science lab with a lab bench", "lab bench", 1),
        ("an office with a conference table", "conference table", 1),
        ("a dining room with a table runner on the table", "table runner", 1),
        ("a living room with a coffee-table", "coffee table", 1),
        ("a kids room with three teddy bears", "teddy bear", 3),
        ("a restaurant with 30 plates", "plate", 30),
        ("a pub with a dartboard", "dartboard", 1),
        ("a pizzeria with a pizza oven", "stove", 1),
        ("a sushi bar with 16 pairs of chopsticks", "chopsticks", 16),
        ("a kindergarten with cubbies", "cubby", 2),
    ],
)
def test_named_things_keep_their_identity_and_count(prompt: str, category: str, count: int) -> None:
    spec = understand(prompt)
    counts = Counter()
    for obj in spec.objects:
        counts[obj.category] += obj.count
    assert counts[category] == count, spec.objects


def test_a_table_runner_lies_on_the_table_not_on_the_floor() -> None:
    layout = plan_scene("a dining room with a dining table and a table runner on the table")
    (runner,) = _of(layout, "table runner")
    assert runner.placement == "surface"
    table = layout.object(runner.parent or "")
    assert table.category == "dining table"
    # Laid along the table, whole, not cut short across it.
    assert runner.size == catalog.lookup("table runner").size  # type: ignore[union-attr]
    turn = (runner.rotation - table.rotation) % 180.0
    assert turn == pytest.approx(90.0), "its long side lies along the table's"
    _sound(layout)


def test_plates_stand_on_a_runner_as_on_the_table() -> None:
    layout = plan_scene(
        "a dining room with a dining table, six chairs, six plates and a table runner on the table"
    )
    assert len(_of(layout, "plate")) == 6
    _sound(layout)


def test_an_unknown_word_is_estimated_from_its_phrase_never_the_default_box() -> None:
    layout = plan_scene("an office with a desk and a small zorblat on the desk")
    (thing,) = _of(layout, "zorblat")
    assert thing.placement == "surface"
    assert layout.object(thing.parent or "").category == "desk"
    assert max(thing.size) < 0.3, "a small thing on a desk is small"
    assert thing.estimated and thing.estimate and "not in the catalog" in thing.estimate
    _sound(layout)


def test_an_unknown_compound_is_drawn_as_its_head_noun_and_says_so() -> None:
    layout = plan_scene("a music room with a zither table and two chairs")
    (table,) = _of(layout, "zither table")
    assert table.estimated and "table" in (table.estimate or "")
    assert catalog.shape_family(table.category, table.size) == "table"
    assert table.size == catalog.lookup("table").size  # type: ignore[union-attr]


# --------------------------------------------------------------------------- rooms


@pytest.mark.parametrize(
    ("prompt", "room"),
    [
        ("a bookstore with shelves and books", "bookstore"),
        ("a florist with buckets of flowers", "florist"),
        ("a game room with a pool table", "game room"),
        ("a sushi restaurant with four tables", "sushi restaurant"),
        ("a tattoo parlour with a chair", "tattoo parlour"),
        ("a bowling alley with two benches", "bowling alley"),
        ("a server room with 6 server racks", "server room"),
        ("a pet shop with an aquarium", "pet shop"),
    ],
)
def test_any_room_type_keeps_its_name(prompt: str, room: str) -> None:
    assert plan_scene(prompt).room.type == room


@pytest.mark.parametrize(
    "prompt",
    [
        "a bookstore with four bookshelves, a counter and a cash register",
        "a florist with a counter and six flower buckets",
        "a game room with a pool table, a dartboard and two bar stools",
        "a tattoo parlour with a chair, a mirror and a trolley",
    ],
)
def test_unknown_or_shop_rooms_bring_no_home_furniture(prompt: str) -> None:
    categories = {o.category for o in scene_spec(prompt).objects}
    homely = {"double bed", "bed", "fridge", "stove", "sink", "sofa", "wardrobe", "bathtub"}
    assert not categories & homely, categories


def test_an_unknown_room_adds_only_what_any_room_has() -> None:
    spec = scene_spec("a tattoo parlour")
    assert spec.room.type == "tattoo parlour"
    assert {o.category for o in spec.objects} <= {"ceiling light"}


def test_at_least_thirty_room_types_are_furnished() -> None:
    assert len(catalog.rooms()) >= 30
    for name in catalog.rooms():
        assert furnish(understand(f"a {name}")).objects, name


def test_a_template_never_duplicates_a_kind_the_prompt_named() -> None:
    spec = scene_spec("a bedroom with a queen bed and a painting above the bed")
    beds = [o for o in spec.objects if catalog.kind(o.category) == "bed"]
    assert sum(o.count for o in beds) == 1
    painting = next(o for o in spec.objects if o.category == "painting")
    assert painting.constraints[0].kind == "above"
    layout = plan_scene("a bedroom with a queen bed and a painting above the bed")
    (paint,) = _of(layout, "painting")
    assert paint.constraints[0].met


def test_a_classroom_gets_no_extra_desks_when_the_prompt_names_its_own() -> None:
    spec = scene_spec("a classroom with 20 tables and 20 chairs")
    assert not [o for o in spec.objects if o.category == "student desk"]


def test_a_well_furnished_prompt_gets_nothing_from_the_template() -> None:
    spec = scene_spec(
        "a clinic with an examination table, a sink, a cabinet, a trolley and a stool"
    )
    assert all(o.requested for o in spec.objects)


# --------------------------------------------------------------------------- room sizes


@pytest.mark.parametrize(
    ("prompt", "size"),
    [
        ("a 10 by 12 meter buffet restaurant with 8 tables and 32 chairs", (10.0, 12.0)),
        ("a 6x8 m computer lab with 10 desks", (6.0, 8.0)),
        ("a computer room, 6 by 8 meters, with 10 desks", (6.0, 8.0)),
        ("a 20 by 30 ft diner with six booths", (6.096, 9.144)),
        ("a 10 by 12 meter sushi restaurant with four tables", (10.0, 12.0)),
        ("a bar, 20 by 30 ft, with a counter", (6.096, 9.144)),
        ("a cafe of 6 by 8 meters with four tables", (6.0, 8.0)),
        ("a bookstore that is 5 m wide and 7 m long", (5.0, 7.0)),
        ("a 4m x 5m bedroom", (4.0, 5.0)),
    ],
)
def test_a_size_binds_to_the_room_not_to_the_next_noun(
    prompt: str, size: tuple[float, float]
) -> None:
    spec = understand(prompt)
    assert spec.room.size is not None
    assert (spec.room.size.width, spec.room.size.depth) == pytest.approx(size)
    assert all(o.size is None for o in spec.objects), "no object got the room's size"


def test_an_objects_own_size_stays_with_the_object() -> None:
    spec = understand("a computer lab 6x8m with 10 desks and a 2 by 1 m table")
    assert spec.room.size is not None
    assert (spec.room.size.width, spec.room.size.depth) == (6.0, 8.0)
    table = next(o for o in spec.objects if o.category == "table")
    assert table.size is not None and (table.size.width, table.size.depth) == (2.0, 1.0)


def test_an_area_sizes_the_room() -> None:
    spec = understand("a 30 square meter café with four small tables")
    assert spec.room.type == "cafe"
    assert spec.room.size is not None
    assert spec.room.size.width * spec.room.size.depth == pytest.approx(30.0, rel=1e-3)


# --------------------------------------------------------------------------- small things


def test_books_stand_inside_bookshelves_on_their_boards() -> None:
    layout = plan_scene("a bookstore with 3 bookshelves and 50 books")
    books = _of(layout, "book")
    assert len(books) + sum(u.count for u in layout.unplaced if u.category == "book") == 50
    shelves = {o.id: o for o in _of(layout, "bookshelf")}
    per_board: Counter[tuple[str, float]] = Counter()
    for book in books:
        shelf = shelves[book.parent or ""]
        entry = catalog.lookup("bookshelf")
        assert entry is not None
        boards = [shelf.position[1] + h for h in catalog.board_heights(entry, shelf.size[1])]
        level = min(boards, key=lambda y: abs(y - book.position[1]))
        assert book.position[1] == pytest.approx(level, abs=1e-3), "on a board, not on top"
        assert book.rotation == pytest.approx(shelf.rotation), "spine out"
        per_board[(shelf.id, round(level, 3))] += 1
    assert max(per_board.values()) >= 5, "rows of several books per board"
    _sound(layout)


def test_place_settings_go_on_the_table_at_the_seats() -> None:
    layout = plan_scene("a dining room with a dining table, six chairs, six plates and six forks")
    table = _of(layout, "dining table")[0]
    plates = _of(layout, "plate")
    assert len(plates) == 6
    assert {p.parent for p in plates} == {table.id}
    chairs = _of(layout, "chair")
    for chair in chairs:
        # Every seat has a plate in front of it.
        nearest = min(math.dist(chair.position[::2], p.position[::2]) for p in plates)
        assert nearest < 0.75, chair.id
    _sound(layout)


def test_many_small_things_fill_several_surfaces_and_the_rest_is_reported() -> None:
    layout = plan_scene("a cafe with 4 cafe tables, 8 chairs and 60 cups on the tables")
    cups = _of(layout, "cup")
    unplaced = [u for u in layout.unplaced if u.category == "cup"]
    assert len(cups) + sum(u.count for u in unplaced) == 60
    assert len({c.parent for c in cups}) >= 4
    assert all(u.reason for u in unplaced)


def test_pillows_go_on_the_bed() -> None:
    layout = plan_scene("a bedroom with a bed and four pillows")
    pillows = _of(layout, "cushion")
    assert len(pillows) == 4
    assert {layout.object(p.parent or "").category for p in pillows} == {"bed"}


# --------------------------------------------------------------------------- relations


def test_tables_and_desks_come_with_their_chairs() -> None:
    spec = scene_spec("a restaurant with 5 tables, a bar counter and a host stand")
    chairs = sum(o.count for o in spec.objects if o.category == "chair")
    assert chairs >= 10
    spec = scene_spec("a restaurant with 5 tables and no chairs")
    assert not [o for o in spec.objects if o.category == "chair"]


def test_a_sofa_facing_the_tv_turns_to_it() -> None:
    layout = plan_scene("a living room with a sofa facing the tv, a tv stand and a tv")
    (sofa,) = _of(layout, "sofa")
    (tv,) = _of(layout, "tv")
    yaw = math.radians(sofa.rotation)
    fx, fz = math.sin(yaw), math.cos(yaw)
    dx, dz = tv.position[0] - sofa.position[0], tv.position[2] - sofa.position[2]
    angle = math.degrees(math.acos((fx * dx + fz * dz) / math.hypot(dx, dz)))
    assert angle <= 10.0


def test_a_desk_leaves_room_for_its_chair() -> None:
    layout = plan_scene("an office with a desk, an office chair, a bookshelf and a filing cabinet")
    (desk,) = _of(layout, "desk")
    yaw = math.radians(desk.rotation)
    fx, fz = math.sin(yaw), math.cos(yaw)
    (chair,) = _of(layout, "office chair")
    dx, dz = chair.position[0] - desk.position[0], chair.position[2] - desk.position[2]
    ahead = dx * fx + dz * fz
    assert ahead > desk.size[2] / 2, "the chair is drawn up at the desk's front"
    _sound(layout)


def test_counts_stay_exact_beyond_what_one_object_spec_holds() -> None:
    spec = understand("a hall with 250 chairs")
    chairs = [o for o in spec.objects if o.category == "chair"]
    assert sum(o.count for o in chairs) == 250
    layout = plan_scene("a 12 by 12 meter hall with 250 chairs")
    placed = len(_of(layout, "chair"))
    over = [u for u in layout.unplaced if u.category == "chair"]
    assert placed + sum(u.count for u in over) == 250, "nothing is trimmed silently"
    assert all(u.reason for u in over)


def test_a_desk_without_a_named_chair_still_keeps_room_in_front() -> None:
    layout = plan_scene(
        "a 3 by 3 m office with a desk, a bookshelf, a filing cabinet, a plant and no chairs"
    )
    (desk,) = _of(layout, "desk")
    yaw = math.radians(desk.rotation)
    fx, fz = math.sin(yaw), math.cos(yaw)
    front = (
        desk.position[0] + fx * (desk.size[2] / 2 + 0.3),
        desk.position[2] + fz * (desk.size[2] / 2 + 0.3),
    )
    for other in layout.objects:
        if other is desk or other.placement != "floor":
            continue
        lx = abs(
            (front[0] - other.position[0]) * math.cos(math.radians(other.rotation))
            - (front[1] - other.position[2]) * math.sin(math.radians(other.rotation))
        )
        lz = abs(
            (front[0] - other.position[0]) * math.sin(math.radians(other.rotation))
            + (front[1] - other.position[2]) * math.cos(math.radians(other.rotation))
        )
        assert not (lx < other.size[0] / 2 and lz < other.size[2] / 2), other.id


# --------------------------------------------------------------------------- the LLM path


def test_a_models_spec_may_name_any_category_and_keeps_its_sizes_and_places() -> None:
    spec = parse_spec(
        {
            "room": {"type": "Game Room"},
            "objects": [
                {"category": "Pool Tables", "count": 1},
                {
                    "category": "teddy bear",
                    "count": 2,
                    "size": {"width": 0.5, "height": 0.6, "depth": 0.4},
                },
                {"category": "neon flamingo", "placement": "wall"},
                {"category": "dartboard", "constraints": [{"kind": "near", "target": "door"}]},
            ],
        }
    )
    layout = solve(furnish(spec), seed=1)
    assert layout.room.type == "game room"
    (table,) = _of(layout, "pool table")
    assert table.size == catalog.lookup("pool table").size  # type: ignore[union-attr]
    bears = _of(layout, "teddy bear")
    assert len(bears) == 2 and all(b.size == (0.5, 0.6, 0.4) for b in bears)
    (flamingo,) = _of(layout, "neon flamingo")
    assert flamingo.placement == "wall" and flamingo.estimated
    assert catalog.shape_family("pool table", table.size) == "pool table"
    _sound(layout)


def test_more_than_a_room_holds_is_reported_not_trimmed_silently() -> None:
    spec = understand("a hall with 900 chairs and 300 tables")
    asked = Counter()
    for obj in spec.objects:
        asked[obj.category] += obj.count
    for over in spec.over_limit:
        asked[over.category] += over.count
        assert "at most 800" in over.reason
    assert sum(o.count for o in spec.objects) == 800
    assert asked == {"chair": 900, "table": 300}
    # The solver reports what was held back: one entry for the request, with its count.
    small = parse_spec(
        {
            "room": {"type": "hall"},
            "objects": [{"category": "chair", "count": 2}],
            "over_limit": [{"category": "chair", "count": 3, "reason": "at most 800"}],
        }
    )
    layout = solve(small, seed=0)
    assert len(_of(layout, "chair")) == 2
    [held_back] = [u for u in layout.unplaced if u.category == "chair"]
    assert held_back.count == 3 and "at most 800" in held_back.reason


# --------------------------------------------------------------------------- the checker


def _shelf_layout(book_y: float) -> Layout:
    shelf = PlacedObject(
        id="bookshelf-1",
        category="bookshelf",
        description="bookshelf",
        size=(0.9, 1.9, 0.35),
        position=(2.0, 0.0, 0.2),
        placement="floor",
    )
    book = PlacedObject(
        id="book-1",
        category="book",
        description="book",
        size=(0.035, 0.23, 0.16),
        position=(2.0, book_y, 0.25),
        placement="surface",
        parent="bookshelf-1",
    )
    room = Room(type="library", polygon=rectangle(4.0, 4.0), height=2.8)
    return Layout(room=room, objects=[shelf, book])


def test_the_checker_accepts_a_book_on_a_board_and_flags_one_between_boards() -> None:
    entry = catalog.lookup("bookshelf")
    assert entry is not None
    board = catalog.board_heights(entry, 1.9)[1]
    good = check.check(_shelf_layout(board))
    assert good.valid, good
    between = check.check(_shelf_layout(board + 0.1))
    assert "book-1" in between.floating
    assert ("bookshelf-1", "book-1") in between.overlaps or ("book-1", "bookshelf-1") in (
        between.overlaps
    )


def test_a_colourful_thing_is_many_coloured_and_the_room_keeps_its_colours() -> None:
    layout = plan_scene("a yoga studio with colourful mats and a mirror", 1)
    mats = [o for o in layout.objects if o.category == "yoga mat"]
    assert mats and all(o.color == "colourful" and "colourful" in o.description for o in mats)
    others = [o for o in layout.objects if o.category != "yoga mat"]
    assert others and all("colourful" not in o.description for o in others)
    styled = plan_scene("a colourful living room with a sofa and a rug", 1)
    assert all("colourful style" in o.description for o in styled.objects)
