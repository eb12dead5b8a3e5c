"""Furniture and fittings: seating, tables, storage, beds, lamps, kitchen and bathroom.

The recipes meshgen started with; each draws into a :class:`Parts` within
x ∈ [-w/2, w/2], y ∈ [0, h], z ∈ [-d/2, d/2], front towards +Z.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from services.meshgen.primitives import (
    Builder,
    Parts,
    bar_handle,
    clamp,
    four_legs,
    knob,
)

# Shapes. Each draws into ``p`` within x ∈ [-w/2, w/2], y ∈ [0, h], z ∈ [-d/2, d/2].


def _bed(p: Parts, w: float, h: float, d: float) -> None:
    top = min(0.5 * h, 0.6)
    frame_top = 0.55 * top
    leg = 0.22 * top
    board = min(0.08, 0.08 * d)
    back, front = -d / 2.0, d / 2.0
    # Headboard with a padded panel on its front.
    with p.accent("wood"):
        p.box((-w / 2.0, 0.0, back), (w / 2.0, h, back + board * 0.6))
    pad = min(0.08, 0.06 * w)
    p.box(
        (-w / 2.0 + pad, top, back + board * 0.6),
        (w / 2.0 - pad, h - 0.12 * (h - top), back + board),
    )
    # Frame on two foot legs.
    with p.accent("wood"):
        p.box((-w / 2.0, leg, back + board * 0.6), (w / 2.0, frame_top, front))
    lt = min(0.07, 0.12 * w, 0.12 * d)
    for sx in (-1.0, 1.0):
        x = sx * (w / 2.0 - lt / 2.0 - 0.02 * w)
        with p.accent("wood"):
            p.box((x - lt / 2.0, 0.0, front - lt - 0.02 * d), (x + lt / 2.0, leg, front - 0.02 * d))
    # Mattress, a duvet over its foot end, pillows at the head.
    m = min(0.03, 0.03 * w)
    head = back + board
    with p.accent("white"):
        p.box((-w / 2.0 + m, frame_top, head), (w / 2.0 - m, top, front - m))
    cover = min(0.04, 0.25 * (h - top))
    duvet_start = head + 0.3 * (front - m - head)
    p.box(
        (-w / 2.0 + 0.3 * m, frame_top + 0.5 * (top - frame_top), duvet_start),
        (w / 2.0 - 0.3 * m, top + cover, front - 0.3 * m),
    )
    pillows = 2 if w >= 1.15 else 1
    lane = (w - 2.0 * m) / pillows
    ph = min(0.13, 0.5 * (h - top))
    pd = min(0.38, 0.8 * (duvet_start - head))
    for i in range(pillows):
        x = -w / 2.0 + m + (i + 0.5) * lane
        with p.accent("white"):
            p.ellipsoid(
                (x, top + ph / 2.0, head + 0.01 * d + pd / 2.0), (0.43 * lane, ph / 2.0, pd / 2.0)
            )


def _sofa(p: Parts, w: float, h: float, d: float, *, seats: int | None, rolled: bool) -> None:
    leg = min(0.1, 0.12 * h)
    base_top = 0.38 * h
    seat_top = 0.52 * h
    arm_top = 0.7 * h
    arm = min(0.2, (0.15 if rolled else 0.1) * w)
    back = min(0.22, 0.18 * d)
    lt = min(0.05, 0.08 * w, 0.08 * d)
    with p.accent("wood"):
        four_legs(p, w / 2.0 - lt, d / 2.0 - lt, lt, 0.0, leg, round_legs=rolled, taper=1.3)
    p.box((-w / 2.0, leg, -d / 2.0), (w / 2.0, 0.82 * h, -d / 2.0 + back))
    roll = arm / 2.0 if rolled else 0.0
    for sx in (-1.0, 1.0):
        x0, x1 = sorted((sx * w / 2.0, sx * (w / 2.0 - arm)))
        p.box((x0, leg, -d / 2.0 + back), (x1, arm_top - roll, d / 2.0))
        if rolled:
            p.cylinder(
                ((x0 + x1) / 2.0, arm_top - roll, back / 2.0), d - back, roll, roll, axis="z"
            )
    inner = w - 2.0 * arm
    p.box((-w / 2.0 + arm, leg, -d / 2.0 + back), (w / 2.0 - arm, base_top, d / 2.0))
    count = seats if seats is not None else int(clamp(round(inner / 0.62), 1, 4))
    cushion = min(0.18, 0.2 * d)
    gap = min(0.012, 0.02 * inner / count)
    for i in range(count):
        x0 = -w / 2.0 + arm + i * inner / count + gap / 2.0
        x1 = x0 + inner / count - gap
        p.box((x0, base_top, -d / 2.0 + back + cushion), (x1, seat_top, d / 2.0 - 0.01 * d))
        p.box((x0, base_top, -d / 2.0 + back), (x1, h, -d / 2.0 + back + cushion))


def _chair(p: Parts, w: float, h: float, d: float) -> None:
    seat = min(0.47, 0.5 * h)
    st = min(0.045, 0.1 * seat)
    lt = min(0.04, 0.1 * w, 0.1 * d)
    r = lt / 2.0
    for sx in (-1.0, 1.0):
        x = sx * (w / 2.0 - r)
        p.box((x - r, 0.0, d / 2.0 - lt), (x + r, seat - st, d / 2.0))
        p.box((x - r, 0.0, -d / 2.0), (x + r, h, -d / 2.0 + lt))
        y = 0.25 * seat
        p.box((x - r * 0.6, y, -d / 2.0 + lt), (x + r * 0.6, y + 0.6 * lt, d / 2.0 - lt))
    p.box((-w / 2.0, seat - st, -d / 2.0), (w / 2.0, seat, d / 2.0))
    rail = min(0.08, 0.25 * (h - seat))
    z0, z1 = -d / 2.0 + 0.15 * lt, -d / 2.0 + 0.85 * lt
    p.box((-w / 2.0 + lt, h - rail, z0), (w / 2.0 - lt, h, z1))
    slat = min(0.03, 0.08 * w)
    for fx in (-0.25, 0.0, 0.25):
        x = fx * w
        p.box((x - slat / 2.0, seat, z0 + 0.1 * lt), (x + slat / 2.0, h - rail, z1 - 0.1 * lt))


def _office_chair(p: Parts, w: float, h: float, d: float) -> None:
    reach = 0.5 * min(w, d)
    caster = min(0.06, 0.08 * h, 0.3 * reach)
    spoke_h = min(0.04, 0.05 * h)
    spoke_w = min(0.05, 0.15 * reach)
    for k in range(5):
        angle = 90.0 + 72.0 * k
        p.box(
            (0.0, caster, -spoke_w / 2.0),
            (reach - caster / 2.0, caster + spoke_h, spoke_w / 2.0),
            turn=("y", angle),
            pivot=(0.0, 0.0, 0.0),
        )
        a = math.radians(angle)
        dist = reach - caster / 2.0
        p.ellipsoid(
            (dist * math.cos(a), caster / 2.0, -dist * math.sin(a)),
            (caster / 2.0, caster / 2.0, caster / 2.0),
        )
    seat_top = 0.45 * h
    seat_t = min(0.08, 0.12 * seat_top)
    post = min(0.03, 0.1 * reach)
    low = caster + spoke_h
    mech = seat_top - seat_t - 0.04 * seat_top
    p.cylinder((0.0, (low + mech) / 2.0, 0.0), mech - low, post)
    p.box((-0.1 * w, mech, -0.15 * d), (0.1 * w, seat_top - seat_t, 0.15 * d))
    side = min(0.07, 0.12 * w)
    bt = min(0.07, 0.1 * d)
    p.box((-w / 2.0 + side, seat_top - seat_t, -d / 2.0 + bt), (w / 2.0 - side, seat_top, d / 2.0))
    back_low = seat_top + 0.1 * (h - seat_top)
    p.box((-0.4 * w, back_low, -d / 2.0), (0.4 * w, h, -d / 2.0 + bt))
    spine = min(0.035, 0.08 * w)
    p.box(
        (-spine, seat_top - seat_t, -d / 2.0 + 0.2 * bt),
        (spine, back_low + 0.1 * (h - back_low), -d / 2.0 + bt + 0.06 * d),
    )
    arm_top = seat_top + min(0.22, 0.4 * (h - seat_top))
    pad = min(0.03, 0.2 * (arm_top - seat_top))
    for sx in (-1.0, 1.0):
        x0, x1 = sorted((sx * w / 2.0, sx * (w / 2.0 - side)))
        xm = (x0 + x1) / 2.0
        p.box(
            (xm - 0.3 * side, seat_top - seat_t / 2.0, -0.05 * d),
            (xm + 0.3 * side, arm_top - pad, 0.05 * d),
        )
        p.box((x0, arm_top - pad, -0.2 * d), (x1, arm_top, 0.2 * d))


def _stool(p: Parts, w: float, h: float, d: float) -> None:
    st = min(0.05, 0.1 * h)
    round_seat = abs(w - d) <= 0.2 * max(w, d)
    if round_seat:
        p.cylinder((0.0, h - st / 2.0, 0.0), st, w / 2.0, d / 2.0)
    else:
        p.box((-w / 2.0, h - st, -d / 2.0), (w / 2.0, h, d / 2.0))
    lt = min(0.04, 0.12 * min(w, d))
    hx, hz = 0.62 * w / 2.0, 0.62 * d / 2.0
    four_legs(p, hx, hz, lt, 0.0, h - st, round_legs=True)
    y = (0.33 if h > 0.55 else 0.2) * h
    rt = 0.5 * lt
    for sz in (-1.0, 1.0):
        p.box((-hx, y, sz * hz - rt / 2.0), (hx, y + rt, sz * hz + rt / 2.0))
    for sx in (-1.0, 1.0):
        p.box((sx * hx - rt / 2.0, y + 1.5 * rt, -hz), (sx * hx + rt / 2.0, y + 2.5 * rt, hz))


def _bench(p: Parts, w: float, h: float, d: float) -> None:
    st = min(0.04, 0.12 * h)
    slats = int(clamp(round(d / 0.1), 2, 5))
    pitch = d / slats
    for i in range(slats):
        z0 = -d / 2.0 + i * pitch + 0.08 * pitch
        p.box((-w / 2.0, h - st, z0), (w / 2.0, h, z0 + 0.84 * pitch))
    lt = min(0.05, 0.1 * w, 0.15 * d)
    rail = min(0.05, 0.1 * h)
    frame_x = w / 2.0 - max(0.08 * w, lt)
    for sx in (-1.0, 1.0):
        x = sx * frame_x
        for sz in (-1.0, 1.0):
            z = sz * (d / 2.0 - lt / 2.0 - 0.04 * d)
            p.box((x - lt / 2.0, 0.0, z - lt / 2.0), (x + lt / 2.0, h - st, z + lt / 2.0))
        p.box(
            (x - lt / 2.0, h - st - rail, -d / 2.0 + 0.04 * d),
            (x + lt / 2.0, h - st, d / 2.0 - 0.04 * d),
        )
        p.box(
            (x - lt / 3.0, 0.2 * h, -d / 2.0 + 0.04 * d),
            (x + lt / 3.0, 0.2 * h + 0.6 * lt, d / 2.0 - 0.04 * d),
        )
    p.box((-frame_x, 0.2 * h, -lt / 3.0), (frame_x, 0.2 * h + 0.6 * lt, lt / 3.0))


def _table(p: Parts, w: float, h: float, d: float, *, kind: str) -> None:
    tt = min(0.04, 0.1 * h)
    lt = min(0.06 if kind != "coffee table" else 0.05, 0.08 * w, 0.08 * d)
    inset = 0.04 * min(w, d)
    hx, hz = w / 2.0 - inset - lt / 2.0, d / 2.0 - inset - lt / 2.0
    p.box((-w / 2.0, h - tt, -d / 2.0), (w / 2.0, h, d / 2.0))
    leg_top = h - tt
    round_legs = kind == "dining table"
    four_legs(p, hx, hz, lt, 0.0, leg_top, round_legs=round_legs, taper=1.5)
    if kind in ("table", "dining table"):
        apron = min(0.08, 0.15 * h)
        a = lt * 0.35
        for sz in (-1.0, 1.0):
            z = sz * hz
            p.box((-hx, leg_top - apron, z - a / 2.0), (hx, leg_top, z + a / 2.0))
        for sx in (-1.0, 1.0):
            x = sx * hx
            p.box((x - a / 2.0, leg_top - apron, -hz), (x + a / 2.0, leg_top, hz))
    if kind in ("coffee table", "side table"):
        shelf_y = 0.15 * h
        p.box((-hx, shelf_y, -hz), (hx, shelf_y + 0.6 * tt, hz))
    if kind == "side table":
        box_h = min(0.14, 0.25 * h)
        p.box(
            (-hx + lt / 2.0, leg_top - box_h, -hz + lt / 2.0),
            (hx - lt / 2.0, leg_top, hz - lt / 2.0),
        )
        front = hz - lt / 2.0
        knob_r = min(0.015, 0.2 * box_h, 0.1 * w)
        knob(p, 0.0, leg_top - box_h / 2.0, front, knob_r, min(0.02, d / 2.0 - front + 0.001))


def _desk(p: Parts, w: float, h: float, d: float) -> None:
    tt = min(0.035, 0.06 * h)
    under = h - tt
    p.box((-w / 2.0, under, -d / 2.0), (w / 2.0, h, d / 2.0))
    panel = min(0.025, 0.05 * w)
    edge = 0.02 * min(w, d)
    p.box((-w / 2.0 + edge, 0.0, -d / 2.0 + edge), (-w / 2.0 + edge + panel, under, d / 2.0 - edge))
    pw = min(0.45, 0.35 * w)
    handle = min(0.02, 0.06 * d)
    front_t = min(0.018, 0.05 * d)
    body_front = d / 2.0 - edge - handle - front_t
    x0, x1 = w / 2.0 - edge - pw, w / 2.0 - edge
    p.box((x0, 0.0, -d / 2.0 + edge), (x1, under, body_front))
    p.box(
        (-w / 2.0 + edge + panel, 0.45 * under, -d / 2.0 + edge),
        (x0, under, -d / 2.0 + edge + front_t),
    )
    rows = 3
    gap = 0.008 * under
    row_h = (under - 0.04 * under) / rows
    for i in range(rows):
        y0 = 0.04 * under + i * row_h + gap / 2.0
        y1 = y0 + row_h - gap
        p.box((x0 + gap, y0, body_front), (x1 - gap, y1, body_front + front_t))
        bar_handle(
            p,
            (x0 + x1) / 2.0,
            y1 - 0.25 * row_h,
            body_front + front_t,
            0.4 * pw,
            min(0.015, 0.1 * row_h),
            handle,
        )


def _door_cabinet(p: Parts, w: float, h: float, d: float, *, doors: int, cornice: bool) -> None:
    """A carcass on a plinth with doors on its front (wardrobe, cabinet)."""
    plinth = min(0.08, 0.06 * h)
    top_t = min(0.04, 0.04 * h)
    door_t = min(0.02, 0.05 * d)
    handle = min(0.025, 0.08 * d)
    front = d / 2.0 - handle - door_t
    inset = min(0.02, 0.04 * d)
    p.box((-w / 2.0 + inset, 0.0, -d / 2.0), (w / 2.0 - inset, plinth, front - inset))
    p.box((-w / 2.0, plinth, -d / 2.0), (w / 2.0, h - top_t, front))
    if cornice:
        p.box((-w / 2.0, h - top_t, -d / 2.0), (w / 2.0, h, front + door_t + 0.5 * handle))
    else:
        p.box((-w / 2.0, h - top_t, -d / 2.0), (w / 2.0, h, d / 2.0))
    gap = min(0.006, 0.01 * w)
    y0, y1 = plinth + gap, h - top_t - gap
    lane = w / doors
    bar_w = min(0.018, 0.15 * lane)
    bar_h = min(0.3, 0.2 * h)
    for i in range(doors):
        x0 = -w / 2.0 + i * lane + gap / 2.0
        x1 = x0 + lane - gap
        p.box((x0, y0, front), (x1, y1, front + door_t))
        # Handles sit at the edge that meets the neighbouring door.
        x = x1 - 2.0 * bar_w if doors == 1 or i < doors / 2.0 else x0 + 2.0 * bar_w
        # At hand height on tall doors, in the upper part of low ones.
        length = min(bar_h, 0.8 * (y1 - y0))
        centre = 1.05 if h > 1.3 else y0 + 0.75 * (y1 - y0)
        y = clamp(centre, y0 + length / 2.0, y1 - length / 2.0)
        bar_handle(p, x, y, front + door_t, bar_w, length, handle)


def _drawer_chest(p: Parts, w: float, h: float, d: float, *, legs: bool) -> None:
    """A body with drawer fronts and knobs (dresser, nightstand)."""
    top_t = min(0.03, 0.05 * h)
    base = min(0.1 if legs else 0.08, 0.15 * h)
    knob_d = min(0.025, 0.08 * d)
    front_t = min(0.018, 0.05 * d)
    body_front = d / 2.0 - knob_d - front_t
    side = min(0.015, 0.03 * w)
    p.box((-w / 2.0, h - top_t, -d / 2.0), (w / 2.0, h, body_front + front_t + 0.3 * knob_d))
    p.box((-w / 2.0 + side, base, -d / 2.0 + side), (w / 2.0 - side, h - top_t, body_front))
    if legs:
        lt = min(0.04, 0.1 * w, 0.1 * d)
        four_legs(
            p,
            w / 2.0 - side - lt / 2.0,
            d / 2.0 - knob_d - lt,
            lt,
            0.0,
            base,
            round_legs=True,
            taper=1.4,
        )
    else:
        p.box(
            (-w / 2.0 + 2.0 * side, 0.0, -d / 2.0 + 2.0 * side),
            (w / 2.0 - 2.0 * side, base, body_front - side),
        )
    cols = 2 if w >= 1.0 else 1
    span = h - top_t - base
    rows = int(clamp(round(span / 0.22), 2, 5))
    gap = min(0.006, 0.02 * span)
    inner_w = w - 2.0 * side
    for c in range(cols):
        for r in range(rows):
            x0 = -w / 2.0 + side + c * inner_w / cols + gap / 2.0
            x1 = x0 + inner_w / cols - gap
            y0 = base + r * span / rows + gap / 2.0
            y1 = y0 + span / rows - gap
            p.box((x0, y0, body_front), (x1, y1, body_front + front_t))
            knob_r = min(0.015, 0.15 * (y1 - y0), 0.1 * (x1 - x0))
            if x1 - x0 > 0.6:
                for fx in (0.25, 0.75):
                    knob(
                        p,
                        x0 + fx * (x1 - x0),
                        (y0 + y1) / 2.0,
                        body_front + front_t,
                        knob_r,
                        knob_d,
                    )
            else:
                knob(p, (x0 + x1) / 2.0, (y0 + y1) / 2.0, body_front + front_t, knob_r, knob_d)


# Spines in a row of books: a few cloth colours.
_BOOK_COLOURS = ("red", "blue", "cream", "leaf", "black", "yellow", "wood")
_BOOKS = ((0.035, 0.82), (0.025, 0.7), (0.045, 0.88), (0.03, 0.76), (0.04, 0.8), (0.028, 0.66))


def _shelves(
    p: Parts, w: float, h: float, d: float, *, books: bool, boards: tuple[float, ...] = ()
) -> None:
    """Open shelving; ``boards`` are the board tops as fractions of ``h`` (else spaced
    about 35 cm apart), a top board is always added at ``h``."""
    st = min(0.025, 0.06 * w)
    bt = min(0.022, 0.04 * h)
    back_t = min(0.008, 0.05 * d)
    p.box((-w / 2.0, 0.0, -d / 2.0), (-w / 2.0 + st, h, d / 2.0))
    p.box((w / 2.0 - st, 0.0, -d / 2.0), (w / 2.0, h, d / 2.0))
    # The back and the boards are housed in grooves cut into the sides.
    groove = 0.4 * st
    p.box((-w / 2.0 + st - groove, 0.0, -d / 2.0), (w / 2.0 - st + groove, h, -d / 2.0 + back_t))
    kick = min(0.06, 0.08 * h) if books else 0.0
    if boards:
        kick = min(kick, max(0.0, boards[0] * h - bt))
        tops = [max(f * h, bt) for f in boards]
        if h - tops[-1] > 2.0 * bt:
            tops.append(h)
    else:
        levels = int(clamp(round((h - kick) / 0.35), 1, 8))
        pitch = (h - kick - bt) / levels
        tops = [kick + i * pitch + bt for i in range(levels + 1)]
    if books and kick > 0.0:
        p.box((-w / 2.0 + st, 0.0, d / 2.0 - 2.0 * bt), (w / 2.0 - st, kick, d / 2.0 - bt))
    inner = w - 2.0 * st
    for i, top in enumerate(tops):
        y = top - bt
        p.box(
            (-w / 2.0 + st - 0.5 * groove, y, -d / 2.0 + back_t),
            (w / 2.0 - st + 0.5 * groove, top, d / 2.0),
        )
        if not books or i == len(tops) - 1:
            continue
        clear = tops[i + 1] - bt - top
        x = -w / 2.0 + st + 0.04 * inner
        # Drawn books fill the left part of a board; the right end is left free for
        # books the layout stands there (they fill boards from the right).
        limit = -w / 2.0 + st + (0.55 - 0.1 * (i % 3)) * inner
        scale = min(1.0, clear / 0.3, inner / 0.6)
        for j in range(12):
            width, tall = _BOOKS[(i * 2 + j) % len(_BOOKS)]
            width *= scale
            if x + width > limit:
                break
            with p.accent(_BOOK_COLOURS[(i * 5 + j * 3) % len(_BOOK_COLOURS)]):
                p.box(
                    (x, top, -d / 2.0 + back_t + 0.1 * d),
                    (x + width * 0.95, top + tall * clear, d / 2.0 - 0.08 * d),
                )
            x += width


def _tv(p: Parts, w: float, h: float, d: float) -> None:
    panel = min(0.04, 0.3 * d)
    bezel = min(0.015, 0.03 * min(w, h))
    standing = d >= 0.12 and d >= 3.0 * panel
    if standing:
        foot = min(0.02, 0.05 * h)
        low = min(0.08, 0.12 * h)
        p.box((-0.2 * w, 0.0, -d / 2.0), (0.2 * w, foot, d / 2.0))
        neck = min(0.04, 0.05 * w)
        p.box((-neck, foot, -panel - 0.3 * panel), (neck, low + 0.3 * (h - low), -panel / 2.0))
        z0, z1 = -panel / 2.0, panel / 2.0
    else:
        low = 0.0
        z0, z1 = -d / 2.0 + 0.3 * d, d / 2.0 - 0.1 * d
    p.box((-w / 2.0, low, z0), (w / 2.0, h, z1))
    screen_t = 0.1 * (z1 - z0) if not standing else min(0.003, 0.1 * panel)
    with p.accent("screen"):
        p.box((-w / 2.0 + bezel, low + bezel, z1), (w / 2.0 - bezel, h - bezel, z1 + screen_t))
    hump_z0 = z0 - (0.4 * panel if standing else 0.3 * d)
    p.box((-0.35 * w, low + 0.2 * (h - low), hump_z0), (0.35 * w, low + 0.8 * (h - low), z0))


def _tv_stand(p: Parts, w: float, h: float, d: float) -> None:
    leg = min(0.1, 0.2 * h)
    tt = min(0.03, 0.08 * h)
    handle = min(0.02, 0.06 * d)
    door_t = min(0.018, 0.05 * d)
    front = d / 2.0 - handle - door_t
    lt = min(0.04, 0.08 * w, 0.1 * d)
    four_legs(p, w / 2.0 - lt, front - lt, lt, 0.0, leg, round_legs=True, taper=1.3)
    p.box((-w / 2.0, h - tt, -d / 2.0), (w / 2.0, h, d / 2.0 - 0.5 * handle))
    bay = w / 3.0
    body_top = h - tt
    p.box((-w / 2.0, leg, -d / 2.0), (w / 2.0, leg + tt, front))
    for sx in (-1.0, 1.0):
        x0, x1 = sorted((sx * w / 2.0, sx * (w / 2.0 - bay)))
        p.box((x0, leg + tt, -d / 2.0), (x1, body_top, front))
        gap = min(0.005, 0.02 * bay)
        p.box((x0 + gap, leg + gap, front), (x1 - gap, body_top - gap, front + door_t))
        x = x1 - 0.12 * bay if sx < 0 else x0 + 0.12 * bay
        bar_handle(
            p,
            x,
            (leg + body_top) / 2.0,
            front + door_t,
            min(0.015, 0.1 * bay),
            0.4 * (body_top - leg),
            handle,
        )
    p.box((-w / 2.0 + bay, leg + tt, -d / 2.0), (w / 2.0 - bay, body_top, -d / 2.0 + 0.25 * d))
    mid = (leg + tt + body_top) / 2.0
    p.box(
        (-w / 2.0 + bay, mid - tt / 3.0, -d / 2.0 + 0.25 * d),
        (w / 2.0 - bay, mid + tt / 3.0, front),
    )


def _floor_lamp(p: Parts, w: float, h: float, d: float) -> None:
    shade_h = min(0.35, 0.25 * h)
    base_h = min(0.03, 0.03 * h)
    p.cylinder((0.0, base_h / 2.0, 0.0), base_h, 0.6 * w / 2.0, 0.6 * d / 2.0)
    pole = min(0.012, 0.05 * min(w, d))
    pole_top = h - 0.5 * shade_h
    p.cylinder((0.0, (base_h + pole_top) / 2.0, 0.0), pole_top - base_h, pole, sections=12)
    collar = min(0.03, 0.1 * h)
    p.cylinder((0.0, h - shade_h - collar / 2.0, 0.0), collar, 2.0 * pole, sections=12)
    with p.accent("light"):
        p.cylinder((0.0, h - shade_h / 2.0, 0.0), shade_h, w / 2.0, d / 2.0, taper=0.75)


def _table_lamp(p: Parts, w: float, h: float, d: float) -> None:
    foot_h = min(0.02, 0.05 * h)
    p.cylinder((0.0, foot_h / 2.0, 0.0), foot_h, 0.45 * w / 2.0, 0.45 * d / 2.0)
    body_h = 0.35 * h
    p.ellipsoid(
        (0.0, foot_h + body_h / 2.0, 0.0), (0.4 * w / 2.0, body_h / 2.0, 0.4 * d / 2.0), detail=2
    )
    shade_h = 0.42 * h
    neck_top = h - shade_h + 0.1 * shade_h
    neck_low = foot_h + body_h * 0.9
    p.cylinder(
        (0.0, (neck_low + neck_top) / 2.0, 0.0),
        neck_top - neck_low,
        min(0.012, 0.06 * w),
        sections=12,
    )
    with p.accent("light"):
        p.cylinder((0.0, h - shade_h / 2.0, 0.0), shade_h, w / 2.0, d / 2.0, taper=0.7)


def _plant(p: Parts, w: float, h: float, d: float) -> None:
    tree = h > 2.2 * max(w, d) and h > 1.2
    pot_h = (0.22 if tree else 0.32) * h
    rx, rz = (0.45 * w, 0.45 * d) if tree else (0.32 * w, 0.32 * d)
    rim = min(0.03, 0.15 * pot_h)
    with p.accent("terracotta"):
        p.cylinder((0.0, (pot_h - rim) / 2.0, 0.0), pot_h - rim, 0.8 * rx, 0.8 * rz, taper=1.2)
    with p.accent("terracotta"):
        p.cylinder((0.0, pot_h - rim / 2.0, 0.0), rim, 1.05 * rx, 1.05 * rz)
    with p.accent("soil"):
        p.cylinder((0.0, pot_h, 0.0), 0.02 * pot_h, 0.92 * rx, 0.92 * rz)
    if tree:
        crown_low = 0.5 * h
        p.cylinder(
            (0.0, (pot_h + crown_low + 0.1 * h) / 2.0, 0.0),
            crown_low + 0.1 * h - pot_h,
            min(0.03, 0.08 * w),
            sections=12,
        )
        crown_h = h - crown_low
        cy = crown_low + crown_h / 2.0
        p.ellipsoid((0.0, cy, 0.0), (0.38 * w, 0.3 * crown_h, 0.38 * d))
        for k in range(4):
            a = math.radians(45.0 + 90.0 * k)
            p.ellipsoid(
                (
                    0.22 * w * math.cos(a),
                    cy + (0.08 if k % 2 else -0.05) * crown_h,
                    0.22 * d * math.sin(a),
                ),
                (0.27 * w, 0.24 * crown_h, 0.27 * d),
            )
        p.ellipsoid((0.0, h - 0.2 * crown_h, 0.0), (0.26 * w, 0.2 * crown_h, 0.26 * d))
        return
    leaf_h = h - pot_h
    stem = min(0.012, 0.03 * min(w, d))
    for k in range(3):
        a = math.radians(30.0 + 120.0 * k)
        x, z = 0.1 * w * math.cos(a), 0.1 * d * math.sin(a)
        p.cylinder((x, pot_h + 0.25 * leaf_h, z), 0.5 * leaf_h, stem, sections=8)
    p.ellipsoid((0.0, pot_h + 0.5 * leaf_h, 0.0), (0.3 * w, 0.3 * leaf_h, 0.3 * d), detail=2)
    for k in range(5):
        a = math.radians(18.0 + 72.0 * k)
        lift = (0.28, 0.4, 0.32, 0.45, 0.36)[k]
        p.ellipsoid(
            (0.27 * w * math.cos(a), pot_h + lift * leaf_h, 0.27 * d * math.sin(a)),
            (0.23 * w, 0.23 * leaf_h, 0.23 * d),
        )
    p.ellipsoid((0.0, h - 0.18 * leaf_h, 0.0), (0.2 * w, 0.18 * leaf_h, 0.2 * d))


def _rug(p: Parts, w: float, h: float, d: float) -> None:
    along_x = w >= d
    long_side = max(w, d)
    short_side = min(w, d)
    fringe = min(0.05, 0.05 * long_side)
    border = min(0.06, 0.08 * short_side)
    lx, lz = (w / 2.0 - fringe, d / 2.0) if along_x else (w / 2.0, d / 2.0 - fringe)
    p.box((-lx + border, 0.0, -lz + border), (lx - border, 0.75 * h, lz - border))
    p.box((-lx, 0.0, -lz), (lx, h, -lz + border))
    p.box((-lx, 0.0, lz - border), (lx, h, lz))
    p.box((-lx, 0.0, -lz + border), (-lx + border, h, lz - border))
    p.box((lx - border, 0.0, -lz + border), (lx, h, lz - border))
    tassels = int(clamp(round(short_side / 0.05), 4, 30))
    pitch = short_side / tassels
    for end in (-1.0, 1.0):
        for i in range(tassels):
            t0 = -short_side / 2.0 + i * pitch + 0.3 * pitch
            t1 = t0 + 0.4 * pitch
            if along_x:
                x0, x1 = sorted((end * lx, end * w / 2.0))
                p.box((x0, 0.0, t0), (x1, 0.3 * h, t1))
            else:
                z0, z1 = sorted((end * lz, end * d / 2.0))
                p.box((t0, 0.0, z0), (t1, 0.3 * h, z1))


def _kitchen_cabinet(p: Parts, w: float, h: float, d: float) -> None:
    handle = min(0.02, 0.06 * d)
    door_t = min(0.018, 0.05 * d)
    columns = int(clamp(round(w / 0.5), 1, 4))
    lane = w / columns
    gap = min(0.004, 0.02 * lane)
    bar = min(0.15, 0.4 * lane)
    wall_unit = d < 0.45 and h < 1.0
    tall_unit = h > 1.3
    if wall_unit or tall_unit:
        top_t = min(0.02, 0.04 * h)
        front = d / 2.0 - handle - door_t
        p.box((-w / 2.0, 0.0, -d / 2.0), (w / 2.0, h - top_t, front))
        p.box((-w / 2.0, h - top_t, -d / 2.0), (w / 2.0, h, front + door_t))
        splits = (0.0, 0.55, 1.0) if tall_unit else (0.0, 1.0)
        body = h - top_t
        for c in range(columns):
            x0 = -w / 2.0 + c * lane + gap / 2.0
            x1 = x0 + lane - gap
            for k in range(len(splits) - 1):
                y0, y1 = splits[k] * body + gap, splits[k + 1] * body - gap
                p.box((x0, y0, front), (x1, y1, front + door_t))
                y = y1 - 0.12 * (y1 - y0) if k == 0 else y0 + 0.12 * (y1 - y0)
                x = x1 - 0.12 * lane if c % 2 == 0 else x0 + 0.12 * lane
                bar_handle(
                    p,
                    x,
                    y,
                    front + door_t,
                    min(0.015, 0.1 * lane),
                    min(bar, 0.2 * (y1 - y0)),
                    handle,
                )
        return
    kick = min(0.1, 0.12 * h)
    counter = min(0.04, 0.05 * h)
    overhang = min(0.02, 0.04 * d)
    front = d / 2.0 - overhang - handle - door_t
    p.box((-w / 2.0, 0.0, -d / 2.0), (w / 2.0, kick, front - min(0.06, 0.1 * d)))
    p.box((-w / 2.0, kick, -d / 2.0), (w / 2.0, h - counter, front))
    p.box((-w / 2.0, h - counter, -d / 2.0), (w / 2.0, h, d / 2.0))
    body = h - counter - kick
    drawer_h = min(0.18, 0.25 * body)
    for c in range(columns):
        x0 = -w / 2.0 + c * lane + gap / 2.0
        x1 = x0 + lane - gap
        top = h - counter - gap
        p.box((x0, top - drawer_h + gap, front), (x1, top, front + door_t))
        hb = min(0.012, 0.08 * drawer_h)
        bar_handle(p, (x0 + x1) / 2.0, top - drawer_h / 2.0, front + door_t, bar, hb, handle)
        p.box((x0, kick + gap, front), (x1, top - drawer_h - gap, front + door_t))
        bar_handle(p, (x0 + x1) / 2.0, top - drawer_h - 0.1 * body, front + door_t, bar, hb, handle)


def _fridge(p: Parts, w: float, h: float, d: float) -> None:
    plinth = min(0.04, 0.05 * h)
    handle = min(0.04, 0.08 * d)
    door_t = min(0.05, 0.08 * d)
    front = d / 2.0 - handle - door_t
    p.box(
        (-w / 2.0 + 0.02 * w, 0.0, -d / 2.0 + 0.02 * d),
        (w / 2.0 - 0.02 * w, plinth, front - 0.05 * d),
    )
    p.box((-w / 2.0, plinth, -d / 2.0), (w / 2.0, h, front))
    gap = min(0.008, 0.01 * h)
    splits = (plinth, plinth + 0.68 * (h - plinth), h) if h >= 1.0 else (plinth, h)
    bar_w = min(0.025, 0.06 * w)
    for k in range(len(splits) - 1):
        y0, y1 = splits[k] + gap / 2.0, splits[k + 1] - gap / 2.0
        p.box((-w / 2.0, y0, front), (w / 2.0, y1, front + door_t))
        length = 0.45 * (y1 - y0) if k == 0 else 0.6 * (y1 - y0)
        y = y1 - 0.05 * (y1 - y0) - length / 2.0 if k == 0 else y0 + 0.05 * (y1 - y0) + length / 2.0
        bar_handle(p, w / 2.0 - 0.1 * w, y, front + door_t, bar_w, length, handle)


def _stove(p: Parts, w: float, h: float, d: float) -> None:
    guard = min(0.15, 0.15 * h)
    deck = h - guard
    plinth = min(0.08, 0.1 * deck)
    handle = min(0.035, 0.08 * d)
    door_t = min(0.03, 0.05 * d)
    front = d / 2.0 - handle - door_t
    p.box((-w / 2.0 + 0.02 * w, 0.0, -d / 2.0), (w / 2.0 - 0.02 * w, plinth, front - 0.04 * d))
    p.box((-w / 2.0, plinth, -d / 2.0), (w / 2.0, deck, front))
    p.box((-w / 2.0, deck, -d / 2.0), (w / 2.0, h, -d / 2.0 + min(0.05, 0.1 * d)))
    burner_h = min(0.02, 0.3 * guard)
    cooktop_d = front + d / 2.0 - min(0.05, 0.1 * d)
    for fx in (-0.25, 0.25):
        for fz in (-0.25, 0.25):
            r = min(0.1, 0.17 * w, 0.17 * cooktop_d)
            z = (front + (-d / 2.0 + min(0.05, 0.1 * d))) / 2.0 + fz * cooktop_d
            with p.accent("black"):
                p.cylinder((fx * w, deck + burner_h / 2.0, z), burner_h, r)
    panel = min(0.12, 0.15 * deck)
    door_top = deck - panel
    door_low = plinth + 0.03 * deck
    p.box((-w / 2.0 + 0.01 * w, door_low, front), (w / 2.0 - 0.01 * w, door_top, front + door_t))
    window_t = min(0.004, 0.1 * door_t)
    p.box(
        (-0.32 * w, door_low + 0.2 * (door_top - door_low), front + door_t),
        (0.32 * w, door_top - 0.25 * (door_top - door_low), front + door_t + window_t),
    )
    bar_r = min(0.012, 0.35 * handle)
    p.cylinder(
        (0.0, door_top - 0.08 * (door_top - door_low), front + door_t + handle - bar_r),
        0.7 * w,
        bar_r,
        bar_r,
        axis="x",
        sections=12,
    )
    knob_r = min(0.02, 0.3 * panel, 0.06 * w)
    for fx in (-0.3, -0.1, 0.1, 0.3):
        knob(p, fx * w, deck - panel / 2.0, front, knob_r, min(0.02, handle + door_t))


def _sink(p: Parts, w: float, h: float, d: float) -> None:
    basin_h = min(0.15, 0.25 * h)
    counter_top = h - basin_h
    slab = min(0.04, 0.25 * counter_top)
    if h >= 0.45:
        handle = min(0.02, 0.06 * d)
        door_t = min(0.018, 0.05 * d)
        front = d / 2.0 - handle - door_t - min(0.02, 0.04 * d)
        p.box((-w / 2.0, 0.0, -d / 2.0), (w / 2.0, counter_top - slab, front))
        gap = min(0.004, 0.01 * w)
        doors = 2 if w >= 0.6 else 1
        lane = w / doors
        for i in range(doors):
            x0 = -w / 2.0 + i * lane + gap / 2.0
            x1 = x0 + lane - gap
            p.box((x0, 0.1 * counter_top, front), (x1, counter_top - slab - gap, front + door_t))
            x = x1 - 0.1 * lane if i == 0 else x0 + 0.1 * lane
            bar_handle(
                p,
                x,
                0.7 * counter_top,
                front + door_t,
                min(0.015, 0.1 * lane),
                0.2 * counter_top,
                handle,
            )
        p.box((-w / 2.0, counter_top - slab, -d / 2.0), (w / 2.0, counter_top, d / 2.0))
    else:
        p.box((-w / 2.0, 0.0, -d / 2.0), (w / 2.0, counter_top, d / 2.0))
    bw, bd = 0.35 * w, 0.3 * d
    bz = 0.08 * d
    wall = min(0.012, 0.1 * min(bw, bd))
    floor = min(0.012, 0.15 * basin_h)
    rim_top = counter_top + 0.8 * basin_h
    with p.accent("white"):
        p.box((-bw, counter_top, bz - bd), (bw, counter_top + floor, bz + bd))
    with p.accent("white"):
        p.box((-bw, counter_top + floor, bz - bd), (bw, rim_top, bz - bd + wall))
    with p.accent("white"):
        p.box((-bw, counter_top + floor, bz + bd - wall), (bw, rim_top, bz + bd))
    with p.accent("white"):
        p.box((-bw, counter_top + floor, bz - bd + wall), (-bw + wall, rim_top, bz + bd - wall))
    with p.accent("white"):
        p.box((bw - wall, counter_top + floor, bz - bd + wall), (bw, rim_top, bz + bd - wall))
    tap = min(0.012, 0.03 * w)
    tap_z = bz - bd - 0.5 * (bz - bd + d / 2.0)
    with p.accent("metal"):
        p.cylinder(
            (0.0, (counter_top + h - tap) / 2.0, tap_z), h - tap - counter_top, tap, sections=12
        )
    spout = bz - bd + 0.3 * bd - tap_z
    with p.accent("metal"):
        p.cylinder(
            (0.0, h - tap, tap_z + spout / 2.0), spout + tap, tap, tap, axis="z", sections=12
        )


def _toilet(p: Parts, w: float, h: float, d: float) -> None:
    seat_y = 0.53 * h
    tank_d = 0.24 * d
    back = -d / 2.0
    p.cylinder((0.0, 0.15 * h, 0.05 * d), 0.3 * h, 0.3 * w, 0.25 * d, taper=1.2)
    bowl_rz = 0.5 * (d / 2.0 - (back + tank_d)) + 0.02 * d
    bowl_z = d / 2.0 - bowl_rz
    bowl_low = 0.28 * h
    seat_t = min(0.03, 0.05 * h)
    p.cylinder(
        (0.0, (bowl_low + seat_y) / 2.0, bowl_z),
        seat_y - bowl_low,
        0.4 * w,
        bowl_rz / 1.15,
        taper=1.15,
    )
    p.cylinder((0.0, seat_y + seat_t / 2.0, bowl_z), seat_t, 0.47 * w, bowl_rz * 0.98)
    p.cylinder(
        (0.0, seat_y + 1.5 * seat_t, bowl_z - 0.02 * d), seat_t * 0.8, 0.45 * w, bowl_rz * 0.9
    )
    lid_t = min(0.025, 0.04 * h)
    button = min(0.01, 0.02 * h)
    tank_top = h - lid_t - button
    p.box((-0.45 * w, seat_y - 0.08 * h, back), (0.45 * w, tank_top, back + tank_d))
    p.box((-w / 2.0, tank_top, back), (w / 2.0, h - button, back + tank_d + 0.01 * d))
    p.cylinder(
        (0.0, h - button / 2.0, back + tank_d / 2.0), button, min(0.02, 0.08 * w), sections=12
    )
    p.box((-0.15 * w, 0.3 * h, back + tank_d), (0.15 * w, seat_y, bowl_z - 0.5 * bowl_rz))


def _bathtub(p: Parts, w: float, h: float, d: float) -> None:
    along_x = w >= d
    wall = min(0.07, 0.1 * min(w, d))
    floor = min(0.06, 0.15 * h)
    rim = min(0.04, 0.1 * h)
    lip = 1.4 * wall
    p.box((-w / 2.0, 0.0, -d / 2.0), (w / 2.0, floor, d / 2.0))
    top = h - rim
    for sz in (-1.0, 1.0):
        z0, z1 = sorted((sz * d / 2.0, sz * (d / 2.0 - wall)))
        p.box((-w / 2.0, floor, z0), (w / 2.0, top, z1))
        z0, z1 = sorted((sz * d / 2.0, sz * (d / 2.0 - lip)))
        p.box((-w / 2.0, top, z0), (w / 2.0, h, z1))
    for sx in (-1.0, 1.0):
        x0, x1 = sorted((sx * w / 2.0, sx * (w / 2.0 - wall)))
        p.box((x0, floor, -d / 2.0 + wall), (x1, top, d / 2.0 - wall))
        x0, x1 = sorted((sx * w / 2.0, sx * (w / 2.0 - lip)))
        p.box((x0, top, -d / 2.0 + lip), (x1, h, d / 2.0 - lip))
    tap = min(0.02, 0.05 * min(w, d))
    reach = min(0.15, 0.15 * max(w, d))
    y = top - 2.0 * tap
    drain = min(0.03, 0.1 * min(w, d))
    if along_x:
        inner = w / 2.0 - wall
        with p.accent("metal"):
            p.cylinder((-inner + reach / 2.0, y, 0.0), reach, tap, tap, axis="x", sections=12)
        for sz in (-1.0, 1.0):
            p.cylinder((-inner + tap / 2.0, y, sz * 3.0 * tap), tap, tap, tap, axis="x", sections=8)
        p.cylinder((-inner + 0.15 * w, floor + 0.002, 0.0), 0.004, drain, sections=12)
    else:
        inner = d / 2.0 - wall
        with p.accent("metal"):
            p.cylinder((0.0, y, -inner + reach / 2.0), reach, tap, tap, axis="z", sections=12)
        for sx in (-1.0, 1.0):
            p.cylinder((sx * 3.0 * tap, y, -inner + tap / 2.0), tap, tap, tap, axis="z", sections=8)
        p.cylinder((0.0, floor + 0.002, -inner + 0.15 * d), 0.004, drain, sections=12)


def _framed(p: Parts, w: float, h: float, d: float, *, kind: str) -> None:
    """Painting, picture frame and mirror: a frame around an inset panel."""
    border = min(0.06 if kind != "mirror" else 0.05, 0.1 * min(w, h))
    standing = kind != "painting" and d > 0.15 * h and d > 0.05
    if standing:
        depth = min(0.03, 0.3 * d)
        z0, z1 = d / 2.0 - depth, d / 2.0
        strut = min(0.03, 0.08 * w)
        p.box((-strut / 2.0, 0.0, -d / 2.0), (strut / 2.0, 0.65 * h, -d / 2.0 + strut))
        for sx in (-1.0, 1.0):
            x = sx * 0.3 * w
            p.box((x - strut / 2.0, 0.0, -d / 2.0), (x + strut / 2.0, strut, z0))
    else:
        z0, z1 = -d / 2.0, d / 2.0
        depth = d
    p.box((-w / 2.0, h - border, z0), (w / 2.0, h, z1))
    p.box((-w / 2.0, 0.0, z0), (w / 2.0, border, z1))
    p.box((-w / 2.0, border, z0), (-w / 2.0 + border, h - border, z1))
    p.box((w / 2.0 - border, border, z0), (w / 2.0, h - border, z1))
    recess = 0.3 * depth
    # Panels run under the frame's lip, as glass and canvas sit in a rabbet.
    lip = 0.3 * border
    x0, x1, y0, y1 = -w / 2.0 + border - lip, w / 2.0 - border + lip, border - lip, h - border + lip
    if kind == "picture frame":
        mat = min(0.04, 0.12 * min(w, h))
        p.box((x0, y0, z0), (x1, y1, z1 - 1.5 * recess))
        p.box(
            (-w / 2.0 + border + mat, border + mat, z0),
            (w / 2.0 - border - mat, h - border - mat, z1 - recess),
        )
    elif kind == "mirror":
        with p.accent("mirror"):
            p.box((x0, y0, z0), (x1, y1, z1 - 0.6 * recess))
    else:
        p.box((x0, y0, z0), (x1, y1, z1 - recess))


def _clock(p: Parts, w: float, h: float, d: float) -> None:
    ratio = h / w
    face_t = min(0.006, 0.1 * d)
    hand_t = min(0.005, 0.08 * d)
    body_front = d / 2.0 - face_t - 2.0 * hand_t
    if 0.6 <= ratio <= 1.6:
        # A wall clock: a disc.
        cx, cy, r1, r2 = 0.0, h / 2.0, w / 2.0, h / 2.0
        p.cylinder((0.0, cy, (body_front - d / 2.0) / 2.0), body_front + d / 2.0, r1, r2, axis="z")
    else:
        # A case: a long-case clock when tall, a mantel clock when wide.
        plinth = min(0.1, 0.06 * h)
        p.box((-w / 2.0, 0.0, -d / 2.0), (w / 2.0, plinth, body_front))
        p.box((-0.45 * w, plinth, -d / 2.0), (0.45 * w, h, body_front))
        r1 = r2 = 0.4 * min(w, h)
        cx, cy = 0.0, h / 2.0
        if ratio > 1.6:
            cy = 0.95 * h - r1
            bob = min(0.1, 0.3 * w)
            bob_y = plinth + 0.3 * h
            with p.accent("black"):
                p.box((-0.01 * w, bob_y, body_front), (0.01 * w, cy - r1, body_front + face_t))
            p.cylinder((0.0, bob_y, body_front + face_t / 2.0), face_t, bob, bob, axis="z")
    face_r1, face_r2 = 0.85 * r1, 0.85 * r2
    with p.accent("white"):
        p.cylinder((cx, cy, body_front + face_t / 2.0), face_t, face_r1, face_r2, axis="z")
    front = body_front + face_t
    thick = min(0.015, 0.06 * min(face_r1, face_r2))
    # Hands at ten past ten: the hour hand towards 10, the minute hand towards 2.
    for length, angle in ((0.5, 60.0), (0.75, -60.0)):
        with p.accent("black"):
            p.box(
                (cx - thick / 2.0, cy, front),
                (cx + thick / 2.0, cy + length * face_r2, front + hand_t),
                turn=("z", angle),
                pivot=(cx, cy, front),
            )
    mark = 0.08 * min(face_r1, face_r2)
    for k in range(4):
        a = math.radians(90.0 * k)
        mx, my = cx + 0.8 * face_r1 * math.cos(a), cy + 0.8 * face_r2 * math.sin(a)
        with p.accent("black"):
            p.box(
                (mx - mark / 2.0, my - mark / 2.0, front),
                (mx + mark / 2.0, my + mark / 2.0, front + hand_t / 2.0),
            )
    with p.accent("black"):
        p.cylinder((cx, cy, front + hand_t * 1.5), hand_t, 1.5 * thick, axis="z", sections=12)


def _curtains(p: Parts, w: float, h: float, d: float) -> None:
    finial = min(0.035, 0.45 * d, 0.05 * w)
    rod = 0.45 * finial
    rod_y = h - finial
    p.cylinder((0.0, rod_y, 0.0), w - 2.0 * finial, rod, rod, axis="x", sections=12)
    for sx in (-1.0, 1.0):
        p.ellipsoid((sx * (w / 2.0 - finial), rod_y, 0.0), (finial, finial, finial))
    panel_w = 0.3 * (w - 2.0 * finial)
    folds = int(clamp(round(panel_w / 0.08), 3, 10))
    pitch = panel_w / folds
    drop = rod_y - rod - 0.01 * h
    for sx in (-1.0, 1.0):
        edge = sx * (w / 2.0 - 2.0 * finial)
        for i in range(folds):
            x = edge - sx * (i + 0.5) * pitch
            z = (0.25 if i % 2 == 0 else -0.25) * d
            p.cylinder((x, drop / 2.0, z), drop, 0.6 * pitch, 0.25 * d, sections=12)
        ring_x = edge - sx * panel_w / 2.0
        p.box(
            (ring_x - panel_w / 2.0, rod_y - rod, -rod),
            (ring_x + panel_w / 2.0, rod_y + rod * 0.5, rod),
        )


def _cabinet_generic(p: Parts, w: float, h: float, d: float) -> None:
    plinth = min(0.08, 0.08 * h)
    top_t = min(0.03, 0.05 * h)
    front_t = min(0.015, 0.05 * d)
    body_front = d / 2.0 - front_t
    p.box(
        (-w / 2.0 + 0.03 * w, 0.0, -d / 2.0 + 0.03 * d),
        (w / 2.0 - 0.03 * w, plinth, body_front - 0.03 * d),
    )
    p.box((-w / 2.0, plinth, -d / 2.0), (w / 2.0, h - top_t, body_front))
    p.box((-w / 2.0, h - top_t, -d / 2.0), (w / 2.0, h, d / 2.0))
    gap = min(0.005, 0.01 * h)
    split = plinth + 0.5 * (h - top_t - plinth)
    for y0, y1 in ((plinth + gap, split - gap / 2.0), (split + gap / 2.0, h - top_t - gap)):
        p.box((-w / 2.0 + gap, y0, body_front), (w / 2.0 - gap, y1, d / 2.0))


def _table_generic(p: Parts, w: float, h: float, d: float) -> None:
    tt = min(0.05, 0.15 * h)
    p.box((-w / 2.0, h - tt, -d / 2.0), (w / 2.0, h, d / 2.0))
    lt = min(0.06, 0.1 * w, 0.1 * d)
    four_legs(p, w / 2.0 - lt, d / 2.0 - lt, lt, 0.0, h - tt)


def _block_generic(p: Parts, w: float, h: float, d: float) -> None:
    base = 0.1 * h
    r = 0.2 * min(w, d)
    body_top = h - 0.08 * h
    p.box(
        (-w / 2.0 + 0.05 * w, 0.0, -d / 2.0 + 0.05 * d),
        (w / 2.0 - 0.05 * w, base, d / 2.0 - 0.05 * d),
    )
    y0, y1 = base, body_top
    p.box((-w / 2.0 + r, y0, -d / 2.0), (w / 2.0 - r, y1, d / 2.0))
    p.box((-w / 2.0, y0, -d / 2.0 + r), (w / 2.0, y1, d / 2.0 - r))
    for sx in (-1.0, 1.0):
        for sz in (-1.0, 1.0):
            p.cylinder(
                (sx * (w / 2.0 - r), (y0 + y1) / 2.0, sz * (d / 2.0 - r)), y1 - y0, r, sections=12
            )
    p.cylinder((0.0, (body_top + h) / 2.0, 0.0), h - body_top, 0.4 * w, 0.4 * d)


# --------------------------------------------------------------------------------------

BUILDERS: dict[str, Builder] = {
    "bed": _bed,
    "sofa": lambda p, w, h, d: _sofa(p, w, h, d, seats=None, rolled=False),
    "armchair": lambda p, w, h, d: _sofa(p, w, h, d, seats=1, rolled=True),
    "chair": _chair,
    "office chair": _office_chair,
    "stool": _stool,
    "bench": _bench,
    "table": lambda p, w, h, d: _table(p, w, h, d, kind="table"),
    "dining table": lambda p, w, h, d: _table(p, w, h, d, kind="dining table"),
    "coffee table": lambda p, w, h, d: _table(p, w, h, d, kind="coffee table"),
    "side table": lambda p, w, h, d: _table(p, w, h, d, kind="side table"),
    "desk": _desk,
    "wardrobe": lambda p, w, h, d: _door_cabinet(
        p, w, h, d, doors=2 if w <= 1.6 else 3, cornice=True
    ),
    "cabinet": lambda p, w, h, d: _door_cabinet(
        p, w, h, d, doors=2 if w >= 0.5 else 1, cornice=False
    ),
    "dresser": lambda p, w, h, d: _drawer_chest(p, w, h, d, legs=False),
    "nightstand": lambda p, w, h, d: _drawer_chest(p, w, h, d, legs=True),
    "bookshelf": lambda p, w, h, d: _shelves(p, w, h, d, books=True),
    "shelf": lambda p, w, h, d: _shelves(p, w, h, d, books=False),
    "tv": _tv,
    "tv stand": _tv_stand,
    "floor lamp": _floor_lamp,
    "table lamp": _table_lamp,
    "plant": _plant,
    "rug": _rug,
    "kitchen cabinet": _kitchen_cabinet,
    "fridge": _fridge,
    "stove": _stove,
    "sink": _sink,
    "toilet": _toilet,
    "bathtub": _bathtub,
    "painting": lambda p, w, h, d: _framed(p, w, h, d, kind="painting"),
    "picture frame": lambda p, w, h, d: _framed(p, w, h, d, kind="picture frame"),
    "mirror": lambda p, w, h, d: _framed(p, w, h, d, kind="mirror"),
    "clock": _clock,
    "curtains": _curtains,
}

GENERIC: dict[str, Builder] = {
    "generic cabinet": _cabinet_generic,
    "generic table": _table_generic,
    "generic block": _block_generic,
}

BOARDED: dict[str, Callable[..., None]] = {
    "bookshelf": lambda p, w, h, d, boards: _shelves(p, w, h, d, books=True, boards=boards),
    "shelf": lambda p, w, h, d, boards: _shelves(p, w, h, d, books=False, boards=boards),
}
"""Shelving families that draw their boards at heights the catalog gives."""
