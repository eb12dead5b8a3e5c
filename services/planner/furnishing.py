"""Completing a room: what its type usually holds, what the named objects need, and the
placement rules every object follows unless the prompt gives its own.

:func:`furnish` adds to a spec only where the prompt leaves the room underfurnished: a
template object is added when nothing of its kind (or of a kind that does its job) is
named or excluded, and the optional ones only when the prompt names few kinds of
object. A room type the catalog does not know is furnished from the generic room, which
brings nothing a bedroom, kitchen or living room would. Tables and desks get the chairs
they need when the prompt names no seating; small things get something to stand on.
"""

from __future__ import annotations

import math

from services.planner.spec import (
    MAX_COUNT,
    MAX_TOTAL,
    OPENING_TARGETS,
    Constraint,
    ObjectSize,
    ObjectSpec,
    SceneSpec,
)
from shared import catalog

FEW_KINDS = 3  # a prompt naming fewer kinds of object also gets the template's extras
FULL_KINDS = 5  # a prompt naming this many kinds furnishes the room itself
SEAT_WIDTH = 0.6  # metres of table edge one diner takes
MIN_END = 0.75  # a table end at least this wide seats one more at each end
COUNTER_HEIGHT = 0.88  # a surface this high is sat at on bar stools
# Kinds that seat people: a table with one of these in the room has its seating.
LOOSE_MAX = 12  # more small things than this get a support of their usual kind
MAX_SUPPORTS = 6  # supports added for one request of small things at most
SEATING = frozenset(("chair", "stool", "sofa", "bench", "armchair", "bean bag", "ottoman"))

Relation = tuple[str, tuple[str, ...]]


def _relations(text: str) -> tuple[tuple[Relation, ...], ...]:
    """``"kind target|target; kind || kind target"``: rules, each a list of choices."""
    out = []
    for part in text.split(";"):
        if not part.strip():
            continue
        choices = []
        for choice in part.split("||"):
            words = choice.strip().split(" ", 1)
            targets = tuple(t.strip() for t in words[1].split("|")) if len(words) > 1 else ()
            choices.append((words[0], targets))
        out.append(tuple(choices))
    return tuple(out)


def default_relations(category: str) -> tuple[tuple[Relation, ...], ...]:
    """The catalog's usual placement rules of ``category`` (of its head noun when only
    that is known)."""
    entry = catalog.lookup(category)
    return _relations(entry.rules) if entry is not None else ()


def _default_constraints(category: str, present: dict[str, str]) -> list[Constraint]:
    """The usual rules for ``category``, each tied to the first of its targets the room
    holds (``present`` maps categories, kinds and group names to a category)."""
    out = []
    for choices in default_relations(category):
        for kind, targets in choices:
            rule = _tie(kind, targets, category, present)
            if rule is not None:
                out.append(rule)
                break
    return out


def _tie(
    kind: str, targets: tuple[str, ...], category: str, present: dict[str, str]
) -> Constraint | None:
    if not targets:
        return Constraint(kind=kind)
    groups = catalog.target_groups()
    for target in targets:
        if target in OPENING_TARGETS:
            return Constraint(kind=kind, target=target)
        found = present.get(target)
        if found in groups:
            members = groups[found]
            if sum(1 for c in present.values() if c in members) > 1 or category not in members:
                return Constraint(kind=kind, target=found)
            continue
        if found is not None and (found != category or kind in ("beside", "near")):
            return Constraint(kind=kind, target=found)
    return None


def _template_objects(spec: SceneSpec, objects: list[ObjectSpec]) -> list[ObjectSpec]:
    """The template's objects the spec's room still lacks."""
    template = catalog.room_template(spec.room.type)
    named = {catalog.kind(o.category) for o in objects}
    named_kinds = len({o.category for o in objects})
    if named_kinds >= FULL_KINDS:
        return []
    excluded = {catalog.kind(c) for c in spec.exclude}
    added: list[ObjectSpec] = []
    deferred = []
    for item in template.items:
        kinds = {catalog.kind(k) for k in item.unless}
        if kinds & (named | excluded):
            continue
        if not item.core and named_kinds >= FEW_KINDS:
            continue
        if item.per is not None:
            deferred.append(item)
            continue
        added.append(ObjectSpec(category=item.category, count=item.count, requested=False))
    every = objects + added
    for item in deferred:
        seat = seats_at(item.per) if item.per is not None else None
        seated = seat is not None and catalog.kind(seat[0]) == catalog.kind(item.category)
        each = seat[1] if seat is not None and seated else 1
        count = sum(o.count * each for o in every if o.category == item.per)
        if count > 0:
            added.append(
                ObjectSpec(category=item.category, count=min(count, MAX_COUNT), requested=False)
            )
    return added


def seats_at(category: str) -> tuple[str, int] | None:
    """The seat a table or desk of ``category`` is used from and how many it takes."""
    entry = catalog.lookup(category)
    if entry is None:
        return None
    w, h, d = entry.size
    if entry.needs_seat:
        return ("chair" if entry.shape == "school desk" else "office chair"), 1
    if not entry.seats:
        return None
    if h >= COUNTER_HEIGHT:
        seat = "lab stool" if entry.kind == "workbench" else "bar stool"
        return seat, max(1, int(w // SEAT_WIDTH))
    if entry.shape == "round table":
        return "chair", max(2, int(math.pi * w // SEAT_WIDTH))
    seat = "office chair" if entry.name == "conference table" else "chair"
    count = 2 * max(1, int(w // SEAT_WIDTH)) + (2 if d >= MIN_END and w >= 1.6 else 0)
    return seat, count


def _seats(spec: SceneSpec, objects: list[ObjectSpec]) -> list[ObjectSpec]:
    """Chairs for the tables and desks that need them, when the room has no seating and
    the prompt does not rule chairs out."""
    kinds = {catalog.kind(o.category) for o in objects}
    excluded = {catalog.kind(c) for c in spec.exclude}
    if kinds & SEATING or excluded & SEATING:
        return []
    wanted: dict[str, int] = {}
    for obj in objects:
        seat = seats_at(obj.category)
        if seat is not None:
            wanted[seat[0]] = wanted.get(seat[0], 0) + seat[1] * obj.count
    return [
        ObjectSpec(category=c, count=min(n, MAX_COUNT), requested=False) for c, n in wanted.items()
    ]


def _place_settings(objects: list[ObjectSpec]) -> list[ObjectSpec]:
    """Seats for the place settings the prompt names: "12 plates on the dining table"
    in a room whose one table and chairs the template brings gets a table as long as
    its kind allows for twelve and twelve chairs, not six chairs round twelve plates."""
    settings = 0
    for obj in objects:
        entry = catalog.lookup(obj.category)
        if obj.requested and entry is not None and entry.group == "set":
            settings = max(settings, obj.count)
    tables = [o for o in objects if (seat := seats_at(o.category)) and seat[0] == "chair"]
    chairs = [o for o in objects if catalog.kind(o.category) == "chair"]
    if not settings or len(tables) != 1 or tables[0].count != 1:
        return objects
    if any(c.requested for c in chairs) or len(chairs) > 1:
        return objects  # the prompt seats the room itself
    table = tables[0]
    entry = catalog.lookup(table.category)
    assert entry is not None
    seats = _table_seats(entry.size[0], entry.size[2])
    out = list(objects)
    if settings > seats and table.size is None and entry.shape != "round table":
        top = entry.size_max[0] if entry.size_max is not None else entry.size[0]
        width = entry.size[0]
        while _table_seats(width, entry.size[2]) < settings and width + SEAT_WIDTH <= top + 1e-9:
            width = round(width + SEAT_WIDTH, 3)
        if width != entry.size[0]:
            size = ObjectSize(width=width, height=entry.size[1], depth=entry.size[2])
            out[out.index(table)] = table.model_copy(update={"size": size})
            seats = _table_seats(width, entry.size[2])
    if chairs and chairs[0].count < min(settings, seats):
        chair = chairs[0]
        out[out.index(chair)] = chair.model_copy(update={"count": min(settings, seats)})
    return out


def _table_seats(w: float, d: float) -> int:
    """Chairs round a rectangular table ``w`` long and ``d`` deep."""
    return 2 * max(1, int(w // SEAT_WIDTH + 1e-9)) + (2 if d >= MIN_END and w >= 1.6 else 0)


def _supports(spec: SceneSpec, objects: list[ObjectSpec]) -> list[ObjectSpec]:
    """Something to stand on for small things whose usual supports the room lacks."""
    present = {o.category for o in objects} | {catalog.kind(o.category) for o in objects}
    excluded = set(spec.exclude)
    entries = [catalog.lookup(o.category) for o in objects]
    tops = any(e is not None and e.top and e.placement == "floor" for e in entries)
    shelves = any(e is not None and e.boards for e in entries)
    added: list[ObjectSpec] = []
    for obj in objects:
        entry = catalog.lookup(obj.category)
        if entry is None or (obj.placement or entry.placement) != "surface":
            continue
        if not any(c.kind == "on" for c in obj.constraints):
            # Anything with a top will do for a small thing; books want shelves.
            if (shelves if entry.spot == "shelf" else tops) and obj.count <= LOOSE_MAX:
                continue
        ons = [c.target for c in obj.constraints if c.kind == "on" and c.target]
        named_on = [catalog.lookup(o) for o in ons]
        wanted = tuple(e.name for e in named_on if e is not None) or entry.parents
        if not wanted or any(p in present for p in wanted):
            continue
        if any(o.ref is not None and o.ref in ons for o in objects):
            continue
        if entry.wall_mountable and not ons:
            continue  # a tv with no stand goes on the wall
        for parent in wanted:
            if parent not in excluded and catalog.kind(parent) not in excluded:
                count = _supports_for(obj, entry, parent)
                added.append(ObjectSpec(category=parent, count=count, requested=False))
                present.add(parent)
                break
    return added


def _supports_for(obj: ObjectSpec, entry: catalog.CatalogEntry, parent: str) -> int:
    """How many of ``parent`` hold ``obj``'s things side by side on their tops and
    boards: two sculptures get two pedestals, six teddy bears two wall shelves."""
    support = catalog.lookup(parent)
    if support is None:
        return 1
    w, _, d = entry.size
    if obj.size is not None:
        w, d = obj.size.width, obj.size.depth
    pw, _, pd = support.size
    across = max(int((pw - 0.02) // max(w, 0.01)), int((pw - 0.02) // max(d, 0.01)), 0)
    deep = 1 if min(w, d) <= pd - 0.02 else 0
    each = across * deep * (len(support.boards) + 1)
    if each <= 0:
        return 1
    return max(1, min(MAX_SUPPORTS, math.ceil(obj.count / each)))


def furnish(spec: SceneSpec) -> SceneSpec:
    """Complete a spec from its room type's template and the catalog's usual rules.

    Template objects are added unless the spec names something of the same kind (or
    one of the kinds the template lists as doing its job) or excludes it ("no tv"); the
    optional ones only when the spec names few kinds of object. Tables and desks get
    chairs when the room has no seating; surface objects with nothing to stand on get
    their usual support. Every object the spec gives no rules of its own gets its
    category's usual ones, tied to objects the room holds (the coffee table in front of
    the sofa, chairs around the table).
    """
    objects = [o.model_copy(update={"category": _canonical(o.category)}) for o in spec.objects]
    for extra in (_template_objects, _seats, _supports):
        room_left = MAX_TOTAL - sum(o.count for o in objects)
        for obj in extra(spec, objects):
            if obj.count <= room_left:  # what the prompt named comes first
                objects.append(obj)
                room_left -= obj.count
    objects = _place_settings(objects)

    present: dict[str, str] = {}
    groups = catalog.target_groups()
    for obj in objects:
        present.setdefault(obj.category, obj.category)
        present.setdefault(catalog.kind(obj.category), obj.category)
        for name, members in groups.items():
            if obj.category in members:
                present[name] = name
        if obj.ref:
            present.setdefault(obj.ref, obj.ref)
    finished = []
    for obj in objects:
        if obj.constraints:
            finished.append(obj)
            continue
        rules = _default_constraints(obj.category, present)
        if obj.count > 1:
            # Ten tables cannot all stand in the middle, nor ten plants in corners.
            rules = [r for r in rules if r.kind != "middle"]
            if obj.count > 2 and any(r.kind == "corner" for r in rules):
                rules = [r for r in rules if r.kind != "corner"] + [Constraint(kind="against_wall")]
        entry = catalog.lookup(obj.category)
        usual = entry.placement if entry is not None else "floor"
        if obj.placement is not None and obj.placement != usual:
            rules = [r for r in rules if r.kind not in ("on", "against_wall", "corner")]
        finished.append(obj.model_copy(update={"constraints": rules}) if rules else obj)
    return spec.model_copy(update={"objects": finished})


def _canonical(category: str) -> str:
    """The catalog's name of a category written another way ("couch" → "sofa"); a name
    known only by its head noun, or not at all, stays as written."""
    match = catalog.resolve(category)
    if match is None:
        return category
    return match.category
