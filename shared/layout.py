"""The layout: a room and the objects placed in it.

Metres and glTF axes: +Y up, the floor at y = 0, the room polygon in the x–z plane
(counter-clockwise, seen from above with +X right and +Z down the page). Each object's
``position`` is the centre of its bottom face and ``rotation`` its yaw in degrees about
+Y; at 0 the object's front faces +Z.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Vec2 = tuple[float, float]
Vec3 = tuple[float, float, float]
Placement = Literal["floor", "wall", "surface", "ceiling"]

ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
# A room outline never needs more corners than this; it bounds every wall index.
MAX_POLYGON_VERTICES = 1000


class _Frozen(BaseModel):
    # Infinity and NaN are not JSON and no geometry needs them.
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class Opening(_Frozen):
    """A door or window in one wall of the room polygon.

    ``wall`` is the index of the polygon edge (from vertex ``wall`` to ``wall + 1``),
    ``offset`` the distance in metres from that edge's first vertex to the opening's
    centre, ``sill`` the height of its bottom edge above the floor.
    """

    wall: int = Field(ge=0, le=MAX_POLYGON_VERTICES)
    offset: float = Field(ge=0)
    width: float = Field(gt=0)
    height: float = Field(gt=0)
    sill: float = Field(default=0.0, ge=0)


class Room(_Frozen):
    type: str
    polygon: list[Vec2] = Field(min_length=3, max_length=MAX_POLYGON_VERTICES)
    height: float = Field(gt=0)
    doors: list[Opening] = Field(default_factory=list)
    windows: list[Opening] = Field(default_factory=list)
    floor_material: str = "oak"
    wall_material: str = "plaster"

    @field_validator("polygon")
    @classmethod
    def _counter_clockwise(cls, polygon: list[Vec2]) -> list[Vec2]:
        if polygon_area(polygon) <= 0:
            raise ValueError("room polygon must be counter-clockwise with a positive area")
        return polygon

    @property
    def area(self) -> float:
        return polygon_area(self.polygon)

    def wall_segment(self, index: int) -> tuple[Vec2, Vec2]:
        a = self.polygon[index % len(self.polygon)]
        b = self.polygon[(index + 1) % len(self.polygon)]
        return a, b

    def inward_normal(self, index: int) -> Vec2:
        """Unit normal of wall ``index`` pointing into the room."""
        (x1, z1), (x2, z2) = self.wall_segment(index)
        length = math.hypot(x2 - x1, z2 - z1)
        return ((z2 - z1) / length, -(x2 - x1) / length)


class ConstraintResult(_Frozen):
    """How one asked-for placement rule came out: ``kind`` is the rule ("against_wall",
    "beside", "facing", ...), ``target`` what it was asked relative to (a category or an
    object reference, ``None`` for rules about the room), ``target_id`` the object it was
    checked against, ``met`` whether the final layout satisfies it and ``detail`` a short
    human-readable explanation."""

    kind: str
    target: str | None = None
    target_id: str | None = None
    met: bool
    detail: str = ""


class PlacedObject(_Frozen):
    """One placed object. ``parent`` is what it stands on or in (a table, a bookcase
    whose boards hold it); ``estimated`` says its size and place are guesses for a
    category the catalog does not know (or knows only by its head noun), and
    ``estimate`` says why."""

    id: str = Field(pattern=ID_PATTERN)
    category: str
    description: str
    size: Vec3
    position: Vec3
    rotation: float = 0.0
    placement: Placement = "floor"
    parent: str | None = None
    material: str | None = None
    color: str | None = None
    constraints: list[ConstraintResult] = Field(default_factory=list)
    estimated: bool = False
    estimate: str | None = None

    @field_validator("size")
    @classmethod
    def _positive_size(cls, size: Vec3) -> Vec3:
        if min(size) <= 0:
            raise ValueError("every size component must be positive")
        return size

    def footprint(self) -> list[Vec2]:
        """The four corners of the rotated footprint in the x–z plane."""
        sx, _, sz = self.size
        cx, _, cz = self.position
        yaw = math.radians(self.rotation)
        cos, sin = math.cos(yaw), math.sin(yaw)
        corners = []
        for dx, dz in ((-sx / 2, -sz / 2), (sx / 2, -sz / 2), (sx / 2, sz / 2), (-sx / 2, sz / 2)):
            # Yaw about +Y: x' = x cos + z sin, z' = -x sin + z cos.
            corners.append((cx + dx * cos + dz * sin, cz - dx * sin + dz * cos))
        return corners


class Unplaced(_Frozen):
    """Objects the spec asked for that are not in the layout, and why: ``count`` of them
    (one entry stands for many when a whole request was cut, not thousands of lines)."""

    category: str
    description: str
    reason: str
    count: int = Field(default=1, ge=1, le=1_000_000)


class Layout(_Frozen):
    room: Room
    objects: list[PlacedObject]
    unplaced: list[Unplaced] = Field(default_factory=list)

    def object(self, object_id: str) -> PlacedObject:
        for obj in self.objects:
            if obj.id == object_id:
                return obj
        raise KeyError(object_id)


def polygon_area(polygon: list[Vec2]) -> float:
    """Area of an (x, z) polygon, positive when it runs counter-clockwise seen from above.

    Seen from +Y with +X to the right, +Z points down the page, so the rectangle
    (0, 0) → (0, d) → (w, d) → (w, 0) is counter-clockwise and its inside lies to the
    left of every edge.
    """
    total = 0.0
    for i, (x1, z1) in enumerate(polygon):
        x2, z2 = polygon[(i + 1) % len(polygon)]
        total += x2 * z1 - x1 * z2
    return total / 2.0


def rectangle(width: float, depth: float) -> list[Vec2]:
    """A width (x) by depth (z) room polygon with a corner at the origin."""
    return [(0.0, 0.0), (0.0, depth), (width, depth), (width, 0.0)]
