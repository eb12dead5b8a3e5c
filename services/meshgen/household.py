"""Household things: tableware, cutlery, food, containers, kitchen and home appliances.

Each recipe draws into a :class:`Parts` within x ∈ [-w/2, w/2], y ∈ [0, h],
z ∈ [-d/2, d/2], front towards +Z. Round things are surfaces of revolution whose
radius fractions are scaled by half the width and depth, so a wide request gives an
oval plate rather than an error.
"""

from __future__ import annotations

import math

from services.meshgen.primitives import Builder, Parts, clamp


def _flat(
    p: Parts, w: float, d: float, a0: float, a1: float, y0: float, y1: float, c0: float, c1: float
) -> None:
    """A box spanning [a0, a1] along the object's long horizontal axis and [c0, c1] across."""
    if d >= w:
        p.box((c0, y0, a0), (c1, y1, a1))
    else:
        p.box((a0, y0, c0), (a1, y1, c1))


def _flat_point(
    w: float, d: float, along: float, y: float, across: float
) -> tuple[float, float, float]:
    return (across, y, along) if d >= w else (along, y, across)


# --------------------------------------------------------------------------- tableware


def _plate(p: Parts, w: float, h: float, d: float) -> None:
    p.lathe([(0.5, 0.0), (0.55, 0.0), (0.55, 0.3 * h)], scale=(w / 2.0, d / 2.0), caps=True)
    p.lathe(
        [
            (0.0, 0.25 * h),
            (0.6, 0.25 * h),
            (0.9, 0.7 * h),
            (1.0, h),
            (0.93, h),
            (0.6, 0.5 * h),
            (0.0, 0.5 * h),
        ],
        scale=(w / 2.0, d / 2.0),
        sections=24,
        caps=False,
    )


def _bowl(p: Parts, w: float, h: float, d: float) -> None:
    p.lathe([(0.38, 0.0), (0.42, 0.0), (0.42, 0.1 * h)], scale=(w / 2.0, d / 2.0))
    p.lathe(
        [
            (0.0, 0.08 * h),
            (0.45, 0.08 * h),
            (0.82, 0.4 * h),
            (1.0, h),
            (0.93, h),
            (0.75, 0.45 * h),
            (0.0, 0.2 * h),
        ],
        scale=(w / 2.0, d / 2.0),
        sections=24,
        caps=False,
    )


def _cup(p: Parts, w: float, h: float, d: float) -> None:
    body_w = 0.76 * w
    cx = -w / 2.0 + body_w / 2.0
    p.lathe(
        [(0.0, 0.0), (0.92, 0.0), (1.0, h), (0.9, h), (0.84, 0.1 * h), (0.0, 0.1 * h)],
        (cx, 0.0, 0.0),
        scale=(body_w / 2.0, d / 2.0),
        caps=False,
    )
    tube = min(0.03 * h, 0.05 * w) + 0.02 * w
    radius = min(0.28 * h, 0.5 * (w - body_w) + 0.5 * tube)
    p.torus((w / 2.0 - radius - tube, 0.55 * h, 0.0), radius, tube, axis="z", sections=12)


def _wine_glass(p: Parts, w: float, h: float, d: float) -> None:
    s = (w / 2.0, d / 2.0)
    with p.accent("glass"):
        p.lathe([(0.0, 0.0), (0.75, 0.0), (0.7, 0.03 * h), (0.0, 0.04 * h)], scale=s, caps=False)
    with p.accent("glass"):
        p.lathe([(0.07, 0.03 * h), (0.06, 0.45 * h)], scale=s, sections=8)
    with p.accent("glass"):
        p.lathe(
            [
                (0.0, 0.44 * h),
                (0.75, 0.58 * h),
                (1.0, 0.8 * h),
                (0.85, h),
                (0.8, h),
                (0.94, 0.8 * h),
                (0.0, 0.5 * h),
            ],
            scale=s,
            caps=False,
        )


def _drinking_glass(p: Parts, w: float, h: float, d: float) -> None:
    s = (w / 2.0, d / 2.0)
    with p.accent("glass"):
        p.lathe(
            [(0.0, 0.0), (0.88, 0.0), (1.0, h), (0.93, h), (0.82, 0.12 * h), (0.0, 0.12 * h)],
            scale=s,
            caps=False,
        )
    with p.accent("yellow"):
        p.lathe([(0.8, 0.13 * h), (0.88, 0.6 * h)], scale=s)  # the drink


def _bottle(p: Parts, w: float, h: float, d: float) -> None:
    s = (w / 2.0, d / 2.0)
    p.lathe(
        [
            (0.0, 0.0),
            (0.95, 0.0),
            (1.0, 0.04 * h),
            (1.0, 0.58 * h),
            (0.85, 0.68 * h),
            (0.32, 0.8 * h),
            (0.3, 0.9 * h),
        ],
        scale=s,
    )
    with p.accent("black"):
        p.lathe([(0.36, 0.89 * h), (0.36, h)], scale=s, sections=12)  # cap
    with p.accent("cream"):
        p.lathe([(1.01, 0.18 * h), (1.01, 0.45 * h)], scale=s, caps=False)  # label


def _jar(p: Parts, w: float, h: float, d: float) -> None:
    s = (w / 2.0, d / 2.0)
    p.lathe([(0.0, 0.0), (0.88, 0.0), (0.96, 0.08 * h), (0.96, 0.72 * h), (0.82, 0.8 * h)], scale=s)
    p.lathe([(1.0, 0.78 * h), (1.0, 0.9 * h), (0.7, 0.93 * h)], scale=s)
    p.lathe([(0.22, 0.9 * h), (0.25, h)], scale=s, sections=8)


def _teapot(p: Parts, w: float, h: float, d: float) -> None:
    bw = 0.62 * w
    s = (bw / 2.0, d / 2.0)
    p.lathe(
        [
            (0.0, 0.0),
            (0.7, 0.0),
            (0.95, 0.25 * h),
            (1.0, 0.45 * h),
            (0.85, 0.68 * h),
            (0.55, 0.75 * h),
        ],
        scale=s,
    )
    p.lathe([(0.58, 0.74 * h), (0.45, 0.82 * h), (0.1, 0.86 * h)], scale=s)  # lid
    p.ellipsoid((0.0, 0.9 * h, 0.0), (0.06 * bw, 0.1 * h, 0.06 * d))
    spout_r = 0.05 * min(w, h)
    p.rod((0.3 * bw, 0.3 * h, 0.0), (w / 2.0 - spout_r, 0.78 * h, 0.0), 1.6 * spout_r, r2=spout_r)
    p.torus((-w / 2.0 + 0.12 * w, 0.45 * h, 0.0), 0.09 * w, 0.03 * w, axis="z", sections=12)


def _cooking_pot(p: Parts, w: float, h: float, d: float) -> None:
    bw = 0.76 * w
    s = (bw / 2.0, d / 2.0)
    p.lathe(
        [
            (0.0, 0.0),
            (1.0, 0.0),
            (1.0, 0.78 * h),
            (0.95, 0.78 * h),
            (0.95, 0.05 * h),
            (0.0, 0.05 * h),
        ],
        scale=s,
        caps=False,
    )
    p.lathe(
        [(1.02, 0.76 * h), (1.0, 0.8 * h), (0.5, 0.88 * h), (0.0, 0.9 * h)], scale=s, caps=False
    )
    p.cylinder((0.0, 0.95 * h, 0.0), 0.1 * h, 0.06 * bw, sections=8)
    for sx in (-1.0, 1.0):
        p.box((sx * bw / 2.0 - 0.02 * w, 0.6 * h, -0.08 * d), (sx * w / 2.0, 0.68 * h, 0.08 * d))


def _frying_pan(p: Parts, w: float, h: float, d: float) -> None:
    pan = min(0.62 * w, d) if w >= d else d
    long_x = w >= d
    cx = -w / 2.0 + pan / 2.0 if long_x else 0.0
    cz = 0.0 if long_x else d / 2.0 - pan / 2.0
    s = (pan / 2.0, pan / 2.0) if long_x else (w / 2.0, pan / 2.0)
    p.lathe(
        [
            (0.0, 0.0),
            (0.85, 0.0),
            (1.0, 0.55 * h),
            (0.94, 0.55 * h),
            (0.8, 0.08 * h),
            (0.0, 0.08 * h),
        ],
        (cx, 0.0, cz),
        scale=s,
        caps=False,
        sections=20,
    )
    grip = 0.06 * pan
    if long_x:
        p.box((cx + 0.45 * pan, 0.4 * h, -grip / 2.0), (w / 2.0, h, grip / 2.0))
    else:
        p.box((-grip / 2.0, 0.4 * h, -d / 2.0), (grip / 2.0, h, cz - 0.45 * pan))


def _tray(p: Parts, w: float, h: float, d: float) -> None:
    base = 0.2 * h
    p.box(
        (-w / 2.0 + 0.01 * w, 0.0, -d / 2.0 + 0.01 * d),
        (w / 2.0 - 0.01 * w, base, d / 2.0 - 0.01 * d),
    )
    rim = min(0.015, 0.05 * min(w, d))
    for sz in (-1.0, 1.0):
        z0 = sz * d / 2.0
        p.box((-w / 2.0, 0.0, min(z0, z0 - sz * rim)), (w / 2.0, 0.7 * h, max(z0, z0 - sz * rim)))
    for sx in (-1.0, 1.0):
        x0 = sx * w / 2.0
        lo, hi = min(x0, x0 - sx * rim), max(x0, x0 - sx * rim)
        p.box((lo, 0.0, -d / 2.0 + rim), (hi, 0.7 * h, -0.2 * d))
        p.box((lo, 0.0, 0.2 * d), (hi, 0.7 * h, d / 2.0 - rim))
        p.box((lo, 0.7 * h, -0.2 * d), (hi, h, 0.2 * d))  # handle bar


def _cutting_board(p: Parts, w: float, h: float, d: float) -> None:
    long = max(w, d)
    _flat(p, w, d, -long / 2.0, long / 2.0 - 0.18 * long, 0.0, h, -min(w, d) / 2.0, min(w, d) / 2.0)
    across = min(w, d)
    _flat(
        p, w, d, long / 2.0 - 0.19 * long, long / 2.0, 0.0, 0.9 * h, -0.2 * across, -0.08 * across
    )
    _flat(p, w, d, long / 2.0 - 0.19 * long, long / 2.0, 0.0, 0.9 * h, 0.08 * across, 0.2 * across)
    _flat(p, w, d, long / 2.0 - 0.06 * long, long / 2.0, 0.0, 0.9 * h, -0.2 * across, 0.2 * across)


def _fork(p: Parts, w: float, h: float, d: float) -> None:
    long, across = max(w, d), min(w, d)
    _flat(p, w, d, -long / 2.0, 0.05 * long, 0.0, 0.5 * h, -0.3 * across, 0.3 * across)
    _flat(p, w, d, 0.05 * long, 0.2 * long, 0.1 * h, 0.7 * h, -0.45 * across, 0.45 * across)
    for k in range(4):
        c = -0.5 * across + (k + 0.15) * across / 4.0
        _flat(p, w, d, 0.19 * long, long / 2.0, 0.4 * h, h, c, c + 0.7 * across / 4.0)


def _knife(p: Parts, w: float, h: float, d: float) -> None:
    long, across = max(w, d), min(w, d)
    _flat(p, w, d, -long / 2.0, -0.05 * long, 0.0, h, -0.4 * across, 0.4 * across)
    _flat(p, w, d, -0.06 * long, 0.42 * long, 0.1 * h, 0.4 * h, -0.5 * across, 0.5 * across)
    _flat(p, w, d, 0.41 * long, long / 2.0, 0.1 * h, 0.4 * h, -0.5 * across, 0.1 * across)


def _spoon(p: Parts, w: float, h: float, d: float) -> None:
    long, across = max(w, d), min(w, d)
    _flat(p, w, d, -long / 2.0, 0.15 * long, 0.5 * h, h, -0.18 * across, 0.18 * across)
    centre = _flat_point(w, d, 0.33 * long, 0.45 * h, 0.0)
    radii = (
        (0.5 * across, 0.45 * h, 0.17 * long) if d >= w else (0.17 * long, 0.45 * h, 0.5 * across)
    )
    p.ellipsoid(centre, radii)


def _chopsticks(p: Parts, w: float, h: float, d: float) -> None:
    long, across = max(w, d), min(w, d)
    for c in (-0.3 * across, 0.3 * across):
        a = _flat_point(w, d, -long / 2.0, h / 2.0, c)
        b = _flat_point(w, d, long / 2.0, h / 2.0, c * 0.5)
        p.rod(a, b, min(h / 2.0, 0.2 * across), r2=min(h / 2.0, 0.2 * across) * 0.5, sections=6)


def _cake(p: Parts, w: float, h: float, d: float) -> None:
    s = (w / 2.0, d / 2.0)
    p.lathe([(1.0, 0.0), (1.0, 0.06 * h)], scale=s, sections=24)  # cake board
    p.lathe([(0.88, 0.06 * h), (0.88, 0.55 * h)], scale=s, sections=24)
    with p.accent("cream"):
        p.torus((0.0, 0.55 * h, 0.0), 0.84 * w / 2.0, 0.03 * w, sections=24)
    p.lathe([(0.55, 0.55 * h), (0.55, 0.88 * h)], scale=s, sections=20)
    with p.accent("red"):
        p.cylinder((0.0, 0.94 * h, 0.0), 0.12 * h, 0.02 * w, sections=6)


def _fruit(p: Parts, w: float, h: float, d: float) -> None:
    r = 0.25 * min(w, d)
    spots = ((-0.22, -0.18), (0.2, -0.2), (0.0, 0.22), (-0.25, 0.2), (0.25, 0.18))
    for k, (fx, fz) in enumerate(spots):
        with p.accent("red"):
            p.ellipsoid((fx * w, r, fz * d), (r, r, r), detail=1 if k % 2 else 2)
    p.ellipsoid((0.0, h - r, 0.0), (r, r, r))


def _food_plate(p: Parts, w: float, h: float, d: float) -> None:
    ph = 0.25 * h
    with p.accent("white"):
        p.lathe(
            [(0.0, 0.0), (0.6, 0.0), (0.95, 0.8 * ph), (1.0, ph), (0.6, 0.5 * ph), (0.0, 0.5 * ph)],
            scale=(w / 2.0, d / 2.0),
            sections=24,
            caps=False,
        )
    p.ellipsoid((-0.1 * w, 0.5 * ph + 0.35 * (h - ph), 0.0), (0.3 * w, 0.4 * (h - ph), 0.28 * d))
    p.ellipsoid(
        (0.25 * w, 0.5 * ph + 0.2 * (h - ph), 0.15 * d), (0.12 * w, 0.25 * (h - ph), 0.12 * d)
    )
    with p.accent("leaf"):
        p.box((0.1 * w, 0.5 * ph, -0.3 * d), (0.35 * w, h, -0.1 * d))


# ------------------------------------------------------------------------- containers


def _box(p: Parts, w: float, h: float, d: float) -> None:
    lid = min(0.02, 0.06 * h)
    p.box(
        (-w / 2.0 + 0.005 * w, 0.0, -d / 2.0 + 0.005 * d),
        (w / 2.0 - 0.005 * w, h - lid, d / 2.0 - 0.005 * d),
    )
    gap = 0.01 * w
    p.box((-w / 2.0, h - lid, -d / 2.0), (-gap, h, d / 2.0))  # two top flaps
    p.box((gap, h - lid, -d / 2.0), (w / 2.0, h, d / 2.0))
    tape = 0.12 * w
    p.box((-tape / 2.0, h - 0.3 * h, d / 2.0 - 0.004 * d), (tape / 2.0, h - 0.6 * lid, d / 2.0))


def _crate(p: Parts, w: float, h: float, d: float) -> None:
    post = min(0.04, 0.1 * min(w, d))
    for sx in (-1.0, 1.0):
        for sz in (-1.0, 1.0):
            x, z = sx * (w / 2.0 - post / 2.0), sz * (d / 2.0 - post / 2.0)
            p.box((x - post / 2.0, 0.0, z - post / 2.0), (x + post / 2.0, h, z + post / 2.0))
    slats = 3
    t = 0.4 * post
    p.box((-w / 2.0 + post, 0.0, -d / 2.0 + post), (w / 2.0 - post, 0.6 * t, d / 2.0 - post))
    for k in range(slats):
        y0 = (k + 0.12) * h / slats
        y1 = y0 + 0.7 * h / slats
        for sz in (-1.0, 1.0):
            z = sz * (d / 2.0 - t / 2.0)
            p.box((-w / 2.0 + post, y0, z - t / 2.0), (w / 2.0 - post, y1, z + t / 2.0))
        for sx in (-1.0, 1.0):
            x = sx * (w / 2.0 - t / 2.0)
            p.box((x - t / 2.0, y0, -d / 2.0 + post), (x + t / 2.0, y1, d / 2.0 - post))


def _open_tub(p: Parts, w: float, h: float, d: float, wall: float, flare: float) -> None:
    """A rectangular open tub: bottom, four walls leaning out by ``flare``, a rim."""
    inset = flare * min(w, d)
    p.box((-w / 2.0 + inset, 0.0, -d / 2.0 + inset), (w / 2.0 - inset, wall, d / 2.0 - inset))
    for sz in (-1.0, 1.0):
        z = sz * (d / 2.0 - inset / 2.0 - wall / 2.0)
        p.box((-w / 2.0 + inset, 0.0, z - wall / 2.0), (w / 2.0 - inset, h - wall, z + wall / 2.0))
    for sx in (-1.0, 1.0):
        x = sx * (w / 2.0 - inset / 2.0 - wall / 2.0)
        p.box((x - wall / 2.0, 0.0, -d / 2.0 + inset), (x + wall / 2.0, h - wall, d / 2.0 - inset))
    ring = 1.5 * wall
    for sz in (-1.0, 1.0):
        z0 = sz * d / 2.0
        p.box((-w / 2.0, h - wall, min(z0, z0 - sz * ring)), (w / 2.0, h, max(z0, z0 - sz * ring)))
    for sx in (-1.0, 1.0):
        x0 = sx * w / 2.0
        p.box(
            (min(x0, x0 - sx * ring), h - wall, -d / 2.0 + ring),
            (max(x0, x0 - sx * ring), h, d / 2.0 - ring),
        )


def _storage_bin(p: Parts, w: float, h: float, d: float) -> None:
    wall = min(0.01, 0.05 * min(w, d))
    _open_tub(p, w, h, d, wall, 0.04)
    for sx in (-1.0, 1.0):
        x = sx * (w / 2.0 - 0.02 * w)
        p.box(
            (min(x, x - sx * 0.02 * w), 0.78 * h, -0.15 * d),
            (max(x, x - sx * 0.02 * w), 0.86 * h, 0.15 * d),
        )


def _basket(p: Parts, w: float, h: float, d: float) -> None:
    body = 0.6 * h
    s = (w / 2.0, d / 2.0)
    p.lathe(
        [
            (0.0, 0.0),
            (0.8, 0.0),
            (1.0, body),
            (0.93, body),
            (0.75, 0.05 * body),
            (0.0, 0.05 * body),
        ],
        scale=s,
        caps=False,
        sections=20,
    )
    for k in range(1, 4):
        y = k * body / 4.0
        r = 0.8 + 0.2 * y / body
        p.torus((0.0, y, 0.0), r * w / 2.0, 0.012 * w, sections=20, tube_sections=4)
    tube = 0.025 * min(w, h)
    radius = h - body - tube
    p.torus((0.0, body, 0.0), max(radius, 0.1 * w), tube, axis="z", sections=16, tube_sections=4)


def _trash_can(p: Parts, w: float, h: float, d: float) -> None:
    s = (w / 2.0, d / 2.0)
    p.lathe(
        [
            (0.0, 0.0),
            (0.86, 0.0),
            (0.97, 0.86 * h),
            (0.91, 0.86 * h),
            (0.8, 0.03 * h),
            (0.0, 0.03 * h),
        ],
        scale=s,
        caps=False,
        sections=20,
    )
    p.lathe([(1.0, 0.85 * h), (1.0, 0.9 * h), (0.5, h), (0.0, h)], scale=s, sections=20)
    with p.accent("metal"):
        p.box((-0.15 * w, 0.0, d / 2.0 - 0.12 * d), (0.15 * w, 0.04 * h, d / 2.0))  # pedal


def _bucket(p: Parts, w: float, h: float, d: float) -> None:
    body = 0.8 * h
    s = (w / 2.0, d / 2.0)
    p.lathe(
        [
            (0.0, 0.0),
            (0.78, 0.0),
            (1.0, body),
            (0.95, body),
            (0.74, 0.04 * body),
            (0.0, 0.04 * body),
        ],
        scale=s,
        caps=False,
    )
    p.torus((0.0, body, 0.0), 0.98 * w / 2.0, 0.015 * w)
    p.torus((0.0, body * 0.98, 0.0), 0.47 * w, 0.012 * w, axis="z", sections=16, tube_sections=4)


def _barrel(p: Parts, w: float, h: float, d: float) -> None:
    s = (w / 2.0, d / 2.0)
    p.lathe(
        [(0.82, 0.0), (0.93, 0.2 * h), (0.98, 0.5 * h), (0.93, 0.8 * h), (0.82, h)],
        scale=s,
        sections=20,
    )
    for y, r in ((0.12 * h, 0.895), (0.3 * h, 0.955), (0.7 * h, 0.955), (0.88 * h, 0.895)):
        p.torus((0.0, y, 0.0), r * w / 2.0, 0.02 * w, sections=20, tube_sections=4)


def _suitcase(p: Parts, w: float, h: float, d: float) -> None:
    wheel = min(0.06, 0.08 * h)
    handle = 0.22 * h
    top = h - handle
    p.box((-w / 2.0, wheel, -d / 2.0 + 0.05 * d), (w / 2.0, top, d / 2.0 - 0.05 * d))
    p.box(
        (-w / 2.0 - 0.0, 0.5 * (wheel + top) - 0.01 * h, -d / 2.0),
        (w / 2.0, 0.5 * (wheel + top) + 0.01 * h, d / 2.0),
    )
    for sx in (-1.0, 1.0):
        p.cylinder(
            (sx * 0.3 * w, top + 0.45 * handle, -0.3 * d),
            0.9 * handle,
            0.015 * w + 0.004,
            sections=6,
        )
        for sz in (-1.0, 1.0):
            p.cylinder(
                (sx * 0.4 * w, wheel / 2.0, sz * 0.35 * d),
                0.3 * wheel,
                wheel / 2.0,
                wheel / 2.0,
                axis="x",
                sections=8,
            )
    p.box((-0.34 * w, h - 0.1 * handle, -0.36 * d), (0.34 * w, h, -0.24 * d))


def _backpack(p: Parts, w: float, h: float, d: float) -> None:
    p.box((-0.45 * w, 0.0, -d / 2.0 + 0.15 * d), (0.45 * w, 0.88 * h, 0.2 * d))
    p.ellipsoid((0.0, 0.86 * h, -0.1 * d), (0.45 * w, 0.1 * h, 0.3 * d))
    p.box((-0.35 * w, 0.05 * h, 0.2 * d), (0.35 * w, 0.45 * h, d / 2.0))  # front pocket
    for sx in (-1.0, 1.0):
        p.box(
            (sx * 0.25 * w - 0.06 * w, 0.15 * h, -d / 2.0),
            (sx * 0.25 * w + 0.06 * w, 0.8 * h, -d / 2.0 + 0.16 * d),
        )
    p.torus((0.0, 0.95 * h, -0.1 * d), 0.06 * w, 0.015 * w, axis="z", sections=8, tube_sections=4)
    p.box((-w / 2.0, 0.2 * h, -0.1 * d), (-0.44 * w, 0.5 * h, 0.15 * d))
    p.box((0.44 * w, 0.2 * h, -0.1 * d), (w / 2.0, 0.5 * h, 0.15 * d))


def _safe(p: Parts, w: float, h: float, d: float) -> None:
    foot = min(0.03, 0.05 * h)
    front = d / 2.0 - 0.06 * d
    p.box((-w / 2.0, foot, -d / 2.0), (w / 2.0, h, front - 0.03 * d))
    for sx in (-1.0, 1.0):
        for sz in (-1.0, 1.0):
            p.box(
                (sx * 0.42 * w - 0.04 * w, 0.0, sz * 0.4 * d - 0.04 * d),
                (sx * 0.42 * w + 0.04 * w, foot, sz * 0.4 * d + 0.04 * d),
            )
    p.box((-0.44 * w, foot + 0.05 * h, front - 0.03 * d), (0.44 * w, h - 0.05 * h, front))
    p.cylinder(
        (-0.1 * w, 0.6 * h, front + 0.02 * d), 0.04 * d, 0.09 * min(w, h), axis="z", sections=16
    )
    p.cylinder((0.22 * w, 0.45 * h, front + 0.03 * d), 0.06 * d, 0.02 * w, axis="z", sections=8)
    p.box((0.15 * w, 0.44 * h, front + 0.05 * d), (0.32 * w, 0.46 * h + 0.015 * h, d / 2.0))


def _chest(p: Parts, w: float, h: float, d: float) -> None:
    body = 0.62 * h
    p.box((-w / 2.0, 0.0, -d / 2.0), (w / 2.0, body, d / 2.0))
    # A barrel lid: a half cylinder along x (its lower half hides in the body).
    lid_r = h - body
    p.cylinder((0.0, body, 0.0), w * 0.995, d / 2.0, lid_r, axis="x", sections=16)
    for fx in (-0.32, 0.32):
        p.box(
            (fx * w - 0.03 * w, 0.0, -d / 2.0 - 0.0),
            (fx * w + 0.03 * w, body + 0.01, d / 2.0 + 0.0),
        )
    p.box((-0.05 * w, body - 0.12 * h, d / 2.0), (0.05 * w, body + 0.02 * h, d / 2.0 + 0.0 + 0.01))


# ----------------------------------------------------------------------- appliances


def _microwave(p: Parts, w: float, h: float, d: float) -> None:
    front = d / 2.0 - 0.03 * d
    p.box((-w / 2.0, 0.02 * h, -d / 2.0), (w / 2.0, h, front))
    for sx in (-1.0, 1.0):
        p.box(
            (sx * 0.4 * w - 0.03 * w, 0.0, -0.4 * d), (sx * 0.4 * w + 0.03 * w, 0.03 * h, 0.4 * d)
        )
    p.box((-w / 2.0 + 0.03 * w, 0.08 * h, front), (0.22 * w, 0.92 * h, d / 2.0 - 0.01 * d))
    with p.accent("screen"):
        p.box((-0.4 * w, 0.2 * h, d / 2.0 - 0.012 * d), (0.12 * w, 0.8 * h, d / 2.0))  # window
    with p.accent("black"):
        p.box((0.26 * w, 0.72 * h, front), (0.46 * w, 0.88 * h, d / 2.0))  # display
    for k in range(3):
        y = 0.55 * h - k * 0.15 * h
        p.cylinder((0.36 * w, y, front + 0.01 * d), 0.02 * d, 0.04 * w, axis="z", sections=8)


def _washing_machine(p: Parts, w: float, h: float, d: float) -> None:
    front = d / 2.0 - 0.05 * d
    p.box((-w / 2.0, 0.02 * h, -d / 2.0), (w / 2.0, h - 0.01, front))
    p.box((-w / 2.0 + 0.02, 0.0, -d / 2.0 + 0.02), (w / 2.0 - 0.02, 0.03 * h, front - 0.02))
    p.box((-w / 2.0, h - 0.14 * h, front), (w / 2.0, h, front + 0.02 * d))  # control panel
    r = 0.34 * min(w, h)
    cy = 0.45 * h
    with p.accent("metal"):
        p.torus((0.0, cy, front + 0.025 * d), r, 0.06 * r, axis="z", sections=20)
    with p.accent("glass"):
        p.cylinder((0.0, cy, front + 0.02 * d), 0.04 * d, 0.88 * r, axis="z", sections=16)
    p.cylinder((0.3 * w, h - 0.07 * h, front + 0.03 * d), 0.04 * d, 0.05 * w, axis="z", sections=12)
    p.box((-0.42 * w, h - 0.11 * h, front + 0.01 * d), (-0.2 * w, h - 0.04 * h, d / 2.0))


def _dishwasher(p: Parts, w: float, h: float, d: float) -> None:
    front = d / 2.0 - 0.04 * d
    p.box((-w / 2.0, 0.0, -d / 2.0), (w / 2.0, h, front - 0.02 * d))
    p.box((-w / 2.0 + 0.005, 0.08 * h, front - 0.02 * d), (w / 2.0 - 0.005, h - 0.12 * h, front))
    p.box((-w / 2.0, h - 0.11 * h, front - 0.02 * d), (w / 2.0, h, front))  # control strip
    p.cylinder(
        (0.0, h - 0.16 * h, front + 0.02 * d), 0.7 * w, 0.012 * h, 0.02 * d, axis="x", sections=8
    )
    for k in range(4):
        x = -0.35 * w + k * 0.08 * w
        p.box((x, h - 0.08 * h, front), (x + 0.04 * w, h - 0.04 * h, d / 2.0))


def _toaster(p: Parts, w: float, h: float, d: float) -> None:
    foot = 0.05 * h
    p.box(
        (-w / 2.0 + 0.04 * w, foot, -d / 2.0), (w / 2.0 - 0.04 * w, h - 0.05 * h, d / 2.0 - 0.1 * d)
    )
    for sx in (-1.0, 1.0):
        p.cylinder(
            (sx * (w / 2.0 - 0.06 * w), foot + 0.45 * (h - foot), -0.05 * d),
            0.9 * (h - foot) - 0.05 * h,
            0.05 * w,
            0.45 * d,
            sections=12,
        )
    for sz in (-0.2, 0.15):
        p.box((-0.3 * w, h - 0.05 * h, sz * d - 0.05 * d), (0.3 * w, h, sz * d + 0.05 * d))
    p.box((-0.08 * w, 0.55 * h, d / 2.0 - 0.1 * d), (0.08 * w, 0.65 * h, d / 2.0))  # lever
    for sx in (-1.0, 1.0):
        p.box((sx * 0.35 * w - 0.04 * w, 0.0, -0.3 * d), (sx * 0.35 * w + 0.04 * w, foot, 0.3 * d))


def _coffee_machine(p: Parts, w: float, h: float, d: float) -> None:
    base = 0.12 * h
    p.box((-w / 2.0, 0.0, -d / 2.0), (w / 2.0, base, d / 2.0))
    p.box((-w / 2.0, base, -d / 2.0), (w / 2.0, h, -0.05 * d))  # tower
    p.box((-w / 2.0, 0.7 * h, -0.05 * d), (w / 2.0, h, 0.35 * d))  # head
    p.box((-0.35 * w, base, 0.0), (0.35 * w, base + 0.03 * h, 0.45 * d))  # drip tray
    p.cylinder((0.0, 0.64 * h, 0.15 * d), 0.1 * h, 0.12 * w, sections=12)  # group head
    with p.accent("white"):
        p.lathe(
            [
                (0.0, base + 0.03 * h),
                (0.8, base + 0.03 * h),
                (1.0, base + 0.2 * h),
                (0.9, base + 0.2 * h),
                (0.0, base + 0.06 * h),
            ],
            (0.0, 0.0, 0.15 * d),
            scale=(0.1 * w, 0.1 * w),
            caps=False,
            sections=12,
        )
    p.box((-0.38 * w, 0.8 * h, 0.35 * d), (0.38 * w, 0.92 * h, 0.37 * d + 0.01 * d))


def _kettle(p: Parts, w: float, h: float, d: float) -> None:
    base = 0.08 * h
    bw = 0.7 * w
    p.lathe([(0.0, 0.0), (0.95, 0.0), (0.95, base)], scale=(bw / 2.0, d / 2.0))
    p.lathe(
        [(0.0, base), (0.85, base), (0.9, 0.4 * h), (0.7, 0.85 * h), (0.55, 0.88 * h)],
        scale=(bw / 2.0, d / 2.0),
    )
    p.lathe([(0.57, 0.87 * h), (0.3, 0.92 * h), (0.0, 0.93 * h)], scale=(bw / 2.0, d / 2.0))
    with p.accent("black"):
        p.box((-w / 2.0, 0.25 * h, -0.06 * d), (-w / 2.0 + 0.06 * w, h, 0.06 * d))  # handle
    p.box((-w / 2.0, 0.92 * h, -0.06 * d), (-0.2 * w, h, 0.06 * d))
    p.rod((0.3 * bw, 0.65 * h, 0.0), (w / 2.0 - 0.03 * w, 0.8 * h, 0.0), 0.06 * w, r2=0.03 * w)


def _blender(p: Parts, w: float, h: float, d: float) -> None:
    base = 0.28 * h
    p.box((-w / 2.0, 0.0, -d / 2.0), (w / 2.0, base, d / 2.0))
    with p.accent("glass"):
        p.lathe([(0.6, base), (0.85, h - 0.06 * h)], scale=(w / 2.0, d / 2.0), sections=12)
    p.lathe([(0.9, h - 0.07 * h), (0.9, h)], scale=(w / 2.0, d / 2.0), sections=12)
    for k in range(3):
        p.cylinder(
            (-0.25 * w + k * 0.25 * w, 0.14 * h, d / 2.0), 0.02 * d, 0.06 * w, axis="z", sections=8
        )


def _range_hood(p: Parts, w: float, h: float, d: float) -> None:
    canopy = 0.3 * h
    outline = [
        (-w / 2.0, 0.0),
        (w / 2.0, 0.0),
        (w / 2.0, 0.1 * canopy),
        (0.2 * w, canopy),
        (-0.2 * w, canopy),
        (-w / 2.0, 0.1 * canopy),
    ]
    p.extrude(outline, -d / 2.0, d / 2.0)
    p.box((-0.18 * w, canopy, -d / 2.0), (0.18 * w, h, -d / 2.0 + 0.5 * d))  # chimney
    p.box((-0.45 * w, 0.0, -0.45 * d), (0.45 * w, -0.0 + 0.02 * h, 0.45 * d))


def _air_conditioner(p: Parts, w: float, h: float, d: float) -> None:
    p.box((-w / 2.0, 0.25 * h, -d / 2.0), (w / 2.0, h, d / 2.0 - 0.1 * d))
    p.cylinder((0.0, 0.3 * h, 0.0), w, 0.3 * h, 0.4 * d, axis="x", sections=12)
    p.box((-0.42 * w, 0.12 * h, 0.1 * d), (0.42 * w, 0.2 * h, d / 2.0))  # louvre
    p.box((0.3 * w, 0.65 * h, d / 2.0 - 0.1 * d), (0.4 * w, 0.75 * h, d / 2.0 - 0.08 * d))


def _fan(p: Parts, w: float, h: float, d: float) -> None:
    r = 0.48 * min(w, h)
    head_y = h - r
    p.cylinder((0.0, 0.015 * h, 0.0), 0.03 * h, 0.45 * w, 0.45 * d, sections=16)
    p.cylinder((0.0, head_y / 2.0, 0.0), head_y, 0.025 * min(w, d) + 0.005, sections=8)
    p.cylinder((0.0, head_y, -0.3 * d), 0.4 * d, 0.12 * r, axis="z", sections=12)  # motor
    with p.accent("metal"):
        p.torus((0.0, head_y, 0.1 * d), r * 0.96, 0.04 * r, axis="z", sections=24, tube_sections=4)
    p.cylinder((0.0, head_y, 0.05 * d), 0.1 * d, 0.15 * r, axis="z", sections=12)
    for k in range(3):
        angle = 120.0 * k
        a = math.radians(angle)
        cx, cy = 0.5 * r * math.cos(a), head_y + 0.5 * r * math.sin(a)
        p.box(
            (cx - 0.38 * r, cy - 0.14 * r, 0.0),
            (cx + 0.38 * r, cy + 0.14 * r, 0.04 * d),
            turn=("z", angle),
            pivot=(cx, cy, 0.0),
        )


def _radiator(p: Parts, w: float, h: float, d: float) -> None:
    foot = 0.1 * h
    fins = int(clamp(round(w / 0.06), 4, 40))
    pitch = w / fins
    for k in range(fins):
        x = -w / 2.0 + (k + 0.5) * pitch
        p.box((x - 0.38 * pitch, foot, -0.4 * d), (x + 0.38 * pitch, h - 0.03 * h, 0.4 * d))
    for y in (foot + 0.04 * h, h - 0.08 * h):
        with p.accent("metal"):
            p.cylinder((0.0, y, 0.0), w, 0.03 * h, 0.3 * d, axis="x", sections=8)
    for sx in (-1.0, 1.0):
        p.box((sx * 0.4 * w - 0.02 * w, 0.0, -d / 2.0), (sx * 0.4 * w + 0.02 * w, foot, d / 2.0))


def _space_heater(p: Parts, w: float, h: float, d: float) -> None:
    foot = 0.05 * h
    p.box((-w / 2.0, foot, -d / 2.0), (w / 2.0, 0.9 * h, d / 2.0 - 0.05 * d))
    for k in range(6):
        y = foot + (k + 1) * 0.1 * h
        p.box((-0.4 * w, y, d / 2.0 - 0.05 * d), (0.4 * w, y + 0.03 * h, d / 2.0))
    p.box((-0.2 * w, 0.9 * h, -0.1 * d), (0.2 * w, h, 0.1 * d))  # handle
    p.box((-0.45 * w, 0.0, -0.45 * d), (0.45 * w, foot, 0.45 * d))
    p.cylinder((0.3 * w, 0.82 * h, d / 2.0 - 0.03 * d), 0.06 * d, 0.05 * w, axis="z", sections=8)


def _vacuum_cleaner(p: Parts, w: float, h: float, d: float) -> None:
    head = 0.08 * h
    p.box((-w / 2.0, 0.0, 0.1 * d), (w / 2.0, head, d / 2.0))  # floor head
    p.cylinder((0.0, 0.3 * h, -0.1 * d), 0.35 * h, 0.3 * w, 0.3 * d, sections=12)  # body
    for sx in (-1.0, 1.0):
        p.cylinder(
            (sx * 0.42 * w, 0.08 * h, -0.1 * d), 0.16 * w, 0.08 * h, 0.08 * h, axis="x", sections=12
        )
    p.rod((0.0, 0.45 * h, -0.1 * d), (0.0, 0.92 * h, -0.3 * d), 0.04 * w + 0.005)
    p.box((-0.15 * w, 0.92 * h, -d / 2.0), (0.15 * w, h, -0.25 * d))
    p.rod((0.0, head, 0.25 * d), (0.0, 0.15 * h, -0.05 * d), 0.05 * w + 0.004)


def _water_cooler(p: Parts, w: float, h: float, d: float) -> None:
    cabinet = 0.68 * h
    p.box((-w / 2.0, 0.0, -d / 2.0), (w / 2.0, cabinet, d / 2.0))
    p.box(
        (-0.3 * w, 0.35 * cabinet, d / 2.0 - 0.0), (0.3 * w, 0.38 * cabinet, d / 2.0 + 0.0 + 0.001)
    )
    s = (0.45 * w, 0.45 * d)
    with p.accent("water"):
        p.lathe(
            [
                (0.3, cabinet),
                (0.3, cabinet + 0.04 * h),
                (1.0, cabinet + 0.1 * h),
                (1.0, h - 0.05 * h),
                (0.9, h),
                (0.0, h),
            ],
            (0.0, 0.0, 0.0),
            scale=s,
            sections=16,
        )
    for sx in (-0.2, 0.2):
        p.box(
            (sx * w - 0.04 * w, 0.75 * cabinet, d / 2.0 - 0.0),
            (sx * w + 0.04 * w, 0.85 * cabinet, d / 2.0 + 0.0 + 0.02),
        )


def _vending_machine(p: Parts, w: float, h: float, d: float) -> None:
    front = d / 2.0 - 0.04 * d
    p.box((-w / 2.0, 0.0, -d / 2.0), (w / 2.0, h, front))
    glass_x1 = 0.2 * w
    with p.accent("glass"):
        p.box((-0.46 * w, 0.3 * h, front), (glass_x1, 0.95 * h, front + 0.01 * d))
    rows = 5
    for r in range(rows):
        y = 0.32 * h + r * 0.125 * h
        p.box((-0.44 * w, y, front - 0.3 * d), (glass_x1 - 0.02 * w, y + 0.015 * h, front))
        for k in range(4):
            x = -0.42 * w + k * 0.15 * w
            with p.accent("red"):
                p.box(
                    (x, y + 0.015 * h, front - 0.25 * d),
                    (x + 0.1 * w, y + 0.09 * h, front - 0.05 * d),
                )
    p.box((0.26 * w, 0.55 * h, front), (0.44 * w, 0.75 * h, d / 2.0))  # keypad
    p.box((-0.4 * w, 0.08 * h, front), (0.1 * w, 0.2 * h, d / 2.0))  # pickup flap


def _sewing_machine(p: Parts, w: float, h: float, d: float) -> None:
    base = 0.2 * h
    p.box((-w / 2.0, 0.0, -d / 2.0), (w / 2.0, base, d / 2.0))
    p.box((0.22 * w, base, -0.3 * d), (0.45 * w, 0.85 * h, 0.3 * d))  # pillar
    p.box((-0.4 * w, 0.65 * h, -0.28 * d), (0.45 * w, h, 0.28 * d))  # arm
    p.box((-0.45 * w, 0.35 * h, -0.2 * d), (-0.3 * w, h - 0.02 * h, 0.2 * d))  # head
    p.rod((-0.38 * w, base, 0.0), (-0.38 * w, 0.4 * h, 0.0), 0.01 * w + 0.002)  # needle bar
    p.cylinder(
        (w / 2.0 - 0.02 * w, 0.8 * h, 0.0), 0.04 * w, 0.15 * h, 0.15 * h, axis="x", sections=12
    )


def _ironing_board(p: Parts, w: float, h: float, d: float) -> None:
    long_x = w >= d
    length, across = (w, d) if long_x else (d, w)
    top = 0.04 * h
    nose = [
        (-length / 2.0, -across / 2.0),
        (0.25 * length, -across / 2.0),
        (0.45 * length, -0.25 * across),
        (length / 2.0, 0.0),
        (0.45 * length, 0.25 * across),
        (0.25 * length, across / 2.0),
        (-length / 2.0, across / 2.0),
    ]
    if not long_x:
        nose = [(b, a) for a, b in nose]
    p.extrude(nose, h - top, h, axis="y")
    leg = 0.02 * across + 0.004
    for s in (-1.0, 1.0):
        a = (-0.3 * length * s, 0.0, 0.0)
        b = (0.3 * length * s, h - top, 0.0)
        if not long_x:
            a, b = (0.0, a[1], a[0]), (0.0, b[1], b[0])
        for c in (-0.3 * across, 0.3 * across):
            aa = (a[0], a[1], c) if long_x else (c, a[1], a[2])
            bb = (b[0], b[1], c) if long_x else (c, b[1], b[2])
            p.rod(aa, bb, leg, sections=6)


def _shower(p: Parts, w: float, h: float, d: float) -> None:
    tray = 0.06 * h
    p.box((-w / 2.0, 0.0, -d / 2.0), (w / 2.0, tray, d / 2.0))
    glass = 0.01 * min(w, d) + 0.004
    with p.accent("glass"):
        p.box((-w / 2.0, tray, d / 2.0 - glass), (0.1 * w, 0.95 * h, d / 2.0))
    with p.accent("glass"):
        p.box((w / 2.0 - glass, tray, -d / 2.0), (w / 2.0, 0.95 * h, d / 2.0))
    p.box((-w / 2.0, 0.95 * h - 0.02 * h, d / 2.0 - glass), (w / 2.0, 0.95 * h, d / 2.0))
    with p.accent("metal"):
        p.rod((-0.2 * w, 0.4 * h, -d / 2.0 + 0.03), (-0.2 * w, 0.9 * h, -d / 2.0 + 0.03), 0.012 * h)
    with p.accent("metal"):
        p.rod((-0.2 * w, 0.9 * h, -d / 2.0 + 0.03), (-0.2 * w, h - 0.02 * h, -0.1 * d), 0.008 * h)
    with p.accent("metal"):
        p.cylinder((-0.2 * w, h - 0.015 * h, -0.1 * d), 0.03 * h, 0.1 * min(w, d), sections=16)
    p.box((-0.25 * w, 0.42 * h, -d / 2.0), (-0.15 * w, 0.48 * h, -d / 2.0 + 0.05))


def _towel_rack(p: Parts, w: float, h: float, d: float) -> None:
    post = 0.04 * min(w, d) + 0.01
    for sx in (-1.0, 1.0):
        x = sx * (w / 2.0 - post)
        p.cylinder((x, h / 2.0, 0.0), h, post, sections=8)
        p.box((x - 2 * post, 0.0, -d / 2.0), (x + 2 * post, 0.02 * h, d / 2.0))
    for y in (0.45 * h, 0.7 * h, 0.95 * h):
        p.cylinder((0.0, y, 0.0), w - 2.0 * post, 0.6 * post, sections=8, axis="x")
    with p.accent("white"):
        p.box((-0.35 * w, 0.4 * h, -0.05 * d), (0.35 * w, 0.95 * h, 0.05 * d))  # towel


BUILDERS: dict[str, Builder] = {
    "plate": _plate,
    "bowl": _bowl,
    "cup": _cup,
    "wine glass": _wine_glass,
    "drinking glass": _drinking_glass,
    "bottle": _bottle,
    "jar": _jar,
    "teapot": _teapot,
    "cooking pot": _cooking_pot,
    "frying pan": _frying_pan,
    "tray": _tray,
    "cutting board": _cutting_board,
    "fork": _fork,
    "knife": _knife,
    "spoon": _spoon,
    "chopsticks": _chopsticks,
    "cake": _cake,
    "fruit": _fruit,
    "food plate": _food_plate,
    "box": _box,
    "crate": _crate,
    "storage bin": _storage_bin,
    "basket": _basket,
    "trash can": _trash_can,
    "bucket": _bucket,
    "barrel": _barrel,
    "suitcase": _suitcase,
    "backpack": _backpack,
    "safe": _safe,
    "chest": _chest,
    "microwave": _microwave,
    "washing machine": _washing_machine,
    "dishwasher": _dishwasher,
    "toaster": _toaster,
    "coffee machine": _coffee_machine,
    "kettle": _kettle,
    "blender": _blender,
    "range hood": _range_hood,
    "air conditioner": _air_conditioner,
    "fan": _fan,
    "radiator": _radiator,
    "space heater": _space_heater,
    "vacuum cleaner": _vacuum_cleaner,
    "water cooler": _water_cooler,
    "vending machine": _vending_machine,
    "sewing machine": _sewing_machine,
    "ironing board": _ironing_board,
    "shower": _shower,
    "towel rack": _towel_rack,
}
