"""Each scene's current attempt and how it ended, shared by every replica of every stage.

A scene has numbered attempts (a replay begins the next one). Each attempt ends once:
the first to *claim* an end for it in the JetStream key-value bucket
:data:`~shared.contract.SCENE_STATE_BUCKET` (a compare-and-set on the scene's key) is the
one that publishes ``scene.ready``, ``scene.failed`` or ``scene.cancelled``; a later claim
learns who won and publishes nothing. Stages look the state up before any backend work
and drop the work of an attempt that has ended or been superseded.

The claim stores the end event itself, so the claimer can publish it again if it died
between the claim and the publish (its message is redelivered, finds its own claim and
re-sends the event under the same ``Nats-Msg-Id``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, Protocol

from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.cache import open_bucket
from shared.contract import MAX_ATTEMPTS, SCENE_STATE_BUCKET

TerminalState = Literal["SUCCEEDED", "FAILED", "CANCELLED"]
StateName = Literal["RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"]

# Compare-and-set rounds before a contended key is reported as unavailable.
_CAS_ROUNDS = 50


class SceneState(BaseModel):
    """A scene's current attempt; once it ended, who ended it, how, and the event."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    attempt: int = Field(default=1, ge=1, le=MAX_ATTEMPTS)
    state: StateName = "RUNNING"
    msg_id: str = ""
    subject: str = ""
    event: str = ""

    @property
    def ended(self) -> bool:
        return self.state != "RUNNING"


class StateUnavailable(RuntimeError):
    """The state bucket could not be updated (contention or an outage)."""


class SceneStates(Protocol):
    async def get(self, scene_id: str) -> SceneState | None: ...

    async def claim(self, scene_id: str, end: SceneState) -> SceneState:
        """Record ``end`` for its attempt unless that attempt already ended or a later
        one began; return the state that holds."""
        ...

    async def begin(self, scene_id: str, attempt: int) -> SceneState:
        """Make ``attempt`` the current one unless a later one began; return what holds."""
        ...


def _claim_wins(held: SceneState | None, end: SceneState) -> bool:
    if held is None:
        return True
    if held.attempt != end.attempt:
        return held.attempt < end.attempt
    return not held.ended


def _begin_wins(held: SceneState | None, attempt: int) -> bool:
    return held is None or held.attempt < attempt


class KvSceneStates:
    """Scene states in the JetStream key-value store (kept as long as the stream's history)."""

    def __init__(self, kv: KeyValue):
        self._kv = kv

    @classmethod
    async def open(
        cls, js: JetStreamContext, max_age_s: float, *, replicas: int = 1
    ) -> KvSceneStates:
        kv = await open_bucket(
            js,
            SCENE_STATE_BUCKET,
            "Holodeck: each scene's attempt and how it ended",
            max_age_s,
            replicas=replicas,
        )
        return cls(kv)

    async def _read(self, scene_id: str) -> tuple[SceneState | None, int]:
        try:
            entry = await self._kv.get(scene_id)
        except KeyNotFoundError:
            return None, 0
        try:
            return SceneState.model_validate_json(entry.value or b""), entry.revision or 0
        except ValidationError:
            # Unreadable (written by hand?): treated as absent, overwritten by the next write.
            return None, entry.revision or 0

    async def get(self, scene_id: str) -> SceneState | None:
        state, _ = await self._read(scene_id)
        return state

    async def _swap(
        self, scene_id: str, new: SceneState, wins: Callable[[SceneState | None], bool]
    ) -> SceneState:
        for _ in range(_CAS_ROUNDS):
            held, revision = await self._read(scene_id)
            if not wins(held):
                assert held is not None
                return held
            value = new.model_dump_json().encode()
            try:
                if revision:
                    await self._kv.update(scene_id, value, last=revision)
                else:
                    await self._kv.create(scene_id, value)
            except KeyWrongLastSequenceError:
                continue  # someone wrote in between: look again
            return new
        raise StateUnavailable(f"the state of scene {scene_id} keeps changing under us")

    async def claim(self, scene_id: str, end: SceneState) -> SceneState:
        return await self._swap(scene_id, end, lambda held: _claim_wins(held, end))

    async def begin(self, scene_id: str, attempt: int) -> SceneState:
        return await self._swap(
            scene_id, SceneState(attempt=attempt), lambda held: _begin_wins(held, attempt)
        )


class MemorySceneStates:
    """The same semantics in process memory, for work and runner tests without NATS."""

    def __init__(self) -> None:
        self.states: dict[str, SceneState] = {}

    async def get(self, scene_id: str) -> SceneState | None:
        return self.states.get(scene_id)

    async def claim(self, scene_id: str, end: SceneState) -> SceneState:
        held = self.states.get(scene_id)
        if not _claim_wins(held, end):
            assert held is not None
            return held
        self.states[scene_id] = end
        return end

    async def begin(self, scene_id: str, attempt: int) -> SceneState:
        held = self.states.get(scene_id)
        if not _begin_wins(held, attempt):
            assert held is not None
            return held
        self.states[scene_id] = SceneState(attempt=attempt)
        return self.states[scene_id]
