"""Backend slots of one stage in one replica, handed out fairly.

A replica takes more messages from its durables than it makes backend calls at once
(``performance.prefetch`` against ``performance.concurrent_workers``): a message waiting
for an identical object made elsewhere, or for a slot, holds no backend slot, so the
backend always has ``concurrent_workers`` calls in flight while work is in hand.

When a slot frees it goes to the next waiter in this order:

1. the interactive lane before the batch lane (``options.priority`` of the request);
2. within a lane, round-robin over scenes: the scene whose waiter was served least
   recently goes first, so one big or early scene does not starve a later one.

Across replicas the lanes are JetStream durables of their own (``imagegen`` /
``imagegen-batch``, ``meshgen`` / ``meshgen-batch``), so an interactive object never
waits behind the batch backlog still in the stream, only behind the calls in flight.

A remote backend (``takes_turns = True``) holds the slot for its remote call alone: the
work hands it its turn (:func:`turns_from`) and the backend's server pool takes it
(:func:`backend_turn`) around the request, so reading the input image, decoding and
normalising the answer happen while the GPU already serves the next object.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, TypeVar

from shared import metrics
from shared.contract import PRIORITIES, Priority

T = TypeVar("T")


class FairSlots:
    """At most ``limit`` holders at once; waiters served by lane, then scene round-robin."""

    def __init__(self, limit: int, stage: str = ""):
        if limit < 1:
            raise ValueError(f"a stage needs at least one backend slot, got {limit}")
        self.limit = limit
        self.stage = stage
        self.busy = 0
        self._lanes: dict[str, OrderedDict[str, deque[asyncio.Future[None]]]] = {
            lane: OrderedDict() for lane in PRIORITIES
        }

    @property
    def waiting(self) -> int:
        return sum(len(q) for lane in self._lanes.values() for q in lane.values())

    @contextlib.asynccontextmanager
    async def slot(self, priority: Priority | str, scene_id: str) -> AsyncIterator[None]:
        """Hold one slot for the block, after waiting for one if all are busy."""
        await self._acquire(priority, scene_id)
        self._export()
        try:
            yield
        finally:
            self._release()
            self._export()

    def _export(self) -> None:
        if not self.stage:
            return
        metrics.BACKEND_SLOTS_BUSY.labels(self.stage).set(self.busy)
        for name, lane in self._lanes.items():
            waiting = sum(len(q) for q in lane.values())
            metrics.BACKEND_SLOT_WAITERS.labels(self.stage, name).set(waiting)

    async def _acquire(self, priority: str, scene_id: str) -> None:
        if self.busy < self.limit and not self.waiting:
            self.busy += 1
            return
        lane = self._lanes.get(priority, self._lanes[PRIORITIES[-1]])
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        lane.setdefault(scene_id, deque()).append(future)
        self._export()
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self._release()  # granted as it was cancelled: pass the slot on
            else:
                self._forget(lane, scene_id, future)
            raise

    def _release(self) -> None:
        self.busy -= 1
        for lane in self._lanes.values():
            while lane:
                scene_id, queue = next(iter(lane.items()))
                future = queue.popleft()
                if queue:
                    lane.move_to_end(scene_id)  # the scene's next waiter queues behind others
                else:
                    del lane[scene_id]
                if future.done():
                    continue
                self.busy += 1
                future.set_result(None)
                return

    @staticmethod
    def _forget(
        lane: OrderedDict[str, deque[asyncio.Future[None]]],
        scene_id: str,
        future: asyncio.Future[None],
    ) -> None:
        queue = lane.get(scene_id)
        if queue is None:
            return
        with contextlib.suppress(ValueError):
            queue.remove(future)
        if not queue:
            del lane[scene_id]


# The turn the running work gives its backend: the slots, the work's lane and scene.
_TURN: contextvars.ContextVar[tuple[FairSlots, str, str] | None] = contextvars.ContextVar(
    "backend_turn", default=None
)


@contextlib.contextmanager
def turns_from(slots: FairSlots, priority: str, scene_id: str) -> Iterator[None]:
    """Within the block, the backend takes one of ``slots`` for its remote call."""
    token = _TURN.set((slots, priority, scene_id))
    try:
        yield
    finally:
        _TURN.reset(token)


@contextlib.asynccontextmanager
async def backend_turn() -> AsyncIterator[None]:
    """Hold the calling work's slot for the block, if the work gave one (once: a call
    inside the turn takes no second slot)."""
    given = _TURN.get()
    if given is None:
        yield
        return
    slots, priority, scene_id = given
    token = _TURN.set(None)
    try:
        async with slots.slot(priority, scene_id):
            yield
    finally:
        _TURN.reset(token)


async def in_turn(
    slots: FairSlots | None, backend: Any, event: Any, call: Callable[[], Awaitable[T]]
) -> T:
    """``call()`` of ``event``'s work (its ``priority`` and ``scene_id``) within one of
    ``slots``: around the whole call, or only around the remote request of a backend
    that ``takes_turns``."""
    if slots is None:
        return await call()
    if getattr(backend, "takes_turns", False):
        with turns_from(slots, event.priority, event.scene_id):
            return await call()
    async with slots.slot(event.priority, event.scene_id):
        return await call()
