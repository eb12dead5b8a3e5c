"""Feeding the projection from the stream: follow it live, or rebuild it from the start.

Both read through an ordered push consumer rather than a pull consumer. A projection
needs every message exactly in stream order and acknowledges nothing (its position lives
in its own database), which is what an ordered consumer is: ephemeral, in memory, no
acks, flow-controlled, and re-created by the client at the next stream sequence after a
gap, a missed heartbeat or a reconnect. A non-durable pull consumer would need acks or
our own re-creation logic for the same result.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy

from shared.contract import stored_at
from shared.errors import RetryLater
from shared.logs import get_logger

log = get_logger(__name__)

# A rebuild that hears nothing for this long while the stream says more is there fails.
REBUILD_IDLE_S = 30.0
HEARTBEAT_S = 1.0
RETRY_FIRST_S = 0.1
RETRY_MAX_S = 10.0
# How often a follower asks the stream for its last sequence, to measure its lag.
STREAM_POLL_S = 2.0
# A projection behind the stream that has not moved for this long is reported stalled.
STALL_AFTER_S = 30.0


@dataclass
class Lag:
    """How far a following projection is behind its stream, for health and metrics.

    ``moved_at`` is when the projection last advanced or was last seen caught up, so an
    idle projection is never "stalled" and one stuck behind the stream is, however long
    it was idle before.
    """

    stall_after_s: float = STALL_AFTER_S
    clock: Callable[[], float] = time.monotonic
    stream_last_seq: int | None = None
    stream_first_seq: int = 0
    applied_seq: int = 0
    moved_at: float = field(default=0.0)
    last_error: str | None = None
    following: bool = False

    def __post_init__(self) -> None:
        self.moved_at = self.clock()

    def applied(self, seq: int) -> None:
        if seq > self.applied_seq:
            self.applied_seq = seq
            self.moved_at = self.clock()
        # The stream holds at least what was applied from it (its size is sampled now and then).
        if self.stream_last_seq is not None and seq > self.stream_last_seq:
            self.stream_last_seq = seq
        self.last_error = None

    def stream_at(self, last_seq: int, first_seq: int = 0) -> None:
        """What the stream holds now: messages ``first_seq`` to ``last_seq``."""
        # Caught up, or caught up at the previous look: the clock of a stall starts now.
        was_caught_up = self.behind() == 0
        self.stream_last_seq = last_seq
        # Messages removed before they were applied (purged, expired) cannot be waited on.
        self.stream_first_seq = first_seq
        if was_caught_up or self.behind() == 0:
            self.moved_at = self.clock()

    def behind(self) -> int:
        """Messages the stream holds that the projection has not applied."""
        if self.stream_last_seq is None:
            return 0
        done = max(self.applied_seq, self.stream_first_seq - 1)
        return max(0, self.stream_last_seq - done)

    def failed(self, error: str) -> None:
        self.last_error = error

    def report(self) -> tuple[bool, dict[str, Any]]:
        """(healthy, details): unhealthy when behind and not moving for ``stall_after_s``."""
        behind = self.behind()
        stalled_s = self.clock() - self.moved_at if behind else 0.0
        details: dict[str, Any] = {
            "stream_last_seq": self.stream_last_seq,
            "applied_seq": self.applied_seq,
            "behind": behind,
            "stalled_s": round(stalled_s, 1),
        }
        problem = None
        if not self.following:
            problem = "the projection is not following the stream"
        elif behind and stalled_s >= self.stall_after_s:
            problem = (
                f"the projection is stalled at stream sequence {self.applied_seq}, "
                f"{behind} behind the stream, for {stalled_s:.0f}s"
            )
        if problem and self.last_error:
            problem += f"; last error: {self.last_error}"
        if problem:
            details["reason"] = problem
        elif self.last_error:
            details["last_error"] = self.last_error
        return problem is None, details


# At most this many messages already received are applied in one transaction.
BATCH_MAX = 256


class Applier(Protocol):
    def last_seq(self) -> int: ...

    async def apply_many(self, events: Sequence[tuple[str, bytes, int, datetime]]) -> None: ...


async def _subscribe(js: JetStreamContext, stream: str, start_seq: int) -> Subscription:
    # ">" with the stream named: every subject of the stream, whatever its subjects are.
    return await js.subscribe(
        ">",
        stream=stream,
        ordered_consumer=True,
        # Missed heartbeats are how a lost consumer (a restarted server) is noticed and
        # made again: a short beat keeps the gateway's view seconds, not tens, behind.
        idle_heartbeat=HEARTBEAT_S,
        config=ConsumerConfig(
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=start_seq
        ),
    )


async def _apply(projection: Applier, msgs: list[Msg]) -> None:
    await projection.apply_many(
        [
            (
                m.subject,
                m.data,
                m.metadata.sequence.stream,
                stored_at(m.headers, m.metadata.timestamp),
            )
            for m in msgs
        ]
    )


async def _with_waiting(sub: Subscription, first: Msg, limit: int = BATCH_MAX) -> list[Msg]:
    """``first`` and the messages already received behind it, up to ``limit``."""
    batch = [first]
    while len(batch) < limit and sub.pending_msgs > 0:
        batch.append(await sub.next_msg(timeout=1))
    return batch


async def follow(
    js: JetStreamContext,
    stream: str,
    projection: Applier,
    stop: asyncio.Event,
    lag: Lag | None = None,
) -> None:
    """Apply every event of ``stream`` after the projection's position, in order,
    until ``stop`` is set. An empty stream is simply waited on; a lost subscription is
    made again from the position. ``lag`` is kept up to date for health."""
    lag = lag if lag is not None else Lag()
    lag.applied(projection.last_seq())
    polling = asyncio.create_task(_poll_stream(js, stream, lag, stop))
    lag.following = True
    delay = RETRY_FIRST_S
    try:
        while not stop.is_set():
            try:
                await _follow_once(js, stream, projection, stop, lag)
                delay = RETRY_FIRST_S
            except Exception as exc:
                lag.failed(f"following the stream: {exc!r}")
                log.error("following the stream failed, again soon", error=repr(exc))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
                delay = min(delay * 2, RETRY_MAX_S)
    finally:
        lag.following = False
        polling.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await polling
    log.info("stopped following the stream", stream=stream, last_seq=projection.last_seq())


async def _follow_once(
    js: JetStreamContext, stream: str, projection: Applier, stop: asyncio.Event, lag: Lag
) -> None:
    start = projection.last_seq() + 1
    info = await js.stream_info(stream)
    lag.stream_at(info.state.last_seq, info.state.first_seq)
    if start - 1 > info.state.last_seq:
        log.error(
            "projection is ahead of the stream: it was built from another stream; rebuild it",
            stream=stream,
            projection_seq=start - 1,
            stream_last_seq=info.state.last_seq,
        )
    sub = await _subscribe(js, stream, start)
    log.info("following the stream", stream=stream, from_seq=start)
    stopping = asyncio.create_task(stop.wait())
    try:
        while not stop.is_set():
            receiving = asyncio.create_task(sub.next_msg(timeout=None))
            await asyncio.wait({receiving, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not receiving.done():
                receiving.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await receiving
                break
            batch = await _with_waiting(sub, receiving.result())
            await _apply_retrying(projection, batch, stop, lag)
    finally:
        stopping.cancel()
        with contextlib.suppress(Exception):
            await sub.unsubscribe()


async def _poll_stream(js: JetStreamContext, stream: str, lag: Lag, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            info = await js.stream_info(stream)
            lag.stream_at(info.state.last_seq, info.state.first_seq)
        except Exception as exc:
            log.debug("stream info unavailable", stream=stream, error=repr(exc))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), STREAM_POLL_S)


async def _apply_retrying(
    projection: Applier, msgs: list[Msg], stop: asyncio.Event, lag: Lag | None = None
) -> None:
    # The projection keeps events it cannot apply as dead letters itself; what reaches
    # here is the database being away. Skipping would lose the events for good: retry
    # the same ones until they go in or we are stopped.
    delay = RETRY_FIRST_S
    while True:
        try:
            await _apply(projection, msgs)
            if lag is not None:
                lag.applied(msgs[-1].metadata.sequence.stream)
            return
        except Exception as exc:
            if lag is not None:
                lag.failed(repr(exc))
            log.error(
                "events not applied, retrying",
                subject=msgs[0].subject,
                stream_seq=msgs[0].metadata.sequence.stream,
                messages=len(msgs),
                error=repr(exc),
                retry_in_s=delay,
            )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
        if stop.is_set():
            return
        delay = min(delay * 2, RETRY_MAX_S)


async def rebuild(js: JetStreamContext, stream: str, projection: Applier) -> int:
    """Apply the stream from sequence 1 up to its current last sequence; return how many
    messages were read. Meant for a fresh database: applied sequences are skipped."""
    return await catch_up(js, stream, projection, start_seq=1)


async def catch_up(
    js: JetStreamContext, stream: str, projection: Applier, *, start_seq: int | None = None
) -> int:
    """Apply what the stream holds after the projection's position (or from ``start_seq``)
    up to its current last sequence, then return how many messages were read."""
    start = start_seq if start_seq is not None else projection.last_seq() + 1
    info = await js.stream_info(stream)
    last = info.state.last_seq
    if info.state.messages == 0 or last == 0 or start > last:
        return 0
    sub = await _subscribe(js, stream, start)
    count = 0
    try:
        while True:
            try:
                msg = await sub.next_msg(timeout=REBUILD_IDLE_S)
            except NatsTimeout:
                raise RetryLater(
                    f"stream {stream} delivered nothing for {REBUILD_IDLE_S:.0f}s after "
                    f"{count} messages (last sequence {last})",
                    code="rebuild_stalled",
                ) from None
            batch = [msg]
            # Not past ``last``: what arrives after it is for a follower, not this run.
            while batch[-1].metadata.sequence.stream < last and batch[-1].metadata.num_pending:
                if len(batch) >= BATCH_MAX or sub.pending_msgs == 0:
                    break
                batch.append(await sub.next_msg(timeout=REBUILD_IDLE_S))
            await _apply(projection, batch)
            count += len(batch)
            meta = batch[-1].metadata
            # num_pending 0: the messages up to ``last`` that remain were deleted meanwhile.
            if meta.sequence.stream >= last or meta.num_pending == 0:
                break
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()
    log.info("projection caught up", stream=stream, messages=count, last_seq=last)
    return count
