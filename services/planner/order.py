"""The order objects are placed in."""

from __future__ import annotations

from collections.abc import Sequence

from services.planner.items import Item

LAYER = {"floor": 0, "wall": 1, "surface": 2, "ceiling": 3}


def placement_order(all_items: Sequence[Item], by_priority: bool) -> list[Item]:
    """The order to place ``all_items`` in (and only them): targets before the objects
    that refer to them, each object's floor companions right after it; otherwise big
    wall-hugging anchors first (or, ``by_priority``, the named objects in the order
    named, then the template's)."""
    dependents: dict[int, list[Item]] = {}
    group_area: dict[int, float] = {}
    for item in all_items:
        for rule in item.rules:
            if rule.kind == "far":
                continue
            for target in rule.targets:
                if target.spec_index == item.spec_index:
                    continue
                dependents.setdefault(id(target), []).append(item)
                if item.placement == "floor" and not item.flat:
                    group_area[id(target)] = group_area.get(id(target), 0.0) + item.footprint

    def weight(item: Item) -> float:
        value = item.footprint + group_area.get(id(item), 0.0)
        if item.wall_hugger:
            value += 1.0
        return value

    def base(item: Item) -> tuple[float, ...]:
        layer = LAYER[item.placement] if not item.flat else 0.5
        if by_priority:
            return (item.priority[0], item.priority[1], layer)
        return (layer, -weight(item), item.order)

    ordered = sorted(all_items, key=base)
    chosen = {id(item) for item in all_items}
    seen: set[int] = set()
    out: list[Item] = []

    def visit(item: Item, expand: bool = True) -> None:
        if id(item) in seen or id(item) not in chosen:
            return
        seen.add(id(item))
        for rule in item.rules:
            if rule.kind == "far":
                continue
            for target in rule.targets:
                # A target that stands on something (a tv on its stand) waits for its
                # support: a floor object does not pull it in first.
                waits = LAYER[target.placement] > max(LAYER[item.placement], LAYER["wall"])
                if target.spec_index != item.spec_index and not waits:
                    visit(target, expand=False)
        out.append(item)
        if not expand:
            return
        for follower in sorted(dependents.get(id(item), []), key=base):
            if follower.placement != "floor":
                continue
            if by_priority and follower.priority[0] != item.priority[0]:
                continue
            visit(follower)

    for item in ordered:
        visit(item)
    return out
