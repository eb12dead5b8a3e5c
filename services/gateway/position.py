"""A stream position that only moves forward, and waiting for it.

The projection's applied sequence and the read model's caught-up sequence are both one:
readers wait for a sequence to be reached, or for something they read to pass a check
as the position moves.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


class Position:
    def __init__(self, seq: int = 0) -> None:
        self.seq = seq
        self._changed = asyncio.Condition()

    async def advance(self, seq: int) -> None:
        """Move to ``seq`` (never back) and wake the waiters."""
        async with self._changed:
            self.seq = max(self.seq, seq)
            self._changed.notify_all()

    async def reached(self, seq: int, timeout: float) -> bool:
        """Wait until the position is at ``seq`` or past it; False after ``timeout`` s."""
        if self.seq >= seq:
            return True
        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(lambda: self.seq >= seq), timeout)
            except TimeoutError:
                return False
        return True

    async def until(
        self,
        passes: Callable[[], Awaitable[bool]],
        timeout: float,
        reached: Callable[[int, float], Awaitable[bool]] | None = None,
    ) -> bool:
        """Wait until ``passes()`` holds, looking again each time the position moves;
        False if it still fails after ``timeout`` seconds. ``reached`` waits for a
        position (:meth:`reached` unless given)."""
        wait = reached or self.reached
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            # Taken before the look, so a move during the look is not waited past.
            seq = self.seq
            if await passes():
                return True
            remaining = deadline - loop.time()
            if remaining <= 0 or not await wait(seq + 1, remaining):
                return await passes()
