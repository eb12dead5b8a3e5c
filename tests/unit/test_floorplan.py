"""The top-down floor plan: a PNG of the room, its openings and every placed object."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from services.assembly.floorplan import (
    BACKGROUND,
    DOOR_COLOR,
    FLOOR_COLOR,
    GROUP_STYLES,
    LABEL_BOX_EDGE,
    RUG_HATCH,
    TEXT_COLOR,
    WALL_COLOR,
    WALL_THICKNESS,
    category_group,
    encode_png,
    floorplan_png,
    group_style,
    plan_frame,
)
from services.planner.plan import plan_scene
from shared.layout import Layout, Opening, PlacedObject, Placement, Room, rectangle

L_SHAPE = [(0.0, 0.0), (0.0, 4.0), (4.0, 4.0), (4.0, 2.0), (2.0, 2.0), (2.0, 0.0)]


# ------------------------------------------------------------------------ helpers


def decode(data: bytes) -> np.ndarray:
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    assert image.mode == "RGB"
    return np.asarray(image)


def pixel(pixels: np.ndarray, point: tuple[float, float]) -> tuple[int, int, int]:
    x, y = point
    r, g, b = pixels[round(y), round(x)]
    return (int(r), int(g), int(b))


def obj(
    id: str,
    category: str,
    size: tuple[float, float, float],
    x: float,
    z: float,
    rotation: float = 0.0,
    placement: Placement = "floor",
    y: float = 0.0,
    parent: str | None = None,
) -> PlacedObject:
    return PlacedObject(
        id=id,
        category=category,
        description=category,
        size=size,
        position=(x, y, z),
        rotation=rotation,
        placement=placement,
        parent=parent,
    )


def room(polygon=None, doors=(), windows=()) -> Room:
    return Room(
        type="test room",
        polygon=polygon or rectangle(5.0, 4.0),
        height=2.6,
        doors=list(doors),
        windows=list(windows),
    )


def mask(pixels: np.ndarray, color: tuple[int, int, int]) -> np.ndarray:
    return np.all(pixels == np.array(color, dtype=np.uint8), axis=2)


def furnished() -> Layout:
    """Every kind of object, each well clear of the others."""
    return Layout(
        room=room(rectangle(7.0, 6.0), doors=[Opening(wall=3, offset=3.0, width=0.9, height=2.1)]),
        objects=[
            obj("bed", "double bed", (1.6, 0.55, 2.1), 1.5, 1.5),
            obj("sofa", "sofa", (2.1, 0.85, 0.9), 5.0, 5.4, rotation=180),
            obj("desk", "desk", (1.4, 0.75, 0.7), 1.5, 4.8, rotation=90),
            obj("lamp", "table lamp", (0.3, 0.5, 0.3), 1.5, 5.3, 90, "surface", 0.75, "desk"),
            obj("rug", "rug", (2.0, 0.01, 1.4), 4.5, 2.6),
            obj("fridge", "fridge", (0.75, 1.8, 0.7), 6.5, 1.4, rotation=270),
            obj("box", "mystery crate", (0.6, 0.5, 0.6), 3.3, 4.2, rotation=35),
            obj("paint", "painting", (0.9, 0.65, 0.04), 3.2, 0.02, 0.0, "wall", 1.3),
            obj("light", "ceiling light", (0.5, 0.2, 0.5), 5.3, 0.9, 0.0, "ceiling", 2.5),
        ],
    )


# ------------------------------------------------------------------------ tests


@pytest.mark.parametrize("width", [1024, 640, 300])
def test_png_decodes_at_the_requested_width(width):
    pixels = decode(floorplan_png(furnished(), width_px=width))
    assert pixels.shape[1] == width
    assert pixels.shape[0] > 0


def test_too_narrow_a_picture_is_refused():
    with pytest.raises(ValueError):
        floorplan_png(furnished(), width_px=40)


@pytest.mark.parametrize(("width", "depth"), [(4.0, 8.0), (8.0, 4.0), (5.0, 5.0), (3.0, 6.5)])
def test_floor_follows_the_rooms_aspect_ratio(width, depth):
    pixels = decode(floorplan_png(Layout(room=room(rectangle(width, depth)), objects=[])))
    # The wall band is the room polygon pushed outward: its outer bounds span the room
    # plus one wall thickness on every side.
    rows, cols = np.nonzero(mask(pixels, WALL_COLOR))
    drawn_w = cols.max() - cols.min() + 1
    drawn_h = rows.max() - rows.min() + 1
    expected = (depth + 2 * WALL_THICKNESS) / (width + 2 * WALL_THICKNESS)
    assert drawn_h / drawn_w == pytest.approx(expected, rel=0.02)


def test_deeper_rooms_give_taller_pictures():
    tall = decode(floorplan_png(Layout(room=room(rectangle(3.0, 7.0)), objects=[])))
    wide = decode(floorplan_png(Layout(room=room(rectangle(7.0, 3.0)), objects=[])))
    assert tall.shape[0] > tall.shape[1] > wide.shape[0]


def test_x_runs_right_and_z_down_the_page():
    # A fridge in the corner of largest x and smallest z lands top right.
    layout = Layout(
        room=room(rectangle(6.0, 4.0)),
        objects=[obj("fridge", "fridge", (0.7, 1.8, 0.7), 5.5, 0.5)],
    )
    pixels = decode(floorplan_png(layout))
    rows, cols = np.nonzero(mask(pixels, WALL_COLOR))
    mid_x, mid_y = (cols.min() + cols.max()) / 2, (rows.min() + rows.max()) / 2
    fy, fx = np.nonzero(mask(pixels, group_style("fridge").fill))
    assert len(fx) > 100
    assert fx.mean() > mid_x + 0.3 * (cols.max() - mid_x)
    assert fy.mean() < mid_y - 0.3 * (mid_y - rows.min())


def test_l_shaped_room_leaves_its_inner_corner_outside():
    layout = Layout(room=room(L_SHAPE), objects=[])
    data = floorplan_png(layout)
    pixels = decode(data)
    frame = plan_frame(layout)
    for x, z in [(0.5, 0.5), (1.5, 1.5), (0.5, 3.5), (3.5, 3.5), (2.5, 2.5), (1.5, 3.5)]:
        assert pixel(pixels, frame.to_px(x, z)) == FLOOR_COLOR, (x, z)
    for x, z in [(3.0, 1.0), (3.5, 0.5), (2.5, 1.5), (3.8, 1.7)]:
        assert pixel(pixels, frame.to_px(x, z)) == BACKGROUND, (x, z)
    # The two walls of the inner corner face into the notch.
    half_wall = WALL_THICKNESS / 2
    assert pixel(pixels, frame.to_px(3.0, 2.0 - half_wall)) == WALL_COLOR
    assert pixel(pixels, frame.to_px(2.0 + half_wall, 1.0)) == WALL_COLOR


def test_a_door_is_a_gap_in_the_wall_with_a_swing():
    door = Opening(wall=3, offset=2.0, width=0.9, height=2.1)  # the wall along z = 0
    layout = Layout(room=room(rectangle(5.0, 4.0), doors=[door]), objects=[])
    pixels = decode(floorplan_png(layout))
    frame = plan_frame(layout)
    # Wall 3 runs from (5, 0) to (0, 0), so offset 2 is at x = 3; outward is -z.
    in_wall = -WALL_THICKNESS / 2
    assert pixel(pixels, frame.to_px(3.0, in_wall)) != WALL_COLOR
    assert pixel(pixels, frame.to_px(1.0, in_wall)) == WALL_COLOR
    assert pixel(pixels, frame.to_px(4.5, in_wall)) == WALL_COLOR
    # The swing arc and leaf lie inside the room, within one door width of the hinge.
    x0, y0 = frame.to_px(2.4, 0.0)
    x1, y1 = frame.to_px(3.6, 1.1)
    swing = mask(pixels[round(y0) : round(y1), round(x0) : round(x1)], DOOR_COLOR)
    assert swing.sum() > 50
    # Nowhere else in the room.
    assert not mask(pixels[round(y1) :, :], DOOR_COLOR).any()


def test_a_window_interrupts_the_wall_band():
    window = Opening(wall=0, offset=2.0, width=1.2, height=1.2, sill=0.9)  # along x = 0
    layout = Layout(room=room(rectangle(5.0, 4.0), windows=[window]), objects=[])
    pixels = decode(floorplan_png(layout))
    frame = plan_frame(layout)
    assert pixel(pixels, frame.to_px(-WALL_THICKNESS / 2, 2.1)) != WALL_COLOR
    assert pixel(pixels, frame.to_px(-WALL_THICKNESS / 2, 3.5)) == WALL_COLOR


def test_every_object_shows_its_category_colour_at_its_centre():
    layout = furnished()
    pixels = decode(floorplan_png(layout))
    frame = plan_frame(layout)
    for item in layout.objects:
        if item.placement == "ceiling":
            continue  # drawn as an outline only
        style = group_style(item.category)
        expected = style.ink if item.placement == "wall" else style.fill
        found = pixel(pixels, frame.to_px(item.position[0], item.position[2]))
        assert found == expected, item.id
        assert found != FLOOR_COLOR


def test_category_groups_have_distinct_colours():
    fills = [style.fill for style in GROUP_STYLES.values()]
    assert len(set(fills)) == len(fills)
    assert FLOOR_COLOR not in fills and BACKGROUND not in fills
    assert category_group("table lamp") == "lighting"
    assert category_group("coffee table") == "table"
    assert category_group("Office Chairs") == "seating"
    assert category_group("mystery crate") == "other"


def test_ceiling_objects_are_dashed_outlines():
    layout = furnished()
    pixels = decode(floorplan_png(layout))
    frame = plan_frame(layout)
    ink = np.array(group_style("ceiling light").ink, dtype=np.uint8)
    cx, cy = frame.to_px(5.3, 0.9)
    radius = 0.25 * frame.scale
    angles = np.linspace(0, 2 * np.pi, 360, endpoint=False)
    hits = 0
    for a in angles:
        x, y = cx + radius * np.cos(a), cy + radius * np.sin(a)
        window = pixels[round(y) - 1 : round(y) + 2, round(x) - 1 : round(x) + 2]
        hits += bool(np.all(window == ink, axis=2).any())
    assert 0.3 * len(angles) < hits < 0.85 * len(angles)


@pytest.mark.parametrize(
    ("rotation", "direction"), [(90, (1, 0)), (270, (-1, 0)), (0, (0, 1)), (180, (0, -1))]
)
def test_the_arrow_points_to_the_front(rotation, direction):
    # At 90 degrees the front (sin, cos) is +X: the arrow runs right on the page.
    table = obj("table", "dining table", (1.2, 0.75, 1.6), 2.5, 2.0, rotation=rotation)
    layout = Layout(room=room(rectangle(5.0, 4.0)), objects=[table])
    pixels = decode(floorplan_png(layout))
    frame = plan_frame(layout)
    ink = np.array(group_style("dining table").ink, dtype=np.uint8)
    cx, cy = frame.to_px(2.5, 2.0)
    reach = 0.8 * frame.scale * 0.5  # well short of the front edge at 0.8 m

    def inked(dx: int, dy: int) -> int:
        count = 0
        for step in range(10, round(reach)):
            x, y = round(cx + dx * step), round(cy + dy * step)
            window = pixels[y - 1 : y + 2, x - 1 : x + 2]
            count += bool(np.all(window == ink, axis=2).any())
        return count

    samples = round(reach) - 10
    ahead = inked(*direction)
    behind = inked(-direction[0], -direction[1])
    side = inked(direction[1], direction[0])
    assert ahead == samples
    assert behind < 0.2 * samples
    assert side < 0.2 * samples


def test_large_objects_carry_their_label_in_their_back_half():
    bed = obj("bed", "double bed", (1.6, 0.55, 2.1), 2.5, 2.0, rotation=180)  # front is -z
    layout = Layout(room=room(), objects=[bed])
    pixels = decode(floorplan_png(layout)).astype(int)
    frame = plan_frame(layout)
    x0, top = frame.to_px(1.8, 0.95)
    x1, bottom = frame.to_px(3.2, 3.05)
    y_mid = frame.to_px(2.5, 2.0)[1]
    dark = np.abs(pixels - np.array(TEXT_COLOR)).sum(axis=2) < 60
    assert dark[round(y_mid) + 8 : round(bottom), round(x0) : round(x1)].sum() > 30
    assert not dark[round(top) : round(y_mid) - 8, round(x0) : round(x1)].any()


def test_small_objects_get_a_label_beside_them():
    stool = obj("stool", "stool", (0.2, 0.45, 0.2), 2.5, 2.0)
    layout = Layout(room=room(), objects=[stool])
    pixels = decode(floorplan_png(layout))
    frame = plan_frame(layout)
    cx, cy = frame.to_px(2.5, 2.0)
    near = pixels[round(cy) - 120 : round(cy) + 120, round(cx) - 160 : round(cx) + 160]
    assert mask(near, LABEL_BOX_EDGE).sum() > 40
    assert pixel(pixels, (cx, cy)) == group_style("stool").fill


def test_rugs_lie_under_the_furniture_on_them():
    rug = obj("rug", "rug", (3.0, 0.01, 2.0), 2.5, 2.0)
    table = obj("table", "coffee table", (1.1, 0.42, 0.6), 2.5, 2.0)
    pixels = decode(floorplan_png(Layout(room=room(), objects=[table, rug])))
    frame = plan_frame(Layout(room=room(), objects=[table, rug]))
    assert pixel(pixels, frame.to_px(2.5, 2.0)) == group_style("coffee table").fill
    assert pixel(pixels, frame.to_px(1.6, 2.0)) in {GROUP_STYLES["rug"].fill, RUG_HATCH}


def test_surface_objects_are_drawn_on_their_parent():
    desk = obj("desk", "desk", (1.4, 0.75, 0.7), 2.5, 2.0)
    laptop = obj("laptop", "laptop", (0.35, 0.03, 0.25), 2.2, 2.0, 0.0, "surface", 0.75, "desk")
    layout = Layout(room=room(), objects=[laptop, desk])  # the parent listed last
    pixels = decode(floorplan_png(layout))
    frame = plan_frame(layout)
    assert pixel(pixels, frame.to_px(2.2, 2.0)) == group_style("laptop").fill


def test_the_same_layout_gives_the_same_bytes():
    layout = plan_scene("a living room with a sofa, a rug, a tv, a coffee table and plants", 2)
    first = floorplan_png(layout)
    floorplan_png(furnished(), width_px=500)
    assert floorplan_png(layout) == first
    assert floorplan_png(layout, width_px=800) != first


def test_an_empty_layout_still_draws_the_room():
    layout = Layout(
        room=room(L_SHAPE, doors=[Opening(wall=1, offset=2.0, width=0.8, height=2.0)]),
        objects=[],
    )
    pixels = decode(floorplan_png(layout, width_px=512))
    assert pixels.shape[1] == 512
    assert mask(pixels, FLOOR_COLOR).sum() > 10_000
    assert mask(pixels, WALL_COLOR).sum() > 1_000
    frame = plan_frame(layout, width_px=512)
    assert pixel(pixels, frame.to_px(1.5, 3.5)) == FLOOR_COLOR


@pytest.mark.parametrize(
    "prompt",
    [
        "a bedroom",
        "an open kitchen and dining room",
        "a classroom with 12 student desks and chairs, a whiteboard and a teachers desk",
    ],
)
def test_planned_rooms_render(prompt):
    layout = plan_scene(prompt, 1)
    pixels = decode(floorplan_png(layout, width_px=800))
    assert pixels.shape[1] == 800
    frame = plan_frame(layout, width_px=800)
    assert pixels.shape[0] == frame.height
    for item in layout.objects:
        if item.placement == "floor" and category_group(item.category) != "rug":
            fill = np.array(group_style(item.category).fill, dtype=np.uint8)
            xs, zs = zip(*(frame.to_px(x, z) for x, z in item.footprint()), strict=True)
            patch = pixels[round(min(zs)) : round(max(zs)), round(min(xs)) : round(max(xs))]
            assert np.all(patch == fill, axis=2).sum() > 0.2 * patch.shape[0] * patch.shape[1]


def test_the_png_encoder_round_trips():
    rng = np.random.default_rng(7)
    array = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    array[10:20] = array[9]  # repeated rows, where the "up" filter gives zeros
    decoded = decode(encode_png(Image.fromarray(array)))
    assert np.array_equal(decoded, array)
