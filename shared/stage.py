"""The message semantics every stage shares, in one place.

A stage's work is a plain async function from an input event to the output events.
:class:`StageRunner` wraps it with what DESIGN.md promises for every message:

- parse and validate; a malformed message is terminated at once with a logged reason
  (and a ``scene.failed`` when a scene id can be read), never retried;
- keep the message alive (``in_progress``) while the work runs;
- publish every output with its deterministic ``Nats-Msg-Id`` and wait for JetStream's
  acknowledgement, then acknowledge the input;
- a :class:`RetryLater` or an unexpected error naks with exponential backoff; on the last
  attempt, or on a :class:`Permanent` error, publish ``scene.failed`` and terminate.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.errors import APIError
from pydantic import BaseModel

from shared import metrics
from shared.config import NatsSettings
from shared.contract import (
    MalformedEvent,
    SceneFailed,
    Subject,
    encode,
    msg_id,
    parse_event,
    root_of,
    subject,
)
from shared.errors import HolodeckError, Permanent, RetryLater
from shared.logs import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class Output:
    """One event to publish, with its subject and deterministic message id."""

    subject: str
    event: BaseModel
    msg_id: str


@dataclass(frozen=True)
class Delivery:
    """What JetStream says about the message being handled."""

    subject: str
    stream_seq: int
    stored_at: datetime
    attempt: int


Work = Callable[[Any, Delivery], Awaitable[Sequence[Output]]]


class StageRunner:
    """Runs one stage's work function under the pipeline's message semantics."""

    def __init__(
        self,
        stage: str,
        work: Work,
        js: JetStreamContext,
        settings: NatsSettings,
        producer: str,
    ):
        self.stage = stage
        self.work = work
        self.js = js
        self.settings = settings
        self.producer = producer
        self._errors = metrics.error_window(stage)
        self._inflight: set[asyncio.Task[Any]] = set()
        self.closing = False
        # Seconds from JetStream storing a message to this stage starting on it.
        self.recent_delays: deque[float] = deque(maxlen=10_000)

    async def handle(self, msg: Msg) -> None:
        """Process one delivered message to a final ack, nak or term."""
        if self.closing:
            # Shutting down: hand the message straight back to another replica.
            await msg.nak()
            return
        task = asyncio.current_task()
        if task is not None:
            self._inflight.add(task)
        started = time.perf_counter()
        outcome = "error"
        try:
            outcome = await self._handle(msg)
        except asyncio.CancelledError:
            # Cancelled mid-work (a forced stop): give the message back at once.
            with contextlib.suppress(Exception):
                await msg.nak()
            outcome = "cancelled"
            raise
        finally:
            if task is not None:
                self._inflight.discard(task)
            elapsed = time.perf_counter() - started
            endpoint = root_of(msg.subject)
            metrics.REQUESTS_TOTAL.labels("nats", endpoint, outcome).inc()
            metrics.REQUEST_DURATION.labels("nats", endpoint).observe(elapsed)
            metrics.STAGE_DURATION.labels(self.stage).observe(elapsed)
            self._errors.record(outcome in ("failed", "malformed", "error"))
            structlog.contextvars.unbind_contextvars("scene_id", "object_id", "stage")

    async def _handle(self, msg: Msg) -> str:
        meta = msg.metadata
        delivery = Delivery(
            subject=msg.subject,
            stream_seq=meta.sequence.stream,
            stored_at=meta.timestamp,
            attempt=meta.num_delivered,
        )
        delay = max(time.time() - delivery.stored_at.timestamp(), 0.0)
        self.recent_delays.append(delay)
        metrics.BUS_DELAY.labels(self.stage).observe(delay)
        structlog.contextvars.bind_contextvars(stage=self.stage)
        try:
            event = parse_event(msg.subject, msg.data)
        except MalformedEvent as exc:
            if exc.scene_id:
                structlog.contextvars.bind_contextvars(scene_id=exc.scene_id)
            log.warning("message terminated: malformed", subject=msg.subject, reason=exc.reason)
            metrics.STAGE_FAILURES.labels(self.stage, "malformed_event").inc()
            if exc.scene_id:
                await self._publish_failure(exc.scene_id, None, "malformed_event", str(exc), False)
            await msg.term()
            return "malformed"

        scene_id = getattr(event, "scene_id", None)
        object_id = getattr(event, "object_id", None)
        structlog.contextvars.bind_contextvars(scene_id=scene_id, object_id=object_id)
        last_attempt = delivery.attempt >= self.settings.max_deliver

        if delivery.attempt > self.settings.max_deliver:
            # The previous worker died during the final attempt.
            await self._fail_terminally(msg, event, RetryLater("worker lost on the last attempt"))
            return "failed"

        heartbeat = _Heartbeat(msg, max(self.settings.ack_wait_s / 3, 0.5))
        try:
            outputs = await self.work(event, delivery)
            await self._publish_all(outputs)
        except Permanent as exc:
            await self._fail_terminally(msg, event, exc)
            return "failed"
        except (RetryLater, Exception) as exc:
            error = exc if isinstance(exc, HolodeckError) else _unexpected(exc)
            if last_attempt:
                await self._fail_terminally(msg, event, error)
                return "failed"
            delay = self._backoff(delivery.attempt, getattr(error, "delay", None))
            log.warning(
                "retrying later",
                attempt=delivery.attempt,
                delay_s=round(delay, 3),
                code=error.code,
                error=error.message,
            )
            metrics.STAGE_RETRIES.labels(self.stage).inc()
            await msg.nak(delay=delay)
            return "retry"
        finally:
            heartbeat.stop()
        await msg.ack()
        return "ok"

    async def _publish_all(self, outputs: Sequence[Output]) -> None:
        if not outputs:
            return
        await asyncio.gather(*(self._publish(out) for out in outputs))

    async def _publish(self, out: Output) -> None:
        try:
            await self.js.publish(
                out.subject, encode(out.event), headers={"Nats-Msg-Id": out.msg_id}, timeout=5
            )
        except (NatsTimeout, APIError, TimeoutError) as exc:
            raise RetryLater(
                f"publish to {out.subject} failed: {exc!r}", code="publish_failed"
            ) from None

    def _backoff(self, attempt: int, hint: float | None) -> float:
        base = self.settings.retry_base_delay_s * (2 ** max(attempt - 1, 0))
        return min(max(base, hint or 0.0), self.settings.retry_max_delay_s)

    async def _fail_terminally(self, msg: Msg, event: Any, error: HolodeckError) -> None:
        scene_id = getattr(event, "scene_id", None)
        object_id = getattr(event, "object_id", None)
        log.error("stage failed", code=error.code, error=error.message, retryable=error.retryable)
        metrics.STAGE_FAILURES.labels(self.stage, error.code).inc()
        metrics.SCENES_TOTAL.labels("FAILED").inc()
        if scene_id:
            try:
                await self._publish_failure(
                    scene_id, object_id, error.code, error.message, error.retryable
                )
            except RetryLater:
                # Without the failure event the scene would hang: let JetStream redeliver.
                await msg.nak(delay=self.settings.retry_max_delay_s)
                return
        await msg.term()

    async def _publish_failure(
        self, scene_id: str, object_id: str | None, code: str, message: str, retryable: bool
    ) -> None:
        failure = SceneFailed(
            scene_id=scene_id,
            producer=self.producer,
            stage=self.stage,
            object_id=object_id,
            code=code,
            message=message[:2000],
            retryable=retryable,
        )
        await self._publish(
            Output(
                subject(Subject.SCENE_FAILED, scene_id),
                failure,
                msg_id(f"failed-{self.stage}", scene_id, object_id),
            )
        )

    async def drain(self, timeout: float) -> None:
        """Wait for in-flight messages to finish (they ack, nak or term themselves)."""
        pending = [t for t in self._inflight if not t.done()]
        if pending:
            await asyncio.wait(pending, timeout=timeout)


class _Heartbeat:
    """Tells JetStream the message is still being worked on, every ``interval`` seconds.

    A timer rather than a task: most messages finish long before the first beat, and
    arming and disarming a timer costs far less than starting and cancelling a task.
    """

    def __init__(self, msg: Msg, interval: float):
        self._msg = msg
        self._interval = interval
        self._loop = asyncio.get_running_loop()
        self._pending: asyncio.Task[None] | None = None
        self._timer = self._loop.call_later(interval, self._beat)

    def _beat(self) -> None:
        self._pending = self._loop.create_task(self._send())
        self._timer = self._loop.call_later(self._interval, self._beat)

    async def _send(self) -> None:
        with contextlib.suppress(Exception):
            await self._msg.in_progress()

    def stop(self) -> None:
        self._timer.cancel()


def _unexpected(exc: BaseException) -> RetryLater:
    log.exception("unexpected error", exc_info=exc)
    return RetryLater(f"{type(exc).__name__}: {exc}", code="internal_error")
