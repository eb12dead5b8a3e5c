"""Fidelity benchmark: do rooms read as what was asked?

For every prompt of ``bench/prompts.py`` (rooms of many types, with what a person
expects: the room type, its size, each object with its count and where it goes) the
prompt is planned with the rule-based planner and the layout is compared with the
expectation and checked by ``services.planner.check``. Reported:

- requested vs placed vs reported unplaced objects (silently missing must be 0);
- exact counts: share of expected objects the understanding asks for in the right number;
- placed where expected: floor, wall, ceiling, or on / in the expected kind of support;
- catalog share: placed objects whose category the catalog knows (target >= 95 %);
- shape share: placed objects drawn by a dedicated shape family, not a generic one
  (target >= 95 %);
- unrequested share: objects nobody named, among those placed in prompts naming at least
  5 objects (target <= 15 %);
- room type and room size honoured (size: 100 %);
- overlaps, out of bounds (0), reachable floor objects (>= 95 %) and the solve time of
  prompts with at least 25 floor objects (<= 0.5 s).

The last line is one JSON object.

    python bench/fidelity.py [--seed 0] [--verbose]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.prompts import CASES, Case
from services.planner.check import check
from services.planner.plan import scene_spec
from services.planner.solver import solve
from shared import catalog
from shared.layout import Layout

MANY = 5  # prompts naming at least this many objects count for the unrequested share
FLOOR_25 = 25
FLOOR_100 = 90


def _kind(category: str) -> str:
    return catalog.kind(category)


def _where(layout: Layout, obj_id: str) -> str:
    obj = layout.object(obj_id)
    if obj.placement in ("floor", "wall", "ceiling"):
        return obj.placement
    parent = layout.object(obj.parent) if obj.parent else None
    return f"on {parent.category}" if parent is not None else "surface"


def _room_size(layout: Layout) -> tuple[float, float]:
    xs = [p[0] for p in layout.room.polygon]
    zs = [p[1] for p in layout.room.polygon]
    return max(xs) - min(xs), max(zs) - min(zs)


def run_case(case: Case, seed: int, repeat: int) -> dict[str, object]:
    spec = scene_spec(case.prompt)
    samples = []
    for _ in range(max(1, repeat)):
        start = time.perf_counter()
        layout = solve(spec, seed)
        samples.append(time.perf_counter() - start)
    elapsed = statistics.median(samples)
    report = check(layout)

    asked: Counter[str] = Counter()
    for o in spec.objects:
        if o.requested:
            asked[o.category] += o.count
    placed = Counter(o.category for o in layout.objects)
    reported: Counter[str] = Counter()
    for u in layout.unplaced:
        reported[u.category] += u.count
    # What the planner itself asked for and lost without a word (must be none).
    wanted: Counter[str] = Counter()
    for o in spec.objects:
        wanted[o.category] += o.count
    silent = sum(max(0, n - placed[c] - reported[c]) for c, n in wanted.items())
    expected_kinds = {_kind(e.category) for e in case.objects}

    exact = sum(1 for e in case.objects if asked.get(e.category) == e.count)
    requested = sum(e.count for e in case.objects)
    got = sum(min(placed[e.category], e.count) for e in case.objects)
    told = sum(
        min(reported[e.category], max(0, e.count - placed[e.category])) for e in case.objects
    )
    where_ok = 0
    for e in case.objects:
        mine = [o for o in layout.objects if o.category == e.category]
        for obj in mine[: e.count]:
            where = _where(layout, obj.id)
            if e.where == where or (
                e.where.startswith("on ")
                and where.startswith("on ")
                and _kind(e.where[3:]) == _kind(where[3:])
            ):
                where_ok += 1
    unrequested = [o for o in layout.objects if _kind(o.category) not in expected_kinds]
    known = [o for o in layout.objects if not o.estimated and catalog.resolve(o.category)]
    dedicated = [
        o
        for o in layout.objects
        if catalog.shape_family(o.category, o.size) not in catalog.GENERIC_SHAPES
    ]
    size_ok = None
    if case.size is not None:
        w, d = _room_size(layout)
        size_ok = any(
            abs(w - a) <= 0.01 and abs(d - b) <= 0.01
            for a, b in (case.size, (case.size[1], case.size[0]))
        )
    floor_objects = sum(1 for o in layout.objects if o.placement == "floor")
    return {
        "prompt": case.prompt,
        "room_ok": layout.room.type == case.room,
        "room": layout.room.type,
        "size_ok": size_ok,
        "expected_objects": len(case.objects),
        "exact": exact,
        "requested": requested,
        "placed": got,
        "reported": told,
        "missing": silent,
        "not_placed": requested - got - told,
        "where_ok": where_ok,
        "all_placed": len(layout.objects),
        "known": len(known),
        "dedicated": len(dedicated),
        "unrequested": len(unrequested),
        "unrequested_names": sorted({o.category for o in unrequested}),
        "many": requested >= MANY,
        "overlaps": len(report.overlaps),
        "out_of_bounds": len(report.out_of_bounds),
        "floating": len(report.floating),
        "floor_objects": report.floor_objects,
        "reachable": len(report.reachable),
        "seconds": elapsed,
        "floor_count": floor_objects,
        "miscounted": [e.category for e in case.objects if asked.get(e.category) != e.count],
        "estimated": sorted({o.category for o in layout.objects if o.estimated}),
        "unplaced": [(u.category, u.reason) for u in layout.unplaced],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", action="store_true", help="print what each prompt missed")
    parser.add_argument("--repeat", type=int, default=3, help="solves per prompt (median time)")
    args = parser.parse_args()

    rows = [run_case(case, args.seed, args.repeat) for case in CASES]
    header = (
        f"{'prompt':60} {'room':>4} {'count':>6} {'placed':>9} {'where':>6} {'extra':>5} "
        f"{'time':>6}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        prompt = str(row["prompt"])
        shown = prompt if len(prompt) <= 60 else prompt[:57] + "..."
        print(
            f"{shown:60} {'ok' if row['room_ok'] else 'NO':>4} "
            f"{row['exact']:>2}/{row['expected_objects']:<3} "
            f"{row['placed']:>4}/{row['requested']:<4} {row['where_ok']:>6} "
            f"{row['unrequested']:>5} {row['seconds']:>6.3f}"
        )
        if args.verbose:
            for key in ("room", "miscounted", "estimated", "unrequested_names", "unplaced"):
                if row[key]:
                    print(f"    {key}: {row[key]}")

    def total(key: str, rows_: list[dict[str, object]] = rows) -> int:
        return sum(int(r[key]) for r in rows_)  # type: ignore[call-overload]

    many = [r for r in rows if r["many"]]
    sized = [r for r in rows if r["size_ok"] is not None]
    # As bench/layout.py: rooms of 25 to 89 floor objects (small things on them extra).
    big = [
        float(r["seconds"])  # type: ignore[arg-type]
        for r in rows
        if FLOOR_25 <= int(r["floor_count"]) < FLOOR_100  # type: ignore[call-overload]
    ]
    rooms = {c.room for c in CASES}
    props = sum(1 for c in CASES if any(e.where.startswith("on ") for e in c.objects))
    summary = {
        "prompts": len(rows),
        "room_types": len(rooms),
        "prompts_with_props_on_surfaces": props,
        "prompts_with_8_to_40_objects": sum(
            1 for c in CASES if 8 <= sum(e.count for e in c.objects) <= 40
        ),
        "requested": total("requested"),
        "placed": total("placed"),
        "reported_unplaced": total("reported"),
        "silently_missing": total("missing"),
        "expected_but_named_otherwise": total("not_placed"),
        "exact_count_pct": round(100.0 * total("exact") / total("expected_objects"), 1),
        "placed_where_expected_pct": round(100.0 * total("where_ok") / max(1, total("placed")), 1),
        "catalog_pct": round(100.0 * total("known") / total("all_placed"), 1),
        "dedicated_shape_pct": round(100.0 * total("dedicated") / total("all_placed"), 1),
        "unrequested_pct": round(
            100.0 * total("unrequested", many) / max(1, total("all_placed", many)), 1
        ),
        "room_type_pct": round(100.0 * sum(1 for r in rows if r["room_ok"]) / len(rows), 1),
        "room_size_pct": round(100.0 * sum(1 for r in sized if r["size_ok"]) / len(sized), 1),
        "overlaps": total("overlaps"),
        "out_of_bounds": total("out_of_bounds"),
        "floating": total("floating"),
        "reachable_pct": round(100.0 * total("reachable") / max(1, total("floor_objects")), 1),
        "worst_25_floor_s": round(max(big, default=0.0), 3),
        "median_25_floor_s": round(statistics.median(big), 3) if big else 0.0,
        "worst_s": round(max(float(r["seconds"]) for r in rows), 3),  # type: ignore[arg-type]
        "median_s": round(statistics.median(float(r["seconds"]) for r in rows), 3),  # type: ignore[arg-type]
    }
    summary["targets_met"] = {
        "silently_missing_0": summary["silently_missing"] == 0,
        "catalog_at_least_95pct": summary["catalog_pct"] >= 95.0,
        "dedicated_shape_at_least_95pct": summary["dedicated_shape_pct"] >= 95.0,
        "unrequested_at_most_15pct": summary["unrequested_pct"] <= 15.0,
        "room_size_100pct": summary["room_size_pct"] == 100.0,
        "no_overlaps": summary["overlaps"] == 0,
        "nothing_out_of_bounds": summary["out_of_bounds"] == 0,
        "reachable_at_least_95pct": summary["reachable_pct"] >= 95.0,
        "25_floor_objects_at_most_0.5s": summary["worst_25_floor_s"] <= 0.5,
    }
    print(json.dumps(summary, sort_keys=True))


if __name__ == "__main__":
    main()
