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
from datetime import datetime
from typing import Protocol

from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy

from shared.errors import RetryLater
from shared.logs import get_logger

log = get_logger(__name__)

# A rebuild that hears nothing for this long while the stream says more is there fails.
REBUILD_IDLE_S = 30.0
RETRY_FIRST_S = 0.1
RETRY_MAX_S = 10.0


class Applier(Protocol):
    def last_seq(self) -> int: ...

    async def apply(
        self, subject: str, data: bytes, stream_seq: int, stored_at: datetime
    ) -> None: ...


async def _subscribe(js: JetStreamContext, stream: str, start_seq: int) -> Subscription:
    # ">" with the stream named: every subject of the stream, whatever its subjects are.
    return await js.subscribe(
        ">",
        stream=stream,
        ordered_consumer=True,
        config=ConsumerConfig(
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=start_seq
        ),
    )


async def _apply(projection: Applier, msg: Msg) -> None:
    meta = msg.metadata
    await projection.apply(msg.subject, msg.data, meta.sequence.stream, meta.timestamp)


async def follow(
    js: JetStreamContext, stream: str, projection: Applier, stop: asyncio.Event
) -> None:
    """Apply every event of ``stream`` after the projection's position, in order,
    until ``stop`` is set. An empty stream is simply waited on."""
    start = projection.last_seq() + 1
    info = await js.stream_info(stream)
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
            await _apply_retrying(projection, receiving.result(), stop)
    finally:
        stopping.cancel()
        with contextlib.suppress(Exception):
            await sub.unsubscribe()
    log.info("stopped following the stream", stream=stream, last_seq=projection.last_seq())


async def _apply_retrying(projection: Applier, msg: Msg, stop: asyncio.Event) -> None:
    # Skipping an event the database could not take would lose it for good: retry the
    # same one (the database is down or locked) until it goes in or we are stopped.
    delay = RETRY_FIRST_S
    while True:
        try:
            await _apply(projection, msg)
            return
        except Exception as exc:
            log.error(
                "event not applied, retrying",
                subject=msg.subject,
                stream_seq=msg.metadata.sequence.stream,
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
            await _apply(projection, msg)
            count += 1
            meta = msg.metadata
            # num_pending 0: the messages up to ``last`` that remain were deleted meanwhile.
            if meta.sequence.stream >= last or meta.num_pending == 0:
                break
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()
    log.info("projection caught up", stream=stream, messages=count, last_seq=last)
    return count
