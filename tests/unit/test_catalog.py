"""The shared catalog: its data file, its validation and the one lookup every stage uses."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.meshgen.families import FAMILY_NAMES, GENERIC_FAMILIES
from shared import catalog


def test_the_data_file_is_valid_and_large() -> None:
    data = catalog.load()
    assert len(data.objects) >= 400
    assert len(data.rooms) >= 30
    for entry in data.objects:
        lo, hi = entry.size_min, entry.size_max
        assert lo is not None and hi is not None
        assert all(a <= s <= b for a, s, b in zip(lo, entry.size, hi, strict=True)), entry.name
        if entry.spot == "wall":
            assert entry.mount is not None, entry.name
        if entry.spot in ("surface", "shelf") and not entry.mountable:
            assert entry.parents, f"{entry.name} says nothing about what it stands on"


def test_every_entry_is_drawn_by_a_dedicated_shape_family() -> None:
    for entry in catalog.entries():
        assert entry.shape in FAMILY_NAMES, (entry.name, entry.shape)
        assert entry.shape not in GENERIC_FAMILIES, entry.name


def test_every_catalog_name_and_synonym_means_its_own_entry() -> None:
    names = {e.name for e in catalog.entries()}
    for entry in catalog.entries():
        assert catalog.lookup(entry.name) is entry
        for synonym in entry.syn:
            found = catalog.lookup(synonym)
            assert found is not None, synonym
            # A synonym that is another entry's name means that entry.
            assert found is entry or synonym in names or found.name == synonym, (synonym, found)


@pytest.mark.parametrize(
    ("written", "category"),
    [
        ("knives", "knife"),
        ("gloves", "gloves"),
        ("shelves", "shelf"),
        ("bookcases", "bookshelf"),
        ("bookcase", "bookshelf"),
        ("couch", "sofa"),
        ("couches", "sofa"),
        ("teddy bears", "teddy bear"),
        ("Coffee-Table", "coffee table"),
        ("coffee table", "coffee table"),
        ("coffeetable", "coffee table"),
        ("pool table", "pool table"),
        ("ping-pong table", "ping pong table"),
        ("table lamp", "table lamp"),
        ("table runner", "table runner"),
        ("lab bench", "lab bench"),
        ("conference table", "conference table"),
        ("wooden pool table", "pool table"),
        ("red velvet sofa", "sofa"),
        ("forks", "fork"),
        ("napkins", "napkin"),
        ("pillows", "cushion"),
        ("dartboard", "dartboard"),
        ("glasses", "glass"),
    ],
)
def test_lookup_knows_synonyms_plurals_and_compounds(written: str, category: str) -> None:
    match = catalog.resolve(written)
    assert match is not None, written
    assert match.category == category
    assert not match.estimated


def test_a_compound_wins_over_its_head_noun() -> None:
    table = catalog.lookup("table")
    assert table is not None
    for compound in ("pool table", "table lamp", "conference table", "coffee table"):
        found = catalog.lookup(compound)
        assert found is not None and found is not table, compound


def test_an_unknown_compound_falls_back_on_its_head_noun_and_says_so() -> None:
    match = catalog.resolve("walnut zither table")
    assert match is not None
    assert match.entry.name == "table"
    assert match.estimated
    assert match.category == "zither table"


def test_an_unknown_word_is_not_found() -> None:
    assert catalog.resolve("zorblat") is None
    assert catalog.lookup("") is None


def test_singular_comes_from_an_inflection_library() -> None:
    assert catalog.singular("knives") == "knife"
    assert catalog.singular("gloves") == "glove"
    assert catalog.singular("leaves") == "leaf"
    assert catalog.singular("mice") == "mouse"
    assert catalog.singular("glass") == "glass"
    assert catalog.singular("canvas") == "canvas"
    assert catalog.plural("shelf") == "shelves"


def test_shape_family_is_the_entrys_or_a_generic_one_by_proportion() -> None:
    assert catalog.shape_family("pool tables", (2.5, 0.8, 1.4)) == "pool table"
    assert catalog.shape_family("Teddy-Bear", (0.3, 0.4, 0.3)) == "teddy bear"
    assert catalog.shape_family("zorblat", (0.2, 0.2, 0.2)) == "generic block"
    assert catalog.shape_family("zorblat", (1.6, 0.7, 1.0)) == "generic table"
    assert catalog.shape_family("zorblat", (0.6, 1.8, 0.6)) == "generic cabinet"


def test_room_types_and_their_synonyms() -> None:
    for name in ("bookstore", "florist", "cafe", "restaurant", "bar", "classroom", "gym"):
        assert catalog.room(name) is not None, name
    template = catalog.room("flower shop")
    assert template is not None and template.name == "florist"
    assert catalog.room("tattoo parlour") is None
    generic = catalog.room_template("tattoo parlour")
    kinds = {item.category for item in generic.items}
    assert not kinds & {"double bed", "sofa", "fridge", "stove", "sink"}


def test_shelving_units_say_where_their_boards_are() -> None:
    shelf = catalog.lookup("bookshelf")
    assert shelf is not None and len(shelf.boards) >= 4
    heights = catalog.board_heights(shelf, 1.9)
    assert heights[0] < 0.2 and heights[-1] < 1.9


def test_a_bad_file_fails_with_the_field_it_breaks(tmp_path: Path) -> None:
    bad = tmp_path / "catalog.yaml"
    bad.write_text(
        "default_room: x\ngeneric_room: {name: room}\nrooms: []\n"
        "objects:\n- {name: stool, size: [0.4, -0.5, 0.4], shape: stool}\n"
    )
    with pytest.raises(ValueError, match=r"objects\.0\.size"):
        catalog.load(bad)
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text(
        "default_room: den\ngeneric_room: {name: room}\n"
        "rooms: [{name: den, items: '*sofa'}]\n"
        "objects:\n- {name: stool, size: [0.4, 0.5, 0.4], shape: stool}\n"
    )
    with pytest.raises(ValueError, match="unknown category: room den: sofa"):
        catalog.load(unknown)
