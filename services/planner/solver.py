"""Solving a scene spec into a layout.

The room comes from the spec (its polygon, or a size with an optional L shape) or, when
the spec leaves it open, from the room type's usual size grown until the furniture
covers a comfortable share of the floor and walls; doors and windows the spec leaves
open are chosen from the seed (:mod:`services.planner.room`).

The search is greedy with lookahead, not a blind depth-first search over a grid: the
objects are placed one at a time (:mod:`services.planner.order`: each object's targets
first, the objects that go with it right after), each at the best of the candidates its
rules and the room suggest that passes every hard check
(:mod:`services.planner.arrange`). When something does not fit, a room the spec did not
size grows and the search runs again; a fixed room is searched again in strict
priority order (named objects in the order named, then template objects), and whatever
still does not fit is reported in ``unplaced`` with the reason — nothing is dropped
silently. Every rule of every placed object is reported met or not
(:mod:`services.planner.report`). The same spec and seed always give the same layout.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

from services.planner import items, room
from services.planner.arrange import Arranger, Failure, Pose
from services.planner.items import Item
from services.planner.limits import checked
from services.planner.order import placement_order
from services.planner.report import layout_of
from services.planner.spec import SceneSpec
from shared import catalog
from shared.layout import Layout, Room, Unplaced, Vec2

GROWTH = 1.15
MAX_GROWTH = 6  # times a room the spec does not size may grow for what does not fit
CRAMPED_GROWTH = 2  # times it may grow to give a table room for all its chairs


@dataclass
class Outcome:
    room: Room
    poses: list[Pose]
    failures: list[Failure]
    cramped: int = 0
    complete: bool = True  # False: the search gave up at the first misfit

    def key(self) -> tuple[float, ...]:
        """Larger is better: the most important object left out is as unimportant as
        possible, then as few left out as possible."""
        ranks = sorted(
            f.item.order + (10_000 if not f.item.requested else 0) for f in self.failures
        )
        return (*ranks, math.inf)


def _height(spec: SceneSpec, kind: str, all_items: Sequence[Item]) -> float:
    if spec.room.height is not None:
        return spec.room.height
    template = catalog.room_template(kind)
    tallest = max((it.h for it in all_items if it.placement == "floor"), default=0.0)
    return round(max(template.height, tallest + 0.3), 2)


def _shell(
    spec: SceneSpec, kind: str, points: list[Vec2], height: float, rng: random.Random
) -> Room:
    doors, windows = room.openings(spec, points, height, rng)
    template = catalog.room_template(kind)
    return Room(
        type=kind,
        polygon=points,
        height=height,
        doors=doors,
        windows=windows,
        floor_material=spec.room.floor_material or template.floor_material,
        wall_material=spec.room.wall_material or template.wall_material,
    )


def _attempt(
    spec: SceneSpec,
    kind: str,
    all_items: Sequence[Item],
    points: list[Vec2],
    height: float,
    seed: int,
    attempt: int,
    by_priority: bool,
    only: set[int] | None = None,
    give_up: bool = False,
) -> Outcome:
    rng = random.Random(seed * 7919 + attempt)
    shell = _shell(spec, kind, points, height, rng)
    arranger = Arranger(shell, rng)
    chosen = [it for it in all_items if only is None or id(it) in only]
    complete = arranger.run(checked(placement_order(chosen, by_priority)), give_up)
    return Outcome(shell, arranger.poses, list(arranger.failures), len(arranger.cramped), complete)


def solve(spec: SceneSpec, seed: int = 0) -> Layout:
    """Lay out ``spec``; the same spec and seed always give the same layout."""
    kind = room.room_type(spec)
    all_items = items.build(spec, kind)
    height = _height(spec, kind, all_items)
    if spec.room.fixed_size:
        best = _solve_fixed(spec, kind, all_items, height, seed)
    else:
        best = _solve_growing(spec, kind, all_items, height, seed)
    layout = layout_of(best.room, best.poses, best.failures)
    if not spec.over_limit:
        return layout
    over = [
        Unplaced(category=o.category, description=o.category, reason=o.reason, count=o.count)
        for o in spec.over_limit
    ]
    return layout.model_copy(update={"unplaced": [*layout.unplaced, *over]})


def _solve_fixed(
    spec: SceneSpec, kind: str, all_items: Sequence[Item], height: float, seed: int
) -> Outcome:
    """A room the spec sizes: if the best arrangement leaves something out, search
    again in strict priority order, then arrange what that fits at its best."""
    if spec.room.polygon is not None:
        points = [(p.x, p.z) for p in spec.room.polygon]
    else:
        assert spec.room.size is not None
        size = spec.room.size
        points = room.polygon(spec, size.width, size.depth, random.Random(seed))
    best = _attempt(spec, kind, all_items, points, height, seed, 0, by_priority=False)
    if not best.failures:
        return best
    ranked = _attempt(spec, kind, all_items, points, height, seed, 0, by_priority=True)
    if ranked.key() > best.key():
        best = ranked
    keep = {id(p.origin) for p in ranked.poses}
    if len(keep) < len(all_items):
        tidy = _attempt(spec, kind, all_items, points, height, seed, 0, False, keep)
        if not tidy.failures:
            tidy = Outcome(tidy.room, tidy.poses, list(ranked.failures))
            if tidy.key() >= best.key():
                best = tidy
    return best


def _solve_growing(
    spec: SceneSpec, kind: str, all_items: Sequence[Item], height: float, seed: int
) -> Outcome:
    """A room the spec leaves open: grow it until everything fits (and every table has
    room for its chairs), within limits."""
    floor = [it for it in all_items if it.placement == "floor" and not it.flat]
    footprint = sum(it.footprint for it in floor)
    longest = max((max(it.w, it.d) for it in floor), default=0.0)
    wall_run = sum(
        it.w + it.reserve[2] + it.reserve[3]
        for it in floor
        if it.wall_hugger or any(r.kind in ("against_wall", "corner") for r in it.rules)
    )
    l_shape = spec.room.shape == "l_shape"
    width, depth = room.floor_size(spec, footprint, longest, l_shape, wall_run)
    base_points = room.polygon(spec, width, depth, random.Random(seed))
    best: Outcome | None = None
    for attempt in range(MAX_GROWTH + 1):
        points = room.scaled(base_points, GROWTH**attempt)
        last = attempt == MAX_GROWTH
        outcome = _attempt(
            spec, kind, all_items, points, height, seed, attempt, False, give_up=not last
        )
        if not outcome.complete:
            continue  # something did not fit: grow
        if best is None or (outcome.key(), -outcome.cramped) > (best.key(), -best.cramped):
            best = outcome
        if not any(f.growable for f in outcome.failures):
            if not outcome.cramped or attempt >= CRAMPED_GROWTH:
                break
    assert best is not None
    return best
