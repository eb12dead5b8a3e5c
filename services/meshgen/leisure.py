"""Leisure: game tables, musical instruments, gym equipment, toys, bicycles, sculptures
and pets' things.

Each recipe draws into a :class:`Parts` within x ∈ [-w/2, w/2], y ∈ [0, h],
z ∈ [-d/2, d/2], front towards +Z. Game tables run their long side along whichever of
x and z is longer.
"""

from __future__ import annotations

import math

from services.meshgen.primitives import Builder, Parts, Vec3, four_legs


class _Long:
    """Maps (along, y, across) to (x, y, z) so a recipe can ignore which way it runs."""

    def __init__(self, w: float, d: float) -> None:
        self.x = w >= d
        self.length, self.across = (w, d) if self.x else (d, w)

    def pt(self, a: float, y: float, c: float) -> Vec3:
        return (a, y, c) if self.x else (c, y, a)

    def box(self, p: Parts, lo: Vec3, hi: Vec3) -> None:
        p.box(self.pt(*lo), self.pt(*hi))


# ------------------------------------------------------------------------ game tables


def _pool_table(p: Parts, w: float, h: float, d: float) -> None:
    g = _Long(w, d)
    L, A = g.length, g.across
    rail = min(0.12, 0.08 * A)
    bed = h - 0.05 * h
    g.box(
        p, (-L / 2.0 + rail, 0.6 * h, -A / 2.0 + rail), (L / 2.0 - rail, bed, A / 2.0 - rail)
    )  # felt bed
    with p.accent("wood"):
        g.box(
            p,
            (-L / 2.0 + 0.05 * L, 0.45 * h, -A / 2.0 + 0.05 * A),
            (L / 2.0 - 0.05 * L, 0.6 * h, A / 2.0 - 0.05 * A),
        )  # apron
    pocket = 0.9 * rail
    for sc in (-1.0, 1.0):
        c0, c1 = sorted((sc * A / 2.0, sc * (A / 2.0 - rail)))
        for a0, a1 in ((-L / 2.0 + pocket, -pocket / 2.0), (pocket / 2.0, L / 2.0 - pocket)):
            with p.accent("wood"):
                g.box(p, (a0, 0.6 * h, c0), (a1, h, c1))
    for sa in (-1.0, 1.0):
        a0, a1 = sorted((sa * L / 2.0, sa * (L / 2.0 - rail)))
        with p.accent("wood"):
            g.box(p, (a0, 0.6 * h, -A / 2.0 + pocket), (a1, h, A / 2.0 - pocket))
    for fa in (-0.5, 0.0, 0.5):
        for sc in (-1.0, 1.0):
            a = fa * (L - pocket)
            c = sc * (A / 2.0 - pocket / 2.0)
            x, _, z = g.pt(a, 0.0, c)
            with p.accent("black"):
                p.cylinder(
                    (x, 0.6 * h + 0.2 * (h - 0.6 * h), z),
                    0.5 * (h - 0.6 * h),
                    pocket / 2.0,
                    sections=8,
                )
    leg = 0.1 * A
    for fa in (-0.4, 0.4):
        for sc in (-1.0, 1.0):
            x, _, z = g.pt(fa * L, 0.0, sc * (A / 2.0 - 0.15 * A))
            with p.accent("wood"):
                p.cylinder((x, 0.225 * h, z), 0.45 * h, leg / 2.0, taper=0.7, sections=8)
    for fa in (-0.25, 0.25):
        x, _, z = g.pt(fa * L, 0.0, 0.0)
        with p.accent("white"):
            p.ellipsoid((x, bed + 0.025 * h, z), (0.025 * h, 0.025 * h, 0.025 * h))


def _ping_pong_table(p: Parts, w: float, h: float, d: float) -> None:
    g = _Long(w, d)
    L, A = g.length, g.across
    top = 0.03 * h
    g.box(p, (-L / 2.0, 0.88 * h - top, -A / 2.0), (-0.003 * L, 0.88 * h, A / 2.0))
    g.box(p, (0.003 * L, 0.88 * h - top, -A / 2.0), (L / 2.0, 0.88 * h, A / 2.0))
    with p.accent("white"):
        g.box(p, (-0.002 * L, 0.88 * h, -A / 2.0), (0.002 * L, h, A / 2.0))  # net
    for sc in (-1.0, 1.0):
        x, _, z = g.pt(0.0, 0.0, sc * A / 2.0)
        with p.accent("metal"):
            p.cylinder((x, 0.88 * h + 0.06 * h, z), 0.12 * h, 0.01 * A + 0.004, sections=6)
    for fa in (-0.35, 0.35):
        for sc in (-1.0, 1.0):
            a, c = fa * L, sc * (A / 2.0 - 0.1 * A)
            with p.accent("metal"):
                p.rod(g.pt(a, 0.0, c), g.pt(a, 0.88 * h - top, c), 0.02 * A + 0.005, sections=6)
            x, _, z = g.pt(a, 0.0, c)
            p.ellipsoid((x, 0.03 * h, z), (0.03 * A, 0.03 * h, 0.03 * A))
        g.box(
            p,
            (fa * L - 0.01 * L, 0.3 * h, -A / 2.0 + 0.1 * A),
            (fa * L + 0.01 * L, 0.33 * h, A / 2.0 - 0.1 * A),
        )


def _foosball_table(p: Parts, w: float, h: float, d: float) -> None:
    g = _Long(w, d)
    L, A = g.length, g.across
    box_bottom = 0.55 * h
    box_top = 0.92 * h
    g.box(p, (-L * 0.4, box_bottom, -A * 0.4), (L * 0.4, box_bottom + 0.03 * h, A * 0.4))
    for sc in (-1.0, 1.0):
        c0, c1 = sorted((sc * 0.4 * A, sc * 0.37 * A))
        g.box(p, (-0.4 * L, box_bottom, c0), (0.4 * L, box_top, c1))
    for sa in (-1.0, 1.0):
        a0, a1 = sorted((sa * 0.4 * L, sa * 0.37 * L))
        g.box(p, (a0, box_bottom, -0.4 * A), (a1, box_top, 0.4 * A))
    rods = 8
    for k in range(rods):
        a = -0.33 * L + k * 0.66 * L / (rods - 1)
        y = box_top - 0.06 * h
        with p.accent("metal"):
            p.rod(g.pt(a, y, -A / 2.0), g.pt(a, y, A / 2.0), 0.008 + 0.004 * A, sections=6)
        for j in range(2 if k % 3 else 3):
            c = -0.2 * A + j * 0.2 * A
            x, _, z = g.pt(a, 0.0, c)
            with p.accent("red"):
                p.box(
                    (x - 0.012, box_bottom + 0.06 * h, z - 0.02),
                    (x + 0.012, y + 0.03 * h, z + 0.02),
                )
    for fa in (-0.33, 0.33):
        for sc in (-1.0, 1.0):
            x, _, z = g.pt(fa * L, 0.0, sc * 0.33 * A)
            p.box((x - 0.03 * A, 0.0, z - 0.03 * A), (x + 0.03 * A, box_bottom, z + 0.03 * A))


def _air_hockey_table(p: Parts, w: float, h: float, d: float) -> None:
    g = _Long(w, d)
    L, A = g.length, g.across
    deck = 0.85 * h
    g.box(p, (-0.46 * L, 0.1 * h, -0.44 * A), (0.46 * L, deck, 0.44 * A))  # cabinet
    with p.accent("white"):
        g.box(p, (-L / 2.0, deck, -A / 2.0), (L / 2.0, deck + 0.04 * h, A / 2.0))
    rail = 0.04 * A
    for sc in (-1.0, 1.0):
        c0, c1 = sorted((sc * A / 2.0, sc * (A / 2.0 - rail)))
        g.box(p, (-L / 2.0, deck + 0.04 * h, c0), (L / 2.0, h, c1))
    for sa in (-1.0, 1.0):
        a0, a1 = sorted((sa * L / 2.0, sa * (L / 2.0 - rail)))
        g.box(p, (a0, deck + 0.04 * h, -A / 2.0 + rail), (a1, h, -0.15 * A))
        g.box(p, (a0, deck + 0.04 * h, 0.15 * A), (a1, h, A / 2.0 - rail))
        x, _, z = g.pt(sa * 0.3 * L, 0.0, 0.0)
        with p.accent("red"):
            p.cylinder((x, deck + 0.06 * h, z), 0.04 * h, 0.05 * A, sections=12)  # mallet
    g.box(p, (-0.46 * L, 0.0, -0.4 * A), (0.46 * L, 0.1 * h, 0.4 * A))


def _card_table(p: Parts, w: float, h: float, d: float) -> None:
    top = 0.05 * h
    angles = [math.radians(22.5 + 45.0 * k) for k in range(8)]
    outline = [(0.5 * w * math.cos(a), 0.5 * d * math.sin(a)) for a in angles]
    p.extrude(outline, h - top, h - 0.2 * top, axis="y")
    with p.accent("felt"):
        felt = [(0.8 * x, 0.8 * z) for x, z in outline]
    with p.accent("felt"):
        p.extrude(felt, h - 0.2 * top, h, axis="y")
    for k in range(8):
        a = math.radians(45.0 * k)
        p.cylinder(
            (0.42 * w * math.cos(a), h - 0.1 * top, 0.42 * d * math.sin(a)),
            0.2 * top,
            0.03 * w,
            sections=8,
        )
    four_legs(p, 0.3 * w, 0.3 * d, 0.05 * min(w, d), 0.0, h - top, round_legs=True, taper=0.8)
    for k in range(3):
        with p.accent("red"):
            p.box(
                (-0.1 * w + k * 0.06 * w, h, -0.05 * d),
                (-0.06 * w + k * 0.06 * w, h + 0.0001 + 0.002 * h, 0.05 * d),
                turn=("y", 20.0 * k),
            )


def _chess_board(p: Parts, w: float, h: float, d: float) -> None:
    board = min(0.04 * h + 0.01, 0.3 * h)
    p.box((-w / 2.0, 0.0, -d / 2.0), (w / 2.0, board, d / 2.0))
    sq_w, sq_d = 0.9 * w / 8.0, 0.9 * d / 8.0
    for r in range(8):
        for c in range(8):
            if (r + c) % 2 == 0:
                x0 = -0.45 * w + c * sq_w
                z0 = -0.45 * d + r * sq_d
                with p.accent("black"):
                    p.box((x0, board, z0), (x0 + sq_w, board + 0.02 * board, z0 + sq_d))
    piece_r = 0.35 * min(sq_w, sq_d)
    for k, (c, r) in enumerate(((0, 0), (3, 0), (4, 1), (6, 7), (2, 6), (4, 7))):
        x = -0.45 * w + (c + 0.5) * sq_w
        z = -0.45 * d + (r + 0.5) * sq_d
        top = h if k in (1, 5) else board + 0.7 * (h - board)
        p.lathe(
            [
                (0.0, board),
                (1.0, board),
                (0.9, board + 0.1 * (top - board)),
                (0.4, board + 0.3 * (top - board)),
                (0.35, board + 0.75 * (top - board)),
                (0.7, top - 0.12 * (top - board)),
                (0.0, top),
            ],
            (x, 0.0, z),
            scale=(piece_r, piece_r),
            sections=8,
        )


def _arcade_machine(p: Parts, w: float, h: float, d: float) -> None:
    side = [
        (-d / 2.0, 0.0),
        (d / 2.0, 0.0),
        (d / 2.0, 0.45 * h),
        (0.2 * d, 0.5 * h),
        (0.25 * d, 0.85 * h),
        (0.1 * d, h),
        (-d / 2.0, h),
    ]
    t = 0.04 * w
    for sx in (-1.0, 1.0):
        x0 = sx * w / 2.0
        lo, hi = sorted((x0, x0 - sx * t))
        p.extrude(side, lo, hi, axis="x")  # (z, y) outline
    p.box((-w / 2.0 + t, 0.0, -d / 2.0), (w / 2.0 - t, 0.98 * h, 0.1 * d))  # body
    p.box((-w / 2.0 + t, 0.45 * h, 0.1 * d), (w / 2.0 - t, 0.5 * h, 0.45 * d))  # control deck
    with p.accent("screen"):
        p.box(
            (-0.38 * w, 0.55 * h, 0.12 * d),
            (0.38 * w, 0.83 * h, 0.18 * d),
            turn=("x", -10.0),
            pivot=(0.0, 0.55 * h, 0.15 * d),
        )  # screen
    with p.accent("light"):
        p.box((-w / 2.0 + t, 0.86 * h, 0.08 * d), (w / 2.0 - t, 0.98 * h, 0.2 * d))  # marquee
    p.rod((-0.2 * w, 0.5 * h, 0.3 * d), (-0.2 * w, 0.56 * h, 0.3 * d), 0.012, sections=6)
    with p.accent("red"):
        p.ellipsoid((-0.2 * w, 0.57 * h, 0.3 * d), (0.025, 0.02, 0.025))
    for k in range(3):
        with p.accent("yellow"):
            p.cylinder((0.05 * w + k * 0.1 * w, 0.505 * h, 0.3 * d), 0.01 * h, 0.03 * w, sections=8)


def _pinball_machine(p: Parts, w: float, h: float, d: float) -> None:
    leg = 0.5 * h
    cab_front = 0.62 * h
    p.box(
        (-w / 2.0, leg, -0.3 * d),
        (w / 2.0, cab_front - 0.05 * h, d / 2.0),
        turn=("x", 4.0),
        pivot=(0.0, leg, d / 2.0),
    )
    with p.accent("glass"):
        p.box(
            (-0.47 * w, cab_front - 0.05 * h, -0.28 * d),
            (0.47 * w, cab_front - 0.04 * h, 0.47 * d),
            turn=("x", 4.0),
            pivot=(0.0, leg, d / 2.0),
        )  # glass
    p.box((-w / 2.0, leg, -d / 2.0), (w / 2.0, h, -0.3 * d))  # backbox
    with p.accent("light"):
        p.box((-0.45 * w, 0.75 * h, -0.3 * d), (0.45 * w, 0.95 * h, -0.29 * d))
    for sx in (-1.0, 1.0):
        for z in (-0.4 * d, 0.42 * d):
            p.box(
                (sx * 0.42 * w - 0.03 * w, 0.0, z - 0.03 * d),
                (sx * 0.42 * w + 0.03 * w, leg, z + 0.03 * d),
            )
    for sx in (-1.0, 1.0):
        p.box(
            (sx * w / 2.0 - (0.01 * w if sx > 0 else 0.0), 0.56 * h, 0.4 * d),
            (sx * w / 2.0 + (0.01 * w if sx < 0 else 0.0), 0.58 * h, 0.45 * d),
        )


def _dartboard(p: Parts, w: float, h: float, d: float) -> None:
    r = 0.5 * min(w, h)
    cy = h / 2.0
    with p.accent("wood"):
        p.box((-w / 2.0, 0.0, -d / 2.0), (w / 2.0, h, -0.2 * d))  # backing
    p.cylinder((0.0, cy, 0.1 * d), 0.6 * d, 0.9 * r, axis="z", sections=16)
    for k, ring in enumerate((0.75, 0.45, 0.15)):
        with p.accent("red"):
            p.torus(
                (0.0, cy, d / 2.0 - 0.12 * d),
                ring * r,
                0.03 * r,
                axis="z",
                sections=16 if k < 2 else 8,
                tube_sections=4,
            )
    for k in range(10):
        a = math.radians(9.0 + 18.0 * k)
        with p.accent("metal"):
            p.box(
                (-0.88 * r, cy - 0.005 * r, 0.38 * d),
                (0.88 * r, cy + 0.005 * r, 0.4 * d),
                turn=("z", math.degrees(a)),
                pivot=(0.0, cy, 0.4 * d),
            )
    p.rod(
        (0.1 * r, cy + 0.1 * r, 0.38 * d),
        (0.15 * r, cy + 0.15 * r, d / 2.0),
        0.01 * r + 0.001,
        sections=6,
    )


# --------------------------------------------------------------------------- instruments


def _piano(p: Parts, w: float, h: float, d: float) -> None:
    keys_y = 0.55 * h
    p.box((-w / 2.0, 0.0, -d / 2.0), (w / 2.0, h, -d / 2.0 + 0.55 * d))
    p.box((-w / 2.0, keys_y - 0.05 * h, -d / 2.0 + 0.55 * d), (w / 2.0, keys_y, d / 2.0 - 0.05 * d))
    with p.accent("white"):
        p.box(
            (-0.47 * w, keys_y, 0.1 * d), (0.47 * w, keys_y + 0.015 * h, d / 2.0 - 0.06 * d)
        )  # white keys
    for k in range(36):
        if k % 7 in (2, 6):
            continue
        x = -0.47 * w + (k + 0.7) * 0.94 * w / 36.0
        with p.accent("black"):
            p.box((x, keys_y + 0.015 * h, 0.1 * d), (x + 0.012 * w, keys_y + 0.03 * h, 0.3 * d))
    for sx in (-1.0, 1.0):
        x0 = sx * w / 2.0
        lo, hi = sorted((x0, x0 - sx * 0.04 * w))
        p.box((lo, 0.0, -d / 2.0 + 0.55 * d), (hi, keys_y + 0.05 * h, d / 2.0))
    p.box(
        (-0.2 * w, 0.75 * h, -d / 2.0 + 0.55 * d),
        (0.2 * w, 0.85 * h, -d / 2.0 + 0.6 * d),
        turn=("x", -15.0),
    )  # music rest
    for k in range(2):
        p.box(
            (-0.05 * w + k * 0.06 * w, 0.03 * h, -d / 2.0 + 0.55 * d),
            (-0.02 * w + k * 0.06 * w, 0.05 * h, -d / 2.0 + 0.65 * d),
        )


def _grand_piano(p: Parts, w: float, h: float, d: float) -> None:
    body_y0, body_y1 = 0.55 * h, 0.75 * h
    outline = [
        (-w / 2.0, d / 2.0 - 0.2 * d),
        (w / 2.0, d / 2.0 - 0.2 * d),
        (w / 2.0, -0.05 * d),
        (0.35 * w, -0.35 * d),
        (0.05 * w, -d / 2.0),
        (-0.3 * w, -d / 2.0),
        (-w / 2.0, -0.3 * d),
    ]
    p.extrude(outline, body_y0, body_y1, axis="y")
    with p.accent("white"):
        p.box(
            (-0.48 * w, body_y0 + 0.05 * h, d / 2.0 - 0.2 * d),
            (0.48 * w, body_y0 + 0.1 * h, d / 2.0 - 0.02 * d),
        )  # keybed
    for k in range(30):
        if k % 7 in (2, 6):
            continue
        x = -0.46 * w + (k + 0.7) * 0.92 * w / 30.0
        with p.accent("black"):
            p.box(
                (x, body_y0 + 0.1 * h, d / 2.0 - 0.18 * d),
                (x + 0.012 * w, body_y0 + 0.12 * h, d / 2.0 - 0.1 * d),
            )
    lid = [(a, b) for a, b in outline]
    p.extrude(
        [(x, z) for x, z in lid[2:]] + [(-w / 2.0, -0.1 * d)], body_y1, body_y1 + 0.01 * h, axis="y"
    )
    p.rod(
        (0.3 * w, body_y1, -0.1 * d), (0.32 * w, h, -0.15 * d), 0.01 * w + 0.004, sections=6
    )  # lid stick
    p.box((-0.3 * w, body_y1 + 0.01 * h, -0.3 * d), (0.4 * w, h, -0.28 * d), turn=("x", 0.0))
    for x, z in (
        (-0.42 * w, d / 2.0 - 0.25 * d),
        (0.42 * w, d / 2.0 - 0.25 * d),
        (-0.1 * w, -0.42 * d),
    ):
        p.cylinder((x, body_y0 / 2.0, z), body_y0, 0.03 * w + 0.01, sections=8, taper=0.8)
    p.box(
        (-0.08 * w, 0.05 * h, d / 2.0 - 0.22 * d), (0.08 * w, 0.1 * h, d / 2.0 - 0.12 * d)
    )  # pedals


def _electronic_keyboard(p: Parts, w: float, h: float, d: float) -> None:
    deck = 0.82 * h
    p.box((-w / 2.0, deck, -d / 2.0), (w / 2.0, deck + 0.08 * h, d / 2.0))
    keys_top = deck + 0.08 * h + 0.7 * (0.92 * h - deck)
    with p.accent("white"):
        p.box((-0.47 * w, deck + 0.08 * h, -0.1 * d), (0.47 * w, keys_top, d / 2.0 - 0.05 * d))
    for k in range(30):
        if k % 7 in (2, 6):
            continue
        x = -0.46 * w + (k + 0.7) * 0.92 * w / 30.0
        with p.accent("black"):
            p.box((x, keys_top, -0.1 * d), (x + 0.012 * w, h, 0.15 * d))
    for sz in (-1.0, 1.0):
        with p.accent("metal"):
            p.rod(
                (-0.35 * w, 0.0, sz * 0.35 * d),
                (0.35 * w, deck, -sz * 0.35 * d),
                0.015 * w + 0.006,
                sections=6,
            )
        with p.accent("metal"):
            p.rod(
                (0.35 * w, 0.0, sz * 0.35 * d),
                (-0.35 * w, deck, -sz * 0.35 * d),
                0.015 * w + 0.006,
                sections=6,
            )
    p.box((-0.45 * w, deck + 0.08 * h, -d / 2.0), (-0.1 * w, h, -0.15 * d))  # panel


def _guitar(p: Parts, w: float, h: float, d: float) -> None:
    # Standing upright on its base, its face to the front.
    body_h = 0.5 * h
    bw = w / 2.0
    outline = []
    for k in range(28):
        t = 2.0 * math.pi * k / 28
        y = body_h / 2.0 - body_h / 2.0 * math.cos(t)
        rel = y / body_h
        waist = 1.0 - 0.25 * math.exp(-((rel - 0.58) ** 2) / 0.008)
        # The upper bout is narrower than the lower one.
        lobe = 1.0 - 0.2 * min(1.0, max(0.0, (rel - 0.4) / 0.3))
        outline.append((bw * math.sin(t) * waist * lobe, y))
    p.extrude(outline, -d / 2.0, d / 2.0 - 0.1 * d)
    p.cylinder(
        (0.0, 0.62 * body_h, d / 2.0 - 0.1 * d), 0.12 * d, 0.22 * bw, axis="z", sections=16
    )  # sound hole rim
    p.box((-0.08 * bw, body_h * 0.9, -0.1 * d), (0.08 * bw, 0.88 * h, 0.2 * d))  # neck
    p.box((-0.14 * bw, 0.88 * h, -0.15 * d), (0.14 * bw, h, 0.15 * d))  # head
    p.box(
        (-0.3 * bw, 0.2 * body_h, d / 2.0 - 0.1 * d), (0.3 * bw, 0.26 * body_h, d / 2.0)
    )  # bridge


def _violin(p: Parts, w: float, h: float, d: float) -> None:
    cello = h > 0.9
    body_h = 0.62 * h if cello else 0.6 * h
    y0 = 0.06 * h if cello else 0.0
    bw = w / 2.0
    outline = []
    for k in range(16):
        t = 2.0 * math.pi * k / 16
        y = y0 + body_h / 2.0 - body_h / 2.0 * math.cos(t)
        rel = (y - y0) / body_h
        waist = 1.0 - 0.3 * math.exp(-((rel - 0.5) ** 2) / 0.01)
        outline.append((bw * math.sin(t) * waist, y))
    p.extrude(outline, -d / 2.0, d / 2.0 - 0.15 * d)
    for sx in (-1.0, 1.0):
        p.box(
            (sx * 0.3 * bw - 0.02 * bw, y0 + 0.4 * body_h, d / 2.0 - 0.15 * d),
            (sx * 0.3 * bw + 0.02 * bw, y0 + 0.6 * body_h, d / 2.0 - 0.1 * d),
        )
    p.box((-0.06 * bw, y0 + 0.6 * body_h, -0.1 * d), (0.06 * bw, 0.92 * h, d / 2.0))  # neck
    p.ellipsoid((0.0, 0.95 * h, 0.0), (0.1 * bw, 0.05 * h, 0.2 * d))  # scroll
    if cello:
        p.rod((0.0, 0.0, 0.0), (0.0, y0 + 0.02 * h, 0.0), 0.01 * w + 0.003, sections=6)


def _drum_shell(p: Parts, centre: Vec3, radius: float, depth: float, axis: str = "y") -> None:
    p.cylinder(centre, depth, radius, axis=axis, sections=16)
    for s in (-1.0, 1.0):
        offset = [0.0, 0.0, 0.0]
        offset[{"x": 0, "y": 1, "z": 2}[axis]] = s * depth / 2.0
        c = (centre[0] + offset[0], centre[1] + offset[1], centre[2] + offset[2])
        with p.accent("metal"):
            p.torus(
                c, radius * 1.02, 0.04 * radius + 0.002, axis=axis, sections=16, tube_sections=4
            )


def _drum_kit(p: Parts, w: float, h: float, d: float) -> None:
    kick_r = 0.28 * min(h, w)
    _drum_shell(p, (0.0, kick_r, 0.05 * d), kick_r, 0.35 * d, axis="z")
    for sx in (-1.0, 1.0):
        _drum_shell(
            p, (sx * 0.13 * w, 2 * kick_r + 0.1 * h, 0.05 * d), 0.1 * w, 0.08 * h
        )  # rack toms
    _drum_shell(p, (0.35 * w, 0.28 * h, -0.1 * d), 0.13 * w, 0.25 * h)  # floor tom
    _drum_shell(p, (-0.3 * w, 0.52 * h, 0.25 * d), 0.11 * w, 0.06 * h)  # snare
    with p.accent("metal"):
        p.rod((-0.3 * w, 0.0, 0.25 * d), (-0.3 * w, 0.49 * h, 0.25 * d), 0.008, sections=6)
    for x, top in ((-0.42 * w, 0.78 * h), (0.3 * w, h - 0.01 * h)):
        with p.accent("metal"):
            p.rod((x, 0.0, -0.25 * d), (x, top, -0.25 * d), 0.008, sections=6)
        with p.accent("brass"):
            p.lathe(
                [(0.0, 0.02 * h), (1.0, 0.0), (0.9, 0.005 * h)],
                (x, top - 0.01 * h, -0.25 * d),
                scale=(0.14 * w, 0.14 * w),
                sections=16,
            )
    p.box((-0.12 * w, 0.55 * h, -d / 2.0), (0.12 * w, 0.6 * h, -0.35 * d))  # throne
    with p.accent("metal"):
        p.rod((0.0, 0.0, -0.42 * d), (0.0, 0.55 * h, -0.42 * d), 0.01, sections=6)


def _drum(p: Parts, w: float, h: float, d: float) -> None:
    r = 0.48 * min(w, d)
    _drum_shell(p, (0.0, h / 2.0, 0.0), r, 0.9 * h)
    for k in range(6):
        a = math.radians(60.0 * k)
        p.box(
            (r * math.cos(a) - 0.01, 0.15 * h, r * math.sin(a) - 0.01),
            (r * math.cos(a) + 0.01, 0.85 * h, r * math.sin(a) + 0.01),
        )


def _harp(p: Parts, w: float, h: float, d: float) -> None:
    p.box((-w / 2.0, 0.0, -d / 2.0), (w / 2.0, 0.06 * h, d / 2.0))
    p.rod((-0.35 * w, 0.05 * h, 0.0), (-0.4 * w, h, 0.0), 0.06 * w + 0.01, sections=8)  # pillar
    p.rod(
        (0.4 * w, 0.05 * h, 0.0),
        (-0.1 * w, 0.85 * h, 0.0),
        0.1 * w + 0.01,
        r2=0.04 * w + 0.01,
        sections=8,
    )  # sound box
    for k in range(4):
        t0, t1 = k / 4.0, (k + 1) / 4.0
        y0 = 0.85 * h + 0.15 * h * math.sin(math.pi * t0)
        y1 = 0.85 * h + 0.15 * h * math.sin(math.pi * t1)
        p.rod(
            (-0.4 * w + t0 * 0.3 * w, y0, 0.0),
            (-0.4 * w + t1 * 0.3 * w, y1, 0.0),
            0.04 * w + 0.008,
            sections=6,
        )
    strings = 10
    for k in range(1, strings):
        t = k / strings
        bottom = (0.4 * w - t * 0.5 * w, 0.05 * h + t * 0.8 * h, 0.0)
        top_y = 0.85 * h + 0.1 * h * math.sin(math.pi * min(1.0, t * 1.4))
        p.rod(bottom, (bottom[0], max(top_y - 0.02 * h, bottom[1] + 0.01), 0.0), 0.003, sections=6)


def _microphone(p: Parts, w: float, h: float, d: float) -> None:
    p.cylinder((0.0, 0.015 * h, 0.0), 0.03 * h, 0.45 * w, 0.45 * d, sections=16)
    p.cylinder((0.0, 0.45 * h, 0.0), 0.85 * h, 0.02 * min(w, d) + 0.006, sections=8)
    p.rod((0.0, 0.86 * h, 0.0), (0.0, 0.92 * h, 0.25 * d), 0.015 * min(w, d) + 0.005, sections=6)
    p.rod((0.0, 0.9 * h, 0.25 * d), (0.0, 0.97 * h, 0.35 * d), 0.06 * min(w, d), sections=8)
    p.ellipsoid((0.0, 0.97 * h, 0.38 * d), (0.08 * min(w, d), 0.03 * h, 0.08 * min(w, d)))


def _music_stand(p: Parts, w: float, h: float, d: float) -> None:
    r = 0.015 * min(w, d) + 0.005
    for k in range(3):
        a = math.radians(90.0 + 120.0 * k)
        p.rod(
            (0.0, 0.2 * h, 0.0),
            (0.35 * w * math.cos(a), 0.0, 0.35 * d * math.sin(a)),
            r,
            sections=6,
        )
    p.cylinder((0.0, 0.4 * h, 0.0), 0.75 * h, r, sections=6)
    p.box(
        (-w / 2.0, 0.7 * h, -0.05 * d),
        (w / 2.0, h, -0.02 * d),
        turn=("x", -20.0),
        pivot=(0.0, 0.75 * h, 0.0),
    )
    p.box(
        (-w / 2.0, 0.7 * h, -0.02 * d),
        (w / 2.0, 0.72 * h, 0.1 * d),
        turn=("x", -20.0),
        pivot=(0.0, 0.75 * h, 0.0),
    )


def _amplifier(p: Parts, w: float, h: float, d: float) -> None:
    front = d / 2.0 - 0.03 * d
    p.box((-w / 2.0, 0.02 * h, -d / 2.0), (w / 2.0, h, front))
    with p.accent("black"):
        p.box(
            (-0.45 * w, 0.08 * h, front), (0.45 * w, 0.75 * h, d / 2.0 - 0.01 * d)
        )  # grille cloth
    p.box((-w / 2.0, 0.8 * h, front), (w / 2.0, 0.95 * h, d / 2.0))  # control panel
    for k in range(6):
        p.cylinder(
            (-0.35 * w + k * 0.12 * w, 0.875 * h, d / 2.0), 0.03 * d, 0.03 * w, axis="z", sections=8
        )
    p.box((-0.2 * w, h - 0.01 * h, -0.05 * d), (0.2 * w, h, 0.05 * d))
    for sx in (-1.0, 1.0):
        p.box(
            (sx * 0.42 * w - 0.04 * w, 0.0, -0.4 * d), (sx * 0.42 * w + 0.04 * w, 0.02 * h, 0.4 * d)
        )


def _trumpet(p: Parts, w: float, h: float, d: float) -> None:
    # Lying on its side, the bell to +x.
    g = _Long(w, d)
    L, A = g.length, g.across
    cy = h / 2.0
    bell_r = 0.48 * min(h, A)
    p.rod(g.pt(-L / 2.0, cy, 0.0), g.pt(0.1 * L, cy, 0.0), 0.08 * bell_r + 0.002, sections=8)
    x, _, z = g.pt(0.3 * L, cy, 0.0)
    turn = ("z", -90.0) if g.x else ("x", 90.0)
    p.lathe(
        [(0.1, -0.2 * L), (0.25, 0.05 * L), (1.0, 0.2 * L)],
        (x, cy, z),
        scale=(bell_r, bell_r),
        sections=16,
        caps=False,
        turn=turn,
        pivot=(x, cy, z),
    )
    p.rod(
        g.pt(-0.3 * L, cy - 0.3 * h, 0.0),
        g.pt(0.1 * L, cy - 0.3 * h, 0.0),
        0.08 * bell_r + 0.002,
        sections=8,
    )
    for k in range(3):
        a = -0.15 * L + k * 0.07 * L
        p.rod(
            g.pt(a, cy - 0.35 * h, 0.0),
            g.pt(a, cy + 0.35 * h, 0.0),
            0.1 * bell_r + 0.002,
            sections=8,
        )
    p.rod(
        g.pt(-0.3 * L, cy - 0.3 * h, 0.0),
        g.pt(-0.3 * L, cy, 0.0),
        0.08 * bell_r + 0.002,
        sections=8,
    )


# ---------------------------------------------------------------------------------- gym


def _treadmill(p: Parts, w: float, h: float, d: float) -> None:
    deck = 0.15 * h
    p.box((-0.4 * w, 0.03 * h, -d / 2.0), (0.4 * w, deck, 0.3 * d))
    with p.accent("rubber"):
        p.box((-0.35 * w, deck, -0.48 * d), (0.35 * w, deck + 0.01 * h, 0.25 * d))  # belt
    for sx in (-1.0, 1.0):
        p.box((sx * 0.45 * w - 0.05 * w, 0.0, -d / 2.0), (sx * 0.45 * w + 0.05 * w, deck, 0.3 * d))
        p.rod(
            (sx * 0.42 * w, deck, 0.3 * d),
            (sx * 0.42 * w, 0.8 * h, 0.42 * d),
            0.03 * w + 0.01,
            sections=8,
        )
        p.box(
            (sx * 0.42 * w - 0.02 * w, 0.72 * h, 0.1 * d),
            (sx * 0.42 * w + 0.02 * w, 0.76 * h, 0.42 * d),
        )  # handrail
    p.box(
        (-0.4 * w, 0.78 * h, 0.3 * d),
        (0.4 * w, h, d / 2.0),
        turn=("x", -25.0),
        pivot=(0.0, 0.8 * h, 0.4 * d),
    )  # console
    p.box((-w / 2.0, 0.0, 0.25 * d), (w / 2.0, 0.1 * h, d / 2.0))


def _exercise_bike(p: Parts, w: float, h: float, d: float) -> None:
    for z in (-0.4 * d, 0.4 * d):
        p.box((-w / 2.0, 0.0, z - 0.04 * d), (w / 2.0, 0.05 * h, z + 0.04 * d))
    p.rod(
        (0.0, 0.05 * h, -0.35 * d), (0.0, 0.6 * h, -0.2 * d), 0.04 * w + 0.01, sections=8
    )  # seat post
    p.box((-0.3 * w, 0.6 * h, -0.32 * d), (0.3 * w, 0.66 * h, -0.08 * d))  # saddle
    p.rod(
        (0.0, 0.05 * h, 0.35 * d), (0.0, 0.85 * h, 0.3 * d), 0.04 * w + 0.01, sections=8
    )  # head post
    p.rod((0.0, 0.05 * h, -0.3 * d), (0.0, 0.05 * h, 0.35 * d), 0.04 * w + 0.01, sections=8)
    p.box((-w / 2.0, 0.82 * h, 0.2 * d), (w / 2.0, 0.86 * h, d / 2.0))  # handlebar
    p.box((-0.2 * w, 0.9 * h, 0.25 * d), (0.2 * w, h, 0.35 * d))  # console
    with p.accent("metal"):
        p.cylinder(
            (0.0, 0.3 * h, 0.22 * d), 0.2 * w, 0.2 * h, 0.2 * h, axis="x", sections=16
        )  # flywheel
    for sx in (-1.0, 1.0):
        p.box(
            (sx * 0.35 * w - 0.08 * w, 0.28 * h, -0.08 * d),
            (sx * 0.35 * w + 0.08 * w, 0.3 * h, 0.02 * d),
        )  # pedals


def _rowing_machine(p: Parts, w: float, h: float, d: float) -> None:
    g = _Long(w, d)
    L, A = g.length, g.across
    p.rod(
        g.pt(-L / 2.0, 0.15 * h, 0.0), g.pt(0.3 * L, 0.25 * h, 0.0), 0.06 * A + 0.01, sections=8
    )  # rail
    g.box(p, (-L / 2.0, 0.0, -0.3 * A), (-0.45 * L, 0.15 * h, 0.3 * A))
    g.box(p, (-0.1 * L, 0.3 * h, -0.2 * A), (0.05 * L, 0.38 * h, 0.2 * A))  # seat
    x, _, z = g.pt(0.38 * L, 0.0, 0.0)
    with p.accent("metal"):
        p.cylinder(
            (x, 0.55 * h, z), 0.3 * A, 0.45 * h, axis="z" if g.x else "x", sections=16
        )  # flywheel
    for sc in (-1.0, 1.0):
        g.box(
            p,
            (0.22 * L, 0.2 * h, sc * 0.2 * A - 0.08 * A),
            (0.3 * L, 0.3 * h, sc * 0.2 * A + 0.08 * A),
        )  # foot plates
    g.box(p, (0.2 * L, h - 0.08 * h, -0.3 * A), (0.24 * L, h, 0.3 * A))  # handle
    g.box(p, (0.4 * L, 0.0, -0.45 * A), (L / 2.0, 0.1 * h, 0.45 * A))


def _elliptical(p: Parts, w: float, h: float, d: float) -> None:
    p.box((-0.2 * w, 0.0, -d / 2.0), (0.2 * w, 0.06 * h, d / 2.0))
    p.cylinder(
        (0.0, 0.25 * h, -0.38 * d), 0.3 * w, 0.2 * h, 0.2 * h, axis="x", sections=16
    )  # drive
    p.rod((0.0, 0.06 * h, 0.38 * d), (0.0, 0.85 * h, 0.4 * d), 0.05 * w + 0.01, sections=8)
    for sx in (-1.0, 1.0):
        x = sx * 0.25 * w
        p.box(
            (x - 0.08 * w, 0.18 * h, -0.35 * d),
            (x + 0.08 * w, 0.22 * h, 0.25 * d),
            turn=("x", 6.0 * sx),
        )
        p.rod((x, 0.2 * h, 0.25 * d), (x * 1.4, h, 0.38 * d), 0.03 * w + 0.008, sections=6)
    p.box((-0.25 * w, 0.85 * h, 0.35 * d), (0.25 * w, 0.95 * h, d / 2.0))


def _weight_bench(p: Parts, w: float, h: float, d: float) -> None:
    pad_y = 0.35 * h
    rack = h > 0.8
    g = _Long(w, d) if not rack else None
    if g is None or not g.x:
        p.box((-0.2 * w, pad_y - 0.08 * h, -d / 2.0), (0.2 * w, pad_y, 0.25 * d))
        p.box((-0.05 * w, 0.0, -0.45 * d), (0.05 * w, pad_y - 0.08 * h, 0.2 * d))
        for z in (-0.45 * d, 0.2 * d):
            p.box((-0.3 * w, 0.0, z - 0.04 * d), (0.3 * w, 0.05 * h, z + 0.04 * d))
    else:
        p.box((-w / 2.0, pad_y - 0.08 * h, -0.2 * d), (0.25 * w, pad_y, 0.2 * d))
        p.box((-0.45 * w, 0.0, -0.05 * d), (0.2 * w, pad_y - 0.08 * h, 0.05 * d))
        for x in (-0.45 * w, 0.2 * w):
            p.box((x - 0.04 * w, 0.0, -0.3 * d), (x + 0.04 * w, 0.05 * h, 0.3 * d))
    if rack:
        for sx in (-1.0, 1.0):
            p.box(
                (sx * 0.4 * w - 0.03 * w, 0.0, 0.3 * d),
                (sx * 0.4 * w + 0.03 * w, 0.85 * h, 0.36 * d),
            )
            p.box(
                (sx * 0.4 * w - 0.05 * w, 0.0, 0.2 * d),
                (sx * 0.4 * w + 0.05 * w, 0.04 * h, d / 2.0),
            )
            p.cylinder(
                (sx * 0.45 * w, 0.87 * h, 0.33 * d),
                0.06 * w,
                0.12 * h,
                0.12 * h,
                axis="x",
                sections=16,
            )
        p.cylinder((0.0, 0.87 * h, 0.33 * d), w, 0.012, axis="x", sections=8)


def _squat_rack(p: Parts, w: float, h: float, d: float) -> None:
    post = 0.05 * min(w, d) + 0.02
    for sx in (-1.0, 1.0):
        for sz in (-1.0, 1.0):
            x, z = sx * (w / 2.0 - post / 2.0), sz * (d / 2.0 - post / 2.0)
            p.box((x - post / 2.0, 0.0, z - post / 2.0), (x + post / 2.0, h, z + post / 2.0))
        p.box(
            (sx * (w / 2.0 - post / 2.0) - post / 2.0, h - post, -d / 2.0),
            (sx * (w / 2.0 - post / 2.0) + post / 2.0, h, d / 2.0),
        )
        p.box(
            (sx * (w / 2.0 - post / 2.0) - post / 2.0, 0.0, -d / 2.0),
            (sx * (w / 2.0 - post / 2.0) + post / 2.0, post, d / 2.0),
        )
    for sz in (-1.0, 1.0):
        p.box(
            (-w / 2.0, h - post, sz * (d / 2.0 - post / 2.0) - post / 2.0),
            (w / 2.0, h, sz * (d / 2.0 - post / 2.0) + post / 2.0),
        )
    bar_y = 0.62 * h
    with p.accent("metal"):
        p.cylinder((0.0, bar_y, d / 2.0 - post), 0.98 * w, 0.014, axis="x", sections=8)
    for sx in (-1.0, 1.0):
        for k in range(2):
            p.cylinder(
                (sx * (0.3 * w + k * 0.04 * w), bar_y, d / 2.0 - post),
                0.03 * w,
                (0.22 - 0.05 * k) * h,
                (0.22 - 0.05 * k) * h,
                axis="x",
                sections=16,
            )


def _weight_machine(p: Parts, w: float, h: float, d: float) -> None:
    p.box((-w / 2.0, 0.0, -d / 2.0), (w / 2.0, 0.04 * h, d / 2.0))
    p.box((-w / 2.0, 0.0, -d / 2.0), (-0.4 * w, h, -0.4 * d))
    p.box((0.4 * w, 0.0, -d / 2.0), (w / 2.0, h, -0.4 * d))
    p.box((-w / 2.0, h - 0.05 * h, -d / 2.0), (w / 2.0, h, 0.3 * d))
    for k in range(10):
        y = 0.06 * h + k * 0.045 * h
        with p.accent("black"):
            p.box((-0.25 * w, y, -0.48 * d), (0.25 * w, y + 0.04 * h, -0.38 * d))  # weight stack
    p.box((-0.04 * w, 0.06 * h, -0.45 * d), (0.04 * w, 0.9 * h, -0.42 * d))
    p.box((-0.25 * w, 0.4 * h, 0.0), (0.25 * w, 0.46 * h, 0.35 * d))  # seat
    p.box((-0.25 * w, 0.46 * h, -0.02 * d), (0.25 * w, 0.95 * h, 0.05 * d))  # back pad
    p.box((-0.05 * w, 0.04 * h, 0.05 * d), (0.05 * w, 0.4 * h, 0.25 * d))
    p.rod((0.0, h - 0.05 * h, 0.3 * d), (0.0, 0.8 * h, 0.4 * d), 0.005, sections=6)  # cable
    p.cylinder((0.0, 0.8 * h, 0.4 * d), 0.8 * w, 0.015, axis="x", sections=8)


def _dumbbell(p: Parts, w: float, h: float, d: float) -> None:
    g = _Long(w, d)
    L, A = g.length, g.across
    r = 0.48 * min(h, A)
    cy = h / 2.0
    with p.accent("metal"):
        p.rod(g.pt(-0.3 * L, cy, 0.0), g.pt(0.3 * L, cy, 0.0), 0.25 * r, sections=8)
    for s in (-1.0, 1.0):
        p.rod(g.pt(s * 0.28 * L, cy, 0.0), g.pt(s * L / 2.0, cy, 0.0), r, sections=8)


def _dumbbell_rack(p: Parts, w: float, h: float, d: float) -> None:
    for sx in (-1.0, 1.0):
        p.box(
            (sx * w / 2.0 - (0.04 * w if sx > 0 else 0.0), 0.0, -d / 2.0),
            (sx * w / 2.0 + (0.04 * w if sx < 0 else 0.0), h, d / 2.0),
        )
    tiers = 2
    for t in range(tiers):
        y = 0.35 * h + t * 0.45 * h
        z = 0.15 * d - t * 0.3 * d
        p.box((-0.46 * w, y - 0.04 * h, z - 0.2 * d), (0.46 * w, y, z + 0.2 * d))
        pairs = max(2, round(w / 0.2))
        for k in range(pairs):
            x = -0.46 * w + (k + 0.5) * 0.92 * w / pairs
            r = 0.06 + 0.01 * k
            r = min(r, 0.1 * h, 0.4 * w / pairs)
            p.cylinder((x, y + r, z), 0.3 * d, r, r, axis="z", sections=8)


def _punching_bag(p: Parts, w: float, h: float, d: float) -> None:
    if h > 1.6:
        p.box((-w / 2.0, 0.0, -d / 2.0), (w / 2.0, 0.04 * h, d / 2.0))
        p.box((-0.05 * w, 0.0, -d / 2.0), (0.05 * w, h, -0.4 * d))
        p.box((-0.05 * w, h - 0.04 * h, -d / 2.0), (0.05 * w, h, 0.1 * d))
        cz = 0.1 * d
    else:
        cz = 0.0
    r = 0.35 * min(w, d)
    top = h - 0.08 * h
    p.cylinder((0.0, top - 0.3 * h, cz), 0.55 * h, r, sections=16)
    p.ellipsoid((0.0, top - 0.58 * h, cz), (r, 0.05 * h, r))
    p.rod((0.0, top - 0.02 * h, cz), (0.0, h - 0.04 * h, cz), 0.006, sections=6)


def _exercise_ball(p: Parts, w: float, h: float, d: float) -> None:
    p.ellipsoid((0.0, h / 2.0, 0.0), (w / 2.0, h / 2.0, d / 2.0), detail=2)
    p.torus((0.0, h / 2.0, 0.0), 0.47 * w, 0.04 * w, axis="x", sections=20, tube_sections=4)


def _yoga_mat(p: Parts, w: float, h: float, d: float) -> None:
    g = _Long(w, d)
    L, A = g.length, g.across
    r = 0.5 * h
    g.box(p, (-L / 2.0, 0.0, -A / 2.0), (L / 2.0 - 2 * r, 0.15 * h, A / 2.0))
    x, _, z = g.pt(L / 2.0 - r, 0.0, 0.0)
    p.cylinder((x, r, z), A, r, r, axis="z" if g.x else "x", sections=16)


# -------------------------------------------------------------------------------- toys


def _teddy_bear(p: Parts, w: float, h: float, d: float) -> None:
    body_y = 0.35 * h
    p.ellipsoid((0.0, body_y, -0.05 * d), (0.36 * w, 0.3 * h, 0.32 * d), detail=2)  # body
    head_y = 0.78 * h
    p.ellipsoid((0.0, head_y, 0.0), (0.27 * w, 0.2 * h, 0.27 * d), detail=2)
    with p.accent("cream"):
        p.ellipsoid((0.0, head_y - 0.04 * h, 0.24 * d), (0.1 * w, 0.07 * h, 0.1 * d))  # muzzle
    for sx in (-1.0, 1.0):
        p.ellipsoid((sx * 0.2 * w, h - 0.07 * h, 0.0), (0.09 * w, 0.07 * h, 0.05 * d))  # ears
        p.ellipsoid((sx * 0.36 * w, 0.45 * h, 0.1 * d), (0.12 * w, 0.16 * h, 0.12 * d))  # arms
        p.ellipsoid((sx * 0.22 * w, 0.09 * h, 0.3 * d), (0.13 * w, 0.09 * h, 0.2 * d))  # legs
        with p.accent("black"):
            p.ellipsoid(
                (sx * 0.09 * w, head_y + 0.04 * h, 0.25 * d), (0.025 * w, 0.025 * h, 0.02 * d)
            )  # eyes


def _doll(p: Parts, w: float, h: float, d: float) -> None:
    p.lathe(
        [(0.0, 0.0), (1.0, 0.0), (0.4, 0.5 * h), (0.0, 0.5 * h)],
        scale=(0.4 * w, 0.4 * d),
        sections=12,
    )  # dress
    p.ellipsoid((0.0, 0.58 * h, 0.0), (0.18 * w, 0.1 * h, 0.15 * d))
    p.ellipsoid((0.0, 0.82 * h, 0.0), (0.22 * w, 0.16 * h, 0.22 * d), detail=2)
    p.ellipsoid((0.0, 0.88 * h, -0.05 * d), (0.25 * w, 0.12 * h, 0.22 * d))  # hair
    for sx in (-1.0, 1.0):
        p.rod(
            (sx * 0.15 * w, 0.62 * h, 0.0),
            (sx * 0.45 * w, 0.35 * h, 0.05 * d),
            0.05 * w + 0.003,
            sections=6,
        )


def _ball(p: Parts, w: float, h: float, d: float) -> None:
    p.ellipsoid((0.0, h / 2.0, 0.0), (w / 2.0, h / 2.0, d / 2.0), detail=2)
    for axis in ("x", "z"):
        p.torus(
            (0.0, h / 2.0, 0.0),
            0.49 * min(w, h),
            0.015 * min(w, h),
            axis=axis,
            sections=20,
            tube_sections=4,
        )


def _toy_car(p: Parts, w: float, h: float, d: float) -> None:
    g = _Long(w, d)
    L, A = g.length, g.across
    wheel = 0.3 * h
    g.box(p, (-L / 2.0, 0.5 * wheel, -0.45 * A), (L / 2.0, 0.6 * h, 0.45 * A))
    g.box(p, (-0.25 * L, 0.6 * h, -0.4 * A), (0.2 * L, h, 0.4 * A))  # cabin
    for fa in (-0.32, 0.32):
        for sc in (-1.0, 1.0):
            x, _, z = g.pt(fa * L, wheel, sc * 0.45 * A)
            with p.accent("rubber"):
                p.cylinder(
                    (x, wheel, z), 0.12 * A, wheel, wheel, axis="z" if g.x else "x", sections=12
                )


def _car(p: Parts, w: float, h: float, d: float) -> None:
    g = _Long(w, d)
    L, A = g.length, g.across
    wheel = 0.22 * h
    g.box(p, (-L / 2.0, 0.7 * wheel, -A / 2.0), (L / 2.0, 0.55 * h, A / 2.0))  # body
    g.box(p, (-0.28 * L, 0.55 * h, -0.44 * A), (0.18 * L, 0.62 * h, 0.44 * A))  # waist
    with p.accent("glass"):
        g.box(p, (-0.25 * L, 0.62 * h, -0.42 * A), (0.15 * L, 0.95 * h, 0.42 * A))  # windows
    g.box(p, (-0.24 * L, 0.95 * h, -0.41 * A), (0.14 * L, h, 0.41 * A))  # roof
    for fa in (-0.34, 0.34):
        for sc in (-1.0, 1.0):
            x, _, z = g.pt(fa * L, wheel, sc * 0.46 * A)
            with p.accent("rubber"):
                p.cylinder(
                    (x, wheel, z), 0.1 * A, wheel, wheel, axis="z" if g.x else "x", sections=16
                )
    for sc in (-1.0, 1.0):
        with p.accent("light"):
            g.box(
                p,
                (L / 2.0 - 0.01 * L, 0.42 * h, sc * 0.38 * A - 0.06 * A),
                (L / 2.0 + 0.005, 0.48 * h, sc * 0.38 * A + 0.06 * A),
            )  # headlights


def _shoe(p: Parts, w: float, h: float, d: float) -> None:
    g = _Long(w, d)
    L, A = g.length, g.across
    with p.accent("rubber"):
        g.box(p, (-L / 2.0, 0.0, -A / 2.0), (L / 2.0, 0.18 * h, A / 2.0))  # sole
    x, _, z = g.pt(0.12 * L, 0.0, 0.0)
    p.ellipsoid((x, 0.18 * h, z), g.pt(0.38 * L, 0.45 * h, 0.48 * A), detail=2)  # toe and vamp
    g.box(p, (-L / 2.0, 0.18 * h, -0.46 * A), (-0.1 * L, h, 0.46 * A))  # heel counter
    with p.accent("black"):
        g.box(p, (-0.12 * L, 0.7 * h, -0.3 * A), (-0.08 * L, h + 0.002, 0.3 * A))  # opening


def _pet(p: Parts, w: float, h: float, d: float) -> None:
    """A sitting cat or dog seen side on: haunches, chest, head with ears, tail."""
    g = _Long(w, d)
    L, A = g.length, g.across
    x, _, z = g.pt(-0.15 * L, 0.0, 0.0)
    p.ellipsoid((x, 0.25 * h, z), g.pt(0.33 * L, 0.25 * h, 0.45 * A), detail=2)  # haunches
    x, _, z = g.pt(0.12 * L, 0.0, 0.0)
    p.ellipsoid((x, 0.48 * h, z), g.pt(0.2 * L, 0.28 * h, 0.33 * A), detail=2)  # chest
    x, _, z = g.pt(0.22 * L, 0.0, 0.0)
    p.ellipsoid((x, 0.82 * h, z), g.pt(0.17 * L, 0.15 * h, 0.3 * A), detail=2)  # head
    x, _, z = g.pt(0.38 * L, 0.0, 0.0)
    p.ellipsoid((x, 0.78 * h, z), g.pt(0.1 * L, 0.06 * h, 0.14 * A))  # muzzle
    for sc in (-1.0, 1.0):
        x, _, z = g.pt(0.2 * L, 0.0, sc * 0.17 * A)
        p.ellipsoid((x, 0.97 * h, z), g.pt(0.04 * L, 0.06 * h, 0.07 * A))  # ears
        p.rod(
            g.pt(0.22 * L, 0.3 * h, sc * 0.16 * A),
            g.pt(0.26 * L, 0.0, sc * 0.16 * A),
            0.06 * A + 0.004,
            sections=6,
        )  # forelegs
    p.rod(
        g.pt(-0.45 * L, 0.1 * h, 0.0),
        g.pt(-0.5 * L, 0.02 * h, 0.3 * A),
        0.04 * A + 0.003,
        sections=6,
    )  # tail


def _rocking_horse(p: Parts, w: float, h: float, d: float) -> None:
    g = _Long(w, d)
    L, A = g.length, g.across
    for sc in (-1.0, 1.0):
        for k in range(4):
            t0, t1 = -1.0 + k * 0.5, -0.5 + k * 0.5
            y0, y1 = 0.08 * h * t0 * t0, 0.08 * h * t1 * t1
            p.rod(
                g.pt(t0 * L / 2.0, y0 + 0.02 * h, sc * 0.35 * A),
                g.pt(t1 * L / 2.0, y1 + 0.02 * h, sc * 0.35 * A),
                0.02 * h + 0.003,
                sections=6,
            )
        for fa in (-0.22, 0.22):
            p.rod(
                g.pt(fa * L * 1.3, 0.03 * h, sc * 0.35 * A),
                g.pt(fa * L, 0.45 * h, sc * 0.15 * A),
                0.025 * h + 0.004,
                sections=6,
            )
    x, _, z = g.pt(0.0, 0.0, 0.0)
    body_r = (0.3 * L, 0.12 * h, 0.22 * A) if g.x else (0.22 * A, 0.12 * h, 0.3 * L)
    p.ellipsoid((x, 0.52 * h, z), body_r, detail=2)
    p.rod(
        g.pt(0.22 * L, 0.55 * h, 0.0), g.pt(0.32 * L, 0.85 * h, 0.0), 0.07 * h, sections=8
    )  # neck
    hx, _, hz = g.pt(0.38 * L, 0.0, 0.0)
    head_r = (0.12 * L, 0.08 * h, 0.1 * A) if g.x else (0.1 * A, 0.08 * h, 0.12 * L)
    p.ellipsoid((hx, 0.88 * h, hz), head_r)
    for sc in (-1.0, 1.0):
        ex, _, ez = g.pt(0.3 * L, 0.0, sc * 0.05 * A)
        p.ellipsoid(
            (ex, 0.97 * h, ez), (0.02 * min(w, d) + 0.005, 0.03 * h, 0.02 * min(w, d) + 0.005)
        )
    p.rod(
        g.pt(-0.3 * L, 0.55 * h, 0.0), g.pt(-0.45 * L, 0.35 * h, 0.0), 0.03 * h, sections=6
    )  # tail


def _toy_blocks(p: Parts, w: float, h: float, d: float) -> None:
    s = 0.32 * min(w, d)
    layout = (
        (-0.3, 0.0, -0.25, 0.0),
        (0.3, 0.0, -0.2, 15.0),
        (0.0, 0.0, 0.25, -10.0),
        (-0.15, 1.0, -0.15, 30.0),
        (0.2, 1.0, 0.05, 5.0),
        (0.0, 2.0, -0.05, -20.0),
    )
    layers = 3
    lh = h / layers
    for fx, layer, fz, angle in layout:
        cx, cz = fx * w, fz * d
        y0 = layer * lh
        p.box(
            (cx - s / 2.0, y0, cz - s / 2.0),
            (cx + s / 2.0, y0 + 0.98 * lh, cz + s / 2.0),
            turn=("y", angle),
        )


def _dollhouse(p: Parts, w: float, h: float, d: float) -> None:
    wall = 0.03 * min(w, d) + 0.005
    eave = 0.62 * h
    p.box((-w / 2.0, 0.0, -d / 2.0), (w / 2.0, 0.04 * h, d / 2.0))
    p.box((-w / 2.0, 0.04 * h, -d / 2.0), (w / 2.0, eave, -d / 2.0 + wall))  # back
    for sx in (-1.0, 1.0):
        p.box(
            (sx * w / 2.0 - (wall if sx > 0 else 0.0), 0.04 * h, -d / 2.0),
            (sx * w / 2.0 + (wall if sx < 0 else 0.0), eave, d / 2.0),
        )
    p.box(
        (-w / 2.0 + wall, 0.33 * h, -d / 2.0 + wall), (w / 2.0 - wall, 0.35 * h, d / 2.0)
    )  # floor
    p.box(
        (-wall / 2.0, 0.04 * h, -d / 2.0 + wall), (wall / 2.0, eave, d / 2.0 - 0.1 * d)
    )  # partition
    # A gable roof over the whole depth, eaves a little past the walls, and its attic.
    with p.accent("red"):
        p.extrude([(-w / 2.0, eave), (w / 2.0, eave), (0.0, h)], -d / 2.0, d / 2.0)
    p.box((0.2 * w, 0.8 * h, -0.2 * d), (0.3 * w, 0.98 * h, -0.1 * d))  # chimney
    for sx in (-0.25, 0.25):
        with p.accent("glass"):
            p.box(
                (sx * w - 0.08 * w, 0.45 * h, -d / 2.0 - 0.0),
                (sx * w + 0.08 * w, 0.55 * h, -d / 2.0 + wall * 1.2),
            )


def _kite(p: Parts, w: float, h: float, d: float) -> None:
    top = h
    p.extrude(
        [(0.0, 0.35 * h), (w / 2.0, 0.75 * h), (0.0, top), (-w / 2.0, 0.75 * h)],
        -0.05 * d,
        0.05 * d,
    )
    p.rod((0.0, 0.35 * h, 0.08 * d), (0.0, top, 0.08 * d), 0.02 * w + 0.002, sections=6)
    p.rod((-w / 2.0, 0.75 * h, 0.1 * d), (w / 2.0, 0.75 * h, 0.1 * d), 0.02 * w + 0.002, sections=6)
    for k in range(4):
        y = 0.3 * h - k * 0.08 * h
        p.box((-0.05 * w, y - 0.02 * h, -0.02 * d), (0.05 * w, y, 0.02 * d), turn=("z", 45.0))
    p.rod((0.0, 0.35 * h, 0.0), (0.0, 0.0, 0.0), 0.004, sections=6)


def _bicycle(p: Parts, w: float, h: float, d: float) -> None:
    g = _Long(w, d)
    L, A = g.length, g.across
    r = min(0.36 * h, 0.24 * L)
    wheel_axis = "z" if g.x else "x"
    back, front = -L / 2.0 + r, L / 2.0 - r
    for a in (back, front):
        x, _, z = g.pt(a, 0.0, 0.0)
        with p.accent("rubber"):
            p.torus((x, r, z), 0.92 * r, 0.07 * r, axis=wheel_axis, sections=20, tube_sections=4)
        p.cylinder((x, r, z), 0.12 * A, 0.1 * r, 0.1 * r, axis=wheel_axis, sections=8)
    seat = (back + 0.45 * (front - back), 0.9 * h, 0.0)
    crank = (back + 0.45 * (front - back), r, 0.0)
    head = (front - 0.1 * r, 0.85 * h, 0.0)
    tube = 0.04 * r + 0.004
    for a_, b_ in (
        (crank, seat),
        (crank, head),
        (seat, head),
        ((back, r, 0.0), crank),
        ((back, r, 0.0), seat),
        (head, (front, r, 0.0)),
    ):
        p.rod(g.pt(*a_), g.pt(*b_), tube, sections=6)
    with p.accent("black"):
        g.box(
            p,
            (seat[0] - 0.12 * r, 0.9 * h, -0.06 * A),
            (seat[0] + 0.18 * r, h - 0.05 * h, 0.06 * A),
        )  # saddle
    p.rod(
        g.pt(head[0], h - 0.03 * h, -0.45 * A),
        g.pt(head[0], h - 0.03 * h, 0.45 * A),
        tube,
        sections=6,
    )  # handlebar
    x, _, z = g.pt(crank[0], 0.0, 0.0)
    p.cylinder((x, r, z), 0.1 * A, 0.2 * r, 0.2 * r, axis=wheel_axis, sections=12)  # chainring


def _skateboard(p: Parts, w: float, h: float, d: float) -> None:
    g = _Long(w, d)
    L, A = g.length, g.across
    wheel = 0.3 * h
    deck_y = 0.75 * h
    outline = []
    for k in range(12):
        t = 2.0 * math.pi * k / 12
        a = 0.5 * L * math.copysign(min(1.0, abs(math.cos(t)) ** 0.3), math.cos(t))
        c = 0.5 * A * math.sin(t)
        outline.append((a, c) if g.x else (c, a))
    p.extrude(outline, deck_y, h, axis="y")
    for fa in (-0.32, 0.32):
        g.box(
            p, (fa * L - 0.03 * L, 2 * wheel * 0.8, -0.3 * A), (fa * L + 0.03 * L, deck_y, 0.3 * A)
        )
        for sc in (-1.0, 1.0):
            x, _, z = g.pt(fa * L, 0.0, sc * 0.38 * A)
            with p.accent("white"):
                p.cylinder(
                    (x, wheel, z), 0.15 * A, wheel, wheel, axis="z" if g.x else "x", sections=12
                )


def _sculpture(p: Parts, w: float, h: float, d: float) -> None:
    plinth = 0.35 * h
    p.box((-w / 2.0, 0.0, -d / 2.0), (w / 2.0, plinth, d / 2.0))
    p.box((-0.45 * w, plinth, -0.45 * d), (0.45 * w, plinth + 0.03 * h, 0.45 * d))
    base_y = plinth + 0.03 * h
    p.ellipsoid((0.0, base_y + 0.15 * (h - base_y), 0.0), (0.3 * w, 0.15 * (h - base_y), 0.3 * d))
    p.rod(
        (0.0, base_y + 0.2 * (h - base_y), 0.0),
        (0.15 * w, base_y + 0.65 * (h - base_y), 0.05 * d),
        0.12 * min(w, d),
        r2=0.06 * min(w, d),
        sections=8,
    )
    p.ellipsoid(
        (0.1 * w, base_y + 0.8 * (h - base_y), 0.0), (0.2 * w, 0.2 * (h - base_y), 0.18 * d)
    )
    p.torus(
        (-0.12 * w, base_y + 0.55 * (h - base_y), 0.0),
        0.15 * min(w, h - base_y),
        0.04 * min(w, h),
        axis="z",
        sections=12,
        tube_sections=4,
    )


def _aquarium(p: Parts, w: float, h: float, d: float) -> None:
    stand = 0.45 * h if h > 0.8 else 0.0
    if stand:
        p.box((-w / 2.0, 0.0, -d / 2.0), (w / 2.0, stand, d / 2.0))
    f = 0.02 * min(w, d) + 0.004
    p.box((-w / 2.0, stand, -d / 2.0), (w / 2.0, stand + 0.04 * (h - stand), d / 2.0))
    p.box((-w / 2.0, h - 0.06 * (h - stand), -d / 2.0), (w / 2.0, h, d / 2.0))  # hood
    for sx in (-1.0, 1.0):
        for sz in (-1.0, 1.0):
            p.box(
                (sx * (w / 2.0 - f / 2.0) - f / 2.0, stand, sz * (d / 2.0 - f / 2.0) - f / 2.0),
                (sx * (w / 2.0 - f / 2.0) + f / 2.0, h, sz * (d / 2.0 - f / 2.0) + f / 2.0),
            )
    inner_top = stand + 0.8 * (h - stand)
    with p.accent("water"):
        p.box(
            (-w / 2.0 + f, stand + 0.04 * (h - stand), -d / 2.0 + f),
            (w / 2.0 - f, inner_top, d / 2.0 - f),
        )  # water
    with p.accent("cream"):
        p.box(
            (-w / 2.0 + f, stand + 0.04 * (h - stand), -d / 2.0 + f),
            (w / 2.0 - f, stand + 0.12 * (h - stand), d / 2.0 - f),
        )  # gravel
    for fx in (-0.3, 0.25):
        with p.accent("leaf"):
            p.ellipsoid(
                (fx * w, stand + 0.35 * (h - stand), -0.2 * d),
                (0.06 * w, 0.22 * (h - stand), 0.05 * d),
            )


def _bird_cage(p: Parts, w: float, h: float, d: float) -> None:
    s = (w / 2.0, d / 2.0)
    body = 0.7 * h
    p.lathe(
        [(0.0, 0.0), (1.0, 0.0), (1.0, 0.08 * h), (0.0, 0.08 * h)], scale=s, sections=16, caps=False
    )
    bars = 12
    for k in range(bars):
        a = 2.0 * math.pi * k / bars
        x, z = 0.95 * w / 2.0 * math.cos(a), 0.95 * d / 2.0 * math.sin(a)
        p.rod((x, 0.08 * h, z), (x, body, z), 0.004 + 0.004 * w, sections=6)
        p.rod((x, body, z), (0.0, 0.92 * h, 0.0), 0.004 + 0.004 * w, sections=6)
    p.torus((0.0, body, 0.0), 0.95 * w / 2.0, 0.01 * w + 0.002, sections=16, tube_sections=4)
    p.torus((0.0, 0.96 * h, 0.0), 0.04 * w, 0.01 * w + 0.002, axis="z", sections=8, tube_sections=4)
    p.rod(
        (-0.3 * w, 0.35 * h, 0.0), (0.3 * w, 0.35 * h, 0.0), 0.008 + 0.005 * w, sections=6
    )  # perch


BUILDERS: dict[str, Builder] = {
    "pool table": _pool_table,
    "ping pong table": _ping_pong_table,
    "foosball table": _foosball_table,
    "air hockey table": _air_hockey_table,
    "card table": _card_table,
    "chess board": _chess_board,
    "arcade machine": _arcade_machine,
    "pinball machine": _pinball_machine,
    "dartboard": _dartboard,
    "piano": _piano,
    "grand piano": _grand_piano,
    "electronic keyboard": _electronic_keyboard,
    "guitar": _guitar,
    "violin": _violin,
    "drum kit": _drum_kit,
    "drum": _drum,
    "harp": _harp,
    "microphone": _microphone,
    "music stand": _music_stand,
    "amplifier": _amplifier,
    "trumpet": _trumpet,
    "treadmill": _treadmill,
    "exercise bike": _exercise_bike,
    "rowing machine": _rowing_machine,
    "elliptical": _elliptical,
    "weight bench": _weight_bench,
    "squat rack": _squat_rack,
    "weight machine": _weight_machine,
    "dumbbell rack": _dumbbell_rack,
    "dumbbell": _dumbbell,
    "punching bag": _punching_bag,
    "exercise ball": _exercise_ball,
    "yoga mat": _yoga_mat,
    "teddy bear": _teddy_bear,
    "doll": _doll,
    "ball": _ball,
    "toy car": _toy_car,
    "car": _car,
    "shoe": _shoe,
    "pet": _pet,
    "rocking horse": _rocking_horse,
    "toy blocks": _toy_blocks,
    "dollhouse": _dollhouse,
    "kite": _kite,
    "bicycle": _bicycle,
    "skateboard": _skateboard,
    "sculpture": _sculpture,
    "aquarium": _aquarium,
    "bird cage": _bird_cage,
}
