"""The layout a search produced, with every rule of every object measured on the final
positions: met or not, against which object, and a short detail."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from services.planner import geometry, room, rules
from services.planner.arrange import Failure, Pose
from services.planner.items import Rule
from services.planner.rules import Candidates, RoomInfo, Shape
from shared import catalog
from shared.layout import ConstraintResult, Layout, PlacedObject, Room, Unplaced


def layout_of(shell: Room, placed: Sequence[Pose], failures: Sequence[Failure]) -> Layout:
    """The layout of a search: objects in spec order with ids by category ("chair-3"),
    each with its rules reported, and the unplaced objects with their reasons."""
    poses = sorted(placed, key=lambda p: p.item.order)
    counters: dict[str, int] = {}
    ids: dict[int, str] = {}
    for pose in poses:
        stem = catalog.slug(pose.item.category)
        counters[stem] = counters.get(stem, 0) + 1
        ids[id(pose)] = f"{stem}-{counters[stem]}"
    by_item = {id(p.origin): p for p in poses}
    walls = room.walls(shell.polygon)
    info = RoomInfo(
        shell.polygon,
        walls,
        [room.opening_shape(o, walls[o.wall]) for o in shell.doors],
        [room.opening_shape(o, walls[o.wall]) for o in shell.windows],
    )
    objects = []
    for pose in poses:
        item = pose.item
        objects.append(
            PlacedObject(
                id=ids[id(pose)],
                category=item.category,
                description=item.description,
                size=(round(item.w, 4), round(item.h, 4), round(item.d, 4)),
                position=(round(pose.x, 4), round(pose.y, 4), round(pose.z, 4)),
                rotation=round(pose.rot, 4) % 360.0,
                placement=item.placement,
                parent=ids[id(pose.parent)] if pose.parent is not None else None,
                material=item.material or None,
                color=item.color or None,
                constraints=[_report(rule, pose, by_item, ids, info) for rule in item.rules],
                estimated=item.estimate is not None,
                estimate=item.estimate,
            )
        )
    unplaced = [
        Unplaced(category=f.item.category, description=f.item.description, reason=f.reason)
        for f in sorted(failures, key=lambda f: f.item.order)
    ]
    return Layout(room=shell, objects=objects, unplaced=unplaced)


def _report(
    rule: Rule, pose: Pose, by_item: dict[int, Pose], ids: dict[int, str], info: RoomInfo
) -> ConstraintResult:
    """Whether the final pose meets ``rule``, measured on the final positions."""
    if rule.kind == "on":
        parent = pose.parent
        met = parent is not None and any(parent.origin is t for t in rule.targets)
        target_id = ids.get(id(parent)) if parent is not None else None
        detail = f"stands on {target_id}" if target_id else "stands on nothing"
        if parent is not None and not met:
            detail += f", not on a {rule.target}"
        return ConstraintResult(
            kind="on", target=rule.target, target_id=target_id, met=met, detail=detail
        )
    if rule.opening is not None:
        shapes = info.openings[rule.opening]
        targets: list[Pose | None] = [None] * len(shapes)
    else:
        placed = [by_item[id(t)] for t in rule.targets if id(t) in by_item]
        shapes = [p.shape for p in placed]
        targets = list(placed)
    if rule.relative and not shapes:
        what = rule.target or "target"
        return ConstraintResult(
            kind=rule.kind, target=rule.target, met=False, detail=f"no {what} in the room"
        )
    c = Candidates(
        np.array([pose.x]),
        np.array([pose.z]),
        np.array([pose.rot]),
        pose.item.w,
        pose.item.d,
        np.array([pose.y]),
        pose.item.h,
        pose.item.seat,
    )
    v, _, index = rules.best_of(rule.kind, c, shapes, info, rule.distance)
    met = bool(v[0] <= 1e-6)
    chosen = targets[int(index[0])] if rule.relative and int(index[0]) >= 0 else None
    target_id = ids.get(id(chosen)) if chosen is not None else None
    name = target_id or rule.opening or ""
    detail = _detail(
        rule.kind, c, shapes[int(index[0])] if rule.relative else None, name, met, float(v[0])
    )
    return ConstraintResult(
        kind=rule.kind, target=rule.target, target_id=target_id, met=met, detail=detail
    )


def _detail(
    kind: str, c: Candidates, target: Shape | None, name: str, met: bool, off: float
) -> str:
    if target is not None and kind in (
        "near",
        "far",
        "beside",
        "around",
        "left_of",
        "right_of",
        "in_front_of",
        "behind",
    ):
        gap = float(geometry.rect_gap(c.quads, target.quad)[0])
        text = f"{gap:.2f} m from {name}"
    elif target is not None and kind == "facing":
        fx, fz = geometry.front(c.rot)
        if c.seat:
            fx, fz = -fx, -fz
        angle = math.degrees(
            math.atan2(float(target.z - c.z[0]), float(target.x - c.x[0]))
            - math.atan2(float(fz[0]), float(fx[0]))
        )
        angle = (angle + 180.0) % 360.0 - 180.0
        text = f"turned {abs(angle):.0f}° from {name}"
    elif target is not None:
        text = f"{kind.replace('_', ' ')} {name}"
    else:
        text = kind.replace("_", " ")
    return text if met else f"{text}; off by {off:.2f}"
