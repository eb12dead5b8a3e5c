"""Planner commands for the CLI: solve a scene spec file, or plan a prompt, offline.

Both return the layout as JSON text (the ``layout.json`` shape) and talk to no bus.
"""

from __future__ import annotations

from pathlib import Path

from services.planner.plan import plan_scene
from services.planner.solver import solve
from services.planner.spec import parse_spec
from shared.errors import BadInput


def layout_from_spec(spec_path: Path, seed: int) -> str:
    """Solve the scene spec in ``spec_path`` into layout JSON.

    Raises :class:`BadInput` when the file cannot be read, is not JSON or does not
    validate; the message names the offending field.
    """
    try:
        text = Path(spec_path).read_text(encoding="utf-8")
    except OSError as exc:
        raise BadInput(f"cannot read the scene spec {spec_path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise BadInput(f"the scene spec {spec_path} is not UTF-8 text") from None
    spec = parse_spec(text)
    return solve(spec, seed).model_dump_json(indent=2)


def plan_prompt(prompt: str, seed: int) -> str:
    """Understand ``prompt`` and solve it into layout JSON; :class:`BadInput` when empty."""
    return plan_scene(prompt, seed).model_dump_json(indent=2)
