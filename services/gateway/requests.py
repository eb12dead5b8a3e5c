"""Scene requests from HTTP onto the bus: at most once per Idempotency-Key, and an honest
answer when the bus does not confirm.

A request with a key gets a scene id derived from the key and a record in the JetStream
key-value bucket ``IDEMPOTENCY_BUCKET`` (key digest → scene id, body digest, stream
sequence once published), written with *create* semantics so two gateways racing on
one key agree on who was first. The request is published on ``scene.requested.<id>``
with ``Nats-Msg-Id`` = the request's id, so JetStream's duplicate window drops a second
publish, and before publishing again for a known key the stream itself is asked whether
the request is already there. A publish that timed out may have been stored: it is
tried again with the same ``Nats-Msg-Id`` (harmless), and if the bus still does not
answer the caller is told the request *may* have been accepted.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from dataclasses import asdict, dataclass
from typing import Protocol

from nats.errors import ConnectionClosedError, NoRespondersError, OutboundBufferLimitError
from nats.js import JetStreamContext
from nats.js.errors import (
    APIError,
    KeyNotFoundError,
    KeyWrongLastSequenceError,
    NotFoundError,
)
from nats.js.kv import KeyValue

from shared.cache import open_bucket
from shared.contract import (
    IDEMPOTENCY_BUCKET,
    SceneRequested,
    Subject,
    encode,
    msg_id,
    subject,
)
from shared.logs import get_logger

log = get_logger(__name__)

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
# What :func:`key_problem` accepts (with MAX_KEY_LENGTH): printable ASCII, not all spaces.
KEY_PATTERN = r"^[ -~]*[!-~][ -~]*$"
# One publish attempt's wait for JetStream's ack, and how many attempts one POST makes.
PUBLISH_TIMEOUT_S = 2.5
PUBLISH_ATTEMPTS = 2
KV_TIMEOUT_S = 5.0


class KeyConflict(Exception):
    """The Idempotency-Key was used before with a different request body."""

    def __init__(self, scene_id: str):
        super().__init__(
            f"this {HEADER} was already used with a different request body (scene {scene_id}); "
            "use a new key for a new request"
        )
        self.scene_id = scene_id


class NotAccepted(Exception):
    """The request is not confirmed: ``maybe_taken`` says whether it may still have been."""

    def __init__(self, reason: str, *, scene_id: str, maybe_taken: bool):
        super().__init__(reason)
        self.reason = reason
        self.scene_id = scene_id
        self.maybe_taken = maybe_taken


@dataclass(frozen=True)
class Accepted:
    scene_id: str
    stream_seq: int
    # True when the key had been used before: nothing new was published.
    replayed: bool = False


@dataclass(frozen=True)
class KeyRecord:
    scene_id: str
    body_sha256: str
    stream_seq: int | None = None

    def encode(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":")).encode()

    @classmethod
    def decode(cls, data: bytes) -> KeyRecord:
        return cls(**json.loads(data))


def key_problem(key: str) -> str | None:
    """Why ``key`` is not a usable Idempotency-Key, or None."""
    if not key.strip():
        return "must not be empty"
    if len(key) > MAX_KEY_LENGTH:
        return f"must be at most {MAX_KEY_LENGTH} characters"
    if not all(" " <= c <= "~" for c in key):
        return "must be printable ASCII"
    return None


def scene_id_for_key(key: str) -> str:
    """The scene id of a request made with ``key``: the same on every gateway, forever."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"holodeck:idempotency:{key}").hex[:20]


def key_token(key: str) -> str:
    """The key-value key of ``key`` (bucket keys allow few characters; any key maps)."""
    return hashlib.sha256(key.encode()).hexdigest()


def body_digest(request: SceneRequested) -> str:
    """What makes two requests the same request: the prompt and options as validated."""
    body = {"prompt": request.prompt, "options": request.options.model_dump(mode="json")}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


class KeyStore(Protocol):
    async def claim(self, token: str, record: KeyRecord) -> tuple[KeyRecord, bool]:
        """Store ``record`` under ``token`` unless one is there: (stored record, created)."""
        ...

    async def settle(self, token: str, record: KeyRecord) -> None:
        """Record that the request of ``token`` is in the stream."""
        ...


class RequestBus(Protocol):
    async def publish(self, request: SceneRequested) -> int:
        """Publish ``request``; its stream sequence, or :class:`NotAccepted`."""
        ...

    async def find(self, scene_id: str) -> tuple[int, str | None] | None:
        """The stream sequence and :func:`body_digest` of the request of ``scene_id``
        if the stream holds it (the digest is None for an unreadable request)."""
        ...


class SceneRequests:
    """Takes a client's scene request onto the bus, at most once per Idempotency-Key."""

    def __init__(self, bus: RequestBus, keys: KeyStore | None):
        self.bus = bus
        self.keys = keys

    async def submit(self, request: SceneRequested, key: str | None) -> Accepted:
        """Publish ``request`` (its scene id already chosen), or return what the key made.

        Raises :class:`KeyConflict` for a key reused with another body and
        :class:`NotAccepted` when the bus or the key store does not confirm.
        """
        assert request.scene_id is not None
        if key is None:
            return Accepted(request.scene_id, await self.bus.publish(request))
        if self.keys is None:
            raise NotAccepted(
                f"{HEADER} is not supported here: no key store; nothing was published",
                scene_id=request.scene_id,
                maybe_taken=False,
            )
        token = key_token(key)
        wanted = KeyRecord(scene_id=request.scene_id, body_sha256=body_digest(request))
        try:
            stored, created = await self.keys.claim(token, wanted)
        except NotAccepted:
            raise
        except Exception as exc:
            raise NotAccepted(
                f"the idempotency store did not answer ({exc!r}); nothing was published",
                scene_id=request.scene_id,
                maybe_taken=False,
            ) from exc
        if stored.body_sha256 != wanted.body_sha256:
            raise KeyConflict(stored.scene_id)
        if stored.stream_seq is not None:
            return Accepted(stored.scene_id, stored.stream_seq, replayed=True)
        if stored.scene_id != request.scene_id:
            request = request.model_copy(update={"scene_id": stored.scene_id})
        # Asked even for a fresh record: the key may have expired from the bucket while
        # its request is still in the stream.
        found = await self._already_published(stored.scene_id)
        if found is not None:
            seq, body_sha256 = found
            if body_sha256 is not None and body_sha256 != wanted.body_sha256:
                raise KeyConflict(stored.scene_id)
        else:
            seq = await self.bus.publish(request)
        try:
            await self.keys.settle(token, KeyRecord(stored.scene_id, stored.body_sha256, seq))
        except Exception as exc:
            # The request is in the stream; a retry finds it there instead.
            log.warning("idempotency record not settled", scene_id=stored.scene_id, error=repr(exc))
        return Accepted(stored.scene_id, seq, replayed=found is not None or not created)

    async def _already_published(self, scene_id: str) -> tuple[int, str | None] | None:
        # An earlier attempt may have crashed, failed after sending or still be in flight:
        # the stream says whether its request got in.
        try:
            return await self.bus.find(scene_id)
        except Exception as exc:
            raise NotAccepted(
                f"could not check the stream for an earlier attempt ({exc!r})",
                scene_id=scene_id,
                maybe_taken=True,
            ) from exc


class JetStreamRequests:
    """:class:`RequestBus` on JetStream: deduplicated publish and a lookup by subject."""

    def __init__(
        self,
        js: JetStreamContext,
        stream: str,
        *,
        timeout: float = PUBLISH_TIMEOUT_S,
        attempts: int = PUBLISH_ATTEMPTS,
    ):
        self.js = js
        self.stream = stream
        self.timeout = timeout
        self.attempts = attempts

    async def publish(self, request: SceneRequested) -> int:
        assert request.scene_id is not None
        name = subject(Subject.SCENE_REQUESTED, request.scene_id)
        headers = {"Nats-Msg-Id": msg_id("request", request.scene_id)}
        data = encode(request)
        maybe_sent = False
        problem = "no attempt was made"
        for attempt in range(1, self.attempts + 1):
            try:
                ack = await self.js.publish(
                    name, data, headers=headers, timeout=self.timeout, stream=self.stream
                )
                if ack.duplicate:
                    log.info("request already in the stream", scene_id=request.scene_id)
                return ack.seq
            except (NoRespondersError, ConnectionClosedError, OutboundBufferLimitError) as exc:
                # Never sent, or no stream listens: nothing was stored by this attempt.
                problem = f"{type(exc).__name__}: {exc}"
            except APIError as exc:
                # JetStream answered and refused it (a full stream, a wrong stream).
                problem = f"JetStream refused it: {exc}"
            except Exception as exc:
                # A timeout after sending (or a message buffered while reconnecting, that
                # goes out later): it may be stored. The next attempt has the same id.
                maybe_sent = True
                problem = f"no acknowledgement: {type(exc).__name__}: {exc}"
            log.warning(
                "request publish not confirmed",
                scene_id=request.scene_id,
                attempt=attempt,
                problem=problem,
            )
            if attempt < self.attempts:
                await asyncio.sleep(0.2 * attempt)
        raise NotAccepted(problem, scene_id=request.scene_id, maybe_taken=maybe_sent)

    async def find(self, scene_id: str) -> tuple[int, str | None] | None:
        try:
            found = await self.js.get_last_msg(
                self.stream, subject(Subject.SCENE_REQUESTED, scene_id)
            )
        except NotFoundError:
            return None
        if found.seq is None:
            return None
        try:
            digest: str | None = body_digest(SceneRequested.model_validate_json(found.data or b""))
        except ValueError:
            digest = None
        return found.seq, digest


class KeyValueKeys:
    """:class:`KeyStore` in the JetStream key-value bucket ``IDEMPOTENCY_BUCKET``.

    The bucket is opened (or created) on first use, so a gateway starts while JetStream
    is still coming up; keys expire after ``ttl_s`` (the scene id, derived from the key,
    still finds the request in the stream after that).
    """

    def __init__(
        self,
        js: JetStreamContext,
        ttl_s: float,
        bucket: str = IDEMPOTENCY_BUCKET,
        replicas: int = 1,
    ):
        self.js = js
        self.ttl_s = ttl_s
        self.bucket = bucket
        self.replicas = replicas
        self._kv: KeyValue | None = None
        self._opening = asyncio.Lock()

    async def _open(self) -> KeyValue:
        async with self._opening:
            if self._kv is None:
                self._kv = await open_bucket(
                    self.js,
                    self.bucket,
                    "Idempotency-Key of each scene request -> its scene",
                    max_age_s=self.ttl_s,
                    replicas=self.replicas,
                )
            return self._kv

    async def claim(self, token: str, record: KeyRecord) -> tuple[KeyRecord, bool]:
        kv = await self._open()
        for _ in range(3):
            try:
                await asyncio.wait_for(kv.create(token, record.encode()), KV_TIMEOUT_S)
                return record, True
            except KeyWrongLastSequenceError:
                try:
                    entry = await asyncio.wait_for(kv.get(token), KV_TIMEOUT_S)
                except KeyNotFoundError:
                    continue  # expired or deleted in between: try to create it again
                assert entry.value is not None
                return KeyRecord.decode(entry.value), False
        raise RuntimeError(f"idempotency key {token[:12]} keeps changing")

    async def settle(self, token: str, record: KeyRecord) -> None:
        kv = await self._open()
        await asyncio.wait_for(kv.put(token, record.encode()), KV_TIMEOUT_S)
