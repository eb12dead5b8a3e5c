"""What the planner knows about furniture and rooms.

Every category has its real-world size in metres as ``(width x, height y, depth z)``
with the object's front facing +Z, where it usually goes (on the floor, on a wall, on
top of another object or on the ceiling), whether its back goes against a wall, how
high a wall object hangs, the words people use for it and what it is usually made of.
Room templates list the objects a room of a kind normally holds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shared.layout import Placement, Vec3


@dataclass(frozen=True)
class CatalogEntry:
    """One furniture or decor category.

    ``mount_height`` is the height of a wall object's bottom edge above the floor.
    ``parents`` lists, best first, the categories a surface object stands on;
    ``has_top`` says small objects may stand on this one; ``seats`` says chairs are
    drawn up around it (tables) and ``needs_seat`` that one chair sits at its front
    (desks). ``group`` joins categories a room template treats as the same thing (a
    named "single bed" satisfies the bedroom's "double bed"). ``plural_count`` is how
    many a bare plural ("plants") asks for.
    """

    category: str
    size: Vec3
    placement: Placement = "floor"
    against_wall: bool = False
    mount_height: float | None = None
    synonyms: tuple[str, ...] = ()
    parents: tuple[str, ...] = ()
    has_top: bool = False
    seats: bool = False
    needs_seat: bool = False
    wall_mountable: bool = False
    group: str | None = None
    material: str = "wood"
    color: str = "brown"
    plural_count: int = 2

    @property
    def footprint(self) -> float:
        return self.size[0] * self.size[2]

    @property
    def family(self) -> str:
        return self.group or self.category


def _entry(
    category: str,
    size: Vec3,
    placement: Placement = "floor",
    *,
    wall: bool = False,
    mount: float | None = None,
    syn: str = "",
    parents: str = "",
    top: bool = False,
    seats: bool = False,
    needs_seat: bool = False,
    mountable: bool = False,
    group: str | None = None,
    material: str = "wood",
    color: str = "brown",
    plural: int = 2,
) -> CatalogEntry:
    return CatalogEntry(
        category=category,
        size=size,
        placement=placement,
        against_wall=wall,
        mount_height=mount,
        synonyms=tuple(s.strip() for s in syn.split(",") if s.strip()),
        parents=tuple(p.strip() for p in parents.split(",") if p.strip()),
        has_top=top,
        seats=seats,
        needs_seat=needs_seat,
        wall_mountable=mountable,
        group=group,
        material=material,
        color=color,
        plural_count=plural,
    )


_SMALL_SUPPORTS = "side table, nightstand, coffee table, desk, dresser, console table, sideboard"

ENTRIES: tuple[CatalogEntry, ...] = (
    # Beds.
    _entry(
        "double bed",
        (1.6, 0.55, 2.1),
        wall=True,
        syn="queen bed, queen size bed, queen sized bed, full bed, full size bed",
        group="bed",
        material="fabric",
        color="white",
    ),
    _entry(
        "bed",
        (1.4, 0.55, 2.05),
        wall=True,
        syn="bed frame",
        group="bed",
        material="fabric",
        color="white",
    ),
    _entry(
        "king bed",
        (1.9, 0.6, 2.15),
        wall=True,
        syn="king size bed, king sized bed, kingsize bed",
        group="bed",
        material="fabric",
        color="white",
    ),
    _entry(
        "single bed",
        (0.95, 0.5, 2.0),
        wall=True,
        syn="twin bed, kids bed, childrens bed, day bed, daybed",
        group="bed",
        material="fabric",
        color="white",
    ),
    _entry("bunk bed", (1.0, 1.7, 2.05), wall=True, syn="bunkbed", group="bed", color="white"),
    _entry("crib", (0.7, 0.95, 1.3), wall=True, syn="cot, baby bed, cradle", color="white"),
    # Seating.
    _entry(
        "sofa",
        (2.1, 0.85, 0.9),
        wall=True,
        syn="couch, settee, loveseat, love seat, chesterfield",
        group="sofa",
        material="fabric",
        color="grey",
    ),
    _entry(
        "sectional sofa",
        (2.8, 0.85, 1.6),
        wall=True,
        syn="sectional, corner sofa, l shaped sofa, sectional couch, corner couch",
        group="sofa",
        material="fabric",
        color="grey",
    ),
    _entry(
        "armchair",
        (0.85, 0.95, 0.85),
        syn="arm chair, easy chair, accent chair, lounge chair, club chair, recliner, "
        "wingback chair",
        material="fabric",
        color="beige",
    ),
    _entry(
        "chair",
        (0.45, 0.9, 0.5),
        syn="dining chair, side chair, kitchen chair, student chair, school chair",
        group="chair",
        plural=4,
    ),
    _entry(
        "office chair",
        (0.65, 1.1, 0.65),
        syn="desk chair, swivel chair, computer chair, gaming chair, task chair, teachers chair",
        group="chair",
        material="plastic",
        color="black",
    ),
    _entry(
        "stool",
        (0.4, 0.7, 0.4),
        syn="bar stool, barstool, counter stool, step stool",
        material="wood",
        plural=3,
    ),
    _entry("bench", (1.2, 0.45, 0.4), syn="bench seat, piano bench, entryway bench"),
    _entry(
        "ottoman",
        (0.6, 0.42, 0.6),
        syn="pouf, pouffe, footstool, foot stool, footrest",
        material="fabric",
        color="beige",
    ),
    _entry(
        "bean bag",
        (0.8, 0.7, 0.8),
        syn="beanbag, bean bag chair, beanbag chair",
        material="fabric",
        color="blue",
    ),
    _entry("rocking chair", (0.65, 1.0, 0.9), syn="rocker, nursing chair"),
    # Tables.
    _entry(
        "dining table",
        (1.8, 0.75, 0.9),
        syn="dinner table, dining room table, kitchen table",
        top=True,
        seats=True,
        group="table",
    ),
    _entry(
        "table",
        (1.2, 0.75, 0.8),
        syn="reading table, study table, work table, round table, worktable",
        top=True,
        seats=True,
        group="table",
    ),
    _entry(
        "kitchen island",
        (1.8, 0.9, 0.9),
        syn="island, breakfast bar, kitchen counter island",
        top=True,
        seats=True,
        material="marble",
        color="white",
    ),
    _entry("coffee table", (1.1, 0.42, 0.6), syn="cocktail table, center table", top=True),
    _entry(
        "side table",
        (0.5, 0.55, 0.5),
        syn="end table, accent table, lamp table, occasional table",
        top=True,
    ),
    _entry(
        "console table",
        (1.2, 0.8, 0.35),
        wall=True,
        syn="hall table, hallway table, entry table, sofa table",
        top=True,
    ),
    _entry(
        "desk",
        (1.4, 0.75, 0.7),
        wall=True,
        syn="writing desk, computer desk, work desk, office desk, study desk, standing desk",
        top=True,
        needs_seat=True,
    ),
    _entry(
        "student desk",
        (0.7, 0.72, 0.5),
        syn="school desk, pupil desk, classroom desk",
        top=True,
        needs_seat=True,
        plural=8,
    ),
    _entry(
        "teachers desk",
        (1.5, 0.75, 0.75),
        syn="teacher desk, teachers table, instructor desk",
        top=True,
        needs_seat=True,
    ),
    _entry(
        "nightstand",
        (0.5, 0.55, 0.4),
        wall=True,
        syn="night stand, bedside table, night table, bedside cabinet, bedside",
        top=True,
    ),
    # Storage.
    _entry(
        "wardrobe",
        (1.2, 2.0, 0.6),
        wall=True,
        syn="closet, armoire, clothes cabinet",
        color="white",
        plural=2,
    ),
    _entry(
        "dresser",
        (1.2, 0.85, 0.5),
        wall=True,
        syn="chest of drawers, bureau, drawer chest, commode, vanity table",
        top=True,
    ),
    _entry(
        "bookshelf",
        (0.9, 1.9, 0.35),
        wall=True,
        syn="bookcase, book shelf, book case, bookshelves, book shelves",
        top=True,
        plural=3,
    ),
    _entry(
        "shelf",
        (0.9, 0.3, 0.25),
        "wall",
        mount=1.45,
        syn="wall shelf, floating shelf, shelving, shelving unit",
        mountable=True,
        top=True,
    ),
    _entry(
        "cabinet",
        (0.8, 0.9, 0.45),
        wall=True,
        syn="cupboard, storage cabinet, display cabinet, bathroom cabinet, vanity",
        top=True,
        color="white",
    ),
    _entry(
        "filing cabinet",
        (0.45, 1.0, 0.6),
        wall=True,
        syn="file cabinet, filing cupboard",
        material="metal",
        color="grey",
    ),
    _entry(
        "sideboard",
        (1.6, 0.8, 0.45),
        wall=True,
        syn="buffet, credenza, buffet cabinet, hutch",
        top=True,
    ),
    _entry(
        "tv stand",
        (1.6, 0.5, 0.45),
        wall=True,
        syn="tv unit, tv cabinet, tv console, tv bench, media console, media unit, "
        "entertainment center, entertainment unit, television stand",
        top=True,
        color="black",
    ),
    _entry("toy box", (0.8, 0.5, 0.45), wall=True, syn="toy chest, toybox", color="yellow"),
    _entry("coat rack", (0.5, 1.8, 0.5), syn="coat stand, hat stand, coat tree", color="black"),
    # Kitchen.
    _entry(
        "kitchen cabinet",
        (0.8, 0.9, 0.6),
        wall=True,
        syn="kitchen counter, base cabinet, kitchen cupboard, counter, countertop, kitchen unit",
        top=True,
        color="white",
        plural=3,
    ),
    _entry(
        "fridge",
        (0.75, 1.8, 0.7),
        wall=True,
        syn="refrigerator, freezer, fridge freezer",
        material="steel",
        color="silver",
    ),
    _entry(
        "stove",
        (0.6, 0.9, 0.6),
        wall=True,
        syn="oven, cooker, cooktop, hob, range cooker",
        material="steel",
        color="silver",
    ),
    _entry(
        "sink",
        (0.6, 0.9, 0.5),
        wall=True,
        syn="washbasin, wash basin, basin, kitchen sink, bathroom sink, sink unit",
        material="ceramic",
        color="white",
    ),
    _entry("dishwasher", (0.6, 0.85, 0.6), wall=True, material="steel", color="silver"),
    _entry(
        "washing machine",
        (0.6, 0.85, 0.6),
        wall=True,
        syn="washer, laundry machine, dryer, tumble dryer",
        material="plastic",
        color="white",
    ),
    _entry(
        "microwave",
        (0.5, 0.3, 0.38),
        "surface",
        syn="microwave oven",
        parents="kitchen cabinet, kitchen island, sideboard, cabinet, table",
        material="steel",
        color="silver",
    ),
    # Bathroom.
    _entry(
        "toilet",
        (0.4, 0.8, 0.7),
        wall=True,
        syn="wc, loo, lavatory, water closet",
        material="ceramic",
        color="white",
    ),
    _entry(
        "bathtub",
        (1.7, 0.6, 0.75),
        wall=True,
        syn="bath, tub, bath tub, bathing tub",
        material="ceramic",
        color="white",
    ),
    _entry(
        "shower",
        (0.9, 2.1, 0.9),
        wall=True,
        syn="shower cabin, shower stall, shower cubicle, walk in shower",
        material="glass",
        color="white",
    ),
    _entry(
        "towel rack",
        (0.6, 0.5, 0.1),
        "wall",
        mount=1.0,
        syn="towel rail, towel holder, towel bar",
        material="chrome",
        color="silver",
    ),
    # Electronics and instruments.
    _entry(
        "tv",
        (1.25, 0.75, 0.08),
        "surface",
        mount=1.0,
        syn="television, tv set, flat screen, flatscreen, flat screen tv, smart tv, telly",
        parents="tv stand, sideboard, dresser, console table, cabinet",
        mountable=True,
        material="plastic",
        color="black",
    ),
    _entry(
        "computer monitor",
        (0.55, 0.45, 0.2),
        "surface",
        syn="monitor, computer, pc, desktop computer, computer screen",
        parents="desk, teachers desk, table",
        material="plastic",
        color="black",
    ),
    _entry(
        "laptop",
        (0.35, 0.03, 0.25),
        "surface",
        syn="notebook computer",
        parents="desk, teachers desk, table, coffee table, student desk",
        material="aluminium",
        color="silver",
    ),
    _entry("piano", (1.5, 1.3, 0.6), wall=True, syn="upright piano", color="black"),
    _entry("grand piano", (1.5, 1.0, 2.0), syn="baby grand, baby grand piano", color="black"),
    _entry("fireplace", (1.5, 1.1, 0.5), wall=True, syn="hearth", material="stone", color="grey"),
    # Lighting.
    _entry(
        "floor lamp",
        (0.4, 1.6, 0.4),
        syn="standing lamp, floor light, standard lamp, torchiere, arc lamp",
        material="metal",
        color="black",
    ),
    _entry(
        "table lamp",
        (0.3, 0.5, 0.3),
        "surface",
        syn="desk lamp, bedside lamp, reading lamp, night light, nightlight",
        parents="nightstand, side table, desk, dresser, console table, sideboard, coffee table",
        material="ceramic",
        color="white",
    ),
    _entry(
        "ceiling light",
        (0.5, 0.2, 0.5),
        "ceiling",
        syn="ceiling lamp, pendant light, pendant lamp, light fixture, ceiling fixture",
        material="glass",
        color="white",
    ),
    _entry("chandelier", (0.8, 0.7, 0.8), "ceiling", material="crystal", color="gold"),
    _entry("ceiling fan", (1.2, 0.4, 1.2), "ceiling", material="metal", color="white"),
    # Decor.
    _entry(
        "plant",
        (0.45, 1.2, 0.45),
        syn="houseplant, house plant, potted plant, pot plant, indoor plant, fern, ficus, "
        "palm, monstera, small tree, cactus",
        material="ceramic",
        color="green",
    ),
    _entry(
        "vase",
        (0.2, 0.35, 0.2),
        "surface",
        syn="flower vase, vase of flowers, flowers, bouquet",
        parents="dining table, coffee table, side table, sideboard, console table, table",
        material="ceramic",
        color="white",
    ),
    _entry(
        "rug",
        (2.0, 0.01, 1.4),
        syn="carpet, area rug, bath mat, bathmat, mat, play mat, runner",
        material="wool",
        color="beige",
        plural=2,
    ),
    _entry(
        "painting",
        (0.9, 0.65, 0.04),
        "wall",
        mount=1.3,
        syn="picture, artwork, art print, poster, canvas, framed print, framed picture, "
        "wall art, photo, photograph",
        material="canvas",
        color="blue",
    ),
    _entry(
        "mirror",
        (0.6, 0.8, 0.04),
        "wall",
        mount=1.1,
        syn="wall mirror, vanity mirror, bathroom mirror",
        material="glass",
        color="silver",
    ),
    _entry("clock", (0.35, 0.35, 0.05), "wall", mount=1.8, syn="wall clock", color="white"),
    _entry(
        "curtains",
        (1.6, 1.6, 0.1),
        "wall",
        mount=0.85,
        syn="curtain, drapes, drape, drapery, blinds, window blinds",
        material="linen",
        color="white",
        plural=1,
    ),
    _entry(
        "whiteboard",
        (2.4, 1.2, 0.04),
        "wall",
        mount=0.9,
        syn="white board, blackboard, chalkboard, black board, chalk board, smartboard",
        material="plastic",
        color="white",
    ),
    _entry(
        "trash can",
        (0.3, 0.45, 0.3),
        syn="trash bin, waste bin, wastebasket, waste basket, garbage can, rubbish bin, bin",
        material="metal",
        color="grey",
    ),
    _entry("globe", (0.35, 0.45, 0.35), "surface", parents=_SMALL_SUPPORTS, color="blue"),
    _entry(
        "books",
        (0.3, 0.22, 0.22),
        "surface",
        syn="book, stack of books, pile of books",
        parents="coffee table, side table, desk, nightstand, table",
        material="paper",
        color="red",
        plural=1,
    ),
    _entry(
        "candle",
        (0.1, 0.2, 0.1),
        "surface",
        syn="candlestick, candle holder",
        parents="dining table, coffee table, side table, sideboard, nightstand",
        material="wax",
        color="ivory",
    ),
    _entry("guitar", (0.4, 1.0, 0.35), syn="acoustic guitar, electric guitar", color="brown"),
    _entry("dollhouse", (0.7, 0.8, 0.35), wall=True, syn="doll house", color="pink"),
    _entry(
        "aquarium",
        (1.0, 0.5, 0.4),
        "surface",
        syn="fish tank",
        parents="cabinet, sideboard, dresser, console table",
        material="glass",
        color="blue",
    ),
)

CATALOG: dict[str, CatalogEntry] = {entry.category: entry for entry in ENTRIES}


# --------------------------------------------------------------------------- relations

# The placement rules an object of a category follows unless the spec gives its own:
# "kind target|target|...", separated by ";". A rule with targets applies to the first
# target present in the room (a category, or a family such as "bed" or "sofa"); a rule
# without one ("against_wall", "corner", "middle") always applies. "a || b": rule b
# only when rule a finds none of its targets.
_RELATIONS: dict[str, str] = {
    "double bed": "against_wall",
    "bed": "against_wall",
    "king bed": "against_wall",
    "single bed": "against_wall",
    "bunk bed": "against_wall",
    "crib": "against_wall",
    "sofa": "against_wall",
    "sectional sofa": "against_wall",
    "armchair": "around coffee table|fireplace|sofa",
    "chair": "around dining table|table|kitchen island|student desk|desk|teachers desk",
    "office chair": "around desk|teachers desk|table",
    "stool": "around kitchen island|table|dining table",
    "ottoman": "in_front_of armchair|sofa",
    "rocking chair": "near fireplace|crib|bookshelf",
    "dining table": "middle",
    "table": "middle",
    "kitchen island": "middle",
    "coffee table": "in_front_of sofa|armchair",
    "side table": "beside sofa|armchair|bed",
    "console table": "against_wall",
    "desk": "against_wall",
    "student desk": "facing whiteboard",
    "teachers desk": "in_front_of whiteboard",
    "nightstand": "beside bed; against_wall",
    "wardrobe": "against_wall",
    "dresser": "against_wall",
    "bookshelf": "against_wall",
    "cabinet": "against_wall",
    "filing cabinet": "against_wall; near desk|teachers desk",
    "sideboard": "against_wall",
    "tv stand": "against_wall; facing sofa|armchair|bed",
    "toy box": "against_wall",
    "coat rack": "near door",
    "kitchen cabinet": "against_wall; beside kitchen unit",
    "fridge": "against_wall; beside kitchen unit",
    "stove": "against_wall; beside kitchen unit",
    "sink": "against_wall; beside kitchen unit",
    "dishwasher": "against_wall; beside kitchen unit",
    "washing machine": "against_wall",
    "microwave": "on kitchen cabinet|kitchen island|sideboard|cabinet",
    "toilet": "against_wall",
    "bathtub": "against_wall",
    "shower": "corner",
    "towel rack": "near bathtub|shower|sink",
    "tv": "facing sofa|armchair|bed",
    "computer monitor": "on desk|teachers desk|table",
    "laptop": "on desk|teachers desk|table|coffee table",
    "piano": "against_wall",
    "fireplace": "against_wall",
    "floor lamp": "beside sofa|armchair|bed|desk",
    "table lamp": "on nightstand|side table|desk|dresser|console table",
    "ceiling light": "above dining table|table|kitchen island|coffee table|bed",
    "chandelier": "above dining table|table|kitchen island|coffee table",
    "ceiling fan": "above bed|coffee table|dining table|table",
    "plant": "corner",
    "vase": "on dining table|coffee table|table|sideboard|console table",
    "rug": "under coffee table|dining table|table|bed || in_front_of bathtub|shower|sink",
    "painting": "above sofa|bed|sideboard|dresser|fireplace|console table",
    "mirror": "above sink|dresser|console table",
    "shelf": "above desk",
    "trash can": "near desk|sink|kitchen cabinet",
    "globe": "on desk|side table|bookshelf",
    "books": "on bookshelf|coffee table|side table|nightstand|desk",
    "candle": "on dining table|coffee table|side table|sideboard",
    "guitar": "against_wall",
    "dollhouse": "against_wall",
    "aquarium": "on cabinet|sideboard|dresser|console table",
}

# Names a rule may target that stand for any of several categories: "a sink beside a
# kitchen unit" is met next to a cabinet, the cooker or the dishwasher.
TARGET_GROUPS: dict[str, frozenset[str]] = {
    "kitchen unit": frozenset(
        ("kitchen cabinet", "sink", "stove", "dishwasher", "fridge", "washing machine")
    ),
}


Relation = tuple[str, tuple[str, ...]]


def _relations(spec: str) -> tuple[tuple[Relation, ...], ...]:
    out = []
    for part in spec.split(";"):
        choices = []
        for choice in part.split("||"):
            words = choice.strip().split(" ", 1)
            targets = tuple(t.strip() for t in words[1].split("|")) if len(words) > 1 else ()
            choices.append((words[0], targets))
        out.append(tuple(choices))
    return tuple(out)


DEFAULT_RELATIONS: dict[str, tuple[tuple[Relation, ...], ...]] = {
    category: _relations(text) for category, text in _RELATIONS.items()
}


# How a person reaches an object: "front" (a wardrobe, a sofa, a cooker: the walkway
# must reach the side it faces), "any" (a chair, a bed, a table: any side will do) or
# "none" (a rug: it is walked on).
def access(category: str) -> str:
    """How a person reaches a floor object of ``category``: "front", "any" or "none"."""
    item = CATALOG.get(category)
    if category == "rug":
        return "none"
    if item is None:
        return "any"
    if category in ACCESS_ANY_SIDE:
        return "any"
    return "front" if item.against_wall else "any"


# Tables and desks stand on legs: a low object may go under them.
OPEN_BELOW = frozenset(
    (
        "dining table",
        "table",
        "coffee table",
        "desk",
        "student desk",
        "teachers desk",
        "console table",
        "kitchen island",
        "side table",
    )
)

# The categories a person sits on (or otherwise uses from any side).
ACCESS_ANY_SIDE = frozenset(
    (
        "double bed",
        "bed",
        "king bed",
        "single bed",
        "bunk bed",
        "crib",
        "armchair",
        "chair",
        "office chair",
        "stool",
        "bench",
        "ottoman",
        "bean bag",
        "rocking chair",
        "dining table",
        "table",
        "kitchen island",
        "coffee table",
        "side table",
        "student desk",
        "teachers desk",
        "grand piano",
        "floor lamp",
        "plant",
        "trash can",
        "coat rack",
        "guitar",
        "nightstand",
    )
)


def entry(category: str) -> CatalogEntry | None:
    """The catalog entry of a category, or ``None`` when the category is not known."""
    return CATALOG.get(category)


def slug(category: str) -> str:
    """The id stem of a category: ``"coffee table"`` → ``"coffee-table"``."""
    text = re.sub(r"[^a-z0-9]+", "-", category.lower()).strip("-")
    return text[:55] or "object"


def pluralize(word: str) -> str:
    """The regular English plural of a noun (enough for furniture words)."""
    irregular = {"shelf": "shelves", "bookshelf": "bookshelves", "mouse": "mice"}
    if word in irregular:
        return irregular[word]
    if re.search(r"(s|x|z|ch|sh)$", word):
        return word + "es"
    if re.search(r"[^aeiou]y$", word):
        return word[:-1] + "ies"
    return word + "s"


def singularize(word: str) -> str:
    """A best guess at the singular of a regular English plural."""
    if word.endswith("ves") and len(word) > 4:
        return word[:-3] + "f"
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if re.search(r"(ss|x|z|ch|sh)es$", word):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        return word[:-1]
    return word


def _object_phrases() -> dict[str, tuple[str, bool]]:
    """Every word or phrase naming a category → (category, written in the plural)."""
    table: dict[str, tuple[str, bool]] = {}
    for item in ENTRIES:
        for name in (item.category, *item.synonyms):
            table.setdefault(name, (item.category, False))
            words = name.split()
            if not words[-1].endswith("s"):
                plural = " ".join([*words[:-1], pluralize(words[-1])])
                table.setdefault(plural, (item.category, True))
    return table


OBJECT_PHRASES: dict[str, tuple[str, bool]] = _object_phrases()

# Words whose category depends on the room: {phrase: {room type: category}}; the
# "*" key is the choice for every other room.
CONTEXT_PHRASES: dict[str, dict[str, str]] = {
    "lamp": {
        "living room": "floor lamp",
        "library": "floor lamp",
        "dining room": "floor lamp",
        "classroom": "floor lamp",
        "*": "table lamp",
    },
    "desk": {"classroom": "student desk", "*": "desk"},
    "table": {"dining room": "dining table", "kitchen": "table", "*": "table"},
    "cabinet": {"kitchen": "kitchen cabinet", "*": "cabinet"},
    "cupboard": {"kitchen": "kitchen cabinet", "*": "cabinet"},
    "shelf": {"library": "bookshelf", "*": "shelf"},
    "mat": {"*": "rug"},
}
for _phrase in list(CONTEXT_PHRASES):
    CONTEXT_PHRASES[pluralize(_phrase)] = CONTEXT_PHRASES[_phrase]
del _phrase


@dataclass(frozen=True)
class TemplateItem:
    """A typical object of a room: ``core`` ones furnish even a prompt that names many
    objects; ``per`` makes the count follow another category (a chair per desk)."""

    category: str
    count: int = 1
    core: bool = False
    per: str | None = None


@dataclass(frozen=True)
class RoomTemplate:
    room_type: str
    size: tuple[float, float]
    height: float
    items: tuple[TemplateItem, ...]
    floor_material: str = "oak"
    wall_material: str = "plaster"


def _items(spec: str) -> tuple[TemplateItem, ...]:
    """``"*bed, nightstand x2, chair per student desk"``: ``*`` marks a core item."""
    items = []
    for part in spec.split(","):
        text = part.strip()
        core = text.startswith("*")
        text = text.lstrip("*").strip()
        per = None
        count = 1
        if " per " in text:
            text, per = (s.strip() for s in text.split(" per ", 1))
        match = re.fullmatch(r"(.+?) x(\d+)", text)
        if match:
            text, count = match.group(1), int(match.group(2))
        items.append(TemplateItem(text, count, core, per))
    return tuple(items)


ROOM_TEMPLATES: dict[str, RoomTemplate] = {
    template.room_type: template
    for template in (
        RoomTemplate(
            "bedroom",
            (4.0, 4.5),
            2.7,
            _items(
                "*double bed, *nightstand x2, wardrobe, dresser, table lamp x2, rug, painting,"
                " plant, curtains"
            ),
        ),
        RoomTemplate(
            "living room",
            (5.0, 6.0),
            2.8,
            _items(
                "*sofa, *coffee table, armchair x2, tv stand, tv, rug, floor lamp, side table,"
                " bookshelf, plant, painting, curtains"
            ),
        ),
        RoomTemplate(
            "kitchen",
            (4.0, 4.2),
            2.7,
            _items(
                "*kitchen cabinet x3, *sink, *stove, *fridge, dishwasher, microwave, table,"
                " chair x2, clock, ceiling light"
            ),
            floor_material="ceramic tile",
        ),
        RoomTemplate(
            "bathroom",
            (2.6, 3.0),
            2.6,
            _items("*toilet, *sink, *bathtub, mirror, towel rack, rug, cabinet"),
            floor_material="ceramic tile",
            wall_material="ceramic tile",
        ),
        RoomTemplate(
            "dining room",
            (4.2, 5.0),
            2.8,
            _items(
                "*dining table, *chair x6, sideboard, rug, painting, plant, chandelier, curtains"
            ),
        ),
        RoomTemplate(
            "office",
            (3.6, 4.0),
            2.7,
            _items(
                "*desk, *office chair, bookshelf, filing cabinet, computer monitor, table lamp,"
                " plant, painting, clock"
            ),
        ),
        RoomTemplate(
            "classroom",
            (8.0, 9.0),
            3.0,
            _items(
                "*whiteboard, *teachers desk, *office chair, *student desk x8,"
                " *chair per student desk, bookshelf, clock, plant"
            ),
            floor_material="linoleum",
        ),
        RoomTemplate(
            "kids room",
            (3.6, 4.0),
            2.6,
            _items(
                "*single bed, *toy box, desk, chair, bookshelf, rug, nightstand, table lamp,"
                " wardrobe, bean bag"
            ),
        ),
        RoomTemplate(
            "studio",
            (6.0, 7.0),
            2.7,
            _items(
                "*double bed, *sofa, *kitchen cabinet x2, *fridge, *stove, *sink, *table,"
                " *chair x2, wardrobe, nightstand, coffee table, rug, tv stand, tv, plant"
            ),
        ),
        RoomTemplate(
            "library",
            (6.0, 7.0),
            3.0,
            _items(
                "*bookshelf x6, *armchair x2, *table, *chair x4, floor lamp x2, rug,"
                " side table, plant, clock"
            ),
        ),
    )
}

DEFAULT_ROOM_TYPE = "living room"

ROOM_PHRASES: dict[str, str] = {
    phrase: room_type
    for room_type, phrases in {
        "bedroom": "bedroom, bed room, master bedroom, guest bedroom, guest room, sleeping room",
        "living room": "living room, lounge, sitting room, family room, den, parlor, parlour, "
        "living area, tv room, lounge room, drawing room",
        "kitchen": "kitchen, kitchenette, cookhouse",
        "bathroom": "bathroom, bath room, washroom, restroom, powder room, ensuite, en suite, "
        "shower room, wet room",
        "dining room": "dining room, dining area, dining hall, breakfast room",
        "office": "office, home office, study, workspace, work room, workroom, study room",
        "classroom": "classroom, class room, lecture room, schoolroom, school room, lecture hall",
        "kids room": "kids room, kid room, kids bedroom, childrens room, childs room, "
        "children room, nursery, playroom, play room, boys room, girls room, baby room",
        "studio": "studio, studio apartment, studio flat, loft, bedsit",
        "library": "library, reading room, home library",
    }.items()
    for phrase in (p.strip() for p in phrases.split(","))
}
