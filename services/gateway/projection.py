"""The gateway's projection: the event stream folded into SQL tables.

Each applied event updates the rows and the projection's position (the last stream
sequence applied) in one transaction. The position is claimed first with a conditional
``UPDATE ... WHERE last_seq < :seq``: a sequence already applied is skipped, so replays
are harmless and two gateways sharing one database serialise on that row instead of
applying an event twice. Because the rows are a pure function of the stream (times are
JetStream's storage times, not the clock), a projection rebuilt from sequence 1 into a
fresh database gives the same views.

An event that cannot be applied is never retried forever: a malformed message, or any
error while folding it that is not the database being unreachable, rolls its changes
back and is recorded in the ``dead_letters`` table in the transaction that advances the
position. Dead letters the stages publish on ``dead.letter.<stage>`` land in the same
table. Only a database outage (connection lost, locked, out of space) raises
:class:`ProjectionUnavailable`, and the caller retries the same event: nothing stored in
the stream is skipped because the database was away.

A scene has numbered attempts (a replay opens the next one, announced by
``scene.replayed``). The scene row shows its current attempt; the ``scene_attempts`` table
keeps every attempt's stage of departure, start, end and outcome. Within an attempt the
first terminal event (``scene.ready``, ``scene.failed``, ``scene.cancelled``) in stream
order fixes its status, error and artifacts; later ones, and every event of an earlier
attempt, are only counted.

Each scene row carries ``changed_seq``, the stream sequence of the last event that changed
it, its objects or its attempts. Listeners registered with :meth:`Projection.on_advance`
(the gateway's read model, :mod:`services.gateway.readmodel`) are called after each
commit and before the new position is visible; :meth:`Projection.read_scenes` reads what
changed after a ``changed_seq`` in one snapshot.

STUCK is not stored but read: a scene whose current attempt is still running and has had
no event for longer than its current stage's allowance (:class:`StuckAfter`) shows as
STUCK when it is read, listed or counted.

SQLite (``sqlite+aiosqlite:///path``, WAL) by default; PostgreSQL (``postgresql+asyncpg://``)
in production.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Container, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar, cast

from pydantic import BaseModel
from sqlalchemy import (
    JSON,
    BigInteger,
    ColumnElement,
    DateTime,
    Dialect,
    Index,
    Text,
    and_,
    event,
    func,
    inspect,
    not_,
    or_,
    tuple_,
)
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    IntegrityError,
    InterfaceError,
    OperationalError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import registry
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel, col, delete, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from services.gateway.position import Position
from shared.contract import (
    ArtifactRef,
    Consumer,
    DeadLetter,
    ImagesReady,
    LayoutReady,
    MalformedEvent,
    MeshReady,
    SceneCancelled,
    SceneFailed,
    SceneReady,
    SceneReplayed,
    SceneRequested,
    Subject,
    dead_letter,
    ids_from_subject,
    is_work_item,
    parse_event,
    request_scene_id,
    root_of,
)
from shared.errors import RetryLater
from shared.logs import get_logger
from shared.metrics import DEAD_LETTERS

log = get_logger(__name__)

DEFAULT_NAME = "gateway"


class Status(StrEnum):
    PENDING = "PENDING"
    IN_PROGRESS = "IN_PROGRESS"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    # Read, never stored: running, but no event of its attempt for too long.
    STUCK = "STUCK"


class AttemptStatus(StrEnum):
    """How an attempt stands: a scene's statuses, or replaced by a later attempt while running."""

    PENDING = "PENDING"
    IN_PROGRESS = "IN_PROGRESS"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    STUCK = "STUCK"
    SUPERSEDED = "SUPERSEDED"


STAGES = ("planner", "imagegen", "meshgen", "assembly")
RUNNING = (Status.PENDING, Status.IN_PROGRESS)
# A running scene with no event of its attempt for this long is STUCK, unless configured.
STUCK_AFTER_S = 900.0
# How many artifacts and attempt statuses the projection remembers having written.
REMEMBERED = 100_000
# Scene ids per ``IN (...)`` when reading several scenes' objects: well under every
# backend's limit on bound parameters.
_IN_CHUNK = 500


@dataclass(frozen=True)
class StuckAfter:
    """How long a running scene may go without an event of its current attempt, per stage.

    The stage is the first one not yet SUCCEEDED. One allowance for every stage unless
    ``per_stage`` names one; a stage's allowance should cover one piece of its work with
    its retries, since a stage publishes nothing while it works on an object.
    """

    default_s: float = STUCK_AFTER_S
    per_stage: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = set(self.per_stage) - set(STAGES)
        if unknown:
            raise ValueError(f"unknown stages {sorted(unknown)}; choose from {', '.join(STAGES)}")
        if self.default_s <= 0 or any(v <= 0 for v in self.per_stage.values()):
            raise ValueError("stuck allowances must be positive seconds")

    def of(self, stage: str) -> float:
        return self.per_stage.get(stage, self.default_s)


# Statuses only move forward, and a scene's terminal status is never left.
_RANK = {Status.PENDING: 0, Status.IN_PROGRESS: 1, Status.SUCCEEDED: 2}
TERMINAL = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored: give a timezone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class _Table(SQLModel, registry=registry()):
    """The projection's own metadata, apart from any other SQLModel tables."""


class SceneRow(_Table, table=True):
    __tablename__ = "scenes"
    __table_args__ = (Index("ix_scenes_status_created", "status", "created_at"),)

    scene_id: str = Field(primary_key=True, max_length=64)
    prompt: str = Field(default="", sa_type=Text)
    requested_by: str | None = Field(default=None, sa_type=Text)
    status: str = Field(default=Status.PENDING, max_length=16)
    planner: str = Field(default=Status.PENDING, max_length=16)
    imagegen: str = Field(default=Status.PENDING, max_length=16)
    meshgen: str = Field(default=Status.PENDING, max_length=16)
    assembly: str = Field(default=Status.PENDING, max_length=16)
    object_count: int = 0
    images_ready: int = 0
    meshes_ready: int = 0
    created_at: datetime = Field(sa_type=UTCDateTime, index=True)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    error_stage: str | None = Field(default=None, sa_type=Text)
    error_object_id: str | None = Field(default=None, max_length=64)
    error_code: str | None = Field(default=None, sa_type=Text)
    error_message: str | None = Field(default=None, sa_type=Text)
    error_retryable: bool | None = None
    artifacts: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    # The attempt shown: a replay starts the next one, events of earlier ones are ignored.
    attempt: int = 1
    # The stream sequence of the attempt's first terminal event, which fixed its outcome.
    terminal_seq: int | None = Field(default=None, sa_type=BigInteger)
    # Terminal events that came after it: counted and described, never applied.
    late_outcomes: int = 0
    late_outcome: str | None = Field(default=None, sa_type=Text)
    # Storage time of the last event of the current attempt: what STUCK is measured from.
    last_event_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The stream sequence of the last event that changed the scene, its objects or its
    # attempts: the version a read model keeps, and what it asks for changes after.
    changed_seq: int = Field(default=0, sa_type=BigInteger, index=True)


class AttemptRow(_Table, table=True):
    """One attempt of a scene: where it started from, when, and how it ended."""

    __tablename__ = "scene_attempts"

    scene_id: str = Field(primary_key=True, max_length=64)
    attempt: int = Field(primary_key=True)
    # The stage it redoes from: planner for a first attempt, a replay's from_stage, or
    # None for an attempt known only from its events (its scene.replayed was not seen).
    from_stage: str | None = Field(default=None, max_length=16)
    started_at: datetime = Field(sa_type=UTCDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    status: str = Field(default=AttemptStatus.PENDING, max_length=16)
    error_stage: str | None = Field(default=None, sa_type=Text)
    error_object_id: str | None = Field(default=None, max_length=64)
    error_code: str | None = Field(default=None, sa_type=Text)
    error_message: str | None = Field(default=None, sa_type=Text)
    error_retryable: bool | None = None


class SceneObjectRow(_Table, table=True):
    __tablename__ = "scene_objects"

    scene_id: str = Field(primary_key=True, max_length=64)
    object_id: str = Field(primary_key=True, max_length=64)
    ordinal: int = 0
    category: str = Field(default="", sa_type=Text)
    description: str = Field(default="", sa_type=Text)
    image_status: str = Field(default=Status.PENDING, max_length=16)
    image: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    mesh_status: str = Field(default=Status.PENDING, max_length=16)
    mesh: dict[str, Any] | None = Field(default=None, sa_type=JSON)


class ArtifactRow(_Table, table=True):
    """Every artifact an event referenced, so a download by sha256 knows its media type."""

    __tablename__ = "artifacts"

    sha256: str = Field(primary_key=True, max_length=64)
    uri: str = Field(sa_type=Text)
    size: int = Field(sa_type=BigInteger)
    media_type: str = Field(sa_type=Text)


class PositionRow(_Table, table=True):
    __tablename__ = "projection_position"

    name: str = Field(primary_key=True, max_length=64)
    last_seq: int = Field(default=0, sa_type=BigInteger)


class DeadLetterRow(_Table, table=True):
    """A message some consumer could not parse or apply, with the reason.

    Keyed by who rejected it and the rejected message's stream sequence, so a stage's
    dead letter published twice, or re-applied by a rebuild, is one row.
    """

    __tablename__ = "dead_letters"

    rejected_by: str = Field(primary_key=True, max_length=64)
    stream_seq: int = Field(primary_key=True, sa_type=BigInteger)
    # Where the projection learned of it: the rejected message itself (the gateway's
    # own) or the ``dead.letter.<stage>`` event; orders the list newest first.
    recorded_seq: int = Field(sa_type=BigInteger, index=True)
    recorded_at: datetime = Field(sa_type=UTCDateTime)
    subject: str = Field(sa_type=Text)
    scene_id: str | None = Field(default=None, max_length=64)
    reason: str = Field(sa_type=Text)
    size: int = Field(default=0, sa_type=BigInteger)
    excerpt: str = Field(default="", sa_type=Text)


class StageStatuses(BaseModel):
    planner: Status
    imagegen: Status
    meshgen: Status
    assembly: Status


class ObjectView(BaseModel):
    object_id: str
    category: str
    description: str
    image_status: Status
    image: ArtifactRef | None
    mesh_status: Status
    mesh: ArtifactRef | None


class ErrorView(BaseModel):
    stage: str | None
    object_id: str | None
    code: str
    message: str
    retryable: bool


class SceneSummary(BaseModel):
    scene_id: str
    prompt: str
    requested_by: str | None
    status: Status
    progress: int
    stages: StageStatuses
    object_count: int
    created_at: datetime
    updated_at: datetime


class AttemptView(BaseModel):
    attempt: int
    from_stage: str | None
    started_at: datetime
    ended_at: datetime | None
    status: AttemptStatus
    error: ErrorView | None


class SceneView(SceneSummary):
    attempt: int = 1
    attempts: list[AttemptView] = []
    last_event_at: datetime | None = None
    objects: list[ObjectView]
    error: ErrorView | None
    artifacts: dict[str, ArtifactRef]
    late_outcomes: int = 0
    late_outcome: str | None = None


class DeadLetterView(BaseModel):
    rejected_by: str
    stream_seq: int
    subject: str
    scene_id: str | None
    reason: str
    size: int
    excerpt: str
    recorded_seq: int
    recorded_at: datetime


class DeadLetterPage(BaseModel):
    items: list[DeadLetterView]
    page: int
    page_size: int
    total: int


# (subject, data, stream sequence, storage time) of one stored message.
StoredEvent = tuple[str, bytes, int, datetime]


class _Contended(Exception):
    """Another projection sharing the database moved the position during a batch."""


class ProjectionUnavailable(RetryLater):
    """The database did not take an event: apply the same event again later."""

    code = "database_unavailable"


@dataclass(frozen=True)
class Snapshot:
    """Scene rows read at one moment, some of them as views, and the position then."""

    rows: list[SceneRow]
    views: dict[str, SceneView]
    position: int


class ScenePage(BaseModel):
    items: list[SceneSummary]
    page: int
    page_size: int
    total: int


def progress(row: SceneRow) -> int:
    """0–100: 5 once requested, +10 for the layout, +40 spread over images, +40 over meshes."""
    if row.status == Status.SUCCEEDED:
        return 100
    value = 5.0
    if row.planner == Status.SUCCEEDED:
        value += 10
    if row.object_count > 0:
        count = row.object_count
        value += 40 * min(row.images_ready, count) / count
        value += 40 * min(row.meshes_ready, count) / count
    return min(int(value), 99)


def _advance(current: str, new: Status) -> str:
    if current in (Status.FAILED, Status.CANCELLED):
        return current
    return new if _RANK[new] > _RANK[Status(current)] else current


def _stage_of(stage: str) -> str | None:
    """The status column a failing stage reports on: ``imagegen-fanout`` → ``imagegen``."""
    base = stage.split("-", 1)[0]
    return base if base in STAGES else None


# SQLSTATEs of a database that is away or busy, not of a bad row: connection exceptions,
# rolled-back transactions (deadlock, serialization), insufficient resources, operator
# intervention (shutdown, cancel), system errors; a lock not available; and a schema that
# lacks a table or column (every event would fail alike, so none is skipped).
_OUTAGE_SQLSTATE_CLASSES = frozenset({"08", "40", "53", "57", "58"})
_OUTAGE_SQLSTATES = frozenset({"55P03", "55006", "42P01", "42703"})


def _sqlstate(exc: DBAPIError) -> str | None:
    orig = exc.orig
    for candidate in (orig, getattr(orig, "__cause__", None)):
        code = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if isinstance(code, str) and code:
            return code
    return None


def is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` says the database is away (apply the event again later) rather
    than that this one event cannot be stored (keep it as a dead letter)."""
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        state = _sqlstate(exc)
        if state is not None:
            return state[:2] in _OUTAGE_SQLSTATE_CLASSES or state in _OUTAGE_SQLSTATES
        # asyncpg refuses a bad argument (an integer out of range) with a ValueError
        # that SQLAlchemy reports as an InterfaceError: that is the event, not the server.
        if isinstance(exc.orig, ValueError) or isinstance(
            getattr(exc.orig, "__cause__", None), ValueError
        ):
            return False
        # SQLite says "locked", "disk I/O error", "no such table" as OperationalError.
        return isinstance(exc, (OperationalError, InterfaceError))
    return isinstance(exc, (DisconnectionError, PoolTimeout, OSError))


def _scene_hint(subject_name: str) -> str | None:
    """The scene a subject names; ``dead.letter.<rejected_by>`` names none."""
    if root_of(subject_name) == Subject.DEAD_LETTER:
        return None
    scene_id, _ = ids_from_subject(subject_name)
    return scene_id


_PRELOADED = "holodeck.preloaded"
_Row = TypeVar("_Row", bound=SQLModel)


@dataclass
class _Preloaded:
    """The rows a batch of events touches, read in a few queries before it is folded, so
    folding asks the database nothing more about them (a query per row, each after an
    autoflush, made a busy stream ~1 ms an event).

    ``rows`` holds what was read or made, by (model, key); ``keys`` and ``scenes`` say
    which keys, and whose scene's rows, were read in full: a key they cover that
    ``rows`` lacks has no row.
    """

    rows: dict[tuple[type, Any], Any] = field(default_factory=dict)
    keys: set[tuple[type, Any]] = field(default_factory=set)
    scenes: dict[type, set[str]] = field(default_factory=dict)
    artifacts: dict[str, ArtifactRef] = field(default_factory=dict)

    def covers(self, model: type, key: Any) -> bool:
        if (model, key) in self.keys:
            return True
        return isinstance(key, tuple) and key[0] in self.scenes.get(model, ())

    def read(self, rows: Sequence[Any], model: type, key: Callable[[Any], Any]) -> None:
        for row in rows:
            self.rows[(model, key(row))] = row


def _storable(text: str) -> str:
    """Text every backend stores: PostgreSQL refuses NUL characters, UTF-8 surrogates."""
    return text.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")


class Projection:
    """Scenes and their objects as the stream tells them, in a SQL database."""

    def __init__(
        self,
        database_url: str,
        name: str = DEFAULT_NAME,
        *,
        stuck_after: StuckAfter | None = None,
        clock: Callable[[], datetime] | None = None,
    ):
        self.database_url = database_url
        self.name = name
        self.stuck_after = stuck_after or StuckAfter()
        self._clock = clock or (lambda: datetime.now(UTC))
        self._engine: AsyncEngine | None = None
        self._sessions: async_sessionmaker[AsyncSession] | None = None
        self._position = Position()
        self._listeners: list[Callable[[int], Awaitable[None]]] = []
        # Dead letters this instance recorded (its own and the stages'), for reports.
        self.dead_letters = 0
        self._known_rejecters = {name, *Consumer.FILTERS, *STAGES}
        # What committed transactions already wrote, so an event need not read it back:
        # artifacts (immutable) and each attempt's last recorded status. Forgotten whenever
        # a transaction fails, since its writes were rolled back.
        self._known_artifacts: set[str] = set()
        self._recorded_status: dict[tuple[str, int], str] = {}

    async def open(self) -> Projection:
        """Connect, create the tables if missing and load the position."""
        url = make_url(self.database_url)
        is_sqlite = url.get_backend_name() == "sqlite"
        in_memory = is_sqlite and url.database in (None, "", ":memory:")
        if is_sqlite and not in_memory:
            assert url.database is not None
            folder = Path(url.database).parent
            await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
        options: dict[str, Any] = {"pool_pre_ping": not is_sqlite}
        if in_memory:
            # One connection, or every connection would see its own empty database.
            options["poolclass"] = StaticPool
        engine = create_async_engine(url, **options)
        if is_sqlite:
            _configure_sqlite(engine, wal=not in_memory)
        self._engine = engine
        self._sessions = async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
        async with engine.begin() as conn:
            await conn.run_sync(_Table.metadata.create_all)
            await conn.run_sync(_add_missing_columns)
        await self._ensure_position()
        async with self._session() as session:
            row = await session.get(PositionRow, self.name)
            self._position.seq = row.last_seq if row else 0
        log.info("projection open", backend=url.get_backend_name(), last_seq=self._position.seq)
        return self

    async def close(self) -> None:
        engine, self._engine, self._sessions = self._engine, None, None
        if engine is not None:
            await engine.dispose()

    async def reset(self) -> None:
        """Drop every row and the position: the next apply starts from sequence 1."""
        if self._engine is None:
            raise RuntimeError("the projection is not open")
        async with self._engine.begin() as conn:
            await conn.run_sync(_Table.metadata.drop_all)
            await conn.run_sync(_Table.metadata.create_all)
        await self._ensure_position()
        self._position.seq = 0
        self._forget()

    def _forget(self) -> None:
        self._known_artifacts.clear()
        self._recorded_status.clear()

    async def __aenter__(self) -> Projection:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _session(self) -> AsyncSession:
        if self._sessions is None:
            raise RuntimeError("the projection is not open")
        return self._sessions()

    async def _ensure_position(self) -> None:
        async with self._session() as session:
            if await session.get(PositionRow, self.name) is not None:
                return
            session.add(PositionRow(name=self.name, last_seq=0))
            try:
                await session.commit()
            except IntegrityError:
                # Another gateway sharing the database created it first.
                await session.rollback()

    # -- applying events -------------------------------------------------------------

    async def apply(self, subject: str, data: bytes, stream_seq: int, stored_at: datetime) -> None:
        """Fold the event stored at ``stream_seq`` into the rows, once.

        A sequence at or below the position is skipped. An event that cannot be applied
        (malformed, or any error while folding it other than a database outage) is kept
        as a dead letter and the position moves past it. A database outage raises
        :class:`ProjectionUnavailable` and leaves the position unchanged: apply the same
        event again later.
        """
        letter: DeadLetterRow | None = None
        try:
            async with self._session() as session, session.begin():
                if await self._claim(session, stream_seq):
                    folded = await self._fold(session, subject, data, stream_seq, stored_at)
                    if folded is not None:
                        letter = next(iter(await self._store_letters(session, [folded])), None)
        except Exception as exc:
            self._forget()
            if is_outage(exc):
                raise ProjectionUnavailable(
                    f"the database did not take stream sequence {stream_seq}: {exc!r}"[:2000]
                ) from exc
            letter = await self._reject(subject, data, stream_seq, stored_at, exc)
        if letter is not None:
            self._announce(letter)
        await self._advanced(stream_seq)

    async def apply_many(self, events: Sequence[StoredEvent]) -> None:
        """Fold consecutive stored events (increasing sequences) in one transaction.

        The outcome of :meth:`apply` on each in turn, at a fraction of the cost: when one
        of them cannot be applied, or another projection sharing the database moved the
        position meanwhile, the transaction is dropped and each event is applied on its
        own (the bad one becomes a dead letter, the others go in).
        """
        if len(events) <= 1:
            for event in events:
                await self.apply(*event)
            return
        letters: list[DeadLetterRow] = []
        try:
            async with self._session() as session, session.begin():
                # Write first: it takes the lock (SQLite's database lock, PostgreSQL's row
                # lock) before the position is read, so the read cannot go stale.
                await session.exec(
                    update(PositionRow)
                    .where(col(PositionRow.name) == self.name)
                    .values(last_seq=PositionRow.last_seq)
                )
                position = await session.scalar(
                    select(col(PositionRow.last_seq)).where(col(PositionRow.name) == self.name)
                )
                todo = [event for event in events if event[2] > (position or 0)]
                if todo:
                    moved = await session.exec(
                        update(PositionRow)
                        .where(col(PositionRow.name) == self.name)
                        .where(col(PositionRow.last_seq) == (position or 0))
                        .values(last_seq=todo[-1][2])
                    )
                    if not moved.rowcount:
                        raise _Contended
                await self._preload(session, todo)
                for subject, data, seq, stored_at in todo:
                    letter = await self._fold(session, subject, data, seq, stored_at)
                    if letter is not None:
                        letters.append(letter)
                await self._store_artifacts(session)
                # One query and one insert for the batch's dead letters (a burst of
                # garbage is mostly dead letters: a query each made it 1.5 ms an event).
                letters = await self._store_letters(session, letters)
        except Exception as exc:
            self._forget()
            if is_outage(exc):
                raise ProjectionUnavailable(
                    f"the database did not take stream sequences {events[0][2]}-"
                    f"{events[-1][2]}: {exc!r}"[:2000]
                ) from exc
            for event in events:
                await self.apply(*event)
            return
        for letter in letters:
            self._announce(letter)
        await self._advanced(events[-1][2])

    async def _claim(self, session: AsyncSession, stream_seq: int) -> bool:
        claimed = await session.exec(
            update(PositionRow)
            .where(col(PositionRow.name) == self.name)
            .where(col(PositionRow.last_seq) < stream_seq)
            .values(last_seq=stream_seq)
        )
        return bool(claimed.rowcount)

    async def _reject(
        self, subject: str, data: bytes, seq: int, stored_at: datetime, error: Exception
    ) -> DeadLetterRow | None:
        """Keep an event that failed to apply as a dead letter, moving the position past it."""
        reason = f"cannot be applied: {type(error).__name__}: {error}"
        scene_hint = _scene_hint(subject)
        letters = [
            dead_letter(
                self.name, subject, data, seq, reason, scene_id=scene_hint, producer=self.name
            ),
            # If even the full letter cannot be stored, a bare one still records the skip.
            dead_letter(
                self.name,
                subject.encode("ascii", "replace").decode(),
                b"",
                seq,
                f"cannot be applied: {type(error).__name__}",
                producer=self.name,
            ),
        ]
        problem: Exception = error
        for letter in letters:
            try:
                async with self._session() as session, session.begin():
                    if not await self._claim(session, seq):
                        return None
                    row = self._letter_row(letter, seq, stored_at, size=len(data))
                    return next(iter(await self._store_letters(session, [row])), None)
            except Exception as exc:
                if is_outage(exc):
                    raise ProjectionUnavailable(
                        f"the database did not take the dead letter of stream sequence {seq}: "
                        f"{exc!r}"[:2000]
                    ) from exc
                problem = exc
        raise ProjectionUnavailable(
            f"neither stream sequence {seq} nor its dead letter could be stored: {problem!r}"
        ) from problem

    @staticmethod
    def _letter_row(
        letter: DeadLetter,
        recorded_seq: int,
        recorded_at: datetime,
        *,
        size: int | None = None,
    ) -> DeadLetterRow:
        return DeadLetterRow(
            rejected_by=letter.rejected_by,
            stream_seq=letter.stream_seq,
            recorded_seq=recorded_seq,
            recorded_at=recorded_at,
            subject=_storable(letter.subject),
            scene_id=letter.scene_id,
            reason=_storable(letter.reason),
            size=letter.size if size is None else size,
            excerpt=_storable(letter.excerpt),
        )

    @staticmethod
    async def _store_letters(
        session: AsyncSession, rows: Sequence[DeadLetterRow]
    ) -> list[DeadLetterRow]:
        """Add the dead letters not stored yet (a letter is one row however often it comes,
        in one batch or across batches); return those added."""
        if not rows:
            return []
        keys = {(row.rejected_by, row.stream_seq) for row in rows}
        stored = await session.exec(
            select(col(DeadLetterRow.rejected_by), col(DeadLetterRow.stream_seq)).where(
                tuple_(col(DeadLetterRow.rejected_by), col(DeadLetterRow.stream_seq)).in_(keys)
            )
        )
        seen = {(by, seq) for by, seq in stored.all()}
        added = []
        for row in rows:
            key = (row.rejected_by, row.stream_seq)
            if key not in seen:
                seen.add(key)
                session.add(row)
                added.append(row)
        return added

    def _announce(self, letter: DeadLetterRow) -> None:
        """Count and log a dead letter once, after it is stored."""
        self.dead_letters += 1
        label = letter.rejected_by if letter.rejected_by in self._known_rejecters else "other"
        DEAD_LETTERS.labels(label).inc()
        own = letter.rejected_by == self.name
        (log.warning if own else log.info)(
            "event dead-lettered" if own else "dead letter recorded",
            scene_id=letter.scene_id,
            rejected_by=letter.rejected_by,
            subject=letter.subject,
            stream_seq=letter.stream_seq,
            reason=letter.reason,
        )

    def on_advance(self, listener: Callable[[int], Awaitable[None]]) -> None:
        """Call ``listener(seq)`` each time the position reaches ``seq``: after the rows are
        committed, before :meth:`last_seq` and the waiters see it."""
        self._listeners.append(listener)

    async def _advanced(self, stream_seq: int) -> None:
        for listener in self._listeners:
            await listener(stream_seq)
        await self._position.advance(stream_seq)

    async def _fold(
        self, session: AsyncSession, subject: str, data: bytes, seq: int, stored_at: datetime
    ) -> DeadLetterRow | None:
        try:
            event = parse_event(subject, data)
            if isinstance(event, DeadLetter):
                # Kept, never applied to the scene it may name.
                return self._letter_row(event, seq, stored_at)
            if isinstance(event, SceneRequested):
                scene_id = request_scene_id(event, subject, seq, stored_at)
            else:
                scene_id = event.scene_id
        except MalformedEvent as exc:
            letter = dead_letter(
                self.name,
                subject,
                data,
                seq,
                f"malformed: {exc.reason}",
                scene_id=exc.scene_id if _scene_hint(subject) is not None else None,
                producer=self.name,
            )
            return self._letter_row(letter, seq, stored_at)
        if is_work_item(subject):
            return None
        scene, fresh = await self._scene(session, scene_id, stored_at)
        scene.changed_seq = seq
        if not await self._of_current_attempt(session, scene, event, seq, stored_at, fresh):
            scene.updated_at = max(scene.updated_at, stored_at)
            return None
        if isinstance(event, SceneRequested):
            self._requested(scene, event, stored_at)
        elif isinstance(event, LayoutReady):
            await self._layout_ready(session, scene, event)
        elif isinstance(event, ImagesReady):
            await self._image_ready(session, scene, event)
        elif isinstance(event, MeshReady):
            await self._mesh_ready(session, scene, event)
        elif isinstance(event, SceneReady):
            await self._scene_ready(session, scene, event, seq)
        elif isinstance(event, SceneFailed):
            await self._scene_failed(session, scene, event, seq)
        elif isinstance(event, SceneCancelled):
            self._scene_cancelled(scene, event, seq)
        scene.updated_at = max(scene.updated_at, stored_at)
        scene.last_event_at = max(scene.last_event_at or stored_at, stored_at)
        await self._record_attempt(session, scene, stored_at)
        log.debug("event applied", scene_id=scene_id, subject=subject, stream_seq=seq)
        return None

    @staticmethod
    async def _preload(session: AsyncSession, events: Sequence[StoredEvent]) -> None:
        """Read the rows ``events`` will touch in a few queries (see :class:`_Preloaded`)."""
        scenes: set[str] = set()
        objects: set[tuple[str, str]] = set()
        laid_out: set[str] = set()
        for subject_name, _, _, _ in events:
            if is_work_item(subject_name) or root_of(subject_name) == Subject.DEAD_LETTER:
                continue
            scene_id, object_id = ids_from_subject(subject_name)
            if scene_id is None:
                continue
            scenes.add(scene_id)
            if object_id is not None:
                objects.add((scene_id, object_id))
            elif root_of(subject_name) == Subject.LAYOUT_READY:
                laid_out.add(scene_id)
        pre = _Preloaded()
        if scenes:
            found = await session.exec(select(SceneRow).where(col(SceneRow.scene_id).in_(scenes)))
            pre.read(found.all(), SceneRow, lambda row: row.scene_id)
            pre.keys |= {(SceneRow, scene_id) for scene_id in scenes}
            found_attempts = await session.exec(
                select(AttemptRow).where(col(AttemptRow.scene_id).in_(scenes))
            )
            pre.read(found_attempts.all(), AttemptRow, lambda row: (row.scene_id, row.attempt))
            pre.scenes[AttemptRow] = set(scenes)
        objects = {pair for pair in objects if pair[0] not in laid_out}
        where = []
        if laid_out:
            where.append(col(SceneObjectRow.scene_id).in_(laid_out))
        if objects:
            where.append(
                tuple_(col(SceneObjectRow.scene_id), col(SceneObjectRow.object_id)).in_(objects)
            )
        if where:
            found_objects = await session.exec(select(SceneObjectRow).where(or_(*where)))
            pre.read(found_objects.all(), SceneObjectRow, lambda row: (row.scene_id, row.object_id))
            pre.keys |= {(SceneObjectRow, pair) for pair in objects}
            pre.scenes[SceneObjectRow] = laid_out
        session.info[_PRELOADED] = pre

    @staticmethod
    async def _get(session: AsyncSession, model: type[_Row], key: Any) -> _Row | None:
        pre: _Preloaded | None = session.info.get(_PRELOADED)
        if pre is not None:
            row = pre.rows.get((model, key))
            if row is not None or pre.covers(model, key):
                return cast("_Row | None", row)
        return await session.get(model, key)

    @staticmethod
    def _add(session: AsyncSession, row: _Row, key: Any) -> _Row:
        session.add(row)
        pre: _Preloaded | None = session.info.get(_PRELOADED)
        if pre is not None:
            pre.rows[(type(row), key)] = row
        return row

    async def _scene(
        self, session: AsyncSession, scene_id: str, stored_at: datetime
    ) -> tuple[SceneRow, bool]:
        """The scene's row, and whether this event made it."""
        # Events may come for a scene whose request is older than the stream, or that was
        # published straight to a later subject: the row starts with whatever arrives.
        scene = await self._get(session, SceneRow, scene_id)
        if scene is None:
            scene = SceneRow(scene_id=scene_id, created_at=stored_at, updated_at=stored_at)
            self._add(session, scene, scene_id)
            return scene, True
        return scene, False

    async def _object(
        self, session: AsyncSession, scene: SceneRow, object_id: str, ordinal: int | None = None
    ) -> SceneObjectRow:
        """The object's row, made when missing (at ``ordinal``, else after the others)."""
        key = (scene.scene_id, object_id)
        obj = await self._get(session, SceneObjectRow, key)
        if obj is None:
            if ordinal is None:
                count = await session.scalar(
                    select(func.count())
                    .select_from(SceneObjectRow)
                    .where(col(SceneObjectRow.scene_id) == scene.scene_id)
                )
                ordinal = count or 0
            obj = SceneObjectRow(scene_id=scene.scene_id, object_id=object_id, ordinal=ordinal)
            self._add(session, obj, key)
        return obj

    async def _remember(self, session: AsyncSession, ref: ArtifactRef) -> None:
        if ref.sha256 in self._known_artifacts:
            return
        pre: _Preloaded | None = session.info.get(_PRELOADED)
        if pre is not None:
            pre.artifacts.setdefault(ref.sha256, ref)  # stored with the batch's others
            return
        if await session.get(ArtifactRow, ref.sha256) is None:
            session.add(
                ArtifactRow(
                    sha256=ref.sha256, uri=ref.uri, size=ref.size, media_type=ref.media_type
                )
            )
        if len(self._known_artifacts) >= REMEMBERED:
            self._known_artifacts.clear()
        self._known_artifacts.add(ref.sha256)

    async def _store_artifacts(self, session: AsyncSession) -> None:
        """Store the artifacts a preloaded batch named, in one query and one insert."""
        pre: _Preloaded | None = session.info.get(_PRELOADED)
        if pre is None or not pre.artifacts:
            return
        refs = pre.artifacts
        stored = await session.exec(
            select(col(ArtifactRow.sha256)).where(col(ArtifactRow.sha256).in_(refs))
        )
        have = set(stored.all())
        for sha, ref in refs.items():
            if sha not in have:
                session.add(
                    ArtifactRow(sha256=sha, uri=ref.uri, size=ref.size, media_type=ref.media_type)
                )
        if len(self._known_artifacts) + len(refs) >= REMEMBERED:
            self._known_artifacts.clear()
        self._known_artifacts.update(refs)

    @staticmethod
    def _started(scene: SceneRow) -> None:
        scene.status = _advance(scene.status, Status.IN_PROGRESS)

    def _requested(self, scene: SceneRow, event: SceneRequested, stored_at: datetime) -> None:
        scene.prompt = scene.prompt or event.prompt
        scene.requested_by = scene.requested_by or event.requested_by
        scene.created_at = min(scene.created_at, stored_at)
        scene.planner = _advance(scene.planner, Status.IN_PROGRESS)

    async def _layout_ready(
        self, session: AsyncSession, scene: SceneRow, event: LayoutReady
    ) -> None:
        scene.prompt = scene.prompt or event.prompt
        self._started(scene)
        scene.planner = _advance(scene.planner, Status.SUCCEEDED)
        scene.imagegen = _advance(scene.imagegen, Status.IN_PROGRESS)
        scene.object_count = len(event.layout.objects)
        for ordinal, placed in enumerate(event.layout.objects):
            obj = await self._object(session, scene, placed.id, ordinal)
            obj.ordinal = ordinal
            obj.category = placed.category
            obj.description = placed.description

    async def _image_ready(
        self, session: AsyncSession, scene: SceneRow, event: ImagesReady
    ) -> None:
        obj = await self._object(session, scene, event.object_id)
        obj.category = obj.category or event.object.category
        obj.description = obj.description or event.object.description
        if obj.image_status != Status.SUCCEEDED:
            scene.images_ready += 1
        obj.image_status = Status.SUCCEEDED
        obj.image = event.image.model_dump(mode="json")
        await self._remember(session, event.image)
        scene.object_count = scene.object_count or event.object_count
        self._started(scene)
        scene.planner = _advance(scene.planner, Status.SUCCEEDED)
        scene.imagegen = _advance(scene.imagegen, Status.IN_PROGRESS)
        if scene.images_ready >= scene.object_count:
            scene.imagegen = _advance(scene.imagegen, Status.SUCCEEDED)
        scene.meshgen = _advance(scene.meshgen, Status.IN_PROGRESS)

    async def _mesh_ready(self, session: AsyncSession, scene: SceneRow, event: MeshReady) -> None:
        obj = await self._object(session, scene, event.object_id)
        if obj.mesh_status != Status.SUCCEEDED:
            scene.meshes_ready += 1
        obj.mesh_status = Status.SUCCEEDED
        obj.mesh = event.mesh.model_dump(mode="json")
        await self._remember(session, event.mesh)
        scene.object_count = scene.object_count or event.object_count
        self._started(scene)
        scene.planner = _advance(scene.planner, Status.SUCCEEDED)
        scene.imagegen = _advance(scene.imagegen, Status.IN_PROGRESS)
        scene.meshgen = _advance(scene.meshgen, Status.IN_PROGRESS)
        if scene.meshes_ready >= scene.object_count:
            scene.meshgen = _advance(scene.meshgen, Status.SUCCEEDED)
            scene.assembly = _advance(scene.assembly, Status.IN_PROGRESS)

    async def _of_current_attempt(
        self,
        session: AsyncSession,
        scene: SceneRow,
        event: Any,
        seq: int,
        stored_at: datetime,
        fresh: bool = False,
    ) -> bool:
        """Whether ``event`` is of the attempt the scene shows, starting a later one first.

        A ``scene.replayed`` opens its attempt, redoing the stages from its ``from_stage``;
        any event of a later attempt opens that attempt too (its ``scene.replayed`` was
        lost or removed). Events of earlier attempts are ignored.
        """
        attempt = getattr(event, "attempt", 1)
        if attempt < scene.attempt or (
            isinstance(event, SceneReplayed) and attempt == scene.attempt
        ):
            if isinstance(event, SceneReady | SceneFailed | SceneCancelled):
                scene.late_outcomes += 1
                scene.late_outcome = (
                    f"{type(event).__name__} of attempt {attempt} at stream sequence {seq} "
                    f"ignored: the scene is at attempt {scene.attempt}"
                )
            log.debug("event of an earlier attempt ignored", scene_id=scene.scene_id, seq=seq)
            return False
        if attempt > scene.attempt:
            from_stage = event.from_stage if isinstance(event, SceneReplayed) else None
            await self._new_attempt(session, scene, attempt, from_stage, stored_at, fresh)
        return not isinstance(event, SceneReplayed)

    async def _attempt_row(
        self, session: AsyncSession, scene: SceneRow, stored_at: datetime
    ) -> AttemptRow:
        """The row of the scene's current attempt, made when missing (a first attempt, or a
        scene projected before attempts had rows)."""
        key = (scene.scene_id, scene.attempt)
        row = await self._get(session, AttemptRow, key)
        if row is None:
            first_attempt = scene.attempt == 1
            row = AttemptRow(
                scene_id=scene.scene_id,
                attempt=scene.attempt,
                from_stage="planner" if first_attempt else None,
                started_at=scene.created_at if first_attempt else stored_at,
            )
            self._add(session, row, key)
        return row

    async def _record_attempt(
        self, session: AsyncSession, scene: SceneRow, stored_at: datetime
    ) -> None:
        """Copy the current attempt's status (and once it ends, its end and error) to its row."""
        key = (scene.scene_id, scene.attempt)
        if self._recorded_status.get(key) == scene.status and scene.status not in TERMINAL:
            return  # already there: most events leave a scene IN_PROGRESS
        row = await self._attempt_row(session, scene, stored_at)
        if len(self._recorded_status) >= REMEMBERED:
            self._recorded_status.clear()
        self._recorded_status[key] = scene.status
        if row.status in TERMINAL:
            return
        row.status = scene.status
        if scene.status in TERMINAL:
            row.ended_at = stored_at
            row.error_stage, row.error_object_id = scene.error_stage, scene.error_object_id
            row.error_code, row.error_message = scene.error_code, scene.error_message
            row.error_retryable = scene.error_retryable

    async def _new_attempt(
        self,
        session: AsyncSession,
        scene: SceneRow,
        attempt: int,
        from_stage: str | None,
        stored_at: datetime,
        fresh: bool = False,
    ) -> None:
        """Open ``attempt``: no outcome yet, and the stages from ``from_stage`` on to redo.

        The attempt it replaces keeps its outcome, or is SUPERSEDED if it was still running.
        """
        log.info("attempt started", scene_id=scene.scene_id, attempt=attempt, from_stage=from_stage)
        # Rows are deleted and made below: from here on this transaction asks the database.
        await self._store_artifacts(session)
        session.info.pop(_PRELOADED, None)
        if not fresh:  # a scene first seen at a later attempt has no earlier one to close
            previous = await self._attempt_row(session, scene, stored_at)
            if previous.status not in TERMINAL:
                previous.status = AttemptStatus.SUPERSEDED
                previous.ended_at = stored_at
        session.add(
            AttemptRow(
                scene_id=scene.scene_id,
                attempt=attempt,
                from_stage=from_stage if from_stage in STAGES else None,
                started_at=stored_at,
                status=AttemptStatus.IN_PROGRESS,
            )
        )
        scene.last_event_at = stored_at
        scene.attempt = attempt
        scene.status = Status.IN_PROGRESS
        scene.terminal_seq = None
        scene.error_stage = scene.error_object_id = scene.error_code = None
        scene.error_message = None
        scene.error_retryable = None
        scene.artifacts = {}
        scene.late_outcomes = 0
        scene.late_outcome = None
        if from_stage not in STAGES:
            # Only an event of the attempt is known: its stages report as they come.
            for stage in STAGES:
                if getattr(scene, stage) in (Status.FAILED, Status.CANCELLED):
                    setattr(scene, stage, Status.IN_PROGRESS)
            return
        redo = STAGES[STAGES.index(from_stage) :]
        for stage in STAGES:
            if stage in redo:
                setattr(scene, stage, Status.IN_PROGRESS if stage == from_stage else Status.PENDING)
            elif getattr(scene, stage) in (Status.FAILED, Status.CANCELLED):
                # An earlier stage that ended badly sends what it has again: running anew.
                setattr(scene, stage, Status.IN_PROGRESS)
        objects = (
            await session.exec(
                select(SceneObjectRow).where(col(SceneObjectRow.scene_id) == scene.scene_id)
            )
        ).all()
        for obj in objects:
            # An object that failed is worked on again, whatever stage the replay is from.
            if obj.image_status in (Status.FAILED, Status.CANCELLED):
                obj.image_status = Status.PENDING
            if obj.mesh_status in (Status.FAILED, Status.CANCELLED):
                obj.mesh_status = Status.PENDING
        if "planner" in redo:
            # A new layout names the objects again, maybe others.
            for obj in objects:
                await session.delete(obj)
            await session.flush()
            scene.object_count = 0
        if "imagegen" in redo:
            scene.images_ready = 0
            for obj in objects:
                obj.image_status, obj.image = Status.PENDING, None
        if "meshgen" in redo:
            scene.meshes_ready = 0
            for obj in objects:
                obj.mesh_status, obj.mesh = Status.PENDING, None

    def _scene_cancelled(self, scene: SceneRow, event: SceneCancelled, seq: int) -> None:
        if self._ended(scene, seq, "scene.cancelled"):
            return
        scene.status = Status.CANCELLED
        scene.terminal_seq = seq
        scene.error_stage = scene.error_object_id = None
        scene.error_code = "cancelled"
        scene.error_message = event.reason
        scene.error_retryable = False

    @staticmethod
    def _ended(scene: SceneRow, seq: int, what: str) -> bool:
        """Whether the scene already has its outcome; a late terminal event is noted only."""
        if scene.terminal_seq is None and scene.status not in TERMINAL:
            return False
        scene.late_outcomes += 1
        scene.late_outcome = (
            f"{what} at stream sequence {seq} ignored: the scene ended {scene.status}"
            + (f" at stream sequence {scene.terminal_seq}" if scene.terminal_seq else "")
        )
        log.info("late outcome ignored", scene_id=scene.scene_id, outcome=what, stream_seq=seq)
        return True

    async def _scene_ready(
        self, session: AsyncSession, scene: SceneRow, event: SceneReady, seq: int
    ) -> None:
        if self._ended(scene, seq, "scene.ready"):
            return
        scene.status = Status.SUCCEEDED
        scene.terminal_seq = seq
        for stage in STAGES:
            setattr(scene, stage, Status.SUCCEEDED)
        scene.object_count = scene.object_count or event.object_count
        scene.artifacts = {
            name: ref.model_dump(mode="json") for name, ref in event.artifacts.items()
        }
        for ref in event.artifacts.values():
            await self._remember(session, ref)

    async def _scene_failed(
        self, session: AsyncSession, scene: SceneRow, event: SceneFailed, seq: int
    ) -> None:
        if self._ended(scene, seq, f"scene.failed ({event.stage}: {event.code})"):
            return
        scene.status = Status.FAILED
        scene.terminal_seq = seq
        scene.error_stage = event.stage
        scene.error_object_id = event.object_id
        scene.error_code = event.code
        scene.error_message = event.message
        scene.error_retryable = event.retryable
        stage = _stage_of(event.stage)
        if stage is not None:
            setattr(scene, stage, Status.FAILED)
        if event.object_id and stage in ("imagegen", "meshgen"):
            obj = await self._get(session, SceneObjectRow, (scene.scene_id, event.object_id))
            if obj is not None:
                if stage == "imagegen" and obj.image_status != Status.SUCCEEDED:
                    obj.image_status = Status.FAILED
                if stage == "meshgen" and obj.mesh_status != Status.SUCCEEDED:
                    obj.mesh_status = Status.FAILED

    # -- queries ---------------------------------------------------------------------

    def last_seq(self) -> int:
        """The last stream sequence this projection applied (or found applied)."""
        return self._position.seq

    # The contract's signature: callers pass the wait, as with asyncio.wait_for.
    async def wait_for_seq(self, seq: int, timeout: float) -> bool:
        """Wait until ``seq`` is applied; False if ``timeout`` seconds pass first."""
        return await self._position.reached(seq, timeout)

    async def wait_for_scene(
        self, scene_id: str, check: Callable[[SceneRow], bool], timeout: float
    ) -> bool:
        """Wait until the scene's row passes ``check`` as events are applied; False if
        ``timeout`` seconds pass first."""

        async def passes() -> bool:
            async with self._session() as session:
                scene = await session.get(SceneRow, scene_id)
                return scene is not None and check(scene)

        return await self._position.until(passes, timeout)

    async def wait_for_attempt(self, scene_id: str, attempt: int, timeout: float) -> bool:
        """Wait until the scene shows ``attempt`` (or a later one); False after ``timeout``."""
        return await self.wait_for_scene(scene_id, lambda row: row.attempt >= attempt, timeout)

    async def wait_for_end(self, scene_id: str, attempt: int, timeout: float) -> bool:
        """Wait until the scene's ``attempt`` has ended (or a later one began)."""
        return await self.wait_for_scene(
            scene_id,
            lambda row: (
                row.attempt > attempt or (row.attempt == attempt and row.status in TERMINAL)
            ),
            timeout,
        )

    def now(self) -> datetime:
        """The projection's clock, which STUCK is measured by."""
        return self._clock()

    def stuck_after_time(self, row: SceneRow) -> datetime | None:
        """When a running scene shows STUCK unless an event of its attempt comes first;
        None for a scene that cannot (ended, or every stage done)."""
        if row.status not in RUNNING:
            return None
        stage = current_stage(row)
        if stage is None:
            return None
        quiet_since = row.last_event_at or row.updated_at
        return quiet_since + timedelta(seconds=self.stuck_after.of(stage))

    def stuck(self, row: SceneRow, now: datetime | None = None) -> str | None:
        """The stage a running scene is stuck in, or None if it is not stuck."""
        deadline = self.stuck_after_time(row)
        if deadline is None or (now or self._clock()) <= deadline:
            return None
        return current_stage(row)

    def _stuck_clause(self, now: datetime) -> ColumnElement[bool]:
        """SQL for :meth:`stuck`: running, and quiet longer than its current stage allows."""
        quiet_since = func.coalesce(col(SceneRow.last_event_at), col(SceneRow.updated_at))
        per_stage = []
        for k, stage in enumerate(STAGES):
            before = [getattr(SceneRow, s) == Status.SUCCEEDED for s in STAGES[:k]]
            horizon = now - timedelta(seconds=self.stuck_after.of(stage))
            per_stage.append(
                and_(*before, getattr(SceneRow, stage) != Status.SUCCEEDED, quiet_since < horizon)
            )
        return and_(col(SceneRow.status).in_(RUNNING), or_(*per_stage))

    def _status_clause(self, status: Status, now: datetime) -> ColumnElement[bool]:
        if status == Status.STUCK:
            return self._stuck_clause(now)
        if status in RUNNING:
            # A stuck scene is listed as STUCK, not as what its row says.
            return and_(col(SceneRow.status) == status, not_(self._stuck_clause(now)))
        return col(SceneRow.status) == status

    async def count_stuck(self) -> int:
        """How many scenes are STUCK now."""
        counting = select(func.count()).select_from(SceneRow)
        async with self._session() as session, session.begin():
            total = await session.scalar(counting.where(self._stuck_clause(self._clock())))
        return total or 0

    async def get_scene(self, scene_id: str) -> SceneView | None:
        async with self._session() as session, session.begin():
            scene = await session.get(SceneRow, scene_id)
            if scene is None:
                return None
            objects, attempts = await self._parts(session, [scene_id])
        view = scene_view(scene, objects.get(scene_id, []), attempts.get(scene_id, []))
        return as_stuck(view) if self.stuck(scene) else view

    async def read_scenes(
        self,
        *,
        changed_after: int | None = None,
        only: Sequence[str] | None = None,
        viewed: Container[str] = (),
    ) -> Snapshot:
        """Scene rows read in one snapshot: every one, or those changed after a stream
        sequence, or ``only`` those; with the views (STUCK aside) of those in ``viewed``.

        On PostgreSQL the snapshot is REPEATABLE READ, so a scene's row, its objects and
        its attempts are of one moment even while another gateway writes.
        """
        query = select(SceneRow)
        if changed_after is not None:
            query = query.where(col(SceneRow.changed_seq) > changed_after)
        if only is not None:
            query = query.where(col(SceneRow.scene_id).in_(list(only)))
        async with self._session() as session, session.begin():
            if self._engine is not None and self._engine.dialect.name == "postgresql":
                await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            position = await session.scalar(
                select(col(PositionRow.last_seq)).where(col(PositionRow.name) == self.name)
            )
            rows = list((await session.exec(query.order_by(col(SceneRow.changed_seq)))).all())
            shown = [row.scene_id for row in rows if row.scene_id in viewed]
            objects, attempts = await self._parts(session, shown)
        views = {
            scene_id: scene_view(row, objects.get(scene_id, []), attempts.get(scene_id, []))
            for row in rows
            if (scene_id := row.scene_id) in viewed
        }
        return Snapshot(rows, views, position or 0)

    @staticmethod
    async def _parts(
        session: AsyncSession, scene_ids: Sequence[str]
    ) -> tuple[dict[str, list[SceneObjectRow]], dict[str, list[AttemptRow]]]:
        """The objects (in layout order) and the attempts (oldest first) of some scenes."""
        objects: dict[str, list[SceneObjectRow]] = {}
        attempts: dict[str, list[AttemptRow]] = {}
        for start in range(0, len(scene_ids), _IN_CHUNK):
            chunk = list(scene_ids[start : start + _IN_CHUNK])
            for obj in await session.exec(
                select(SceneObjectRow)
                .where(col(SceneObjectRow.scene_id).in_(chunk))
                .order_by(col(SceneObjectRow.ordinal), col(SceneObjectRow.object_id))
            ):
                objects.setdefault(obj.scene_id, []).append(obj)
            for attempt in await session.exec(
                select(AttemptRow)
                .where(col(AttemptRow.scene_id).in_(chunk))
                .order_by(col(AttemptRow.attempt))
            ):
                attempts.setdefault(attempt.scene_id, []).append(attempt)
        return objects, attempts

    async def list_scenes(
        self, page: int = 1, page_size: int = 50, status: Status | str | None = None
    ) -> ScenePage:
        """One page of scenes, newest first, with the total matching ``status``."""
        page = max(page, 1)
        page_size = max(page_size, 1)
        now = self._clock()
        query = select(SceneRow)
        counting = select(func.count()).select_from(SceneRow)
        if status is not None:
            query = query.where(self._status_clause(Status(status), now))
            counting = counting.where(self._status_clause(Status(status), now))
        query = (
            query.order_by(col(SceneRow.created_at).desc(), col(SceneRow.scene_id).desc())
            .offset((page - 1) * page_size)
            .limit(page_size)
        )
        async with self._session() as session, session.begin():
            total = await session.scalar(counting)
            rows = (await session.exec(query)).all()
        return ScenePage(
            items=[scene_summary(row, self.stuck(row, now) is not None) for row in rows],
            page=page,
            page_size=page_size,
            total=total or 0,
        )

    async def list_dead_letters(
        self, page: int = 1, page_size: int = 50, rejected_by: str | None = None
    ) -> DeadLetterPage:
        """One page of dead letters, the most recently recorded first."""
        page = max(page, 1)
        page_size = max(page_size, 1)
        query = select(DeadLetterRow)
        counting = select(func.count()).select_from(DeadLetterRow)
        if rejected_by is not None:
            query = query.where(col(DeadLetterRow.rejected_by) == rejected_by)
            counting = counting.where(col(DeadLetterRow.rejected_by) == rejected_by)
        query = (
            query.order_by(
                col(DeadLetterRow.recorded_seq).desc(), col(DeadLetterRow.rejected_by).desc()
            )
            .offset((page - 1) * page_size)
            .limit(page_size)
        )
        async with self._session() as session, session.begin():
            total = await session.scalar(counting)
            rows = (await session.exec(query)).all()
        return DeadLetterPage(
            items=[DeadLetterView.model_validate(row, from_attributes=True) for row in rows],
            page=page,
            page_size=page_size,
            total=total or 0,
        )

    async def purge_dead_letters(self, rejected_by: str | None = None) -> int:
        """Forget the dead letters (all, or one consumer's); how many rows went."""
        statement = delete(DeadLetterRow)
        if rejected_by is not None:
            statement = statement.where(col(DeadLetterRow.rejected_by) == rejected_by)
        async with self._session() as session, session.begin():
            result = await session.exec(statement)
        return int(result.rowcount or 0)

    async def artifact(self, sha256: str) -> ArtifactRef | None:
        """The reference of an artifact some event named, if any did."""
        async with self._session() as session:
            row = await session.get(ArtifactRow, sha256)
        if row is None:
            return None
        return ArtifactRef(uri=row.uri, sha256=row.sha256, size=row.size, media_type=row.media_type)

    async def ping(self) -> bool:
        """Whether the database answers."""
        try:
            async with self._session() as session:
                await session.exec(select(1))
        except Exception as exc:
            log.warning("database check failed", error=repr(exc))
            return False
        return True


def _add_missing_columns(conn: Connection) -> None:
    """Add the columns (and their indexes) a newer projection has to tables an older one
    created.

    Only additions with a constant default (or nullable) are made; anything else is what
    ``holodeck projection rebuild`` is for.
    """
    inspector = inspect(conn)
    for table in _Table.metadata.sorted_tables:
        present = {column["name"] for column in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in present:
                continue
            kind = column.type.compile(dialect=conn.dialect)
            default = getattr(column.default, "arg", None)
            clause = f" DEFAULT {int(default)}" if isinstance(default, int | bool) else ""
            conn.exec_driver_sql(
                f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" {kind}{clause}'
            )
            log.info("projection column added", table=table.name, column=column.name)
        # create_all makes the indexes of new tables only; a new column may bring one.
        for index in table.indexes:
            index.create(conn, checkfirst=True)


def _configure_sqlite(engine: AsyncEngine, *, wal: bool) -> None:
    """WAL, a busy timeout, and real transactions (BEGIN on every transaction, reads too)."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself: the driver's implicit BEGIN comes only before
        # writes, so a read of a scene and its objects would not be one snapshot.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if wal:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN")


def _stages(row: SceneRow) -> StageStatuses:
    return StageStatuses(
        planner=Status(row.planner),
        imagegen=Status(row.imagegen),
        meshgen=Status(row.meshgen),
        assembly=Status(row.assembly),
    )


def current_stage(row: SceneRow) -> str | None:
    """The first stage of the scene not yet SUCCEEDED (None once all are)."""
    return next((stage for stage in STAGES if getattr(row, stage) != Status.SUCCEEDED), None)


def scene_summary(row: SceneRow, stuck: bool = False) -> SceneSummary:
    return SceneSummary(
        scene_id=row.scene_id,
        prompt=row.prompt,
        requested_by=row.requested_by,
        status=Status.STUCK if stuck else Status(row.status),
        progress=progress(row),
        stages=_stages(row),
        object_count=row.object_count,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _ref(data: dict[str, Any] | None) -> ArtifactRef | None:
    return ArtifactRef.model_validate(data) if data else None


def _error_of(row: SceneRow | AttemptRow) -> ErrorView | None:
    """The error a failed or cancelled scene, or attempt, ended with."""
    if row.status not in (Status.FAILED, Status.CANCELLED) or row.error_code is None:
        return None
    return ErrorView(
        stage=row.error_stage,
        object_id=row.error_object_id,
        code=row.error_code,
        message=row.error_message or "",
        retryable=bool(row.error_retryable),
    )


def _attempt_view(row: AttemptRow) -> AttemptView:
    return AttemptView(
        attempt=row.attempt,
        from_stage=row.from_stage,
        started_at=row.started_at,
        ended_at=row.ended_at,
        status=AttemptStatus(row.status),
        error=_error_of(row),
    )


def scene_view(
    row: SceneRow, objects: Sequence[SceneObjectRow], attempts: Sequence[AttemptRow] = ()
) -> SceneView:
    """A scene as its rows say, STUCK aside (see :func:`as_stuck`)."""
    return SceneView(
        **scene_summary(row).model_dump(),
        objects=[
            ObjectView(
                object_id=obj.object_id,
                category=obj.category,
                description=obj.description,
                image_status=Status(obj.image_status),
                image=_ref(obj.image),
                mesh_status=Status(obj.mesh_status),
                mesh=_ref(obj.mesh),
            )
            for obj in objects
        ],
        error=_error_of(row),
        artifacts={name: ArtifactRef.model_validate(ref) for name, ref in row.artifacts.items()},
        attempt=row.attempt,
        attempts=[_attempt_view(a) for a in attempts],
        last_event_at=row.last_event_at,
        late_outcomes=row.late_outcomes,
        late_outcome=row.late_outcome,
    )


def as_stuck(view: SceneView) -> SceneView:
    """The view of a running scene that shows STUCK: the scene and its current attempt."""
    attempts = [
        a.model_copy(update={"status": AttemptStatus.STUCK})
        if a.attempt == view.attempt and a.status in RUNNING
        else a
        for a in view.attempts
    ]
    return view.model_copy(update={"status": Status.STUCK, "attempts": attempts})
