"""A top-down floor plan of a layout, drawn with Pillow as a PNG.

The plan is seen from above with +X to the right and +Z down the page, the view in
which room polygons run counter-clockwise. The room is scaled to fit the requested
width with a margin; the picture's height follows the room's aspect ratio. Walls are
thick bands outside the floor polygon, doors gaps with a swing arc, windows a thin
double line in the wall. Floor objects are their rotated footprints, filled with a pale
colour per category group, labelled with their category and marked with an arrow from
the centre toward the front; rugs lie hatched underneath, surface objects are small
markers on their parent, wall objects short thick bars against the wall and ceiling
objects dashed outlines. A title, a scale bar in metres and an axis legend frame it.

Drawing is deterministic: the same layout always gives the same bytes.
"""

from __future__ import annotations

import io
import itertools
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

from shared.layout import Layout, Opening, PlacedObject, Room

RGB = tuple[int, int, int]
Point = tuple[float, float]
Rect = tuple[float, float, float, float]  # x0, y0, x1, y1 in pixels

BACKGROUND: RGB = (255, 255, 255)
FLOOR_COLOR: RGB = (244, 240, 231)
GRID_COLOR: RGB = (232, 226, 213)
WALL_COLOR: RGB = (56, 56, 62)
WINDOW_FILL: RGB = (228, 241, 251)
WINDOW_LINE: RGB = (64, 104, 146)
DOOR_COLOR: RGB = (96, 96, 104)
TEXT_COLOR: RGB = (30, 30, 34)
LEADER_COLOR: RGB = (128, 128, 136)
LABEL_BOX: RGB = (255, 255, 255)
LABEL_BOX_EDGE: RGB = (200, 200, 206)

WALL_THICKNESS = 0.1  # metres, as the scene assembly builds the walls
MITER_LIMIT = 4.0
MIN_WIDTH_PX = 160
MAX_ASPECT = 3.0  # the plan is at most this many times taller than the picture is wide


@dataclass(frozen=True)
class GroupStyle:
    """The pale ``fill`` of a category group's footprints and its dark ``ink``."""

    fill: RGB
    ink: RGB


GROUP_STYLES: dict[str, GroupStyle] = {
    "bed": GroupStyle((200, 222, 243), (50, 94, 150)),
    "seating": GroupStyle((252, 220, 184), (168, 88, 20)),
    "table": GroupStyle((208, 235, 197), (48, 118, 48)),
    "storage": GroupStyle((230, 213, 187), (118, 82, 38)),
    "kitchen": GroupStyle((210, 217, 230), (58, 78, 112)),
    "bath": GroupStyle((197, 235, 235), (28, 118, 124)),
    "media": GroupStyle((223, 209, 243), (98, 58, 160)),
    "lighting": GroupStyle((252, 239, 172), (150, 112, 8)),
    "decor": GroupStyle((246, 209, 225), (158, 48, 98)),
    "rug": GroupStyle((236, 226, 240), (150, 118, 160)),
    "other": GroupStyle((223, 223, 223), (88, 88, 92)),
}
RUG_HATCH: RGB = (218, 202, 226)

_GROUP_PHRASES = {
    "washing machine": "kitchen",
    "kitchen cabinet": "kitchen",
    "towel rack": "bath",
    "trash can": "other",
    "bean bag": "seating",
}
_GROUP_WORDS = {
    "bed": "bed crib cot bunk mattress cradle",
    "seating": "sofa couch sectional loveseat armchair chair stool bench ottoman pouf seat "
    "recliner futon",
    "table": "table desk nightstand workbench",
    "storage": "wardrobe dresser bookshelf bookcase shelf shelves cabinet sideboard stand box "
    "rack chest cupboard closet drawers credenza hutch locker",
    "kitchen": "fridge refrigerator freezer stove oven cooker hob sink dishwasher microwave "
    "washer dryer island",
    "bath": "toilet bathtub tub shower basin washbasin towel bidet",
    "media": "tv television monitor screen laptop computer speaker projector piano guitar",
    "lighting": "lamp light chandelier fan sconce lantern",
    "decor": "plant vase painting picture poster mirror clock curtain curtains globe book books "
    "candle aquarium fireplace whiteboard blackboard dollhouse sculpture",
    "rug": "rug carpet mat",
}
_WORD_GROUP = {word: group for group, words in _GROUP_WORDS.items() for word in words.split()}


def category_group(category: str) -> str:
    """The colour group of a category, decided by its head noun (the last known word).

    ``"table lamp"`` is lighting, ``"coffee table"`` a table; unknown categories are
    ``"other"``.
    """
    text = category.strip().lower()
    if text in _GROUP_PHRASES:
        return _GROUP_PHRASES[text]
    for word in reversed(re.findall(r"[a-z]+", text)):
        for candidate in (word, word[:-1] if word.endswith("s") else word):
            group = _WORD_GROUP.get(candidate)
            if group is not None:
                return group
    return "other"


def group_style(category: str) -> GroupStyle:
    """The fill and ink a category is drawn with."""
    return GROUP_STYLES[category_group(category)]


# ------------------------------------------------------------------------ frame


@dataclass(frozen=True)
class _Metrics:
    """Every pixel size of the drawing, proportional to the picture's width."""

    unit: float
    margin: float
    title_size: int
    title_band: float
    legend_band: float
    note_size: int
    label_max: int
    label_min: int
    label_out: int
    label_small: int
    outline: int
    ring: float
    shaft: int
    wall_min: float
    bar_min: float
    marker_min: float
    dash: float


def _metrics(width_px: int) -> _Metrics:
    u = width_px / 1024.0
    title_size = max(9, round(19 * u))
    return _Metrics(
        unit=u,
        margin=max(24.0, 72.0 * u),
        title_size=title_size,
        title_band=14.0 * u + title_size * 1.4,
        legend_band=max(30.0, 58.0 * u),
        note_size=max(8, round(12 * u)),
        label_max=max(9, round(18 * u)),
        label_min=max(7, round(10 * u)),
        label_out=max(8, round(13 * u)),
        label_small=max(7, round(12 * u)),
        outline=max(1, round(1.6 * u)),
        ring=max(2.5, 4.0 * u),
        shaft=max(1, round(2.4 * u)),
        wall_min=max(3.0, 7.0 * u),
        bar_min=max(3.0, 7.0 * u),
        marker_min=max(5.0, 8.0 * u),
        dash=max(3.0, 7.0 * u),
    )


@dataclass(frozen=True)
class PlanFrame:
    """Where the plan sits in the picture: ``pixel = corner + (world - origin) * scale``.

    World x grows to the right and world z down the page.
    """

    width: int
    height: int
    scale: float  # pixels per metre
    x0: float  # world x at pixel column ``left``
    z0: float  # world z at pixel row ``top``
    left: float
    top: float
    plan_width: float  # pixels the plan's bounds span
    plan_height: float

    def to_px(self, x: float, z: float) -> Point:
        return (self.left + (x - self.x0) * self.scale, self.top + (z - self.z0) * self.scale)


def plan_frame(layout: Layout, *, width_px: int = 1024) -> PlanFrame:
    """The scale and placement :func:`floorplan_png` draws ``layout`` with."""
    if width_px < MIN_WIDTH_PX:
        raise ValueError(f"width_px must be at least {MIN_WIDTH_PX}")
    metrics = _metrics(width_px)
    points = list(layout.room.polygon)
    for obj in layout.objects:
        points.extend(obj.footprint())
    pad = WALL_THICKNESS
    x_min = min(p[0] for p in points) - pad
    x_max = max(p[0] for p in points) + pad
    z_min = min(p[1] for p in points) - pad
    z_max = max(p[1] for p in points) + pad
    span_x = max(x_max - x_min, 0.5)
    span_z = max(z_max - z_min, 0.5)
    scale = (width_px - 2.0 * metrics.margin) / span_x
    scale = min(scale, MAX_ASPECT * width_px / span_z)
    plan_width = span_x * scale
    plan_height = span_z * scale
    top = metrics.title_band + 0.75 * metrics.margin
    bottom = 0.75 * metrics.margin + metrics.legend_band
    if layout.unplaced:
        bottom += metrics.note_size * 1.6
    return PlanFrame(
        width=width_px,
        height=math.ceil(top + plan_height + bottom),
        scale=scale,
        x0=x_min,
        z0=z_min,
        left=(width_px - plan_width) / 2.0,
        top=top,
        plan_width=plan_width,
        plan_height=plan_height,
    )


# ------------------------------------------------------------------------ geometry


def _sub(a: Point, b: Point) -> Point:
    return (a[0] - b[0], a[1] - b[1])


def _add(a: Point, b: Point, k: float = 1.0) -> Point:
    return (a[0] + b[0] * k, a[1] + b[1] * k)


def _dot(a: Point, b: Point) -> float:
    return a[0] * b[0] + a[1] * b[1]


def _unit(v: Point) -> Point:
    length = math.hypot(v[0], v[1])
    return (v[0] / length, v[1] / length) if length > 1e-12 else (0.0, 0.0)


def _outward(a: Point, b: Point) -> Point:
    """Unit normal of edge a→b pointing out of a counter-clockwise (x right, z down) room."""
    ux, uy = _unit(_sub(b, a))
    return (-uy, ux)


def _bbox(points: Iterable[Point]) -> Rect:
    xs, ys = zip(*points, strict=True)
    return (min(xs), min(ys), max(xs), max(ys))


def _overlap(a: Rect, b: Rect) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


def _inflate(r: Rect, d: float) -> Rect:
    return (r[0] - d, r[1] - d, r[2] + d, r[3] + d)


def _inside(p: Point, polygon: Sequence[Point]) -> bool:
    x, y = p
    inside = False
    n = len(polygon)
    for i in range(n):
        x1, y1 = polygon[i]
        x2, y2 = polygon[(i + 1) % n]
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


def _nearest_on_outline(p: Point, polygon: Sequence[Point]) -> Point:
    best = polygon[0]
    best_d = math.inf
    n = len(polygon)
    for i in range(n):
        a, b = polygon[i], polygon[(i + 1) % n]
        ab = _sub(b, a)
        denom = _dot(ab, ab)
        t = 0.0 if denom == 0 else max(0.0, min(1.0, _dot(_sub(p, a), ab) / denom))
        q = _add(a, ab, t)
        d = math.hypot(p[0] - q[0], p[1] - q[1])
        if d < best_d:
            best, best_d = q, d
    return best


def _clean(polygon: Sequence[Point]) -> list[Point]:
    """The polygon without repeated consecutive vertices."""
    out: list[Point] = []
    for p in polygon:
        if not out or math.hypot(p[0] - out[-1][0], p[1] - out[-1][1]) > 1e-6:
            out.append(p)
    while len(out) > 1 and math.hypot(out[0][0] - out[-1][0], out[0][1] - out[-1][1]) <= 1e-6:
        out.pop()
    return out


def _outer_outline(polygon: Sequence[Point], thickness: float) -> list[Point]:
    """The polygon pushed ``thickness`` outward, mitred (bevelled past the mitre limit)."""
    n = len(polygon)
    out: list[Point] = []
    for j in range(n):
        prev, here, nxt = polygon[j - 1], polygon[j], polygon[(j + 1) % n]
        u1, u2 = _unit(_sub(here, prev)), _unit(_sub(nxt, here))
        a = _add(here, _outward(prev, here), thickness)
        b = _add(here, _outward(here, nxt), thickness)
        cross = u1[0] * u2[1] - u1[1] * u2[0]
        if abs(cross) < 1e-9:
            out.append(b)
            continue
        d = _sub(b, a)
        s = (d[0] * u2[1] - d[1] * u2[0]) / cross
        corner = _add(a, u1, s)
        if math.hypot(corner[0] - here[0], corner[1] - here[1]) > MITER_LIMIT * thickness:
            out.extend((a, b))
        else:
            out.append(corner)
    return out


def _clip_convex(
    origin: Point, direction: Point, polygon: Sequence[Point]
) -> tuple[float, float] | None:
    """Where the line through ``origin`` along ``direction`` crosses a convex polygon."""
    normal = (-direction[1], direction[0])
    level = _dot(normal, origin)
    hits: list[Point] = []
    n = len(polygon)
    for i in range(n):
        a, b = polygon[i], polygon[(i + 1) % n]
        ka, kb = _dot(normal, a) - level, _dot(normal, b) - level
        if (ka <= 0 < kb) or (kb <= 0 < ka):
            hits.append(_add(a, _sub(b, a), ka / (ka - kb)))
    if len(hits) < 2:
        return None
    ts = sorted(_dot(direction, h) for h in hits)
    return (ts[0], ts[-1])


def _spans(level: float, polygon: Sequence[Point], axis: int) -> list[tuple[float, float]]:
    """The stretches of the line ``coordinate[axis] == level`` inside a simple polygon."""
    other = 1 - axis
    crossings: list[float] = []
    n = len(polygon)
    for i in range(n):
        a, b = polygon[i], polygon[(i + 1) % n]
        if (a[axis] <= level < b[axis]) or (b[axis] <= level < a[axis]):
            t = (level - a[axis]) / (b[axis] - a[axis])
            crossings.append(a[other] + (b[other] - a[other]) * t)
    crossings.sort()
    return [(crossings[i], crossings[i + 1]) for i in range(0, len(crossings) - 1, 2)]


# ------------------------------------------------------------------------ text


@lru_cache(maxsize=64)
def _font(size: int) -> ImageFont.FreeTypeFont:
    font = ImageFont.load_default(size=size)
    if not isinstance(font, ImageFont.FreeTypeFont):
        raise RuntimeError("the floor plan needs Pillow built with FreeType")
    return font


@lru_cache(maxsize=64)
def _line_height(size: int) -> float:
    ascent, descent = _font(size).getmetrics()
    return float(ascent + descent)


@lru_cache(maxsize=4096)
def _text_width(text: str, size: int) -> float:
    return float(_font(size).getlength(text))


@dataclass(frozen=True)
class _Block:
    """One or two centred lines of text, upright or turned to read bottom to top."""

    lines: tuple[str, ...]
    size: int
    rotated: bool = False

    def box(self) -> Point:
        width = max(_text_width(line, self.size) for line in self.lines)
        height = _line_height(self.size) * len(self.lines)
        return (height, width) if self.rotated else (width, height)


def _draw_block(image: Image.Image, block: _Block, x: float, y: float, color: RGB) -> None:
    """Draw ``block`` with the top-left of its box at (x, y)."""
    font = _font(block.size)
    line_h = _line_height(block.size)
    width = max(_text_width(line, block.size) for line in block.lines)
    if not block.rotated:
        draw = ImageDraw.Draw(image)
        for i, line in enumerate(block.lines):
            lx = x + (width - _text_width(line, block.size)) / 2.0
            draw.text((lx, y + i * line_h), line, font=font, fill=color, anchor="la")
        return
    mask = Image.new("L", (math.ceil(width), math.ceil(line_h * len(block.lines))), 0)
    mask_draw = ImageDraw.Draw(mask)
    for i, line in enumerate(block.lines):
        lx = (width - _text_width(line, block.size)) / 2.0
        mask_draw.text((lx, i * line_h), line, font=font, fill=255, anchor="la")
    turned = mask.transpose(Image.Transpose.ROTATE_90)
    ImageDraw.Draw(image).bitmap((round(x), round(y)), turned, fill=color)


def _line_options(text: str) -> list[tuple[str, ...]]:
    """The text on one line and, for several words, split in two balanced lines."""
    options: list[tuple[str, ...]] = [(text,)]
    words = text.split()
    if len(words) >= 2:
        best = min(
            range(1, len(words)),
            key=lambda i: (abs(len(" ".join(words[:i])) - len(" ".join(words[i:]))), i),
        )
        options.append((" ".join(words[:best]), " ".join(words[best:])))
    return options


@dataclass(frozen=True)
class _Region:
    """A rectangle turned with an object: centre, unit axes and half extents in pixels."""

    center: Point
    ex: Point
    ez: Point
    half_x: float
    half_z: float

    def holds(self, width: float, height: float) -> bool:
        hw, hh = width / 2.0, height / 2.0
        ex, ez = self.ex, self.ez
        fits_x = hw * abs(ex[0]) + hh * abs(ex[1]) <= self.half_x + 1e-6
        fits_z = hw * abs(ez[0]) + hh * abs(ez[1]) <= self.half_z + 1e-6
        return fits_x and fits_z

    def largest(self, width1: float, height1: float) -> float:
        """The largest factor k such that a k·width1 by k·height1 box fits."""
        ex, ez = self.ex, self.ez
        need_x = width1 * abs(ex[0]) + height1 * abs(ex[1])
        need_z = width1 * abs(ez[0]) + height1 * abs(ez[1])
        return min(self.half_x * 2.0 / need_x, self.half_z * 2.0 / need_z)


def _fit(text: str, region: _Region, max_size: int, min_size: int) -> _Block | None:
    """The largest block of ``text`` that fits ``region``, preferring upright single lines."""
    best: _Block | None = None
    best_value = 0
    reference = 40
    for rotated in (False, True):
        for lines in _line_options(text):
            w1, h1 = _Block(lines, reference, rotated).box()
            size = min(max_size, math.floor(region.largest(w1 / reference, h1 / reference)))
            while size >= min_size and not region.holds(*_Block(lines, size, rotated).box()):
                size -= 1
            if size < min_size:
                continue
            # A wrapped or turned label must be clearly larger to be worth it.
            value = size - (1 if len(lines) > 1 else 0) - (2 if rotated else 0)
            if best is None or value > best_value:
                best, best_value = _Block(lines, size, rotated), value
    return best


# ------------------------------------------------------------------------ labels


class _Boxes:
    """Rectangles in buckets of a uniform grid of pixels: the ones that may overlap an
    area are found among its few buckets, not by testing every rectangle drawn."""

    def __init__(self, cell: float = 64.0):
        self.cell = cell
        self.rects: list[Rect] = []
        self._buckets: dict[tuple[int, int], list[int]] = {}
        self._array = np.zeros((64, 4))

    def _span(self, r: Rect) -> tuple[range, range]:
        c = self.cell
        return (
            range(math.floor(r[0] / c), math.floor(r[2] / c) + 1),
            range(math.floor(r[1] / c), math.floor(r[3] / c) + 1),
        )

    def add(self, rect: Rect) -> int:
        index = len(self.rects)
        self.rects.append(rect)
        if index == len(self._array):
            self._array = np.concatenate([self._array, np.zeros_like(self._array)])
        self._array[index] = rect
        xs, ys = self._span(rect)
        for i in xs:
            for j in ys:
                self._buckets.setdefault((i, j), []).append(index)
        return index

    def near(self, area: Rect) -> list[int]:
        """Indices, in the order added, of the rectangles that may overlap ``area``."""
        xs, ys = self._span(area)
        if len(xs) * len(ys) > 4 * len(self._buckets):
            return list(range(len(self.rects)))  # the area covers most of the picture
        found: set[int] = set()
        for i in xs:
            for j in ys:
                found.update(self._buckets.get((i, j), ()))
        return sorted(found)

    def overlapping(self, area: Rect) -> npt.NDArray[np.intp]:
        """Indices, in the order added, of the rectangles overlapping ``area``."""
        index = np.array(self.near(area), dtype=np.intp)
        r = self._array[index]
        w = np.minimum(r[:, 2], area[2]) - np.maximum(r[:, 0], area[0])
        h = np.minimum(r[:, 3], area[3]) - np.maximum(r[:, 1], area[1])
        return index[(w > 0) & (h > 0)]

    def array(self, index: npt.NDArray[np.intp]) -> npt.NDArray[np.float64]:
        return self._array[index]


@dataclass(frozen=True)
class _Label:
    block: _Block
    rect: Rect  # the label's box, padding included
    color: RGB
    boxed: bool
    leader: tuple[Point, Point] | None


# Obstacles to a label: their rectangles, the cost per px² of overlapping each, and of
# touching it at all.
_Obstacles = tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]
_DIRECTIONS = ((1, 0), (0, -1), (0, 1), (-1, 0), (1, -1), (1, 1), (-1, 1), (-1, -1))


class _Placer:
    """Chooses where labels go: near their object, clear of other labels and objects."""

    def __init__(self, frame: PlanFrame, metrics: _Metrics, floor: list[Point], outer: list[Point]):
        self.frame = frame
        self.metrics = metrics
        self.floor = floor
        self.outer = outer
        self.labels = _Boxes()
        self.objects = _Boxes()
        self.owners: list[str] = []  # of each rectangle in ``objects``
        self.centres = _Boxes()
        self.placed: list[_Label] = []
        u = metrics.unit
        self.gaps = tuple(g * u for g in (3, 10, 22, 38, 60, 90, 130))
        self.pad = (max(2.0, 3.0 * u), max(1.0, 1.5 * u))

    def _nearby(self, area: Rect, exempt: frozenset[str]) -> _Obstacles:
        """The obstacles within ``area``: rects, cost per px² of overlap, cost of touching."""
        labels = self.labels.array(self.labels.overlapping(area)) + np.array([-2, -2, 2, 2])
        mine = self.objects.overlapping(area)
        mine = mine[[self.owners[k] not in exempt for k in mine.tolist()]]
        objects = self.objects.array(mine)
        centres = self.centres.array(self.centres.overlapping(area))
        rects = np.concatenate([labels, objects, centres])
        kinds = (len(labels), len(objects), len(centres))
        per_area = np.repeat([60.0, 1.0, 0.0], kinds)
        touch = np.repeat([0.0, 0.0, 5000.0], kinds)
        return rects, per_area, touch

    def add_object(self, rect: Rect, owner: str) -> None:
        self.objects.add(rect)
        self.owners.append(owner)

    @staticmethod
    def crowding(
        rects: Sequence[Rect], obstacles: _Obstacles, distances: list[float]
    ) -> list[float]:
        """Per spot: three times its distance plus the cost of every obstacle it overlaps,
        all spots against all obstacles at once (added up in obstacle order)."""
        start = np.array(distances) * 3.0
        boxes, per_area, touch = obstacles
        if not len(boxes):
            return [float(v) for v in start]
        r = np.array(rects)[:, None, :]
        o = boxes[None, :, :]
        w = np.minimum(r[..., 2], o[..., 2]) - np.maximum(r[..., 0], o[..., 0])
        h = np.minimum(r[..., 3], o[..., 3]) - np.maximum(r[..., 1], o[..., 1])
        cost = np.where((w > 0) & (h > 0), w * h * per_area[None, :] + touch[None, :], 0.0)
        # A running sum, so each total is the one adding the costs one by one would give.
        totals = np.cumsum(np.concatenate([start[:, None], cost], axis=1), axis=1)[:, -1]
        return [float(v) for v in totals]

    def score(self, rect: Rect, crowding: float) -> float:
        """A spot's cost: its ``crowding``, and more when it leaves the floor or the picture."""
        frame = self.frame
        x0, y0, x1, y1 = rect
        if x0 < 2 or y0 < 2 or x1 > frame.width - 2 or y1 > frame.height - 2:
            return math.inf
        total = crowding
        corners = ((x0, y0), (x1, y0), (x0, y1), (x1, y1))
        if all(_inside(c, self.floor) for c in corners):
            return total
        if not any(_inside(c, self.outer) for c in corners):
            return total + 25.0
        return total + 600.0

    def place(
        self,
        text: str,
        size: int,
        anchor: list[Point],
        exempt: frozenset[str],
        inside: Sequence[Rect] = (),
        inside_color: RGB = TEXT_COLOR,
    ) -> None:
        """Put a label near the outline ``anchor``; ``inside`` offers boxes needing no leader."""
        block = _Block((text,), size)
        tw, th = block.box()
        px, py = self.pad
        w, h = tw + 2 * px, th + 2 * py
        box = _bbox(anchor)
        candidates: list[tuple[float, int, Rect, bool]] = []
        for i, spot in enumerate(inside):
            cx, cy = (spot[0] + spot[2]) / 2.0, (spot[1] + spot[3]) / 2.0
            rect = (cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0)
            candidates.append((0.0, i, rect, True))
        ax0, ay0, ax1, ay1 = box
        cx, cy = (ax0 + ax1) / 2.0, (ay0 + ay1) / 2.0
        for gap in self.gaps:
            for dx, dy in _DIRECTIONS:
                x = ax1 + gap if dx > 0 else ax0 - gap - w if dx < 0 else cx - w / 2.0
                y = ay1 + gap if dy > 0 else ay0 - gap - h if dy < 0 else cy - h / 2.0
                candidates.append((gap, len(candidates), (x, y, x + w, y + h), False))
        reach = self.gaps[-1] + max(w, h)
        obstacles = self._nearby(_inflate(box, reach), exempt)
        crowding = self.crowding(
            [rect for _, _, rect, _ in candidates], obstacles, [d for d, _, _, _ in candidates]
        )
        best: tuple[float, int, Rect, bool] | None = None
        best_score = math.inf
        for candidate, crowded in zip(candidates, crowding, strict=True):
            distance, _, rect, _ = candidate
            if distance * 3.0 >= best_score:
                break
            value = self.score(rect, crowded)
            if value < best_score:
                best, best_score = candidate, value
        if best is None:
            # Nowhere inside the picture: fall back to the spot right of the object.
            rect = (ax1 + self.gaps[0], cy - h / 2.0, ax1 + self.gaps[0] + w, cy + h / 2.0)
            best = (0.0, 0, rect, False)
        _, _, rect, own = best
        leader = None
        if not own:
            centre = ((rect[0] + rect[2]) / 2.0, (rect[1] + rect[3]) / 2.0)
            start = _nearest_on_outline(centre, anchor)
            end = (min(max(start[0], rect[0]), rect[2]), min(max(start[1], rect[1]), rect[3]))
            if math.hypot(end[0] - start[0], end[1] - start[1]) > 5.0 * self.metrics.unit:
                leader = (start, end)
        color = inside_color if own else TEXT_COLOR
        self.placed.append(_Label(block, rect, color, not own, leader))
        self.labels.add(rect)

    def put(self, block: _Block, rect: Rect) -> None:
        """Keep a label fitted inside its own object."""
        self.placed.append(_Label(block, rect, TEXT_COLOR, False, None))
        self.labels.add(rect)

    def draw(self, image: Image.Image) -> None:
        draw = ImageDraw.Draw(image)
        dot = max(1.5, 2.0 * self.metrics.unit)
        for label in self.placed:
            if label.leader is not None:
                start, end = label.leader
                draw.line([start, end], fill=LEADER_COLOR, width=1)
                draw.ellipse(
                    (start[0] - dot, start[1] - dot, start[0] + dot, start[1] + dot),
                    fill=LEADER_COLOR,
                )
        px, py = self.pad
        for label in self.placed:
            x0, y0, x1, y1 = label.rect
            if label.boxed:
                draw.rectangle(label.rect, fill=LABEL_BOX, outline=LABEL_BOX_EDGE, width=1)
                _draw_block(image, label.block, x0 + px, y0 + py, label.color)
            else:
                w, h = label.block.box()
                cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
                _draw_block(image, label.block, cx - w / 2.0, cy - h / 2.0, label.color)


# ------------------------------------------------------------------------ drawing


@dataclass(frozen=True)
class _Shape:
    """An object's outline in pixels and its turned axes."""

    obj: PlacedObject
    outline: list[Point]
    center: Point
    ex: Point  # the object's +x (its right, seen from the front) in the picture
    ez: Point  # its front
    half_x: float
    half_z: float


def _shape(obj: PlacedObject, frame: PlanFrame) -> _Shape:
    yaw = math.radians(obj.rotation)
    cos, sin = math.cos(yaw), math.sin(yaw)
    return _Shape(
        obj=obj,
        outline=[frame.to_px(x, z) for x, z in obj.footprint()],
        center=frame.to_px(obj.position[0], obj.position[2]),
        ex=(cos, -sin),
        ez=(sin, cos),
        half_x=obj.size[0] / 2.0 * frame.scale,
        half_z=obj.size[2] / 2.0 * frame.scale,
    )


def _local_rect(shape: _Shape, x0: float, x1: float, z0: float, z1: float) -> list[Point]:
    """Corners of the rectangle [x0, x1] × [z0, z1] in the object's turned axes (pixels)."""
    out = []
    for lx, lz in ((x0, z0), (x1, z0), (x1, z1), (x0, z1)):
        out.append(_add(_add(shape.center, shape.ex, lx), shape.ez, lz))
    return out


def _dashed_path(
    draw: ImageDraw.ImageDraw,
    points: Sequence[Point],
    color: RGB,
    width: int,
    dash: float,
) -> None:
    """A closed outline drawn dashed, the dash pattern running on round the corners."""
    path = [*points, points[0]]
    on, phase = True, 0.0
    for a, b in itertools.pairwise(path):
        length = math.hypot(b[0] - a[0], b[1] - a[1])
        if length == 0:
            continue
        u = _unit(_sub(b, a))
        t = 0.0
        while t < length:
            step = min(dash - phase, length - t)
            if on:
                draw.line([_add(a, u, t), _add(a, u, t + step)], fill=color, width=width)
            t += step
            phase += step
            if phase >= dash - 1e-9:
                on, phase = not on, 0.0


def _dashed_circle(
    draw: ImageDraw.ImageDraw, center: Point, radius: float, color: RGB, width: int, dash: float
) -> None:
    count = max(8, 2 * round(math.pi * radius / dash))
    step = 360.0 / count
    box = (center[0] - radius, center[1] - radius, center[0] + radius, center[1] + radius)
    for i in range(0, count, 2):
        draw.arc(box, i * step, (i + 1) * step, fill=color, width=width)


def _arrow(
    draw: ImageDraw.ImageDraw,
    start: Point,
    direction: Point,
    length: float,
    color: RGB,
    shaft: int,
    head_max: float,
) -> None:
    head = max(3.0, min(head_max, 0.45 * length))
    tip = _add(start, direction, length)
    base = _add(tip, direction, -min(head, length))
    if length > head:
        draw.line([start, _add(base, direction, 0.5)], fill=color, width=shaft)
    side = (-direction[1], direction[0])
    half = head * 0.55
    draw.polygon([tip, _add(base, side, half), _add(base, side, -half)], fill=color)


class _Painter:
    def __init__(self, layout: Layout, width_px: int):
        self.layout = layout
        self.frame = plan_frame(layout, width_px=width_px)
        self.m = _metrics(width_px)
        self.image = Image.new("RGB", (self.frame.width, self.frame.height), BACKGROUND)
        self.draw = ImageDraw.Draw(self.image)
        room = layout.room
        self.floor = _clean([self.frame.to_px(x, z) for x, z in room.polygon])
        self.wall_px = max(WALL_THICKNESS * self.frame.scale, self.m.wall_min)
        self.outer = _outer_outline(self.floor, self.wall_px)
        self.placer = _Placer(self.frame, self.m, self.floor, self.outer)

    # ----------------------------------------------------------------- room

    def room(self) -> None:
        draw = self.draw
        draw.polygon(self.outer, fill=WALL_COLOR)
        draw.polygon(self.floor, fill=FLOOR_COLOR)
        self._grid()
        room = self.layout.room
        for window in room.windows:
            self._window(room, window)
        for door in room.doors:
            self._door(room, door)

    def _grid(self) -> None:
        frame = self.frame
        step = next((s for s in (1.0, 2.0, 5.0, 10.0, 20.0) if s * frame.scale >= 24), 50.0)
        xs = [p[0] for p in self.layout.room.polygon]
        zs = [p[1] for p in self.layout.room.polygon]
        for axis, (lo, hi) in enumerate(((min(xs), max(xs)), (min(zs), max(zs)))):
            k = math.floor(lo / step) + 1
            while k * step < hi - 1e-9:
                world = k * step
                level = frame.to_px(world, 0.0)[0] if axis == 0 else frame.to_px(0.0, world)[1]
                for a, b in _spans(level, self.floor, axis):
                    if axis == 0:
                        self.draw.line([(level, a), (level, b)], fill=GRID_COLOR, width=1)
                    else:
                        self.draw.line([(a, level), (b, level)], fill=GRID_COLOR, width=1)
                k += 1

    def _opening(self, room: Room, opening: Opening) -> tuple[Point, Point, Point, float] | None:
        """Start and end of an opening along its wall (pixels), the wall's outward normal."""
        if opening.wall >= len(room.polygon):
            return None
        a_w, b_w = room.wall_segment(opening.wall)
        a, b = self.frame.to_px(*a_w), self.frame.to_px(*b_w)
        length = math.hypot(b[0] - a[0], b[1] - a[1])
        if length < 1e-6:
            return None
        u = _unit(_sub(b, a))
        scale = self.frame.scale
        s0 = max(0.0, (opening.offset - opening.width / 2.0) * scale)
        s1 = min(length, (opening.offset + opening.width / 2.0) * scale)
        if s1 - s0 < 1.0:
            return None
        return _add(a, u, s0), _add(a, u, s1), _outward(a, b), s1 - s0

    def _window(self, room: Room, window: Opening) -> None:
        span = self._opening(room, window)
        if span is None:
            return
        p, q, out, _ = span
        t = self.wall_px
        quad = [p, q, _add(q, out, t), _add(p, out, t)]
        self.draw.polygon(quad, fill=WINDOW_FILL, outline=WINDOW_LINE, width=1)
        for f in (1.0 / 3.0, 2.0 / 3.0):
            self.draw.line([_add(p, out, t * f), _add(q, out, t * f)], fill=WINDOW_LINE, width=1)

    def _door(self, room: Room, door: Opening) -> None:
        span = self._opening(room, door)
        if span is None:
            return
        p, q, out, width = span
        t = self.wall_px
        gap = [_add(p, out, -0.5), _add(q, out, -0.5), _add(q, out, t + 1.5), _add(p, out, t + 1.5)]
        self.draw.polygon(gap, fill=BACKGROUND)
        inward = (-out[0], -out[1])
        along = _unit(_sub(q, p))
        leaf = _add(p, inward, width)
        stroke = max(1, round(2.0 * self.m.unit))
        self.draw.line([p, leaf], fill=DOOR_COLOR, width=stroke)
        open_angle = math.degrees(math.atan2(inward[1], inward[0]))
        shut_angle = math.degrees(math.atan2(along[1], along[0]))
        box = (p[0] - width, p[1] - width, p[0] + width, p[1] + width)
        if (shut_angle - open_angle) % 360.0 <= 180.0:
            self.draw.arc(box, open_angle, shut_angle, fill=DOOR_COLOR, width=1)
        else:
            self.draw.arc(box, shut_angle, open_angle, fill=DOOR_COLOR, width=1)

    # ----------------------------------------------------------------- objects

    def objects(self) -> None:
        frame, m = self.frame, self.m
        rugs: list[_Shape] = []
        floor: list[_Shape] = []
        surface: list[_Shape] = []
        wall: list[_Shape] = []
        ceiling: list[_Shape] = []
        for obj in self.layout.objects:
            shape = _shape(obj, frame)
            if obj.placement == "floor":
                (rugs if category_group(obj.category) == "rug" else floor).append(shape)
            elif obj.placement == "surface":
                surface.append(shape)
            elif obj.placement == "wall":
                wall.append(shape)
            else:
                ceiling.append(shape)
        floor.sort(key=lambda s: (-(s.obj.size[0] * s.obj.size[2]), s.obj.id))

        markers = [self._marker_outline(s) for s in surface]
        bars = [self._bar_outline(s) for s in wall]
        placer = self.placer
        for shape in floor:
            placer.add_object(_bbox(shape.outline), shape.obj.id)
            r = m.ring + 2.0
            cx, cy = shape.center
            placer.centres.add((cx - r, cy - r, cx + r, cy + r))
        for shape, outline in zip(surface, markers, strict=True):
            placer.add_object(_bbox(outline), shape.obj.id)
        for shape, outline in zip(wall, bars, strict=True):
            placer.add_object(_bbox(outline), shape.obj.id)

        for shape in rugs:
            self._rug(shape)
        for shape in floor:
            self._footprint(shape)
        for shape, outline in zip(surface, markers, strict=True):
            style = group_style(shape.obj.category)
            self.draw.polygon(outline, fill=style.fill, outline=style.ink, width=1)
        for shape, outline in zip(wall, bars, strict=True):
            self.draw.polygon(outline, fill=group_style(shape.obj.category).ink)
        for shape in ceiling:
            self._ceiling(shape)

        # Labels: first those fitting inside their footprints, then the rest around them.
        # What keeps a label out of a footprint: the markers and bars on it, and the
        # smaller floor objects drawn later over it (those after it in ``floor``).
        blockers = _Boxes()
        owners: list[tuple[str, int]] = []  # each blocker's object, and its floor index
        for s, o in zip(surface, markers, strict=True):
            blockers.add(_bbox(o))
            owners.append((s.obj.id, -1))
        for s, o in zip(wall, bars, strict=True):
            blockers.add(_bbox(o))
            owners.append((s.obj.id, -1))
        for k, s in enumerate(floor):
            blockers.add(_bbox(s.outline))
            owners.append((s.obj.id, k))
        outside: list[_Shape] = []
        for index, shape in enumerate(floor):
            if not self._inside_label(shape, index, blockers, owners):
                outside.append(shape)
        ids = {s.obj.id for s in floor}
        for shape in outside:
            placer.place(shape.obj.category, m.label_out, shape.outline, frozenset({shape.obj.id}))
        for shape, outline in zip(surface, markers, strict=True):
            exempt = {shape.obj.id}
            if shape.obj.parent in ids:
                exempt.add(shape.obj.parent)
            placer.place(shape.obj.category, m.label_small, outline, frozenset(exempt))
        for shape, outline in zip(wall, bars, strict=True):
            placer.place(shape.obj.category, m.label_small, outline, frozenset({shape.obj.id}))
        for shape in ceiling:
            placer.place(
                shape.obj.category,
                m.label_small,
                self._ceiling_outline(shape),
                frozenset({shape.obj.id}),
            )
        for shape in rugs:
            self._rug_label(shape)
        placer.draw(self.image)

    def _footprint(self, shape: _Shape) -> None:
        m = self.m
        style = group_style(shape.obj.category)
        self.draw.polygon(shape.outline, fill=style.fill, outline=style.ink, width=m.outline)
        cx, cy = shape.center
        r = m.ring
        self.draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=style.ink, width=1)
        start = _add(shape.center, shape.ez, r + 1.0)
        length = shape.half_z - m.outline - 2.0 * m.unit - (r + 1.0)
        if length >= 2.0:
            _arrow(self.draw, start, shape.ez, length, style.ink, m.shaft, 14.0 * m.unit)

    def _inside_label(
        self, shape: _Shape, index: int, blockers: _Boxes, owners: list[tuple[str, int]]
    ) -> bool:
        """Fit the category into the back part of the footprint, clear of the arrow."""
        m = self.m
        pad = m.outline + 2.0 * m.unit
        gap = m.ring + max(2.0, 3.0 * m.unit)
        x0, x1 = -shape.half_x + pad, shape.half_x - pad
        back, front = -shape.half_z + pad, -gap
        for _ in range(4):
            if x1 - x0 < 4.0 or front - back < 4.0:
                return False
            centre = _add(
                _add(shape.center, shape.ex, (x0 + x1) / 2.0), shape.ez, (back + front) / 2
            )
            region = _Region(centre, shape.ex, shape.ez, (x1 - x0) / 2.0, (front - back) / 2.0)
            block = _fit(shape.obj.category, region, m.label_max, m.label_min)
            if block is None:
                return False
            w, h = block.box()
            rect = (
                centre[0] - w / 2.0,
                centre[1] - h / 2.0,
                centre[0] + w / 2.0,
                centre[1] + h / 2.0,
            )
            hits = [
                blockers.rects[k]
                for k in blockers.near(rect)
                if owners[k][0] != shape.obj.id
                and (owners[k][1] < 0 or owners[k][1] > index)
                and _overlap(rect, blockers.rects[k])
            ]
            if not hits:
                self.placer.put(block, rect)
                return True
            # Move the region's back edge past whatever covers it, then try again.
            reach = back
            for box in hits:
                for corner in (
                    (box[0], box[1]),
                    (box[2], box[1]),
                    (box[0], box[3]),
                    (box[2], box[3]),
                ):
                    reach = max(reach, _dot(_sub(corner, shape.center), shape.ez))
            if reach <= back:
                return False
            back = reach + 2.0
        return False

    def _rug(self, shape: _Shape) -> None:
        m = self.m
        style = GROUP_STYLES["rug"]
        outline = shape.outline
        self.draw.polygon(outline, fill=style.fill)
        spacing = max(4.0, 8.0 * m.unit)
        direction = _unit((1.0, 1.0))
        normal = (-direction[1], direction[0])
        levels = [_dot(normal, p) for p in outline]
        base = _dot(normal, shape.center)
        k = math.floor((min(levels) - base) / spacing - 0.5)
        while base + (k + 0.5) * spacing < max(levels):
            origin = _add((0.0, 0.0), normal, base + (k + 0.5) * spacing)
            span = _clip_convex(origin, direction, outline)
            if span is not None:
                a = _add(origin, direction, span[0])
                b = _add(origin, direction, span[1])
                self.draw.line([a, b], fill=RUG_HATCH, width=1)
            k += 1
        _dashed_path(self.draw, outline, style.ink, m.outline, m.dash)

    def _rug_label(self, shape: _Shape) -> None:
        m = self.m
        block = _Block((shape.obj.category,), m.label_small)
        w, h = block.box()
        inset = max(4.0, 6.0 * m.unit) + m.outline
        spots: list[Rect] = []
        for fx, fz in ((-1, -1), (1, -1), (-1, 1), (1, 1), (0, -1), (0, 1), (-1, 0), (1, 0)):
            lx = fx * max(0.0, shape.half_x - inset - w / 2.0)
            lz = fz * max(0.0, shape.half_z - inset - h / 2.0)
            c = _add(_add(shape.center, shape.ex, lx), shape.ez, lz)
            rect = (c[0] - w / 2.0, c[1] - h / 2.0, c[0] + w / 2.0, c[1] + h / 2.0)
            corners = (
                (rect[0], rect[1]),
                (rect[2], rect[1]),
                (rect[0], rect[3]),
                (rect[2], rect[3]),
            )
            if all(_inside(p, shape.outline) for p in corners):
                spots.append(rect)
        self.placer.place(
            shape.obj.category,
            m.label_small,
            shape.outline,
            frozenset({shape.obj.id}),
            inside=spots,
            inside_color=GROUP_STYLES["rug"].ink,
        )

    def _marker_outline(self, shape: _Shape) -> list[Point]:
        half = self.m.marker_min / 2.0
        hx, hz = max(shape.half_x, half), max(shape.half_z, half)
        return _local_rect(shape, -hx, hx, -hz, hz)

    def _bar_outline(self, shape: _Shape) -> list[Point]:
        """A bar from the object's back face toward its front, at least ``bar_min`` thick."""
        depth = max(2.0 * shape.half_z, self.m.bar_min)
        back = -shape.half_z
        hx = max(shape.half_x, self.m.marker_min / 2.0)
        return _local_rect(shape, -hx, hx, back, back + depth)

    def _ceiling_outline(self, shape: _Shape) -> list[Point]:
        if category_group(shape.obj.category) == "lighting":
            r = max(shape.half_x, shape.half_z, self.m.marker_min)
            cx, cy = shape.center
            return [
                (cx + r * math.cos(i * math.pi / 8.0), cy + r * math.sin(i * math.pi / 8.0))
                for i in range(16)
            ]
        return shape.outline

    def _ceiling(self, shape: _Shape) -> None:
        m = self.m
        ink = group_style(shape.obj.category).ink
        width = max(1, m.outline)
        if category_group(shape.obj.category) == "lighting":
            r = max(shape.half_x, shape.half_z, m.marker_min)
            _dashed_circle(self.draw, shape.center, r, ink, width, m.dash)
        else:
            _dashed_path(self.draw, shape.outline, ink, width, m.dash)

    # ----------------------------------------------------------------- frame

    def title(self) -> None:
        room = self.layout.room
        m = self.m
        xs = [p[0] for p in room.polygon]
        zs = [p[1] for p in room.polygon]
        text = (
            f"{room.type}  ·  {max(xs) - min(xs):.1f} x {max(zs) - min(zs):.1f} m"
            f"  ·  {room.area:.1f} m"
        )
        size = m.title_size
        x, y = self.frame.left, 12.0 * m.unit
        self.draw.text((x, y), text, font=_font(size), fill=TEXT_COLOR, anchor="la")
        # The font has no superscript two: draw a small raised 2 after "m".
        sup = max(6, round(size * 0.6))
        self.draw.text(
            (x + _text_width(text, size) + 1, y - size * 0.05),
            "2",
            font=_font(sup),
            fill=TEXT_COLOR,
            anchor="la",
        )
        count = len(self.layout.objects)
        tail = f"  ·  {count} object{'' if count == 1 else 's'}"
        self.draw.text(
            (x + _text_width(text, size) + _text_width("2", sup) + 2, y),
            tail,
            font=_font(size),
            fill=TEXT_COLOR,
            anchor="la",
        )

    def legend(self) -> None:
        frame, m = self.frame, self.m
        u = m.unit
        y = frame.top + frame.plan_height + 0.75 * m.margin
        # Scale bar: the longest round length up to a third of the plan's width.
        room_width = frame.plan_width
        limit = max(room_width / 3.0, 40.0 * u)
        nice = (0.1, 0.2, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0)
        length = max((n for n in nice if n * frame.scale <= limit), default=nice[0])
        parts = {0.25: 1, 0.5: 2, 1.0: 4, 2.0: 4, 5.0: 5, 10.0: 5}.get(length, 2)
        bar_h = max(4.0, 7.0 * u)
        x = frame.left
        step = length * frame.scale / parts
        for i in range(parts):
            self.draw.rectangle(
                (x + i * step, y, x + (i + 1) * step, y + bar_h),
                fill=TEXT_COLOR if i % 2 == 0 else BACKGROUND,
                outline=TEXT_COLOR,
                width=1,
            )
        size = m.note_size
        font = _font(size)
        ty = y + bar_h + 4.0 * u
        self.draw.text((x, ty), "0", font=font, fill=TEXT_COLOR, anchor="ma")
        self.draw.text(
            (x + length * frame.scale, ty), f"{length:g} m", font=font, fill=TEXT_COLOR, anchor="ma"
        )
        # Axis legend: +x to the right, +z down the page.
        arm = max(18.0, 32.0 * u)
        ox = frame.left + frame.plan_width - arm - _text_width("x", size) - 6.0 * u
        oy = y
        stroke = max(1, round(1.5 * u))
        head = max(4.0, 7.0 * u)
        _arrow(self.draw, (ox, oy), (1.0, 0.0), arm, TEXT_COLOR, stroke, head)
        _arrow(self.draw, (ox, oy), (0.0, 1.0), arm, TEXT_COLOR, stroke, head)
        self.draw.text((ox + arm + 4.0 * u, oy), "x", font=font, fill=TEXT_COLOR, anchor="lm")
        self.draw.text((ox, oy + arm + 2.0 * u), "z", font=font, fill=TEXT_COLOR, anchor="ma")
        self.draw.text((ox - 8.0 * u, oy), "top view", font=font, fill=TEXT_COLOR, anchor="rm")
        if self.layout.unplaced:
            names = ", ".join(
                u.category if u.count == 1 else f"{u.category} x{u.count}"
                for u in self.layout.unplaced
            )
            note = f"not placed: {names}"
            limit_px = frame.width - 2.0 * frame.left
            while len(note) > 12 and _text_width(note, size) > limit_px:
                note = note[:-5] + "..."
            self.draw.text(
                (frame.left, frame.height - size * 1.5), note, font=font, fill=LEADER_COLOR
            )


def render_floorplan(layout: Layout, *, width_px: int = 1024) -> Image.Image:
    """The floor plan of ``layout`` as an RGB image ``width_px`` wide."""
    painter = _Painter(layout, width_px)
    painter.room()
    painter.objects()
    painter.title()
    painter.legend()
    return painter.image


def floorplan_png(layout: Layout, *, width_px: int = 1024) -> bytes:
    """The floor plan of ``layout`` as PNG bytes (RGB, ``width_px`` wide).

    Seen from above with +X to the right and +Z down the page; the height follows the
    room's aspect ratio. The same layout always gives the same bytes.
    """
    return encode_png(render_floorplan(layout, width_px=width_px))


def encode_png(image: Image.Image) -> bytes:
    """An 8-bit RGB PNG of ``image``; fast deflate, as flat-coloured plans compress well anyway."""
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()
