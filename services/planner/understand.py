"""Understanding a prompt: the room it asks for, the objects it names and how they go.

Plain English parsing with regular expressions and word lists. :func:`understand`
turns a prompt into a :class:`~services.planner.spec.SceneSpec` that holds only what the
prompt says: the room type, its size or shape if given, each named object with its
count, colour, material, size and the placement rules the prompt states ("a lamp next
to the bed", "chairs around the table", "a plant in the corner"). :func:`furnish` then
completes the room from its type's template and gives every object without rules of
its own the usual ones (nightstands beside the bed, the coffee table in front of the
sofa). The solver works from the spec alone and never looks at the prompt.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from services.planner import catalog
from services.planner.items import canonical
from services.planner.spec import (
    OPENING_TARGETS,
    Constraint,
    FloorSize,
    ObjectSize,
    ObjectSpec,
    RoomSpec,
    SceneSpec,
)
from shared.layout import Placement, Vec3

# --------------------------------------------------------------------------- word lists

COLORS: frozenset[str] = frozenset(
    (
        "white black grey gray red blue green yellow orange purple pink brown beige cream "
        "ivory navy teal turquoise gold golden silver charcoal olive mustard burgundy "
        "maroon lavender lilac mint sage coral tan taupe emerald cyan magenta violet ochre "
        "terracotta indigo aqua crimson scarlet khaki peach salmon amber rust plum"
    ).split()
)
COLOR_PHRASES: dict[str, str] = {
    "off white": "off-white",
    "navy blue": "navy blue",
    "sky blue": "sky blue",
    "baby blue": "baby blue",
    "royal blue": "royal blue",
    "forest green": "forest green",
    "olive green": "olive green",
    "sage green": "sage green",
    "mint green": "mint green",
    "bottle green": "bottle green",
    "hot pink": "hot pink",
    "blush pink": "blush pink",
}
COLOR_PREFIXES: frozenset[str] = frozenset("dark light pale deep bright pastel soft muted".split())
COLOR_ALIASES = {"gray": "grey", "golden": "gold"}

MATERIALS: dict[str, str] = {
    **{
        word: word
        for word in (
            "wood oak walnut pine maple birch teak mahogany cherry ash beech bamboo rattan "
            "wicker leather velvet linen cotton wool fabric suede marble granite stone "
            "concrete glass metal steel iron brass copper chrome aluminium ceramic porcelain "
            "plastic acrylic terrazzo brick plaster cork jute sisal silk tweed boucle "
            "chenille slate travertine cedar ebony rosewood quartz"
        ).split()
    },
    "wooden": "wood",
    "timber": "wood",
    "metallic": "metal",
    "woolen": "wool",
    "woollen": "wool",
    "aluminum": "aluminium",
    "stainless": "stainless steel",
    "stainless steel": "stainless steel",
    "wrought iron": "wrought iron",
    "faux leather": "faux leather",
    "upholstered": "fabric",
    "tiled": "tile",
    "tile": "tile",
    "tiles": "tile",
    "hardwood": "hardwood",
    "parquet": "parquet",
    "laminate": "laminate",
    "vinyl": "vinyl",
    "carpeted": "carpet",
}

STYLES: dict[str, str] = {
    **{
        word: word
        for word in (
            "modern contemporary minimalist scandinavian nordic industrial rustic farmhouse "
            "bohemian vintage retro traditional classic victorian japanese zen coastal "
            "mediterranean luxurious elegant cozy eclectic french tropical futuristic "
            "gothic colonial art deco baroque cottage"
        ).split()
    },
    "minimal": "minimalist",
    "boho": "bohemian",
    "cosy": "cozy",
    "luxury": "luxurious",
    "mid century": "mid-century modern",
    "mid century modern": "mid-century modern",
    "midcentury": "mid-century modern",
    "art deco": "art deco",
    "shabby chic": "shabby chic",
    "japandi": "japandi",
    "colorful": "colourful",
    "colourful": "colourful",
    "country": "country",
    "hygge": "hygge",
}

# Size words: a factor on the room's or an object's floor dimensions.
SIZES: dict[str, float] = {
    "tiny": 0.7,
    "small": 0.8,
    "little": 0.8,
    "compact": 0.8,
    "cramped": 0.75,
    "narrow": 0.85,
    "large": 1.25,
    "big": 1.25,
    "spacious": 1.3,
    "roomy": 1.25,
    "generous": 1.2,
    "wide": 1.15,
    "huge": 1.5,
    "giant": 1.5,
    "enormous": 1.5,
    "vast": 1.5,
    "grand": 1.3,
    "oversized": 1.3,
}

NUMBERS: dict[str, int] = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
    "single": 1,
    "pair of": 2,
    "a pair of": 2,
    "couple of": 2,
    "a couple of": 2,
    "a couple": 2,
    "a few": 3,
    "few": 3,
    "several": 3,
    "some": 2,
    "many": 4,
    "lots of": 4,
    "a lot of": 4,
    "plenty of": 4,
    "a number of": 3,
    "a dozen": 12,
    "dozen": 12,
    "half a dozen": 6,
    "a set of": 0,
    "set of": 0,
}
ARTICLES: frozenset[str] = frozenset("a an another my our your his her their its".split())
NEGATIONS: frozenset[str] = frozenset("no without not nor never zero".split())
MOUNT_WORDS: frozenset[str] = frozenset(
    ("mounted", "wall mounted", "wall hung", "hanging", "hung", "wallmounted")
)
SURFACES: dict[str, str] = {
    "wall": "wall",
    "walls": "wall",
    "floor": "floor",
    "floors": "floor",
    "flooring": "floor",
    "floorboards": "floor",
    "ceiling": "ceiling",
    "ceilings": "ceiling",
}
GENERIC_ROOM_WORDS: frozenset[str] = frozenset(
    "room space apartment flat house home interior area place suite".split()
)

# Tokens that end a noun phrase: what came before them belongs to no later object.
BREAKERS: frozenset[str] = frozenset(
    (
        ", . ; : ! ? ( ) with in on at near by next beside behind under underneath above "
        "over for from to of into onto against along across around between facing that "
        "which where who is are was were has have had be been being it there this these "
        "those plus also then while but so as like and or beneath below close opposite "
        "alongside atop upon toward towards away far surrounding flanking left right "
        "aligned centered centred"
    ).split()
)
# Words after which "a <noun>" is a list item the prompt asks for.
CUES: frozenset[str] = frozenset(
    (
        ", ; : . ! with and plus has have having contains containing contain include "
        "includes including featuring features feature add also want need put place "
        "needs wants holds holding hold furnished"
    ).split()
)
# Nouns that a quantity or article may precede without naming an object.
STOP_NOUNS: frozenset[str] = frozenset(
    (
        "room rooms space place area corner corners wall walls floor floors ceiling "
        "ceilings window windows door doors doorway entrance light lights lighting "
        "sunlight daylight view views feel feeling vibe vibes touch touches theme mood "
        "atmosphere style look sense bit lot lots couple pair set number variety mix "
        "combination dream heaven paradise retreat oasis sanctuary haven spot nook decor "
        "furniture furnishing furnishings accent accents design layout home house "
        "apartment flat palette color colour colors colours tone tones shade shades "
        "garage attic basement cellar hallway hall corridor foyer porch balcony terrace "
        "gym laundry workshop shop cafe restaurant bar lobby reception store kitchen "
        "person people family couple kid kids child children baby teenager teen student "
        "students teacher man woman guy girl boy friend friends guest guests someone "
        "lover reader writer artist musician gamer worker way thing things stuff kind "
        "sort type lots plenty amount side middle center centre front back end top "
        "bottom left right half quarter time day night morning evening weekend week "
        "year budget price size shape height width length depth meter metre meters "
        "metres feet foot inch inches mix lot emphasis focus purpose reason idea "
        "minimum maximum total"
    ).split()
)
# Common words that are never an object's adjective or noun.
STOP_WORDS: frozenset[str] = frozenset(
    (
        "a an the and or but if then so very really quite rather fairly pretty super "
        "extremely slightly too also just only even still all any each every both either "
        "neither some many much more most less least few other such own same that this "
        "these those there here where when what which who whom whose why how is are was "
        "were be been being am do does did doing have has had having it its it's they "
        "them their we us our you your he him his she her i me my mine yours ours not no "
        "nor with without within in on at by for from to of into onto upon about above "
        "below over under between among through during before after around near next "
        "beside behind against along across toward towards up down out off again once "
        "can could would should will shall may might must let make made create design "
        "build generate render show give get want need like love feel feels looks look"
    ).split()
)
# Adjectives that may describe an unknown object but never name one.
VAGUE_ADJECTIVES: frozenset[str] = frozenset(
    (
        "perfect nice beautiful lovely pleasant great good bright airy open warm cool cold "
        "hot clean tidy messy simple plain fancy new old antique comfortable comfy inviting "
        "welcoming relaxing functional practical stylish chic sleek cute sunny dark light "
        "real fake pretty ugly tall short long round square wide"
    ).split()
)
ADJECTIVE_SUFFIXES = ("ly", "ful", "ous", "ive", "ish", "able", "ible", "less", "ic")

FEW_KINDS = 3  # a prompt naming fewer kinds of object gets the template's extras
MAX_COUNT = 120
FEET = 0.3048


def _variants(preps: str, dets: str, nouns: str, tails: str = "") -> list[tuple[str, ...]]:
    """Every "<prep> <det> <noun> <tail>" combination as token tuples."""
    out = []
    for prep in preps.split(","):
        for det in dets.split(","):
            for noun in nouns.split(","):
                for tail in ["", *tails.split(",")] if tails else [""]:
                    words = " ".join(w for w in (prep, det, noun, tail) if w.strip())
                    out.append(tuple(words.split()))
    return out


# Placement phrases that need no target: "in the corner", "against the wall".
ROOM_RULE_PHRASES: dict[tuple[str, ...], str] = {
    **{
        k: "corner"
        for k in _variants(
            "in,into,at,tucked in,tucked into",
            "the,a,one,each,any,the far,a cozy,a cosy,the empty",
            "corner,corners",
            "of the room,of the space",
        )
    },
    **{
        k: "against_wall"
        for k in _variants(
            "against,along,up against,flush against,pushed against,backed against",
            "the,a,one,each",
            "wall,walls",
        )
    },
    **{
        k: "middle"
        for k in _variants(
            "in,at,right in",
            "the,the very",
            "middle,center,centre",
            "of the room,of the space,of the floor",
        )
    },
    ("centered",): "middle",
    ("centred",): "middle",
}

# Placement phrases followed by their target: "next to the bed", "around the table".
RELATION_PHRASES: dict[tuple[str, ...], str] = {
    tuple(phrase.split()): kind
    for kind, phrases in {
        "beside": "next to, right next to, beside, besides, by, alongside, flanking, "
        "side by side with, on either side of, on each side of, on both sides of, "
        "either side of, each side of, to the side of, by the side of",
        "near": "near, near to, close to, nearby, not far from, close by, right by",
        "far": "far from, away from, far away from, well away from, across the room from",
        "around": "around, round, surrounding, encircling, at, gathered around, "
        "arranged around, placed around, set around",
        "under": "under, underneath, beneath, below",
        "facing": "facing, facing towards, facing toward, facing to, opposite, opposite to, "
        "opposite of, across from, pointed at, pointing at, turned towards, "
        "turned toward, looking at, looking towards, oriented towards, aimed at",
        "above": "above, over, hanging above, hanging over, mounted above, mounted over, "
        "hung above, hung over, just above",
        "on": "on, onto, atop, upon, on top of, sitting on, standing on, resting on, "
        "placed on, set on, hanging on, mounted on, hung on",
        "in_front_of": "in front of, right in front of, at the foot of, at the end of, before",
        "behind": "behind, in back of, right behind",
        "left_of": "to the left of, left of, on the left of, on the left side of, "
        "to the left side of, at the left of",
        "right_of": "to the right of, right of, on the right of, on the right side of, "
        "to the right side of, at the right of",
        "aligned_with": "aligned with, in line with, lined up with, centered on, "
        "centred on, centered with, centred with",
    }.items()
    for phrase in (p.strip() for p in phrases.split(","))
}
# "with nightstands on either side": beside whatever came before.
BESIDE_IT = frozenset(
    tuple(p.split())
    for p in ("on either side", "on each side", "on both sides", "either side", "each side")
)
OPENING_WORDS = {
    "window": "window",
    "windows": "window",
    "door": "door",
    "doors": "door",
    "doorway": "door",
    "entrance": "door",
    "entry": "door",
}
TARGET_SKIP = frozenset(
    "the a an my its each every both either this that his her their our your one".split()
)
_MAX_RELATION = max(len(k) for k in (*ROOM_RULE_PHRASES, *RELATION_PHRASES, *BESIDE_IT))


# --------------------------------------------------------------------------- text


def _normalise(prompt: str) -> str:
    text = prompt.lower()
    for old, new in (("’", "'"), ("‘", "'"), ("×", " x "), ("²", "2"), ("“", '"'), ("”", '"')):
        text = text.replace(old, new)
    return text


_NUM = r"(\d+(?:\.\d+)?)"
_UNIT = r"(m|meters?|metres?|cm|centimeters?|centimetres?|ft|feet|foot|'|′)"
_XY = re.compile(
    rf"(?<![\w.]){_NUM}\s*{_UNIT}?\s*(?:x|by|\*)\s*{_NUM}\s*{_UNIT}?"
    rf"(?:\s*(?:x|by|\*)\s*{_NUM}\s*{_UNIT}?)?(?![a-z0-9])"
)
_AREA = re.compile(
    rf"(?<![\w.]){_NUM}\s*(?:square\s+(meters?|metres?|m|feet|foot|ft)|sq\.?\s*(m|ft|meters?|"
    r"metres?|feet)|(m2|sqm|sq\.?m|ft2|sqft))(?![a-z0-9])"
)
_SIDE = re.compile(rf"(?<![\w.]){_NUM}\s*{_UNIT}\s+(wide|across|long|deep)\b")
_HEIGHT = re.compile(
    rf"(?<![\w.]){_NUM}\s*{_UNIT}\s+(?:high\s+|tall\s+)?ceilings?\b"
    rf"|\bceilings?\s+(?:of\s+|at\s+|are\s+|is\s+)?{_NUM}\s*{_UNIT}"
    rf"|\b(?:room|it)\s+is\s+{_NUM}\s*{_UNIT}\s+(?:high|tall)\b"
)
_ROOM_SIZE_PREDICATE = re.compile(
    r"\b(?:room|space|it)\s+(?:is|feels|should be|must be)\s+"
    r"(?:very\s+|quite\s+|fairly\s+|rather\s+|really\s+|pretty\s+)?([a-z]+)"
)
_NUMBER_WORD = (
    r"(\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
    r"thirteen|fourteen|fifteen|sixteen|eighteen|twenty|thirty)"
)
_SEATS_FOR = re.compile(
    rf"\b(?:table|seating|seats|room|area)\s+for\s+{_NUMBER_WORD}\b"
    rf"|\bfor\s+{_NUMBER_WORD}\s+(?:people|persons|guests|diners|students|pupils|kids|children)\b"
)
_TOKEN = re.compile(r"__dim\d+|[a-z]+|\d+(?:\.\d+)?|[,.;:!?()]")


def _unit_factor(unit: str | None, values: list[float]) -> float:
    if unit is None:
        # Bare numbers are metres unless they are too big for a room in metres.
        return FEET if min(values) > 12 else 1.0
    if unit.startswith("c"):
        return 0.01
    if unit.startswith(("f", "'", "′")):
        return FEET
    return 1.0


@dataclass
class _Dimensions:
    """Sizes written as numbers, cut out of the text before it is tokenised."""

    pairs: list[Vec3 | tuple[float, float]] = field(default_factory=list)
    width: float | None = None
    depth: float | None = None
    area: float | None = None
    height: float | None = None


def _extract_dimensions(text: str) -> tuple[str, _Dimensions]:
    dims = _Dimensions()

    def xy(match: re.Match[str]) -> str:
        a, unit_a, b, unit_b, c, unit_c = match.groups()
        values = [float(a), float(b)] + ([float(c)] if c else [])
        factor = _unit_factor(unit_c or unit_b or unit_a, values[:2])
        scaled = [v * factor for v in values]
        dims.pairs.append((scaled[0], scaled[1], scaled[2]) if c else (scaled[0], scaled[1]))
        return f" __dim{len(dims.pairs) - 1} "

    def area(match: re.Match[str]) -> str:
        value = float(match.group(1))
        unit = match.group(2) or match.group(3) or match.group(4) or "m"
        dims.area = value * (FEET * FEET if unit.startswith(("f", "sqf")) else 1.0)
        return " , "

    def side(match: re.Match[str]) -> str:
        value = float(match.group(1)) * _unit_factor(match.group(2), [float(match.group(1))])
        if match.group(3) in ("wide", "across"):
            dims.width = value
        else:
            dims.depth = value
        return " , "

    def height(match: re.Match[str]) -> str:
        groups = [g for g in match.groups()]
        for k in range(0, len(groups), 2):
            if groups[k] is not None:
                value = float(groups[k])
                dims.height = value * _unit_factor(groups[k + 1], [value])
        return " , "

    text = _AREA.sub(area, text)
    text = _HEIGHT.sub(height, text)
    text = _XY.sub(xy, text)
    text = _SIDE.sub(side, text)
    return text, dims


def _tokens(text: str) -> list[str]:
    text = re.sub(r"(\w)'s\b", r"\1s", text)
    text = re.sub(r"(\w)s'", r"\1s", text)
    text = text.replace("'", " ").replace("-", " ").replace("/", " ")
    return _TOKEN.findall(text)


# --------------------------------------------------------------------------- phrases

_Kind = str
_PHRASES: dict[tuple[str, ...], tuple[_Kind, object]] = {}


def _add(phrase: str, kind: _Kind, value: object) -> None:
    _PHRASES.setdefault(tuple(phrase.split()), (kind, value))


for _p, (_cat, _plural) in catalog.OBJECT_PHRASES.items():
    if _p not in catalog.CONTEXT_PHRASES:
        _add(_p, "object", (_cat, _plural))
for _p in catalog.CONTEXT_PHRASES:
    _add(_p, "context", _p)
for _p, _room in catalog.ROOM_PHRASES.items():
    _add(_p, "room", _room)
    _add(catalog.pluralize(_p), "room", _room)
for _p in GENERIC_ROOM_WORDS:
    _add(_p, "room", None)
for _p, _value in COLOR_PHRASES.items():
    _add(_p, "color", _value)
for _p in COLORS:
    _add(_p, "color", COLOR_ALIASES.get(_p, _p))
for _p, _value in MATERIALS.items():
    _add(_p, "material", _value)
for _p, _value in STYLES.items():
    _add(_p, "style", _value)
for _p, _factor in SIZES.items():
    _add(_p, "size", _factor)
for _p, _count in NUMBERS.items():
    _add(_p, "number", _count)
for _p in ARTICLES:
    _add(_p, "article", 1)
_add("the", "definite", None)
for _p in NEGATIONS:
    _add(_p, "negate", None)
for _p in MOUNT_WORDS:
    _add(_p, "mount", None)
for _p, _surface in SURFACES.items():
    _add(_p, "surface", _surface)
for _p in ("l shaped", "l shape", "lshaped", "l form", "l formed"):
    _add(_p, "shape", "l_shape")
_MAX_PHRASE = max(len(k) for k in _PHRASES)


def _match(tokens: list[str], i: int) -> tuple[int, _Kind, object]:
    """The longest known phrase starting at ``tokens[i]``: (length, kind, value)."""
    for n in range(min(_MAX_PHRASE, len(tokens) - i), 0, -1):
        hit = _PHRASES.get(tuple(tokens[i : i + n]))
        if hit is not None:
            return n, hit[0], hit[1]
    token = tokens[i]
    if token.startswith("__dim"):
        return 1, "dims", int(token[5:])
    if token.isdigit():
        return 1, "number", int(token)
    if token in BREAKERS:
        return 1, "break", None
    return 1, "word", None


def _phrase_at(
    tokens: list[str], i: int, table: dict[tuple[str, ...], str]
) -> tuple[int, str] | None:
    """The longest phrase of ``table`` starting at ``tokens[i]``: (length, value)."""
    for n in range(min(_MAX_RELATION, len(tokens) - i), 0, -1):
        hit = table.get(tuple(tokens[i : i + n]))
        if hit is not None:
            return n, hit
    return None


# --------------------------------------------------------------------------- scanning


@dataclass
class _Mention:
    phrase: str
    kind: str  # "object", "context" or "unknown"
    value: str  # category, context phrase, or the unknown noun
    index: int
    end: int = 0
    plural: bool = False
    count: int | None = None
    colors: list[str] = field(default_factory=list)
    materials: list[str] = field(default_factory=list)
    sizes: list[tuple[str, float]] = field(default_factory=list)
    adjectives: list[str] = field(default_factory=list)
    dims: Vec3 | tuple[float, float] | None = None
    definite: bool = False
    negated: bool = False
    mounted: bool = False
    floor: bool = False
    ceiling: bool = False
    # (rule kind, target phrase or None, target kind: "object", "context", "unknown",
    # "opening" or "")
    relations: list[tuple[str, str | None, str]] = field(default_factory=list)


@dataclass
class _Pending:
    count: int | None = None
    colors: list[str] = field(default_factory=list)
    materials: list[str] = field(default_factory=list)
    sizes: list[tuple[str, float]] = field(default_factory=list)
    dims: int | None = None
    definite: bool = False
    mounted: bool = False
    gap: int = 0

    def empty(self) -> bool:
        return not (self.colors or self.materials or self.sizes or self.mounted)


@dataclass
class _Scan:
    mentions: list[_Mention] = field(default_factory=list)
    rooms: list[str] = field(default_factory=list)
    style: list[str] = field(default_factory=list)
    room_factor: float | None = None
    floor_material: str | None = None
    wall_material: str | None = None
    unused_dims: list[int] = field(default_factory=list)
    shape: str | None = None


def _is_noun(word: str) -> bool:
    if not word.isalpha() or len(word) < 3:
        return False
    if word in STOP_WORDS or word in STOP_NOUNS or word in VAGUE_ADJECTIVES:
        return False
    if (word,) in _PHRASES:
        return False
    if word.endswith(ADJECTIVE_SUFFIXES) and len(word) > 5:
        return False
    return not (word.endswith(("ing", "ed")) and len(word) > 6)


def _is_adjective(word: str) -> bool:
    return (
        word.isalpha()
        and word not in STOP_WORDS
        and word not in STOP_NOUNS
        and word not in BREAKERS
    )


class _Scanner:
    def __init__(self, tokens: list[str], dims: _Dimensions):
        self.tokens = tokens
        self.dims = dims
        self.out = _Scan()
        self.pending = _Pending()
        self.negated = False
        self.leading: str | None = None  # "in the corner, a plant"
        self.shape: str | None = None  # "an L-shaped ..." waiting for its noun
        self.last_end = -1  # where the last object mention (and its rules) ended

    def _reset(self) -> None:
        self.pending = _Pending()

    def _cue_before(self, i: int) -> bool:
        if i == 0:
            return True
        previous = self.tokens[i - 1]
        if previous in CUES:
            return True
        if previous in ("is", "are", "s") and i >= 2 and self.tokens[i - 2] in ("there", "theres"):
            return True
        return previous == "theres"

    def run(self) -> _Scan:
        tokens = self.tokens
        i = 0
        while i < len(tokens):
            if i != self.last_end:
                rule = _phrase_at(tokens, i, ROOM_RULE_PHRASES)
                if rule is not None and (i == 0 or _match(tokens, i - 1)[1] == "break"):
                    self.leading = rule[1]
                    i += rule[0]
                    continue
            n, kind, value = _match(tokens, i)
            handler = getattr(self, f"_on_{kind}")
            i = handler(i, n, value)
        if self.shape is not None:
            self.out.shape = self.shape
        for index in range(len(self.dims.pairs)):
            used = any(m.dims is self.dims.pairs[index] for m in self.out.mentions)
            if not used:
                self.out.unused_dims.append(index)
        return self.out

    # Each handler returns the index of the next token to read.

    def _on_number(self, i: int, n: int, value: object) -> int:
        assert isinstance(value, int)
        if self.tokens[i] == "0":
            return self._on_negate(i, n, None)  # "0 chairs"
        if value > 0:
            self.negated = False
        return self._quantity(i, n, value if value > 0 else None)

    def _on_article(self, i: int, n: int, value: object) -> int:
        return self._quantity(i, n, None)

    def _quantity(self, i: int, n: int, count: int | None) -> int:
        if self.pending.count is None or count is not None:
            self.pending.count = count
        self.pending.gap = 0
        self.pending.definite = False
        if not self.negated and self._cue_before(i):
            end = self._unknown_object(i + n)
            if end is not None:
                return end
        return i + n

    def _on_definite(self, i: int, n: int, value: object) -> int:
        self.pending.definite = True
        self.pending.gap = 0
        return i + n

    def _on_negate(self, i: int, n: int, value: object) -> int:
        self._reset()
        self.negated = True
        return i + n

    def _on_color(self, i: int, n: int, value: object) -> int:
        color = str(value)
        if i > 0 and self.tokens[i - 1] in COLOR_PREFIXES:
            color = f"{self.tokens[i - 1]} {color}"
        self.pending.colors.append(color)
        self.pending.gap = 0
        return i + n

    def _on_material(self, i: int, n: int, value: object) -> int:
        self.pending.materials.append(str(value))
        self.pending.gap = 0
        return i + n

    def _on_style(self, i: int, n: int, value: object) -> int:
        if value not in self.out.style:
            self.out.style.append(str(value))
        return i + n

    def _on_size(self, i: int, n: int, value: object) -> int:
        assert isinstance(value, float)
        self.pending.sizes.append((" ".join(self.tokens[i : i + n]), value))
        self.pending.gap = 0
        return i + n

    def _on_mount(self, i: int, n: int, value: object) -> int:
        last = self.out.mentions[-1] if self.out.mentions else None
        between = self.tokens[last.end : i] if last is not None else []
        if last is not None and all(t in (",", "is", "are", "and") for t in between):
            last.mounted = True
        else:
            self.pending.mounted = True
        return i + n

    def _on_dims(self, i: int, n: int, value: object) -> int:
        assert isinstance(value, int)
        self.pending.dims = value
        self.pending.gap = 0
        return i + n

    def _on_surface(self, i: int, n: int, value: object) -> int:
        surface = str(value)
        material = self.pending.materials[-1] if self.pending.materials else None
        color = self.pending.colors[-1] if self.pending.colors else None
        if surface == "wall" and (material or color):
            base = material or "painted plaster"
            self.out.wall_material = f"{color} {base}" if color else base
        elif surface == "floor" and (material or color):
            base = material or "painted wood"
            self.out.floor_material = f"{color} {base}" if color else base
        self._reset()
        self.negated = False
        return i + n

    def _on_shape(self, i: int, n: int, value: object) -> int:
        self.shape = str(value)
        return i + n

    def _on_room(self, i: int, n: int, value: object) -> int:
        if self.shape is not None:
            self.out.shape = self.shape
            self.shape = None
        if value is not None:
            self.out.rooms.append(str(value))
        pending = self.pending
        if pending.sizes:
            factor = 1.0
            for _, f in pending.sizes:
                factor *= f
            self.out.room_factor = factor
        for word in (*pending.colors, *pending.materials):
            if word not in self.out.style:
                self.out.style.append(word)
        self._reset()
        self.negated = False
        return i + n

    def _on_break(self, i: int, n: int, value: object) -> int:
        word = self.tokens[i]
        following = self.tokens[i + 1] if i + 1 < len(self.tokens) else ""
        if word in ("and", "or", ",") and (following,) in _PHRASES:
            kind = _PHRASES[(following,)][0]
            if kind in ("color", "material", "size") and not self.pending.empty():
                return i + n  # "a red and white sofa"
        if word in ("or", "nor", ","):
            self.pending = _Pending()
            return i + n
        self._reset()
        self.negated = False
        return i + n

    def _on_word(self, i: int, n: int, value: object) -> int:
        word = self.tokens[i]
        if word in COLOR_PREFIXES and i + 1 < len(self.tokens):
            nxt = _match(self.tokens, i + 1)
            if nxt[1] == "color":
                return i + n
        if word in STOP_NOUNS:
            self._reset()
            return i + n
        self.pending.gap += 1
        if self.pending.gap > 2:
            self._reset()
        return i + n

    def _on_object(self, i: int, n: int, value: object) -> int:
        assert isinstance(value, tuple)
        category, plural = value
        return self._mention(i, n, "object", str(category), bool(plural))

    def _on_context(self, i: int, n: int, value: object) -> int:
        phrase = str(value)
        return self._mention(i, n, "context", phrase, catalog.singularize(phrase) != phrase)

    def _mention(self, i: int, n: int, kind: str, value: str, plural: bool) -> int:
        pending = self.pending
        mention = _Mention(
            phrase=" ".join(self.tokens[i : i + n]),
            kind=kind,
            value=value,
            index=i,
            end=i + n,
            plural=plural,
            count=pending.count,
            colors=list(pending.colors),
            materials=list(pending.materials),
            sizes=list(pending.sizes),
            definite=pending.definite,
            negated=self.negated,
            mounted=pending.mounted,
        )
        if pending.dims is not None:
            mention.dims = self.dims.pairs[pending.dims]
        return self._finish(mention, i + n)

    def _finish(self, mention: _Mention, j: int) -> int:
        if self.leading is not None and not mention.negated:
            mention.relations.append((self.leading, None, ""))
        self.leading = None
        self.shape = None
        end = self._relations(mention, j)
        mention.end = end
        self.last_end = end
        self.out.mentions.append(mention)
        self._reset()
        return end

    def _previous(self) -> _Mention | None:
        for mention in reversed(self.out.mentions):
            if not mention.negated:
                return mention
        return None

    def _relations(self, mention: _Mention, j: int) -> int:
        """Read the placement phrases right after an object: "in the corner", "on the
        wall", "next to the bed", "around it", "by the window". Returns where the
        scanner goes on: at the target's first word, so "the bed" is read as an object
        of its own (or as a second mention of one already named)."""
        tokens = self.tokens
        while j < len(tokens):
            k = j
            if tokens[k] in ("and", ",") and k + 1 < len(tokens):
                nxt = _phrase_at(tokens, k + 1, ROOM_RULE_PHRASES) or _phrase_at(
                    tokens, k + 1, RELATION_PHRASES
                )
                if nxt is None or (nxt[1] == "around" and tokens[k + 1] == "at"):
                    return j
                k += 1
            room_rule = _phrase_at(tokens, k, ROOM_RULE_PHRASES)
            beside_it = _phrase_at(tokens, k, dict.fromkeys(BESIDE_IT, "beside"))
            relation = _phrase_at(tokens, k, RELATION_PHRASES)
            if room_rule is not None and (relation is None or room_rule[0] >= relation[0]):
                mention.relations.append((room_rule[1], None, ""))
                j = k + room_rule[0]
                continue
            if beside_it is not None and (relation is None or beside_it[0] > relation[0]):
                before = self._previous()
                if before is not None:
                    mention.relations.append(("beside", before.value, before.kind))
                j = k + beside_it[0]
                continue
            if relation is None:
                return j
            n, kind = relation
            start = k + n
            t = start
            while t < len(tokens) and tokens[t] in TARGET_SKIP:
                t += 1
            while t < len(tokens) and _match(tokens, t)[1] in ("color", "material", "size"):
                t += _match(tokens, t)[0]
            if t >= len(tokens):
                return j
            word = tokens[t]
            if word in ("it", "them", "one"):
                before = self._previous()
                if before is None:
                    return j
                mention.relations.append((kind, before.value, before.kind))
                j = t + 1
                continue
            if word in OPENING_WORDS:
                mention.relations.append((kind, OPENING_WORDS[word], "opening"))
                j = t + 1
                continue
            m, found, value = _match(tokens, t)
            if found == "surface":
                if value == "wall" and kind in ("on", "above"):
                    mention.mounted = True
                elif value == "floor" and kind == "on":
                    mention.floor = True
                elif value == "ceiling" and kind in ("on", "under"):
                    mention.ceiling = True
                else:
                    return j
                j = t + m
                continue
            if found in ("object", "context"):
                target = str(value[0]) if isinstance(value, tuple) else str(value)
                mention.relations.append((kind, target, found))
                return start
            if kind == "around" and tokens[k] == "at":
                return j
            return j
        return j

    def _unknown_object(self, start: int) -> int | None:
        """After an article or a number: "a harp", "two old harps". Returns the index
        after the noun phrase when it names an object the catalog does not know."""
        tokens = self.tokens
        words: list[str] = []
        j = start
        while j < len(tokens) and len(words) < 4:
            n, kind, _ = _match(tokens, j)
            if kind == "word" or (kind in ("color", "material", "size", "style") and n == 1):
                words.append(tokens[j])
                j += 1
                continue
            break
        if not words:
            return None
        if j < len(tokens):
            _, kind, _ = _match(tokens, j)
            if kind not in ("break",) or tokens[j] in ("of", "is", "are", "that", "which"):
                return None
        noun = words[-1]
        if not _is_noun(noun):
            return None
        colors: list[str] = []
        materials: list[str] = []
        sizes: list[tuple[str, float]] = []
        adjectives: list[str] = []
        for w in words[:-1]:
            _, kind, value = _match([w], 0)
            if kind == "color":
                colors.append(str(value))
            elif kind == "material":
                materials.append(str(value))
            elif kind == "size":
                assert isinstance(value, float)
                sizes.append((w, value))
            elif kind == "style":
                if value not in self.out.style:
                    self.out.style.append(str(value))
            elif not _is_adjective(w):
                return None
            else:
                adjectives.append(w)
        singular = catalog.singularize(noun)
        mention = _Mention(
            phrase=" ".join(words),
            kind="unknown",
            value=singular,
            index=start,
            plural=singular != noun,
            count=self.pending.count,
            colors=[*self.pending.colors, *colors],
            materials=[*self.pending.materials, *materials],
            sizes=[*self.pending.sizes, *sizes],
            adjectives=adjectives,
        )
        return self._finish(mention, j)


# --------------------------------------------------------------------------- resolving


def _resolve(kind: str, value: str, room_type: str) -> str:
    if kind == "context":
        choices = catalog.CONTEXT_PHRASES[value]
        return choices.get(room_type, choices["*"])
    return value


def _resolve_phrase(phrase: str, room_type: str) -> str:
    if phrase in catalog.CONTEXT_PHRASES:
        return _resolve("context", phrase, room_type)
    return phrase


def _infer_room_type(mentions: list[_Mention]) -> str:
    """The room whose template holds most of the named objects (living room if none)."""
    named = {_family(m.value) for m in mentions if m.kind == "object" and not m.negated}
    best, best_score = catalog.DEFAULT_ROOM_TYPE, 0
    for room_type, template in catalog.ROOM_TEMPLATES.items():
        score = len(named & {_family(item.category) for item in template.items})
        if score > best_score:
            best, best_score = room_type, score
    return best


def _estimated_size(placement: Placement, factor: float) -> Vec3:
    """An unknown object's size: a medium floor object, a small thing on a surface, a
    flat piece on a wall; scaled by its size words."""
    base = {"surface": (0.3, 0.3, 0.3), "wall": (0.6, 0.5, 0.05), "ceiling": (0.5, 0.3, 0.5)}
    w, h, d = base.get(placement, (0.6, 0.9, 0.6))
    return (round(w * factor, 3), round(h * factor, 3), round(d * factor, 3))


@dataclass
class _Request:
    """An object the prompt names, on its way to becoming an :class:`ObjectSpec`."""

    category: str
    count: int
    description: str | None
    size: Vec3 | None
    material: str | None
    color: str | None
    placement: Placement | None
    mount_height: float | None = None
    constraints: list[Constraint] = field(default_factory=list)

    def spec(self) -> ObjectSpec:
        size = None
        if self.size is not None:
            size = ObjectSize(width=self.size[0], height=self.size[1], depth=self.size[2])
        return ObjectSpec(
            category=self.category,
            description=self.description,
            count=self.count,
            size=size,
            material=self.material,
            color=self.color,
            placement=self.placement,
            mount_height=self.mount_height,
            constraints=self.constraints,
        )


def _request(mention: _Mention, category: str) -> _Request:
    entry = catalog.entry(category)
    factor = 1.0
    for _, f in mention.sizes:
        factor *= f
    if mention.count is not None:
        count = mention.count
    elif mention.plural:
        count = entry.plural_count if entry is not None else 2
    else:
        count = 1
    count = max(1, min(MAX_COUNT, count))
    placement: Placement | None = None
    if mention.mounted and (
        entry is None or entry.wall_mountable or entry.placement in ("wall", "surface")
    ):
        placement = "wall"
    elif mention.ceiling and (entry is None or entry.placement != "floor"):
        placement = "ceiling"
    elif mention.floor and entry is not None and entry.placement == "surface":
        placement = "floor"
    size: Vec3 | None = None
    if entry is None:
        shape: Placement = placement or "floor"
        if any(kind == "on" for kind, _, _ in mention.relations):
            shape = "surface"
        size = _estimated_size(shape, factor)
        if shape == "surface":
            placement = "surface"
    elif mention.dims is not None:
        dims = mention.dims
        height = dims[2] if len(dims) == 3 else entry.size[1]
        if min(dims[0], dims[1]) > 0.05 and height > 0.001:
            size = (round(dims[0], 3), round(height, 3), round(dims[1], 3))
    elif factor != 1.0:
        w, h, d = entry.size
        size = (round(w * factor, 3), h, round(d * factor, 3))
    color = mention.colors[0] if mention.colors else None
    if len(mention.colors) > 1:
        color = " and ".join(mention.colors)
    material = " ".join(dict.fromkeys(mention.materials)) or None
    words = [w for w, _ in mention.sizes] + mention.adjectives
    description = None
    if words or color or material:
        name = {"teachers desk": "teacher's desk", "tv": "TV"}.get(category, category)
        description = " ".join(w for w in (*words, color, material, name) if w)
    return _Request(
        category=category,
        count=count,
        description=description,
        size=size,
        material=material,
        color=color,
        placement=placement,
    )


def _constraints(mention: _Mention, request: _Request, room_type: str) -> None:
    """The prompt's placement rules for one object, fitted to what the object is."""
    entry = catalog.entry(request.category)
    usual = request.placement or (entry.placement if entry is not None else "floor")
    for kind, phrase, target_kind in mention.relations:
        if target_kind == "opening":
            assert phrase is not None
            if kind not in ("near", "far", "facing"):
                kind = "near"
            request.constraints.append(Constraint(kind=kind, target=phrase))
            continue
        if phrase is None:
            if usual in ("floor", "surface") or kind == "against_wall":
                request.constraints.append(Constraint(kind=kind))
            continue
        target = _resolve_phrase(phrase, room_type) if target_kind != "unknown" else phrase
        if target == request.category and kind not in ("beside", "near", "far", "aligned_with"):
            continue
        held = catalog.entry(target)
        if (
            kind in ("under", "near", "beside")
            and held is not None
            and held.placement
            in (
                "wall",
                "ceiling",
            )
        ):
            continue  # "chairs under a chandelier": the chandelier hangs above them
        if kind == "above":
            if request.category in ("table lamp", "floor lamp"):
                request.category, request.placement, request.size = "ceiling light", None, None
                usual = "ceiling"
            elif usual in ("wall", "ceiling"):
                pass
            elif entry is not None and entry.wall_mountable:
                request.placement = usual = "wall"
            elif entry is None:
                request.placement = usual = "wall"
                request.size = _estimated_size("wall", 1.0)
            elif usual == "surface":
                kind = "on"
            else:
                kind = "near"
        if kind == "on" and usual in ("wall", "ceiling"):
            kind = "above" if usual == "wall" else "near"
        request.constraints.append(Constraint(kind=kind, target=target))


def understand(prompt: str) -> SceneSpec:
    """The room and the objects ``prompt`` names, without template objects."""
    text, dims = _extract_dimensions(_normalise(prompt))
    tokens = _tokens(text)
    scan = _Scanner(tokens, dims).run()
    size_factor = scan.room_factor or 1.0
    predicate = _ROOM_SIZE_PREDICATE.search(text)
    if predicate and predicate.group(1) in SIZES:
        size_factor = SIZES[predicate.group(1)]
    room_type = scan.rooms[0] if scan.rooms else _infer_room_type(scan.mentions)

    requests: list[_Request] = []
    excluded: set[str] = set()
    named: dict[str, _Request] = {}
    resolved = [(m, _resolve(m.kind, m.value, room_type)) for m in scan.mentions]
    for mention, category in resolved:
        if mention.negated:
            excluded.add(category)
    indefinite = {c for m, c in resolved if not m.negated and not m.definite}
    for mention, category in resolved:
        if mention.negated or category in excluded:
            continue
        if mention.definite and category in indefinite and category in named:
            first = named[category]
            if not first.constraints:
                _constraints(mention, first, room_type)
            continue
        if mention.definite and category in named:
            continue
        request = _request(mention, category)
        _constraints(mention, request, room_type)
        named.setdefault(category, request)
        requests.append(request)
    seats = _SEATS_FOR.search(text)
    if seats is not None:
        word = seats.group(1) or seats.group(2)
        count = min(MAX_COUNT, int(word) if word.isdigit() else NUMBERS[word])
        seat = "student desk" if room_type == "classroom" else "chair"
        if count > 0 and all(_family(r.category) != _family(seat) for r in requests):
            if seat not in excluded:
                requests.append(_Request(seat, count, None, None, None, None, None))

    width = depth = None
    if dims.width is not None and dims.depth is not None:
        width, depth = dims.width, dims.depth
    elif scan.unused_dims:
        pair = dims.pairs[scan.unused_dims[0]]
        width, depth = pair[0], pair[1]
        if len(pair) == 3 and dims.height is None:
            dims.height = pair[2]
    elif dims.area is not None:
        template = catalog.ROOM_TEMPLATES[room_type]
        aspect = template.size[1] / template.size[0]
        if scan.shape == "l_shape":
            area = dims.area / (1 - 0.45 * 0.45)
        else:
            area = dims.area
        width = (area / aspect) ** 0.5
        depth = width * aspect
    elif dims.width is not None or dims.depth is not None:
        template = catalog.ROOM_TEMPLATES[room_type]
        aspect = template.size[1] / template.size[0]
        if dims.width is not None:
            width, depth = dims.width, dims.width * aspect
        elif dims.depth is not None:
            width, depth = dims.depth / aspect, dims.depth
    size = None
    if width is not None and depth is not None:
        width = round(min(max(width, 1.5), 40.0), 4)
        depth = round(min(max(depth, 1.5), 40.0), 4)
        size = FloorSize(width=width, depth=depth)
    height = None if dims.height is None else round(min(max(dims.height, 2.2), 8.0), 3)

    return SceneSpec(
        room=RoomSpec(
            type=room_type,
            shape="l_shape" if scan.shape == "l_shape" else None,
            size=size,
            height=height,
            scale=round(size_factor, 3) if size_factor != 1.0 else None,
            floor_material=scan.floor_material,
            wall_material=scan.wall_material,
            style=list(scan.style),
        ),
        objects=[r.spec() for r in requests],
        exclude=sorted(excluded),
    )


# --------------------------------------------------------------------------- templates


def _family(category: str) -> str:
    entry = catalog.entry(category)
    return entry.family if entry is not None else category


def _default_constraints(category: str, present: dict[str, str]) -> list[Constraint]:
    """The catalog's usual rules for ``category``, each tied to the first of its
    targets the room holds (``present`` maps categories and families to a category)."""
    out = []
    for choices in catalog.DEFAULT_RELATIONS.get(category, ()):
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
    for target in targets:
        if target in OPENING_TARGETS:
            return Constraint(kind=kind, target=target)
        found = present.get(target)
        if found in catalog.TARGET_GROUPS:
            members = catalog.TARGET_GROUPS[found]
            if sum(1 for c in present.values() if c in members) > 1 or category not in members:
                return Constraint(kind=kind, target=found)
            continue
        if found is not None and (found != category or kind in ("beside", "near")):
            return Constraint(kind=kind, target=found)
    return None


def furnish(spec: SceneSpec) -> SceneSpec:
    """Complete a spec from its room type's template and the catalog's usual rules.

    Core template objects are added unless the spec names something of the same family
    or excludes it ("no tv"); the rest only when the spec names few kinds of object.
    Surface objects with nothing to stand on get their usual support. Every object the
    spec gives no rules of its own gets its category's usual ones, tied to objects the
    room holds (the coffee table in front of the sofa, chairs around the table).
    """
    room_type = spec.room.type or catalog.DEFAULT_ROOM_TYPE
    template = catalog.ROOM_TEMPLATES[room_type]
    objects = list(spec.objects)
    categories = [canonical(o.category) for o in objects]
    named_kinds = len(set(categories))
    named_families = {_family(c) for c in categories}
    excluded = {canonical(c) for c in spec.exclude}
    excluded_families = {_family(c) for c in excluded}
    deferred = []
    for item in template.items:
        family = _family(item.category)
        if item.category in excluded or family in excluded_families:
            continue
        if family in named_families:
            continue
        if not item.core and named_kinds >= FEW_KINDS:
            continue
        if item.per is not None:
            deferred.append(item)
            continue
        objects.append(ObjectSpec(category=item.category, count=item.count, requested=False))
    for item in deferred:
        count = sum(o.count for o in objects if canonical(o.category) == item.per)
        if count > 0:
            objects.append(ObjectSpec(category=item.category, count=count, requested=False))

    present = {canonical(o.category) for o in objects}
    supports: list[ObjectSpec] = []
    for obj in objects:
        category = canonical(obj.category)
        entry = catalog.entry(category)
        if entry is None or (obj.placement or entry.placement) != "surface":
            continue
        ons = [canonical(c.target) for c in obj.constraints if c.kind == "on" and c.target]
        wanted: tuple[str, ...] = tuple(o for o in ons if o in catalog.CATALOG) or entry.parents
        if not wanted or any(p in present for p in wanted):
            continue
        if any(o.ref is not None and o.ref in ons for o in objects):
            continue
        if entry.wall_mountable and not ons:
            continue  # a tv with no stand goes on the wall
        for parent in wanted:
            if parent not in excluded:
                supports.append(ObjectSpec(category=parent, requested=False))
                present.add(parent)
                break
    objects += supports

    lookup: dict[str, str] = {}
    for obj in objects:
        category = canonical(obj.category)
        lookup.setdefault(category, category)
        lookup.setdefault(_family(category), category)
        for name, members in catalog.TARGET_GROUPS.items():
            if category in members:
                lookup[name] = name
        if obj.ref:
            lookup.setdefault(obj.ref, obj.ref)
    finished = []
    for obj in objects:
        if obj.constraints:
            finished.append(obj)
            continue
        category = canonical(obj.category)
        rules = _default_constraints(category, lookup)
        if obj.count > 1:
            # Ten tables cannot all stand in the middle, nor ten plants in corners.
            rules = [r for r in rules if r.kind != "middle"]
            if obj.count > 2 and any(r.kind == "corner" for r in rules):
                rules = [r for r in rules if r.kind != "corner"] + [Constraint(kind="against_wall")]
        if obj.placement is not None and obj.placement != (
            catalog.CATALOG[category].placement if category in catalog.CATALOG else "floor"
        ):
            rules = [r for r in rules if r.kind not in ("on", "against_wall", "corner")]
        finished.append(obj.model_copy(update={"constraints": rules}) if rules else obj)
    return spec.model_copy(update={"objects": finished})
