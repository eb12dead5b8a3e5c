"""Webhooks: a POST to the request's ``options.callback_url`` when a scene's attempt ends.

The gateway's projector sends them as it applies a terminal event (SUCCEEDED, FAILED or
CANCELLED, as the projection then shows the scene). Every gateway replica applies every
event, so each attempt's webhook is first claimed in the JetStream key-value store with
create semantics (key ``<scene>.a<attempt>``): one replica wins, the others skip it, and a
projection rebuilt from the stream sends nothing twice.

The body is JSON; ``X-Holodeck-Signature: v1=<hex>`` is HMAC-SHA256 under the configured
secret of ``<X-Holodeck-Timestamp>.<body>``, so a receiver checks both the body and its
age. Failed deliveries (connection errors, 408, 429, 5xx) are retried with exponential
backoff, honouring ``Retry-After``. The host is resolved and every address it has must be
public (unless ``webhooks.allow_private``); the request then goes to the address checked,
so a name that resolves differently a moment later reaches nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import ipaddress
import json
import socket
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import httpx
from nats.js import JetStreamContext
from nats.js.errors import KeyWrongLastSequenceError, NotFoundError
from nats.js.kv import KeyValue

from services.gateway.projection import SceneView, Status
from shared.cache import open_bucket
from shared.config import WebhookSettings
from shared.contract import (
    WEBHOOK_CLAIMS_BUCKET,
    MalformedEvent,
    SceneRequested,
    Subject,
    parse_event,
    request_scene_id,
    root_of,
    subject,
)
from shared.errors import BadInput
from shared.logs import get_logger

log = get_logger(__name__)

SIGNATURE_HEADER = "X-Holodeck-Signature"
TIMESTAMP_HEADER = "X-Holodeck-Timestamp"
EVENT_HEADER = "X-Holodeck-Event"
DELIVERY_HEADER = "X-Holodeck-Delivery"
USER_AGENT = "holodeck-webhooks/1"
TERMINAL = {
    Status.SUCCEEDED: "scene.succeeded",
    Status.FAILED: "scene.failed",
    Status.CANCELLED: "scene.cancelled",
}
_TERMINAL_ROOTS = {Subject.SCENE_READY, Subject.SCENE_FAILED, Subject.SCENE_CANCELLED}
# A stopping gateway gives the webhooks it is sending this long to get through.
CLOSE_GRACE_S = 5.0
# Requests seen on the stream whose callback is remembered without asking the stream again.
REMEMBERED_REQUESTS = 10_000

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]


class DestinationRefused(BadInput):
    """A callback URL the gateway will not call (scheme, or a non-public address)."""


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """The signature header's value: ``v1=`` and HMAC-SHA256 of ``<timestamp>.<body>``."""
    digest = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "v1=" + digest.hexdigest()


def verify(
    secret: bytes, timestamp: str, body: bytes, signature: str, *, tolerance_s: float = 300
) -> bool:
    """What a receiver does: the signature matches and the timestamp is recent."""
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, int(timestamp), body), signature)


def delay_before(attempt: int, first_s: float, max_s: float) -> float:
    """Seconds to wait before attempt ``attempt`` (2, 3, ...): doubling from ``first_s``."""
    return min(max_s, first_s * 2 ** max(0, attempt - 2))


def is_public(address: IpAddress) -> bool:
    """Globally routable unicast: not loopback, private, link-local, shared, reserved..."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


async def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (the system resolver, off the event loop)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def destination(url: str, *, allow_private: bool, resolver: Resolver = resolve) -> IpAddress:
    """The address to send ``url``'s request to, once every address of its host passed."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DestinationRefused(f"callback URL {url!r} is not an http(s) URL with a host")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        found = [ipaddress.ip_address(parts.hostname)]
    except ValueError:
        try:
            found = [
                ipaddress.ip_address(a.split("%")[0]) for a in await resolver(parts.hostname, port)
            ]
        except OSError as exc:
            raise DestinationRefused(
                f"callback host {parts.hostname!r} does not resolve: {exc}"
            ) from None
    if not found:
        raise DestinationRefused(f"callback host {parts.hostname!r} has no address")
    if not allow_private:
        private = [str(a) for a in found if not is_public(a)]
        if private:
            raise DestinationRefused(
                f"callback host {parts.hostname!r} resolves to non-public address "
                f"{', '.join(private)} (allowed only with webhooks.allow_private)"
            )
    return found[0]


def pinned(url: str, address: IpAddress) -> tuple[str, dict[str, str], dict[str, Any]]:
    """``url`` sent to ``address``: the URL, the Host header and the TLS server name."""
    parts = urlsplit(url)
    host = f"[{address}]" if address.version == 6 else str(address)
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    target = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    original = parts.hostname or ""
    host_header = original if parts.port is None else f"{original}:{parts.port}"
    if ":" in original:
        host_header = f"[{original}]" if parts.port is None else f"[{original}]:{parts.port}"
    extensions: dict[str, Any] = {}
    if parts.scheme == "https":
        extensions["sni_hostname"] = original
    return target, {"Host": host_header}, extensions


def payload(view: SceneView, public_url: str | None = None) -> dict[str, Any]:
    """The webhook body of a scene whose current attempt has ended."""
    base = (public_url or "").rstrip("/")
    error = view.error.model_dump() if view.error else None
    return {
        "type": TERMINAL[view.status],
        "scene_id": view.scene_id,
        "attempt": view.attempt,
        "status": str(view.status),
        "prompt": view.prompt,
        "error": error,
        "artifacts": {
            name: f"{base}/v1/scenes/{view.scene_id}/artifacts/{name}" for name in view.artifacts
        },
        "status_url": f"{base}/v1/scenes/{view.scene_id}",
        "sent_at": datetime.now(UTC).isoformat(),
    }


class Claims(Protocol):
    async def claim(self, key: str) -> bool:
        """True for the first caller with ``key`` (across every replica), else False."""
        ...


class KvClaims:
    """Claims in a JetStream key-value bucket, created with create semantics."""

    def __init__(self, kv: KeyValue):
        self._kv = kv

    @classmethod
    async def open(cls, js: JetStreamContext, max_age_s: float) -> KvClaims:
        kv = await open_bucket(
            js, WEBHOOK_CLAIMS_BUCKET, "Holodeck: which gateway sends each webhook", max_age_s
        )
        return cls(kv)

    async def claim(self, key: str) -> bool:
        try:
            await self._kv.create(key, str(time.time()).encode())
        except KeyWrongLastSequenceError:
            return False
        return True


def claim_key(scene_id: str, attempt: int) -> str:
    return f"{scene_id}.a{attempt}"


class WebhookSender:
    """Sends each ended attempt's webhook once, in the background, with retries."""

    def __init__(
        self,
        settings: WebhookSettings,
        claims: Claims,
        client: httpx.AsyncClient,
        *,
        resolver: Resolver = resolve,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ):
        self.settings = settings
        self.claims = claims
        self.client = client
        self.resolver = resolver
        self.sleep = sleep
        self._tasks: set[asyncio.Task[bool]] = set()
        self._warned = False

    async def scene_ended(self, view: SceneView, callback_url: str) -> asyncio.Task[bool] | None:
        """Claim the attempt's webhook; if this replica won, send it in the background."""
        if self.settings.secret is None:
            if not self._warned:
                log.error(
                    "webhooks not sent: set webhooks.secret (HOLODECK_WEBHOOKS__SECRET)",
                    scene_id=view.scene_id,
                )
                self._warned = True
            return None
        if not await self.claims.claim(claim_key(view.scene_id, view.attempt)):
            log.debug("webhook sent by another replica", scene_id=view.scene_id)
            return None
        body = json.dumps(payload(view, self.settings.public_url), separators=(",", ":"))
        task = asyncio.create_task(
            self.deliver(
                callback_url,
                body.encode(),
                event=TERMINAL[view.status],
                delivery=claim_key(view.scene_id, view.attempt),
            )
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def deliver(self, url: str, body: bytes, *, event: str, delivery: str) -> bool:
        """POST ``body`` until a 2xx, a final refusal or the last attempt; True if taken."""
        assert self.settings.secret is not None
        secret = self.settings.secret.get_secret_value().encode()
        attempts = self.settings.attempts
        for attempt in range(1, attempts + 1):
            wait = None
            try:
                address = await destination(
                    url, allow_private=self.settings.allow_private, resolver=self.resolver
                )
                target, headers, extensions = pinned(url, address)
                stamp = int(time.time())
                headers |= {
                    "Content-Type": "application/json",
                    "User-Agent": USER_AGENT,
                    TIMESTAMP_HEADER: str(stamp),
                    SIGNATURE_HEADER: sign(secret, stamp, body),
                    EVENT_HEADER: event,
                    DELIVERY_HEADER: delivery,
                }
                response = await self.client.post(
                    target,
                    content=body,
                    headers=headers,
                    extensions=extensions,
                    timeout=self.settings.timeout_s,
                )
            except DestinationRefused as exc:
                log.error("webhook refused", delivery=delivery, url=url, reason=str(exc))
                return False
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if 200 <= response.status_code < 300:
                    log.info(
                        "webhook delivered",
                        delivery=delivery,
                        status=response.status_code,
                        attempt=attempt,
                    )
                    return True
                problem = f"HTTP {response.status_code}"
                if response.status_code not in (408, 425, 429) and response.status_code < 500:
                    log.error(
                        "webhook rejected", delivery=delivery, url=url, status=response.status_code
                    )
                    return False
                wait = _retry_after(response.headers.get("Retry-After"))
            if attempt == attempts:
                log.error(
                    "webhook not delivered",
                    delivery=delivery,
                    url=url,
                    attempts=attempts,
                    error=problem,
                )
                return False
            delay = delay_before(
                attempt + 1, self.settings.first_delay_s, self.settings.max_delay_s
            )
            if wait is not None:
                delay = min(max(delay, wait), self.settings.max_delay_s)
            log.warning(
                "webhook failed, again soon", delivery=delivery, error=problem, retry_in_s=delay
            )
            await self.sleep(delay)
        return False

    async def flush(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for the deliveries under way."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)

    async def close(self, grace_s: float = CLOSE_GRACE_S) -> None:
        """Stop sending, after ``grace_s`` for deliveries under way; what is still being
        retried then is dropped (its claim stays taken)."""
        await self.flush(grace_s)
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _retry_after(value: str | None) -> float | None:
    if value is not None and value.strip().isdigit():
        return float(value.strip())
    return None


StoredEvent = tuple[str, bytes, int, datetime]


class Projected(Protocol):
    def last_seq(self) -> int: ...

    async def apply_many(self, events: Sequence[StoredEvent]) -> None: ...

    async def get_scene(self, scene_id: str) -> SceneView | None: ...


class NotifyingProjection:
    """The projection as the projector sees it, sending webhooks of the attempts that end.

    After a batch is applied, each terminal event's scene is read back: when its current
    attempt is that event's and has ended, and its request named a callback URL, the
    webhook is claimed and sent. Late terminal events of an ended attempt find the claim
    taken.
    """

    def __init__(
        self, projection: Projected, sender: WebhookSender, js: JetStreamContext, stream: str
    ):
        self.projection = projection
        self.sender = sender
        self.js = js
        self.stream = stream
        self._callbacks: OrderedDict[str, str | None] = OrderedDict()

    def last_seq(self) -> int:
        return self.projection.last_seq()

    async def apply_many(self, events: Sequence[StoredEvent]) -> None:
        await self.projection.apply_many(events)
        for subject_name, data, seq, stored_at in events:
            root = root_of(subject_name)
            if root == Subject.SCENE_REQUESTED:
                self._remember(subject_name, data, seq, stored_at)
            elif root in _TERMINAL_ROOTS:
                try:
                    await self._ended(subject_name, data)
                except Exception as exc:
                    # A webhook never holds the projection back.
                    log.error(
                        "webhook not sent", subject=subject_name, stream_seq=seq, error=repr(exc)
                    )

    def _remember(self, subject_name: str, data: bytes, seq: int, stored_at: datetime) -> None:
        try:
            request = parse_event(subject_name, data)
            scene_id = request_scene_id(request, subject_name, seq, stored_at)
        except MalformedEvent:
            return
        self._callbacks[scene_id] = request.options.callback_url
        self._callbacks.move_to_end(scene_id)
        while len(self._callbacks) > REMEMBERED_REQUESTS:
            self._callbacks.popitem(last=False)

    async def _ended(self, subject_name: str, data: bytes) -> None:
        try:
            event = parse_event(subject_name, data)
        except MalformedEvent:
            return
        view = await self.projection.get_scene(event.scene_id)
        if view is None or view.attempt != event.attempt or view.status not in TERMINAL:
            return
        url = await self._callback_url(event.scene_id)
        if url:
            await self.sender.scene_ended(view, url)

    async def _callback_url(self, scene_id: str) -> str | None:
        if scene_id in self._callbacks:
            return self._callbacks[scene_id]
        # Requested before this gateway started: the request is in the stream.
        try:
            msg = await self.js.get_last_msg(
                self.stream, subject(Subject.SCENE_REQUESTED, scene_id)
            )
        except NotFoundError:
            return None
        try:
            request = parse_event(msg.subject or "", msg.data or b"")
        except MalformedEvent:
            return None
        url: str | None = (
            request.options.callback_url if isinstance(request, SceneRequested) else None
        )
        return url
