"""The scene spec: its JSON Schema, its strictness and its round trips."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from services.planner.commands import layout_from_spec
from services.planner.plan import scene_spec
from services.planner.spec import (
    CONSTRAINT_KINDS,
    ROOM_TYPES,
    Constraint,
    ObjectSpec,
    RoomSpec,
    SceneSpec,
    parse_spec,
    scene_spec_schema,
    write_spec_schema,
)
from shared.errors import BadInput
from shared.layout import Layout

DOCS = Path(__file__).resolve().parents[2] / "docs" / "schemas" / "scene-spec.schema.json"


def _objects(node: Any, path: str = "$") -> list[tuple[str, dict[str, Any]]]:
    """Every object schema (with properties) anywhere in a JSON Schema document."""
    found = []
    if isinstance(node, dict):
        if node.get("type") == "object" or "properties" in node:
            found.append((path, node))
        for key, value in node.items():
            found += _objects(value, f"{path}.{key}")
    elif isinstance(node, list):
        for k, value in enumerate(node):
            found += _objects(value, f"{path}[{k}]")
    return found


def _all_nodes(node: Any) -> list[dict[str, Any]]:
    out = []
    if isinstance(node, dict):
        out.append(node)
        for value in node.values():
            out += _all_nodes(value)
    elif isinstance(node, list):
        for value in node:
            out += _all_nodes(value)
    return out


# --------------------------------------------------------------------------- the schema


def test_every_object_schema_is_closed_and_requires_every_property() -> None:
    schema = scene_spec_schema()
    objects = _objects(schema)
    assert len(objects) >= 8, "room, objects, constraints, sizes, openings, points..."
    for path, node in objects:
        assert node.get("additionalProperties") is False, path
        assert sorted(node["required"]) == sorted(node["properties"]), path


def test_schema_fits_openai_strict_mode() -> None:
    schema = scene_spec_schema()
    assert schema["type"] == "object"
    for node in _all_nodes(schema):
        assert "default" not in node
        if "$ref" in node:
            assert set(node) == {"$ref"}, "a $ref stands alone"
        if "enum" in node:
            assert node.get("type") == "string"
            assert all(isinstance(v, str) for v in node["enum"])
        assert "patternProperties" not in node
        if node.get("type") == "object":
            assert isinstance(node.get("properties"), dict), "no open-ended maps"


def test_schema_enumerates_room_types_placements_and_rule_kinds() -> None:
    text = json.dumps(scene_spec_schema())
    for value in (*CONSTRAINT_KINDS, "floor", "wall", "surface", "ceiling"):
        assert f'"{value}"' in text, value
    # Any room name is valid; the ones with templates are listed for the model.
    room_type = scene_spec_schema()["$defs"]["RoomSpec"]["properties"]["type"]
    assert len(ROOM_TYPES) >= 30
    for value in ROOM_TYPES:
        assert value in str(room_type), value
    defs = scene_spec_schema()["$defs"]
    assert set(defs["ObjectSpec"]["properties"]) >= {
        "category",
        "description",
        "count",
        "size",
        "material",
        "color",
        "placement",
        "mount_height",
        "constraints",
    }
    assert set(defs["RoomSpec"]["properties"]) >= {
        "type",
        "polygon",
        "size",
        "height",
        "doors",
        "windows",
        "floor_material",
        "wall_material",
    }


def test_committed_schema_is_current(tmp_path: Path) -> None:
    written = write_spec_schema(tmp_path)
    assert written.name == "scene-spec.schema.json"
    assert DOCS.read_text() == written.read_text(), "regenerate with write_spec_schema()"
    assert write_spec_schema(tmp_path / "x.json").read_text() == written.read_text()


# --------------------------------------------------------------------------- round trips


def test_spec_round_trips_through_json() -> None:
    spec = SceneSpec(
        room=RoomSpec(
            type="bedroom",
            shape="l_shape",
            size={"width": 5.0, "depth": 6.0},  # type: ignore[arg-type]
            height=2.8,
            doors=[{"wall": 1, "offset": 1.0}],  # type: ignore[list-item]
            windows=[],
            style=["scandinavian"],
        ),
        objects=[
            ObjectSpec(ref="main-bed", category="double bed", color="white"),
            ObjectSpec(
                category="painting",
                placement="wall",
                mount_height=1.4,
                constraints=[Constraint(kind="above", target="main-bed")],
            ),
        ],
        exclude=["tv"],
    )
    text = spec.model_dump_json()
    assert parse_spec(text) == spec
    assert parse_spec(json.loads(text)) == spec
    assert parse_spec(json.loads(text)).model_dump_json() == text


def test_understood_prompts_are_valid_specs() -> None:
    for prompt in (
        "an L-shaped living room with a sofa and a tv facing the sofa",
        "a 4 by 5 meters bedroom with a lamp next to the bed",
        "a kitchen",
    ):
        spec = scene_spec(prompt)
        assert parse_spec(spec.model_dump_json()) == spec


def test_points_may_be_pairs_and_polygons_turn_counter_clockwise() -> None:
    clockwise = [[0, 0], [4, 0], [4, 3], [0, 3]]
    room = RoomSpec.model_validate({"polygon": clockwise})
    assert room.polygon is not None
    points = [(p.x, p.z) for p in room.polygon]
    assert points == [(0, 3), (4, 3), (4, 0), (0, 0)]
    assert room.fixed_size and room.wall_count == 4
    assert RoomSpec(shape="l_shape").wall_count == 6


def test_spec_is_frozen() -> None:
    spec = SceneSpec()
    with pytest.raises(ValueError):
        spec.objects = []  # type: ignore[misc]


# --------------------------------------------------------------------------- bad specs


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"objects": [{"category": "bed", "count": 0}]}, "objects[0].count"),
        ({"objects": [{"category": "bed", "colour": "red"}]}, "objects[0].colour"),
        ({"objects": [{"category": "bed", "constraints": [{"kind": "near"}]}]}, "constraints[0]"),
        (
            {"objects": [{"category": "bed", "constraints": [{"kind": "hovering"}]}]},
            "objects[0].constraints[0].kind",
        ),
        ({"room": {"type": " "}}, "room.type"),
        ({"room": {"type": "x" * 65}}, "room.type"),
        ({"room": {"size": {"width": 3}}}, "room.size.depth"),
        ({"room": {"polygon": [[0, 0], [1, 0]]}}, "room.polygon"),
        ({"room": {"polygon": [[0, 0], [4, 4], [4, 0], [0, 4]]}}, "room.polygon"),
        (
            {"room": {"polygon": [[0, 0], [0, 4], [4, 4]], "size": {"width": 4, "depth": 4}}},
            "polygon or size",
        ),
        ({"room": {"doors": [{"wall": 7}]}}, "doors[0].wall"),
        ({"room": {"height": 0.5}}, "room.height"),
        ({"objects": [{"category": "bed", "ref": "a"}, {"category": "sofa", "ref": "a"}]}, "ref"),
        ({"rooms": {}}, "rooms"),
    ],
)
def test_bad_specs_are_bad_input_naming_the_field(data: dict[str, Any], field: str) -> None:
    with pytest.raises(BadInput) as caught:
        parse_spec(data)
    assert field in str(caught.value)


def test_layout_from_spec_reads_solves_and_rejects(tmp_path: Path) -> None:
    good = tmp_path / "spec.json"
    good.write_text(
        json.dumps(
            {
                "room": {"type": "office", "size": {"width": 4, "depth": 4}},
                "objects": [
                    {"category": "desk", "constraints": [{"kind": "against_wall"}]},
                    {
                        "category": "office chair",
                        "constraints": [{"kind": "around", "target": "desk"}],
                    },
                ],
            }
        )
    )
    layout = Layout.model_validate_json(layout_from_spec(good, seed=1))
    assert {o.category for o in layout.objects} == {"desk", "office chair"}
    assert layout.room.area == pytest.approx(16.0)

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"objects": [{"category": "desk", "count": -2}]}))
    with pytest.raises(BadInput, match=r"objects\[0\]\.count"):
        layout_from_spec(bad, seed=0)
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(BadInput):
        layout_from_spec(broken, seed=0)
    with pytest.raises(BadInput, match="cannot read"):
        layout_from_spec(tmp_path / "missing.json", seed=0)


def test_openings_that_do_not_fit_are_bad_input() -> None:
    from services.planner.solver import solve

    spec = parse_spec(
        {"room": {"size": {"width": 3, "depth": 3}, "doors": [{"wall": 0, "offset": 2.9}]}}
    )
    with pytest.raises(BadInput, match=r"room\.doors\[0\]\.offset"):
        solve(spec)
    spec = parse_spec(
        {
            "room": {
                "size": {"width": 3, "depth": 3},
                "height": 2.5,
                "windows": [{"wall": 1, "sill": 1.5, "height": 1.5}],
            }
        }
    )
    with pytest.raises(BadInput, match=r"room\.windows\[0\]"):
        solve(spec)


def test_rules_relative_to_an_opening_mean_near_it() -> None:
    rule = Constraint.model_validate({"kind": "beside", "target": "window"})
    assert (rule.kind, rule.target) == ("near", "window")
    assert Constraint(kind="facing", target="door").kind == "facing"
