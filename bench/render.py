"""Render scene files to PNG: a top-down plan view and a perspective view from a corner.

    python bench/render.py out/<scene_id>/scene.glb [more.glb ...] [--out renders] [--size 900]

For each ``scene.glb`` writes ``<scene_id>-top.png`` (an orthographic view straight down
on the room, walls and all) and ``<scene_id>-perspective.png`` (eye height, from inside
the room's corner that sees the most of it) into ``--out``. Renders offscreen with
pyrender (a dev dependency) through EGL or OSMesa: Mesa's software renderer needs no GPU
and no display. Set ``PYOPENGL_PLATFORM=osmesa`` (Debian: ``apt-get install
libosmesa6``) where EGL (``libegl1 libegl-mesa0``) is not available; EGL is the default.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

os.environ.setdefault("PYOPENGL_PLATFORM", "egl")

import numpy as np

# pyrender 0.1.45 still spells infinity the NumPy 1 way.
if not hasattr(np, "infty"):
    np.infty = np.inf  # type: ignore[attr-defined]

import trimesh
from PIL import Image

try:
    import pyrender
except ImportError as exc:  # pragma: no cover - depends on the machine
    raise SystemExit(
        "pyrender is needed to render: .venv/bin/pip install -e '.[dev]' "
        f"(and Mesa's EGL or OSMesa: apt-get install libegl1 libegl-mesa0 libosmesa6): {exc}"
    ) from exc

EYE_HEIGHT = 1.6  # metres: a standing person's view
TOP_MARGIN = 1.08  # the plan view shows a little beyond the walls
HALF_VIEW = 32.0  # degrees either side of the view's axis an object counts as in view


def _look_at(eye: np.ndarray, target: np.ndarray, up: np.ndarray) -> np.ndarray:
    """A camera pose (camera looks down its -Z) at ``eye`` facing ``target``."""
    forward = target - eye
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, up)
    if np.linalg.norm(right) < 1e-6:
        right = np.array([1.0, 0.0, 0.0])
    right /= np.linalg.norm(right)
    true_up = np.cross(right, forward)
    pose = np.eye(4)
    pose[:3, 0] = right
    pose[:3, 1] = true_up
    pose[:3, 2] = -forward
    pose[:3, 3] = eye
    return pose


def _room(
    layout_path: Path,
) -> tuple[list[tuple[float, float]], float, list[tuple[float, float]]] | None:
    """The room's floor polygon, its height and where its objects stand (x, z)."""
    if not layout_path.exists():
        return None
    document = json.loads(layout_path.read_text())
    room = document["room"]
    spots = [(float(o["position"][0]), float(o["position"][2])) for o in document["objects"]]
    return [tuple(p) for p in room["polygon"]], float(room["height"]), spots


def _scene(glb: Path) -> tuple[pyrender.Scene, np.ndarray]:
    loaded = trimesh.load(glb, file_type="glb")
    if not isinstance(loaded, trimesh.Scene):
        loaded = trimesh.Scene(loaded)
    scene = pyrender.Scene.from_trimesh_scene(loaded, bg_color=(0.93, 0.94, 0.96, 1.0))
    scene.ambient_light = np.array([0.35, 0.35, 0.35, 1.0])
    return scene, np.asarray(loaded.bounds)


def _lights(scene: pyrender.Scene, bounds: np.ndarray) -> list[pyrender.Node]:
    low, high = bounds
    centre = (low + high) / 2.0
    nodes = [
        scene.add(
            pyrender.DirectionalLight(color=np.ones(3), intensity=2.5),
            # Steep, so walls cast short shadows on the floor in the plan view.
            pose=_look_at(centre + np.array([0.6, 8.0, 1.0]), centre, np.array([0.0, 0.0, -1.0])),
        )
    ]
    span = max(high[0] - low[0], high[2] - low[2])
    for dx, dz in ((-0.25, -0.25), (0.25, 0.25)):
        pose = np.eye(4)
        pose[:3, 3] = (
            centre[0] + dx * (high[0] - low[0]),
            high[1] - 0.2,
            centre[2] + dz * (high[2] - low[2]),
        )
        nodes.append(
            scene.add(pyrender.PointLight(color=np.ones(3), intensity=4.0 * span), pose=pose)
        )
    return nodes


def _corner_view(
    polygon: list[tuple[float, float]], spots: list[tuple[float, float]] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Eye and target for the perspective view: from just inside a corner, looking
    across the room towards its centre; the corner that has the most objects in view
    (``spots``: where they stand), else the one farthest from the centre."""
    points = np.asarray(polygon, dtype=np.float64)
    centre = points.mean(axis=0)
    reach = np.linalg.norm(points - centre, axis=1)
    best, best_key = 0, (-1, -1.0)
    for k, corner in enumerate(points):
        towards = (centre - corner) / max(float(np.linalg.norm(centre - corner)), 1e-6)
        eye = corner + 0.35 * towards
        seen = 0
        for x, z in spots or []:
            v = np.array([x, z]) - eye
            length = float(np.linalg.norm(v))
            if length > 0.3 and float(v @ towards) / length >= math.cos(math.radians(HALF_VIEW)):
                seen += 1
        key = (seen, float(reach[k]))
        if key > best_key:
            best, best_key = k, key
    corner = points[best]
    towards = (centre - corner) / max(float(np.linalg.norm(centre - corner)), 1e-6)
    eye_xz = corner + 0.35 * towards
    eye = np.array([eye_xz[0], EYE_HEIGHT, eye_xz[1]])
    target = np.array([centre[0], 0.6, centre[1]])
    return eye, target


def render(glb: Path, out: Path, size: int) -> list[Path]:
    """Write the plan and the perspective view of one scene file; returns their paths."""
    scene, bounds = _scene(glb)
    low, high = bounds
    room = _room(glb.with_name("layout.json"))
    _lights(scene, bounds)
    renderer = pyrender.OffscreenRenderer(size, size)
    written = []
    try:
        centre = (low + high) / 2.0
        half = TOP_MARGIN * max(high[0] - low[0], high[2] - low[2]) / 2.0
        top = pyrender.OrthographicCamera(xmag=half, ymag=half, znear=0.05, zfar=50.0)
        pose = _look_at(
            np.array([centre[0], high[1] + 5.0, centre[2]]),
            np.array([centre[0], 0.0, centre[2]]),
            np.array([0.0, 0.0, -1.0]),
        )
        node = scene.add(top, pose=pose)
        color, _ = renderer.render(scene, flags=pyrender.RenderFlags.SHADOWS_DIRECTIONAL)
        scene.remove_node(node)
        name = glb.parent.name if glb.name == "scene.glb" else glb.stem
        path = out / f"{name}-top.png"
        Image.fromarray(color).save(path)
        written.append(path)

        polygon = (
            room[0]
            if room
            else [(low[0], low[2]), (low[0], high[2]), (high[0], high[2]), (high[0], low[2])]
        )
        eye, target = _corner_view(polygon, room[2] if room else None)
        camera = pyrender.PerspectiveCamera(yfov=math.radians(70.0), znear=0.05, zfar=60.0)
        node = scene.add(camera, pose=_look_at(eye, target, np.array([0.0, 1.0, 0.0])))
        color, _ = renderer.render(scene, flags=pyrender.RenderFlags.SHADOWS_DIRECTIONAL)
        scene.remove_node(node)
        path = out / f"{name}-perspective.png"
        Image.fromarray(color).save(path)
        written.append(path)
    finally:
        renderer.delete()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenes", nargs="+", type=Path, help="scene.glb files")
    parser.add_argument("--out", type=Path, default=Path("renders"))
    parser.add_argument("--size", type=int, default=900, help="image size in pixels")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for glb in args.scenes:
        if not glb.exists():
            raise SystemExit(f"no such scene file: {glb}")
        for path in render(glb, args.out, args.size):
            print(path, file=sys.stderr)


if __name__ == "__main__":
    main()
