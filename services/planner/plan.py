"""The planner's entry point: a prompt in, a furnished room layout out."""

from __future__ import annotations

from services.planner.furnishing import furnish
from services.planner.solver import solve
from services.planner.spec import SceneSpec
from services.planner.understanding import understand
from shared.errors import BadInput
from shared.layout import Layout


def scene_spec(prompt: str) -> SceneSpec:
    """The completed scene spec of ``prompt``: what it names, plus the room type's
    usual objects and rules. Raises :class:`BadInput` for an empty prompt."""
    if not prompt or not prompt.strip():
        raise BadInput("the prompt is empty")
    return furnish(understand(prompt))


def plan_scene(prompt: str, seed: int = 0) -> Layout:
    """Plan the room ``prompt`` describes; the same prompt and seed give the same layout.

    Pure and synchronous: no I/O. Raises :class:`BadInput` only for an empty prompt;
    any other prompt yields a furnished room (a living room when the type is unclear).
    """
    return solve(scene_spec(prompt), seed)
