"""The gateway's door: API keys and permissions, rate limits held across replicas, CORS,
a body-size limit and security headers, added around the routes as ASGI middleware.

A request is checked before its body is read: who it comes from (``Authorization:
Bearer <key>`` or ``X-API-Key``, compared in constant time against SHA-256 digests), what
it may do (``read`` for GET and HEAD, ``write`` for everything else), and how often (a
GCRA token bucket per key, or per client address when anonymous, kept in the JetStream
key-value store so every replica counts against the same budget). ``/health`` and
``/metrics`` stay open for probes and scrapes. Every refusal is a JSON body
``{"error": {"code", "message"}}``; keys are never logged, their names are.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import math
import random
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import limits
import structlog
from fastapi import FastAPI, Request
from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StorageType
from nats.js.errors import (
    APIError,
    BucketNotFoundError,
    KeyNotFoundError,
    KeyWrongLastSequenceError,
)
from nats.js.kv import KeyValue
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared import metrics
from shared.config import ApiKeySettings, Permission, SecuritySettings
from shared.contract import RATE_LIMIT_BUCKET
from shared.errors import ConfigError
from shared.logs import get_logger

log = get_logger(__name__)

# Key-value bucket of the rate limiters' state (one entry per key or client address).
# Paths served to anyone: probes and scrapes, the API's description, the web page and its
# static files (none holds data; what the page then asks the API for needs a key).
OPEN_PATHS = frozenset(
    {
        "/health",
        "/health/live",
        "/health/ready",
        "/metrics",
        "/openapi.json",
        "/docs",
        "/redoc",
        "/",
    }
)
OPEN_PREFIXES = ("/ui/",)
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
KEY_PREFIX = "hdk_"
ANONYMOUS = "anonymous"
# Compare-and-set attempts on one limiter entry before the request is refused as contended.
CAS_ATTEMPTS = 8
KV_TIMEOUT_S = 2.0
# Limiter entries remembered in-process (to refuse a client over its limit without a
# round trip); the least recently used go first.
LOCAL_ENTRIES = 10_000
# After the key-value store fails, rate limits are not checked for this long.
LIMITER_PAUSE_S = 5.0
# The endpoint label of requests refused here, before any route saw them.
REFUSED_ENDPOINT = "refused"
# The close code of a WebSocket refused for want of a key or permission.
WS_POLICY_VIOLATION = 1008


# -- keys ----------------------------------------------------------------------------


def new_key() -> str:
    """A fresh random API key (256 bits)."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def key_digest(key: str) -> str:
    """The SHA-256 of a key, as ``key_sha256`` holds it."""
    return hashlib.sha256(key.encode()).hexdigest()


class KeyRing:
    """The configured keys, held as digests; a presented key is compared with every one
    in constant time, so neither the answer nor its timing tells which part matched."""

    def __init__(self, keys: Iterable[ApiKeySettings]):
        self._keys: list[tuple[bytes, ApiKeySettings]] = []
        for entry in keys:
            digest = (
                key_digest(entry.key.get_secret_value())
                if entry.key is not None
                else str(entry.key_sha256)
            )
            self._keys.append((bytes.fromhex(digest), entry))

    def __len__(self) -> int:
        return len(self._keys)

    def find(self, presented: str) -> ApiKeySettings | None:
        digest = hashlib.sha256(presented.encode()).digest()
        found = None
        for known, entry in self._keys:
            if hmac.compare_digest(digest, known):
                found = entry
        return found


# -- rate limits ---------------------------------------------------------------------


@dataclass(frozen=True)
class Rate:
    """``amount`` requests per ``period_s``, with up to ``burst`` at once (GCRA)."""

    amount: int
    period_s: float
    burst: int

    @classmethod
    def parse(cls, text: str, burst: int | None = None) -> Rate:
        item = limits.parse(text)
        period = float(item.get_expiry())
        return cls(item.amount, period, burst or item.amount)

    @property
    def interval_s(self) -> float:
        return self.period_s / self.amount

    @property
    def tolerance_s(self) -> float:
        return self.burst * self.interval_s

    def policy(self) -> str:
        return f"{self.amount};w={int(self.period_s)};burst={self.burst}"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    rate: Rate
    remaining: int
    reset_s: float
    retry_after_s: float

    def headers(self) -> list[tuple[bytes, bytes]]:
        found = [
            (b"ratelimit-limit", str(self.rate.burst).encode()),
            (b"ratelimit-remaining", str(self.remaining).encode()),
            (b"ratelimit-reset", str(math.ceil(self.reset_s)).encode()),
            (b"ratelimit-policy", self.rate.policy().encode()),
        ]
        if not self.allowed:
            found.append((b"retry-after", str(max(1, math.ceil(self.retry_after_s))).encode()))
        return found


def decide(rate: Rate, stored_tat: float | None, now: float) -> tuple[Decision, float]:
    """One request against a GCRA bucket whose theoretical arrival time is ``stored_tat``:
    the decision and the new arrival time to store (unchanged when refused)."""
    tat = max(stored_tat or now, now)
    new_tat = tat + rate.interval_s
    over = new_tat - now - rate.tolerance_s
    if over > 1e-9:
        remaining = 0
        return Decision(False, rate, remaining, tat - now, over), tat
    remaining = int((rate.tolerance_s - (new_tat - now)) / rate.interval_s + 1e-9)
    return Decision(True, rate, remaining, new_tat - now, 0.0), new_tat


class Counters(Protocol):
    """Where limiter state lives: a float per entry with a revision for compare-and-set."""

    async def read(self, key: str) -> tuple[float, int] | None: ...

    async def write(self, key: str, value: float, revision: int | None) -> int | None:
        """Store ``value`` if the entry is still at ``revision`` (None: absent); its new
        revision, or None when someone else wrote first."""
        ...


class MemoryCounters:
    """:class:`Counters` of one process (tests, a single gateway)."""

    def __init__(self) -> None:
        self.values: dict[str, tuple[float, int]] = {}

    async def read(self, key: str) -> tuple[float, int] | None:
        return self.values.get(key)

    async def write(self, key: str, value: float, revision: int | None) -> int | None:
        current = self.values.get(key)
        if (current[1] if current else None) != revision:
            return None
        new = (current[1] if current else 0) + 1
        self.values[key] = (value, new)
        return new


class KeyValueCounters:
    """:class:`Counters` in the JetStream key-value bucket ``RATE_LIMIT_BUCKET``, shared
    by every gateway replica. Entries expire after ``max_age_s``, never before their
    bucket would have refilled."""

    def __init__(self, js: JetStreamContext, max_age_s: float, replicas: int = 1):
        self.js = js
        self.max_age_s = max_age_s
        self.replicas = replicas
        self._kv: KeyValue | None = None
        self._opening = asyncio.Lock()

    async def _open(self) -> KeyValue:
        async with self._opening:
            if self._kv is None:
                try:
                    self._kv = await self.js.key_value(RATE_LIMIT_BUCKET)
                    await self._keep_long_enough(self._kv)
                except BucketNotFoundError:
                    config = KeyValueConfig(
                        bucket=RATE_LIMIT_BUCKET,
                        description="Gateway rate limits: key or client -> GCRA arrival time",
                        history=1,
                        ttl=self.max_age_s,
                        # Budgets need not outlive the servers: memory is faster.
                        storage=StorageType.MEMORY,
                        replicas=self.replicas,
                    )
                    try:
                        self._kv = await self.js.create_key_value(config)
                    except APIError:
                        # Another gateway created it first.
                        self._kv = await self.js.key_value(RATE_LIMIT_BUCKET)
            return self._kv

    async def _keep_long_enough(self, kv: KeyValue) -> None:
        """Lengthen an existing bucket's max age to what the configured rates need (an
        entry gone early would hand its client a full bucket)."""
        status = await kv.status()
        ttl = status.ttl or 0.0
        if 0 < ttl < self.max_age_s:
            config = status.stream_info.config
            config.max_age = self.max_age_s
            await self.js.update_stream(config)
            log.info("rate limit bucket max age raised", from_s=ttl, to_s=self.max_age_s)

    async def read(self, key: str) -> tuple[float, int] | None:
        kv = await self._open()
        try:
            entry = await asyncio.wait_for(kv.get(key), KV_TIMEOUT_S)
        except KeyNotFoundError:
            return None
        if entry.value is None or entry.revision is None:
            return None
        return float(entry.value), entry.revision

    async def write(self, key: str, value: float, revision: int | None) -> int | None:
        kv = await self._open()
        data = repr(value).encode()
        try:
            if revision is None:
                return int(await asyncio.wait_for(kv.create(key, data), KV_TIMEOUT_S))
            return int(await asyncio.wait_for(kv.update(key, data, revision), KV_TIMEOUT_S))
        except KeyWrongLastSequenceError:
            return None


class Contended(Exception):
    """Other replicas kept writing the same entry: the caller is hammering its budget."""


class RateLimiter:
    """GCRA over :class:`Counters` with compare-and-set, so replicas share one budget.

    Requests of one entry take turns in this process, so only replicas race each other:
    those that arrive while the entry is being written wait for that write, then are
    decided together, in order, and stored with one write. A client sending many requests
    at once thus costs a round trip per turn, not per request. The last state seen of each
    entry is kept: a client over its limit is refused from it without a round trip (the
    shared state can only be further ahead), and allowed requests try one conditional
    write before reading anything.
    """

    def __init__(self, counters: Counters, clock: Callable[[], float] = time.time):
        self.counters = counters
        self.clock = clock
        self._seen: OrderedDict[str, tuple[float, int]] = OrderedDict()
        # entry -> the requests waiting for its next turn; present while a turn runs
        self._waiting: dict[str, list[tuple[Rate, asyncio.Future[Decision]]]] = {}
        self._turns: set[asyncio.Task[None]] = set()

    async def hit(self, key: str, rate: Rate) -> Decision:
        answer: asyncio.Future[Decision] = asyncio.get_running_loop().create_future()
        waiting = self._waiting.get(key)
        if waiting is None:
            waiting = self._waiting[key] = []
            # The turns run apart from any one request, so a client that goes away does
            # not leave the others waiting.
            turns = asyncio.create_task(self._take_turns(key))
            self._turns.add(turns)
            turns.add_done_callback(self._turns.discard)
        waiting.append((rate, answer))
        return await answer

    async def _take_turns(self, key: str) -> None:
        turn: list[tuple[Rate, asyncio.Future[Decision]]] = []
        try:
            while turn := self._waiting[key]:
                self._waiting[key] = []
                try:
                    decisions = await self._decide(key, [rate for rate, _ in turn])
                except Exception as exc:
                    for _, answer in turn:
                        if not answer.done():
                            answer.set_exception(exc)
                    continue
                for (_, answer), decision in zip(turn, decisions, strict=True):
                    if not answer.done():
                        answer.set_result(decision)
        finally:
            # Stopped (the loop closing): nobody is left waiting for an answer.
            for _, answer in turn + self._waiting.pop(key, []):
                if not answer.done():
                    answer.cancel()

    async def _decide(self, key: str, rates: list[Rate]) -> list[Decision]:
        """Decide requests of one entry in order, storing where their arrivals leave it."""
        seen = self._seen.get(key)
        for attempt in range(CAS_ATTEMPTS):
            now = self.clock()
            tat = seen[0] if seen else None
            decisions = []
            for rate in rates:
                decision, tat = decide(rate, tat, now)
                decisions.append(decision)
            if tat is None or not any(d.allowed for d in decisions):
                return decisions
            revision = await self.counters.write(key, tat, seen[1] if seen else None)
            if revision is not None:
                self._remember(key, (tat, revision))
                return decisions
            if attempt:  # replicas racing: let one of them through first
                await asyncio.sleep(random.uniform(0, 0.002 * attempt))
            seen = await self.counters.read(key)
            if seen is not None:
                self._remember(key, seen)
        raise Contended(f"rate limit entry {key} kept changing")

    def _remember(self, key: str, state: tuple[float, int]) -> None:
        self._seen[key] = state
        self._seen.move_to_end(key)
        while len(self._seen) > LOCAL_ENTRIES:
            self._seen.popitem(last=False)


def limiter_max_age(security: SecuritySettings) -> float:
    """How long a limiter entry must outlive its last write: the longest refill."""
    rates = [
        Rate.parse(k.rate_limit or security.rate_limiting.default_limit, _burst(security, k))
        for k in security.api_keys
    ]
    rates.append(Rate.parse(security.rate_limiting.default_limit, _burst(security, None)))
    return max(60.0, max(r.tolerance_s for r in rates) + 60.0)


def _burst(security: SecuritySettings, key: ApiKeySettings | None) -> int | None:
    return (key.burst_limit if key else None) or security.rate_limiting.burst_limit


# -- who may call ----------------------------------------------------------------------


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_open(path: str) -> bool:
    """Whether ``path`` is served without a key (and without a rate limit)."""
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)


def check_bind(security: SecuritySettings, host: str) -> None:
    """Refuse to serve without keys on an address other than loopback, unless
    ``security.allow_anonymous`` says so."""
    if security.api_keys or security.allow_anonymous or is_loopback(host):
        return
    raise ConfigError(
        f"the gateway would serve {host} with no API key configured: add "
        "security.api_keys (holodeck keys create NAME), set security.allow_anonymous: true, "
        "or bind 127.0.0.1 (gateway.host)"
    )


@dataclass(frozen=True)
class Caller:
    name: str
    permissions: frozenset[Permission]
    rate: Rate
    # The limiter entry: by key name, or by client address when anonymous.
    bucket: str
    # The priority the key gives its scenes, if it sets one.
    priority: str | None = None


class Refused(Exception):
    def __init__(
        self, status: int, code: str, message: str, headers: Iterable[tuple[bytes, bytes]] = ()
    ):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = list(headers)


_BEARER = re.compile(r"^\s*bearer\s+(\S+)\s*$", re.IGNORECASE)


class Guard:
    """Authentication, permission and rate limit of every request but the open paths."""

    def __init__(
        self,
        app: ASGIApp,
        security: SecuritySettings,
        limiter: RateLimiter | None,
        anonymous_ok: bool,
    ):
        self.app = app
        self.security = security
        self.ring = KeyRing(security.api_keys)
        self.limiter = limiter if security.rate_limiting.enabled else None
        self.anonymous_ok = anonymous_ok
        self.rates = {
            k.name: Rate.parse(
                k.rate_limit or security.rate_limiting.default_limit, _burst(security, k)
            )
            for k in security.api_keys
        }
        self.anonymous_rate = Rate.parse(
            security.rate_limiting.default_limit, _burst(security, None)
        )
        self.anonymous_permissions = frozenset(security.anonymous_permissions)
        self._limiter_down_until = 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or is_open(scope["path"]):
            await self.app(scope, receive, send)
            return
        method = scope.get("method", "GET")  # a WebSocket reads
        try:
            caller = self.identify(scope)
            need: Permission = "read" if method in READ_METHODS else "write"
            if need not in caller.permissions:
                log.info("request refused", api_key=caller.name, needs=need, path=scope["path"])
                raise Refused(
                    403,
                    "forbidden",
                    f"the API key {caller.name!r} lacks the {need} permission "
                    f"({method} {scope['path']})",
                )
            decision = await self.limit(caller)
        except Refused as exc:
            if scope["type"] == "websocket":
                await receive()  # websocket.connect, then refused before it is accepted
                await send({"type": "websocket.close", "code": WS_POLICY_VIOLATION})
                return
            await _send_error(scope, send, exc.status, exc.code, exc.message, exc.headers)
            return
        scope.setdefault("state", {})["api_key"] = caller.name
        if caller.priority is not None:
            scope["state"]["priority"] = caller.priority
        extra = decision.headers() if decision else []

        async def with_limits(message: Message) -> None:
            if message["type"] == "http.response.start" and extra:
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        with structlog.contextvars.bound_contextvars(api_key=caller.name):
            await self.app(scope, receive, with_limits)

    def identify(self, scope: Scope) -> Caller:
        presented = self._presented(scope)
        if presented is None:
            if not self.anonymous_ok:
                raise Refused(
                    401,
                    "unauthorized",
                    "an API key is required: send Authorization: Bearer <key> or X-API-Key",
                    [(b"www-authenticate", b'Bearer realm="holodeck"')],
                )
            client = scope.get("client")
            address = client[0] if client else "unknown"
            return Caller(
                ANONYMOUS,
                self.anonymous_permissions,
                self.anonymous_rate,
                "addr." + re.sub(r"[^A-Za-z0-9_-]", lambda m: "_" if m[0] == ":" else "-", address),
            )
        entry = self.ring.find(presented)
        if entry is None:
            log.info("request refused: unknown API key", path=scope["path"])
            raise Refused(
                401,
                "invalid_api_key",
                "the API key is not valid",
                [(b"www-authenticate", b'Bearer realm="holodeck", error="invalid_token"')],
            )
        return Caller(
            entry.name,
            frozenset(entry.permissions),
            self.rates[entry.name],
            "key." + entry.name,
            entry.priority,
        )

    def _presented(self, scope: Scope) -> str | None:
        authorization = api_key = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
            elif name == b"x-api-key":
                api_key = value.decode("latin-1").strip()
        if authorization is not None:
            match = _BEARER.match(authorization)
            if match is None:
                raise Refused(
                    401, "unauthorized", "the Authorization header must be 'Bearer <key>'"
                )
            return match.group(1)
        return api_key or None

    async def limit(self, caller: Caller) -> Decision | None:
        if self.limiter is None or time.monotonic() < self._limiter_down_until:
            return None
        try:
            decision = await self.limiter.hit(caller.bucket, caller.rate)
        except Contended:
            log.info("request rate limited: budget contended", api_key=caller.name)
            raise Refused(
                429,
                "rate_limited",
                f"too many requests at once for {_who(caller)}; retry in 1 s",
                [(b"retry-after", b"1")],
            ) from None
        except Exception as exc:
            # The limiter protects capacity, not access: keys still hold without it. It is
            # left alone for a while, so that requests do not each wait for its timeout.
            self._limiter_down_until = time.monotonic() + LIMITER_PAUSE_S
            log.warning(
                "rate limits not checked",
                api_key=caller.name,
                error=repr(exc),
                paused_s=LIMITER_PAUSE_S,
            )
            return None
        if not decision.allowed:
            log.info(
                "request rate limited", api_key=caller.name, retry_after_s=decision.retry_after_s
            )
            raise Refused(
                429,
                "rate_limited",
                f"rate limit of {caller.rate.amount} per {_period(caller.rate.period_s)} "
                f"(burst {caller.rate.burst}) reached for {_who(caller)}; retry in "
                f"{max(1, math.ceil(decision.retry_after_s))} s",
                decision.headers(),
            )
        return decision


def requester(request: Request) -> str | None:
    """Who asked, for the record: ``key:<name>`` of the API key, else the client address."""
    name = request.scope.get("state", {}).get("api_key")
    if name and name != ANONYMOUS:
        return f"key:{name}"
    return request.client.host if request.client else None


def key_priority(request: Request) -> str | None:
    """The priority the caller's API key gives every scene it requests, if it sets one."""
    priority: str | None = request.scope.get("state", {}).get("priority")
    return priority


def _who(caller: Caller) -> str:
    return "anonymous access" if caller.name == ANONYMOUS else f"the API key {caller.name!r}"


def _period(seconds: float) -> str:
    names = {1: "second", 60: "minute", 3600: "hour", 86400: "day"}
    return names.get(int(seconds), f"{seconds:g} s")


# -- body size, headers ----------------------------------------------------------------


class BodyLimit:
    """413 for a body over ``max_bytes``: at once from Content-Length, else as soon as
    the streamed bytes pass it (the app then sees a disconnect, its answer is dropped)."""

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await _send_error(
                        scope, send, 400, "invalid_request", "Content-Length is not a number"
                    )
                    return
                if declared > self.max_bytes:
                    await _send_error(scope, send, 413, "body_too_large", self._message())
                    return
        seen = 0
        refused = False
        started = False

        async def counting() -> Message:
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    refused = True
                    if not started:
                        await _send_error(scope, send, 413, "body_too_large", self._message())
                    return {"type": "http.disconnect"}
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if refused:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting, guarded)
        except Exception:
            if not refused:
                raise
            # The app gave up on the body it was refused: the 413 has been sent.

    def _message(self) -> str:
        return f"the request body is larger than {self.max_bytes} bytes (security.max_body_bytes)"


class SecurityHeaders:
    """Headers every response carries: no sniffing, no framing, no referrer, a CSP."""

    def __init__(self, app: ASGIApp, content_security_policy: str):
        self.app = app
        self.fixed = [
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"),
        ]
        self.csp = content_security_policy.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(n, v) for n, v in self.fixed if n not in present]
                if b"content-security-policy" not in present:
                    headers.append((b"content-security-policy", self.csp))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


async def _send_error(
    scope: Scope,
    send: Send,
    status: int,
    code: str,
    message: str,
    headers: Iterable[tuple[bytes, bytes]] = (),
) -> None:
    # Refused before routing: counted under one endpoint, never by the concrete path.
    metrics.REQUESTS_TOTAL.labels(scope.get("method", "GET"), REFUSED_ENDPOINT, str(status)).inc()
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def secure(
    app: FastAPI, security: SecuritySettings, bind: str, limiter: RateLimiter | None
) -> None:
    """Add the security layers around ``app`` served on ``bind`` (refused with a
    :class:`ConfigError` if that would open it to anyone). From the outside in: security
    headers, CORS (preflights answered here), keys and rate limits, the body limit."""
    check_bind(security, bind)
    anonymous_ok = security.allow_anonymous or not security.api_keys
    app.add_middleware(BodyLimit, max_bytes=security.max_body_bytes)
    app.add_middleware(Guard, security=security, limiter=limiter, anonymous_ok=anonymous_ok)
    cors = security.cors
    if cors.allowed_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=cors.allowed_origins,
            allow_methods=cors.allowed_methods,
            allow_headers=cors.allowed_headers,
            allow_credentials=cors.allow_credentials,
            max_age=cors.max_age_s,
        )
    app.add_middleware(SecurityHeaders, content_security_policy=security.content_security_policy)
    _document(app, anonymous_ok)
    log.info(
        "gateway security",
        keys=[k.name for k in security.api_keys],
        anonymous=anonymous_ok,
        rate_limits=security.rate_limiting.enabled,
        cors_origins=cors.allowed_origins,
    )


_REFUSALS = {
    "401": "`unauthorized` (no key, or not `Bearer <key>`) or `invalid_api_key`",
    "403": "`forbidden`: the key lacks the permission (read for GET, write otherwise)",
    "413": "`body_too_large`: over `security.max_body_bytes`",
    "429": "`rate_limited`, with `Retry-After` and `RateLimit-*` headers",
}
_STRING = {"type": "string"}
_REFUSAL_HEADERS: dict[str, dict[str, Any]] = {
    "401": {"WWW-Authenticate": {"description": '`Bearer realm="holodeck"`', "schema": _STRING}},
    "429": {
        "Retry-After": {"description": "Seconds until a request is allowed", "schema": _STRING},
        "RateLimit-Policy": {
            "description": "The limit, as `N;w=SECONDS;burst=B`",
            "schema": _STRING,
        },
    },
}


def _refusal(status: str, description: str) -> dict[str, Any]:
    """The OpenAPI response of a refusal: the gateway's JSON error model."""
    error = {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {"code": _STRING, "message": _STRING},
            }
        },
    }
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": error}},
    }
    if status in _REFUSAL_HEADERS:
        response["headers"] = _REFUSAL_HEADERS[status]
    return response


def _document(app: FastAPI, anonymous_ok: bool) -> None:
    """Name the key schemes in the OpenAPI document (Swagger UI's Authorize), and the
    refusals on every route that needs a key."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
        schemes["ApiKey"] = {"type": "apiKey", "in": "header", "name": "X-API-Key"}
        schemes["Bearer"] = {"type": "http", "scheme": "bearer"}
        required: list[dict[str, list[str]]] = [{"ApiKey": []}, {"Bearer": []}]
        if anonymous_ok:
            required.append({})
        for path, operations in schema.get("paths", {}).items():
            if is_open(path):
                continue
            for operation in operations.values():
                operation["security"] = required
                responses = operation.setdefault("responses", {})
                for status, description in _REFUSALS.items():
                    responses.setdefault(status, _refusal(status, description))
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
