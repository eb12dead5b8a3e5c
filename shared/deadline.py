"""The deadline of one message's work, which waiting for a backend does not spend.

A stage abandons work that runs past ``nats.work_deadline_s`` (a stalled call is given
back to JetStream and retried). Time a message waits for its turn at a backend — a
one-at-a-time server busy with other objects, a pool whose servers are all taken — is not
a stall: inside :func:`paused` the deadline does not run, and when the wait ends the work
has its whole deadline again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar


class WorkDeadline:
    """One message's deadline: an entered :func:`asyncio.timeout` that waits suspend."""

    def __init__(self, timeout: asyncio.Timeout, span_s: float):
        self.timeout = timeout
        self.span_s = span_s
        self._waits = 0

    def pause(self) -> None:
        self._waits += 1
        if self._waits == 1:
            self._reschedule(None)

    def resume(self) -> None:
        self._waits -= 1
        if self._waits == 0:
            self._reschedule(asyncio.get_running_loop().time() + self.span_s)

    def _reschedule(self, when: float | None) -> None:
        if self.timeout.expired():
            return
        with contextlib.suppress(RuntimeError):  # not entered yet, or already left
            self.timeout.reschedule(when)


_CURRENT: ContextVar[WorkDeadline | None] = ContextVar("holodeck_work_deadline", default=None)


@contextmanager
def governing(deadline: WorkDeadline) -> Iterator[None]:
    """Tasks created inside this block pause ``deadline`` in :func:`paused`."""
    token = _CURRENT.set(deadline)
    try:
        yield
    finally:
        _CURRENT.reset(token)


@contextmanager
def paused() -> Iterator[None]:
    """The work waits for a backend's turn: its deadline stops for the block, then counts
    from the start again."""
    deadline = _CURRENT.get()
    if deadline is None:
        yield
        return
    deadline.pause()
    try:
        yield
    finally:
        deadline.resume()
