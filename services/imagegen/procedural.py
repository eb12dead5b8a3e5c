"""Procedural object images: the offline default image backend.

Each object gets a square RGB texture/reference image drawn from its material family
(wood, fabric, leather, metal, stone, marble, glass, plastic, ceramic, foliage) and
tinted by its colour. The material comes from ``obj.material``, else from words in
``obj.description``, else from a per-category default; the colour from ``obj.color``
(a colour name or ``#rrggbb``), else from colour words in the description, else from
the material's natural colour.

Everything is vectorised numpy seeded from a sha256 of the object's description,
material, colour and the seed, so the same input always yields byte-identical PNGs.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import math
import re
from collections.abc import Callable
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw

from services.imagegen import art
from services.imagegen.artwork import is_artwork
from shared import catalog
from shared.layout import PlacedObject

RGB = tuple[int, int, int]
FloatArray = np.ndarray

FAMILIES: tuple[str, ...] = (
    "wood",
    "fabric",
    "leather",
    "metal",
    "stone",
    "marble",
    "glass",
    "plastic",
    "ceramic",
    "foliage",
    "paper",
)

# Words naming a material, mapped to the family that renders it.
MATERIAL_WORDS: dict[str, str] = {
    **dict.fromkeys(
        (
            "wood wooden timber oak walnut pine maple teak birch mahogany beech ebony "
            "bamboo plywood rattan wicker cedar elm hardwood veneer driftwood rosewood "
            "acacia parquet cork"
        ).split(),
        "wood",
    ),
    **dict.fromkeys(
        (
            "fabric cloth cotton linen wool woolen woollen velvet upholstered upholstery "
            "textile polyester boucle tweed felt jute silk satin chenille denim canvas "
            "microfiber corduroy knit knitted sisal"
        ).split(),
        "fabric",
    ),
    **dict.fromkeys("leather suede nubuck leatherette pleather".split(), "leather"),
    **dict.fromkeys(
        (
            "metal metallic steel iron brass chrome chromed aluminium aluminum copper bronze "
            "nickel pewter titanium zinc tin stainless wrought gilded"
        ).split(),
        "metal",
    ),
    **dict.fromkeys(
        (
            "stone granite concrete slate travertine terrazzo limestone sandstone basalt "
            "cement brick pebble rock soapstone"
        ).split(),
        "stone",
    ),
    **dict.fromkeys("marble quartz onyx quartzite alabaster".split(), "marble"),
    **dict.fromkeys("glass crystal acrylic mirrored perspex".split(), "glass"),
    **dict.fromkeys(
        (
            "plastic vinyl resin polypropylene polycarbonate laminate melamine rubber "
            "silicone nylon"
        ).split(),
        "plastic",
    ),
    **dict.fromkeys(
        (
            "ceramic ceramics porcelain terracotta clay tile tiled stoneware earthenware "
            "glazed enamel enamelled enameled"
        ).split(),
        "ceramic",
    ),
    # Plant nouns ("fern", "leaf") are left to the category: "drop-leaf table".
    **dict.fromkeys("foliage leafy moss".split(), "foliage"),
    **dict.fromkeys("paper cardboard carton papier kraft".split(), "paper"),
    "wax": "ceramic",
    "food": "stone",
}

# What an object of a category is usually made of.
CATEGORY_FAMILIES: dict[str, str] = {
    **dict.fromkeys(
        (
            "bed sofa couch armchair loveseat sectional ottoman pouf beanbag rug carpet "
            "mat curtain curtains drape drapes blind pillow cushion blanket throw duvet "
            "quilt mattress headboard towel"
        ).split(),
        "fabric",
    ),
    **dict.fromkeys(
        (
            "table desk chair stool dresser wardrobe cabinet cupboard shelf shelves "
            "bookshelf bookcase nightstand sideboard console bench door frame crate "
            "chest drawer drawers vanity hutch cradle crib bedside stand piano"
        ).split(),
        "wood",
    ),
    **dict.fromkeys(
        (
            "lamp light chandelier sconce pendant lantern radiator fridge refrigerator "
            "oven stove microwave dishwasher washer dryer freezer faucet rack hanger "
            "fan heater safe"
        ).split(),
        "metal",
    ),
    **dict.fromkeys(
        "plant tree shrub bush fern cactus succulent bonsai flowers flower hedge".split(),
        "foliage",
    ),
    **dict.fromkeys(
        "vase pot planter bowl sink toilet bathtub tub basin mug cup plate teapot jar".split(),
        "ceramic",
    ),
    **dict.fromkeys(
        (
            "tv television monitor computer laptop speaker printer keyboard "
            "phone bin trashcan toy toys clock router"
        ).split(),
        "plastic",
    ),
    **dict.fromkeys("mirror window aquarium terrarium shower".split(), "glass"),
    **dict.fromkeys("painting artwork art poster picture canvas".split(), "fabric"),
    **dict.fromkeys("fireplace countertop column pillar statue sculpture".split(), "stone"),
    "recliner": "leather",
}

DEFAULT_FAMILY = "plastic"

# Colour names (lower case, words separated by single spaces) to sRGB.
COLOR_NAMES: dict[str, RGB] = {
    "white": (242, 242, 238),
    "off white": (236, 232, 220),
    "ivory": (240, 234, 214),
    "cream": (238, 228, 200),
    "beige": (222, 205, 175),
    "sand": (214, 194, 158),
    "tan": (196, 160, 118),
    "khaki": (189, 176, 130),
    "taupe": (150, 134, 118),
    "brown": (122, 82, 52),
    "chocolate": (88, 56, 36),
    "espresso": (62, 42, 30),
    "walnut": (101, 70, 45),
    "oak": (188, 146, 96),
    "honey": (200, 150, 80),
    "caramel": (176, 120, 66),
    "chestnut": (128, 70, 42),
    "mahogany": (112, 50, 36),
    "black": (28, 28, 30),
    "ebony": (40, 34, 30),
    "charcoal": (58, 60, 64),
    "graphite": (74, 76, 80),
    "grey": (128, 128, 128),
    "gray": (128, 128, 128),
    "light grey": (190, 190, 188),
    "light gray": (190, 190, 188),
    "dark grey": (80, 80, 82),
    "dark gray": (80, 80, 82),
    "slate": (92, 104, 116),
    "silver": (192, 194, 198),
    "red": (190, 40, 40),
    "dark red": (130, 24, 28),
    "crimson": (170, 22, 50),
    "burgundy": (110, 26, 42),
    "maroon": (118, 30, 36),
    "pink": (236, 160, 178),
    "blush": (232, 190, 186),
    "rose": (206, 112, 130),
    "coral": (240, 120, 96),
    "peach": (246, 190, 150),
    "orange": (232, 126, 40),
    "rust": (170, 78, 40),
    "terracotta": (190, 96, 64),
    "yellow": (236, 206, 60),
    "mustard": (206, 160, 40),
    "gold": (212, 172, 70),
    "brass": (190, 156, 80),
    "bronze": (150, 106, 60),
    "copper": (184, 110, 70),
    "green": (60, 140, 70),
    "dark green": (32, 80, 44),
    "forest green": (36, 84, 48),
    "emerald": (30, 130, 90),
    "sage": (156, 174, 142),
    "olive": (120, 120, 60),
    "mint": (170, 222, 190),
    "teal": (30, 120, 124),
    "turquoise": (64, 190, 190),
    "aqua": (110, 210, 214),
    "blue": (50, 90, 180),
    "light blue": (160, 196, 230),
    "sky blue": (130, 190, 230),
    "powder blue": (176, 204, 226),
    "royal blue": (44, 76, 176),
    "navy": (28, 40, 80),
    "navy blue": (28, 40, 80),
    "indigo": (60, 50, 120),
    "denim": (72, 100, 140),
    "purple": (110, 60, 140),
    "plum": (100, 50, 84),
    "lavender": (186, 170, 214),
    "lilac": (196, 162, 206),
    "magenta": (190, 40, 130),
    "mauve": (170, 130, 150),
}

# Natural colours of material words (used when no colour is named).
MATERIAL_COLORS: dict[str, RGB] = {
    "oak": (188, 146, 96),
    "walnut": (101, 70, 45),
    "pine": (214, 176, 120),
    "maple": (214, 180, 136),
    "teak": (160, 110, 60),
    "birch": (222, 196, 156),
    "cherry": (150, 78, 50),
    "mahogany": (112, 50, 36),
    "ebony": (40, 34, 30),
    "bamboo": (210, 180, 120),
    "rattan": (200, 160, 100),
    "wicker": (190, 150, 96),
    "cedar": (176, 106, 70),
    "rosewood": (110, 50, 40),
    "driftwood": (170, 160, 146),
    "cork": (190, 150, 104),
    "steel": (168, 172, 178),
    "stainless": (184, 188, 192),
    "iron": (72, 72, 76),
    "wrought": (52, 52, 56),
    "chrome": (210, 214, 220),
    "chromed": (210, 214, 220),
    "aluminium": (196, 200, 204),
    "aluminum": (196, 200, 204),
    "nickel": (176, 176, 168),
    "pewter": (140, 142, 140),
    "brass": (190, 156, 80),
    "copper": (184, 110, 70),
    "bronze": (150, 106, 60),
    "gilded": (212, 172, 70),
    "granite": (130, 126, 122),
    "concrete": (156, 154, 148),
    "cement": (156, 154, 148),
    "slate": (80, 88, 96),
    "travertine": (214, 200, 176),
    "limestone": (214, 206, 186),
    "sandstone": (206, 170, 124),
    "basalt": (60, 60, 62),
    "brick": (160, 76, 56),
    "terrazzo": (214, 208, 198),
    "onyx": (40, 40, 42),
    "terracotta": (190, 96, 64),
    "porcelain": (240, 240, 236),
    "clay": (176, 110, 78),
    "linen": (214, 204, 184),
    "jute": (180, 150, 104),
    "sisal": (196, 170, 124),
    "denim": (72, 100, 140),
    "canvas": (212, 200, 174),
    "suede": (150, 104, 70),
}

FAMILY_COLORS: dict[str, RGB] = {
    "wood": (160, 112, 70),
    "fabric": (150, 142, 130),
    "leather": (112, 68, 40),
    "metal": (170, 172, 176),
    "stone": (140, 136, 130),
    "marble": (232, 230, 226),
    "glass": (196, 218, 224),
    "plastic": (200, 200, 200),
    "ceramic": (236, 233, 226),
    "foliage": (66, 120, 48),
    "paper": (226, 218, 198),
}

_HEX = re.compile(r"#([0-9a-fA-F]{6}|[0-9a-fA-F]{3})\b")
_WORD = re.compile(r"[a-z]+")
_MODIFIERS = {"light": (1.0, 0.45), "pale": (1.0, 0.55), "dark": (0.55, 0.0), "deep": (0.7, 0.0)}


def _words(text: str | None) -> list[str]:
    return _WORD.findall(text.lower()) if text else []


def _color_in(text: str | None) -> RGB | None:
    """The first colour written in ``text``: a hex code or a (possibly modified) name."""
    if not text:
        return None
    lowered = text.lower()
    candidates: list[tuple[int, RGB]] = []
    match = _HEX.search(lowered)
    if match:
        digits = match.group(1)
        if len(digits) == 3:
            digits = "".join(c * 2 for c in digits)
        rgb = (int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16))
        candidates.append((match.start(), rgb))
    tokens = list(_WORD.finditer(lowered))
    words = [token.group() for token in tokens]
    for i, word in enumerate(words):
        following = words[i + 1] if i + 1 < len(words) else ""
        if f"{word} {following}" in COLOR_NAMES:
            found = COLOR_NAMES[f"{word} {following}"]
        elif word in _MODIFIERS and following in COLOR_NAMES:
            scale, toward_white = _MODIFIERS[word]
            found = _adjust(COLOR_NAMES[following], scale, toward_white)
        elif word in COLOR_NAMES:
            found = COLOR_NAMES[word]
        else:
            continue
        candidates.append((tokens[i].start(), found))
        break
    return min(candidates)[1] if candidates else None


def named_color(text: str | None) -> RGB | None:
    """The first colour written in ``text`` (a hex code or a colour name), or None."""
    return _color_in(text)


def _adjust(color: RGB, scale: float, toward_white: float) -> RGB:
    r, g, b = (c * scale for c in color)
    return (
        round(r + (255 - r) * toward_white),
        round(g + (255 - g) * toward_white),
        round(b + (255 - b) * toward_white),
    )


def _family_in(text: str | None) -> str | None:
    for word in _words(text):
        if word in MATERIAL_WORDS:
            return MATERIAL_WORDS[word]
        if word.endswith("s") and word[:-1] in MATERIAL_WORDS:
            return MATERIAL_WORDS[word[:-1]]
    return None


def _category_family(text: str | None) -> str | None:
    if not text:
        return None
    lowered = text.lower().strip()
    if lowered in CATEGORY_FAMILIES:
        return CATEGORY_FAMILIES[lowered]
    # The head noun usually comes last: "coffee table", "floor_lamp".
    for word in reversed(_words(lowered)):
        for candidate in (word, word[:-1] if word.endswith("s") else ""):
            if candidate in CATEGORY_FAMILIES:
                return CATEGORY_FAMILIES[candidate]
    # Else what the shared catalog says the category is usually made of.
    found = catalog.lookup(lowered)
    return _family_in(found.material) if found is not None else None


def material_family(obj: PlacedObject) -> str:
    """The material family an object is drawn with (one of :data:`FAMILIES`)."""
    if _category_family(obj.category) == "foliage" and _family_in(obj.description) in (
        None,
        "foliage",
    ):
        # A plant's material names its pot (the mesh draws the pot apart); its image
        # dresses the leaves.
        return "foliage"
    return (
        _family_in(obj.material)
        or _family_in(obj.description)
        or _category_family(obj.category)
        or _category_family(obj.description)
        or DEFAULT_FAMILY
    )


BLOSSOM_WORDS = frozenset("flowers flower bouquet roses tulips blossoms".split())


def base_color(obj: PlacedObject) -> RGB:
    """The object's main sRGB colour: named or hex colour, else its material's colour."""
    named = _color_in(obj.color) or _color_in(obj.description)
    if named is not None:
        return named
    if set(_words(obj.category)) & BLOSSOM_WORDS:
        return COLOR_NAMES["rose"]  # the image dresses the blossoms: no green flowers
    for word in (*_words(obj.material), *_words(obj.description)):
        if word in MATERIAL_COLORS:
            return MATERIAL_COLORS[word]
    return FAMILY_COLORS[material_family(obj)]


# Words asking for many colours at once.
MULTICOLOR_WORDS = frozenset(
    "colourful colorful multicoloured multicolored multicolour multicolor rainbow "
    "kaleidoscopic psychedelic patchwork".split()
)
# A multicoloured thing with no colours named gets these.
BRIGHT_COLORS: tuple[str, ...] = ("red", "orange", "yellow", "green", "sky blue", "purple", "pink")


def colors_in(text: str | None) -> list[RGB]:
    """Every colour written in ``text``, in order (hex codes and names)."""
    if not text:
        return []
    found: list[tuple[int, RGB]] = []
    lowered = text.lower()
    for match in _HEX.finditer(lowered):
        digits = match.group(1)
        if len(digits) == 3:
            digits = "".join(c * 2 for c in digits)
        found.append(
            (match.start(), (int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)))
        )
    tokens = list(_WORD.finditer(lowered))
    words = [token.group() for token in tokens]
    skip = False
    for i, word in enumerate(words):
        if skip:
            skip = False
            continue
        following = words[i + 1] if i + 1 < len(words) else ""
        if f"{word} {following}" in COLOR_NAMES:
            found.append((tokens[i].start(), COLOR_NAMES[f"{word} {following}"]))
            skip = True
        elif word in _MODIFIERS and following in COLOR_NAMES:
            scale, toward_white = _MODIFIERS[word]
            found.append((tokens[i].start(), _adjust(COLOR_NAMES[following], scale, toward_white)))
            skip = True
        elif word in COLOR_NAMES:
            found.append((tokens[i].start(), COLOR_NAMES[word]))
    colours: list[RGB] = []
    for _, colour in sorted(found, key=lambda item: item[0]):
        if colour not in colours:
            colours.append(colour)
    return colours


def _multicolor(text: str | None) -> bool:
    words = _words(text)
    joined = set(words) | {a + b for a, b in itertools.pairwise(words)}
    return bool(joined & MULTICOLOR_WORDS)


# Soft furnishings that carry a colourful room's colours.
TEXTILE_WORDS = frozenset(
    "rug rugs mat mats carpet runner cushion cushions pillow pillows throw blanket "
    "quilt curtain curtains drapes beanbag pouf ottoman bunting flag banner".split()
)


def _room_style_only(text: str | None) -> bool:
    """Whether every colourful word in ``text`` is a style ("colourful style")."""
    words = _words(text)
    for i, word in enumerate(words):
        joined = word + (words[i + 1] if i + 1 < len(words) else "")
        if word in MULTICOLOR_WORDS or joined in MULTICOLOR_WORDS:
            step = 2 if joined in MULTICOLOR_WORDS and word not in MULTICOLOR_WORDS else 1
            following = words[i + step] if i + step < len(words) else ""
            if following not in ("style", "styled", "theme", "themed", "decor"):
                return False
    return True


def palette(obj: PlacedObject) -> list[RGB] | None:
    """The colours of an object asked to be colourful ("colourful mats", "a rainbow rug",
    "multicoloured red and yellow cushions"), or None for a one-colour object."""
    if not (_multicolor(obj.description) or _multicolor(obj.color)):
        return None
    if _room_style_only(obj.description) and not _multicolor(obj.color):
        # "..., colourful style" describes the room: its textiles carry the colours,
        # a pool table or a cabinet keeps its own.
        if not set(_words(obj.category)) & TEXTILE_WORDS:
            return None
    named = colors_in(obj.description)
    if len(named) >= 2:
        return named
    bright = [COLOR_NAMES[name] for name in BRIGHT_COLORS]
    return [*named, *(c for c in bright if c not in named)]


def color_field(
    rng: np.random.Generator, size: int, colors: list[RGB], *, stripes: bool
) -> np.ndarray:
    """A (3, size, size) float32 field of ``colors`` (one plane per channel): bands of
    varied width (woven things) or a patchwork of blocks (everything else)."""
    table = np.asarray(colors, dtype=np.float32)
    order = rng.permutation(len(colors))
    if stripes:
        widths = rng.uniform(0.04, 0.14, 40)
        edges = np.cumsum(widths) / widths.sum() * 2.0  # twice over, so colours repeat
        band = np.searchsorted(edges, (np.arange(size) + 0.5) / size * 2.0)
        rows = table[order[band % len(colors)]].T  # (3, size)
        return np.ascontiguousarray(np.broadcast_to(rows[:, :, None], (3, size, size)))
    cells = int(rng.integers(3, 6))
    pick = rng.integers(0, len(colors), (cells, cells))
    step = -(-size // cells)
    grid = np.moveaxis(table[pick], 2, 0)  # (3, cells, cells)
    field = np.repeat(np.repeat(grid, step, axis=1), step, axis=2)[:, :size, :size]
    return np.ascontiguousarray(field)


def _frame_border(obj: PlacedObject) -> tuple[float, float]:
    """The frame's width as fractions of the picture, matching the framed mesh
    (a frame of at most 6 cm, at most a tenth of the shorter side)."""
    w, h, _ = obj.size
    border = min(0.06, 0.1 * min(w, h))
    return border / w, border / h


def artwork(obj: PlacedObject, rng: np.random.Generator, size: int) -> np.ndarray:
    """The picture of a painting or poster, in its frame: its own composition, in the
    colours its description names, in the style it asks for."""
    words = _words(obj.description)
    style = next((art.STYLE_WORDS[w] for w in words if w in art.STYLE_WORDS), None)
    named = colors_in(obj.description)
    if not named and obj.color:
        named = colors_in(obj.color)
    frame_word = next((w for w in words if w in art.FRAME_COLORS), None)
    frame = (
        art.FRAME_COLORS[frame_word]
        if frame_word
        else art.FRAME_COLORS[("black", "oak", "gold", "white", "walnut")[int(rng.integers(0, 5))]]
    )
    poster = "poster" in words or "poster" in _words(obj.category)
    return art.picture(
        rng,
        size,
        named[:3],
        style=style,
        poster=poster,
        frame=frame,
        border=_frame_border(obj),
    )


# --------------------------------------------------------------------------- noise


@lru_cache(maxsize=64)
def _ramp(factor: int) -> np.ndarray:
    """Smoothstep weights of the ``factor`` pixels inside one lattice cell."""
    t = (np.arange(factor, dtype=np.float32) + 0.5) / factor
    ramp = t * t * (3.0 - 2.0 * t)
    ramp.setflags(write=False)
    return ramp


def _upsample(lattice: FloatArray, factor_y: int, factor_x: int) -> FloatArray:
    """Smoothstep interpolation of a wrapping lattice, each cell becoming fy × fx pixels."""
    if factor_y > 1:
        lattice = _grow(lattice, factor_y, axis=0)
    if factor_x > 1:
        lattice = _grow(lattice, factor_x, axis=1)
    return lattice


def _grow(lattice: FloatArray, factor: int, axis: int) -> FloatArray:
    """Interpolate ``factor`` samples per lattice step along ``axis`` (wrapping)."""
    rows, cols = lattice.shape
    step = np.roll(lattice, -1, axis=axis) - lattice
    ramp = _ramp(factor)
    if factor <= 8:
        # Few samples per cell: one strided slice per sub-sample.
        shape = (rows * factor, cols) if axis == 0 else (rows, cols * factor)
        grown = np.empty(shape, dtype=np.float32)
        for k in range(factor):
            part = grown[k::factor] if axis == 0 else grown[:, k::factor]
            np.multiply(step, ramp[k], out=part)
            part += lattice
        return grown
    # Many samples per cell: broadcast, accumulating in place (adding a broadcast
    # operand to a fresh product is far slower in numpy than ``out += operand``).
    if axis == 0:
        expanded = step[:, None, :] * ramp[None, :, None]
        expanded += lattice[:, None, :]
        return expanded.reshape(rows * factor, cols)
    expanded = step[:, :, None] * ramp[None, None, :]
    expanded += lattice[:, :, None]
    return expanded.reshape(rows, cols * factor)


def _to_size(lattice: FloatArray, size: int) -> FloatArray:
    cells_y, cells_x = lattice.shape
    full = _upsample(lattice, -(-size // cells_y), -(-size // cells_x))
    return full[:size, :size]


def _noise(rng: np.random.Generator, size: int, cells_x: int, cells_y: int) -> FloatArray:
    """Value noise in [0, 1] with ``cells_x`` × ``cells_y`` lattice cells."""
    cells_x = max(1, min(cells_x, size))
    cells_y = max(1, min(cells_y, size))
    return _to_size(rng.random((cells_y, cells_x), dtype=np.float32), size)


def _fbm(
    rng: np.random.Generator,
    size: int,
    cells: tuple[int, int],
    octaves: int,
    gain: float = 0.5,
) -> FloatArray:
    """Fractal value noise with zero mean and roughly unit deviation.

    Octaves double the lattice each time; they are summed on the finest lattice and
    interpolated to full size once.
    """
    cx, cy = max(1, cells[0]), max(1, cells[1])
    while octaves > 1 and max(cx, cy) << (octaves - 1) > size:
        octaves -= 1
    top = 1 << (octaves - 1)
    total = np.zeros((cy * top, cx * top), dtype=np.float32)
    amplitude = 1.0
    for octave in range(octaves):
        scale = 1 << octave
        lattice = rng.random((cy * scale, cx * scale), dtype=np.float32)
        layer = _upsample(lattice, top // scale, top // scale)
        layer *= np.float32(amplitude)
        total += layer
        amplitude *= gain
    return _to_size(_standardise(total), size)


def _standardise(values: FloatArray) -> FloatArray:
    values = values - values.mean()
    deviation = float(values.std())
    return values / deviation if deviation > 1e-6 else values


def _grid(size: int) -> tuple[FloatArray, FloatArray]:
    """Pixel-centre coordinates in [0, 1): x as a row, y as a column (broadcastable)."""
    line = (np.arange(size, dtype=np.float32) + 0.5) / size
    return line[None, :], line[:, None]


def _smoothstep(edge0: float, edge1: float, values: FloatArray) -> FloatArray:
    # In place where possible: fresh full-size temporaries cost page faults.
    t = values - np.float32(edge0)
    t *= np.float32(1.0 / (edge1 - edge0))
    np.clip(t, 0.0, 1.0, out=t)
    result = t * np.float32(-2.0)
    result += np.float32(3.0)
    result *= t
    result *= t
    return result


# ------------------------------------------------------------------------ families
# Each renderer returns (shade, highlight): ``shade`` multiplies the base colour (it is
# normalised to mean 1 afterwards so the image keeps the tint), ``highlight`` in [0, 1]
# blends towards white on top.

Rendered = tuple[FloatArray, FloatArray | None]


def _wood(rng: np.random.Generator, size: int, color: RGB) -> Rendered:
    x, y = _grid(size)
    rings = rng.uniform(7.0, 14.0)
    slant = rng.uniform(-0.5, 0.5)
    warp = _fbm(rng, size, (1, 3), 3)
    phase = y * rings + x * slant + 0.3 * warp
    band = 0.5 + 0.5 * np.cos((2.0 * math.pi) * phase)
    band *= band
    late_wood = band * band * band  # thin dark late-wood rings
    streaks = _fbm(rng, size, (2, 64), 2)  # long fibres along x
    mottle = _fbm(rng, size, (4, 4), 2)
    shade = 1.0 - 0.32 * late_wood + 0.05 * streaks + 0.04 * mottle
    return shade, None


def _fabric(rng: np.random.Generator, size: int, color: RGB) -> Rendered:
    period = max(4, size // 64)
    idx = np.arange(size)
    cell = idx // period
    within = ((idx % period) + 0.5) / period
    bump = np.sqrt(np.sin(math.pi * within)).astype(np.float32)
    count = size // period + 1
    warp_tone = rng.normal(0.0, 0.05, count).astype(np.float32)[cell]
    weft_tone = rng.normal(0.0, 0.05, count).astype(np.float32)[cell]
    # Plain weave: warp (vertical) threads lie on top where the cell parity is odd.
    warp_on_top = ((cell[:, None] + cell[None, :]) % 2).astype(bool)
    warp_shade = 0.62 + 0.38 * bump[None, :] + warp_tone[None, :]
    weft_shade = 0.62 + 0.38 * bump[:, None] + weft_tone[:, None]
    shade = np.where(warp_on_top, warp_shade, weft_shade)
    shade += 0.04 * _fbm(rng, size, (6, 6), 3)
    return shade, None


def _leather(rng: np.random.Generator, size: int, color: RGB) -> Rendered:
    mottle = _fbm(rng, size, (4, 4), 3)
    pebble = _fbm(rng, size, (64, 64), 1)
    ridges = np.abs(_fbm(rng, size, (10, 10), 3))
    creases = _smoothstep(0.12, 0.0, ridges)  # thin lines where the noise crosses zero
    sheen = _noise(rng, size, 2, 2)
    shade = 1.0 + 0.08 * mottle + 0.025 * pebble - 0.22 * creases
    return shade, 0.1 * sheen


def _metal(rng: np.random.Generator, size: int, color: RGB) -> Rendered:
    x, y = _grid(size)
    streaks = _fbm(rng, size, (2, 128), 2, gain=0.7)  # brushing along x
    fine = _noise(rng, size, 8, 256)
    centre = rng.uniform(0.25, 0.75)
    width = rng.uniform(0.12, 0.25)
    band = np.exp(-np.square((y - centre - 0.15 * (x - 0.5)) * (1.0 / width)))
    shade = 0.92 + 0.07 * streaks + 0.1 * fine + 0.12 * (1.0 - y)
    highlight = band * (0.3 + 0.03 * streaks)
    return shade, highlight


def _stone(rng: np.random.Generator, size: int, color: RGB) -> Rendered:
    grain = _fbm(rng, size, (8, 8), 5, gain=0.6)
    cloud = _fbm(rng, size, (3, 3), 3)
    speck = _noise(rng, size, 128, 128)
    dark = _smoothstep(0.2, 0.08, speck)
    light = _smoothstep(0.8, 0.92, speck)
    shade = 1.0 + 0.06 * grain + 0.06 * cloud - 0.35 * dark + 0.25 * light
    return shade, None


def _marble(rng: np.random.Generator, size: int, color: RGB) -> Rendered:
    x, y = _grid(size)
    turbulence = _fbm(rng, size, (3, 3), 5, gain=0.55)
    angle = rng.uniform(0.0, math.pi)
    frequency = rng.uniform(2.0, 4.0)
    along = x * math.cos(angle) + y * math.sin(angle)
    main = 1.0 - np.abs(np.sin(math.pi * (along * frequency + 0.35 * turbulence)))
    fine = 1.0 - np.abs(np.sin(math.pi * (along * (frequency * 3.1) + 0.6 * turbulence)))
    main4 = np.square(np.square(main))
    fine4 = np.square(np.square(fine))
    veins = 0.7 * main4 * main4 * main + 0.3 * fine4 * fine4 * fine4  # sharp ridges
    cloud = _fbm(rng, size, (4, 4), 2)
    if sum(color) / 765.0 < 0.35:
        # Dark stone has pale veins.
        return 1.0 + 0.04 * cloud, 0.75 * veins
    return 1.0 + 0.03 * cloud - 0.45 * veins, None


def _glass(rng: np.random.Generator, size: int, color: RGB) -> Rendered:
    x, y = _grid(size)
    tilt = rng.uniform(0.3, 0.7)
    gradient = x * tilt + y * (1.0 - tilt)
    first = rng.uniform(0.25, 0.5)
    second = first + rng.uniform(0.2, 0.35)
    diagonal = x + y * 0.6
    glints = 0.55 * np.exp(-np.square((diagonal - first) * (1.0 / 0.035))) + 0.3 * np.exp(
        -np.square((diagonal - second) * (1.0 / 0.02))
    )
    return 1.08 - 0.16 * gradient, 0.4 + 0.2 * (1.0 - gradient) + glints


def _plastic(rng: np.random.Generator, size: int, color: RGB) -> Rendered:
    _, y = _grid(size)
    soft = _fbm(rng, size, (4, 4), 2)
    fine = _noise(rng, size, 128, 128)
    return 1.0 + 0.02 * soft + 0.03 * fine + 0.04 * (0.5 - y), None


def _ceramic(rng: np.random.Generator, size: int, color: RGB) -> Rendered:
    x, y = _grid(size)
    glaze = _fbm(rng, size, (3, 3), 3)
    specks = _smoothstep(0.07, 0.03, _noise(rng, size, 128, 128))  # sparse glaze specks
    highlight = np.zeros((size, size), dtype=np.float32)
    for _ in range(int(rng.integers(2, 5))):
        cx, cy = rng.uniform(0.1, 0.9, 2)
        rx, ry = rng.uniform(0.03, 0.12, 2)
        strength = rng.uniform(0.35, 0.7)
        # Separable gaussian: an outer product of a column and a row.
        column = np.exp(-np.square((y - cy) * (1.0 / ry)))
        row = np.exp(-np.square((x - cx) * (1.0 / rx)))
        highlight += (strength * column) * row
    shade = 1.0 + 0.05 * glaze - 0.15 * specks + 0.08 * (0.5 - y)
    return shade, highlight


def _foliage(rng: np.random.Generator, size: int, color: RGB) -> Rendered:
    # Leaves are pointed ellipses drawn in grey levels onto a dark background (the
    # shadow between leaves); later leaves overlap earlier ones.
    count = 150
    length = rng.uniform(0.1, 0.2, count) * size
    width = length * rng.uniform(0.28, 0.42, count)
    centre = rng.uniform(-0.05, 1.05, (count, 2)) * size
    angle = rng.uniform(0.0, 2.0 * math.pi, count)
    tone = rng.uniform(0.55, 1.35, count)
    u = np.linspace(0.0, 1.0, 12)
    half = np.sin(math.pi * u) ** 0.8
    # Outline in leaf coordinates: along the upper edge, then back along the lower one.
    along = np.concatenate([u, u[::-1]]) - 0.5
    across = np.concatenate([half, -half[::-1]]) * 0.5
    cos, sin = np.cos(angle)[:, None], np.sin(angle)[:, None]
    lx = along[None, :] * length[:, None]
    ly = across[None, :] * width[:, None]
    px = (centre[:, :1] + lx * cos - ly * sin).tolist()
    py = (centre[:, 1:] + lx * sin + ly * cos).tolist()
    canvas = Image.new("L", (size, size), 40)
    draw = ImageDraw.Draw(canvas)
    rib_width = max(1, size // 256)
    levels = np.minimum(255.0, 150.0 * tone).astype(int).tolist()
    for k in range(count):
        draw.polygon(list(zip(px[k], py[k], strict=True)), fill=levels[k])
        midrib = [(px[k][0], py[k][0]), (px[k][11], py[k][11])]
        draw.line(midrib, fill=min(255, levels[k] + 30), width=rib_width)
    shade = np.asarray(canvas, dtype=np.float32) * (1.0 / 150.0)
    shade *= 1.0 + 0.06 * _fbm(rng, size, (16, 16), 2)
    return shade, None


def _paper(rng: np.random.Generator, size: int, color: RGB) -> Rendered:
    fibres = _fbm(rng, size, (48, 6), 2)  # short fibres across
    cloud = _fbm(rng, size, (4, 4), 3)
    speck = _smoothstep(0.06, 0.02, _noise(rng, size, 160, 160))
    return 1.0 + 0.025 * fibres + 0.04 * cloud - 0.12 * speck, None


_RENDERERS: dict[str, Callable[[np.random.Generator, int, RGB], Rendered]] = {
    "wood": _wood,
    "fabric": _fabric,
    "leather": _leather,
    "metal": _metal,
    "stone": _stone,
    "marble": _marble,
    "glass": _glass,
    "plastic": _plastic,
    "ceramic": _ceramic,
    "foliage": _foliage,
    "paper": _paper,
}


def _rng_for(obj: PlacedObject, seed: int) -> np.random.Generator:
    parts: list[object] = [obj.description, obj.material, obj.color, int(seed)]
    if is_artwork(obj):
        # Two paintings of one description in one room are still two pictures.
        parts += [obj.id, obj.category]
    key = json.dumps(parts)
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return np.random.default_rng(int.from_bytes(digest[:16], "little"))


def render(
    family: str,
    color: RGB,
    rng: np.random.Generator,
    size: int,
    field: np.ndarray | None = None,
) -> np.ndarray:
    """An (size, size, 3) uint8 image of ``family`` tinted by ``color``, or by a per-pixel
    (3, size, size) colour ``field`` (several colours) when one is given."""
    if family not in _RENDERERS:
        raise ValueError(f"unknown material family {family!r}; expected one of {FAMILIES}")
    shade, highlight = _RENDERERS[family](rng, size, color)
    shade = np.broadcast_to(np.asarray(shade, dtype=np.float32), (size, size))
    mean = float(shade.mean())
    norm = np.float32(1.0 / (mean if mean > 1e-6 else 1.0))
    scale = np.asarray(color, dtype=np.float32) * norm
    keep = add = None
    if highlight is not None:
        # Blend towards white: value * (1 - lift) + 255 * lift.
        lift = np.clip(np.broadcast_to(highlight, (size, size)), 0.0, 1.0)
        keep = 1.0 - lift
        add = 255.0 * lift + 0.5
    plane = np.empty((size, size), dtype=np.float32)
    pixels = np.empty((size, size, 3), dtype=np.uint8)
    for channel in range(3):
        if field is None:
            np.multiply(shade, scale[channel], out=plane)
        else:
            np.multiply(shade, field[channel], out=plane)
            plane *= norm
        if keep is not None and add is not None:
            plane *= keep
            plane += add
        else:
            plane += np.float32(0.5)
        np.clip(plane, 0.0, 255.0, out=plane)
        pixels[:, :, channel] = plane  # truncation after the +0.5 rounds
    return pixels


def encode_png(pixels: np.ndarray) -> bytes:
    """An 8-bit RGB PNG of an (h, w, 3) uint8 array; fast deflate, as textures are re-read often."""
    if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype != np.uint8:
        raise ValueError("expected an (h, w, 3) uint8 array")
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def object_image(obj: PlacedObject, seed: int = 0, size: int = 512) -> bytes:
    """A ``size`` × ``size`` RGB PNG of the object: its material in its colour (or its
    colours, for a colourful one), or for a painting or poster, a picture of its own."""
    if not 8 <= size <= 4096:
        raise ValueError(f"image size must be between 8 and 4096 pixels, got {size}")
    rng = _rng_for(obj, seed)
    if is_artwork(obj):
        return encode_png(artwork(obj, rng, size))
    family = material_family(obj)
    colors = palette(obj)
    if colors is None:
        return encode_png(render(family, base_color(obj), rng, size))
    field = color_field(rng, size, colors, stripes=family == "fabric")
    mean = tuple(round(float(c)) for c in field.reshape(3, -1).mean(axis=1))
    return encode_png(render(family, (mean[0], mean[1], mean[2]), rng, size, field))
