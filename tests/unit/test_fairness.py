"""Backend slots of a stage: bounded, interactive first, round-robin over scenes."""

from __future__ import annotations

import asyncio

import pytest

from shared.fairness import FairSlots, backend_turn, in_turn


async def _order_of_service(slots: FairSlots, waiters: list[tuple[str, str]]) -> list[str]:
    """Hold every slot, queue ``waiters`` (priority, scene) in order, then release one at a
    time and record who got the slot."""
    served: list[str] = []
    hold = asyncio.Event()
    holders = [
        asyncio.create_task(_hold(slots, "interactive", "first", hold)) for _ in range(slots.limit)
    ]
    await _until(lambda: slots.busy == slots.limit)

    async def wait(priority: str, scene: str, n: int) -> None:
        async with slots.slot(priority, scene):
            served.append(f"{scene}:{n}")

    tasks = []
    for n, (priority, scene) in enumerate(waiters):
        tasks.append(asyncio.create_task(wait(priority, scene, n)))
        await _until(lambda n=n: slots.waiting == n + 1)
    hold.set()
    async with asyncio.timeout(5):
        await asyncio.gather(*holders, *tasks)
    return served


async def _hold(slots: FairSlots, priority: str, scene: str, until: asyncio.Event) -> None:
    async with slots.slot(priority, scene):
        await until.wait()


async def _until(condition) -> None:
    async with asyncio.timeout(5):
        while not condition():
            await asyncio.sleep(0)


async def test_no_more_holders_than_slots() -> None:
    slots = FairSlots(3)
    holding = most = 0

    async def work() -> None:
        nonlocal holding, most
        async with slots.slot("batch", "s"):
            holding += 1
            most = max(most, holding)
            await asyncio.sleep(0.01)
            holding -= 1

    await asyncio.gather(*(work() for _ in range(20)))
    assert most == 3
    assert slots.busy == 0 and slots.waiting == 0


async def test_interactive_work_is_served_before_batch_work_queued_earlier() -> None:
    served = await _order_of_service(
        FairSlots(1),
        [("batch", "b"), ("batch", "b"), ("interactive", "i"), ("batch", "c")],
    )
    assert served[0] == "i:2"


async def test_a_later_scene_takes_turns_with_an_earlier_one() -> None:
    waiters = [("batch", "early")] * 5 + [("batch", "late")] * 2
    served = await _order_of_service(FairSlots(1), waiters)
    assert served[:4] == ["early:0", "late:5", "early:1", "late:6"]


async def test_a_cancelled_waiter_gives_up_its_place_and_leaks_no_slot() -> None:
    slots = FairSlots(1)
    release = asyncio.Event()
    holder = asyncio.create_task(_hold(slots, "batch", "a", release))
    await _until(lambda: slots.busy == 1)
    waiter = asyncio.create_task(_hold(slots, "batch", "b", asyncio.Event()))
    await _until(lambda: slots.waiting == 1)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert slots.waiting == 0
    release.set()
    await holder
    assert slots.busy == 0
    async with asyncio.timeout(1), slots.slot("interactive", "c"):
        assert slots.busy == 1


def test_a_stage_needs_a_slot() -> None:
    with pytest.raises(ValueError, match="at least one backend slot"):
        FairSlots(0)


class _RemoteBackend:
    """Prepares, takes its turn for the remote call, then post-processes."""

    takes_turns = True

    def __init__(self, slots: FairSlots) -> None:
        self.slots = slots
        self.busy_seen: list[int] = []

    async def generate(self) -> str:
        self.busy_seen.append(self.slots.busy)  # preparing: no slot yet
        async with backend_turn():
            self.busy_seen.append(self.slots.busy)
            async with backend_turn():  # a nested call takes no second slot
                self.busy_seen.append(self.slots.busy)
        self.busy_seen.append(self.slots.busy)  # post-processing: the slot is free again
        return "mesh"


class _Event:
    priority = "interactive"
    scene_id = "s1"


async def test_a_remote_backend_holds_the_slot_for_its_call_alone() -> None:
    slots = FairSlots(2)
    backend = _RemoteBackend(slots)
    assert await in_turn(slots, backend, _Event(), backend.generate) == "mesh"
    assert backend.busy_seen == [0, 1, 1, 0]


async def test_a_local_backend_holds_the_slot_for_the_whole_call() -> None:
    slots = FairSlots(1)
    seen: list[int] = []

    async def call() -> None:
        seen.append(slots.busy)

    await in_turn(slots, object(), _Event(), call)
    assert seen == [1] and slots.busy == 0


async def test_without_a_turn_a_backend_call_takes_no_slot() -> None:
    async with backend_turn():
        pass  # called outside any work: nothing to hold
