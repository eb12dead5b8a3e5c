"""Each scene's terminal state, shared by every replica of every stage.

A scene ends once: the first stage to *claim* a terminal state for it in the JetStream
key-value bucket :data:`~shared.contract.SCENE_STATE_BUCKET` (an atomic ``create``) is the
one that publishes ``scene.ready`` or ``scene.failed``; a later claim learns who won and
publishes nothing. Stages look the state up before any backend work and drop the work of
a scene that has ended.

The claim stores the terminal event itself, so the claimer can publish it again if it
died between the claim and the publish (its message is redelivered, finds its own claim
and re-sends the event under the same ``Nats-Msg-Id``).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Literal, Protocol

from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue
from pydantic import BaseModel, ConfigDict, ValidationError

from shared.cache import open_bucket
from shared.contract import SCENE_STATE_BUCKET

TerminalState = Literal["SUCCEEDED", "FAILED", "CANCELLED"]

# Terminal states never change, so replicas remember them; this bounds that memory.
_REMEMBERED = 50_000


class Terminal(BaseModel):
    """Who ended a scene, how, and the event that says so."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    state: TerminalState
    msg_id: str
    subject: str
    event: str


class SceneStates(Protocol):
    async def terminal(self, scene_id: str) -> Terminal | None: ...

    async def claim(self, scene_id: str, claim: Terminal) -> Terminal:
        """Record ``claim`` unless the scene already ended; return the state that holds."""
        ...


class KvSceneStates:
    """Scene states in the JetStream key-value store (kept as long as the stream's history)."""

    def __init__(self, kv: KeyValue):
        self._kv = kv
        self._known: OrderedDict[str, Terminal] = OrderedDict()

    @classmethod
    async def open(cls, js: JetStreamContext, max_age_s: float) -> KvSceneStates:
        kv = await open_bucket(
            js, SCENE_STATE_BUCKET, "Holodeck: each scene's terminal state", max_age_s
        )
        return cls(kv)

    async def terminal(self, scene_id: str) -> Terminal | None:
        known = self._known.get(scene_id)
        if known is not None:
            return known
        try:
            entry = await self._kv.get(scene_id)
        except KeyNotFoundError:
            return None
        return self._remember(scene_id, entry.value)

    async def claim(self, scene_id: str, claim: Terminal) -> Terminal:
        try:
            await self._kv.create(scene_id, claim.model_dump_json().encode())
        except KeyWrongLastSequenceError:
            held = await self.terminal(scene_id)
            if held is not None:
                return held
            # The key exists but cannot be read as a state (deleted or garbled): take it.
            await self._kv.put(scene_id, claim.model_dump_json().encode())
        self._known[scene_id] = claim
        return claim

    def _remember(self, scene_id: str, value: bytes | None) -> Terminal | None:
        try:
            state = Terminal.model_validate_json(value or b"")
        except ValidationError:
            return None
        self._known[scene_id] = state
        if len(self._known) > _REMEMBERED:
            self._known.popitem(last=False)
        return state


class MemorySceneStates:
    """The same semantics in process memory, for work and runner tests without NATS."""

    def __init__(self) -> None:
        self.states: dict[str, Terminal] = {}

    async def terminal(self, scene_id: str) -> Terminal | None:
        return self.states.get(scene_id)

    async def claim(self, scene_id: str, claim: Terminal) -> Terminal:
        return self.states.setdefault(scene_id, claim)
