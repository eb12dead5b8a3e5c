"""The search's shortcuts give the answers of the long way round: the walkway's reach
after a new obstacle, the nearest object of a kind, the support a small thing stands on;
and a placement late in a large scene looks at what it needs, not at everything placed."""

from __future__ import annotations

import random

import numpy as np
import pytest

from services.planner import arrange, geometry, walk
from services.planner.arrange import Arranger
from services.planner.plan import plan_scene, scene_spec
from services.planner.solver import solve
from services.planner.walk import Grid
from shared.layout import rectangle


def full_reach(grid: walk.WalkGrid, shadow: tuple[tuple[slice, slice], Grid] | None) -> Grid:
    return grid.reach(grid.free(shadow))


@pytest.mark.parametrize("seed", range(6))
def test_the_reach_after_an_obstacle_is_a_flood_of_the_floor(seed: int) -> None:
    """Obstacles dropped one after another anywhere (across corridors, into pockets,
    on the door): the reach found near each one is the reach a flood of the whole
    floor finds."""
    rng = random.Random(seed)
    polygon = rectangle(8.0, 6.0)
    grid = walk.WalkGrid(polygon)
    grid.set_doors([(0.3, 3.0)])
    reached = grid.reach(grid.free())
    for _ in range(40):
        x, z = rng.uniform(0.0, 8.0), rng.uniform(0.0, 6.0)
        w, d = rng.uniform(0.3, 2.5), rng.uniform(0.3, 1.5)
        shadow = grid.shadow(x, z, w, d, rng.choice((0.0, 90.0, 30.0)))
        expected = full_reach(grid, shadow)
        after = grid.reach_after(reached, shadow)
        assert np.array_equal(after, expected)
        grid.add(shadow)
        reached = after


def test_nearest_distance_is_the_smallest_of_all_distances() -> None:
    rng = np.random.default_rng(3)
    px, pz = rng.uniform(0, 50, 5000), rng.uniform(0, 50, 5000)
    qx, qz = rng.uniform(0, 50, 300), rng.uniform(0, 50, 300)
    expected = np.hypot(px[:, None] - qx[None, :], pz[:, None] - qz[None, :]).min(axis=1)
    assert np.array_equal(geometry.nearest_distance(px, pz, qx, qz), expected)
    assert np.isinf(geometry.nearest_distance(px, pz, qx[:0], qz[:0])).all()


class EverySupport(Arranger):
    """The search ranking every placed object as a support for each small thing, by a
    walk over all of them, and trying every spot on all of them at once."""

    def place_surface(self, item: arrange.Item) -> None:
        ranked = self._every_support(item)
        holding = [(r, p) for r, p in ranked if self._surface_grid(item, p)]
        found = self._spot_on(item, holding) if holding else None
        room = bool(holding)
        if found is not None:
            self._commit(found[1])
        elif not ranked:
            self._no_surface(item, "there is nothing to stand it on", growable=False)
        elif not room:
            self._no_surface(item, "no surface is large enough to hold it", growable=False)
        else:
            self._no_surface(item, "every surface it could stand on is full", growable=False)

    def _every_support(self, item: arrange.Item) -> list[tuple[float, arrange.Pose]]:
        wanted = [
            p
            for rule in item.rules
            if rule.kind == "on"
            for p in (self.placed(t) for t in rule.targets)
            if p is not None
        ]
        prefs = item.entry.parents if item.entry is not None else ()
        ranked: list[tuple[float, arrange.Pose]] = []
        for pose in self.poses:
            other = pose.item
            if other is item or other.placement not in ("floor", "wall") or other.flat:
                continue
            if any(pose is w for w in wanted):
                rank = 0.0
            elif other.category in prefs:
                rank = 1.0 + arrange.PARENT_ORDER_RANK * prefs.index(other.category)
            elif other.family in prefs:
                rank = 1.0 + arrange.PARENT_ORDER_RANK * prefs.index(other.family)
            elif other.has_top and other.h <= arrange.HIGH_TOP:
                rank = arrange.ANY_TOP_RANK
            else:
                continue
            ranked.append((rank, pose))
        if item.group == "stack":
            for pose in self.poses:
                if pose.item.category == item.category and (
                    self._stack_depth(pose) < arrange.STACK_MAX
                ):
                    ranked.append((arrange.STACK_RANK, pose))
        return ranked


@pytest.mark.parametrize(
    "prompt",
    [
        # Supports filling up: the next rank of supports is looked at.
        "a living room with a sofa, a coffee table, a side table and 30 vases",
        "a bathroom with a towel rack, a shelf and 40 towels",
        "an office with 2 desks, a table and 12 computer monitors",
        "a bedroom with a bed, a nightstand and 8 table lamps",
        # Rows on shelves, place settings at seats, a TV on its stand.
        "a library with two bookcases and 80 books",
        "a dining room with a dining table, six chairs, six plates, six glasses and a vase",
        "a living room with a sofa, a coffee table, a tv stand, a tv, 5 vases and 10 books",
    ],
)
def test_supports_taken_by_rank_give_the_layout_of_all_at_once(
    prompt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = scene_spec(prompt)
    by_rank = solve(spec, 0)
    monkeypatch.setattr("services.planner.solver.Arranger", EverySupport)
    at_once = solve(spec, 0)
    assert by_rank == at_once


def test_a_monitor_looks_at_its_own_desk_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Among 40 desks, each monitor is placed by looking at the one desk its rule names:
    the work per monitor does not grow with the number of desks."""
    listed: list[int] = []
    list_tier = Arranger._list_tier

    def counted(
        self: Arranger,
        item: arrange.Item,
        tier: tuple[float, arrange._Tier],
        supports: list[tuple[float, int, float, arrange.Pose]],
    ) -> bool:
        seen = list_tier(self, item, tier, supports)
        listed.append(len(supports))
        return seen

    monkeypatch.setattr(Arranger, "_list_tier", counted)
    layout = plan_scene("an office with 40 desks, 40 office chairs and 40 computer monitors")
    monitors = [o for o in layout.objects if o.category == "computer monitor"]
    assert len(monitors) == 40
    assert listed and max(listed) == 1


def test_a_vase_looks_closely_at_the_tables_that_could_hold_its_best_spot(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Vases may stand on any of 30 side tables: each is scored against all of them
    but checked for room on the one or two that could hold its best spot."""
    placed = 0
    listed: list[int] = []
    checked: list[int] = []
    place, list_tier, spot_on = Arranger.place_surface, Arranger._list_tier, Arranger._spot_on

    def placing(self: Arranger, item: arrange.Item) -> None:
        nonlocal placed
        placed += item.category == "vase"
        place(self, item)

    def listing(
        self: Arranger,
        item: arrange.Item,
        tier: tuple[float, arrange._Tier],
        supports: list[tuple[float, int, float, arrange.Pose]],
    ) -> bool:
        seen = list_tier(self, item, tier, supports)
        if item.category == "vase":
            listed.append(len(supports))
        return seen

    def checking(
        self: Arranger, item: arrange.Item, ranked: list[tuple[float, arrange.Pose]]
    ) -> tuple[float, arrange.Pose] | None:
        if item.category == "vase":
            checked.append(len(ranked))
        return spot_on(self, item, ranked)

    monkeypatch.setattr(Arranger, "place_surface", placing)
    monkeypatch.setattr(Arranger, "_list_tier", listing)
    monkeypatch.setattr(Arranger, "_spot_on", checking)
    layout = plan_scene("a living room with 30 side tables and 30 vases")
    assert sum(o.category == "vase" for o in layout.objects) == 30
    assert max(listed) >= 20
    assert sum(checked) <= 2 * placed


@pytest.mark.parametrize(
    "prompt",
    [
        "an office with 60 desks, 60 office chairs and 4 plants",
        "a dining room with 12 dining tables, 96 chairs and 12 plants",
        "a living room with a sofa, a coffee table, two armchairs, a bookshelf and a rug",
    ],
)
def test_candidates_come_in_the_order_of_their_exact_scores(
    prompt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A floor object's candidates scored only as far as their bounds require come in
    the order scoring every one of them gives."""
    first = arrange._Ranking.first
    compared = 0

    def every_score(self: arrange._Ranking, k: int) -> np.ndarray:
        nonlocal compared
        got = first(self, k)
        kept = self.kept
        scores = self.arranger._score(
            self.item,
            self.c.take(kept),
            self.wall[kept],
            self.t[kept],
            self.rank[kept],
            self.grid_point[kept],
            self.base,
        )
        assert np.array_equal(got, np.argsort(scores, kind="stable")[: len(got)])
        compared += 1
        return got

    monkeypatch.setattr(arrange._Ranking, "first", every_score)
    layout = plan_scene(prompt)
    assert compared >= len([o for o in layout.objects if o.placement == "floor"])
