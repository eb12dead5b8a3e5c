"""More furnishings: seating, tables, storage and beds beyond the basic set, lights,
plants and flowers, and room fittings (dividers, columns, ladders, blinds).

Each recipe draws into a :class:`Parts` within x ∈ [-w/2, w/2], y ∈ [0, h],
z ∈ [-d/2, d/2], front towards +Z.
"""

from __future__ import annotations

import math

from services.meshgen.primitives import Builder, Parts, bar_handle, clamp, four_legs

# ----------------------------------------------------------------------------- seating


def _folding_chair(p: Parts, w: float, h: float, d: float) -> None:
    seat = 0.47 * h
    t = 0.015 * h + 0.003
    p.box((-w / 2.0, seat - t, -0.35 * d), (w / 2.0, seat, 0.42 * d))
    p.box(
        (-w / 2.0, 0.62 * h, -d / 2.0 + 0.02 * d),
        (w / 2.0, 0.95 * h, -d / 2.0 + 0.06 * d),
        turn=("x", -8.0),
    )
    r = 0.02 * min(w, d) + 0.005
    for sx in (-1.0, 1.0):
        x = sx * (w / 2.0 - r)
        p.rod((x, 0.0, d / 2.0 - r), (x, h - r, -d / 2.0 + r), r, sections=6)
        p.rod((x, 0.0, -d / 2.0 + r), (x, seat, 0.3 * d), r, sections=6)


def _rocking_chair(p: Parts, w: float, h: float, d: float) -> None:
    rocker = 0.08 * h
    seat = 0.45 * h
    # Two curved runners approximated by three turned segments each.
    for sx in (-1.0, 1.0):
        x = sx * 0.42 * w
        p.box((x - 0.03 * w, 0.0, -0.2 * d), (x + 0.03 * w, 0.04 * h, 0.2 * d))
        p.box(
            (x - 0.03 * w, 0.02 * h, 0.18 * d),
            (x + 0.03 * w, 0.06 * h, d / 2.0),
            turn=("x", -12.0),
            pivot=(x, 0.04 * h, 0.18 * d),
        )
        p.box(
            (x - 0.03 * w, 0.02 * h, -d / 2.0),
            (x + 0.03 * w, 0.06 * h, -0.18 * d),
            turn=("x", 12.0),
            pivot=(x, 0.04 * h, -0.18 * d),
        )
        for z in (-0.25 * d, 0.25 * d):
            p.cylinder((x, (rocker + seat) / 2.0, z), seat - rocker, 0.025 * w + 0.005, sections=8)
        p.box(
            (x - 0.03 * w, seat + 0.18 * h, -0.3 * d), (x + 0.03 * w, seat + 0.21 * h, 0.3 * d)
        )  # arm
    p.box((-0.46 * w, seat - 0.04 * h, -0.32 * d), (0.46 * w, seat, 0.32 * d))
    back_z = -0.3 * d
    for k in range(5):
        x = -0.3 * w + k * 0.15 * w
        p.cylinder((x, (seat + h) / 2.0, back_z), h - seat, 0.015 * w + 0.003, sections=6)
    p.box((-0.4 * w, h - 0.06 * h, back_z - 0.03 * d), (0.4 * w, h, back_z + 0.03 * d))


def _high_chair(p: Parts, w: float, h: float, d: float) -> None:
    seat = 0.55 * h
    for sx in (-1.0, 1.0):
        for sz in (-1.0, 1.0):
            p.rod(
                (sx * 0.45 * w, 0.0, sz * 0.45 * d),
                (sx * 0.25 * w, seat, sz * 0.2 * d),
                0.02 * w + 0.004,
                sections=6,
            )
    p.box((-0.27 * w, seat, -0.25 * d), (0.27 * w, seat + 0.04 * h, 0.22 * d))
    p.box((-0.27 * w, seat, -0.27 * d), (0.27 * w, h, -0.22 * d))
    for sx in (-1.0, 1.0):
        p.box(
            (sx * 0.27 * w - 0.02 * w, seat, -0.22 * d),
            (sx * 0.27 * w + 0.02 * w, seat + 0.15 * h, 0.2 * d),
        )
    p.box((-0.35 * w, seat + 0.15 * h, 0.15 * d), (0.35 * w, seat + 0.18 * h, d / 2.0))  # tray
    p.box((-0.2 * w, 0.2 * h, 0.25 * d), (0.2 * w, 0.23 * h, 0.35 * d))  # foot rest


def _sectional_sofa(p: Parts, w: float, h: float, d: float) -> None:
    leg = 0.08 * h
    seat = 0.5 * h
    back = min(0.22, 0.2 * d)
    arm = min(0.18, 0.08 * w)
    main_d = min(d, 0.55 * d + 0.3)
    chaise_w = clamp(0.35 * w, 0.5, w - 2 * arm)
    # Main run along the back wall.
    p.box((-w / 2.0, leg, -d / 2.0), (w / 2.0, 0.85 * h, -d / 2.0 + back))
    p.box(
        (-w / 2.0 + arm, leg, -d / 2.0 + back),
        (w / 2.0 - chaise_w, seat - 0.08 * h, -d / 2.0 + main_d),
    )
    # Chaise reaching forward on the right.
    p.box((w / 2.0 - chaise_w, leg, -d / 2.0 + back), (w / 2.0 - arm, seat - 0.08 * h, d / 2.0))
    p.box((w / 2.0 - arm, leg, -d / 2.0), (w / 2.0, 0.68 * h, d / 2.0))
    p.box((-w / 2.0, leg, -d / 2.0 + back), (-w / 2.0 + arm, 0.68 * h, -d / 2.0 + main_d))
    seats = max(1, round((w - chaise_w - arm) / 0.7))
    lane = (w - chaise_w - arm) / seats
    for k in range(seats):
        x0 = -w / 2.0 + arm + k * lane
        p.box(
            (x0 + 0.01, seat - 0.08 * h, -d / 2.0 + back),
            (x0 + lane - 0.01, seat, -d / 2.0 + main_d),
        )
    p.box(
        (w / 2.0 - chaise_w + 0.01, seat - 0.08 * h, -d / 2.0 + back),
        (w / 2.0 - arm - 0.01, seat, d / 2.0),
    )
    for x in (-w / 2.0 + 0.05, w / 2.0 - 0.05):
        for z in (-d / 2.0 + 0.05, d / 2.0 - 0.05):
            p.box((x - 0.03, 0.0, z - 0.03), (x + 0.03, leg, z + 0.03))


def _ottoman(p: Parts, w: float, h: float, d: float) -> None:
    foot = 0.15 * h
    round_top = abs(w - d) < 0.15 * max(w, d)
    if round_top:
        p.lathe(
            [
                (0.0, foot),
                (0.97, foot),
                (1.0, foot + 0.1 * h),
                (1.0, h - 0.1 * h),
                (0.9, h),
                (0.0, h),
            ],
            scale=(w / 2.0, d / 2.0),
            sections=20,
        )
        for k in range(4):
            a = math.radians(45.0 + 90.0 * k)
            p.cylinder(
                (0.6 * w / 2.0 * math.cos(a), foot / 2.0, 0.6 * d / 2.0 * math.sin(a)),
                foot,
                0.05 * w,
                sections=8,
                taper=1.3,
            )
        return
    p.box((-w / 2.0, foot, -d / 2.0), (w / 2.0, h - 0.12 * h, d / 2.0))
    p.box(
        (-w / 2.0 + 0.02 * w, h - 0.12 * h, -d / 2.0 + 0.02 * d),
        (w / 2.0 - 0.02 * w, h, d / 2.0 - 0.02 * d),
    )
    four_legs(
        p,
        w / 2.0 - 0.08 * w,
        d / 2.0 - 0.08 * d,
        0.06 * min(w, d),
        0.0,
        foot,
        round_legs=True,
        taper=1.3,
    )


def _beanbag(p: Parts, w: float, h: float, d: float) -> None:
    p.ellipsoid((0.0, 0.3 * h, 0.05 * d), (0.5 * w, 0.3 * h, 0.45 * d), detail=2)
    p.ellipsoid((0.0, 0.6 * h, -0.2 * d), (0.42 * w, 0.4 * h, 0.3 * d), detail=2)


def _cushion(p: Parts, w: float, h: float, d: float) -> None:
    p.ellipsoid((0.0, h / 2.0, 0.0), (0.5 * w, 0.5 * h, 0.5 * d), detail=2)
    p.torus((0.0, h / 2.0, 0.0), 0.45 * min(w, d), 0.04 * min(w, d), sections=16, tube_sections=4)


# ------------------------------------------------------------------------------ tables


def _round_table(p: Parts, w: float, h: float, d: float) -> None:
    top = min(0.04, 0.08 * h)
    s = (w / 2.0, d / 2.0)
    p.lathe([(0.0, h - top), (1.0, h - top), (1.0, h), (0.0, h)], scale=s, sections=24, caps=False)
    p.lathe([(0.12, h - top - 0.06 * h), (0.12, h - top)], scale=s, sections=12)
    p.lathe([(0.05, 0.05 * h), (0.05, h - top - 0.06 * h)], scale=s, sections=12)
    p.lathe(
        [(0.0, 0.0), (0.45, 0.0), (0.42, 0.03 * h), (0.1, 0.06 * h), (0.0, 0.06 * h)],
        scale=s,
        sections=20,
        caps=False,
    )


def _conference_table(p: Parts, w: float, h: float, d: float) -> None:
    top = min(0.05, 0.08 * h)
    long_x = w >= d
    length, across = (w, d) if long_x else (d, w)
    outline = []
    for k in range(9):
        t = -1.0 + 2.0 * k / 8.0
        outline.append((t * length / 2.0, -(0.38 + 0.12 * (1.0 - t * t)) * across))
    for k in range(9):
        t = 1.0 - 2.0 * k / 8.0
        outline.append((t * length / 2.0, (0.38 + 0.12 * (1.0 - t * t)) * across))
    if not long_x:
        outline = [(b, a) for a, b in outline]
    p.extrude(outline, h - top, h, axis="y")
    for f in (-0.3, 0.3):
        if long_x:
            p.box(
                (f * length - 0.04 * length, 0.0, -0.3 * across),
                (f * length + 0.04 * length, h - top, 0.3 * across),
            )
            p.box(
                (f * length - 0.08 * length, 0.0, -0.35 * across),
                (f * length + 0.08 * length, 0.03 * h, 0.35 * across),
            )
        else:
            p.box(
                (-0.3 * across, 0.0, f * length - 0.04 * length),
                (0.3 * across, h - top, f * length + 0.04 * length),
            )
            p.box(
                (-0.35 * across, 0.0, f * length - 0.08 * length),
                (0.35 * across, 0.03 * h, f * length + 0.08 * length),
            )
    if long_x:
        p.box((-0.3 * length, 0.3 * h, -0.05 * across), (0.3 * length, 0.36 * h, 0.05 * across))
    else:
        p.box((-0.05 * across, 0.3 * h, -0.3 * length), (0.05 * across, 0.36 * h, 0.3 * length))


def _picnic_table(p: Parts, w: float, h: float, d: float) -> None:
    top_d = 0.45 * d
    seat_h = 0.58 * h
    t = 0.05 * h
    for k in range(3):
        z0 = -top_d / 2.0 + k * top_d / 3.0
        p.box((-w / 2.0, h - t, z0 + 0.005), (w / 2.0, h, z0 + top_d / 3.0 - 0.005))
    for sz in (-1.0, 1.0):
        z = sz * (d / 2.0 - 0.1 * d)
        p.box((-w / 2.0, seat_h - t, z - 0.1 * d), (w / 2.0, seat_h, z + 0.1 * d))
    for fx in (-0.38, 0.38):
        x = fx * w
        p.box((x - 0.03, seat_h - 2 * t, -d / 2.0), (x + 0.03, seat_h - t, d / 2.0))
        for sz in (-1.0, 1.0):
            p.rod((x, 0.0, sz * 0.42 * d), (x, h - t, 0.0), 0.03, sections=6)


def _school_desk(p: Parts, w: float, h: float, d: float) -> None:
    top = 0.04 * h
    box_h = 0.15 * h
    p.box((-w / 2.0, h - top, -d / 2.0), (w / 2.0, h, d / 2.0), turn=("x", 0.0))
    p.box((-0.46 * w, h - top - box_h, -0.46 * d), (0.46 * w, h - top, 0.3 * d))
    r = 0.02 * min(w, d) + 0.004
    for sx in (-1.0, 1.0):
        x = sx * 0.42 * w
        for sz in (-1.0, 1.0):
            p.cylinder((x, (h - top - box_h) / 2.0, sz * 0.4 * d), h - top - box_h, r, sections=6)
        p.box((x - r, 0.0, -0.45 * d), (x + r, 0.03 * h, 0.45 * d))
    p.box((-0.42 * w, 0.15 * h, -0.4 * d - r), (0.42 * w, 0.15 * h + 2 * r, -0.4 * d + r))


def _reception_desk(p: Parts, w: float, h: float, d: float) -> None:
    work = 0.72 * h
    p.box((-w / 2.0, 0.0, 0.25 * d), (w / 2.0, h - 0.03 * h, d / 2.0 - 0.06 * d))  # front panel
    p.box((-w / 2.0, h - 0.03 * h, 0.2 * d), (w / 2.0, h, d / 2.0))  # transaction top
    p.box((-w / 2.0, work - 0.03 * h, -d / 2.0), (w / 2.0, work, 0.25 * d))  # work top
    for sx in (-1.0, 1.0):
        p.box(
            (sx * w / 2.0 - (0.03 * w if sx > 0 else 0.0), 0.0, -d / 2.0),
            (sx * w / 2.0 + (0.03 * w if sx < 0 else 0.0), work - 0.03 * h, 0.25 * d),
        )
    p.box(
        (-w / 2.0 + 0.05 * w, 0.05 * h, d / 2.0 - 0.06 * d), (w / 2.0 - 0.05 * w, 0.12 * h, d / 2.0)
    )  # kick strip
    p.box((-0.3 * w, work, -0.3 * d), (-0.05 * w, work + 0.2 * h, -0.25 * d))  # monitor


def _lectern(p: Parts, w: float, h: float, d: float) -> None:
    p.box((-w / 2.0, 0.0, -d / 2.0), (w / 2.0, 0.05 * h, d / 2.0))
    p.box((-0.38 * w, 0.05 * h, -0.3 * d), (0.38 * w, 0.82 * h, 0.3 * d))
    p.box((-w / 2.0, 0.8 * h, -d / 2.0), (w / 2.0, 0.86 * h, d / 2.0), turn=("x", 14.0))
    p.box((-w / 2.0, 0.88 * h, d / 2.0 - 0.06 * d), (w / 2.0, h, d / 2.0))
    p.box((-0.1 * w, 0.4 * h, 0.3 * d), (0.1 * w, 0.6 * h, 0.32 * d))  # emblem


def _lab_bench(p: Parts, w: float, h: float, d: float) -> None:
    top = 0.75 * h if h > 1.3 else h
    riser = h > 1.3
    work = d if not riser else 0.82 * d
    z0 = d / 2.0 - work
    p.box((-w / 2.0, top - 0.04, z0), (w / 2.0, top, d / 2.0))  # epoxy worktop
    cab = max(1, round(w / 0.6))
    lane = w / cab
    for k in range(cab):
        x0 = -w / 2.0 + k * lane
        p.box((x0 + 0.01, 0.1, z0 + 0.02), (x0 + lane - 0.01, top - 0.04, d / 2.0 - 0.04))
        p.box((x0 + 0.02, 0.12, d / 2.0 - 0.04), (x0 + lane - 0.02, top - 0.06, d / 2.0 - 0.02))
        bar_handle(p, x0 + lane / 2.0, top - 0.12, d / 2.0 - 0.02, 0.3 * lane, 0.02, 0.02)
    p.box((-w / 2.0 + 0.02, 0.0, z0 + 0.04), (w / 2.0 - 0.02, 0.1, d / 2.0 - 0.08))
    if riser:
        p.box((-w / 2.0, top, -d / 2.0), (w / 2.0, h - 0.02, z0))
        p.box((-w / 2.0, h - 0.02, -d / 2.0), (w / 2.0, h, z0 + 0.1 * d))  # reagent shelf
        with p.accent("metal"):
            p.box((0.3 * w, top, z0 + 0.05), (0.32 * w, top + 0.3 * (h - top), z0 + 0.08))  # tap
        for k in range(4):
            x = -0.4 * w + k * 0.08 * w
            p.cylinder(
                (x, h + 0.0 - 0.12 * (h - top), -d / 2.0 + 0.05), 0.2 * (h - top), 0.02, sections=8
            )


def _workbench(p: Parts, w: float, h: float, d: float) -> None:
    board = h > 1.3
    top = 0.9 * min(h, 1.0) if board else h
    t = 0.06 * min(top, 1.0)
    p.box((-w / 2.0, top - t, -d / 2.0 + (0.05 * d if board else 0.0)), (w / 2.0, top, d / 2.0))
    leg = 0.07 * min(w, d)
    four_legs(p, w / 2.0 - leg, d / 2.0 - leg - (0.03 * d if board else 0.0), leg, 0.0, top - t)
    p.box((-w / 2.0 + leg, 0.15 * top, -d / 2.0 + leg), (w / 2.0 - leg, 0.19 * top, d / 2.0 - leg))
    p.box(
        (w / 2.0 - 0.2 * w, top - 1.6 * t, d / 2.0 - 0.02),
        (w / 2.0 - 0.05 * w, top + 0.04, d / 2.0),
    )  # vice
    if board:
        p.box((-w / 2.0, top, -d / 2.0), (w / 2.0, h, -d / 2.0 + 0.04 * d))  # pegboard
        for k in range(6):
            x = -0.4 * w + k * 0.15 * w
            p.box(
                (x, top + 0.5 * (h - top), -d / 2.0 + 0.04 * d),
                (x + 0.03 * w, top + 0.7 * (h - top), -d / 2.0 + 0.08 * d),
            )


# ----------------------------------------------------------------------------- storage


def _filing_cabinet(p: Parts, w: float, h: float, d: float) -> None:
    front = d / 2.0 - 0.03 * d
    p.box((-w / 2.0, 0.0, -d / 2.0), (w / 2.0, h, front))
    drawers = int(clamp(round(h / 0.33), 2, 5))
    pitch = (h - 0.04) / drawers
    for k in range(drawers):
        y0 = 0.02 + k * pitch + 0.005
        y1 = y0 + pitch - 0.01
        p.box((-w / 2.0 + 0.01, y0, front), (w / 2.0 - 0.01, y1, front + 0.02 * d))
        p.box((-0.1 * w, y1 - 0.3 * pitch, front + 0.02 * d), (0.1 * w, y1 - 0.22 * pitch, d / 2.0))
        p.box(
            (-0.08 * w, y1 - 0.18 * pitch, front + 0.02 * d),
            (0.08 * w, y1 - 0.08 * pitch, front + 0.025 * d),
        )


def _locker(p: Parts, w: float, h: float, d: float) -> None:
    front = d / 2.0 - 0.02 * d
    p.box((-w / 2.0, 0.0, -d / 2.0), (w / 2.0, h, front))
    doors = max(1, round(w / 0.35))
    lane = w / doors
    for k in range(doors):
        x0 = -w / 2.0 + k * lane + 0.006
        x1 = x0 + lane - 0.012
        p.box((x0, 0.05 * h, front), (x1, h - 0.02, d / 2.0 - 0.005))
        for v in range(3):
            y = h - 0.12 * h + v * 0.03 * h
            p.box((x0 + 0.2 * lane, y, d / 2.0 - 0.005), (x1 - 0.2 * lane, y + 0.012 * h, d / 2.0))
        p.box((x1 - 0.2 * lane, 0.5 * h, d / 2.0 - 0.005), (x1 - 0.1 * lane, 0.58 * h, d / 2.0))


def _display_case(p: Parts, w: float, h: float, d: float) -> None:
    base = 0.15 * h
    p.box((-w / 2.0, 0.0, -d / 2.0), (w / 2.0, base, d / 2.0))
    p.box((-w / 2.0, h - 0.05 * h, -d / 2.0), (w / 2.0, h, d / 2.0))
    f = 0.03 * min(w, d)
    for sx in (-1.0, 1.0):
        for sz in (-1.0, 1.0):
            x, z = sx * (w / 2.0 - f / 2.0), sz * (d / 2.0 - f / 2.0)
            p.box((x - f / 2.0, base, z - f / 2.0), (x + f / 2.0, h - 0.05 * h, z + f / 2.0))
    p.box((-w / 2.0 + f, base, -d / 2.0), (w / 2.0 - f, h - 0.05 * h, -d / 2.0 + f / 2.0))  # back
    p.box(
        (-w / 2.0 + f, base, d / 2.0 - f / 3.0), (w / 2.0 - f, h - 0.05 * h, d / 2.0 - f / 6.0)
    )  # glass
    for k in (1, 2):
        y = base + k * (h - base) / 3.0
        p.box((-w / 2.0 + f, y, -d / 2.0 + f), (w / 2.0 - f, y + 0.01, d / 2.0 - f))
        p.ellipsoid((0.0, y + 0.06 * h, 0.0), (0.1 * w, 0.06 * h, 0.2 * d))


def _shoe_rack(p: Parts, w: float, h: float, d: float) -> None:
    levels = int(clamp(round(h / 0.2), 2, 6))
    side = 0.03 * w
    for sx in (-1.0, 1.0):
        p.box(
            (sx * w / 2.0 - (side if sx > 0 else 0.0), 0.0, -d / 2.0),
            (sx * w / 2.0 + (side if sx < 0 else 0.0), h, d / 2.0),
        )
    pairs = max(1, round(w / 0.3))
    for k in range(levels):
        y = k * h / levels + 0.02 * h
        p.box((-w / 2.0 + side, y, -d / 2.0), (w / 2.0 - side, y + 0.02 * h, d / 2.0))
        if k < levels - 1 or h / levels > 0.12:
            for j in range(pairs):
                x = -w / 2.0 + side + (j + 0.5) * (w - 2 * side) / pairs
                shoe_h = 0.4 * h / levels
                for off in (-0.08, 0.08):
                    p.box(
                        (x + off * w / pairs - 0.04 * w / pairs, y + 0.02 * h, -0.35 * d),
                        (x + off * w / pairs + 0.12 * w / pairs, y + 0.02 * h + shoe_h, 0.4 * d),
                    )


def _coat_rack(p: Parts, w: float, h: float, d: float) -> None:
    pole = 0.03 * min(w, d) + 0.008
    p.cylinder((0.0, h / 2.0, 0.0), h, pole, sections=8)
    for k in range(3):
        a = math.radians(90.0 + 120.0 * k)
        p.rod(
            (0.0, 0.15 * h, 0.0),
            (0.5 * w * math.cos(a), 0.0, 0.5 * d * math.sin(a)),
            pole,
            sections=6,
        )
    for k in range(4):
        a = math.radians(45.0 + 90.0 * k)
        p.rod(
            (0.0, 0.88 * h, 0.0),
            (0.35 * w * math.cos(a), 0.95 * h, 0.35 * d * math.sin(a)),
            0.6 * pole,
            sections=6,
        )
    p.ellipsoid((0.0, h - 0.02 * h, 0.0), (1.5 * pole, 0.02 * h, 1.5 * pole))
    p.box((0.08 * w, 0.55 * h, -0.1 * d), (0.3 * w, 0.9 * h, 0.1 * d))  # a hanging coat


def _clothes_rack(p: Parts, w: float, h: float, d: float) -> None:
    r = 0.015 * w + 0.006
    for sx in (-1.0, 1.0):
        x = sx * (w / 2.0 - r)
        p.cylinder((x, h / 2.0, 0.0), h, r, sections=8)
        p.box((x - 2 * r, 0.0, -d / 2.0), (x + 2 * r, 0.03 * h, d / 2.0))
    p.cylinder((0.0, h - r, 0.0), w - 2 * r, r, axis="x", sections=8)
    count = max(2, round(w / 0.15))
    for k in range(count):
        x = -w / 2.0 + 4 * r + (k + 0.5) * (w - 8 * r) / count
        p.box((x - 0.012 * w, 0.4 * h, -0.4 * d), (x + 0.012 * w, 0.95 * h, 0.4 * d))


# -------------------------------------------------------------------------------- beds


def _bunk_bed(p: Parts, w: float, h: float, d: float) -> None:
    post = 0.06 * min(w, d)
    for sx in (-1.0, 1.0):
        for sz in (-1.0, 1.0):
            x, z = sx * (w / 2.0 - post / 2.0), sz * (d / 2.0 - post / 2.0)
            p.box((x - post / 2.0, 0.0, z - post / 2.0), (x + post / 2.0, h, z + post / 2.0))
    for y in (0.2 * h, 0.62 * h):
        p.box((-w / 2.0 + post, y, -d / 2.0 + post), (w / 2.0 - post, y + 0.04 * h, d / 2.0 - post))
        p.box(
            (-w / 2.0 + post, y + 0.04 * h, -d / 2.0 + post),
            (w / 2.0 - post, y + 0.1 * h, d / 2.0 - post),
        )
        p.ellipsoid((0.0, y + 0.12 * h, -d / 2.0 + 0.18 * d), (0.3 * w, 0.03 * h, 0.08 * d))
    for sz in (-1.0, 1.0):
        p.box(
            (-w / 2.0 + post, 0.86 * h, sz * (d / 2.0 - post / 2.0) - post / 3.0),
            (w / 2.0 - post, 0.9 * h, sz * (d / 2.0 - post / 2.0) + post / 3.0),
        )
    lx = w / 2.0 + 0.0 - post
    for k in range(5):
        y = 0.15 * h + k * 0.15 * h
        p.box((lx - 0.0 - post, y, d / 2.0 - 0.3 * d), (lx, y + 0.02 * h, d / 2.0 - post))


def _crib(p: Parts, w: float, h: float, d: float) -> None:
    post = 0.05 * min(w, d)
    four_legs(p, w / 2.0 - post / 2.0, d / 2.0 - post / 2.0, post, 0.0, h)
    base = 0.3 * h
    p.box(
        (-w / 2.0 + post, base, -d / 2.0 + post), (w / 2.0 - post, base + 0.12 * h, d / 2.0 - post)
    )
    for sz in (-1.0, 1.0):
        z = sz * (d / 2.0 - post / 2.0)
        p.box(
            (-w / 2.0 + post, h - 0.05 * h, z - post / 3.0),
            (w / 2.0 - post, h - 0.01 * h, z + post / 3.0),
        )
        bars = max(4, round(w / 0.08))
        for k in range(bars):
            x = -w / 2.0 + post + (k + 0.5) * (w - 2 * post) / bars
            p.box(
                (x - 0.2 * post, base, z - 0.2 * post),
                (x + 0.2 * post, h - 0.05 * h, z + 0.2 * post),
            )
    for sx in (-1.0, 1.0):
        x = sx * (w / 2.0 - post / 2.0)
        p.box(
            (x - post / 3.0, base, -d / 2.0 + post), (x + post / 3.0, h - 0.05 * h, d / 2.0 - post)
        )


def _hospital_bed(p: Parts, w: float, h: float, d: float) -> None:
    wheel = 0.07 * h
    deck = 0.55 * h
    for sx in (-1.0, 1.0):
        for sz in (-1.0, 1.0):
            p.cylinder(
                (sx * 0.4 * w, wheel / 2.0, sz * 0.42 * d),
                0.04 * w,
                wheel / 2.0,
                wheel / 2.0,
                axis="x",
                sections=8,
            )
            p.box(
                (sx * 0.4 * w - 0.02, wheel, sz * 0.42 * d - 0.02),
                (sx * 0.4 * w + 0.02, deck, sz * 0.42 * d + 0.02),
            )
    p.box(
        (-w / 2.0 + 0.05 * w, deck, -d / 2.0 + 0.05 * d),
        (w / 2.0 - 0.05 * w, deck + 0.08 * h, d / 2.0 - 0.05 * d),
    )
    p.box(
        (-w / 2.0 + 0.05 * w, deck + 0.08 * h, -d / 2.0 + 0.06 * d),
        (w / 2.0 - 0.05 * w, deck + 0.12 * h, -0.1 * d),
        turn=("x", -25.0),
        pivot=(0.0, deck + 0.1 * h, -0.1 * d),
    )
    p.box(
        (-w / 2.0 + 0.05 * w, deck + 0.08 * h, -0.1 * d),
        (w / 2.0 - 0.05 * w, deck + 0.13 * h, d / 2.0 - 0.06 * d),
    )
    for sz in (-1.0, 1.0):
        p.box(
            (-w / 2.0, deck - 0.1 * h, sz * d / 2.0 - (0.03 * d if sz > 0 else 0.0)),
            (w / 2.0, h, sz * d / 2.0 + (0.03 * d if sz < 0 else 0.0)),
        )
    for sx in (-1.0, 1.0):
        x = sx * (w / 2.0 - 0.02 * w)
        with p.accent("metal"):
            p.box(
                (x - 0.02 * w, deck + 0.15 * h, -0.3 * d), (x + 0.02 * w, deck + 0.18 * h, 0.2 * d)
            )
        p.box((x - 0.02 * w, deck + 0.1 * h, -0.3 * d), (x + 0.02 * w, deck + 0.16 * h, -0.28 * d))


def _mattress(p: Parts, w: float, h: float, d: float) -> None:
    p.box((-w / 2.0, 0.0, -d / 2.0), (w / 2.0, 0.75 * h, d / 2.0))
    p.box(
        (-w / 2.0 + 0.01 * w, 0.75 * h, -d / 2.0 + 0.01 * d),
        (w / 2.0 - 0.01 * w, 0.82 * h, d / 2.0 - 0.01 * d),
    )
    pillows = 2 if w > 1.1 else 1
    for k in range(pillows):
        x = -w / 2.0 + (k + 0.5) * w / pillows
        p.ellipsoid(
            (x, 0.82 * h + 0.09 * h, -d / 2.0 + 0.12 * d), (0.4 * w / pillows, 0.09 * h, 0.08 * d)
        )
    p.box(
        (-w / 2.0 + 0.02 * w, 0.78 * h, -0.1 * d),
        (w / 2.0 - 0.02 * w, 0.88 * h, d / 2.0 - 0.03 * d),
    )


def _pet_bed(p: Parts, w: float, h: float, d: float) -> None:
    p.lathe(
        [
            (0.0, 0.0),
            (1.0, 0.0),
            (1.0, 0.5 * h),
            (0.95, h),
            (0.75, h),
            (0.7, 0.3 * h),
            (0.0, 0.3 * h),
        ],
        scale=(w / 2.0, d / 2.0),
        sections=20,
        caps=False,
    )
    p.ellipsoid((0.0, 0.3 * h, 0.0), (0.65 * w / 2.0, 0.2 * h, 0.65 * d / 2.0))


def _hammock(p: Parts, w: float, h: float, d: float) -> None:
    long_x = w >= d
    length = max(w, d)
    across = min(w, d)
    post = 0.04 * across + 0.01

    def pt(a: float, y: float, c: float) -> tuple[float, float, float]:
        return (a, y, c) if long_x else (c, y, a)

    for s in (-1.0, 1.0):
        a = s * (length / 2.0 - post)
        p.rod(pt(a, 0.0, 0.0), pt(a, h, 0.0), post, sections=8)
        p.box(
            pt(a - 2 * post, 0.0, -across / 2.0) if long_x else (-across / 2.0, 0.0, a - 2 * post),
            pt(a + 2 * post, 0.04 * h, across / 2.0)
            if long_x
            else (across / 2.0, 0.04 * h, a + 2 * post),
        )
    p.box(pt(-length / 2.0 + post, 0.0, -post), pt(length / 2.0 - post, 0.05 * h, post))
    segments = 6
    for k in range(segments):
        t0, t1 = -1.0 + 2.0 * k / segments, -1.0 + 2.0 * (k + 1) / segments
        y0, y1 = 0.35 * h + 0.5 * h * t0 * t0, 0.35 * h + 0.5 * h * t1 * t1
        span = 0.42 * length
        p.rod(pt(t0 * span, y0, 0.0), pt(t1 * span, y1, 0.0), 0.4 * across, sections=8)


# ------------------------------------------------------------------------------ lights


def _desk_lamp(p: Parts, w: float, h: float, d: float) -> None:
    p.cylinder((-0.2 * w, 0.03 * h, 0.0), 0.06 * h, 0.3 * w, 0.4 * d, sections=16)
    r = 0.02 * min(w, d) + 0.004
    elbow = (-0.25 * w, 0.6 * h, -0.2 * d)
    p.rod((-0.2 * w, 0.06 * h, 0.0), elbow, r, sections=6)
    head = (0.2 * w, 0.85 * h, 0.1 * d)
    p.rod(elbow, head, r, sections=6)
    p.ellipsoid(elbow, (1.8 * r, 1.8 * r, 1.8 * r))
    with p.accent("light"):
        p.lathe(
            [(0.05, 0.0), (0.35, 0.0), (1.0, -0.35 * h)],
            (0.3 * w, h, 0.15 * d),
            scale=(0.2 * w, 0.25 * d),
            sections=12,
            caps=False,
        )


def _pendant_light(p: Parts, w: float, h: float, d: float) -> None:
    shade_h = min(0.35 * h, 0.6 * w)
    p.cylinder((0.0, h - 0.01 * h, 0.0), 0.02 * h, 0.12 * w, sections=12)  # canopy
    p.cylinder((0.0, (shade_h + h) / 2.0, 0.0), h - shade_h, 0.008 * w + 0.002, sections=6)
    s = (w / 2.0, d / 2.0)
    p.lathe(
        [(1.0, 0.0), (0.9, 0.1 * shade_h), (0.5, 0.7 * shade_h), (0.15, shade_h), (0.0, shade_h)],
        scale=s,
        sections=20,
    )
    with p.accent("light"):
        p.ellipsoid((0.0, 0.05 * shade_h, 0.0), (0.25 * w, 0.1 * shade_h, 0.25 * d))


def _chandelier(p: Parts, w: float, h: float, d: float) -> None:
    p.cylinder((0.0, h - 0.02 * h, 0.0), 0.04 * h, 0.1 * w, sections=12)
    p.cylinder((0.0, 0.7 * h, 0.0), 0.56 * h, 0.015 * w + 0.004, sections=6)
    p.ellipsoid((0.0, 0.35 * h, 0.0), (0.1 * w, 0.15 * h, 0.1 * d))
    arms = 6
    for k in range(arms):
        a = 2.0 * math.pi * k / arms
        x, z = 0.42 * w * math.cos(a), 0.42 * d * math.sin(a)
        p.rod((0.0, 0.35 * h, 0.0), (x, 0.3 * h, z), 0.012 * w + 0.003, sections=6)
        p.cylinder((x, 0.32 * h, z), 0.06 * h, 0.06 * w, sections=8)
        with p.accent("white"):
            p.cylinder((x, 0.42 * h, z), 0.14 * h, 0.015 * w + 0.003, sections=6)
        with p.accent("light"):
            p.ellipsoid((x, 0.52 * h, z), (0.02 * w + 0.004, 0.05 * h, 0.02 * d + 0.004))
    p.ellipsoid((0.0, 0.08 * h, 0.0), (0.05 * w, 0.08 * h, 0.05 * d))


def _ceiling_light(p: Parts, w: float, h: float, d: float) -> None:
    s = (w / 2.0, d / 2.0)
    p.lathe([(1.0, h), (1.0, 0.85 * h)], scale=s, sections=24)
    p.lathe(
        [(0.95, 0.86 * h), (0.85, 0.4 * h), (0.5, 0.05 * h), (0.0, 0.0)],
        scale=s,
        sections=24,
        caps=True,
    )


def _wall_sconce(p: Parts, w: float, h: float, d: float) -> None:
    p.box((-0.2 * w, 0.2 * h, -d / 2.0), (0.2 * w, 0.7 * h, -d / 2.0 + 0.06 * d))
    p.rod(
        (0.0, 0.45 * h, -d / 2.0 + 0.05 * d),
        (0.0, 0.45 * h, 0.1 * d),
        0.03 * min(w, h) + 0.004,
        sections=6,
    )
    p.lathe(
        [(0.3, 0.0), (1.0, 0.0), (0.55, 0.55 * h)],
        (0.0, 0.45 * h, 0.1 * d),
        scale=(w / 2.0, 0.4 * d),
        sections=16,
        caps=False,
    )
    p.lathe(
        [(0.35, 0.0), (0.35, 0.1 * h)],
        (0.0, 0.4 * h, 0.1 * d),
        scale=(w / 2.0, 0.4 * d),
        sections=8,
    )


def _candle(p: Parts, w: float, h: float, d: float) -> None:
    s = (w / 2.0, d / 2.0)
    p.lathe(
        [(0.0, 0.0), (1.0, 0.0), (0.9, 0.06 * h), (0.3, 0.1 * h), (0.2, 0.35 * h), (0.55, 0.4 * h)],
        scale=s,
        sections=16,
        caps=True,
    )
    with p.accent("cream"):
        p.lathe([(0.3, 0.39 * h), (0.3, 0.88 * h)], scale=s, sections=12)
    with p.accent("yellow"):
        p.ellipsoid((0.0, 0.94 * h, 0.0), (0.1 * w, 0.06 * h, 0.1 * d))


def _lantern(p: Parts, w: float, h: float, d: float) -> None:
    body = 0.75 * h
    p.box((-w / 2.0, 0.0, -d / 2.0), (w / 2.0, 0.08 * h, d / 2.0))
    f = 0.06 * min(w, d)
    for sx in (-1.0, 1.0):
        for sz in (-1.0, 1.0):
            p.box(
                (sx * (w / 2.0 - f) - f / 2.0, 0.08 * h, sz * (d / 2.0 - f) - f / 2.0),
                (sx * (w / 2.0 - f) + f / 2.0, body, sz * (d / 2.0 - f) + f / 2.0),
            )
    with p.accent("glass"):
        p.box((-w / 2.0 + f, 0.08 * h, -d / 2.0 + f), (w / 2.0 - f, body, d / 2.0 - f))  # glass
    p.lathe([(0.0, body), (1.0, body), (0.2, 0.88 * h)], scale=(w / 2.0, d / 2.0), sections=4)
    p.torus((0.0, 0.92 * h, 0.0), 0.1 * w, 0.02 * w, axis="z", sections=8, tube_sections=4)
    with p.accent("light"):
        p.ellipsoid((0.0, 0.35 * h, 0.0), (0.12 * w, 0.15 * h, 0.12 * d))


def _ceiling_fan(p: Parts, w: float, h: float, d: float) -> None:
    p.cylinder((0.0, h - 0.05 * h, 0.0), 0.1 * h, 0.06 * w, sections=12)
    p.cylinder((0.0, 0.6 * h, 0.0), 0.7 * h, 0.01 * w + 0.004, sections=6)
    p.cylinder((0.0, 0.2 * h, 0.0), 0.3 * h, 0.1 * w, 0.1 * d, sections=16)
    for k in range(4):
        angle = 90.0 * k + 45.0
        a = math.radians(angle)
        cx, cz = 0.3 * w * math.cos(a), 0.3 * d * math.sin(a)
        p.box(
            (cx - 0.2 * w, 0.28 * h, cz - 0.05 * d),
            (cx + 0.2 * w, 0.32 * h, cz + 0.05 * d),
            turn=("y", -angle),
            pivot=(cx, 0.3 * h, cz),
        )
    p.ellipsoid((0.0, 0.05 * h, 0.0), (0.06 * w, 0.05 * h, 0.06 * d))


def _fireplace(p: Parts, w: float, h: float, d: float) -> None:
    hearth = 0.06 * h
    p.box((-w / 2.0, 0.0, -d / 2.0), (w / 2.0, hearth, d / 2.0))
    body_z = 0.35 * d
    side = 0.2 * w
    p.box((-w / 2.0 + 0.03 * w, hearth, -d / 2.0), (-w / 2.0 + 0.03 * w + side, 0.85 * h, body_z))
    p.box((w / 2.0 - 0.03 * w - side, hearth, -d / 2.0), (w / 2.0 - 0.03 * w, 0.85 * h, body_z))
    p.box((-w / 2.0 + 0.03 * w, 0.6 * h, -d / 2.0), (w / 2.0 - 0.03 * w, 0.85 * h, body_z))
    p.box(
        (-w / 2.0 + 0.03 * w + side, hearth, -d / 2.0),
        (w / 2.0 - 0.03 * w - side, 0.6 * h, -d / 2.0 + 0.1 * d),
    )  # back
    p.box((-w / 2.0, 0.85 * h, -d / 2.0), (w / 2.0, h, d / 2.0 - 0.2 * d))  # mantel
    for k in range(3):
        x = -0.15 * w + k * 0.12 * w
        with p.accent("wood"):
            p.cylinder((x, hearth + 0.04 * h, 0.0), 0.3 * w, 0.03 * h, sections=8, axis="z")
    with p.accent("yellow"):
        p.ellipsoid((0.0, hearth + 0.15 * h, -0.05 * d), (0.15 * w, 0.12 * h, 0.1 * d))  # flames


# --------------------------------------------------------------------- plants, flowers


def _pot(p: Parts, w: float, d: float, top: float) -> None:
    s = (w / 2.0, d / 2.0)
    with p.accent("terracotta"):
        _pot_shape(p, s, top)
    with p.accent("soil"):
        p.lathe([(0.0, 0.93 * top), (0.86, 0.93 * top)], scale=s, sections=16)


def _pot_shape(p: Parts, s: tuple[float, float], top: float) -> None:
    p.lathe(
        [
            (0.0, 0.0),
            (0.72, 0.0),
            (0.92, 0.9 * top),
            (1.0, 0.9 * top),
            (1.0, top),
            (0.85, top),
            (0.0, 0.94 * top),
        ],
        scale=s,
        sections=16,
        caps=False,
    )


def _potted_tree(p: Parts, w: float, h: float, d: float) -> None:
    pot = 0.22 * h
    _pot(p, 0.45 * w, 0.45 * d, pot)
    with p.accent("wood"):
        p.cylinder(
            (0.0, (pot + 0.55 * h) / 2.0, 0.0),
            0.55 * h - pot,
            0.04 * min(w, d) + 0.01,
            sections=8,
            taper=0.6,
        )
    crowns = (
        (0.0, 0.72, 0.0, 0.42),
        (-0.25, 0.62, 0.1, 0.28),
        (0.25, 0.66, -0.1, 0.3),
        (0.05, 0.86, 0.05, 0.3),
    )
    for cx, cy, cz, r in crowns:
        ry = min(r * h * 0.6, h - cy * h)
        p.ellipsoid((cx * w, cy * h, cz * d), (r * w, max(ry, 0.05 * h), r * d), detail=1)


def _cactus(p: Parts, w: float, h: float, d: float) -> None:
    pot = 0.2 * h
    _pot(p, 0.6 * w, 0.6 * d, pot)
    r = 0.16 * min(w, d)
    p.cylinder((0.0, (pot + h - r) / 2.0, 0.0), h - r - pot, r, sections=12)
    p.ellipsoid((0.0, h - r, 0.0), (r, r, r))
    for sx, y0, y1 in ((-1.0, 0.45, 0.75), (1.0, 0.55, 0.85)):
        x = sx * 0.32 * w
        p.rod((0.0, y0 * h, 0.0), (x, y0 * h, 0.0), 0.6 * r, sections=8)
        p.cylinder((x, (y0 + y1) / 2.0 * h, 0.0), (y1 - y0) * h, 0.6 * r, sections=8)
        p.ellipsoid((x, y1 * h, 0.0), (0.6 * r, 0.6 * r, 0.6 * r))


def _flowers_in_vase(p: Parts, w: float, h: float, d: float) -> None:
    vase_h = 0.45 * h
    s = (0.5 * w / 2.0, 0.5 * d / 2.0)
    with p.accent("white"):
        _vase_shape(p, s, vase_h)
    _blooms(p, w, h, d, vase_h)


def _vase_shape(p: Parts, s: tuple[float, float], vase_h: float) -> None:
    p.lathe(
        [
            (0.0, 0.0),
            (0.7, 0.0),
            (1.0, 0.35 * vase_h),
            (0.6, 0.85 * vase_h),
            (0.7, vase_h),
            (0.0, vase_h),
        ],
        scale=s,
        sections=16,
    )


def _blooms(p: Parts, w: float, h: float, d: float, vase_h: float) -> None:
    """Stems, leaves and blossoms; the blossoms wear the image (its colour is theirs)."""
    blooms = (
        (0.0, 0.92, 0.0),
        (-0.3, 0.8, 0.1),
        (0.3, 0.82, -0.1),
        (-0.12, 0.7, -0.3),
        (0.18, 0.72, 0.3),
        (0.32, 0.66, 0.25),
    )
    br = 0.12 * min(w, d)
    for fx, fy, fz in blooms:
        top = (fx * w, fy * h, fz * d)
        with p.accent("leaf"):
            p.rod((0.0, 0.8 * vase_h, 0.0), top, 0.012 * min(w, d) + 0.002, sections=6)
        p.ellipsoid(top, (br, min(br, 0.08 * h), br))
    for sx in (-1.0, 1.0):
        with p.accent("leaf"):
            p.ellipsoid((sx * 0.2 * w, 0.55 * h, 0.0), (0.12 * w, 0.03 * h, 0.05 * d))


def _vase(p: Parts, w: float, h: float, d: float) -> None:
    s = (w / 2.0, d / 2.0)
    p.lathe([(0.0, 0.0), (0.55, 0.0), (0.6, 0.04 * h)], scale=s, sections=16)
    p.lathe(
        [
            (0.55, 0.04 * h),
            (0.95, 0.35 * h),
            (0.85, 0.6 * h),
            (0.42, 0.82 * h),
            (0.4, 0.94 * h),
            (0.55, h),
            (0.45, h),
            (0.32, 0.85 * h),
        ],
        scale=s,
        sections=20,
        caps=False,
    )


def _hanging_plant(p: Parts, w: float, h: float, d: float) -> None:
    pot_top = 0.45 * h
    pot_h = 0.2 * h
    s = (0.5 * w / 2.0, 0.5 * d / 2.0)
    with p.accent("terracotta"):
        p.lathe(
            [(0.0, pot_top - pot_h), (0.75, pot_top - pot_h), (1.0, pot_top), (0.0, pot_top)],
            scale=s,
            sections=16,
        )
    for k in range(3):
        a = math.radians(90.0 + 120.0 * k)
        with p.accent("white"):
            p.rod(
                (0.25 * w * math.cos(a), pot_top, 0.25 * d * math.sin(a)),
                (0.0, h, 0.0),
                0.004 + 0.005 * w,
                sections=6,
            )
    p.ellipsoid((0.0, pot_top + 0.05 * h, 0.0), (0.35 * w, 0.08 * h, 0.35 * d))
    for k in range(5):
        a = math.radians(20.0 + 72.0 * k)
        x, z = 0.38 * w * math.cos(a), 0.38 * d * math.sin(a)
        p.ellipsoid(
            (x, 0.5 * (pot_top - pot_h) + 0.05 * h * (k % 2), z),
            (0.1 * w, 0.5 * (pot_top - pot_h), 0.1 * d),
        )


# ---------------------------------------------------------------------- room fittings


def _grandfather_clock(p: Parts, w: float, h: float, d: float) -> None:
    p.box((-w / 2.0, 0.0, -d / 2.0), (w / 2.0, 0.12 * h, d / 2.0))
    p.box((-0.38 * w, 0.12 * h, -0.4 * d), (0.38 * w, 0.7 * h, 0.4 * d))
    p.box((-w / 2.0, 0.7 * h, -d / 2.0), (w / 2.0, 0.95 * h, d / 2.0))
    p.extrude([(-w / 2.0, 0.95 * h), (w / 2.0, 0.95 * h), (0.0, h)], -d / 2.0, d / 2.0)
    face_r = 0.36 * w
    cy = 0.82 * h
    with p.accent("white"):
        p.cylinder((0.0, cy, d / 2.0), 0.02 * d, face_r, axis="z", sections=16)
    with p.accent("black"):
        p.box((-0.01 * w, cy, d / 2.0), (0.01 * w, cy + 0.8 * face_r, d / 2.0 + 0.01 * d))
    with p.accent("glass"):
        p.box((-0.2 * w, 0.25 * h, 0.4 * d), (0.2 * w, 0.62 * h, 0.42 * d))  # pendulum window
    with p.accent("brass"):
        p.cylinder((0.0, 0.32 * h, 0.42 * d), 0.01 * d, 0.12 * w, axis="z", sections=12)


def _blinds(p: Parts, w: float, h: float, d: float) -> None:
    p.box((-w / 2.0, h - 0.05 * h, -d / 2.0), (w / 2.0, h, d / 2.0))
    slats = int(clamp(round(h / 0.05), 3, 60))
    pitch = 0.93 * h / slats
    for k in range(slats):
        y = k * pitch
        p.box((-0.49 * w, y, -0.4 * d), (0.49 * w, y + 0.45 * pitch, 0.4 * d), turn=("x", 15.0))
    p.rod(
        (0.4 * w, 0.3 * h, d / 2.0 - 0.1 * d),
        (0.4 * w, h - 0.05 * h, d / 2.0 - 0.1 * d),
        0.004 + 0.003 * w,
        sections=6,
    )


def _room_divider(p: Parts, w: float, h: float, d: float) -> None:
    panels = 3 if w > 0.9 else 2
    lane = w / panels
    for k in range(panels):
        x0 = -w / 2.0 + k * lane
        angle = 18.0 if k % 2 else -18.0
        pivot = (x0 + lane / 2.0, 0.0, 0.0)
        f = 0.05 * lane
        p.box(
            (x0 + 0.005, 0.06 * h, -0.3 * d),
            (x0 + lane - 0.005, h, -0.1 * d),
            turn=("y", angle),
            pivot=pivot,
        )
        p.box((x0 + f, 0.0, -0.15 * d), (x0 + 2 * f, 0.06 * h, 0.15 * d))
        p.box((x0 + lane - 2 * f, 0.0, -0.15 * d), (x0 + lane - f, 0.06 * h, 0.15 * d))


def _column(p: Parts, w: float, h: float, d: float) -> None:
    base = 0.08 * h
    p.box((-w / 2.0, 0.0, -d / 2.0), (w / 2.0, base * 0.6, d / 2.0))
    p.lathe([(0.45, base * 0.6), (0.45, base), (0.38, base * 1.2)], scale=(w, d), sections=16)
    p.lathe([(0.36, base), (0.32, h - base)], scale=(w, d), sections=20, caps=False)
    p.lathe([(0.32, h - base), (0.45, h - base * 0.5)], scale=(w, d), sections=16)
    p.box((-w / 2.0, h - base * 0.5, -d / 2.0), (w / 2.0, h, d / 2.0))


def _ladder(p: Parts, w: float, h: float, d: float) -> None:
    rail = 0.06 * w + 0.01
    for sx in (-1.0, 1.0):
        x = sx * (w / 2.0 - rail / 2.0)
        p.rod((x, 0.0, d / 2.0 - rail), (x, h, -d / 2.0 + rail), rail / 2.0, sections=6)
        p.rod(
            (x, 0.0, -d / 2.0 + rail),
            (x, 0.95 * h, -d / 2.0 + 0.5 * rail + 0.05 * d),
            rail / 2.0,
            sections=6,
        )
    steps = int(clamp(round(h / 0.28), 2, 12))
    for k in range(1, steps + 1):
        t = k / (steps + 1)
        z = d / 2.0 - rail - t * (d - 2 * rail)
        p.box(
            (-w / 2.0 + rail, t * h - 0.015, z - 0.06 * d - 0.02),
            (w / 2.0 - rail, t * h + 0.015, z + 0.02),
        )


def _umbrella_stand(p: Parts, w: float, h: float, d: float) -> None:
    body = 0.6 * h
    s = (w / 2.0, d / 2.0)
    p.lathe(
        [(0.0, 0.0), (1.0, 0.0), (1.0, body), (0.92, body), (0.92, 0.03 * h), (0.0, 0.03 * h)],
        scale=s,
        sections=16,
        caps=False,
    )
    for k, (fx, fz) in enumerate(((-0.3, -0.2), (0.25, 0.1), (0.0, 0.3))):
        top = (fx * w, h - 0.08 * h * (k % 2), fz * d)
        p.rod(
            (fx * 0.5 * w, 0.05 * h, fz * 0.5 * d),
            top,
            0.06 * min(w, d),
            r2=0.04 * min(w, d),
            sections=8,
        )
        p.torus(
            (top[0] + 0.05 * w, top[1] - 0.04 * h, top[2]),
            0.05 * w,
            0.015 * w,
            axis="z",
            sections=8,
            tube_sections=4,
        )


def _mannequin(p: Parts, w: float, h: float, d: float) -> None:
    p.cylinder((0.0, 0.015 * h, 0.0), 0.03 * h, 0.35 * w, 0.45 * d, sections=16)
    p.cylinder((0.0, 0.3 * h, 0.0), 0.54 * h, 0.03 * w + 0.005, sections=8)
    p.ellipsoid((0.0, 0.62 * h, 0.0), (0.32 * w, 0.1 * h, 0.3 * d))
    p.lathe(
        [(0.75, 0.55 * h), (0.6, 0.7 * h), (0.85, 0.85 * h), (0.9, 0.9 * h), (0.3, 0.96 * h)],
        scale=(w / 2.0, d / 2.0),
        sections=16,
    )
    p.cylinder((0.0, 0.98 * h, 0.0), 0.04 * h, 0.08 * w, sections=8)


BUILDERS: dict[str, Builder] = {
    "folding chair": _folding_chair,
    "rocking chair": _rocking_chair,
    "high chair": _high_chair,
    "sectional sofa": _sectional_sofa,
    "ottoman": _ottoman,
    "beanbag": _beanbag,
    "cushion": _cushion,
    "round table": _round_table,
    "conference table": _conference_table,
    "picnic table": _picnic_table,
    "school desk": _school_desk,
    "reception desk": _reception_desk,
    "lectern": _lectern,
    "lab bench": _lab_bench,
    "workbench": _workbench,
    "filing cabinet": _filing_cabinet,
    "locker": _locker,
    "display case": _display_case,
    "shoe rack": _shoe_rack,
    "coat rack": _coat_rack,
    "clothes rack": _clothes_rack,
    "bunk bed": _bunk_bed,
    "crib": _crib,
    "hospital bed": _hospital_bed,
    "mattress": _mattress,
    "pet bed": _pet_bed,
    "hammock": _hammock,
    "desk lamp": _desk_lamp,
    "pendant light": _pendant_light,
    "chandelier": _chandelier,
    "ceiling light": _ceiling_light,
    "wall sconce": _wall_sconce,
    "candle": _candle,
    "lantern": _lantern,
    "ceiling fan": _ceiling_fan,
    "fireplace": _fireplace,
    "potted tree": _potted_tree,
    "cactus": _cactus,
    "flowers in vase": _flowers_in_vase,
    "vase": _vase,
    "hanging plant": _hanging_plant,
    "grandfather clock": _grandfather_clock,
    "blinds": _blinds,
    "room divider": _room_divider,
    "column": _column,
    "ladder": _ladder,
    "umbrella stand": _umbrella_stand,
    "mannequin": _mannequin,
}
