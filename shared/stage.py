"""The message semantics every stage shares, in one place.

A stage's work is a plain async function from an input event to the output events.
:class:`StageRunner` wraps it with what DESIGN.md promises for every message:

- parse and validate; a malformed message is dead-lettered (``dead.letter.<stage>``, with
  its reason) and terminated at once, never retried, and fails no scene: only a request
  that cannot be read fails the scene it names, and only before that scene has started;
- drop the work of a scene that has already ended (:mod:`shared.states`), before any
  backend is called;
- keep the message alive (``in_progress``) while the work runs, but no longer than
  ``nats.work_deadline_s``: work that overruns it is abandoned and retried, so a stalled
  handler never holds its message forever;
- publish every output with its deterministic ``Nats-Msg-Id`` and wait for JetStream's
  acknowledgement, then acknowledge the input;
- a :class:`RetryLater` or an unexpected error naks with exponential backoff; on the last
  attempt, or on a :class:`Permanent` error, claim the scene's end and publish
  ``scene.failed`` (once per scene), then terminate.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import structlog
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.errors import APIError
from pydantic import BaseModel
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_exponential

from shared import metrics
from shared.config import NatsSettings
from shared.contract import (
    MalformedEvent,
    SceneFailed,
    SceneReady,
    Subject,
    dead_letter,
    dead_letter_msg_id,
    encode,
    msg_id,
    parse_event,
    root_of,
    subject,
    with_attempt,
)
from shared.deadline import WorkDeadline, governing
from shared.errors import HolodeckError, Permanent, RetryLater
from shared.logs import get_logger
from shared.states import (
    MemorySceneStates,
    SceneState,
    SceneStates,
    StateUnavailable,
    TerminalState,
)

log = get_logger(__name__)
T = TypeVar("T")

# A JetStream cluster elects a new leader for a key-value stream within seconds of losing
# a node: reading or recording a scene's state rides that out (the message kept alive)
# rather than spend the message's attempts on it.
STATE_OUTAGE_S = 20.0
_STATE_ERRORS = (NatsError, TimeoutError, OSError, StateUnavailable)


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

# Was the scene a message names requested or laid out before that message (its stream
# sequence)? Supplied by the host; a request that cannot be read fails its scene only
# when this says no, so garbage sent on a live scene's subject never fails it.
Started = Callable[[str, int], Awaitable[bool]]


async def _never_started(scene_id: str, before_seq: int) -> bool:
    return False


class StageRunner:
    """Runs one stage's work function under the pipeline's message semantics."""

    def __init__(
        self,
        stage: str,
        work: Work,
        js: JetStreamContext,
        settings: NatsSettings,
        producer: str,
        states: SceneStates | None = None,
        started: Started = _never_started,
    ):
        self.stage = stage
        self.work = work
        self.js = js
        self.settings = settings
        self.producer = producer
        self.states: SceneStates = states if states is not None else MemorySceneStates()
        self.started = started
        self._errors = metrics.error_window(stage)
        self._inflight: dict[asyncio.Task[Any], float] = {}
        self.closing = False
        # The work in progress of each scene, so a cancelled scene's work can be stopped.
        self._working: dict[str, set[asyncio.Task[Any]]] = {}
        # Work being stopped (see _stop), held so the stopping is not collected.
        self._stopping: set[asyncio.Task[None]] = set()
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
            self._inflight[task] = time.monotonic()
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
                self._inflight.pop(task, None)
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
            await self._reject(msg, delivery, exc)
            return "malformed"

        structlog.contextvars.bind_contextvars(
            scene_id=getattr(event, "scene_id", None), object_id=getattr(event, "object_id", None)
        )
        # The message is kept alive from here on: riding out a bus outage while reading or
        # recording the scene's state can take longer than the ack wait too.
        heartbeat = _Heartbeat(msg, max(self.settings.ack_wait_s / 3, 0.5))
        try:
            return await self._handle_event(msg, event, delivery)
        finally:
            heartbeat.stop()

    async def _handle_event(self, msg: Msg, event: Any, delivery: Delivery) -> str:
        scene_id = getattr(event, "scene_id", None)
        object_id = getattr(event, "object_id", None)
        last_attempt = delivery.attempt >= self.settings.max_deliver
        scene_attempt = getattr(event, "attempt", 1)
        try:
            if scene_id and await self._scene_ended(scene_id, object_id, scene_attempt):
                await msg.ack()
                return "skipped"
        except RetryLater as exc:
            log.warning("retrying later", code=exc.code, error=exc.message)
            await msg.nak(delay=self._backoff(delivery.attempt, None))
            return "retry"

        if delivery.attempt > self.settings.max_deliver:
            # The previous worker died during the final attempt.
            await self._fail_terminally(msg, event, RetryLater("worker lost on the last attempt"))
            return "failed"

        try:
            try:
                outputs = await self._work(event, delivery, scene_id)
            except _WorkCancelled:
                log.info("work stopped: the scene was cancelled")
                metrics.STAGE_SKIPPED.labels(self.stage, "CANCELLED").inc()
                await msg.ack()
                return "skipped"
            outputs = _stamped(outputs, scene_attempt)
            if scene_id and not await self._claim_success(scene_id, outputs):
                await msg.ack()
                return "skipped"
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
        await msg.ack()
        return "ok"

    async def _work(self, event: Any, delivery: Delivery, scene_id: str | None) -> Any:
        """Run the work in its own task, so that cancelling its scene can stop it."""
        deadline = asyncio.timeout(self.settings.work_deadline_s)
        # Waiting for a backend's turn is not a stall: the deadline pauses meanwhile.
        with governing(WorkDeadline(deadline, self.settings.work_deadline_s)):
            task = asyncio.ensure_future(self.work(event, delivery))
        working = self._working.setdefault(scene_id or "", set())
        working.add(task)
        try:
            async with deadline:
                # Shielded: the deadline or a shutdown ends this wait at once, and the work
                # is stopped by _stop, which does not depend on one cancellation landing.
                return await asyncio.shield(task)
        except TimeoutError:
            if not deadline.expired():
                raise  # the work's own timeout, not the deadline
            self._stop(task)
            raise RetryLater(
                f"no result within work_deadline_s={self.settings.work_deadline_s:g}",
                code="work_stalled",
            ) from None
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if task.cancelled() and current is not None and not current.cancelling():
                raise _WorkCancelled from None
            self._stop(task)
            raise
        finally:
            working.discard(task)
            if not working:
                self._working.pop(scene_id or "", None)

    def oldest_handler_s(self) -> float:
        """How long the longest-running message handler has been at it (0 when idle)."""
        started = [t0 for task, t0 in self._inflight.items() if not task.done()]
        return time.monotonic() - min(started) if started else 0.0

    def cancel_scene(self, scene_id: str) -> int:
        """Stop the work in progress of a cancelled scene; how many were stopped."""
        tasks = [t for t in self._working.get(scene_id, ()) if not t.done()]
        for task in tasks:
            self._stop(task)
        return len(tasks)

    def _stop(self, task: asyncio.Task[Any]) -> None:
        """Cancel ``task``, again every STOP_AGAIN_S until it ends: a client library's
        ``wait_for`` on Python 3.11 can drop a cancellation that lands as its reply
        arrives, and work that went on would hold its message (and scene) for good."""
        if task.done():
            return
        task.cancel()
        stopping = asyncio.create_task(_until_stopped(task))
        self._stopping.add(stopping)
        stopping.add_done_callback(self._stopping.discard)

    async def _reject(self, msg: Msg, delivery: Delivery, exc: MalformedEvent) -> None:
        """Dead-letter a message that cannot be read; fail only a request's own new scene."""
        if exc.scene_id:
            structlog.contextvars.bind_contextvars(scene_id=exc.scene_id)
        log.warning("message dead-lettered: malformed", subject=msg.subject, reason=exc.reason)
        metrics.STAGE_FAILURES.labels(self.stage, "malformed_event").inc()
        letter = dead_letter(
            self.stage,
            msg.subject,
            msg.data,
            delivery.stream_seq,
            exc.reason,
            scene_id=exc.scene_id,
            producer=self.producer,
        )
        try:
            await self._publish(
                Output(
                    subject(Subject.DEAD_LETTER, self.stage),
                    letter,
                    dead_letter_msg_id(self.stage, delivery.stream_seq),
                )
            )
            if (
                exc.scene_id
                and root_of(msg.subject) == Subject.SCENE_REQUESTED
                and not await self.started(exc.scene_id, delivery.stream_seq)
            ):
                failure = self._failure(exc.scene_id, None, "malformed_event", str(exc), False, 1)
                if await self._claimed(exc.scene_id, failure, "FAILED", metrics.MALFORMED_REQUEST):
                    await self._publish(failure)
        except RetryLater:
            # Without its dead letter the message would vanish unexplained: try again.
            await msg.nak(delay=self.settings.retry_max_delay_s)
            return
        await msg.term()

    async def _scene_ended(self, scene_id: str, object_id: str | None, attempt: int) -> bool:
        """True when this attempt of the scene has ended or a later one began: its work is
        dropped (re-sending our own end if we are who ended it)."""
        try:
            held = await _riding_out(lambda: self.states.get(scene_id))
            if held is not None and held.attempt < attempt:
                # A replay begun by someone who did not record it: this attempt is current.
                held = await _riding_out(lambda: self.states.begin(scene_id, attempt))
        except _STATE_ERRORS as exc:
            raise RetryLater(
                f"cannot read the scene's state: {exc!r}", code="state_unavailable"
            ) from None
        if held is None or (held.attempt == attempt and not held.ended):
            return False
        if held.attempt > attempt:
            log.info("work dropped: a later attempt of the scene began", current=held.attempt)
            metrics.STAGE_SKIPPED.labels(self.stage, "superseded").inc()
            return True
        ours = (
            msg_id(f"failed-{self.stage}", scene_id, object_id, attempt),
            msg_id(self.stage, scene_id, None, attempt),
        )
        if held.msg_id in ours:
            # This stage ended the scene (failed it, or assembled it) and may have died or
            # lost the bus before saying so: say it again (a duplicate is dropped by its id).
            await self._publish(_resend(held))
        log.info("work dropped: the scene has ended", state=held.state)
        metrics.STAGE_SKIPPED.labels(self.stage, held.state).inc()
        return True

    async def _claim_success(self, scene_id: str, outputs: Sequence[Output]) -> bool:
        """Claim the scene's success for an output ``scene.ready``; False if it ended before."""
        for out in outputs:
            if isinstance(out.event, SceneReady):
                if not await self._claimed(scene_id, out, "SUCCEEDED", metrics.SCENE_READY):
                    log.info("scene.ready dropped: the scene had already ended")
                    metrics.STAGE_SKIPPED.labels(self.stage, "ended").inc()
                    return False
        return True

    async def _claimed(
        self, scene_id: str, out: Output, state: TerminalState, counted_as: tuple[str, str]
    ) -> bool:
        end = SceneState(
            attempt=getattr(out.event, "attempt", 1),
            state=state,
            msg_id=out.msg_id,
            subject=out.subject,
            event=encode(out.event).decode(),
        )
        try:
            held = await _riding_out(lambda: self.states.claim(scene_id, end))
        except _STATE_ERRORS as exc:
            raise RetryLater(
                f"cannot record the scene's state: {exc!r}", code="state_unavailable"
            ) from None
        if held is end:
            # Recorded by this very call (a claim hands back the state it was given when it
            # writes it): the scene's end is counted here once, not again when a redelivery
            # or a second replica finds its own claim already held.
            metrics.SCENES_TOTAL.labels(*counted_as).inc()
        return held.msg_id == end.msg_id

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
        if scene_id:
            failure = self._failure(
                scene_id,
                object_id,
                error.code,
                error.message,
                error.retryable,
                getattr(event, "attempt", 1),
            )
            try:
                if await self._claimed(scene_id, failure, "FAILED", metrics.STAGE_FAILURE):
                    await self._publish(failure)
                else:
                    log.info("scene.failed not sent: the scene had already ended")
            except RetryLater:
                if msg.metadata.num_delivered <= self.settings.max_deliver:
                    # Without the failure event the scene would hang: let JetStream redeliver.
                    await msg.nak(delay=self.settings.retry_max_delay_s)
                    return
                # JetStream delivers it no more: an end not recorded in the state bucket
                # beats a scene that never ends (the first end in the stream stands).
                log.warning("scene.failed sent without recording the scene's end")
                await self._publish(failure)
        await msg.term()

    def _failure(
        self,
        scene_id: str,
        object_id: str | None,
        code: str,
        message: str,
        retryable: bool,
        attempt: int,
    ) -> Output:
        failure = SceneFailed(
            scene_id=scene_id,
            producer=self.producer,
            stage=self.stage,
            object_id=object_id,
            code=code,
            message=message[:2000],
            retryable=retryable,
            attempt=attempt,
        )
        return Output(
            subject(Subject.SCENE_FAILED, scene_id),
            failure,
            msg_id(f"failed-{self.stage}", scene_id, object_id, attempt),
        )

    async def drain(self, timeout: float) -> None:
        """Wait for in-flight messages to finish (they ack, nak or term themselves)."""
        pending = [t for t in list(self._inflight) if not t.done()]
        if pending:
            await asyncio.wait(pending, timeout=timeout)


# How often work that was cancelled and goes on is cancelled again.
STOP_AGAIN_S = 0.5


async def _until_stopped(task: asyncio.Task[Any]) -> None:
    while not task.done():
        await asyncio.wait({task}, timeout=STOP_AGAIN_S)
        if not task.done():
            log.warning("work went on after it was cancelled: cancelling it again")
            task.cancel()
    if not task.cancelled() and task.exception() is not None:
        log.debug("stopped work ended with an error", error=repr(task.exception()))


class _WorkCancelled(Exception):
    """The work was stopped because its scene was cancelled."""


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


async def _riding_out(call: Callable[[], Awaitable[T]]) -> T:
    """``call()``, tried again while the state bucket is unavailable, for STATE_OUTAGE_S."""
    try:
        return await call()  # the usual case, without setting up the retries
    except _STATE_ERRORS:
        pass
    async for attempt in AsyncRetrying(
        stop=stop_after_delay(STATE_OUTAGE_S),
        wait=wait_exponential(multiplier=0.05, max=1.0),
        retry=retry_if_exception_type(_STATE_ERRORS),
        reraise=True,
    ):
        with attempt:
            return await call()
    raise AssertionError("tenacity neither returned nor raised")


def _stamped(outputs: Sequence[Output], attempt: int) -> Sequence[Output]:
    """The outputs of work on an event of ``attempt``: of that attempt, with its message ids.

    Work functions need not know about attempts; this is the one place that carries the
    attempt from a stage's input to its outputs.
    """
    if attempt <= 1:
        return outputs
    stamped = []
    for out in outputs:
        event = out.event
        if getattr(event, "attempt", attempt) != attempt:
            event = event.model_copy(update={"attempt": attempt})
        stamped.append(Output(out.subject, event, with_attempt(out.msg_id, attempt)))
    return stamped


def _resend(ended: SceneState) -> Output:
    """The stored terminal event, to publish again under its own message id."""
    event = parse_event(ended.subject, ended.event.encode())
    return Output(ended.subject, event, ended.msg_id)


def _unexpected(exc: BaseException) -> RetryLater:
    log.exception("unexpected error", exc_info=exc)
    return RetryLater(f"{type(exc).__name__}: {exc}", code="internal_error")
