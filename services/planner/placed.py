"""What one search has placed so far, kept ready for the next placement.

The search asks the same questions of what stands in the room for every object it
places: the footprints as arrays, the objects of one request or one kind, what stands
on a support, the seats drawn up to a table, who must still be able to walk to what.
Each answer is kept up to date as poses are committed, so asking costs what the answer
holds rather than a walk over everything placed before: a placement late in a large
scene costs about what one early in it does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from services.planner import geometry
from services.planner.geometry import Array, Mask

if TYPE_CHECKING:
    from services.planner.arrange import Pose
    from services.planner.items import Rule

_START = 64  # rows the arrays begin with; they double when full


class Rows:
    """A numpy array that grows by appending rows, read back as a view."""

    def __init__(self, shape: tuple[int, ...], dtype: Any):
        self._data = np.zeros((_START, *shape), dtype=dtype)
        self.size = 0

    def append(self, rows: Array) -> None:
        n = rows.shape[0]
        if self.size + n > self._data.shape[0]:
            grown = np.zeros(
                (max(2 * self._data.shape[0], self.size + n), *self._data.shape[1:]),
                dtype=self._data.dtype,
            )
            grown[: self.size] = self._data[: self.size]
            self._data = grown
        self._data[self.size : self.size + n] = rows
        self.size += n

    def view(self) -> Array:
        return self._data[: self.size]


class Placed:
    """Every committed pose, in commit order, with the lookups the search needs."""

    def __init__(self) -> None:
        self.poses: list[Pose] = []
        self.position: dict[int, int] = {}  # id(pose) → its index in ``poses``
        self.by_item: dict[int, Pose] = {}  # id(item of the spec) → its pose
        self.by_obj: dict[int, list[Pose]] = {}  # id(object of the spec) → its poses
        self.by_category: dict[str, list[Pose]] = {}
        self.by_family: dict[str, list[Pose]] = {}
        self.children: dict[int, list[Pose]] = {}  # id(pose) → what stands on it
        # id(item) → the floor poses drawn up to it by an "around" rule.
        self.seats_at: dict[int, list[Pose]] = {}
        # id(item) → the poses, with the rule, that refer to it.
        self.referrers: dict[int, list[tuple[Pose, Rule]]] = {}
        self.windows: set[int] = set()  # windows with curtains
        self.topped: list[Pose] = []  # furniture with a top things can stand on
        self.covered = 0.0  # floor taken by standing furniture, m²
        self._quads = Rows((4, 2), float)
        self._boxes = Rows((4,), float)
        self._y = Rows((2,), float)
        # aligned, flat, floor, ceiling, cloth, standing
        self._flags = Rows((6,), bool)
        # The walkway cells each reachable object is used from, flattened, with the
        # number of its owner among the objects that have any.
        self._zone_cells = Rows((), np.intp)
        self._zone_owner = Rows((), np.intp)
        self.zoned = 0

    def __len__(self) -> int:
        return len(self.poses)

    def __iter__(self) -> Any:
        return iter(self.poses)

    def add(self, pose: Pose) -> None:
        item = pose.item
        self.position[id(pose)] = len(self.poses)
        self.poses.append(pose)
        self.by_item[id(pose.origin)] = pose
        self.by_obj.setdefault(id(item.obj), []).append(pose)
        self.by_category.setdefault(item.category, []).append(pose)
        self.by_family.setdefault(item.family, []).append(pose)
        if pose.parent is not None:
            self.children.setdefault(id(pose.parent), []).append(pose)
        if item.placement == "floor":
            drawn_to: set[int] = set()
            for rule in item.rules:
                if rule.kind == "around":
                    drawn_to.update(id(t) for t in rule.targets)
            for target in drawn_to:
                self.seats_at.setdefault(target, []).append(pose)
        for rule in item.rules:
            for target in {id(t) for t in rule.targets}:
                self.referrers.setdefault(target, []).append((pose, rule))
        if pose.window is not None:
            self.windows.add(pose.window)
        if item.has_top and item.placement in ("floor", "wall") and not item.flat:
            self.topped.append(pose)
        standing = item.placement == "floor" and not item.flat
        if standing:
            self.covered += item.footprint
        quad = pose.quad[None]
        self._quads.append(quad)
        self._boxes.append(geometry.bounds(quad))
        self._y.append(np.array([[pose.y, pose.y + item.h]]))
        flags = (
            bool(geometry.aligned(pose.rot)),
            item.flat,
            item.placement == "floor",
            item.placement == "ceiling",
            item.flat_on_top,
            standing,
        )
        self._flags.append(np.array([flags], dtype=bool))
        if pose.zone.size:
            self._zone_cells.append(pose.zone)
            self._zone_owner.append(np.full(pose.zone.size, self.zoned, dtype=np.intp))
            self.zoned += 1

    def arrays(self) -> tuple[Array, ...]:
        """Every pose as arrays: quads, boxes, y0, y1, aligned, flat, floor, ceiling."""
        y = self._y.view()
        flags = self._flags.view()
        return (
            self._quads.view(),
            self._boxes.view(),
            y[:, 0],
            y[:, 1],
            flags[:, 0],
            flags[:, 1],
            flags[:, 2],
            flags[:, 3],
        )

    @property
    def cloth(self) -> Mask:
        """Thin things lying on a support (runners, placemats)."""
        return self._flags.view()[:, 4]

    @property
    def standing(self) -> Mask:
        """Floor furniture one cannot walk on."""
        return self._flags.view()[:, 5]

    def all_reachable(self, reached: Mask) -> bool:
        """Whether every object used from somewhere has a cell of its zone in ``reached``
        (the flattened reach of the walkway)."""
        if not self.zoned:
            return True
        hit = reached[self._zone_cells.view()]
        owners = self._zone_owner.view()[hit]
        return bool(np.count_nonzero(np.bincount(owners, minlength=self.zoned)) == self.zoned)
