"""From the scene spec to the solver's items: one per object instance, with its size,
placement, description and its placement rules tied to the objects they refer to."""

from __future__ import annotations

from dataclasses import dataclass, field

from services.planner.spec import OPENING_TARGETS, ROOM_RULES, ObjectSpec, SceneSpec
from shared import catalog
from shared.catalog import CatalogEntry
from shared.layout import Placement, Vec3

FLAT = 0.05  # floor objects this low (rugs) are walked on and may lie under furniture
WALKED_ON = frozenset(("rug",))  # shape families of flat things furniture may stand on
SEAT_ROOM = 0.6  # metres kept free in front of a desk for the person at it
FLAT_ON_TOP = 0.01  # surface objects this thin (runners, placemats) fit their support
# Sizes of things the catalog does not know, by where they go: (width, height, depth).
ESTIMATES: dict[str, Vec3] = {
    "floor": (0.6, 0.9, 0.6),  # a medium piece of furniture
    "surface": (0.25, 0.25, 0.25),  # a small thing on a table or shelf
    "wall": (0.6, 0.5, 0.05),  # a flat thing on a wall
    "ceiling": (0.5, 0.3, 0.5),  # a light or a hanging thing
}
# Rules that share their targets out when there are several ("eight chairs around two
# tables": four each) rather than letting every object pick the closest.
SHARED_OUT = frozenset(
    ("around", "beside", "left_of", "right_of", "in_front_of", "behind", "under", "above", "on")
)
CENTRED_ON_WALL = frozenset(
    ("fireplace", "piano", "sideboard", "dresser", "tv stand", "whiteboard", "console table")
)
CORNER_LOVERS = frozenset(
    ("wardrobe", "bookshelf", "filing cabinet", "shower", "bathtub", "fridge", "coat rack")
)

# Natural colours of materials, used when the spec names a material but no colour.
MATERIAL_COLORS: dict[str, str] = {
    "oak": "#b8864b",
    "walnut": "#5c4033",
    "pine": "#e3c08d",
    "maple": "#e8c891",
    "birch": "#e6d3a3",
    "teak": "#a0703c",
    "mahogany": "#6b2e1f",
    "cherry": "#8b3a2a",
    "ash": "#d9c7a0",
    "beech": "#dcb98a",
    "cedar": "#a8643c",
    "ebony": "#2b211c",
    "rosewood": "#65000b",
    "bamboo": "#d8c38a",
    "rattan": "#c89f65",
    "wicker": "#c89f65",
    "wood": "#a0724a",
    "hardwood": "#8b5a2b",
    "leather": "#7a4a2a",
    "marble": "#eeeeea",
    "granite": "#6e6e6e",
    "stone": "#8a8580",
    "slate": "#5a5f63",
    "travertine": "#e2d5bf",
    "concrete": "#9a9a96",
    "terrazzo": "#d8d3cb",
    "glass": "#dfeff2",
    "steel": "#b8bcc0",
    "stainless steel": "#c4c8cc",
    "metal": "#8c8c8c",
    "iron": "#3c3c3c",
    "wrought iron": "#2e2e2e",
    "brass": "#b5a642",
    "copper": "#b87333",
    "chrome": "#d8d8d8",
    "aluminium": "#c0c4c8",
    "jute": "#c2a878",
    "sisal": "#c9b48a",
    "cork": "#c79f6e",
    "brick": "#a2543a",
    "quartz": "#efece6",
}


@dataclass(eq=False)
class Rule:
    """One constraint of the spec, tied to the items (or openings) it refers to."""

    kind: str
    target: str | None
    distance: float | None
    targets: list[Item] = field(default_factory=list)
    opening: str | None = None  # "door" or "window"

    @property
    def relative(self) -> bool:
        return self.kind not in ROOM_RULES


@dataclass(eq=False)
class Item:
    key: str
    order: int
    spec_index: int
    obj: ObjectSpec
    category: str
    entry: CatalogEntry | None
    size: Vec3
    placement: Placement
    mount: float
    description: str
    material: str | None
    color: str | None
    requested: bool
    access: str
    rules: list[Rule] = field(default_factory=list)
    # Why the size and place are guesses (a category the catalog does not know, or
    # knows only by its head noun); None when the catalog knows it.
    estimate: str | None = None
    # Floor kept free around the item for the objects that go with it (front, back,
    # left, right in its own frame): chairs around a table, a coffee table in front
    # of the sofa.
    reserve: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0, 0.0])
    # Wall space above it is wanted (a painting above the sofa): keep it off windows.
    hosts_above: bool = False

    @property
    def w(self) -> float:
        return self.size[0]

    @property
    def h(self) -> float:
        return self.size[1]

    @property
    def d(self) -> float:
        return self.size[2]

    @property
    def flat(self) -> bool:
        """A rug: walked on, and furniture may stand on it."""
        walked_on = self.entry is None or self.entry.shape in WALKED_ON
        return self.placement == "floor" and self.h <= FLAT and walked_on

    @property
    def flat_on_top(self) -> bool:
        """A cloth or a mat: it lies on its support and is cut to fit it."""
        return self.placement == "surface" and self.h <= FLAT_ON_TOP

    @property
    def footprint(self) -> float:
        return self.size[0] * self.size[2]

    @property
    def family(self) -> str:
        return self.entry.family if self.entry is not None else self.category

    @property
    def seat(self) -> bool:
        """A desk: the person using it sits at its front, looking towards its back."""
        return self.entry is not None and self.entry.needs_seat

    @property
    def open_below(self) -> bool:
        return self.entry is not None and self.entry.open_below

    @property
    def boards(self) -> tuple[float, ...]:
        """Heights above its base of the boards small things stand on inside it."""
        if self.entry is None or not self.entry.boards:
            return ()
        return catalog.board_heights(self.entry, self.h)

    @property
    def shelved(self) -> bool:
        """It belongs on the boards inside a shelving unit (books)."""
        return self.entry is not None and self.entry.spot == "shelf"

    @property
    def group(self) -> str:
        return self.entry.group if self.entry is not None else "single"

    @property
    def has_top(self) -> bool:
        return self.entry is not None and self.entry.has_top

    @property
    def wall_hugger(self) -> bool:
        return self.entry is not None and self.entry.against_wall

    @property
    def priority(self) -> tuple[int, int]:
        """Lower goes first when space runs out: named objects in the order named, then
        the ones a room template added."""
        return (0 if self.requested else 1, self.order)

    @property
    def has_reserve(self) -> bool:
        return any(m > 0 for m in self.reserve)


def canonical(category: str) -> str:
    """The catalog's name for a category written another way ("couch" → "sofa"); a name
    the catalog knows only by its head noun, or not at all, stays as written."""
    match = catalog.resolve(category)
    return match.category if match is not None else category


# The bindings of books the prompt gives no colour: the catalog's own colour first.
BOOK_COLORS = ("red", "navy", "dark green", "brown", "cream", "black", "maroon", "teal")


def estimate(category: str, obj: ObjectSpec) -> str | None:
    """Why an object's size and place are estimates, or None when the catalog knows it."""
    match = catalog.resolve(category)
    if match is not None and not match.estimated:
        return None
    sized = "the size given" if obj.size is not None else None
    if match is not None:
        what = sized or f"the size of a typical {match.entry.name}"
        return (
            f"'{category}' is not in the catalog: drawn and placed as a {match.entry.name}, {what}"
        )
    where = obj.placement or "floor"
    what = sized or f"sized as a typical {where} object"
    return f"'{category}' is not in the catalog: {what}, placed on the {where}"


def display_name(category: str) -> str:
    return {"teachers desk": "teacher's desk", "tv": "TV"}.get(category, category)


def build(spec: SceneSpec, room_type: str) -> list[Item]:
    """Every object instance of the spec, in spec order, with its rules resolved."""
    items: list[Item] = []
    counters: dict[str, int] = {}
    style = ", ".join(spec.room.style)
    for index, obj in enumerate(spec.objects):
        category = canonical(obj.category)
        entry = catalog.lookup(category)
        placement: Placement = obj.placement or (entry.placement if entry else "floor")
        if entry is None and obj.placement is None and any(c.kind == "on" for c in obj.constraints):
            placement = "surface"  # "a zorblat on the desk"
        size = _size(obj, entry, category, room_type, placement)
        if obj.size is None and entry is not None:
            size = _fit_on(size, entry, obj, spec)
        on_rule = any(c.kind == "on" for c in obj.constraints)
        small = size[0] * size[2] <= 0.4 and size[1] <= 1.4
        if on_rule and placement == "floor" and small:
            placement = "surface"
        if placement == "surface" and not on_rule and entry is not None and not entry.parents:
            placement = "floor"
        mount = obj.mount_height
        if mount is None:
            mount = entry.mount_height if entry and entry.mount_height is not None else 1.2
        material, color, description = _look(obj, entry, category, style)
        stem = catalog.slug(category)
        guess = estimate(category, obj)
        varied = (
            entry is not None
            and entry.shape == "book"
            and obj.color is None
            and not obj.description
        )
        for k in range(obj.count):
            counters[stem] = counters.get(stem, 0) + 1
            if varied and k:
                # A row of books in one colour looks like one block: bindings vary.
                tint = BOOK_COLORS[k % len(BOOK_COLORS)]
                material, color, description = _look(
                    obj.model_copy(update={"color": tint}), entry, category, style
                )
            item = Item(
                key=f"{stem}-{counters[stem]}",
                order=len(items),
                spec_index=index,
                obj=obj,
                category=category,
                entry=entry,
                size=size,
                placement=placement,
                mount=mount,
                description=description,
                material=material,
                color=color,
                requested=obj.requested,
                access=(entry.reach() if entry is not None else "any")
                if placement == "floor"
                else "none",
                estimate=guess,
            )
            if item.flat:
                item.access = "none"
            items.append(item)
    _resolve(items)
    _size_rugs(items)
    _reserve(items)
    return items


def _fit_on(size: Vec3, entry: CatalogEntry, obj: ObjectSpec, spec: SceneSpec) -> Vec3:
    """A thing named to stand on a support too small for its typical size is made
    smaller, as far as its kind's range allows: "a tv on the coffee table" is a smaller
    tv, not a tv on the stand across the room."""
    targets = [c.target for c in obj.constraints if c.kind == "on" and c.target]
    if not targets or entry.size_min is None:
        return size
    w, h, d = size
    fits = []
    for target in targets:
        top: tuple[float, float] | None = None
        for other in spec.objects:
            if other.ref == target or canonical(other.category) == canonical(target):
                if other.size is not None:
                    top = (other.size.width, other.size.depth)
                break
        if top is None:
            found = catalog.lookup(target)
            if found is None or not (found.top or found.boards):
                continue
            top = (found.size[0], found.size[2])
        tw, td = top[0] - 0.04, top[1] - 0.04
        if tw <= 0 or td <= 0:
            continue
        # Along the support or turned across it, whichever needs less shrinking.
        fits.append(max(min(tw / w, td / d), min(tw / d, td / w)))
    if not fits or max(fits) >= 1.0:
        return size
    lowest = max(entry.size_min[0] / w, entry.size_min[1] / h, entry.size_min[2] / d)
    scale = max(max(fits), lowest)
    return (round(w * scale, 3), round(h * scale, 3), round(d * scale, 3))


def _size(
    obj: ObjectSpec, entry: CatalogEntry | None, category: str, room_type: str, placement: str
) -> Vec3:
    if obj.size is not None:
        return (obj.size.width, obj.size.height, obj.size.depth)
    if entry is None:
        return ESTIMATES[placement]
    if category == "rug" and room_type == "bathroom":
        return (0.8, 0.01, 0.55)
    return entry.size


def _look(
    obj: ObjectSpec, entry: CatalogEntry | None, category: str, style: str
) -> tuple[str | None, str | None, str]:
    if entry is None:
        material, color, shown = obj.material, obj.color, obj.color
    else:
        material = obj.material or entry.material
        if obj.color is not None:
            color = shown = obj.color
        elif obj.material is not None and obj.material in MATERIAL_COLORS:
            color, shown = MATERIAL_COLORS[obj.material], None
        else:
            color = shown = entry.color
    if obj.description:
        description = obj.description
    else:
        words = [shown or "", material or "", display_name(category)]
        description = " ".join(w for w in words if w)
    if style and not all(word in description for word in style.split(", ")):
        description += f", {style} style"
    return material, color, description


def _matches(item: Item, target: str) -> bool:
    return item.category == target or item.family == target


def _resolve(items: list[Item]) -> None:
    by_spec: dict[int, list[Item]] = {}
    for item in items:
        by_spec.setdefault(item.spec_index, []).append(item)
    for group in by_spec.values():
        obj = group[0].obj
        for constraint in obj.constraints:
            target = constraint.target
            found: list[Item] = []
            opening = None
            if constraint.kind in ROOM_RULES:
                target = None
            elif target in OPENING_TARGETS:
                opening = target
            elif target is not None and target in catalog.target_groups():
                members = catalog.target_groups()[target]
                for item in group:
                    mine = [it for it in items if it.category in members and it is not item]
                    item.rules.append(Rule(constraint.kind, target, constraint.distance, mine))
                continue
            elif target is not None:
                found = [it for it in items if it.obj.ref == target]
                if not found:
                    name = canonical(" ".join(target.lower().replace("_", " ").split()))
                    found = [it for it in items if it.category == name]
                    if not found:
                        known = catalog.lookup(name)
                        family = known.family if known is not None else name
                        found = [it for it in items if _matches(it, family)]
            own = [it for it in found if it.spec_index == group[0].spec_index]
            others = [it for it in found if it.spec_index != group[0].spec_index]
            for j, item in enumerate(group):
                if own and not others:
                    mine = [it for it in own if it is not item]
                elif (
                    constraint.kind in SHARED_OUT and len(others) > 1 and len(group) >= len(others)
                ):
                    mine = [others[j * len(others) // len(group)]]
                else:
                    mine = list(others)
                item.rules.append(Rule(constraint.kind, target, constraint.distance, mine, opening))


def _size_rugs(items: list[Item]) -> None:
    """A rug under a table reaches past the chairs drawn up to it."""
    for item in items:
        if item.category != "rug" or item.obj.size is not None:
            continue
        for rule in item.rules:
            if rule.kind == "under" and rule.targets and rule.targets[0].entry is not None:
                table = rule.targets[0]
                if table.entry is not None and table.entry.seats:
                    w, h, d = item.size
                    item.size = (max(w, table.w + 1.3), h, max(d, table.d + 1.3))
                break


def _reserve(items: list[Item]) -> None:
    """Floor each item keeps free for the floor objects that go with it."""
    around: dict[int, list[Item]] = {}
    beside: dict[int, list[Item]] = {}
    for item in items:
        if item.seat and item.placement == "floor":
            # A desk keeps room for whoever sits at it, chair named or not.
            item.reserve[0] = max(item.reserve[0], SEAT_ROOM)
    for item in items:
        if item.placement == "wall":
            for rule in item.rules:
                if rule.kind == "above":
                    for target in rule.targets:
                        target.hosts_above = True
        if item.placement != "floor" or item.flat:
            continue
        for rule in item.rules:
            if len(rule.targets) != 1:
                continue
            target = rule.targets[0]
            if target.placement != "floor" or target.flat:
                continue
            if rule.kind == "around":
                around.setdefault(id(target), []).append(item)
                if target.seat:
                    target.reserve[0] = max(target.reserve[0], item.d + 0.1)
            elif rule.kind == "in_front_of":
                target.reserve[0] = max(target.reserve[0], item.d + 0.45)
            elif rule.kind == "behind":
                target.reserve[1] = max(target.reserve[1], item.d + 0.1)
            elif rule.kind == "beside":
                beside.setdefault(id(target), []).append(item)
            elif rule.kind == "left_of":
                target.reserve[2] = max(target.reserve[2], item.w + 0.05)
            elif rule.kind == "right_of":
                target.reserve[3] = max(target.reserve[3], item.w + 0.05)
    lookup = {id(it): it for it in items}
    for key, seats in around.items():
        target = lookup[key]
        if target.seat:
            continue
        depth = max(s.d for s in seats) + 0.1
        width = max(s.w for s in seats) + 0.1
        along = max(1, int((target.w + 0.1) // width))
        across = max(1, int((target.d + 0.1) // width))
        order: tuple[int, ...] = (
            (0, 1, 2, 3) if target.entry is not None and target.entry.seats else (2, 3, 0, 1)
        )
        if target.wall_hugger or any(r.kind == "against_wall" for r in target.rules):
            order = tuple(side for side in order if side != 1)  # its back is to the wall
        left = len(seats)
        for side in order:
            if left <= 0:
                break
            target.reserve[side] = max(target.reserve[side], depth)
            left -= along if side in (0, 1) else across
    for key, next_to in beside.items():
        target = lookup[key]
        if len(next_to) >= 2 or max(s.w for s in next_to) <= 0.6:
            width = max(s.w for s in next_to) + 0.05
            target.reserve[2] = max(target.reserve[2], width)
            target.reserve[3] = max(target.reserve[3], width)
