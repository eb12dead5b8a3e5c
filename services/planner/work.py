"""The planner's work: a scene request in, the room layout out.

Understanding (prompt → scene spec) is the rule-based one by default, or an
OpenAI-compatible model when configured, falling back to the rules if the model fails
and the fallback is allowed. Solving (spec → layout) is always the same solver.

Understanding and solving (with the room catalog under them) are imported when a prompt
is first planned: a scene whose layout comes from the plan cache never loads them.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ValidationError

from services.planner.limits import budget, cap_objects
from services.planner.llm import ChatCompletions, LLMUnderstander
from shared.artifacts import ArtifactNotFound, ArtifactStore
from shared.cache import AssetCache
from shared.config import PlannerSettings
from shared.contract import (
    LayoutReady,
    SceneRequested,
    Subject,
    msg_id,
    request_scene_id,
    subject,
)
from shared.errors import BadInput, Permanent
from shared.layout import Layout
from shared.logs import get_logger
from shared.stage import Delivery, Output

if TYPE_CHECKING:
    from services.planner.spec import SceneSpec

log = get_logger(__name__)
STAGE = "planner"

INSTRUCTIONS = """\
You read a short description of a room and answer with the scene spec that a layout
solver will place. List every object the description asks for, with its count, in the
order it was named (the first ones are placed first when space runs out), then the
furniture such a room usually has if the description names only a few things. Name each
object by what it is, singular, as a person would ("pool table", "teddy bear", "fork",
"cash register"): any object is fine, and the room type may be any room ("bookstore",
"sushi restaurant"). Small things that stand on something (books, plates, a lamp) get
an "on" constraint naming what they stand on. Give
colours and materials where the description gives them. Express spatial wishes as
constraints (against_wall, corner, middle, near, far, in_front_of, behind, facing,
beside, left_of, right_of, around, under, above, on, aligned_with), naming the target
object's category or reference. Leave a value null when the description does not
decide it: the solver chooses room size, openings, object sizes and exact positions.
Sizes are in metres."""

Source = Literal["rules", "llm", "rules-fallback"]
# Bump when understanding or solving would plan the same prompt differently.
PLANNER_VERSION = "v9"


class _CachedPlan(BaseModel):
    layout: Layout
    understood_by: Source


def _plan_key(identity: str, prompt: str, seed: int) -> str:
    document = json.dumps({"stage": STAGE, "identity": identity, "prompt": prompt, "seed": seed})
    return hashlib.sha256(document.encode()).hexdigest()


class Planner:
    def __init__(
        self,
        producer: str,
        understander: LLMUnderstander[SceneSpec] | None = None,
        *,
        identity: str = "rules",
        store: ArtifactStore | None = None,
        cache: AssetCache | None = None,
        limits: PlannerSettings | None = None,
    ):
        self.producer = producer
        self.limits = limits or PlannerSettings()
        self.understander = understander
        # Names the understanding (rules, or the model and server) and the object limit,
        # for the plan cache: a layout cut to another limit is another layout.
        self.identity = f"{identity}/{PLANNER_VERSION}/max{self.limits.max_objects}"
        self.store = store
        self.cache = cache if store is not None else None

    async def _plan(self, prompt: str, seed: int) -> tuple[Layout, Source]:
        """The layout of ``prompt``: from the plan cache when the same understanding has
        planned the same prompt and seed before, else understood and solved now."""
        key = _plan_key(self.identity, prompt, seed)
        if self.cache is not None and self.store is not None:
            ref = await self.cache.lookup(STAGE, key)
            if ref is not None:
                with contextlib.suppress(ArtifactNotFound, ValidationError):
                    cached = _CachedPlan.model_validate_json(await self.store.get(ref.sha256))
                    return cached.layout, cached.understood_by
        spec, source = await self._spec(prompt, seed)
        layout = await asyncio.to_thread(self._solve, spec, seed)
        if self.cache is not None and self.store is not None and source != "rules-fallback":
            # A fallback is not remembered: the model may answer next time.
            document = _CachedPlan(layout=layout, understood_by=source).model_dump_json()
            ref = await self.store.put(document.encode(), "application/json")
            await self.cache.remember(STAGE, key, ref)
        return layout, source

    def _solve(self, spec: SceneSpec, seed: int) -> Layout:
        """Furnish, cut to the object limit, and solve within the time and memory limits."""
        from services.planner.furnishing import furnish
        from services.planner.solver import solve

        limits = self.limits
        with budget(limits.timeout_s, limits.max_memory_mb):
            capped, cut = cap_objects(furnish(spec), limits.max_objects)
            layout = solve(capped, seed)
        if cut:
            log.warning("objects over the limit not planned", cut=len(cut))
            layout = layout.model_copy(update={"unplaced": [*layout.unplaced, *cut]})
        return layout

    async def _spec(self, prompt: str, seed: int) -> tuple[SceneSpec, Source]:
        from services.planner.understanding import understand

        if self.understander is None:
            return await asyncio.to_thread(understand, prompt), "rules"
        understood = await self.understander.understand_with_source(prompt, seed=seed)
        if understood.source == "fallback":
            log.warning("planner fell back to the rules", reason=understood.reason)
            return understood.value, "rules-fallback"
        return understood.value, "llm"

    async def __call__(self, event: SceneRequested, delivery: Delivery) -> list[Output]:
        scene_id = request_scene_id(
            event, delivery.subject, delivery.stream_seq, delivery.stored_at
        )
        seed = event.options.seed
        if len(event.prompt) > self.limits.max_prompt_chars:
            raise BadInput(
                f"the prompt has {len(event.prompt)} characters; "
                f"planner.max_prompt_chars allows {self.limits.max_prompt_chars}",
                code="prompt_too_long",
            )
        layout, source = await self._plan(event.prompt, seed)
        if not layout.objects:
            reasons = "; ".join(f"{u.category}: {u.reason}" for u in layout.unplaced)
            raise Permanent(f"no object could be placed ({reasons})", code="empty_layout")
        log.info(
            "layout planned",
            scene_id=scene_id,
            room=layout.room.type,
            objects=len(layout.objects),
            unplaced=len(layout.unplaced),
            understood_by=source,
        )
        ready = LayoutReady(
            scene_id=scene_id,
            producer=self.producer,
            prompt=event.prompt,
            seed=seed,
            layout=layout,
            understood_by=source,
            priority=event.options.priority,
        )
        return [Output(subject(Subject.LAYOUT_READY, scene_id), ready, msg_id(STAGE, scene_id))]


def llm_understander(client: ChatCompletions, *, fallback: bool) -> LLMUnderstander[SceneSpec]:
    """The LLM understanding of scene specs over ``client``, created once at start-up."""
    from services.planner.spec import SceneSpec
    from services.planner.understanding import understand

    return LLMUnderstander(
        client,
        SceneSpec,
        instructions=INSTRUCTIONS,
        fallback=understand if fallback else None,
        schema_name="scene_spec",
    )
