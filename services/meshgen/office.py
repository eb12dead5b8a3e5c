"""Office, shop, school and lab things: books and paper, computers and screens, boards
and signs, counters and registers, media devices, medical and workshop equipment.

Each recipe draws into a :class:`Parts` within x ∈ [-w/2, w/2], y ∈ [0, h],
z ∈ [-d/2, d/2], front towards +Z.
"""

from __future__ import annotations

import math

from services.meshgen.primitives import Builder, Parts, clamp

# ------------------------------------------------------------------------ paper, books


def _book(p: Parts, w: float, h: float, d: float) -> None:
    upright = h > max(w, d)
    cover = 0.06 * (min(w, d) if upright else h)
    if upright:
        # Standing on a shelf: the spine faces the front (+Z), pages towards the back.
        p.box((-w / 2.0, 0.0, -d / 2.0), (-w / 2.0 + cover, h, d / 2.0))
        p.box((w / 2.0 - cover, 0.0, -d / 2.0), (w / 2.0, h, d / 2.0))
        p.box(
            (-w / 2.0 + cover, 0.02 * h, -d / 2.0 + 0.02 * d),
            (w / 2.0 - cover, 0.98 * h, d / 2.0 - cover),
        )
        p.box((-w / 2.0 + cover, 0.0, d / 2.0 - cover), (w / 2.0 - cover, h, d / 2.0))
        return
    p.box((-w / 2.0, 0.0, -d / 2.0), (w / 2.0, cover, d / 2.0))
    p.box((-w / 2.0, h - cover, -d / 2.0), (w / 2.0, h, d / 2.0))
    p.box(
        (-w / 2.0 + 0.02 * w, cover, -d / 2.0 + 0.02 * d),
        (w / 2.0 - 0.03 * w, h - cover, d / 2.0 - 0.02 * d),
    )
    p.box((-w / 2.0, cover, -d / 2.0), (-w / 2.0 + 0.03 * w, h - cover, d / 2.0))  # spine


def _book_stack(p: Parts, w: float, h: float, d: float) -> None:
    count = int(clamp(round(h / 0.035), 2, 8))
    t = h / count
    for k in range(count):
        shrink = 0.04 * ((k * 7) % 4)
        angle = (-6.0, 4.0, -2.0, 7.0, -4.0, 3.0, 0.0, -5.0)[k]
        cx = 0.03 * w * ((k % 3) - 1)
        p.box(
            (cx - (0.46 - shrink) * w, k * t, -(0.44 - shrink) * d),
            (cx + (0.46 - shrink) * w, (k + 0.96) * t, (0.44 - shrink) * d),
            turn=("y", angle),
            pivot=(cx, 0.0, 0.0),
        )


def _notebook(p: Parts, w: float, h: float, d: float) -> None:
    p.box((-w / 2.0, 0.0, -d / 2.0), (w / 2.0, 0.3 * h, d / 2.0))
    p.box(
        (-w / 2.0 + 0.01 * w, 0.3 * h, -d / 2.0 + 0.01 * d),
        (w / 2.0 - 0.01 * w, 0.75 * h, d / 2.0 - 0.01 * d),
    )
    p.box((-w / 2.0, 0.75 * h, -d / 2.0), (w / 2.0, h, d / 2.0))
    p.box((-w / 2.0, 0.0, -d / 2.0), (-0.45 * w, h, d / 2.0))  # binding


def _pen(p: Parts, w: float, h: float, d: float) -> None:
    upright = h > max(w, d)
    long = h if upright else max(w, d)
    r = 0.5 * (min(w, d) if upright else min(h, min(w, d)))

    def at(t: float) -> tuple[float, float, float]:
        if upright:
            return (0.0, t * long, 0.0)
        if d >= w:
            return (0.0, r, (t - 0.5) * long)
        return ((t - 0.5) * long, r, 0.0)

    p.rod(at(0.0), at(0.08), 0.2 * r, r2=0.8 * r, sections=8)  # tip
    p.rod(at(0.08), at(0.62), 0.9 * r, sections=8)
    p.rod(at(0.6), at(1.0), r, sections=8)  # cap
    clip = at(0.9)
    if upright:
        p.box((-0.15 * r, 0.7 * long, r * 0.8), (0.15 * r, 0.95 * long, r * 1.0))
    elif d >= w:
        p.box(
            (-0.15 * r, 2 * r * 0.9, clip[2] - 0.12 * long),
            (0.15 * r, 2 * r, clip[2] + 0.05 * long),
        )
    else:
        p.box(
            (clip[0] - 0.12 * long, 2 * r * 0.9, -0.15 * r),
            (clip[0] + 0.05 * long, 2 * r, 0.15 * r),
        )


def _pen_holder(p: Parts, w: float, h: float, d: float) -> None:
    cup = 0.62 * h
    s = (w / 2.0, d / 2.0)
    p.lathe(
        [(0.0, 0.0), (1.0, 0.0), (1.0, cup), (0.9, cup), (0.9, 0.05 * h), (0.0, 0.05 * h)],
        scale=s,
        caps=False,
    )
    for k, (fx, fz, lean) in enumerate(
        ((-0.3, -0.2, -0.1), (0.25, 0.1, 0.12), (0.0, 0.3, 0.05), (-0.1, -0.35, -0.02))
    ):
        top = (fx * w + lean * w, h - 0.04 * h * (k % 2), fz * d)
        p.rod((fx * 0.6 * w, 0.06 * h, fz * 0.6 * d), top, 0.06 * min(w, d) + 0.001, sections=6)


# -------------------------------------------------------------------------- computers


def _laptop(p: Parts, w: float, h: float, d: float) -> None:
    if h < 0.4 * d:
        _closed_laptop(p, w, h, d)
        return
    base = min(0.02, 0.15 * h)
    p.box((-w / 2.0, 0.0, -d / 2.0 + 0.05 * d), (w / 2.0, base, d / 2.0))
    with p.accent("black"):
        p.box((-0.44 * w, base, -0.15 * d), (0.44 * w, base + 0.002 + 0.01 * h, 0.3 * d))  # keys
    p.box((-0.15 * w, base, 0.34 * d), (0.15 * w, base + 0.001 + 0.005 * h, 0.46 * d))  # trackpad
    lid = 0.012 + 0.02 * d
    p.box(
        (-w / 2.0, base, -d / 2.0),
        (w / 2.0, h, -d / 2.0 + lid),
        turn=("x", -10.0),
        pivot=(0.0, base, -d / 2.0 + 0.05 * d),
    )
    with p.accent("screen"):
        p.box(
            (-0.45 * w, base + 0.08 * h, -d / 2.0 + lid),
            (0.45 * w, h - 0.06 * h, -d / 2.0 + lid + 0.004),
            turn=("x", -10.0),
            pivot=(0.0, base, -d / 2.0 + 0.05 * d),
        )


def _closed_laptop(p: Parts, w: float, h: float, d: float) -> None:
    """A shut laptop: base, lid a little smaller on top, hinge at the back, a logo."""
    p.box((-w / 2.0, 0.0, -d / 2.0), (w / 2.0, 0.5 * h, d / 2.0))
    with p.accent("black"):
        p.box((-0.49 * w, 0.5 * h, -0.49 * d), (0.49 * w, 0.56 * h, 0.49 * d))  # the seam
    p.box((-0.495 * w, 0.56 * h, -0.495 * d), (0.495 * w, h, 0.495 * d))
    with p.accent("black"):
        p.cylinder((0.0, 0.5 * h, -0.47 * d), 0.7 * w, 0.35 * h, axis="x", sections=8)
    with p.accent("white"):
        p.cylinder((0.0, h, 0.0), 0.02 * h + 0.0005, 0.06 * min(w, d), sections=12)


def _computer_monitor(p: Parts, w: float, h: float, d: float) -> None:
    screen_t = min(0.03, 0.25 * d)
    bottom = 0.25 * h
    p.cylinder((0.0, 0.01 * h, 0.0), 0.02 * h, 0.2 * w, 0.45 * d, sections=16)
    p.box((-0.03 * w, 0.0, -0.2 * d), (0.03 * w, bottom + 0.2 * h, -0.1 * d))  # neck
    p.box((-w / 2.0, bottom, -screen_t / 2.0), (w / 2.0, h, screen_t / 2.0))
    with p.accent("screen"):
        p.box(
            (-0.47 * w, bottom + 0.04 * h, screen_t / 2.0),
            (0.47 * w, h - 0.03 * h, screen_t / 2.0 + 0.003),
        )


def _keyboard(p: Parts, w: float, h: float, d: float) -> None:
    p.box((-w / 2.0, 0.0, -d / 2.0), (w / 2.0, 0.55 * h, d / 2.0))
    rows, cols = 5, 14
    kw, kd = 0.9 * w / cols, 0.8 * d / rows
    for r in range(rows):
        z = -0.4 * d + (r + 0.5) * kd
        for c in range(cols if r < rows - 1 else 3):
            if r == rows - 1 and c == 1:
                x0, x1 = -0.45 * w + 3 * kw, -0.45 * w + 10 * kw  # space bar
            else:
                x0 = -0.45 * w + c * kw + (7 * kw if r == rows - 1 and c == 2 else 0.0)
                x1 = x0 + 0.85 * kw
            with p.accent("black"):
                p.box((x0, 0.55 * h, z - 0.4 * kd), (x1, h, z + 0.4 * kd))


def _computer_tower(p: Parts, w: float, h: float, d: float) -> None:
    foot = 0.03 * h
    p.box((-w / 2.0, foot, -d / 2.0), (w / 2.0, h, d / 2.0 - 0.02 * d))
    p.box((-0.45 * w, foot, d / 2.0 - 0.02 * d), (0.45 * w, h - 0.02 * h, d / 2.0))
    for k in range(6):
        y = 0.2 * h + k * 0.06 * h
        p.box((-0.3 * w, y, d / 2.0 - 0.01 * d), (0.3 * w, y + 0.025 * h, d / 2.0 + 0.0))
    p.cylinder((0.0, 0.85 * h, d / 2.0), 0.01 * d, 0.08 * w, axis="z", sections=12)
    for sx in (-1.0, 1.0):
        p.box((sx * 0.35 * w - 0.05 * w, 0.0, -0.4 * d), (sx * 0.35 * w + 0.05 * w, foot, 0.4 * d))


def _printer(p: Parts, w: float, h: float, d: float) -> None:
    p.box((-w / 2.0, 0.0, -d / 2.0 + 0.1 * d), (w / 2.0, 0.8 * h, d / 2.0 - 0.15 * d))
    p.box(
        (-w / 2.0 + 0.02 * w, 0.8 * h, -d / 2.0 + 0.12 * d),
        (w / 2.0 - 0.02 * w, 0.88 * h, d / 2.0 - 0.17 * d),
    )
    p.box((-0.35 * w, 0.3 * h, d / 2.0 - 0.15 * d), (0.35 * w, 0.34 * h, d / 2.0))  # output tray
    p.box(
        (-0.35 * w, 0.75 * h, -d / 2.0),
        (0.35 * w, h, -d / 2.0 + 0.14 * d),
        turn=("x", -20.0),
        pivot=(0.0, 0.8 * h, -d / 2.0 + 0.12 * d),
    )
    with p.accent("black"):
        p.box((0.25 * w, 0.6 * h, d / 2.0 - 0.15 * d), (0.45 * w, 0.75 * h, d / 2.0 - 0.13 * d))


def _telephone(p: Parts, w: float, h: float, d: float) -> None:
    p.box(
        (-w / 2.0, 0.0, -d / 2.0),
        (w / 2.0, 0.45 * h, d / 2.0),
        turn=("x", 8.0),
        pivot=(0.0, 0.0, 0.0),
    )
    for r in range(4):
        for c in range(3):
            x = 0.1 * w + c * 0.12 * w
            z = -0.15 * d + r * 0.15 * d
            p.box((x, 0.45 * h, z), (x + 0.09 * w, 0.55 * h, z + 0.1 * d))
    p.box((-0.45 * w, 0.5 * h, -0.42 * d), (-0.1 * w, 0.75 * h, 0.42 * d))  # handset
    p.box((-0.47 * w, 0.6 * h, -0.45 * d), (-0.08 * w, h, -0.25 * d))
    p.box((-0.47 * w, 0.6 * h, 0.25 * d), (-0.08 * w, h, 0.45 * d))


def _computer_mouse(p: Parts, w: float, h: float, d: float) -> None:
    p.box((-0.42 * w, 0.0, -0.42 * d), (0.42 * w, 0.3 * h, 0.42 * d))  # base
    p.ellipsoid((0.0, 0.5 * h, 0.0), (w / 2.0, h / 2.0, d / 2.0), detail=2)  # domed shell
    with p.accent("black"):
        p.box((-0.01 * w - 0.001, 0.55 * h, 0.05 * d), (0.01 * w + 0.001, 1.01 * h, 0.5 * d))


def _phone(p: Parts, w: float, h: float, d: float) -> None:
    upright = h > max(w, d)
    if upright:
        p.box((-w / 2.0, 0.0, -d / 2.0), (w / 2.0, h, 0.3 * d))
        with p.accent("screen"):
            p.box((-0.45 * w, 0.05 * h, 0.3 * d), (0.45 * w, 0.95 * h, d / 2.0))
        return
    p.box((-w / 2.0, 0.0, -d / 2.0), (w / 2.0, 0.8 * h, d / 2.0))
    with p.accent("screen"):
        p.box((-0.45 * w, 0.8 * h, -0.45 * d), (0.45 * w, h, 0.45 * d))
    p.cylinder((0.3 * w, 0.05 * h, -0.35 * d), 0.1 * h, 0.06 * w, sections=8)


def _globe(p: Parts, w: float, h: float, d: float) -> None:
    r = 0.42 * min(w, h)
    cy = h - r - 0.03 * h
    p.cylinder((0.0, 0.02 * h, 0.0), 0.04 * h, 0.35 * w, 0.35 * d, sections=16)
    p.cylinder((0.0, 0.08 * h, 0.0), 0.1 * h, 0.04 * w, sections=8)
    p.ellipsoid((0.0, cy, 0.0), (r, r, r * d / w if d < w else r), detail=2)
    with p.accent("brass"):
        p.torus((0.0, cy, 0.0), 1.08 * r, 0.03 * r, axis="z", sections=20, tube_sections=4)
    with p.accent("brass"):
        p.rod((0.0, 0.12 * h, 0.0), (0.0, cy - 1.05 * r, 0.0), 0.03 * r, sections=6)


def _cash_register(p: Parts, w: float, h: float, d: float) -> None:
    drawer = 0.3 * h
    p.box((-w / 2.0, 0.0, -d / 2.0), (w / 2.0, drawer, d / 2.0))
    p.box((-0.45 * w, 0.05 * h, d / 2.0 - 0.01), (0.45 * w, drawer - 0.05 * h, d / 2.0))
    p.box(
        (-w / 2.0, drawer, -d / 2.0),
        (w / 2.0, 0.45 * h, 0.3 * d),
        turn=("x", 12.0),
        pivot=(0.0, drawer, 0.3 * d),
    )
    for r in range(4):
        for c in range(4):
            x = -0.2 * w + c * 0.12 * w
            z = -0.05 * d + r * 0.08 * d
            p.box((x, 0.46 * h, z), (x + 0.08 * w, 0.5 * h, z + 0.05 * d))
    p.box((-0.02 * w, 0.4 * h, -0.35 * d), (0.02 * w, 0.75 * h, -0.3 * d))
    with p.accent("screen"):
        p.box((-0.3 * w, 0.75 * h, -0.4 * d), (0.3 * w, h, -0.3 * d))  # customer display


def _shop_counter(p: Parts, w: float, h: float, d: float) -> None:
    top = 0.04 * h
    p.box((-w / 2.0, h - top, -d / 2.0), (w / 2.0, h, d / 2.0))
    p.box((-w / 2.0 + 0.01 * w, 0.0, 0.2 * d), (w / 2.0 - 0.01 * w, h - top, d / 2.0 - 0.05 * d))
    p.box((-w / 2.0 + 0.01 * w, 0.0, -d / 2.0 + 0.05 * d), (w / 2.0 - 0.01 * w, 0.06 * h, 0.2 * d))
    for sx in (-1.0, 1.0):
        p.box(
            (sx * w / 2.0 - (0.02 * w if sx > 0 else 0.0), 0.0, -d / 2.0 + 0.05 * d),
            (sx * w / 2.0 + (0.02 * w if sx < 0 else 0.0), h - top, 0.2 * d),
        )
    p.box(
        (-w / 2.0 + 0.03 * w, 0.45 * h, -d / 2.0 + 0.05 * d),
        (w / 2.0 - 0.03 * w, 0.48 * h, 0.2 * d),
    )
    p.box(
        (-w / 2.0 + 0.05 * w, 0.0, d / 2.0 - 0.05 * d),
        (w / 2.0 - 0.05 * w, 0.08 * h, d / 2.0 - 0.03 * d),
    )


def _bar_counter(p: Parts, w: float, h: float, d: float) -> None:
    top = 0.04 * h
    p.box((-w / 2.0, h - top, -0.1 * d), (w / 2.0, h, d / 2.0))
    p.box((-w / 2.0, 0.0, 0.15 * d), (w / 2.0, h - top, 0.4 * d))
    p.cylinder((0.0, 0.12 * h, 0.46 * d), w, 0.02 * h, axis="x", sections=8)  # foot rail
    p.box((-w / 2.0, 0.0, -d / 2.0), (w / 2.0, 0.6 * h, -0.1 * d))  # back bar
    for k in range(max(2, round(w / 0.2))):
        x = -w / 2.0 + (k + 0.5) * w / max(2, round(w / 0.2))
        p.lathe(
            [(0.0, 0.6 * h), (0.5, 0.6 * h), (0.5, 0.78 * h), (0.2, 0.84 * h), (0.2, 0.9 * h)],
            (x, 0.0, -0.3 * d),
            scale=(0.06, 0.06),
            sections=8,
        )


# ----------------------------------------------------------------------- boards, signs


def _framed_board(
    p: Parts,
    w: float,
    h: float,
    d: float,
    *,
    surface: str,
    ledge: bool,
    notes: bool,
    frame: float = 0.03,
) -> None:
    """A board in a frame that wears the object's image: its writing ``surface`` is an
    accent (white, chalk, cork), with a pen ledge or pinned notes."""
    f = min(frame, 0.05 * min(w, h) * frame / 0.03)
    with p.accent(surface):
        p.box((-w / 2.0 + f, f, -d / 2.0), (w / 2.0 - f, h - f, 0.0))
    for y0, y1 in ((0.0, f), (h - f, h)):
        p.box((-w / 2.0, y0, -d / 2.0), (w / 2.0, y1, 0.2 * d))
    for sx in (-1.0, 1.0):
        p.box(
            (sx * w / 2.0 - (f if sx > 0 else 0.0), f, -d / 2.0),
            (sx * w / 2.0 + (f if sx < 0 else 0.0), h - f, 0.2 * d),
        )
    if ledge:
        p.box((-0.45 * w, f, 0.2 * d), (0.45 * w, f + 0.02 * h, d / 2.0))
        for k, accent in enumerate(("black", "red", "blue")):
            x = -0.3 * w + k * 0.06 * w
            with p.accent(accent if surface == "white" else "white"):
                p.box((x, f + 0.02 * h, 0.25 * d), (x + 0.04 * w, f + 0.035 * h, 0.45 * d))
    if notes:
        spots = ((-0.3, 0.6), (0.05, 0.7), (0.3, 0.45), (-0.15, 0.3), (0.2, 0.2))
        for k, (fx, fy) in enumerate(spots):
            a = (-6.0, 4.0, -3.0, 7.0, -2.0)[k]
            with p.accent(("yellow", "white", "pink", "blue", "white")[k]):
                p.box(
                    (fx * w - 0.08 * w, fy * h - 0.08 * h, 0.0),
                    (fx * w + 0.08 * w, fy * h + 0.08 * h, 0.06 * d),
                    turn=("z", a),
                    pivot=(fx * w, fy * h, 0.0),
                )
            with p.accent("red"):
                p.cylinder(
                    (fx * w, fy * h + 0.06 * h, 0.08 * d), 0.04 * d, 0.012 * w, axis="z", sections=6
                )


def _easel(p: Parts, w: float, h: float, d: float) -> None:
    r = 0.02 * min(w, d) + 0.006
    for sx in (-1.0, 1.0):
        p.rod((sx * 0.45 * w, 0.0, 0.3 * d), (sx * 0.06 * w, h, 0.0), r, sections=6)
    p.rod((0.0, 0.0, -d / 2.0 + r), (0.0, 0.85 * h, 0.0), r, sections=6)
    p.box((-0.45 * w, 0.38 * h, 0.2 * d), (0.45 * w, 0.41 * h, 0.3 * d + 2 * r))  # ledge
    p.box(
        (-0.4 * w, 0.41 * h, 0.17 * d),
        (0.4 * w, 0.9 * h, 0.2 * d),
        turn=("x", -10.0),
        pivot=(0.0, 0.41 * h, 0.2 * d),
    )


def _sign(p: Parts, w: float, h: float, d: float) -> None:
    panel = 0.35 * h
    p.box((-w / 2.0, h - panel, -0.1 * d), (w / 2.0, h, 0.1 * d))
    with p.accent("metal"):
        p.cylinder(
            (0.0, (h - panel) / 2.0 + 0.02 * h, 0.0), h - panel, 0.04 * min(w, d) + 0.01, sections=8
        )
    p.box((-0.25 * w, 0.0, -d / 2.0), (0.25 * w, 0.04 * h, d / 2.0))
    p.box((-0.4 * w, h - 0.7 * panel, 0.1 * d), (0.4 * w, h - 0.3 * panel, 0.12 * d))


def _wall_sign(p: Parts, w: float, h: float, d: float) -> None:
    p.box((-w / 2.0, 0.0, -d / 2.0), (w / 2.0, h, 0.2 * d))
    p.box((-0.42 * w, 0.25 * h, 0.2 * d), (0.42 * w, 0.75 * h, d / 2.0))
    for sx in (-1.0, 1.0):
        p.cylinder(
            (sx * 0.46 * w, 0.5 * h, 0.2 * d),
            0.6 * d,
            0.02 * min(w, h) + 0.002,
            axis="z",
            sections=6,
        )


def _sandwich_board(p: Parts, w: float, h: float, d: float) -> None:
    for s in (-1.0, 1.0):
        p.box(
            (-w / 2.0, 0.0, -0.02 * d),
            (w / 2.0, h / math.cos(math.radians(12.0)) * 0.98, 0.02 * d + 0.01),
            turn=("x", s * 12.0),
            pivot=(0.0, h, 0.0),
        )
    p.box(
        (-0.4 * w, 0.5 * h, 0.18 * d),
        (0.4 * w, 0.85 * h, 0.22 * d),
        turn=("x", 12.0),
        pivot=(0.0, h, 0.0),
    )


def _flag(p: Parts, w: float, h: float, d: float) -> None:
    pole_r = 0.02 * min(w, d) + 0.008
    x = -w / 2.0 + 0.15 * w
    with p.accent("metal"):
        p.cylinder((x, h / 2.0, 0.0), h, pole_r, sections=8)
    p.ellipsoid((x, h - 0.01 * h, 0.0), (2 * pole_r, 0.015 * h, 2 * pole_r))
    p.cylinder((x, 0.02 * h, 0.0), 0.04 * h, 0.3 * w, 0.45 * d, sections=12)
    for k in range(4):
        x0 = x + pole_r + k * (w / 2.0 - x - pole_r) / 4.0
        x1 = x + pole_r + (k + 1) * (w / 2.0 - x - pole_r) / 4.0
        z = 0.04 * d * (1 if k % 2 else -1)
        p.box((x0, 0.6 * h, z - 0.01), (x1, 0.97 * h, z + 0.01))


def _projector_screen(p: Parts, w: float, h: float, d: float) -> None:
    case = 0.06 * h
    p.cylinder((0.0, h - case / 2.0, 0.0), w, case / 2.0, d / 2.0, axis="x", sections=12)
    with p.accent("white"):
        p.box((-0.47 * w, 0.04 * h, -0.1 * d), (0.47 * w, h - case, 0.1 * d))
    p.cylinder((0.0, 0.03 * h, 0.0), 0.95 * w, 0.02 * h, 0.15 * d, axis="x", sections=8)
    p.box((-0.01 * w, 0.0, -0.05 * d), (0.01 * w, 0.02 * h, 0.05 * d))


# ---------------------------------------------------------------------- media devices


def _projector(p: Parts, w: float, h: float, d: float) -> None:
    p.box((-w / 2.0, 0.1 * h, -d / 2.0), (w / 2.0, h, d / 2.0 - 0.08 * d))
    p.cylinder(
        (0.25 * w, 0.5 * h, d / 2.0 - 0.06 * d), 0.12 * d, 0.3 * min(w, h), axis="z", sections=16
    )
    for sx in (-1.0, 1.0):
        p.cylinder((sx * 0.38 * w, 0.05 * h, 0.3 * d), 0.1 * h, 0.05 * w, sections=8)
    p.cylinder((0.0, 0.05 * h, -0.35 * d), 0.1 * h, 0.05 * w, sections=8)
    for k in range(4):
        p.box(
            (-0.4 * w, 0.3 * h + k * 0.12 * h, d / 2.0 - 0.09 * d),
            (-0.05 * w, 0.35 * h + k * 0.12 * h, d / 2.0 - 0.07 * d),
        )


def _speaker(p: Parts, w: float, h: float, d: float) -> None:
    p.box((-w / 2.0, 0.0, -d / 2.0), (w / 2.0, h, d / 2.0 - 0.04 * d))
    front = d / 2.0 - 0.04 * d
    big = 0.38 * min(w, 0.6 * h)
    with p.accent("black"):
        p.cylinder((0.0, 0.32 * h, front), 0.06 * d, big, axis="z", sections=16)
    with p.accent("black"):
        p.cylinder((0.0, 0.32 * h, front + 0.02 * d), 0.04 * d, 0.35 * big, axis="z", sections=12)
    with p.accent("black"):
        p.cylinder((0.0, 0.75 * h, front), 0.06 * d, 0.4 * big, axis="z", sections=12)


def _game_console(p: Parts, w: float, h: float, d: float) -> None:
    body_w = 0.65 * w
    p.box((-w / 2.0, 0.0, -d / 2.0), (-w / 2.0 + body_w, 0.8 * h, d / 2.0))
    p.box(
        (-w / 2.0 + 0.02 * w, 0.8 * h, -d / 2.0 + 0.02 * d),
        (-w / 2.0 + body_w - 0.02 * w, h, d / 2.0 - 0.02 * d),
    )
    cx = w / 2.0 - 0.17 * w
    p.box((cx - 0.12 * w, 0.0, -0.15 * d), (cx + 0.12 * w, 0.5 * h, 0.15 * d))
    for sx in (-1.0, 1.0):
        p.ellipsoid((cx + sx * 0.12 * w, 0.25 * h, 0.1 * d), (0.05 * w, 0.25 * h, 0.12 * d))


def _radio(p: Parts, w: float, h: float, d: float) -> None:
    p.box((-w / 2.0, 0.04 * h, -d / 2.0), (w / 2.0, h, d / 2.0 - 0.04 * d))
    front = d / 2.0 - 0.04 * d
    with p.accent("black"):
        p.box((-0.45 * w, 0.15 * h, front), (0.0, 0.85 * h, front + 0.02 * d))  # grille
    for k in range(5):
        y = 0.2 * h + k * 0.13 * h
        p.box((-0.43 * w, y, front + 0.02 * d), (-0.02 * w, y + 0.04 * h, d / 2.0))
    p.box((0.08 * w, 0.55 * h, front), (0.45 * w, 0.85 * h, front + 0.02 * d))  # dial
    for x in (0.15 * w, 0.35 * w):
        p.cylinder((x, 0.3 * h, front), 0.08 * d, 0.07 * min(w, h), axis="z", sections=12)
    for sx in (-1.0, 1.0):
        p.box(
            (sx * 0.4 * w - 0.04 * w, 0.0, -0.3 * d), (sx * 0.4 * w + 0.04 * w, 0.04 * h, 0.3 * d)
        )
    p.box((-0.3 * w, h - 0.02 * h, -0.02 * d), (0.3 * w, h, 0.02 * d))


def _camera(p: Parts, w: float, h: float, d: float) -> None:
    p.box((-w / 2.0, 0.0, -d / 2.0), (w / 2.0, 0.78 * h, 0.1 * d))
    p.box((-0.15 * w, 0.78 * h, -0.35 * d), (0.15 * w, h, 0.05 * d))  # viewfinder hump
    p.cylinder((0.0, 0.4 * h, 0.3 * d), 0.4 * d, 0.36 * min(w, h), axis="z", sections=16)
    with p.accent("glass"):
        p.cylinder(
            (0.0, 0.4 * h, d / 2.0 - 0.04 * d), 0.08 * d, 0.3 * min(w, h), axis="z", sections=16
        )
    p.cylinder((0.3 * w, 0.82 * h, -0.1 * d), 0.08 * h, 0.06 * w, sections=8)
    p.box((-w / 2.0, 0.0, -0.3 * d), (-0.3 * w, 0.72 * h, 0.2 * d))  # grip


def _tripod(p: Parts, w: float, h: float, d: float) -> None:
    head = 0.85 * h
    r = 0.015 * min(w, d) + 0.006
    for k in range(3):
        a = math.radians(90.0 + 120.0 * k)
        p.rod(
            (0.0, head, 0.0), (0.48 * w * math.cos(a), 0.0, 0.48 * d * math.sin(a)), r, sections=6
        )
    p.cylinder((0.0, (head + h) / 2.0, 0.0), h - head, 2 * r, sections=8)
    p.box((-0.1 * w, h - 0.03 * h, -0.1 * d), (0.1 * w, h, 0.1 * d))
    p.rod((0.0, 0.95 * h, 0.0), (0.25 * w, 0.9 * h, -0.2 * d), 0.6 * r, sections=6)


# -------------------------------------------------------------------- medical, lab, work


def _microscope(p: Parts, w: float, h: float, d: float) -> None:
    p.box((-w / 2.0, 0.0, -d / 2.0), (w / 2.0, 0.08 * h, d / 2.0))
    p.box((-0.15 * w, 0.08 * h, -d / 2.0), (0.15 * w, 0.75 * h, -0.25 * d))  # arm
    p.box((-0.35 * w, 0.35 * h, -0.25 * d), (0.35 * w, 0.4 * h, 0.3 * d))  # stage
    with p.accent("black"):
        p.rod((0.0, 0.5 * h, 0.1 * d), (0.0, h, -0.2 * d), 0.12 * min(w, d), sections=12)  # tube
    p.cylinder((0.0, 0.47 * h, 0.1 * d), 0.08 * h, 0.1 * min(w, d), sections=8)
    for sx in (-1.0, 1.0):
        p.cylinder(
            (sx * 0.22 * w, 0.55 * h, -0.38 * d),
            0.12 * w,
            0.08 * h,
            0.08 * h,
            axis="x",
            sections=12,
        )


def _fume_hood(p: Parts, w: float, h: float, d: float) -> None:
    work = 0.45 * h
    p.box((-w / 2.0, 0.0, -d / 2.0), (w / 2.0, work, d / 2.0))
    p.box((-w / 2.0, work, -d / 2.0), (w / 2.0, h, -d / 2.0 + 0.08 * d))
    for sx in (-1.0, 1.0):
        p.box(
            (sx * w / 2.0 - (0.05 * w if sx > 0 else 0.0), work, -d / 2.0),
            (sx * w / 2.0 + (0.05 * w if sx < 0 else 0.0), h, d / 2.0),
        )
    p.box((-w / 2.0, 0.82 * h, -d / 2.0), (w / 2.0, h, d / 2.0))
    with p.accent("glass"):
        p.box((-0.45 * w, 0.6 * h, 0.4 * d), (0.45 * w, 0.82 * h, 0.43 * d))  # sash glass
    p.box((-0.45 * w, 0.59 * h, 0.43 * d), (0.45 * w, 0.61 * h, d / 2.0))
    for k in range(2):
        x = -0.3 * w + k * 0.6 * w
        p.box(
            (x - 0.25 * w, 0.05 * h, d / 2.0 - 0.01 * d), (x + 0.25 * w, work - 0.05 * h, d / 2.0)
        )


def _examination_table(p: Parts, w: float, h: float, d: float) -> None:
    cabinet = 0.8 * h
    long_x = w >= d
    p.box((-0.46 * w, 0.0, -0.46 * d), (0.46 * w, cabinet, 0.46 * d))
    p.box((-w / 2.0, cabinet, -d / 2.0), (w / 2.0, cabinet + 0.08 * h, d / 2.0))
    if long_x:
        p.box(
            (-w / 2.0, cabinet + 0.08 * h, -d / 2.0),
            (-0.15 * w, cabinet + 0.12 * h, d / 2.0),
            turn=("z", -15.0),
            pivot=(-0.15 * w, cabinet + 0.08 * h, 0.0),
        )
    else:
        p.box(
            (-w / 2.0, cabinet + 0.08 * h, -d / 2.0),
            (w / 2.0, cabinet + 0.12 * h, -0.15 * d),
            turn=("x", 15.0),
            pivot=(0.0, cabinet + 0.08 * h, -0.15 * d),
        )
    for k in range(2):
        y = 0.1 * h + k * 0.35 * h
        p.box((-0.4 * w, y, 0.46 * d), (0.4 * w, y + 0.3 * h, d / 2.0))


def _iv_stand(p: Parts, w: float, h: float, d: float) -> None:
    r = 0.02 * min(w, d) + 0.005
    for k in range(5):
        a = math.radians(90.0 + 72.0 * k)
        end = (0.45 * w * math.cos(a), 0.03 * h, 0.45 * d * math.sin(a))
        p.rod((0.0, 0.05 * h, 0.0), end, r, sections=6)
        p.ellipsoid((end[0], 0.015 * h, end[2]), (1.5 * r, 0.015 * h, 1.5 * r))
    p.cylinder((0.0, 0.52 * h, 0.0), 0.94 * h, r, sections=8)
    for sx in (-1.0, 1.0):
        p.rod((0.0, 0.96 * h, 0.0), (sx * 0.3 * w, h, 0.0), 0.6 * r, sections=6)
    with p.accent("glass"):
        p.box((0.2 * w, 0.72 * h, -0.06 * d), (0.34 * w, 0.92 * h, 0.06 * d))  # bag


def _wheelchair(p: Parts, w: float, h: float, d: float) -> None:
    big = 0.32 * h
    seat = 0.5 * h
    for sx in (-1.0, 1.0):
        x = sx * (w / 2.0 - 0.03 * w)
        with p.accent("rubber"):
            p.torus(
                (x, big, -0.05 * d), big * 0.95, big * 0.05, axis="x", sections=20, tube_sections=4
            )
        p.cylinder((x, big, -0.05 * d), 0.04 * w, 0.1 * big, 0.1 * big, axis="x", sections=8)
        p.cylinder(
            (sx * 0.35 * w, 0.06 * h, 0.42 * d), 0.03 * w, 0.06 * h, 0.06 * h, axis="x", sections=8
        )
        p.box(
            (sx * 0.38 * w - 0.02 * w, 0.06 * h, -0.25 * d), (sx * 0.38 * w + 0.02 * w, h, -0.2 * d)
        )  # back post
        p.box(
            (sx * 0.38 * w - 0.02 * w, seat + 0.15 * h, -0.2 * d),
            (sx * 0.38 * w + 0.02 * w, seat + 0.18 * h, 0.25 * d),
        )
    p.box((-0.38 * w, seat - 0.04 * h, -0.22 * d), (0.38 * w, seat, 0.3 * d))
    p.box((-0.38 * w, seat, -0.24 * d), (0.38 * w, 0.92 * h, -0.2 * d))
    p.box((-0.25 * w, 0.1 * h, 0.35 * d), (0.25 * w, 0.12 * h, d / 2.0))  # foot rest


def _shopping_cart(p: Parts, w: float, h: float, d: float) -> None:
    wheel = 0.06 * h
    for sx in (-1.0, 1.0):
        for sz in (-1.0, 1.0):
            p.cylinder(
                (sx * 0.4 * w, wheel / 2.0, sz * 0.4 * d),
                0.03 * w,
                wheel / 2.0,
                wheel / 2.0,
                axis="x",
                sections=8,
            )
        p.rod(
            (sx * 0.4 * w, wheel, -0.4 * d),
            (sx * 0.4 * w, wheel, 0.4 * d),
            0.012 * w + 0.004,
            sections=6,
        )
    basket_y = 0.45 * h
    with p.accent("metal"):
        _wire_basket(p, w, 0.88 * h, d, basket_y)
    p.cylinder(
        (0.0, h - 0.02 * h, -d / 2.0 + 0.02 * d), w, 0.02 * h, axis="x", sections=8
    )  # handle
    for sx in (-1.0, 1.0):
        p.rod(
            (sx * 0.4 * w, wheel, -0.4 * d),
            (sx * 0.45 * w, basket_y, -0.35 * d),
            0.012 * w + 0.004,
            sections=6,
        )


def _wire_basket(p: Parts, w: float, top: float, d: float, bottom: float) -> None:
    p.box((-0.42 * w, bottom, -0.45 * d), (0.42 * w, bottom + 0.01 * top, 0.42 * d))
    bars = 6
    for k in range(bars + 1):
        x = -0.48 * w + k * 0.96 * w / bars
        p.rod((x * 0.88, bottom, 0.42 * d), (x, top, d / 2.0), 0.006, sections=6)
        p.rod((x * 0.88, bottom, -0.45 * d), (x, top, -0.48 * d), 0.006, sections=6)
    for t in (0.5, 1.0):
        y = bottom + t * (top - bottom)
        p.cylinder((0.0, y, d / 2.0 - 0.04 * d * (1 - t)), 0.96 * w, 0.006, axis="x", sections=6)
        p.cylinder((0.0, y, -0.48 * d), 0.96 * w, 0.006, axis="x", sections=6)
        for sx in (-1.0, 1.0):
            p.cylinder((sx * 0.48 * w, y, 0.0), 0.96 * d, 0.006, axis="z", sections=6)


def _tool_chest(p: Parts, w: float, h: float, d: float) -> None:
    wheel = 0.07 * h
    for sx in (-1.0, 1.0):
        for sz in (-1.0, 1.0):
            p.cylinder(
                (sx * 0.4 * w, wheel / 2.0, sz * 0.35 * d),
                0.05 * w,
                wheel / 2.0,
                wheel / 2.0,
                axis="x",
                sections=8,
            )
    p.box((-w / 2.0, wheel, -d / 2.0), (w / 2.0, 0.85 * h, d / 2.0 - 0.03 * d))
    drawers = 6
    pitch = (0.85 * h - wheel - 0.02 * h) / drawers
    for k in range(drawers):
        y0 = wheel + 0.01 * h + k * pitch
        p.box(
            (-0.48 * w, y0 + 0.004, d / 2.0 - 0.03 * d),
            (0.48 * w, y0 + pitch - 0.004, d / 2.0 - 0.01 * d),
        )
        p.box(
            (-0.35 * w, y0 + 0.7 * pitch, d / 2.0 - 0.01 * d),
            (0.35 * w, y0 + 0.85 * pitch, d / 2.0),
        )
    p.box((-w / 2.0, 0.85 * h, -d / 2.0), (w / 2.0, h, d / 2.0 - 0.03 * d))  # top box lid
    p.cylinder((0.0, 0.6 * h, -d / 2.0 - 0.0 + 0.01 * d), 0.8 * w, 0.015 * h, axis="x", sections=8)


def _machine(p: Parts, w: float, h: float, d: float) -> None:
    base = 0.2 * h
    p.box((-w / 2.0, 0.0, -d / 2.0), (w / 2.0, base, d / 2.0))
    p.box((-0.45 * w, base, -0.45 * d), (0.1 * w, 0.85 * h, 0.35 * d))  # housing
    p.box((0.1 * w, base, -0.3 * d), (0.45 * w, 0.55 * h, 0.3 * d))
    p.box(
        (0.15 * w, 0.6 * h, 0.3 * d),
        (0.45 * w, 0.85 * h, d / 2.0),
        turn=("x", -15.0),
        pivot=(0.3 * w, 0.6 * h, 0.3 * d),
    )  # panel
    p.cylinder((0.25 * w, 0.62 * h, 0.0), 0.14 * h, 0.08 * w, sections=12)
    p.box((-0.2 * w, 0.85 * h, -0.2 * d), (0.0, h, 0.1 * d))
    for k in range(3):
        p.cylinder(
            (0.2 * w + k * 0.08 * w, 0.75 * h, 0.42 * d), 0.03 * d, 0.02 * w, axis="z", sections=8
        )


BUILDERS: dict[str, Builder] = {
    "book": _book,
    "book stack": _book_stack,
    "notebook": _notebook,
    "pen": _pen,
    "pen holder": _pen_holder,
    "laptop": _laptop,
    "computer monitor": _computer_monitor,
    "keyboard": _keyboard,
    "computer tower": _computer_tower,
    "printer": _printer,
    "telephone": _telephone,
    "phone": _phone,
    "computer mouse": _computer_mouse,
    "globe": _globe,
    "cash register": _cash_register,
    "shop counter": _shop_counter,
    "bar counter": _bar_counter,
    "whiteboard": lambda p, w, h, d: _framed_board(
        p, w, h, d, surface="white", ledge=True, notes=False, frame=0.015
    ),
    "chalkboard": lambda p, w, h, d: _framed_board(
        p, w, h, d, surface="chalk", ledge=True, notes=False, frame=0.06
    ),
    "bulletin board": lambda p, w, h, d: _framed_board(
        p, w, h, d, surface="cork", ledge=False, notes=True
    ),
    "easel": _easel,
    "sign": _sign,
    "wall sign": _wall_sign,
    "sandwich board": _sandwich_board,
    "flag": _flag,
    "projector screen": _projector_screen,
    "projector": _projector,
    "speaker": _speaker,
    "game console": _game_console,
    "radio": _radio,
    "camera": _camera,
    "tripod": _tripod,
    "microscope": _microscope,
    "fume hood": _fume_hood,
    "examination table": _examination_table,
    "iv stand": _iv_stand,
    "wheelchair": _wheelchair,
    "shopping cart": _shopping_cart,
    "tool chest": _tool_chest,
    "machine": _machine,
}
