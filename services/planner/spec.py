"""The scene spec: what understanding hands to the solver.

A :class:`SceneSpec` says which room to build and which objects to put in it, with the
placement rules each object should follow. Everything the prompt leaves open is
null and left to the solver (the room's size and openings, an object's size, where
exactly it goes). The rule-based understanding fills it from plain English; an LLM can
fill it through an OpenAI strict JSON schema (:func:`scene_spec_schema`): every property
is present (optional values are nullable), there are no open-ended maps and every
enumeration is a list of string literals.

Coordinates follow the layout's conventions: metres, the floor plan in the x–z plane,
a polygon counter-clockwise seen from above (a clockwise one is turned round).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue

from shared import catalog
from shared.errors import BadInput

# Room types with a template of their own; any other name is a room too (furnished
# only with what any room has).
ROOM_TYPES: tuple[str, ...] = tuple(catalog.rooms())

RoomShape = Literal["rectangle", "l_shape"]
PlacementKind = Literal["floor", "wall", "surface", "ceiling"]
ConstraintKind = Literal[
    "against_wall",
    "corner",
    "middle",
    "near",
    "far",
    "in_front_of",
    "behind",
    "facing",
    "beside",
    "left_of",
    "right_of",
    "around",
    "under",
    "above",
    "on",
    "aligned_with",
]
CONSTRAINT_KINDS: tuple[str, ...] = ConstraintKind.__args__  # type: ignore[attr-defined]
# Rules about the room itself; every other kind is relative to a target.
ROOM_RULES = frozenset(("against_wall", "corner", "middle"))
# Targets that are not objects: the room's openings.
OPENING_TARGETS = frozenset(("door", "window"))
MAX_COUNT = 200
MAX_TOTAL = 4 * MAX_COUNT  # objects one room is planned with


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Point(_Spec):
    """A corner of the floor plan. [x, z] pairs are accepted too."""

    x: float
    z: float

    @model_validator(mode="before")
    @classmethod
    def _from_pair(cls, value: Any) -> Any:
        if isinstance(value, Sequence) and not isinstance(value, str | bytes):
            if len(value) != 2:
                raise ValueError("a point is [x, z]")
            return {"x": value[0], "z": value[1]}
        return value


class FloorSize(_Spec):
    """The floor's extent: width along x, depth along z, in metres."""

    width: float = Field(gt=0.5, le=100.0)
    depth: float = Field(gt=0.5, le=100.0)


class ObjectSize(_Spec):
    """An object's size before rotation, in metres: x, y (up) and z (its front)."""

    width: float = Field(gt=0.0, le=50.0)
    height: float = Field(gt=0.0, le=20.0)
    depth: float = Field(gt=0.0, le=50.0)


class OpeningSpec(_Spec):
    """A door or a window. wall is the index of the polygon edge (from corner
    wall to corner wall + 1), offset the distance in metres from that edge's
    first corner to the opening's centre, sill the height of its bottom edge. Any
    value left null is chosen by the solver."""

    wall: int | None = Field(default=None, ge=0)
    offset: float | None = Field(default=None, ge=0.0)
    width: float | None = Field(default=None, gt=0.2, le=10.0)
    height: float | None = Field(default=None, gt=0.2, le=10.0)
    sill: float | None = Field(default=None, ge=0.0, le=5.0)


class RoomSpec(_Spec):
    """The room. type is any room name ("bedroom", "sushi restaurant", "tattoo
    parlour"); a name the catalog has no template for keeps its name and gets only
    what any room has. polygon (any simple polygon, e.g. an L) or size (a rectangle,
    or the bounding box of an L when shape is "l_shape") fix the floor; with
    neither, the solver sizes the room for its objects, scaled by scale (0.8 for a
    small room, 1.3 for a spacious one). doors and windows null: the solver
    chooses them; an empty list: there are none."""

    type: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="Any room name. These have templates: " + ", ".join(ROOM_TYPES) + ".",
    )
    shape: RoomShape | None = None
    polygon: list[Point] | None = None
    size: FloorSize | None = None
    height: float | None = Field(default=None, ge=1.8, le=10.0)
    scale: float | None = Field(default=None, ge=0.4, le=3.0)
    doors: list[OpeningSpec] | None = None
    windows: list[OpeningSpec] | None = None
    floor_material: str | None = None
    wall_material: str | None = None
    style: list[str] = Field(default_factory=list)

    @field_validator("type")
    @classmethod
    def _plain_type(cls, value: str | None) -> str | None:
        if value is None:
            return None
        text = " ".join(value.lower().replace("_", " ").split())
        if not text:
            raise ValueError("the room type is empty")
        return text

    @field_validator("polygon")
    @classmethod
    def _simple_polygon(cls, polygon: list[Point] | None) -> list[Point] | None:
        if polygon is None:
            return None
        if len(polygon) < 3:
            raise ValueError("a polygon needs at least 3 corners")
        points = [(p.x, p.z) for p in polygon]
        area = _signed_area(points)
        if abs(area) < 1.0:
            raise ValueError("the polygon encloses less than 1 m²")
        if _self_intersects(points):
            raise ValueError("the polygon crosses itself")
        if area < 0:
            polygon = list(reversed(polygon))
        return polygon

    @model_validator(mode="after")
    def _consistent(self) -> RoomSpec:
        if self.polygon is not None and self.size is not None:
            raise ValueError("give either polygon or size, not both")
        walls = self.wall_count
        for name, openings in (("doors", self.doors), ("windows", self.windows)):
            for k, opening in enumerate(openings or []):
                if opening.wall is not None and opening.wall >= walls:
                    raise ValueError(f"{name}[{k}].wall: the room has only {walls} walls")
        return self

    @property
    def wall_count(self) -> int:
        if self.polygon is not None:
            return len(self.polygon)
        return 6 if self.shape == "l_shape" else 4

    @property
    def fixed_size(self) -> bool:
        """Whether the spec fixes the floor (the solver may not grow the room)."""
        return self.polygon is not None or self.size is not None


class Constraint(_Spec):
    """One placement rule. target names the object it is relative to: another
    object's ref or a category ("bed", "dining table"), or "door"/"window" (any rule
    relative to an opening other than far and facing means near). distance (metres)
    overrides the rule's usual reach: the largest gap for near, beside, in_front_of,
    behind, left_of, right_of and around, the smallest for far.

    Kinds: against_wall (back to a wall), corner (in a corner of the room), middle (in
    the open middle of the room), near / far (gap to the target), in_front_of / behind
    (in the zone the target faces / turns its back to), facing (its front turns to the
    target; for a desk, the person sitting at it faces the target), beside (side by
    side, level with it), left_of / right_of (on that side of the target as seen when
    looking at the target's front), around (close to the target and facing it: chairs
    around a table), under (beneath it: a rug under a table), above (a wall or ceiling
    object over it), on (standing on its top surface), aligned_with (centred on one of
    the target's axes)."""

    kind: ConstraintKind
    target: str | None = None
    distance: float | None = Field(default=None, gt=0.0, le=50.0)

    @model_validator(mode="before")
    @classmethod
    def _openings_are_near(cls, value: Any) -> Any:
        """ "beside the window" and the like mean near it."""
        if isinstance(value, Mapping) and value.get("target") in OPENING_TARGETS:
            if value.get("kind") not in ("near", "far", "facing", *ROOM_RULES):
                return {**value, "kind": "near"}
        return value

    @model_validator(mode="after")
    def _has_target(self) -> Constraint:
        if self.kind not in ROOM_RULES and not self.target:
            raise ValueError(f"a '{self.kind}' constraint needs a target")
        return self


class ObjectSpec(_Spec):
    """count objects of one category: any name of a thing ("pool table", "teddy
    bear", "fork"), singular; one the catalog does not know is sized from size or
    its head noun and reported as an estimate. ref names them for other objects'
    constraints. description is free text for the object's look (composed from
    colour, material and category when null). size overrides the category's usual
    size; placement its usual place (floor, on a wall, on a surface, on the
    ceiling); mount_height is the height of a wall object's bottom edge.
    requested is false for objects added to complete a room type rather than named
    by the prompt: when the room is too small they give way first."""

    ref: str | None = Field(default=None, max_length=64)
    category: str = Field(min_length=1, max_length=64)
    description: str | None = Field(default=None, max_length=300)
    count: int = Field(default=1, ge=1, le=MAX_COUNT)
    size: ObjectSize | None = None
    material: str | None = None
    color: str | None = None
    placement: PlacementKind | None = None
    mount_height: float | None = Field(default=None, ge=0.0, le=10.0)
    constraints: list[Constraint] = Field(default_factory=list)
    requested: bool = True

    @field_validator("category")
    @classmethod
    def _plain_category(cls, category: str) -> str:
        text = " ".join(category.lower().replace("_", " ").split())
        if not text:
            raise ValueError("the category is empty")
        return text


class OverLimit(_Spec):
    """Objects a prompt asked for beyond what one room is planned with: reported in the
    layout's unplaced list, never dropped silently."""

    category: str = Field(min_length=1, max_length=64)
    count: int = Field(ge=1)
    reason: str


class SceneSpec(_Spec):
    """A room and the objects to put in it, in priority order (the first ones named
    are placed first when space runs out). exclude lists categories the prompt
    rules out ("no tv"), so completing the room from its type never adds them."""

    room: RoomSpec = Field(default_factory=RoomSpec)
    objects: list[ObjectSpec] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)
    # Set by the rule-based reading only (not part of the model's schema).
    over_limit: list[OverLimit] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_refs(self) -> SceneSpec:
        seen: set[str] = set()
        for k, obj in enumerate(self.objects):
            if obj.ref is None:
                continue
            if obj.ref in seen:
                raise ValueError(f"objects[{k}].ref: '{obj.ref}' is used twice")
            seen.add(obj.ref)
        total = sum(obj.count for obj in self.objects)
        if total > MAX_TOTAL:
            raise ValueError(f"objects: {total} objects are more than {MAX_TOTAL}")
        return self


# --------------------------------------------------------------------------- parsing


def parse_spec(data: Mapping[str, Any] | str | bytes) -> SceneSpec:
    """A validated spec from a dict or JSON text; :class:`BadInput` names the bad field."""
    try:
        if isinstance(data, str | bytes):
            return SceneSpec.model_validate_json(data)
        return SceneSpec.model_validate(data)
    except ValidationError as exc:
        raise BadInput(f"invalid scene spec: {_describe(exc)}") from None


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        where = _field_path(error.get("loc", ()))
        message = str(error.get("msg", "invalid"))
        message = message.removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    more = exc.error_count() - len(parts)
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)


def _field_path(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("function-after[_from_pair()]", "function-before[_from_pair()]"):
            continue
        else:
            out += f".{part}" if out else str(part)
    return out


# --------------------------------------------------------------------------- schema


class _StrictSchema(GenerateJsonSchema):
    """JSON Schema in the form OpenAI's strict structured output accepts."""

    def generate(self, schema: Any, mode: Any = "validation") -> JsonSchemaValue:
        document = super().generate(schema, mode=mode)
        _strict(document)
        document["$schema"] = self.schema_dialect
        document["$id"] = "https://holodeck.dev/schemas/scene-spec.schema.json"
        return document


def _strict(node: Any) -> None:
    if isinstance(node, dict):
        node.pop("default", None)
        if "$ref" in node:
            for key in [k for k in node if k != "$ref"]:
                del node[key]
        if node.get("type") == "object" and "properties" in node:
            node["additionalProperties"] = False
            node["required"] = list(node["properties"])
        for value in node.values():
            _strict(value)
    elif isinstance(node, list):
        for value in node:
            _strict(value)


def scene_spec_schema() -> dict[str, Any]:
    """The scene spec's JSON Schema: every object closed and every property required."""
    schema = SceneSpec.model_json_schema(schema_generator=_StrictSchema)
    # over_limit is the rule-based reader's report, not something a model fills in.
    schema["properties"].pop("over_limit", None)
    schema["required"] = [k for k in schema["required"] if k != "over_limit"]
    schema["$defs"].pop("OverLimit", None)
    return schema


def write_spec_schema(path: Path) -> Path:
    """Write :func:`scene_spec_schema` to path (a file, or a directory to hold
    scene-spec.schema.json) in the form committed under docs/schemas."""
    if path.is_dir():
        path = path / "scene-spec.schema.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(scene_spec_schema(), indent=2, sort_keys=True) + "\n")
    return path


# --------------------------------------------------------------------------- geometry


def _signed_area(points: Sequence[tuple[float, float]]) -> float:
    """Positive for the layout's counter-clockwise orientation (see shared.layout)."""
    total = 0.0
    for i, (x1, z1) in enumerate(points):
        x2, z2 = points[(i + 1) % len(points)]
        total += x2 * z1 - x1 * z2
    return total / 2.0


def _self_intersects(points: Sequence[tuple[float, float]]) -> bool:
    n = len(points)

    def orient(a: tuple[float, float], b: tuple[float, float], c: tuple[float, float]) -> float:
        return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])

    for i in range(n):
        a, b = points[i], points[(i + 1) % n]
        if math.dist(a, b) < 1e-9:
            return True
        for j in range(i + 1, n):
            if j == i or (j + 1) % n == i or (i + 1) % n == j:
                continue
            c, d = points[j], points[(j + 1) % n]
            d1, d2 = orient(c, d, a), orient(c, d, b)
            d3, d4 = orient(a, b, c), orient(a, b, d)
            if d1 * d2 < 0 and d3 * d4 < 0:
                return True
    return False
