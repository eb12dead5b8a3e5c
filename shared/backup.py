"""Encrypted backups of a deployment through the JetStream API, and their restore.

A backup holds, message by message, the event stream and the key-value and object-store
buckets the pipeline keeps (each a stream: ``KV_<bucket>``, ``OBJ_<bucket>``), every
message with its subject, headers, stream sequence and time; the artifacts of a local
artifact store as files; the position of each durable consumer; and the effective
settings with secrets redacted. It works the same against the embedded server and an
external NATS, because it uses nothing but the JetStream API.

**File format.** A clear header (magic, format version, scrypt parameters, salt, a key
check, frame size) followed by frames: AES-256-GCM over at most 1 MiB of plaintext each,
with its own random nonce, authenticated together with the header, its index and
whether it is the last frame. A frame moved, dropped, altered or a file cut short fails
authentication; a wrong password fails the key check before any frame is read. The key
is derived from the password with scrypt and the file's random salt.

The plaintext is a sequence of records (a header record first, the manifest last):
``kind (1 byte) | meta length (4) | meta JSON | data length (8) | data``. The manifest
gives, per section (each stream, the files, the header), the number of records, their
data bytes and the sha256 of their encoding, and the objects of each object store whose
chunks were checked against their digest. Reading and writing are streamed: memory does
not grow with the size of the deployment.

**Restore** verifies the whole file first (every frame and every sum) and writes nothing
until that pass succeeds. Messages are published again in their order with their
headers (so ``Nats-Msg-Id`` survives); the new stream numbers them anew. Two changes are
made on the way, both so the restored deployment means what the original meant:

- ``Nats-Expected-*`` headers are dropped: they were conditions of the original write.
- A request published on the bare ``scene.requested`` subject without a ``scene_id``
  had its scene id derived from its original stream sequence and time; it is restored
  on ``scene.requested.<that id>`` so every consumer still derives the same scene.

Each durable consumer of the event stream is then moved to the restored position of
what it had acknowledged (a consumer reset, nats-server 2.14 or later), so services
started on the restored deployment neither redo finished work nor miss unfinished work.
The stream timestamps are those of the restore; the backup keeps the originals.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import os
import re
import struct
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit, urlunsplit

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext, api
from nats.js.errors import APIError, NotFoundError

from shared.bus import provision
from shared.cache import CACHE_BUCKET
from shared.config import Settings
from shared.contract import (
    IDEMPOTENCY_BUCKET,
    OBJECT_STORE_BUCKET,
    SCENE_STATE_BUCKET,
    STORED_AT_HEADER,
    Subject,
    derived_scene_id,
    subject,
)
from shared.errors import BadInput, Permanent, RetryLater
from shared.logs import get_logger

log = get_logger(__name__)

MAGIC = b"HOLODECK-BACKUP\n"
FORMAT_VERSION = 1
FRAME_BYTES = 1024 * 1024
SALT_BYTES = 16
NONCE_BYTES = 12
TAG_BYTES = 16
CHECK_BYTES = 16
# scrypt cost: 2**15 x 8 x 128 bytes = 32 MiB and about 0.1 s per derivation. A reader
# accepts up to 2**17 so that a forged header cannot demand gigabytes.
SCRYPT_LOG2_N = 15
SCRYPT_R = 8
SCRYPT_P = 1
MAX_SCRYPT_LOG2_N = 17
_HEADER = struct.Struct(">16sBBBB16s16sI")
_FRAME = struct.Struct(">B12sI")
_FRAME_AAD = struct.Struct(">QB")
_RECORD = struct.Struct(">BI")
_LENGTH = struct.Struct(">Q")
# The largest meta a record may carry (a stream config, the settings), against forgeries.
MAX_META_BYTES = 16 * 1024 * 1024

# Record kinds.
HEADER, STREAM, MESSAGE, FILE, MANIFEST = 1, 2, 3, 4, 5

# Key-value buckets worth keeping. The backend-slots bucket is not one of them: its keys
# are leases of requests in flight, meaningless after a restore.
KV_BUCKETS = (SCENE_STATE_BUCKET, CACHE_BUCKET, IDEMPOTENCY_BUCKET)
OBJECT_BUCKETS = (OBJECT_STORE_BUCKET,)
FILES_SECTION = "files"
HEADER_SECTION = "header"
# A stream that delivers nothing for this long while more is due fails the backup.
READ_IDLE_S = 30.0
# Headers that were conditions of the original write, not part of the message.
EXPECTATION_PREFIX = "nats-expected-"
MSG_ID_HEADER = "Nats-Msg-Id"
# nats-server answers this when no message matches a message-get request.
NO_MESSAGE_FOUND = 10037
CONSUMER_RESET_SINCE = (2, 14)
SECRET_KEY = re.compile(r"(^|_)(key|password|secret|token|credentials?)$", re.IGNORECASE)
REDACTED = "***"

Progress = Callable[[int], None]


class BackupInvalid(Permanent):
    """The file is not a readable backup: altered, truncated, or not a backup at all."""

    code = "backup_invalid"


class WrongPassword(BackupInvalid):
    code = "backup_wrong_password"


class RestoreRefused(BadInput):
    """Restoring would overwrite or disturb what the target deployment holds."""

    code = "restore_refused"


# ---------------------------------------------------------------- encryption


def _derive(password: str, salt: bytes, log2_n: int, r: int, p: int) -> tuple[bytes, bytes]:
    """The AES key and the key check of ``password`` with this salt."""
    if not password:
        raise BadInput("BACKUP_PASSWORD is empty")
    material = Scrypt(salt=salt, length=64, n=2**log2_n, r=r, p=p).derive(password.encode())
    check = hashlib.sha256(b"holodeck-backup-key-check" + material[32:]).digest()[:CHECK_BYTES]
    return material[:32], check


class _FrameWriter:
    """Plaintext in, authenticated frames out, one frame per ``FRAME_BYTES``."""

    def __init__(self, handle: IO[bytes], password: str):
        salt = os.urandom(SALT_BYTES)
        key, check = _derive(password, salt, SCRYPT_LOG2_N, SCRYPT_R, SCRYPT_P)
        self.header = _HEADER.pack(
            MAGIC, FORMAT_VERSION, SCRYPT_LOG2_N, SCRYPT_R, SCRYPT_P, salt, check, FRAME_BYTES
        )
        self._handle = handle
        self._aead = AESGCM(key)
        self._buffer = bytearray()
        self._index = 0
        handle.write(self.header)

    def write(self, data: bytes) -> None:
        self._buffer += data
        while len(self._buffer) >= FRAME_BYTES:
            self._seal(bytes(self._buffer[:FRAME_BYTES]), final=False)
            del self._buffer[:FRAME_BYTES]

    def close(self) -> None:
        self._seal(bytes(self._buffer), final=True)
        self._buffer.clear()

    def _seal(self, plain: bytes, *, final: bool) -> None:
        nonce = os.urandom(NONCE_BYTES)
        flag = int(final)
        sealed = self._aead.encrypt(nonce, plain, self.header + _FRAME_AAD.pack(self._index, flag))
        self._handle.write(_FRAME.pack(flag, nonce, len(sealed)) + sealed)
        self._index += 1


def _frames(handle: IO[bytes], password: str, name: str) -> Iterator[bytes]:
    """The plaintext of each frame in order; :class:`BackupInvalid` at the first problem."""
    header = handle.read(_HEADER.size)
    if len(header) < _HEADER.size or not header.startswith(MAGIC):
        raise BackupInvalid(f"{name} is not a Holodeck backup")
    _, version, log2_n, r, p, salt, check, frame_bytes = _HEADER.unpack(header)
    if version != FORMAT_VERSION:
        raise BackupInvalid(f"{name} has backup format {version}; this version reads only 1")
    if not (1 <= log2_n <= MAX_SCRYPT_LOG2_N and 1 <= r <= 32 and 1 <= p <= 16):
        raise BackupInvalid(f"{name} has a damaged header (key derivation parameters)")
    if not 0 < frame_bytes <= 64 * FRAME_BYTES:
        raise BackupInvalid(f"{name} has a damaged header (frame size {frame_bytes})")
    key, expected = _derive(password, salt, log2_n, r, p)
    if not hmac.compare_digest(check, expected):
        raise WrongPassword(f"wrong BACKUP_PASSWORD for {name} (or its header was altered)")
    aead = AESGCM(key)
    index = 0
    while True:
        head = handle.read(_FRAME.size)
        if len(head) < _FRAME.size:
            raise BackupInvalid(
                f"{name} is truncated: it ends after {index} frames, before its last one"
            )
        flag, nonce, length = _FRAME.unpack(head)
        if flag not in (0, 1) or not TAG_BYTES <= length <= frame_bytes + TAG_BYTES:
            raise BackupInvalid(f"{name} is damaged at frame {index} (its frame header)")
        sealed = handle.read(length)
        if len(sealed) < length:
            raise BackupInvalid(f"{name} is truncated inside frame {index}")
        try:
            plain = aead.decrypt(nonce, sealed, header + _FRAME_AAD.pack(index, flag))
        except InvalidTag:
            raise BackupInvalid(
                f"{name} fails authentication at frame {index}: the file was altered, "
                "reordered or cut"
            ) from None
        yield plain
        index += 1
        if flag:
            if handle.read(1):
                raise BackupInvalid(f"{name} has data after its last frame")
            return


class _Plaintext:
    """Exact reads over the frames' plaintext."""

    def __init__(self, frames: Iterator[bytes], name: str):
        self._frames = frames
        self._name = name
        self._chunk = b""
        self._pos = 0

    def _fill(self) -> bool:
        for chunk in self._frames:
            if chunk:
                self._chunk, self._pos = chunk, 0
                return True
        return False

    def at_end(self) -> bool:
        return self._pos >= len(self._chunk) and not self._fill()

    def pieces(self, size: int) -> Iterator[bytes]:
        """The next ``size`` bytes, in the pieces the frames hold them."""
        while size > 0:
            if self._pos >= len(self._chunk) and not self._fill():
                raise BackupInvalid(f"{self._name} ends inside a record")
            piece = self._chunk[self._pos : self._pos + size]
            self._pos += len(piece)
            size -= len(piece)
            yield piece

    def read(self, size: int) -> bytes:
        return b"".join(self.pieces(size))


# ---------------------------------------------------------------- records


@dataclass
class SectionSum:
    records: int = 0
    size: int = 0
    hasher: Any = field(default_factory=hashlib.sha256)

    def add(self, encoded: bytes) -> None:
        self.hasher.update(encoded)

    def as_dict(self) -> dict[str, Any]:
        return {"records": self.records, "bytes": self.size, "sha256": self.hasher.hexdigest()}


def _record_head(kind: int, meta: dict[str, Any], size: int) -> bytes:
    encoded = json.dumps(meta, separators=(",", ":"), sort_keys=True).encode()
    return _RECORD.pack(kind, len(encoded)) + encoded + _LENGTH.pack(size)


class _RecordWriter:
    def __init__(self, frames: _FrameWriter):
        self._frames = frames
        self.sections: dict[str, SectionSum] = {}

    def write(self, kind: int, section: str, meta: dict[str, Any], data: bytes = b"") -> None:
        self.write_pieces(kind, section, meta, len(data), [data])

    def write_pieces(
        self, kind: int, section: str, meta: dict[str, Any], size: int, pieces: Iterable[bytes]
    ) -> None:
        total = self.sections.setdefault(section, SectionSum())
        head = _record_head(kind, meta, size)
        total.add(head)
        self._frames.write(head)
        written = 0
        for piece in pieces:
            total.add(piece)
            self._frames.write(piece)
            written += len(piece)
        if written != size:
            raise RetryLater(f"{meta.get('path', section)} changed size while it was read")
        total.records += 1
        total.size += size


@dataclass
class Record:
    kind: int
    meta: dict[str, Any]
    size: int
    head: bytes


def _read_record(plain: _Plaintext, name: str) -> Record:
    head = plain.read(_RECORD.size)
    kind, meta_size = _RECORD.unpack(head)
    if kind not in (HEADER, STREAM, MESSAGE, FILE, MANIFEST) or meta_size > MAX_META_BYTES:
        raise BackupInvalid(f"{name} holds a record it cannot read (kind {kind})")
    encoded = plain.read(meta_size)
    size = _LENGTH.unpack(plain.read(_LENGTH.size))[0]
    try:
        meta = json.loads(encoded)
    except ValueError:
        raise BackupInvalid(f"{name} holds a record whose description is not JSON") from None
    if not isinstance(meta, dict):
        raise BackupInvalid(f"{name} holds a record whose description is not an object")
    return Record(kind, meta, size, head + encoded + _LENGTH.pack(size))


# ---------------------------------------------------------------- object-store checks


class _ObjectCheck:
    """Follows an object-store stream and checks each object's chunks against its digest."""

    def __init__(self, bucket: str):
        self._chunks = f"$O.{bucket}.C."
        self._metas = f"$O.{bucket}.M."
        self._open: dict[str, tuple[Any, int]] = {}
        self.ok = 0
        self.damaged: list[str] = []

    def add(self, subject_name: str, data: bytes) -> None:
        if subject_name.startswith(self._chunks):
            nuid = subject_name[len(self._chunks) :]
            hasher, size = self._open.get(nuid) or (hashlib.sha256(), 0)
            hasher.update(data)
            self._open[nuid] = (hasher, size + len(data))
        elif subject_name.startswith(self._metas):
            try:
                info = api.ObjectInfo.from_response(json.loads(data))
            except (ValueError, TypeError, KeyError):
                self.damaged.append(subject_name)
                return
            if info.deleted or not info.nuid or info.nuid not in self._open:
                return  # a deletion, or chunks older than an incremental backup
            hasher, size = self._open.pop(info.nuid)
            digest = "SHA-256=" + base64.urlsafe_b64encode(hasher.digest()).decode()
            if size == info.size and (info.digest or "").upper() == digest.upper():
                self.ok += 1
            else:
                self.damaged.append(info.name)

    def report(self) -> dict[str, Any]:
        return {"checked": self.ok, "damaged": sorted(self.damaged)}


# ---------------------------------------------------------------- helpers


@dataclass(frozen=True)
class Since:
    """Where an incremental backup starts: after a stream sequence, after a time, or
    after the last event a previous backup holds."""

    seq: int | None = None
    time: datetime | None = None
    after: Path | None = None

    @classmethod
    def parse(cls, text: str) -> Since:
        text = text.strip()
        if text.isdigit():
            return cls(seq=int(text))
        with contextlib.suppress(ValueError):
            when = datetime.fromisoformat(text.replace("Z", "+00:00"))
            return cls(time=when if when.tzinfo else when.replace(tzinfo=UTC))
        path = Path(text).expanduser()
        if path.is_file():
            return cls(after=path)
        raise BadInput(
            f"--incremental-since {text!r} is neither a stream sequence, an ISO time nor a "
            "backup file (e.g. 1200, 2026-01-31T02:00:00Z or /backup/holodeck/last.hbk)"
        )


def _iso(when: datetime | None) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z") if when else ""


def redacted(value: Any, key: str = "") -> Any:
    """``value`` with secrets replaced: keys named like secrets, passwords inside URLs."""
    if isinstance(value, dict):
        return {k: redacted(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [redacted(v, key) for v in value]
    if isinstance(value, str) and value:
        if SECRET_KEY.search(key):
            return REDACTED
        if "://" in value and "@" in value:
            parts = urlsplit(value)
            if parts.password or parts.username:
                host = parts.hostname or ""
                port = f":{parts.port}" if parts.port else ""
                return urlunsplit(parts._replace(netloc=f"{REDACTED}@{host}{port}"))
    return value


def _stream_config(info: api.StreamInfo) -> dict[str, Any]:
    config = info.config.as_dict()
    metadata = config.get("metadata")
    if isinstance(metadata, dict):
        # The server's own bookkeeping (creating version, API level) is set again by it.
        kept = {k: v for k, v in metadata.items() if not str(k).startswith("_nats")}
        config["metadata"] = kept or None
    return {k: v for k, v in config.items() if v is not None}


def kept_headers(headers: dict[str, str] | None) -> dict[str, str]:
    """The headers to publish again: all but the original write's conditions."""
    return {
        k: v for k, v in (headers or {}).items() if not k.lower().startswith(EXPECTATION_PREFIX)
    }


def subject_matches(pattern: str, name: str) -> bool:
    """NATS subject matching: ``*`` one token, ``>`` one or more at the end."""
    want, have = pattern.split("."), name.split(".")
    for i, token in enumerate(want):
        if token == ">":
            return len(have) > i
        if i >= len(have) or (token != "*" and token != have[i]):
            return False
    return len(want) == len(have)


def _restored_subject(name: str, data: bytes, seq: int, stored: float) -> str:
    """A bare request without a scene id goes back on the subject of its derived id."""
    if name != Subject.SCENE_REQUESTED:
        return name
    try:
        body = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return name
    if not isinstance(body, dict) or body.get("scene_id"):
        return name
    return subject(Subject.SCENE_REQUESTED, derived_scene_id(seq, stored))


async def _stream_info(js: JetStreamContext, name: str) -> api.StreamInfo | None:
    try:
        return await js.stream_info(name)
    except NotFoundError:
        return None


async def _first_seq_at(js: JetStreamContext, stream: str, when: datetime) -> int | None:
    """The sequence of the first message stored at or after ``when``, None if none is."""
    request = json.dumps({"start_time": _iso(when)}).encode()
    reply = await js._nc.request(f"$JS.API.STREAM.MSG.GET.{stream}", request, timeout=10)
    body = json.loads(reply.data)
    error = body.get("error")
    if error:
        if error.get("err_code") == NO_MESSAGE_FOUND:
            return None
        raise RetryLater(f"stream {stream} did not answer a get by time: {error}")
    return int(body["message"]["seq"])


async def _messages(js: JetStreamContext, stream: str, start: int, last: int) -> AsyncIterator[Any]:
    """The messages of ``stream`` from sequence ``start`` to ``last``, in order, through an
    ordered consumer (flow-controlled, no acks, re-created by the client after a gap)."""
    sub = await js.subscribe(
        ">",
        stream=stream,
        ordered_consumer=True,
        config=api.ConsumerConfig(
            deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=start
        ),
    )
    try:
        while True:
            try:
                msg = await sub.next_msg(timeout=READ_IDLE_S)
            except NatsTimeout:
                raise RetryLater(
                    f"stream {stream} delivered nothing for {READ_IDLE_S:.0f} s before "
                    f"sequence {last}",
                    code="backup_stalled",
                ) from None
            meta = msg.metadata
            if meta.sequence.stream > last:
                return
            yield msg
            if meta.sequence.stream >= last or meta.num_pending == 0:
                return
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()


# ---------------------------------------------------------------- backup


@dataclass
class BackupReport:
    path: Path
    kind: str
    sections: dict[str, dict[str, Any]]
    objects: dict[str, dict[str, Any]]
    size_bytes: int
    seconds: float


def _new_backup_file(out: Path) -> tuple[Path, Path, IO[bytes]]:
    """The backup's final path, the partial file written first, and its open handle."""
    out = out.expanduser()
    if out.exists():
        raise BadInput(f"{out} exists: choose a new file for the backup")
    if not out.parent.is_dir():
        raise BadInput(f"{out.parent} is not a directory")
    partial = out.with_name(f".{out.name}.partial")
    # Readable by its owner only: it is encrypted, but its size and times say something.
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    return out, partial, os.fdopen(fd, "wb")


def _filters(config: api.ConsumerConfig) -> list[str]:
    if config.filter_subjects:
        return list(config.filter_subjects)
    return [config.filter_subject or ">"]


def _floor(consumer: api.ConsumerInfo) -> int:
    return consumer.ack_floor.stream_seq if consumer.ack_floor else 0


def _open_existing(path: Path) -> IO[bytes]:
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise BadInput(f"no backup file {path}") from None
    except IsADirectoryError:
        raise BadInput(f"{path} is a directory, not a backup file") from None


def _local_artifacts(folder: Path, after: float | None) -> list[tuple[Path, int]]:
    """The local store's artifact files (and sizes) written after ``after``; a file that
    does not hash to its name is left out with a warning (the store would not serve it)."""
    found: list[tuple[Path, int]] = []
    if not folder.is_dir():
        return found
    for shard in sorted(folder.iterdir()):
        if not shard.is_dir():
            continue
        for path in sorted(shard.iterdir()):
            if not re.fullmatch(r"[0-9a-f]{64}", path.name) or not path.is_file():
                continue
            stat = path.stat()
            if after is not None and stat.st_mtime <= after:
                continue
            hasher = hashlib.sha256()
            for _ in _file_pieces(path, hasher):
                pass
            if hasher.hexdigest() != path.name:
                log.warning("local artifact left out: it does not hash to its name", path=str(path))
                continue
            found.append((path, stat.st_size))
    return found


def _file_pieces(path: Path, hasher: Any) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        while piece := handle.read(FRAME_BYTES):
            hasher.update(piece)
            yield piece


async def make_backup(
    js: JetStreamContext,
    out: Path,
    password: str,
    settings: Settings,
    *,
    since: Since | None = None,
    artifacts_dir: Path | None = None,
    on_total: Progress | None = None,
    on_advance: Progress | None = None,
) -> BackupReport:
    """Write an encrypted backup of the deployment to ``out`` (a new file).

    ``since`` makes it incremental: event-stream messages after that sequence or time,
    and the other streams' messages and local artifacts stored after the same moment.
    ``artifacts_dir`` is the local artifact store's folder, when artifacts are files.
    """
    started = time.perf_counter()
    event_stream = settings.nats.stream
    info = await _stream_info(js, event_stream)
    if info is None:
        raise BadInput(f"stream {event_stream} does not exist here: there is nothing to back up")
    plan: list[tuple[str, api.StreamInfo, int]] = []
    header: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "created": _iso(datetime.now(UTC)),
        "kind": "incremental" if since else "full",
        "event_stream": event_stream,
        # The last event this backup holds: where an incremental backup after it starts.
        "event_last_seq": info.state.last_seq,
        # That event itself, to find it again in a stream a restore numbered anew.
        "event_last": await _event_at(js, event_stream, info.state.last_seq),
        "settings": redacted(settings.model_dump(mode="json")),
        "consumers": [],
        "streams": [],
    }
    cutoff: datetime | None = None
    first_event = info.state.first_seq
    if since is not None:
        if since.after is not None:
            since = Since(seq=await _last_event_of(js, since.after, password, event_stream))
        first_event, cutoff, anchor = await _incremental_start(js, event_stream, info, since)
        header["since"] = {"seq": since.seq, "time": _iso(since.time), "anchor": anchor}
    plan.append((event_stream, info, first_event))
    for name in [f"KV_{b}" for b in KV_BUCKETS] + [f"OBJ_{b}" for b in OBJECT_BUCKETS]:
        found = await _stream_info(js, name)
        if found is None:
            continue
        start = found.state.first_seq
        if cutoff is not None:
            start = await _first_seq_at(js, name, cutoff) or found.state.last_seq + 1
        plan.append((name, found, start))
    for consumer in await js.consumers_info(event_stream):
        if consumer.config.durable_name:
            header["consumers"].append(
                {
                    "name": consumer.name,
                    "ack_floor": _floor(consumer),
                    "filters": _filters(consumer.config),
                }
            )
    header["streams"] = [name for name, _, _ in plan]
    files: list[tuple[Path, int]] = []
    if artifacts_dir is not None:
        after = cutoff.timestamp() if cutoff else None
        files = await asyncio.to_thread(_local_artifacts, artifacts_dir, after)
    if on_total:
        total = sum(max(0, i.state.last_seq - start + 1) for _, i, start in plan) + len(files)
        on_total(total)

    out, partial, handle = _new_backup_file(out)
    objects: dict[str, _ObjectCheck] = {}
    try:
        frames = _FrameWriter(handle, password)
        records = _RecordWriter(frames)
        records.write(HEADER, HEADER_SECTION, header)
        for name, found, start in plan:
            records.write(
                STREAM,
                name,
                {"name": name, "config": _stream_config(found), "first_seq": start},
            )
            check = _ObjectCheck(name.removeprefix("OBJ_")) if name.startswith("OBJ_") else None
            if check is not None:
                objects[name] = check
            if start > found.state.last_seq or found.state.messages == 0:
                continue
            async for msg in _messages(js, name, start, found.state.last_seq):
                meta = msg.metadata
                data = msg.data or b""
                records.write(
                    MESSAGE,
                    name,
                    {
                        "subject": msg.subject,
                        "seq": meta.sequence.stream,
                        "time": meta.timestamp.timestamp(),
                        "headers": dict(msg.headers or {}),
                    },
                    data,
                )
                if check is not None:
                    check.add(msg.subject, data)
                if on_advance:
                    on_advance(1)
        for path, size in files:
            records.write_pieces(
                FILE,
                FILES_SECTION,
                {"path": f"{path.parent.name}/{path.name}", "size": size},
                size,
                _file_pieces(path, hashlib.sha256()),
            )
            if on_advance:
                on_advance(1)
        sections = {name: total.as_dict() for name, total in records.sections.items()}
        object_report = {name: check.report() for name, check in objects.items()}
        records.write(MANIFEST, "", {"sections": sections, "objects": object_report})
        frames.close()
        handle.flush()
        os.fsync(handle.fileno())
        handle.close()
        partial.replace(out)
        size = out.stat().st_size
    except BaseException:
        handle.close()
        partial.unlink(missing_ok=True)
        raise
    return BackupReport(
        out,
        header["kind"],
        sections,
        object_report,
        size,
        time.perf_counter() - started,
    )


async def _incremental_start(
    js: JetStreamContext, stream: str, info: api.StreamInfo, since: Since
) -> tuple[int, datetime, dict[str, Any] | None]:
    """The first event-stream sequence to keep, the time from which the other streams'
    messages are kept, and the last message before the first kept one (where the stream
    restored into must end)."""
    state = info.state
    if since.seq is not None:
        if since.seq > state.last_seq:
            raise BadInput(
                f"--incremental-since {since.seq} is beyond the stream's last sequence "
                f"{state.last_seq}"
            )
        first = since.seq + 1
        cutoff = datetime.fromtimestamp(0, UTC)
    else:
        assert since.time is not None
        found = await _first_seq_at(js, stream, since.time)
        first = found if found is not None else state.last_seq + 1
        cutoff = since.time
    anchor: dict[str, Any] | None = None
    if first - 1 >= max(state.first_seq, 1):
        try:
            msg = await js.get_msg(stream, seq=first - 1)
        except NotFoundError:
            raise BadInput(
                f"sequence {first - 1} is no longer in stream {stream}: give "
                "--incremental-since as a time, or make a full backup"
            ) from None
        anchor = {
            "seq": msg.seq,
            "subject": msg.subject,
            "sha256": hashlib.sha256(msg.data or b"").hexdigest(),
        }
        if since.seq is not None and msg.time is not None:
            cutoff = msg.time
    return first, cutoff, anchor


def read_header(path: Path, password: str) -> dict[str, Any]:
    """The header record of a backup (its first frame only is read and authenticated)."""
    with _open_existing(path) as handle:
        for record, _ in _records(handle, password, str(path)):
            if record.kind != HEADER:
                break
            return record.meta
    raise BackupInvalid(f"{path} does not start with its header record")


async def _event_at(js: JetStreamContext, stream: str, seq: int) -> dict[str, Any] | None:
    """What identifies the message at ``seq``: its subject and the sha256 of its body."""
    if seq < 1:
        return None
    try:
        msg = await js.get_msg(stream, seq=seq)
    except NotFoundError:
        return None
    return {"subject": msg.subject, "sha256": hashlib.sha256(msg.data or b"").hexdigest()}


async def _last_event_of(js: JetStreamContext, path: Path, password: str, stream: str) -> int:
    """The sequence, in the stream as it is now, of the last event the backup at ``path``
    holds. A stream restored from a backup numbers its messages anew, so the event is
    looked for by its subject and body when its old sequence now holds another message."""
    header = read_header(path, password)
    if header.get("event_stream") != stream or "event_last_seq" not in header:
        raise BadInput(f"{path} is not a backup of stream {stream}")
    seq = int(header["event_last_seq"])
    last = header.get("event_last")
    if not isinstance(last, dict):
        return seq  # a backup made before the last event was recorded
    now = await _event_at(js, stream, seq)
    if now == last:
        return seq
    found = None
    async for msg in _subject_messages(js, stream, str(last["subject"])):
        if hashlib.sha256(msg.data or b"").hexdigest() == last["sha256"]:
            found = msg.metadata.sequence.stream
    if found is None and now is None:
        return seq  # removed since (a purge), not renumbered: its place is still its own
    if found is None:
        raise BadInput(
            f"the last event of {path} ({last['subject']}, sequence {seq}) is not in stream "
            f"{stream}: this deployment does not continue that backup; make a full backup"
        )
    return int(found)


async def _subject_messages(js: JetStreamContext, stream: str, name: str) -> AsyncIterator[Any]:
    """Every message of ``stream`` on the subject ``name``, in order."""
    info = await js.stream_info(stream, subjects_filter=name)
    if not info.state.subjects:
        return
    sub = await js.subscribe(name, stream=stream, ordered_consumer=True)
    try:
        while True:
            try:
                msg = await sub.next_msg(timeout=READ_IDLE_S)
            except NatsTimeout:
                raise RetryLater(
                    f"stream {stream} delivered nothing on {name} for {READ_IDLE_S:.0f} s",
                    code="backup_stalled",
                ) from None
            yield msg
            if msg.metadata.num_pending == 0:
                return
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()


# ---------------------------------------------------------------- verify


@dataclass
class BackupSummary:
    """What a verified backup holds."""

    path: Path
    header: dict[str, Any]
    sections: dict[str, dict[str, Any]]
    objects: dict[str, dict[str, Any]]
    streams: dict[str, int]
    configs: dict[str, dict[str, Any]]
    files: int
    size_bytes: int

    @property
    def kind(self) -> str:
        return str(self.header.get("kind"))


def _records(handle: IO[bytes], password: str, name: str) -> Iterator[tuple[Record, _Plaintext]]:
    plain = _Plaintext(_frames(handle, password, name), name)
    while not plain.at_end():
        yield _read_record(plain, name), plain


def verify_backup(path: Path, password: str, on_advance: Progress | None = None) -> BackupSummary:
    """Read the whole backup: every frame authenticated, every sum and digest recomputed
    and compared with the manifest. :class:`BackupInvalid` names the first problem."""
    name = str(path)
    with _open_existing(path) as handle:
        return _verify(handle, password, name, path, on_advance)


def _verify(
    handle: IO[bytes], password: str, name: str, path: Path, on_advance: Progress | None
) -> BackupSummary:
    sections: dict[str, SectionSum] = {}
    checks: dict[str, _ObjectCheck] = {}
    streams: dict[str, int] = {}
    configs: dict[str, dict[str, Any]] = {}
    header: dict[str, Any] | None = None
    manifest: dict[str, Any] | None = None
    current: str | None = None
    last_seq = 0
    files = 0
    for record, plain in _records(handle, password, name):
        if manifest is not None:
            raise BackupInvalid(f"{name} holds records after its manifest")
        if header is None and record.kind != HEADER:
            raise BackupInvalid(f"{name} does not start with its header record")
        if record.kind == MANIFEST:
            manifest = record.meta
            plain.read(record.size)
            continue
        section = _section_of(record, current, name)
        total = sections.setdefault(section, SectionSum())
        total.add(record.head)
        if record.kind == HEADER:
            if header is not None:
                raise BackupInvalid(f"{name} holds two header records")
            header = record.meta
        elif record.kind == STREAM:
            current, last_seq = section, 0
            streams[section] = 0
            config = record.meta.get("config")
            if not isinstance(config, dict):
                raise BackupInvalid(f"{name}: stream {section} comes without its configuration")
            configs[section] = config
            if section.startswith("OBJ_"):
                checks[section] = _ObjectCheck(section.removeprefix("OBJ_"))
        if record.kind == FILE:
            hasher = hashlib.sha256()
            for piece in plain.pieces(record.size):
                total.add(piece)
                hasher.update(piece)
            if hasher.hexdigest() != str(record.meta.get("path", "")).rpartition("/")[2]:
                raise BackupInvalid(
                    f"{name}: artifact {record.meta.get('path')} does not hash right"
                )
            files += 1
        else:
            data = plain.read(record.size)
            total.add(data)
            if record.kind == MESSAGE:
                seq = int(record.meta.get("seq", 0))
                if seq <= last_seq:
                    raise BackupInvalid(f"{name}: stream {section} is out of order at {seq}")
                last_seq = seq
                streams[section] += 1
                if section in checks:
                    checks[section].add(str(record.meta.get("subject")), data)
        total.records += 1
        total.size += record.size
        if on_advance and record.kind in (MESSAGE, FILE):
            on_advance(1)
    if header is None:
        raise BackupInvalid(f"{name} is empty")
    if manifest is None:
        raise BackupInvalid(f"{name} has no manifest")
    found = {section: total.as_dict() for section, total in sections.items()}
    if found != manifest.get("sections"):
        wrong = sorted(
            s for s in set(found) | set(manifest.get("sections") or {})
            if found.get(s) != (manifest.get("sections") or {}).get(s)
        )  # fmt: skip
        raise BackupInvalid(f"{name}: the sums of {', '.join(wrong)} differ from its manifest")
    objects = {section: check.report() for section, check in checks.items()}
    if objects != manifest.get("objects"):
        raise BackupInvalid(f"{name}: its object-store checks differ from its manifest")
    return BackupSummary(
        path, header, found, objects, streams, configs, files, os.fstat(handle.fileno()).st_size
    )


def _section_of(record: Record, current: str | None, name: str) -> str:
    if record.kind == HEADER:
        return HEADER_SECTION
    if record.kind == FILE:
        return FILES_SECTION
    if record.kind == STREAM:
        stream = record.meta.get("name")
        if not isinstance(stream, str) or not stream:
            raise BackupInvalid(f"{name} holds a stream record without a name")
        return stream
    if current is None:
        raise BackupInvalid(f"{name} holds a message outside any stream")
    return current


# ---------------------------------------------------------------- restore


@dataclass
class RestoreReport:
    kind: str
    streams: dict[str, int] = field(default_factory=dict)
    files: int = 0
    consumers: dict[str, int] = field(default_factory=dict)
    requests_renamed: int = 0
    without_msg_id: int = 0
    seconds: float = 0.0


@dataclass
class _Consumer:
    filters: list[str]
    floor: int = 0

    def matches(self, subject_name: str) -> bool:
        return any(subject_matches(f, subject_name) for f in self.filters)


@dataclass
class _Positions:
    """Where each durable consumer of the target stream should resume after the restore.

    A restored message counts as done when a consumer of the backed-up deployment that
    took its original subject had acknowledged it. A target consumer taking its restored
    subject resumes at the first of its messages not done, or after the last restored.
    """

    original: dict[str, _Consumer]
    target: dict[str, _Consumer]
    resume: dict[str, int] = field(default_factory=dict)
    last: int = 0

    def restored(self, old_subject: str, old_seq: int, new_subject: str, new_seq: int) -> None:
        done = any(c.matches(old_subject) and old_seq <= c.floor for c in self.original.values())
        self.last = new_seq
        for name, consumer in self.target.items():
            if not done and name not in self.resume and consumer.matches(new_subject):
                self.resume[name] = new_seq

    def positions(self) -> dict[str, int]:
        """The sequence each target consumer is to resume at."""
        if not self.last:
            return {}
        return {name: self.resume.get(name, self.last + 1) for name in self.target}


def _check_store(
    summary: BackupSummary, settings: Settings, artifacts_dir: Path | None, path: Path
) -> None:
    """Refuse a restore whose artifacts this deployment would not read: a backup of local
    artifact files into a deployment using the NATS object store (the files would be
    dropped), or the reverse (the bucket restored, but never read)."""
    backed = summary.header.get("settings", {}).get("storage", {}).get("artifact_store")
    here = settings.storage.artifact_store
    objects = sum(n for name, n in summary.streams.items() if name.startswith("OBJ_"))
    holds = (
        f"{summary.files} artifact files of a local store"
        if summary.files
        else f"{objects} object-store messages"
    )
    wanted = backed or ("local" if summary.files else "nats")
    if (summary.files and artifacts_dir is None) or (objects and here != "nats"):
        raise RestoreRefused(
            f"{path} holds the artifacts of a deployment with artifact store {wanted!r} "
            f"({holds}), but this one reads artifacts from {here!r}: its scenes' files would "
            f"not be served; restore with storage.artifact_store: {wanted} "
            f"(HOLODECK_ARTIFACT_STORE={wanted})"
        )


async def _check_target(
    js: JetStreamContext, summary: BackupSummary, target_stream: str, force: bool
) -> None:
    """Refuse what would overwrite or disturb the target, before anything is written."""
    version = js._nc.connected_server_version
    if (version.major, version.minor) < CONSUMER_RESET_SINCE:
        raise RestoreRefused(
            f"nats-server {version} cannot move consumers (2.14 or later is needed)"
        )
    event = summary.header["event_stream"]
    held: list[str] = []
    busy: list[str] = []
    for name in summary.streams:
        target = target_stream if name == event else name
        info = await _stream_info(js, target)
        if info is None:
            continue
        if info.state.messages and (summary.kind == "full" or name != event):
            held.append(f"{target} ({info.state.messages} messages)")
        if target == target_stream:
            busy = [c.name for c in await js.consumers_info(target) if c.num_waiting]
    if busy and not force:
        raise RestoreRefused(
            f"services are reading stream {target_stream} (consumers {', '.join(busy)}): "
            "stop them before restoring, or pass --force"
        )
    if summary.kind == "full" and held and not force:
        raise RestoreRefused(
            f"the deployment is not empty: {', '.join(held)}; restore into an empty "
            "deployment, or pass --force to replace what it holds"
        )
    if summary.kind == "incremental" and not force:
        await _check_anchor(js, summary, target_stream)


async def _check_anchor(js: JetStreamContext, summary: BackupSummary, stream: str) -> None:
    anchor = (summary.header.get("since") or {}).get("anchor")
    if anchor is None:
        return
    info = await _stream_info(js, stream)
    if info is None or not info.state.messages:
        raise RestoreRefused(
            f"this incremental backup continues a stream that ends at original sequence "
            f"{anchor['seq']}; restore the backup it follows first (or pass --force)"
        )
    last = await js.get_msg(stream, seq=info.state.last_seq)
    subject_name = last.subject or ""
    same_subject = anchor["subject"] in (subject_name, subject_name.rpartition(".")[0])
    if not same_subject or hashlib.sha256(last.data or b"").hexdigest() != anchor["sha256"]:
        raise RestoreRefused(
            f"stream {stream} does not end where this incremental backup starts (after "
            f"original sequence {anchor['seq']}, {anchor['subject']}): restore the backups "
            "in order, or pass --force"
        )


async def _prepare_streams(
    js: JetStreamContext,
    settings: Settings,
    configs: dict[str, dict[str, Any]],
    event: str,
    force: bool,
    kind: str,
) -> None:
    """Make every stream of the backup exist (the event stream with the project's own
    configuration). With ``force`` a full restore deletes them first: a purge would keep
    the server's memory of recent message ids, and the restored messages carry them."""
    if force and kind == "full":
        for name in configs:
            with contextlib.suppress(NotFoundError):
                await js.delete_stream(settings.nats.stream if name == event else name)
    await provision(js, settings.nats)
    for name, config in configs.items():
        if name != event and await _stream_info(js, name) is None:
            await js.add_stream(api.StreamConfig.from_response(dict(config)))


async def restore_backup(
    js: JetStreamContext,
    path: Path,
    password: str,
    settings: Settings,
    *,
    force: bool = False,
    artifacts_dir: Path | None = None,
    on_total: Progress | None = None,
    on_advance: Progress | None = None,
    summary: BackupSummary | None = None,
) -> RestoreReport:
    """Restore ``path`` into the deployment ``js`` reaches: verified whole first, then the
    streams, the local artifacts and the consumers' positions. The projection is the
    caller's to rebuild."""
    started = time.perf_counter()
    summary = summary or verify_backup(path, password)
    event = summary.header["event_stream"]
    target_stream = settings.nats.stream
    _check_store(summary, settings, artifacts_dir, path)
    await _check_target(js, summary, target_stream, force)
    if on_total:
        on_total(sum(summary.streams.values()) + summary.files)
    report = RestoreReport(summary.kind)
    await _prepare_streams(js, settings, summary.configs, event, force, summary.kind)
    positions = _Positions(
        {
            str(c["name"]): _Consumer(list(c["filters"]), int(c["ack_floor"]))
            for c in summary.header.get("consumers", [])
        },
        await _idle_consumers(js, target_stream),
    )
    name = str(path)
    with _open_existing(path) as handle:
        current: str | None = None
        for record, plain in _records(handle, password, name):
            if record.kind == STREAM:
                current = str(record.meta["name"])
            if record.kind == MESSAGE:
                assert current is not None
                data = plain.read(record.size)
                await _restore_message(
                    js, record, data, current, event, target_stream, positions, report
                )
            elif record.kind == FILE:
                _restore_file(record, plain, artifacts_dir, name)
                report.files += 1
            else:
                plain.read(record.size)
                continue
            if on_advance:
                on_advance(1)
    report.consumers = await _move_consumers(js, target_stream, positions)
    report.seconds = time.perf_counter() - started
    return report


async def _restore_message(
    js: JetStreamContext,
    record: Record,
    data: bytes,
    stream: str,
    event: str,
    target_stream: str,
    positions: _Positions,
    report: RestoreReport,
) -> None:
    meta = record.meta
    headers = kept_headers(meta.get("headers"))
    name = str(meta["subject"])
    target = stream
    if stream == event:
        target = target_stream
        # The new stream stores it now: the header keeps when it happened (a message
        # restored before keeps the time it already carries).
        headers.setdefault(STORED_AT_HEADER, _iso(datetime.fromtimestamp(float(meta["time"]), UTC)))
        renamed = _restored_subject(name, data, int(meta["seq"]), float(meta["time"]))
        if renamed != name:
            report.requests_renamed += 1
            name = renamed
    ack = await js.publish(name, data, headers=headers or None)
    if ack.duplicate:
        # The original stream held this message id twice, further apart than the
        # duplicate window; within one restore they are close, so the repeat goes
        # back without its id rather than not at all.
        headers.pop(MSG_ID_HEADER, None)
        ack = await js.publish(name, data, headers=headers or None)
        report.without_msg_id += 1
    if ack.stream != target:
        # Publishing names no stream (that would add a header to the stored message):
        # what took the subject is checked afterwards.
        raise Permanent(f"{name} was stored in stream {ack.stream}, not {target}")
    if stream == event:
        positions.restored(str(meta["subject"]), int(meta["seq"]), name, ack.seq)
    report.streams[target] = report.streams.get(target, 0) + 1


def _restore_file(record: Record, plain: _Plaintext, folder: Path | None, name: str) -> None:
    relative = str(record.meta.get("path", ""))
    if not re.fullmatch(r"[0-9a-f]{2}/[0-9a-f]{64}", relative):
        raise BackupInvalid(f"{name} names an artifact file {relative!r} it cannot hold")
    if folder is None:
        for _ in plain.pieces(record.size):
            pass
        return
    target = folder / relative
    if target.exists():
        for _ in plain.pieces(record.size):
            pass
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".tmp-restore-{target.name}")
    with open(partial, "wb") as handle:
        for piece in plain.pieces(record.size):
            handle.write(piece)
    partial.replace(target)


async def _idle_consumers(js: JetStreamContext, stream: str) -> dict[str, _Consumer]:
    """The durables of ``stream`` with nothing waiting: the ones a restore may move.
    A durable with messages not yet done (an incremental restore on a deployment that has
    work left) stays where it is, so that the work is not skipped."""
    idle: dict[str, _Consumer] = {}
    for consumer in await js.consumers_info(stream):
        if not consumer.config.durable_name:
            continue
        if consumer.num_pending or consumer.num_ack_pending:
            log.warning("consumer with work left is not moved", consumer=consumer.name)
            continue
        idle[consumer.name] = _Consumer(_filters(consumer.config), _floor(consumer))
    return idle


async def _move_consumers(
    js: JetStreamContext, stream: str, positions: _Positions
) -> dict[str, int]:
    """Reset each durable to where it resumes after the restore; never back."""
    moved: dict[str, int] = {}
    for durable, resume in positions.positions().items():
        if positions.target[durable].floor >= resume - 1:
            continue
        try:
            await js.reset_consumer(stream, durable, seq=resume)
        except APIError as exc:
            raise RetryLater(
                f"consumer {durable} could not be moved to sequence {resume}: {exc}"
            ) from exc
        moved[durable] = resume - 1
    return moved
