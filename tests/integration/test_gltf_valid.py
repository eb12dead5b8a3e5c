"""Scene GLBs pass the Khronos glTF validator with no errors.

The validator is the npm package ``gltf-validator`` pinned in ``tests/tools/package.json``
(``make test`` installs it with ``npm ci --prefix tests/tools``); it runs under Node.js
through ``tests/tools/gltf_validate.mjs``. A machine without Node.js or without the
package fails these tests, saying what to install: a skipped validity check would pass
silently.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Any

import pytest

from services.assembly.scene import build_scene_glb
from services.cli import DEFAULT_PROMPT
from services.imagegen.procedural import object_image
from services.meshgen.shapes import mesh_glb
from services.planner.plan import plan_scene
from services.runtime import WORKERS
from services.stack import request_scene, running_stack
from shared import catalog
from shared.layout import Layout, Opening, PlacedObject, Room, rectangle

TOOLS = Path(__file__).resolve().parent.parent / "tools"
SCRIPT = TOOLS / "gltf_validate.mjs"
PACKAGE = TOOLS / "node_modules" / "gltf-validator" / "package.json"

# Prompts the planner furnishes with at least 12 and 50 objects.
PROMPTS = {
    12: "a living room with a sofa, two armchairs, a coffee table, a tv stand, a tv, "
    "a bookshelf, a floor lamp, a rug, two plants and a side table",
    50: "a huge open-plan loft with three sofas, six armchairs, three coffee tables, "
    "four bookshelves, eight plants, four floor lamps, three rugs, a dining table, "
    "seven chairs, three side tables, a tv stand with a tv, four paintings, a piano, "
    "a pool table, two vases and a clock",
}


@pytest.fixture(scope="module")
def node() -> str:
    path = shutil.which("node")
    if path is None:
        pytest.fail(
            "Node.js is not installed (no `node` on PATH): the glTF validity tests run the "
            "Khronos validator under Node.js. Install Node.js 18 or newer, then "
            "`npm ci --prefix tests/tools`."
        )
    if not PACKAGE.is_file():
        pytest.fail(
            f"the glTF validator is not installed ({PACKAGE} is missing): run "
            "`npm ci --prefix tests/tools` (`make test` does)."
        )
    return path


def validate(node: str, glb: Path) -> dict[str, Any]:
    """The validator's report of ``glb``: numErrors, numWarnings, messages, info."""
    done = subprocess.run(
        [node, str(SCRIPT), str(glb)], capture_output=True, text=True, timeout=300, check=False
    )
    if done.returncode not in (0, 1) or not done.stdout.strip():
        pytest.fail(f"the validator did not run on {glb} (exit {done.returncode}): {done.stderr}")
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def problems(report: dict[str, Any]) -> str:
    """Errors and warnings, one per line, for the assertion message."""
    lines = [
        f"{report['numErrors']} errors, {report['numWarnings']} warnings "
        f"(validator {report['validatorVersion']}):"
    ]
    for message in report["messages"]:
        if message["severity"] <= 1:  # 0 error, 1 warning, 2 info, 3 hint
            kind = "error" if message["severity"] == 0 else "warning"
            where = message.get("pointer", "-")
            lines.append(f"  {kind} {message['code']} at {where}: {message['message']}")
    return "\n".join(lines)


def layout_of(count: int) -> Layout:
    """A planned layout of exactly ``count`` objects: the planner's, less any surplus that
    no other object stands on."""
    layout = plan_scene(PROMPTS[count], 0)
    objects = list(layout.objects)
    assert len(objects) >= count, f"the planner placed {len(objects)} objects, not {count}"
    parents = {o.parent for o in objects if o.parent}
    while len(objects) > count:
        spare = next(o for o in reversed(objects) if o.id not in parents)
        objects.remove(spare)
    return layout.model_copy(update={"objects": objects})


@pytest.mark.parametrize("count", [12, 50])
def test_assembled_scene_is_valid_gltf(node: str, tmp_path: Path, count: int):
    layout = layout_of(count)
    meshes = {
        obj.id: mesh_glb(obj.category, obj.size, object_image(obj, 0, 256))
        for obj in layout.objects
    }
    path = tmp_path / f"scene-{count}.glb"
    path.write_bytes(build_scene_glb(layout, meshes))
    report = validate(node, path)
    assert report["numErrors"] == 0, problems(report)
    assert report["mimeType"] == "model/gltf-binary"
    assert report["info"]["hasDefaultScene"] and report["info"]["hasTextures"]
    assert root_names(path.read_bytes()) >= {o.id for o in layout.objects}


def root_names(glb: bytes) -> set[str]:
    """Names of the default scene's root nodes, read from the GLB's JSON chunk."""
    (json_length,) = struct.unpack_from("<I", glb, 12)
    document = json.loads(glb[20 : 20 + json_length])
    roots = document["scenes"][document.get("scene", 0)]["nodes"]
    return {document["nodes"][i].get("name") for i in roots}


async def test_default_prompt_through_the_stack_is_valid_gltf(
    node: str, settings: Any, nats_server: str, tmp_path: Path
):
    async with running_stack(settings, WORKERS, url=nats_server) as stack:
        watch = await request_scene(stack.nc, DEFAULT_PROMPT, seed=0, timeout=120)
        assert watch.ready is not None, f"the scene failed: {watch.failed}"
        glb = await stack.store.get(watch.ready.artifacts["scene.glb"].sha256)
    path = tmp_path / "default.glb"
    path.write_bytes(glb)
    report = validate(node, path)
    assert report["numErrors"] == 0, problems(report)
    assert report["info"]["generator"] == "holodeck assembly", problems(report)


def test_every_shape_family_is_valid_gltf(node: str, tmp_path: Path):
    """One room holding every shape family at a catalog size, with doors, windows and
    material finishes: the merged file and a single object's file both validate."""
    samples: dict[str, Any] = {}
    for item in catalog.entries():
        samples.setdefault(item.shape, item)
    objects = []
    for k, (_, item) in enumerate(sorted(samples.items())):
        row, column = divmod(k, 16)
        objects.append(
            PlacedObject(
                id=f"family-{k}",
                category=item.name,
                description=f"a {item.color} {item.material} {item.name}",
                size=item.size,
                position=(1.0 + 3.0 * column, 0.0, 1.0 + 3.0 * row),
                material=item.material,
                color=item.color,
            )
        )
    assert len(objects) >= 100
    room = Room(
        type="showroom",
        polygon=rectangle(50.0, 50.0),
        height=3.0,
        doors=[Opening(wall=0, offset=2.0, width=0.9, height=2.1)],
        windows=[Opening(wall=1, offset=5.0, width=1.4, height=1.2, sill=0.9)],
        floor_material="white tile",
        wall_material="red brick",
    )
    meshes = {o.id: mesh_glb(o.category, o.size, object_image(o, 0, 64)) for o in objects}
    single = tmp_path / "pool-table.glb"
    single.write_bytes(mesh_glb("pool table", (2.5, 0.8, 1.4), object_image(objects[0], 0, 64)))
    report = validate(node, single)
    assert report["numErrors"] == 0, problems(report)
    path = tmp_path / "families.glb"
    path.write_bytes(build_scene_glb(Layout(room=room, objects=objects), meshes))
    report = validate(node, path)
    assert report["numErrors"] == 0, problems(report)
    assert root_names(path.read_bytes()) >= {o.id for o in objects}
