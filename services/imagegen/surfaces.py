"""Material textures for a room's floor and walls: wood planks, tiles, carpet, concrete,
stone flags, marble, brick, plaster, wallpaper, wall panelling, vinyl.

``surface_texture(material, wall=...)`` reads a finish as the layout names it ("oak",
"white tile", "grey carpet", "exposed brick", "#d8c8a8 plaster") and returns a square
texture that tiles seamlessly in both directions, with the number of metres one copy
spans, so the room shell can repeat it at true scale. Colours come from the same colour
table as the object images; everything is seeded from the material text, so a finish
always looks the same.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from services.imagegen import procedural as pg

RGB = tuple[int, int, int]

# Finish words → the pattern that draws them.
KIND_WORDS: dict[str, str] = {
    **dict.fromkeys(
        "oak walnut maple pine cherry teak birch bamboo wood wooden hardwood parquet "
        "laminate timber floorboards boards plank planks ash beech mahogany".split(),
        "planks",
    ),
    **dict.fromkeys(
        "tile tiles tiled ceramic porcelain terracotta checkered checkerboard chequered".split(),
        "tiles",
    ),
    **dict.fromkeys("carpet carpeted wool rug shag berber".split(), "carpet"),
    **dict.fromkeys("concrete cement screed polished microcement".split(), "concrete"),
    **dict.fromkeys(
        "stone slate granite travertine limestone flagstone flagstones sandstone cobblestone "
        "cobblestones flags".split(),
        "flagstones",
    ),
    **dict.fromkeys("marble terrazzo quartz".split(), "marble"),
    **dict.fromkeys("brick bricks brickwork exposed".split(), "brick"),
    **dict.fromkeys("plaster paint painted drywall stucco render limewash".split(), "plaster"),
    **dict.fromkeys("wallpaper wallpapered striped damask".split(), "wallpaper"),
    **dict.fromkeys(
        "panel panels paneling panelling wainscot wainscoting shiplap".split(), "panelling"
    ),
    **dict.fromkeys("vinyl linoleum lino rubber epoxy".split(), "vinyl"),
}

# Metres one copy of each pattern spans (it holds whole planks, tiles, bricks).
SPANS: dict[str, float] = {
    "planks": 1.12,
    "tiles": 1.2,
    "carpet": 1.0,
    "concrete": 2.0,
    "flagstones": 1.8,
    "marble": 1.2,
    "brick": 0.9,
    "plaster": 2.0,
    "wallpaper": 0.8,
    "panelling": 1.2,
    "vinyl": 1.0,
}

DEFAULT_COLORS: dict[str, RGB] = {
    "planks": (176, 134, 88),
    "tiles": (220, 216, 208),
    "carpet": (150, 140, 128),
    "concrete": (156, 154, 148),
    "flagstones": (150, 146, 138),
    "marble": (232, 230, 226),
    "brick": (160, 76, 56),
    "plaster": (236, 232, 224),
    "wallpaper": (226, 216, 196),
    "panelling": (176, 134, 88),
    "vinyl": (190, 184, 172),
}

# Words that name a colour of their own only as a finish ("terracotta tile").
_FINISH_COLORS: dict[str, RGB] = {
    "terracotta": (190, 96, 64),
    "slate": (80, 88, 96),
    "rubber": (52, 54, 58),
    "epoxy": (150, 154, 160),
}


@dataclass(frozen=True)
class Surface:
    """A seamless square texture (``pixels``: (n, n, 3) uint8) spanning ``span`` metres."""

    kind: str
    color: RGB
    span: float
    pixels: np.ndarray


def surface_kind(material: str, *, wall: bool) -> str:
    """The pattern a finish is drawn with (planks for an unknown floor, plaster for an
    unknown wall)."""
    words = [w.rstrip("s") if w.rstrip("s") in KIND_WORDS else w for w in pg._words(material)]
    # The last finish word decides: "oak-look vinyl" is vinyl, "white tile" is tiles.
    for word in reversed(words):
        if word in KIND_WORDS:
            return KIND_WORDS[word]
    return "plaster" if wall else "planks"


def surface_color(material: str, kind: str) -> RGB:
    """The finish's colour: a colour it names, else its material's colour, else the
    pattern's usual one."""
    named = pg.named_color(material)
    if named is not None:
        return named
    for word in pg._words(material):
        if word in _FINISH_COLORS:
            return _FINISH_COLORS[word]
        if word in pg.MATERIAL_COLORS:
            return pg.MATERIAL_COLORS[word]
    return DEFAULT_COLORS[kind]


def _rng(material: str, wall: bool) -> np.random.Generator:
    digest = hashlib.sha256(f"{material}|{wall}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:16], "little"))


def _lines(size: int, count: int, width: int) -> np.ndarray:
    """A boolean mask of ``count`` evenly spaced lines ``width`` pixels wide (rows)."""
    pitch = size / count
    rows = np.arange(size)
    return (rows % pitch) < width


def _planks(rng: np.random.Generator, n: int, color: RGB, vertical: bool = False) -> np.ndarray:
    rows = 8
    pitch = n // rows
    shade = np.empty((n, n), dtype=np.float32)
    grain, _ = pg._wood(rng, n, color)
    grain = np.asarray(grain, dtype=np.float32)
    # Boards are cut across the log: squeeze the rings so each board shows several.
    squeeze = 3
    joint = max(1, n // 256)
    for r in range(rows):
        band = slice(r * pitch, (r + 1) * pitch if r < rows - 1 else n)
        shift = int(rng.integers(0, n))
        start = int(rng.integers(0, n))
        height = band.stop - band.start
        source = grain[(start + squeeze * np.arange(height)) % n]
        shade[band] = np.roll(source, shift, axis=1) * np.float32(rng.uniform(0.84, 1.14))
        # The end joint of each row's boards, staggered from row to row.
        for x in (shift % n, (shift + n // 2) % n):
            shade[band, x : x + joint] *= 0.55
        shade[r * pitch : r * pitch + joint] *= 0.5
    if vertical:
        shade = np.ascontiguousarray(shade.T)
    return shade


def _tiles(rng: np.random.Generator, n: int, count: int) -> np.ndarray:
    grout = max(2, n // 128)
    cell = n // count
    index = np.arange(n) // cell
    tone = rng.uniform(0.95, 1.05, (count, count)).astype(np.float32)
    shade = tone[index[:, None] % count, index[None, :] % count]
    fine = pg._fbm(rng, n, (16, 16), 3)
    shade = (shade * (1.0 + 0.015 * fine)).astype(np.float32)
    line = (np.arange(n) % cell) < grout
    mask = line[:, None] | line[None, :]
    return np.where(mask, np.float32(0.72), shade).astype(np.float32)


def _checker(shade: np.ndarray, n: int, count: int, first: RGB, second: RGB) -> np.ndarray:
    """Tiles alternating between two colours (grout keeps the shade's own darkening)."""
    index = np.arange(n) // (n // count)
    parity = ((index[:, None] + index[None, :]) % 2 == 1)[:, :, None]
    colours = np.where(parity, np.asarray(first, np.float32), np.asarray(second, np.float32))
    pixels = colours * shade[:, :, None] + 0.5
    result: np.ndarray = np.clip(pixels, 0.0, 255.0).astype(np.uint8)
    return result


def _carpet(rng: np.random.Generator, n: int, color: RGB) -> np.ndarray:
    pile = pg._noise(rng, n, n // 2, n // 2)
    tuft = pg._fbm(rng, n, (128, 128), 2)
    mottle = pg._fbm(rng, n, (4, 4), 3)
    return (1.0 + 0.18 * (pile - 0.5) + 0.06 * tuft + 0.05 * mottle).astype(np.float32)


def _concrete(rng: np.random.Generator, n: int, color: RGB) -> np.ndarray:
    cloud = pg._fbm(rng, n, (8, 8), 4, gain=0.55)
    fine = pg._fbm(rng, n, (128, 128), 1)
    pores = pg._smoothstep(0.05, 0.015, pg._noise(rng, n, 256, 256))
    return (1.0 + 0.035 * cloud + 0.03 * fine - 0.3 * pores).astype(np.float32)


def _flagstones(rng: np.random.Generator, n: int, color: RGB) -> np.ndarray:
    stone, _ = pg._stone(rng, n, color)
    shade = np.asarray(stone, dtype=np.float32).copy()
    rows = 3
    pitch = n // rows
    mortar = max(2, n // 100)
    for r in range(rows):
        band = slice(r * pitch, (r + 1) * pitch if r < rows - 1 else n)
        cuts = np.sort(rng.choice(np.arange(n // 8, n), size=2, replace=False))
        offset = int(rng.integers(0, n))
        edges = [0, *((c + offset) % n for c in cuts)]
        for k, start in enumerate(sorted(edges)):
            stop = sorted(edges)[(k + 1) % len(edges)]
            tone = np.float32(rng.uniform(0.85, 1.12))
            if stop > start:
                shade[band, start:stop] *= tone
            else:
                shade[band, start:] *= tone
                shade[band, :stop] *= tone
            shade[band, start : start + mortar] = 0.6
        shade[r * pitch : r * pitch + mortar] = 0.6
    return shade


def _marble(rng: np.random.Generator, n: int, color: RGB) -> np.ndarray:
    shade, highlight = pg._marble(rng, n, color)
    base = np.asarray(shade, dtype=np.float32)
    if highlight is not None:
        base = (base + 0.6 * np.asarray(highlight, dtype=np.float32)).astype(np.float32)
    return _tiles_over(base, n, count=2)


def _tiles_over(shade: np.ndarray, n: int, count: int) -> np.ndarray:
    grout = max(1, n // 256)
    line = (np.arange(n) % (n // count)) < grout
    mask = line[:, None] | line[None, :]
    return np.where(mask, np.float32(0.8), shade).astype(np.float32)


def _brick(rng: np.random.Generator, n: int, color: RGB) -> np.ndarray:
    courses, per_row = 12, 4
    course = n // courses
    brick = n // per_row
    mortar = max(2, n // 90)
    tone = rng.uniform(0.78, 1.18, (courses, per_row + 1)).astype(np.float32)
    rows = np.arange(n)
    c = np.minimum(rows // course, courses - 1)
    shift = (c % 2) * (brick // 2)
    cols = (np.arange(n)[None, :] + shift[:, None]) % n
    b = cols // brick
    shade = tone[c[:, None], b]
    grain = pg._fbm(rng, n, (32, 32), 2)
    shade = shade * (1.0 + 0.06 * grain)
    joint = ((rows % course) < mortar)[:, None] | ((cols % brick) < mortar)
    return np.where(joint, np.float32(1.55), shade).astype(np.float32)


def _plaster(rng: np.random.Generator, n: int, color: RGB) -> np.ndarray:
    cloud = pg._fbm(rng, n, (4, 4), 4)
    fine = pg._fbm(rng, n, (128, 128), 1)
    return (1.0 + 0.025 * cloud + 0.012 * fine).astype(np.float32)


def _wallpaper(rng: np.random.Generator, n: int, color: RGB) -> np.ndarray:
    x = (np.arange(n, dtype=np.float32) + 0.5) / n
    stripes = 8
    broad = (np.floor(x * stripes) % 2).astype(np.float32)
    pin = ((x * stripes) % 1.0 > 0.47) & ((x * stripes) % 1.0 < 0.53)
    row = 1.0 - 0.09 * broad - 0.12 * pin.astype(np.float32)
    plaster = _plaster(rng, n, color)
    return (plaster * row[None, :]).astype(np.float32)


def _vinyl(rng: np.random.Generator, n: int, color: RGB) -> np.ndarray:
    soft = pg._fbm(rng, n, (8, 8), 3)
    speck = pg._noise(rng, n, 256, 256)
    flecks = pg._smoothstep(0.9, 0.97, speck) - pg._smoothstep(0.1, 0.03, speck)
    return (1.0 + 0.03 * soft + 0.15 * flecks).astype(np.float32)


def _tinted(shade: np.ndarray, color: RGB) -> np.ndarray:
    mean = float(shade.mean())
    scale = np.asarray(color, dtype=np.float32) / (mean if mean > 1e-6 else 1.0)
    pixels = shade[:, :, None] * scale[None, None, :] + 0.5
    result: np.ndarray = np.clip(pixels, 0.0, 255.0).astype(np.uint8)
    return result


@lru_cache(maxsize=64)
def surface_texture(material: str, *, wall: bool, size: int = 512) -> Surface:
    """The texture of a floor or wall finish (cached: rooms reuse a handful of finishes)."""
    if not 16 <= size <= 4096:
        raise ValueError(f"texture size must be between 16 and 4096 pixels, got {size}")
    kind = surface_kind(material, wall=wall)
    color = surface_color(material, kind)
    rng = _rng(material, wall)
    words = set(pg._words(material))
    if kind == "planks":
        shade = _planks(rng, size, color)
    elif kind == "panelling":
        shade = _planks(rng, size, color, vertical=True)
    elif kind == "tiles":
        count = 2 if words & {"large", "big", "porcelain"} else 4
        shade = _tiles(rng, size, count)
        if words & {"checkered", "checkerboard", "chequered", "checked"}:
            named = pg.colors_in(material)
            first, second = ([*named, (242, 242, 238), (28, 28, 30)])[:2]
            if first == second:
                second = (28, 28, 30) if sum(first) > 380 else (242, 242, 238)
            pixels = _checker(shade, size, count, first, second)
            pixels.setflags(write=False)
            return Surface(kind=kind, color=first, span=SPANS[kind], pixels=pixels)
    elif kind == "carpet":
        shade = _carpet(rng, size, color)
    elif kind == "concrete":
        shade = _concrete(rng, size, color)
    elif kind == "flagstones":
        shade = _flagstones(rng, size, color)
    elif kind == "marble":
        shade = _marble(rng, size, color)
    elif kind == "brick":
        shade = _brick(rng, size, color)
    elif kind == "wallpaper":
        shade = _wallpaper(rng, size, color)
    elif kind == "vinyl":
        shade = _vinyl(rng, size, color)
    else:
        shade = _plaster(rng, size, color)
    pixels = _tinted(np.asarray(shade, dtype=np.float32), color)
    pixels.setflags(write=False)
    return Surface(kind=kind, color=color, span=SPANS[kind], pixels=pixels)
