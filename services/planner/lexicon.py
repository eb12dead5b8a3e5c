"""The words the rule-based understanding knows: colours, materials, styles, sizes,
numbers, the phrases of placement rules, and one table of every phrase with what it
names (an object category from the shared catalog, a room type, a colour, ...)."""

from __future__ import annotations

from shared import catalog

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
            "gothic colonial baroque cottage"
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
        "minimum maximum total beam beams rafter rafters skylight skylights moulding "
        "mouldings molding moldings trim panelling paneling wainscoting alcove alcoves "
        "niche niches archway archways"
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
        "real fake pretty ugly tall short long round square wide sturdy matching extra main "
        "favourite favorite spare little classic standard basic proper decent fine shiny "
        "soft hard heavy light lightweight thin thick slim empty full busy quiet lively "
        "sleek elegant fancy cheap expensive gorgeous stunning huge massive mini various "
        "assorted different several numerous individual separate single double triple "
        "upright folded stacked colorful colourful wooden metallic neat big small low high"
    ).split()
)
ADJECTIVE_SUFFIXES = ("ly", "ful", "ous", "ive", "ish", "able", "ible", "less", "ic")


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
MAX_RELATION = max(len(k) for k in (*ROOM_RULE_PHRASES, *RELATION_PHRASES, *BESIDE_IT))

# --------------------------------------------------------------------------- the phrase table

Kind = str
PHRASES: dict[tuple[str, ...], tuple[Kind, object]] = {}
# Phrases that name a room type (some also name an object: "bar").
ROOM_PHRASES: set[tuple[str, ...]] = set()


def _add(phrase: str, kind: Kind, value: object) -> None:
    PHRASES.setdefault(tuple(phrase.split()), (kind, value))


for _p, (_cat, _plural) in catalog.phrases().items():
    if _p not in catalog.context():
        _add(_p, "object", (_cat, _plural))
        if " " in _p:
            _add(_p.replace(" ", ""), "object", (_cat, _plural))  # "coffeetable"
for _p in catalog.context():
    _add(_p, "context", _p)
for _p, _room in catalog.room_phrases().items():
    _add(_p, "room", _room)
    _words = _p.split()
    _add(" ".join([*_words[:-1], catalog.plural(_words[-1])]), "room", _room)
    ROOM_PHRASES.add(tuple(_p.split()))
for _p in GENERIC_ROOM_WORDS:
    _add(_p, "room", None)
for _p in catalog.room_heads():
    _add(_p, "room", None)  # "a wine cellar", "a card room": a room by its head noun
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
MAX_PHRASE = max(len(k) for k in PHRASES)


def match(tokens: list[str], i: int) -> tuple[int, Kind, object]:
    """The longest known phrase starting at ``tokens[i]``: (length, kind, value)."""
    for n in range(min(MAX_PHRASE, len(tokens) - i), 0, -1):
        hit = PHRASES.get(tuple(tokens[i : i + n]))
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


def phrase_at(
    tokens: list[str], i: int, table: dict[tuple[str, ...], str]
) -> tuple[int, str] | None:
    """The longest phrase of ``table`` starting at ``tokens[i]``: (length, value)."""
    for n in range(min(MAX_RELATION, len(tokens) - i), 0, -1):
        hit = table.get(tuple(tokens[i : i + n]))
        if hit is not None:
            return n, hit
    return None


def is_noun(word: str) -> bool:
    """Whether an unknown word may be the noun that names an object."""
    if not word.isalpha() or len(word) < 3:
        return False
    if word in STOP_WORDS or word in STOP_NOUNS or word in VAGUE_ADJECTIVES:
        return False
    if (word,) in PHRASES:
        return False
    if word.endswith(ADJECTIVE_SUFFIXES) and len(word) > 5:
        return False
    return not (word.endswith(("ing", "ed")) and len(word) > 6)


def is_adjective(word: str) -> bool:
    """Whether an unknown word may describe an object."""
    return (
        word.isalpha()
        and word not in STOP_WORDS
        and word not in STOP_NOUNS
        and word not in BREAKERS
    )
