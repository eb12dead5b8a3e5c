"""Layout benchmark: prompts through understanding and the solver, checked independently.

For every prompt it prints the objects requested and placed, overlaps and
out-of-bounds objects (counted by services.planner.check, not by the solver), the share
of placement rules met, the share of floor objects a person can walk to from the door
and the solve time (median of --repeat runs). The last line is one JSON object with the
totals and a verdict per target:

- no overlaps, nothing out of bounds, no blocked door or window, nothing over an opening;
- every requested object placed whenever the floor furniture takes at most 40 % of the
  floor (rooms the prompt does not size always qualify: they grow);
- at least 90 % of placement rules met, at least 95 % of floor objects reachable;
- 25 floor objects solved in at most 0.5 s, 100 in at most 5 s.

    python bench/layout.py [--repeat 3] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from services.planner.check import check
from services.planner.items import canonical
from services.planner.plan import scene_spec
from services.planner.solver import solve
from services.planner.spec import SceneSpec
from shared import catalog

PROMPTS = [
    # Room types, sparse prompts completed from templates.
    "a bedroom",
    "a cozy living room",
    "a kitchen",
    "a small bathroom",
    "a dining room",
    "a home office",
    "a classroom",
    "a kids room",
    "a studio apartment",
    "a library",
    # Named objects, colours, materials, styles, counts.
    "a scandinavian bedroom with a king bed, two oak nightstands, two table lamps, "
    "a white wardrobe, a dresser with a mirror above it and a wool rug",
    "a living room with a grey velvet sofa, two leather armchairs, a glass coffee table, "
    "a tv stand with a tv, a bookshelf, a floor lamp, a rug and two plants",
    "a kitchen with a fridge, a stove, a sink, four kitchen cabinets, a dishwasher, "
    "a table with 4 chairs and a microwave",
    "a bathroom with a bathtub, a toilet, a sink with a mirror above it, a towel rack "
    "and a bath mat",
    "an office with two desks, two office chairs, two computer monitors, a filing cabinet, "
    "a bookshelf, a plant and a whiteboard",
    "a kids room with a bunk bed, a toy box, a bean bag, a small desk with a chair, "
    "a bookshelf and a play mat",
    "a library with six bookcases, a reading table with four chairs, three armchairs, "
    "two floor lamps and a globe on the table",
    # Explicit relations.
    "a bedroom with a lamp next to the bed, a painting above the bed, a plant in the corner "
    "and a desk against the wall",
    "a living room with a sofa, a tv facing the sofa, a rug under the coffee table, "
    "an armchair to the left of the sofa and a floor lamp to the right of the sofa",
    "a dining room with a dining table in the middle of the room, eight chairs around the "
    "table, a sideboard against the wall and a chandelier above the table",
    "a study with a desk near the window, an office chair at the desk, a bookshelf far "
    "from the desk and books on the shelf",
    "a living room with a piano in the corner, a bench in front of the piano and a "
    "guitar beside the piano",
    # L-shaped rooms.
    "an L-shaped living room with a sectional sofa, a coffee table, two armchairs, "
    "a tv stand, a bookshelf and a dining table with six chairs",
    "an L-shaped studio with a double bed, two nightstands, a sofa, a kitchen island, "
    "a fridge, a stove and a wardrobe",
    "an L-shaped office, 6 by 7 meters, with four desks, four office chairs and two "
    "filing cabinets",
    # Rooms the prompt sizes (they never grow).
    "a 4 by 5 meters bedroom with a queen bed, two nightstands and a wardrobe",
    "a 12x15 ft living room with a sofa, a coffee table, an armchair and a tv stand",
    "a 3 by 3 m office with a desk, an office chair and a bookshelf",
    "a 2.5 by 3 m bathroom with a toilet, a sink and a shower",
    "a 3 by 3 m bedroom with a double bed, a wardrobe, a desk, a piano and a sofa",
    "a 2 by 2 m room with a wardrobe, a piano, a double bed and a sofa",
    # 25 floor objects.
    "a dining room with two dining tables, sixteen chairs, a sideboard, two plants, "
    "two armchairs, a side table and two floor lamps",
    "a classroom with twelve student desks, twelve chairs and a teachers desk",
    # 100 floor objects.
    "a classroom with 48 student desks, 48 chairs, a teachers desk, two bookshelves and a plant",
    "a dining room with 10 dining tables, 80 chairs and 10 plants",
]

FILL_LIMIT = 0.40


def floor_share(spec: SceneSpec, area: float) -> float:
    """Share of the floor the spec's floor furniture takes (rugs excepted)."""
    total = 0.0
    for obj in spec.objects:
        category = canonical(obj.category)
        entry = catalog.lookup(category)
        placement = obj.placement or (entry.placement if entry else "floor")
        if placement != "floor":
            continue
        if obj.size is not None:
            w, h, d = obj.size.width, obj.size.height, obj.size.depth
        elif entry is not None:
            w, h, d = entry.size
        else:
            w, h, d = 0.6, 0.9, 0.6
        if h > 0.05:
            total += w * d * obj.count
    return total / area


def floor_count(spec: SceneSpec) -> int:
    count = 0
    for obj in spec.objects:
        entry = catalog.lookup(canonical(obj.category))
        placement = obj.placement or (entry.placement if entry else "floor")
        if placement == "floor":
            count += obj.count
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    totals = {
        "prompts": 0,
        "requested": 0,
        "placed": 0,
        "overlaps": 0,
        "out_of_bounds": 0,
        "blocked_doors": 0,
        "blocked_windows": 0,
        "covered_openings": 0,
        "floating": 0,
        "rules": 0,
        "rules_met": 0,
        "floor_objects": 0,
        "reachable": 0,
    }
    fill_misses: list[str] = []
    times_25: list[float] = []
    times_100: list[float] = []
    header = (
        f"{'prompt':58} {'placed':>9} {'ovl':>3} {'oob':>3} {'rules':>6} "
        f"{'walk':>6} {'fill':>5} {'time':>7}"
    )
    print(header)
    print("-" * len(header))
    for prompt in PROMPTS:
        spec = scene_spec(prompt)
        samples = []
        layout = None
        for _ in range(max(1, args.repeat)):
            start = time.perf_counter()
            layout = solve(spec, args.seed)
            samples.append(time.perf_counter() - start)
        assert layout is not None
        elapsed = statistics.median(samples)
        report = check(layout)
        requested = sum(o.count for o in spec.objects)
        placed = len(layout.objects)
        rules = [c for o in layout.objects for c in o.constraints]
        met = sum(c.met for c in rules)
        unplaced_rules = sum(len(o.constraints) * o.count for o in spec.objects) - len(rules)
        fill = floor_share(spec, layout.room.area)
        floors = floor_count(spec)
        fixed = spec.room.fixed_size
        if (not fixed or fill <= FILL_LIMIT) and placed < requested:
            fill_misses.append(prompt)
        if floors >= 90:
            times_100.append(elapsed)
        elif floors >= 25:
            times_25.append(elapsed)
        totals["prompts"] += 1
        totals["requested"] += requested
        totals["placed"] += placed
        totals["overlaps"] += len(report.overlaps)
        totals["out_of_bounds"] += len(report.out_of_bounds)
        totals["blocked_doors"] += len(report.blocked_doors)
        totals["blocked_windows"] += len(report.blocked_windows)
        totals["covered_openings"] += len(report.covered_openings)
        totals["floating"] += len(report.floating)
        totals["rules"] += len(rules)
        totals["rules_met"] += met
        totals["floor_objects"] += report.floor_objects
        totals["reachable"] += len(report.reachable)
        rule_pct = 100.0 * met / len(rules) if rules else 100.0
        walk_pct = 100.0 * report.reachable_share
        shown = prompt if len(prompt) <= 58 else prompt[:55] + "..."
        print(
            f"{shown:58} {placed:>4}/{requested:<4} {len(report.overlaps):>3} "
            f"{len(report.out_of_bounds):>3} {rule_pct:>5.1f}% {walk_pct:>5.1f}% "
            f"{100 * fill:>4.0f}% {elapsed:>6.3f}s"
            + (f"  [{floors} floor objects]" if floors >= 25 else "")
            + (f"  ({unplaced_rules} rules of unplaced objects)" if unplaced_rules else "")
        )
    rules_pct = 100.0 * totals["rules_met"] / max(1, totals["rules"])
    walk_pct = 100.0 * totals["reachable"] / max(1, totals["floor_objects"])
    worst_25 = max(times_25, default=0.0)
    worst_100 = max(times_100, default=0.0)
    verdicts = {
        "no_overlaps": totals["overlaps"] == 0,
        "nothing_out_of_bounds": totals["out_of_bounds"] == 0,
        "openings_clear": totals["blocked_doors"]
        + totals["blocked_windows"]
        + totals["covered_openings"]
        == 0,
        "all_placed_when_fill_at_most_40pct": not fill_misses,
        "rules_met_at_least_90pct": rules_pct >= 90.0,
        "reachable_at_least_95pct": walk_pct >= 95.0,
        "25_floor_objects_at_most_0.5s": bool(times_25) and worst_25 <= 0.5,
        "100_floor_objects_at_most_5s": bool(times_100) and worst_100 <= 5.0,
    }
    summary = {
        **totals,
        "rules_met_pct": round(rules_pct, 1),
        "reachable_pct": round(walk_pct, 1),
        "fill_misses": fill_misses,
        "worst_25_floor_s": round(worst_25, 3),
        "worst_100_floor_s": round(worst_100, 3),
        "targets_met": verdicts,
    }
    print(json.dumps(summary, sort_keys=True))


if __name__ == "__main__":
    main()
