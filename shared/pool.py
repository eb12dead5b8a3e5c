"""Pools of backend servers: which server takes a request, and which servers are out.

A backend (ComfyUI, SF3D, Hunyuan3D-2) may run on several servers of one kind. Every
request of its client goes through the backend's :class:`Pool`, which:

- **picks the least-loaded healthy server.** A server's load is the number of requests
  this process has in flight to it and, where the server can tell (ComfyUI's
  ``GET /queue``: running plus pending), its own queue. That reading is at most
  ``load_ttl`` seconds old: it is refreshed in the background (only a server's very
  first reading is waited for, briefly) and corrected by the requests this process
  started or finished since, so choosing never costs a request of its own. A reading
  the client takes anyway is handed in with :meth:`Pool.observe`. Ties go to a random
  one of the servers, so replicas do not all start on the first.
- **holds one of the server's slots** (:mod:`shared.slots`, ``concurrency`` per server,
  0 = no bound) while the request runs: in this process, and across replicas with a
  :class:`~shared.slots.SlotBoard`. A server without a free slot is passed over; when no
  healthy server has one, the request waits for the first slot to free, and the wait is
  no part of the request's own timeout.
- **takes a failing server out (circuit breaker).** ``failures`` consecutive failures
  that say the server is unwell (:class:`ServerDown`: no connection, a timeout, a 5xx;
  never a 4xx about the request itself) take it out for ``cooldown_s``. It is then
  half-open: one request goes to it as a trial; success brings it back, failure takes it
  out for another cool-down.
- **fails over.** A request that failed with :class:`ServerDown` is tried at once on
  another server (each server at most once per request), before any backoff of the
  stage, unless the failure says its time budget is spent. A client tells from
  :attr:`Lease.alone` whether another server could take over, and retries on the same
  server only when none could. When every server is out the request fails with
  :class:`RetryLater` whose ``delay`` says when the first one comes back.

Per server (``server`` label, the base URL without credentials) it exports
``holodeck_backend_server_requests_total``, ``..._failures_total``, ``..._in_flight``,
``..._queue_length`` and ``..._breaker_state`` (0 closed, 1 half-open, 2 open).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

import httpx

from shared import metrics
from shared.claims import KeyLease
from shared.config import server_url_problem
from shared.deadline import paused
from shared.errors import ConfigError, HolodeckError, RetryLater
from shared.fairness import backend_turn
from shared.logs import get_logger
from shared.slots import (
    FIRST_RETRY_S,
    LONGEST_RETRY_S,
    ServerSlots,
    SlotBoard,
    server_slots,
    slot_freed,
)

log = get_logger(__name__)

T = TypeVar("T")
LoadProbe = Callable[[str], Awaitable[int]]
"""Asks a server how many jobs it has running or waiting (given its base URL)."""

BreakerState = Literal["closed", "half_open", "open"]
_STATE_VALUE: dict[BreakerState, int] = {"closed": 0, "half_open": 1, "open": 2}

DEFAULT_FAILURES = 3
DEFAULT_COOLDOWN_S = 30.0
DEFAULT_LOAD_TTL_S = 1.0
# A server's very first load reading is waited for this long at most; every later one
# is taken in the background while the last one is used.
FIRST_READING_S = 1.0
# A reading older than this many ``load_ttl`` is ignored: the server stopped answering.
READING_LIFETIME = 10
# How long one load reading may take before it is given up.
PROBE_TIMEOUT_S = 2.0
# A request waiting for a slot looks again at least this often (a cool-down may end).
LONGEST_WAIT_S = 1.0
# The retry hint while the only server left is on trial: its verdict comes soon.
TRIAL_HINT_S = 1.0


class ServerDown(RetryLater):
    """The server failed, not the request: no connection, no answer in time, a 5xx, a
    lost job. Counts against the server's circuit breaker.

    ``elsewhere`` says whether another server may take the request at once; it is False
    when the attempt used up the request's whole time budget, or left work on this
    server for a later attempt to pick up.
    """

    code = "backend_unavailable"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        delay: float | None = None,
        elsewhere: bool = True,
    ):
        super().__init__(message, code=code, delay=delay)
        self.elsewhere = elsewhere


def check_server_url(url: str, title: str) -> str:
    """``url`` without its trailing slash if it is ``http(s)://host[:port][/path]``;
    otherwise a :class:`ConfigError` naming it."""
    url = url.strip()
    if problem := server_url_problem(url):
        raise ConfigError(f"{title} server URL: {problem}")
    return url.rstrip("/")


def server_label(url: str) -> str:
    """The server's base URL without user name or password (a metric label, a log field)."""
    parsed = httpx.URL(url)
    port = f":{parsed.port}" if parsed.port is not None else ""
    return f"{parsed.scheme}://{parsed.host}{port}{parsed.path.rstrip('/')}"


@dataclass(frozen=True)
class Lease:
    """One server taken for one request.

    ``alone``: no other server could take the request over if this one fails, so the
    client retries here. ``waited``: seconds spent waiting for a slot. ``queued``: the
    request had to wait, or others were waiting when it got its slot."""

    url: str
    alone: bool
    waited: float
    queued: bool

    @property
    def label(self) -> str:
        """The server's URL without credentials, for messages and logs."""
        return server_label(self.url)


class _Server:
    """One server's breaker, load and counters."""

    def __init__(self, url: str):
        self.url = url
        self.label = server_label(url)
        self.state: BreakerState = "closed"
        self.failures = 0  # consecutive, while closed
        self.reopen_at = 0.0
        self.trial = False  # the half-open trial request is in flight
        self.last_error = ""
        self.in_flight = 0
        self.reading: int | None = None
        self.read_at = -math.inf
        self.read_base = 0  # in_flight when the reading was taken
        self.probed_at = -math.inf
        self.probe: asyncio.Task[None] | None = None


@dataclass
class _Held:
    server: _Server
    slots: ServerSlots
    claim: KeyLease | None
    trial: bool
    lease: Lease


class Pool:
    """The servers of one backend (see the module docstring). Create it once per client;
    it needs no event loop until the first request."""

    def __init__(
        self,
        backend: str,
        urls: Sequence[str],
        *,
        title: str | None = None,
        concurrency: int = 0,
        board: SlotBoard | None = None,
        failures: int = DEFAULT_FAILURES,
        cooldown_s: float = DEFAULT_COOLDOWN_S,
        load: LoadProbe | None = None,
        load_ttl: float = DEFAULT_LOAD_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.backend = backend
        self.title = title or backend
        if not urls:
            raise ConfigError(f"no {self.title} server URL is configured")
        checked = [check_server_url(url, self.title) for url in urls]
        twice = sorted({url for url in checked if checked.count(url) > 1})
        if twice:
            raise ConfigError(f"{self.title} server URLs listed twice: {', '.join(twice)}")
        if concurrency < 0:
            raise ValueError("concurrency must be 0 (no bound) or more")
        if failures < 1 or cooldown_s <= 0 or load_ttl <= 0:
            raise ValueError("failures, cooldown_s and load_ttl must be positive")
        self.concurrency = concurrency
        self.board = board
        self.failures = failures
        self.cooldown_s = cooldown_s
        self.load_ttl = load_ttl
        self._probe = load
        self._clock = clock
        self._servers = [_Server(url) for url in checked]
        self._waiting = 0
        for server in self._servers:
            metrics.BACKEND_SERVER_BREAKER.labels(backend, server.label).set(0)
            metrics.BACKEND_SERVER_IN_FLIGHT.labels(backend, server.label).set(0)

    @property
    def urls(self) -> list[str]:
        return [server.url for server in self._servers]

    def state(self, url: str) -> BreakerState:
        """The breaker state of one server, as of now."""
        server = self._server(url)
        self._tick(server, self._clock())
        return server.state

    def observe(self, url: str, jobs: int) -> None:
        """A reading of how many jobs the server has running or waiting, taken now."""
        server = self._server(url)
        server.reading = jobs
        server.read_at = self._clock()
        server.read_base = server.in_flight
        metrics.BACKEND_SERVER_QUEUE.labels(self.backend, server.label).set(jobs)

    async def run(self, work: Callable[[Lease], Awaitable[T]], *, prefer: str | None = None) -> T:
        """``work`` on the least-loaded healthy server (``prefer`` first when it is
        usable), on another one if it fails with :class:`ServerDown`."""
        async with contextlib.AsyncExitStack() as turn:
            with paused():  # waiting for this stage's turn at the backends
                await turn.enter_async_context(backend_turn())
            return await self._run(work, prefer)

    async def _run(self, work: Callable[[Lease], Awaitable[T]], prefer: str | None) -> T:
        tried: list[_Server] = []
        last: ServerDown | None = None
        while True:
            with paused():
                held = await self._take(tried, prefer, last)
            try:
                result = await work(held.lease)
            except ServerDown as exc:
                await self._done(held, exc)
                if not exc.elsewhere:
                    raise
                tried.append(held.server)
                last = exc
                log.warning(
                    "backend_server_failed",
                    backend=self.backend,
                    server=held.server.label,
                    code=exc.code,
                    error=exc.message,
                    others_left=not held.lease.alone,
                )
                continue
            except HolodeckError as exc:
                await self._done(held, exc)
                raise
            except BaseException:
                await self._done(held, None)
                raise
            await self._done(held, "ok")
            return result

    async def close(self) -> None:
        """Stop the load readings under way."""
        probes = [server.probe for server in self._servers if server.probe is not None]
        for probe in probes:
            probe.cancel()
        for probe in probes:
            with contextlib.suppress(asyncio.CancelledError):
                await probe

    # Choosing ---------------------------------------------------------------------------

    def _server(self, url: str) -> _Server:
        url = url.rstrip("/")
        for server in self._servers:
            if server.url == url:
                return server
        raise KeyError(f"{url} is not a server of the {self.title} pool")

    async def _take(
        self, tried: list[_Server], prefer: str | None, last: ServerDown | None
    ) -> _Held:
        started = self._clock()
        queued = False
        pause = FIRST_RETRY_S
        while True:
            now = self._clock()
            candidates = [s for s in self._servers if s not in tried and self._allows(s, now)]
            if not candidates:
                raise self._unavailable(tried, last, now)
            await self._read_loads(candidates)
            claims_refused = False
            for server in self._ranked(candidates, prefer):
                held, refused = await self._try(server, tried, started, queued)
                if held is not None:
                    return held
                claims_refused = claims_refused or refused
            queued = True
            # Wake when a slot frees in this process; look again sooner while other
            # replicas hold the slots (their release sends no notice) or a cool-down ends.
            wait = pause if claims_refused else LONGEST_WAIT_S
            reopening = [s.reopen_at - now for s in self._servers if s.state == "open"]
            if reopening:
                wait = min(wait, max(min(reopening), 0.01))
            self._waiting += 1
            try:
                await slot_freed(wait)
            finally:
                self._waiting -= 1
            if claims_refused:
                pause = min(pause * 2, LONGEST_RETRY_S)

    async def _try(
        self, server: _Server, tried: list[_Server], started: float, queued: bool
    ) -> tuple[_Held | None, bool]:
        """The server taken, or None (and whether another replica held its slots)."""
        slots = server_slots(server.url, self.concurrency)
        if not slots.try_take():
            return None, False
        claim: KeyLease | None = None
        if self.board is not None and self.concurrency:
            try:
                claim = await self.board.try_claim(server.url, self.concurrency)
            except BaseException:
                slots.give_back()
                raise
            if claim is None:
                slots.give_back()
                return None, True
        now = self._clock()
        if not self._allows(server, now):  # taken out or put on trial while claiming
            if claim is not None:
                await claim.release()
            slots.give_back()
            return None, False
        trial = server.state == "half_open"
        if trial:
            server.trial = True
            log.info("backend_server_trial", backend=self.backend, server=server.label)
        server.in_flight += 1
        metrics.BACKEND_SERVER_IN_FLIGHT.labels(self.backend, server.label).set(server.in_flight)
        metrics.BACKEND_SERVER_REQUESTS.labels(self.backend, server.label).inc()
        others = [s for s in self._servers if s is not server and s not in tried]
        lease = Lease(
            url=server.url,
            alone=not any(self._allows(s, now) for s in others),
            waited=now - started,
            queued=queued or self._waiting > 0,
        )
        return _Held(server, slots, claim, trial, lease), False

    def _ranked(self, candidates: list[_Server], prefer: str | None) -> list[_Server]:
        now = self._clock()
        preferred = prefer.rstrip("/") if prefer else None
        return sorted(
            candidates, key=lambda s: (s.url != preferred, self._load(s, now), random.random())
        )

    def _load(self, server: _Server, now: float) -> int:
        if server.reading is None or now - server.read_at > READING_LIFETIME * self.load_ttl:
            return server.in_flight
        # The reading counts this process's requests of that moment; correct it by ours
        # started or finished since.
        return max(server.in_flight, server.reading + server.in_flight - server.read_base)

    async def _read_loads(self, candidates: list[_Server]) -> None:
        if self._probe is None or len(self._servers) == 1:
            return  # nothing to choose between
        now = self._clock()
        first: list[asyncio.Task[None]] = []
        for server in candidates:
            due = now - max(server.read_at, server.probed_at) >= self.load_ttl
            if server.probe is None and due:
                server.probe = asyncio.create_task(self._read_load(server))
            if server.reading is None and server.probe is not None:
                first.append(server.probe)
        if first:
            await asyncio.wait(first, timeout=FIRST_READING_S)

    async def _read_load(self, server: _Server) -> None:
        assert self._probe is not None
        try:
            async with asyncio.timeout(PROBE_TIMEOUT_S):
                jobs = await self._probe(server.url)
        except Exception as exc:  # a reading is advice: without one, our own count decides
            log.debug(
                "backend_server_load_unread",
                backend=self.backend,
                server=server.label,
                error=f"{type(exc).__name__}: {exc}",
            )
        else:
            self.observe(server.url, jobs)
        finally:
            server.probe = None
            server.probed_at = self._clock()

    # The breaker ------------------------------------------------------------------------

    def _tick(self, server: _Server, now: float) -> None:
        if server.state == "open" and now >= server.reopen_at:
            self._set_state(server, "half_open")

    def _allows(self, server: _Server, now: float) -> bool:
        self._tick(server, now)
        return server.state == "closed" or (server.state == "half_open" and not server.trial)

    def _set_state(self, server: _Server, state: BreakerState) -> None:
        server.state = state
        metrics.BACKEND_SERVER_BREAKER.labels(self.backend, server.label).set(_STATE_VALUE[state])

    async def _done(self, held: _Held, outcome: HolodeckError | Literal["ok"] | None) -> None:
        """Account for one finished request: ``ok``, the project error it raised, or
        None when it ended without a verdict on the server (cancelled, a bug)."""
        server = held.server
        server.in_flight -= 1
        metrics.BACKEND_SERVER_IN_FLIGHT.labels(self.backend, server.label).set(server.in_flight)
        if isinstance(outcome, ServerDown):
            metrics.BACKEND_SERVER_FAILURES.labels(self.backend, server.label, outcome.code).inc()
            server.last_error = outcome.message
            if held.trial:
                self._take_out(server, "its trial request failed")
            elif server.state == "closed":
                server.failures += 1
                if server.failures >= self.failures:
                    self._take_out(server, f"{server.failures} failures in a row")
        elif outcome is not None:  # the server answered, whatever it said of the request
            if held.trial:
                self._set_state(server, "closed")
                log.info("backend_server_back", backend=self.backend, server=server.label)
            if server.state == "closed":
                server.failures = 0
        if held.trial:
            server.trial = False
        if held.claim is not None:
            await held.claim.release()
        held.slots.give_back()

    def _take_out(self, server: _Server, why: str) -> None:
        server.failures = 0
        server.reopen_at = self._clock() + self.cooldown_s
        self._set_state(server, "open")
        log.warning(
            "backend_server_out",
            backend=self.backend,
            server=server.label,
            why=why,
            cooldown_s=self.cooldown_s,
            error=server.last_error,
        )

    def _unavailable(self, tried: list[_Server], last: ServerDown | None, now: float) -> RetryLater:
        """The error when no server is left to try: the last failure of this request if
        it had one, else one naming every server that is out. Its delay says when the
        first server comes back."""
        waits = [
            max(s.reopen_at - now, 0.0) if s.state == "open" else TRIAL_HINT_S
            for s in self._servers
            if s.state != "closed"
        ]
        hint = min(waits) if waits else None
        if last is not None:
            if last.delay is None:
                last.delay = hint
            return last
        parts = []
        for server in self._servers:
            if server.state == "open":
                parts.append(
                    f"{server.label} (back in {max(server.reopen_at - now, 0.0):.0f} s; "
                    f"last error: {server.last_error[:200] or 'none'})"
                )
            else:
                parts.append(f"{server.label} (on trial)")
        return RetryLater(
            f"every {self.title} server is out: {'; '.join(parts)}",
            code=f"{self.backend}_servers_out",
            delay=hint,
        )
