"""Floor and wall finishes: which pattern draws a finish, its colour, and its texture."""

from __future__ import annotations

import numpy as np
import pytest

from services.imagegen.procedural import COLOR_NAMES
from services.imagegen.surfaces import SPANS, surface_color, surface_kind, surface_texture


@pytest.mark.parametrize(
    ("material", "wall", "kind"),
    [
        ("oak", False, "planks"),
        ("dark walnut parquet", False, "planks"),
        ("white tile", False, "tiles"),
        ("terracotta tiles", False, "tiles"),
        ("grey carpet", False, "carpet"),
        ("polished concrete", False, "concrete"),
        ("slate", False, "flagstones"),
        ("marble", False, "marble"),
        ("exposed brick", True, "brick"),
        ("plaster", True, "plaster"),
        ("white paint", True, "plaster"),
        ("striped wallpaper", True, "wallpaper"),
        ("oak panelling", True, "panelling"),
        ("rubber", False, "vinyl"),
        ("oak-look vinyl", False, "vinyl"),
        ("something odd", False, "planks"),
        ("something odd", True, "plaster"),
    ],
)
def test_each_finish_has_its_pattern(material: str, wall: bool, kind: str) -> None:
    assert surface_kind(material, wall=wall) == kind


def test_finish_colours_follow_the_words() -> None:
    assert surface_color("navy carpet", "carpet") == COLOR_NAMES["navy"]
    assert surface_color("#a0b0c0 plaster", "plaster") == (0xA0, 0xB0, 0xC0)
    assert surface_color("walnut", "planks") == (101, 70, 45)
    assert surface_color("terracotta tile", "tiles") == (190, 96, 64)
    assert surface_color("rubber", "vinyl")[0] < 80  # gym floors are dark


@pytest.mark.parametrize(
    "material", ["oak", "white tile", "grey carpet", "concrete", "slate", "marble", "red brick"]
)
def test_textures_are_tinted_patterns_at_true_scale(material: str) -> None:
    wall = "brick" in material
    surface = surface_texture(material, wall=wall, size=128)
    assert surface.pixels.shape == (128, 128, 3) and surface.pixels.dtype == np.uint8
    assert surface.span == SPANS[surface.kind]
    mean = surface.pixels.reshape(-1, 3).mean(axis=0)
    assert np.allclose(mean, surface.color, atol=16.0), (mean, surface.color)
    assert surface.pixels.std(axis=(0, 1)).max() > 2.0  # a pattern, not a flat colour
    again = surface_texture(material, wall=wall, size=128)
    assert np.array_equal(surface.pixels, again.pixels)


def test_checkered_tiles_alternate_two_colours() -> None:
    surface = surface_texture("black and white checkered tile", wall=False, size=128)
    cell = 128 // 4
    first = surface.pixels[cell // 2, cell // 2].astype(int)
    second = surface.pixels[cell // 2, cell + cell // 2].astype(int)
    assert abs(first.sum() - second.sum()) > 300


def test_bad_texture_size_is_rejected() -> None:
    with pytest.raises(ValueError, match="texture size"):
        surface_texture("oak", wall=False, size=4)
