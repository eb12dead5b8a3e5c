"""Sizes written as numbers in a prompt ("4 by 5 meters", "12x15 ft", "30 square
meters", "3 m wide", "2.7 m ceilings"), cut out of the text before it is split into
words, and the text's words themselves."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from shared.layout import Vec3

FEET = 0.3048
# A bare number bigger than this is feet, not metres ("a 12 by 15 living room").
BARE_METRES_MAX = 12


def normalise(prompt: str) -> str:
    """Lower case, typographic quotes and signs made plain, accents dropped ("café")."""
    text = prompt.lower()
    for old, new in (("’", "'"), ("‘", "'"), ("×", " x "), ("²", "2"), ("“", '"'), ("”", '"')):
        text = text.replace(old, new)
    decomposed = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
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
ROOM_SIZE_PREDICATE = re.compile(
    r"\b(?:room|space|it)\s+(?:is|feels|should be|must be)\s+"
    r"(?:very\s+|quite\s+|fairly\s+|rather\s+|really\s+|pretty\s+)?([a-z]+)"
)
NUMBER_WORD = (
    r"(\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
    r"thirteen|fourteen|fifteen|sixteen|eighteen|twenty|thirty)"
)
SEATS_FOR = re.compile(
    rf"\b(?:table|seating|seats|room|area)\s+for\s+{NUMBER_WORD}\b"
    rf"|\bfor\s+{NUMBER_WORD}\s+(?:people|persons|guests|diners|students|pupils|kids|children)\b"
)
TOKEN = re.compile(r"__dim\d+|[a-z]+|\d+(?:\.\d+)?|[,.;:!?()]")


def _unit_factor(unit: str | None, values: list[float]) -> float:
    if unit is None:
        # Bare numbers are metres unless they are too big for a room in metres.
        return FEET if min(values) > BARE_METRES_MAX else 1.0
    if unit.startswith("c"):
        return 0.01
    if unit.startswith(("f", "'", "′")):
        return FEET
    return 1.0


@dataclass
class Dimensions:
    """Sizes written as numbers, cut out of the text before it is tokenised."""

    pairs: list[Vec3 | tuple[float, float]] = field(default_factory=list)
    width: float | None = None
    depth: float | None = None
    area: float | None = None
    height: float | None = None


def extract(text: str) -> tuple[str, Dimensions]:
    dims = Dimensions()

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


def tokens(text: str) -> list[str]:
    text = re.sub(r"(\w)'s\b", r"\1s", text)
    text = re.sub(r"(\w)s'", r"\1s", text)
    text = text.replace("'", " ").replace("-", " ").replace("/", " ")
    return TOKEN.findall(text)
