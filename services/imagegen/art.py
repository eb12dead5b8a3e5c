"""Pictures for paintings and posters: a different composition for every object.

A picture is drawn from a style (an abstract composition, a landscape with a horizon
and a sun, a geometric pattern, a seascape, flowers, a poster with a title band), a
palette and a random generator seeded from the object, so two paintings in one room
differ and the same painting is drawn the same way every time. A frame border in the
frame's colour runs round the edge, where the mesh's frame takes its texture from.
"""

from __future__ import annotations

import colorsys
import math

import numpy as np
from PIL import Image, ImageDraw

RGB = tuple[int, int, int]

STYLES: tuple[str, ...] = ("abstract", "landscape", "geometric", "seascape", "flowers")

# Words in a description that ask for a style.
STYLE_WORDS: dict[str, str] = {
    **dict.fromkeys(
        "landscape landscapes mountain mountains hills countryside field fields sunset "
        "sunrise valley forest meadow".split(),
        "landscape",
    ),
    **dict.fromkeys("sea seascape ocean beach lake coast waves harbour harbor".split(), "seascape"),
    **dict.fromkeys(
        "geometric pattern bauhaus mondrian cubist grid shapes triangles".split(), "geometric"
    ),
    **dict.fromkeys("flower flowers floral bouquet botanical still".split(), "flowers"),
    **dict.fromkeys("abstract modern contemporary expressionist splash".split(), "abstract"),
}

FRAME_COLORS: dict[str, RGB] = {
    "gold": (196, 160, 72),
    "golden": (196, 160, 72),
    "gilded": (196, 160, 72),
    "black": (30, 30, 32),
    "white": (236, 234, 228),
    "silver": (186, 188, 192),
    "oak": (176, 134, 88),
    "walnut": (96, 66, 44),
    "wood": (140, 98, 62),
    "wooden": (140, 98, 62),
}


def harmonious_palette(rng: np.random.Generator, count: int = 5) -> list[RGB]:
    """``count`` colours around a random hue (analogous ones plus a complement)."""
    hue = float(rng.uniform(0.0, 1.0))
    colours: list[RGB] = []
    offsets = (0.0, 0.08, -0.08, 0.5, 0.16, 0.42)
    for k in range(count):
        h = (hue + offsets[k % len(offsets)] + float(rng.normal(0.0, 0.02))) % 1.0
        sat = float(rng.uniform(0.35, 0.85))
        val = float(rng.uniform(0.45, 0.95))
        r, g, b = colorsys.hsv_to_rgb(h, sat, val)
        colours.append((round(r * 255), round(g * 255), round(b * 255)))
    return colours


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    return (
        round(a[0] + (b[0] - a[0]) * t),
        round(a[1] + (b[1] - a[1]) * t),
        round(a[2] + (b[2] - a[2]) * t),
    )


def _abstract(draw: ImageDraw.ImageDraw, rng: np.random.Generator, n: int, pal: list[RGB]) -> None:
    draw.rectangle((0, 0, n, n), fill=_mix(pal[0], (245, 240, 230), 0.6))
    for _ in range(int(rng.integers(7, 13))):
        colour = pal[int(rng.integers(0, len(pal)))]
        kind = int(rng.integers(0, 3))
        x, y = (float(v) for v in rng.uniform(-0.1, 1.0, 2) * n)
        size = float(rng.uniform(0.12, 0.45)) * n
        if kind == 0:
            draw.rectangle((x, y, x + size, y + size * float(rng.uniform(0.4, 1.6))), fill=colour)
        elif kind == 1:
            draw.ellipse((x, y, x + size, y + size), fill=colour)
        else:
            x2, y2 = (float(v) for v in rng.uniform(0.0, 1.0, 2) * n)
            draw.line((x, y, x2, y2), fill=colour, width=max(2, int(size * 0.12)))


def _hills(
    draw: ImageDraw.ImageDraw,
    rng: np.random.Generator,
    n: int,
    base: float,
    height: float,
    colour: RGB,
) -> None:
    xs = np.linspace(0.0, n, 24)
    phase = rng.uniform(0.0, 2.0 * math.pi, 3)
    freq = rng.uniform(1.0, 4.0, 3)
    ys = base - height * (
        0.5
        + 0.3 * np.sin(freq[0] * xs / n * math.pi + phase[0])
        + 0.15 * np.sin(freq[1] * 2.0 * xs / n * math.pi + phase[1])
        + 0.05 * np.sin(freq[2] * 5.0 * xs / n * math.pi + phase[2])
    )
    points = [(float(x), float(y)) for x, y in zip(xs, ys, strict=True)]
    draw.polygon([*points, (float(n), float(n)), (0.0, float(n))], fill=colour)


def _sky(image: Image.Image, top: RGB, bottom: RGB, horizon: float) -> None:
    n = image.size[0]
    t = np.clip(np.arange(n, dtype=np.float32) / max(1.0, horizon), 0.0, 1.0)[:, None]
    sky = (1.0 - t) * np.asarray(top, np.float32) + t * np.asarray(bottom, np.float32)
    band = np.broadcast_to(sky[:, None, :], (n, n, 3)).astype(np.uint8)
    image.paste(Image.fromarray(np.ascontiguousarray(band)))


def _landscape(image: Image.Image, rng: np.random.Generator, n: int, pal: list[RGB]) -> None:
    horizon = float(rng.uniform(0.45, 0.65)) * n
    evening = bool(rng.integers(0, 2))
    top = (250, 140, 80) if evening else (90, 150, 220)
    bottom = (255, 214, 150) if evening else (200, 226, 245)
    _sky(image, _mix(top, pal[0], 0.25), _mix(bottom, pal[1], 0.15), horizon)
    draw = ImageDraw.Draw(image)
    sun_x = float(rng.uniform(0.15, 0.85)) * n
    sun_r = float(rng.uniform(0.05, 0.1)) * n
    sun_y = horizon - float(rng.uniform(0.1, 0.3)) * n
    sun = (255, 190, 90) if evening else (255, 246, 200)
    draw.ellipse((sun_x - sun_r, sun_y - sun_r, sun_x + sun_r, sun_y + sun_r), fill=sun)
    far = _mix(pal[2], (150, 170, 200), 0.5)
    _hills(draw, rng, n, horizon + 0.02 * n, 0.3 * n, far)
    _hills(draw, rng, n, horizon + 0.12 * n, 0.18 * n, _mix(pal[3], (70, 120, 60), 0.5))
    _hills(draw, rng, n, horizon + 0.3 * n, 0.15 * n, _mix(pal[4], (50, 90, 40), 0.6))
    for _ in range(int(rng.integers(2, 6))):
        x = float(rng.uniform(0.05, 0.95)) * n
        y = horizon + float(rng.uniform(0.25, 0.4)) * n
        r = float(rng.uniform(0.02, 0.05)) * n
        draw.rectangle((x - 0.15 * r, y, x + 0.15 * r, y + 1.2 * r), fill=(70, 50, 35))
        draw.ellipse((x - r, y - 1.6 * r, x + r, y + 0.2 * r), fill=(40, 90, 45))


def _seascape(image: Image.Image, rng: np.random.Generator, n: int, pal: list[RGB]) -> None:
    horizon = float(rng.uniform(0.4, 0.55)) * n
    _sky(image, _mix((110, 170, 230), pal[0], 0.2), (226, 236, 245), horizon)
    draw = ImageDraw.Draw(image)
    sea_top = _mix((40, 110, 160), pal[1], 0.2)
    draw.rectangle((0, horizon, n, n), fill=sea_top)
    for k in range(14):
        y = horizon + (k + 1) ** 1.4 * 0.012 * n
        width = max(1, int(1 + k * 0.3))
        x0 = float(rng.uniform(-0.2, 0.5)) * n
        draw.line(
            (x0, y, x0 + float(rng.uniform(0.2, 0.6)) * n, y), fill=(200, 225, 240), width=width
        )
    beach = float(rng.uniform(0.8, 0.9)) * n
    draw.polygon(
        [(0.0, beach), (float(n), beach + 0.05 * n), (float(n), float(n)), (0.0, float(n))],
        fill=(226, 204, 160),
    )
    x = float(rng.uniform(0.2, 0.8)) * n
    y = horizon + 0.08 * n
    draw.polygon([(x, y - 0.12 * n), (x, y), (x + 0.07 * n, y)], fill=(245, 245, 240))  # a sail
    draw.rectangle((x - 0.02 * n, y, x + 0.09 * n, y + 0.015 * n), fill=(90, 60, 40))


def _geometric(draw: ImageDraw.ImageDraw, rng: np.random.Generator, n: int, pal: list[RGB]) -> None:
    cells = int(rng.integers(3, 7))
    step = n / cells
    for r in range(cells):
        for c in range(cells):
            x0, y0 = c * step, r * step
            back = pal[int(rng.integers(0, len(pal)))]
            front = pal[int(rng.integers(0, len(pal)))]
            if front == back:
                front = _mix(back, (250, 248, 240), 0.7)
            draw.rectangle((x0, y0, x0 + step, y0 + step), fill=back)
            kind = int(rng.integers(0, 4))
            if kind == 0:
                draw.ellipse(
                    (x0 + 0.1 * step, y0 + 0.1 * step, x0 + 0.9 * step, y0 + 0.9 * step), fill=front
                )
            elif kind == 1:
                draw.polygon([(x0, y0), (x0 + step, y0), (x0, y0 + step)], fill=front)
            elif kind == 2:
                corner = int(rng.integers(0, 4))
                cx = x0 + (step if corner in (1, 2) else 0.0)
                cy = y0 + (step if corner >= 2 else 0.0)
                start = 90 * corner
                draw.pieslice(
                    (cx - step, cy - step, cx + step, cy + step), start, start + 90, fill=front
                )
            else:
                draw.rectangle((x0 + 0.3 * step, y0, x0 + 0.7 * step, y0 + step), fill=front)
            draw.line((x0, y0, x0 + step, y0), fill=(30, 30, 30), width=max(1, n // 150))
            draw.line((x0, y0, x0, y0 + step), fill=(30, 30, 30), width=max(1, n // 150))


def _flowers(draw: ImageDraw.ImageDraw, rng: np.random.Generator, n: int, pal: list[RGB]) -> None:
    draw.rectangle((0, 0, n, n), fill=_mix(pal[0], (60, 50, 45), 0.7))
    table = 0.78 * n
    draw.rectangle((0, table, n, n), fill=_mix(pal[1], (120, 80, 50), 0.6))
    vx = float(rng.uniform(0.35, 0.65)) * n
    draw.ellipse((vx - 0.12 * n, table - 0.25 * n, vx + 0.12 * n, table + 0.02 * n), fill=pal[2])
    for _ in range(int(rng.integers(6, 11))):
        fx = vx + float(rng.normal(0.0, 0.15)) * n
        fy = table - 0.3 * n - float(rng.uniform(0.0, 0.35)) * n
        draw.line((vx, table - 0.2 * n, fx, fy), fill=(60, 110, 50), width=max(1, n // 120))
        r = float(rng.uniform(0.035, 0.07)) * n
        petal = pal[int(rng.integers(0, len(pal)))]
        draw.ellipse((fx - r, fy - r, fx + r, fy + r), fill=petal)
        draw.ellipse(
            (fx - 0.35 * r, fy - 0.35 * r, fx + 0.35 * r, fy + 0.35 * r), fill=(250, 220, 90)
        )


def picture(
    rng: np.random.Generator,
    size: int,
    palette: list[RGB],
    *,
    style: str | None = None,
    poster: bool = False,
    frame: RGB | None = None,
    border: tuple[float, float] = (0.0, 0.0),
) -> np.ndarray:
    """An (size, size, 3) uint8 picture; ``border`` is the frame's width as fractions of
    the picture's width and height, painted in ``frame``."""
    if len(palette) < 5:
        palette = [*palette, *harmonious_palette(rng, 5 - len(palette))]
    chosen = style or STYLES[int(rng.integers(0, len(STYLES)))]
    if chosen not in STYLES:
        raise ValueError(f"unknown picture style {chosen!r}; expected one of {STYLES}")
    # Drawn at half size and scaled up: soft painted edges, at a quarter of the cost.
    n = max(8, size // 2)
    image = Image.new("RGB", (n, n), palette[0])
    draw = ImageDraw.Draw(image)
    if chosen == "abstract":
        _abstract(draw, rng, n, palette)
    elif chosen == "landscape":
        _landscape(image, rng, n, palette)
    elif chosen == "seascape":
        _seascape(image, rng, n, palette)
    elif chosen == "geometric":
        _geometric(draw, rng, n, palette)
    else:
        _flowers(draw, rng, n, palette)
    draw = ImageDraw.Draw(image)
    bx = max(1, round(border[0] * n)) if frame is not None and border[0] > 0.0 else 0
    by = max(1, round(border[1] * n)) if frame is not None and border[1] > 0.0 else 0
    if poster:
        band = 0.2 * (n - 2 * by)
        bottom = n - by
        draw.rectangle((0, bottom - band, n, bottom), fill=(245, 242, 235))
        ink = palette[3]
        draw.rectangle((0.15 * n, bottom - 0.8 * band, 0.85 * n, bottom - 0.55 * band), fill=ink)
        light = _mix(ink, (245, 242, 235), 0.5)
        draw.rectangle((0.28 * n, bottom - 0.4 * band, 0.72 * n, bottom - 0.3 * band), fill=light)
    if frame is not None and (bx or by):
        inner = _mix(frame, (0, 0, 0), 0.4)
        lip = max(1, min(bx, by) // 6)
        draw.rectangle(
            (bx - lip, by - lip, n - bx + lip - 1, n - by + lip - 1), outline=inner, width=lip
        )
        draw.rectangle((0, 0, n - 1, by - 1), fill=frame)
        draw.rectangle((0, n - by, n - 1, n - 1), fill=frame)
        draw.rectangle((0, 0, bx - 1, n - 1), fill=frame)
        draw.rectangle((n - bx, 0, n - 1, n - 1), fill=frame)
    full = image.resize((size, size), Image.Resampling.BILINEAR)
    pixels = np.asarray(full, dtype=np.int16)
    # Canvas weave: a faint checker of threads.
    period = max(2, size // 170)
    idx = (np.arange(size) // period) % 2
    weave = ((idx[:, None] ^ idx[None, :]) * 8 - 4).astype(np.int16)
    pixels = pixels + weave[:, :, None]
    result: np.ndarray = np.clip(pixels, 0, 255).astype(np.uint8)
    return result
