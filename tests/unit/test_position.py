"""Waiting on a stream position that only moves forward."""

from __future__ import annotations

import asyncio

from services.gateway.position import Position


async def test_reached_waits_for_the_position_and_times_out_short_of_it() -> None:
    position = Position(3)
    assert await position.reached(3, 0)
    waiting = asyncio.create_task(position.reached(5, 5))
    await position.advance(4)
    await asyncio.sleep(0)
    assert not waiting.done()
    await position.advance(6)
    assert await waiting
    await position.advance(2)  # never back
    assert position.seq == 6
    assert not await position.reached(7, 0.05)


async def test_until_sees_a_change_made_while_it_looked() -> None:
    position = Position()
    state = {"done": False}

    async def passes() -> bool:
        seen = state["done"]
        if not seen:
            # The change lands (and the position moves) during this look.
            state["done"] = True
            await position.advance(1)
        return seen

    assert await position.until(passes, 5)


async def test_until_is_false_when_nothing_passes_in_time() -> None:
    position = Position()

    async def never() -> bool:
        return False

    assert not await position.until(never, 0.05)
