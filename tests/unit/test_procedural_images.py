"""Procedural object images: determinism, families, colours and PNG format."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from services.imagegen.procedural import (
    COLOR_NAMES,
    FAMILIES,
    base_color,
    is_artwork,
    material_family,
    object_image,
    palette,
)
from shared.layout import PlacedObject


def make(
    category: str = "thing",
    description: str = "an object",
    material: str | None = None,
    color: str | None = None,
) -> PlacedObject:
    return PlacedObject(
        id="obj-1",
        category=category,
        description=description,
        size=(1.0, 1.0, 1.0),
        position=(0.0, 0.0, 0.0),
        material=material,
        color=color,
    )


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.float64)


def test_png_size_and_mode():
    png = object_image(make(material="oak"), size=256)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(png))
    image.load()
    assert image.format == "PNG"
    assert image.mode == "RGB"
    assert image.size == (256, 256)


@pytest.mark.parametrize("size", [8, 64, 100, 512])
def test_any_size_renders(size):
    for family in FAMILIES:
        image = Image.open(io.BytesIO(object_image(make(material=family), size=size)))
        assert image.size == (size, size)


def test_default_size_is_512():
    assert Image.open(io.BytesIO(object_image(make()))).size == (512, 512)


def test_bad_size_rejected():
    with pytest.raises(ValueError):
        object_image(make(), size=4)


def test_deterministic_bytes():
    obj = make("sofa", "a deep green velvet sofa", material="velvet", color="forest green")
    assert object_image(obj, seed=3) == object_image(obj, seed=3)
    # Another object with the same description, material and colour: same image.
    twin = obj.model_copy(update={"id": "other", "position": (2.0, 0.0, 1.0)})
    assert object_image(twin, seed=3) == object_image(obj, seed=3)


def test_seed_changes_image():
    obj = make(material="walnut")
    assert object_image(obj, seed=0) != object_image(obj, seed=1)


def test_material_changes_image():
    first = pixels(object_image(make(material="oak", color="grey"), size=128))
    second = pixels(object_image(make(material="marble", color="grey"), size=128))
    assert np.abs(first - second).mean() > 3.0


@pytest.mark.parametrize("family", FAMILIES)
def test_each_family_renders_with_texture(family):
    obj = make(material=family, color="#808080")
    assert material_family(obj) == family
    image = pixels(object_image(obj, size=128))
    assert image.shape == (128, 128, 3)
    # Every family has some visible structure, even "flat" plastic.
    assert image.std() > 0.5


def test_families_are_distinct():
    images = {
        family: pixels(object_image(make(material=family, color="#808080"), size=128))
        for family in FAMILIES
    }
    for i, first in enumerate(FAMILIES):
        for second in FAMILIES[i + 1 :]:
            assert np.abs(images[first] - images[second]).mean() > 2.0, (first, second)


def test_family_specific_structure():
    # Brushed metal streaks run along x: rows vary far less than columns.
    metal = pixels(object_image(make(material="steel", color="grey"), size=256)).mean(axis=2)
    along_rows = np.abs(np.diff(metal, axis=1)).mean()
    across_rows = np.abs(np.diff(metal, axis=0)).mean()
    assert across_rows > 2.0 * along_rows
    # Glass is light and smooth.
    glass = pixels(object_image(make(material="glass", color="#406080"), size=256))
    assert glass.mean() > pixels(object_image(make(material="plastic", color="#406080"))).mean()
    assert np.abs(np.diff(glass, axis=1)).mean() < 2.0
    # Plastic is nearly flat.
    plastic = pixels(object_image(make(material="plastic", color="#406080"), size=256))
    assert plastic.std(axis=(0, 1)).max() < 6.0


@pytest.mark.parametrize("material", ["plastic", "fabric", "wood", "leather", "stone"])
def test_hex_colour_tints_the_image(material):
    image = pixels(object_image(make(material=material, color="#3366cc"), size=256))
    mean = image.reshape(-1, 3).mean(axis=0)
    assert np.allclose(mean, (0x33, 0x66, 0xCC), atol=12.0), mean


def test_short_hex_colour():
    assert base_color(make(color="#fa0")) == (255, 170, 0)


def test_colour_table():
    assert len(COLOR_NAMES) >= 30
    for name in ("red", "navy", "beige", "walnut", "charcoal", "sage"):
        assert name in COLOR_NAMES
    assert base_color(make(color="navy")) == COLOR_NAMES["navy"]
    assert base_color(make(color="Navy Blue")) == COLOR_NAMES["navy blue"]
    image = pixels(object_image(make(material="fabric", color="red"), size=128))
    r, g, b = image.reshape(-1, 3).mean(axis=0)
    assert r > 2 * g and r > 2 * b


def test_colour_modifiers():
    light = base_color(make(color="light green"))
    dark = base_color(make(color="dark green"))
    plain = base_color(make(color="green"))
    assert sum(dark) < sum(plain) < sum(light)


def test_colour_falls_back_to_description_then_material():
    assert base_color(make(description="a beige linen sofa")) == COLOR_NAMES["beige"]
    assert base_color(make(description="a #102030 cabinet")) == (0x10, 0x20, 0x30)
    walnut = base_color(make("table", "a dining table", material="walnut"))
    assert walnut == COLOR_NAMES["walnut"]
    # The first colour written wins.
    assert base_color(make(description="a red chair with white legs")) == COLOR_NAMES["red"]


def test_family_from_material_description_and_category():
    assert material_family(make("bed", "a bed", material="brushed steel")) == "metal"
    assert material_family(make("table", "a glass-top table")) == "glass"
    assert material_family(make("bed", "a double bed")) == "fabric"
    assert material_family(make("coffee table", "low table")) == "wood"
    assert material_family(make("floor_lamp", "tall lamp")) == "metal"
    assert material_family(make("plant", "potted fiddle leaf")) == "foliage"
    assert material_family(make("rug", "large rug")) == "fabric"
    assert material_family(make("gizmo", "a thing")) == "plastic"
    # Object nouns in a description do not override the category.
    assert material_family(make("dresser", "a dresser with a mirror")) == "wood"
    assert material_family(make("table", "a drop-leaf table")) == "wood"
    assert material_family(make("tv stand", "low tv stand")) == "wood"


def test_category_default_colour_is_the_family_colour():
    bed = make("bed", "a bed")
    assert base_color(bed) == base_color(make(material="fabric"))


def picture_of(description: str, category: str = "painting", obj_id: str = "art-1", **extra):
    obj = PlacedObject(
        id=obj_id,
        category=category,
        description=description,
        size=(0.9, 0.6, 0.04),
        position=(0.0, 0.0, 0.0),
        placement="wall",
        **extra,
    )
    return obj, pixels(object_image(obj, size=128))


def test_paintings_get_pictures_not_a_plain_canvas():
    obj, image = picture_of("a painting", color="blue")
    assert is_artwork(obj)
    # A picture has many distinct colours, a tinted canvas a handful of shades of one.
    inner = image[20:-20, 20:-20].reshape(-1, 3)
    hues = {tuple(int(c) // 32 for c in px) for px in inner}
    assert len(hues) >= 6


def test_every_painting_differs_even_with_one_description():
    _, first = picture_of("a painting", obj_id="painting-1")
    _, second = picture_of("a painting", obj_id="painting-2")
    _, poster = picture_of("a poster", category="poster", obj_id="painting-1")
    assert np.abs(first - second).mean() > 10.0
    assert np.abs(first - poster).mean() > 10.0
    _, again = picture_of("a painting", obj_id="painting-1")
    assert np.array_equal(first, again)


def test_a_landscape_has_sky_above_the_ground():
    _, image = picture_of("a landscape painting of mountains at noon")
    top = image[15:35, 20:-20].mean(axis=(0, 1))
    bottom = image[-35:-15, 20:-20].mean(axis=(0, 1))
    assert top[2] > bottom[2]  # bluer sky above, hills and fields below


def test_a_painting_keeps_the_colours_it_is_asked_for():
    _, image = picture_of("a red abstract painting")
    flat = image[20:-20, 20:-20].reshape(-1, 3)
    reddish = (flat[:, 0] > flat[:, 1] + 60) & (flat[:, 0] > flat[:, 2] + 60)
    assert reddish.mean() > 0.05


def test_the_frame_border_takes_the_frame_colour():
    _, image = picture_of("a painting in a gold frame")
    edge = image[1:4, 10:-10].reshape(-1, 3).mean(axis=0)
    assert np.allclose(edge, (196, 160, 72), atol=12.0), edge


@pytest.mark.parametrize(
    "description",
    ["colourful mats", "a colorful rug", "multicoloured cushions", "a multi-coloured rug"],
)
def test_colourful_things_come_out_in_many_colours(description):
    obj = make("rug", description, material="wool", color="beige")
    assert palette(obj) is not None
    image = pixels(object_image(obj, size=128)).reshape(-1, 3)
    hue_bins = {int(np.argmax(px)) * 10 + int((px.max() - px.min()) > 60) for px in image[::7]}
    assert len(hue_bins) >= 4
    # Far from the beige the planner would otherwise have painted it.
    beige = np.asarray(COLOR_NAMES["beige"], dtype=np.float64)
    assert np.linalg.norm(image - beige, axis=1).mean() > 60.0


def test_named_colours_within_a_colourful_request_are_used():
    obj = make("cushion", "colourful red and yellow cushions")
    assert palette(obj) == [COLOR_NAMES["red"], COLOR_NAMES["yellow"]]
    assert palette(make("rug", "a beige rug")) is None


@pytest.mark.parametrize(
    ("description", "color", "expected"),
    [
        ("a navy sofa", None, "navy"),
        ("a sofa", "#336699", (0x33, 0x66, 0x99)),
        ("a light green armchair", None, None),
        ("a teal rug", "teal", "teal"),
    ],
)
def test_named_and_hex_colours_reach_the_image(description, color, expected):
    obj = make("sofa", description, material="fabric", color=color)
    image = pixels(object_image(obj, size=64)).reshape(-1, 3).mean(axis=0)
    target = (
        base_color(obj)
        if expected is None
        else (COLOR_NAMES[expected] if isinstance(expected, str) else expected)
    )
    assert np.allclose(image, target, atol=14.0), (image, target)


def test_a_plants_image_dresses_its_leaves_whatever_its_pot_is_made_of():
    assert material_family(make("plant", "a green leafy plant", material="ceramic")) == "foliage"
    assert material_family(make("plant", "a potted plant", material="ceramic")) == "foliage"
