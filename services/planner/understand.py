"""Understanding a prompt: the room it asks for and the objects it names.

Plain English parsing with regular expressions and word lists. :func:`understand`
turns a prompt into a :class:`RoomSpec` that holds only what the prompt says;
:func:`furnish` then adds the typical objects of the room type from the catalog's
templates. The solver works from the spec alone and never looks at the prompt.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from services.planner import catalog
from shared.layout import Placement, Vec3

# --------------------------------------------------------------------------- the spec


@dataclass(frozen=True)
class ObjectRequest:
    """``count`` objects of one category, as the prompt (or a template) asks for them.

    ``known`` is false for a noun the catalog does not have; its ``size`` is then an
    estimate. ``size`` set on a known category overrides the catalog size (the prompt
    gave dimensions). ``placement`` overrides the catalog placement ("a wall-mounted
    tv"), ``on`` names the category it should stand on, ``near`` one it should be
    close to. ``requested`` is false for objects added from a room template.
    """

    category: str
    count: int = 1
    color: str | None = None
    material: str | None = None
    adjectives: tuple[str, ...] = ()
    scale: float = 1.0
    size: Vec3 | None = None
    placement: Placement | None = None
    on: str | None = None
    near: str | None = None
    known: bool = True
    requested: bool = True


@dataclass(frozen=True)
class RoomSpec:
    """The room a prompt asks for.

    ``width`` (x) and ``depth`` (z) in metres are set when the prompt fixes the floor
    size; ``size_factor`` scales the template's floor size otherwise ("small" < 1 <
    "spacious"). ``style`` holds room-wide style words.
    """

    room_type: str
    objects: tuple[ObjectRequest, ...] = ()
    width: float | None = None
    depth: float | None = None
    height: float | None = None
    size_factor: float = 1.0
    style: tuple[str, ...] = ()
    floor_material: str | None = None
    wall_material: str | None = None
    excluded: frozenset[str] = field(default_factory=frozenset)
    room_type_stated: bool = False

    @property
    def fixed_size(self) -> bool:
        return self.width is not None and self.depth is not None


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
        "those plus also then while but so as like and or"
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
MAX_COUNT = 40
FEET = 0.3048


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
    on: str | None = None
    near: str | None = None


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
            n, kind, value = _match(tokens, i)
            handler = getattr(self, f"_on_{kind}")
            i = handler(i, n, value)
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

    def _on_room(self, i: int, n: int, value: object) -> int:
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
        end = self._relations(mention, i + n)
        self.out.mentions.append(mention)
        self._reset()
        return end

    def _relations(self, mention: _Mention, j: int) -> int:
        """Read "on the desk", "on the wall", "above the sofa", "next to the bed"."""
        tokens = self.tokens
        if j >= len(tokens):
            return j
        word = tokens[j]
        k = j + 1
        if word in ("on", "onto", "atop", "upon"):
            relation = "on"
            if k + 1 < len(tokens) and tokens[k] == "top" and tokens[k + 1] == "of":
                k += 2
        elif word in ("above", "over"):
            relation = "near"
        elif word in ("beside", "near", "by") or (
            word == "next" and k < len(tokens) and tokens[k] == "to"
        ):
            relation = "near"
            if word == "next":
                k += 1
        else:
            return j
        while k < len(tokens) and tokens[k] in ("the", "a", "an", "my", "its", "each"):
            k += 1
        if k >= len(tokens):
            return j
        n, kind, value = _match(tokens, k)
        if kind == "surface" and value == "wall" and relation == "on":
            mention.mounted = True
            return k + n
        if kind in ("object", "context"):
            target = str(value[0]) if isinstance(value, tuple) else str(value)
            if relation == "on":
                mention.on = target
            else:
                mention.near = target
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
        self.out.mentions.append(mention)
        self._reset()
        return j


# --------------------------------------------------------------------------- resolving


def _resolve(kind: str, value: str, room_type: str) -> str:
    if kind == "context":
        choices = catalog.CONTEXT_PHRASES[value]
        return choices.get(room_type, choices["*"])
    return value


def _infer_room_type(mentions: list[_Mention]) -> str:
    """The room whose template holds most of the named objects (living room if none)."""
    named = {_family(m.value) for m in mentions if m.kind == "object" and not m.negated}
    best, best_score = catalog.DEFAULT_ROOM_TYPE, 0
    for room_type, template in catalog.ROOM_TEMPLATES.items():
        score = len(named & {_family(item.category) for item in template.items})
        if score > best_score:
            best, best_score = room_type, score
    return best


def _estimated_size(noun: str, factor: float) -> Vec3:
    """An unknown object's size: a medium floor object, scaled by its size words."""
    return (round(0.6 * factor, 3), round(0.9 * factor, 3), round(0.6 * factor, 3))


def _request(mention: _Mention, category: str) -> ObjectRequest:
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
    size: Vec3 | None = None
    if entry is None:
        size = _estimated_size(category, factor)
        factor = 1.0
    elif mention.dims is not None:
        dims = mention.dims
        height = dims[2] if len(dims) == 3 else entry.size[1]
        if min(dims[0], dims[1]) > 0.05 and height > 0.001:
            size = (dims[0], height, dims[1])
    placement: Placement | None = None
    if (
        mention.mounted
        and entry is not None
        and (entry.wall_mountable or entry.placement == "wall")
    ):
        placement = "wall"
    color = mention.colors[0] if mention.colors else None
    if len(mention.colors) > 1:
        color = " and ".join(mention.colors)
    material = " ".join(dict.fromkeys(mention.materials)) or None
    return ObjectRequest(
        category=category,
        count=count,
        color=color,
        material=material,
        adjectives=tuple([*(w for w, _ in mention.sizes), *mention.adjectives]),
        scale=factor,
        size=size,
        placement=placement,
        known=entry is not None,
    )


def understand(prompt: str) -> RoomSpec:
    """The room and the objects ``prompt`` names, without template objects."""
    text, dims = _extract_dimensions(_normalise(prompt))
    tokens = _tokens(text)
    scan = _Scanner(tokens, dims).run()
    size_factor = scan.room_factor or 1.0
    predicate = _ROOM_SIZE_PREDICATE.search(text)
    if predicate and predicate.group(1) in SIZES:
        size_factor = SIZES[predicate.group(1)]
    stated = bool(scan.rooms)
    room_type = scan.rooms[0] if scan.rooms else _infer_room_type(scan.mentions)

    requests: list[ObjectRequest] = []
    excluded: set[str] = set()
    named: set[str] = set()
    resolved = [(m, _resolve(m.kind, m.value, room_type)) for m in scan.mentions]
    for mention, category in resolved:
        if not mention.negated and not mention.definite:
            named.add(category)
    for mention, category in resolved:
        if mention.negated:
            excluded.add(category)
            continue
        if mention.definite:
            if category in named:
                continue
            named.add(category)
        request = _request(mention, category)
        if mention.on is not None:
            request = replace(request, on=_resolve_phrase(mention.on, room_type))
        if mention.near is not None:
            request = replace(request, near=_resolve_phrase(mention.near, room_type))
        requests.append(request)
    requests = [r for r in requests if r.category not in excluded]
    seats = _SEATS_FOR.search(text)
    if seats is not None:
        word = seats.group(1) or seats.group(2)
        count = min(MAX_COUNT, int(word) if word.isdigit() else NUMBERS[word])
        seat = "student desk" if room_type == "classroom" else "chair"
        if count > 0 and all(_family(r.category) != _family(seat) for r in requests):
            if seat not in excluded:
                requests.append(ObjectRequest(seat, count=count))

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
        width = (dims.area / aspect) ** 0.5
        depth = width * aspect
    elif dims.width is not None or dims.depth is not None:
        template = catalog.ROOM_TEMPLATES[room_type]
        aspect = template.size[1] / template.size[0]
        if dims.width is not None:
            width, depth = dims.width, dims.width * aspect
        elif dims.depth is not None:
            width, depth = dims.depth / aspect, dims.depth
    if width is not None and depth is not None:
        width = min(max(width, 1.5), 40.0)
        depth = min(max(depth, 1.5), 40.0)
    height = None if dims.height is None else min(max(dims.height, 2.2), 8.0)

    return RoomSpec(
        room_type=room_type,
        objects=tuple(requests),
        width=width,
        depth=depth,
        height=height,
        size_factor=size_factor,
        style=tuple(scan.style),
        floor_material=scan.floor_material,
        wall_material=scan.wall_material,
        excluded=frozenset(excluded),
        room_type_stated=stated,
    )


def _resolve_phrase(phrase: str, room_type: str) -> str:
    if phrase in catalog.CONTEXT_PHRASES:
        return _resolve("context", phrase, room_type)
    return phrase


# --------------------------------------------------------------------------- templates


def _family(category: str) -> str:
    entry = catalog.entry(category)
    return entry.family if entry is not None else category


def furnish(spec: RoomSpec) -> RoomSpec:
    """Add the room template's typical objects the prompt did not name.

    Core template objects are added unless the prompt named something of the same
    family or excluded it ("no tv"); the rest only when the prompt names few kinds of
    object.
    Surface objects with nothing to stand on get their usual support.
    """
    template = catalog.ROOM_TEMPLATES[spec.room_type]
    objects = list(spec.objects)
    named_kinds = len({r.category for r in objects})
    named_families = {_family(r.category) for r in objects}
    excluded_families = {_family(c) for c in spec.excluded}
    deferred = []
    for item in template.items:
        family = _family(item.category)
        if item.category in spec.excluded or family in excluded_families:
            continue
        if family in named_families:
            continue
        if not item.core and named_kinds >= FEW_KINDS:
            continue
        if item.per is not None:
            deferred.append(item)
            continue
        objects.append(ObjectRequest(item.category, count=item.count, requested=False))
    for item in deferred:
        count = sum(r.count for r in objects if r.category == item.per)
        if count > 0:
            objects.append(ObjectRequest(item.category, count=count, requested=False))

    supports: list[ObjectRequest] = []
    present = {r.category for r in objects}
    for request in objects:
        entry = catalog.entry(request.category)
        if entry is None or (request.placement or entry.placement) != "surface":
            continue
        if request.on is not None and request.on in catalog.CATALOG:
            wanted: tuple[str, ...] = (request.on,)
        else:
            wanted = entry.parents
        if not wanted or any(p in present for p in wanted):
            continue
        if entry.wall_mountable and request.on is None:
            continue  # a tv with no stand goes on the wall
        for parent in wanted:
            if parent not in spec.excluded:
                supports.append(ObjectRequest(parent, count=1, requested=False))
                present.add(parent)
                break
    return replace(spec, objects=tuple(objects + supports))
