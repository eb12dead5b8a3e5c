"""The gateway's projection: the event stream folded into SQL tables.

Each applied event updates the rows and the projection's position (the last stream
sequence applied) in one transaction. The position is claimed first with a conditional
``UPDATE ... WHERE last_seq < :seq``: a sequence already applied is skipped, so replays
are harmless and two gateways sharing one database serialise on that row instead of
applying an event twice. Because the rows are a pure function of the stream (times are
JetStream's storage times, not the clock), a projection rebuilt from sequence 1 into a
fresh database gives the same views.

SQLite (``sqlite+aiosqlite:///path``, WAL) by default; PostgreSQL (``postgresql+asyncpg://``)
in production.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sqlalchemy import JSON, DateTime, Dialect, Index, Text, event, func
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import registry
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel, col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.contract import (
    ArtifactRef,
    ImagesReady,
    ImageWork,
    LayoutReady,
    MalformedEvent,
    MeshReady,
    SceneFailed,
    SceneReady,
    SceneRequested,
    parse_event,
    request_scene_id,
)
from shared.logs import get_logger

log = get_logger(__name__)

DEFAULT_NAME = "gateway"


class Status(StrEnum):
    PENDING = "PENDING"
    IN_PROGRESS = "IN_PROGRESS"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


STAGES = ("planner", "imagegen", "meshgen", "assembly")

# Statuses only move forward; FAILED is left only by a scene that is built after all.
_RANK = {Status.PENDING: 0, Status.IN_PROGRESS: 1, Status.SUCCEEDED: 2}


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
    size: int
    media_type: str = Field(sa_type=Text)


class PositionRow(_Table, table=True):
    __tablename__ = "projection_position"

    name: str = Field(primary_key=True, max_length=64)
    last_seq: int = 0


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


class SceneView(SceneSummary):
    objects: list[ObjectView]
    error: ErrorView | None
    artifacts: dict[str, ArtifactRef]


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
    if current == Status.FAILED:
        return current
    return new if _RANK[new] > _RANK[Status(current)] else current


def _stage_of(stage: str) -> str | None:
    """The status column a failing stage reports on: ``imagegen-fanout`` → ``imagegen``."""
    base = stage.split("-", 1)[0]
    return base if base in STAGES else None


class Projection:
    """Scenes and their objects as the stream tells them, in a SQL database."""

    def __init__(self, database_url: str, name: str = DEFAULT_NAME):
        self.database_url = database_url
        self.name = name
        self._engine: AsyncEngine | None = None
        self._sessions: async_sessionmaker[AsyncSession] | None = None
        self._seq = 0
        self._changed = asyncio.Condition()

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
        await self._ensure_position()
        async with self._session() as session:
            row = await session.get(PositionRow, self.name)
            self._seq = row.last_seq if row else 0
        log.info("projection open", backend=url.get_backend_name(), last_seq=self._seq)
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
        self._seq = 0

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

        A sequence at or below the position is skipped; a malformed event only advances
        the position. Database errors propagate and leave the position unchanged.
        """
        async with self._session() as session, session.begin():
            claimed = await session.exec(
                update(PositionRow)
                .where(col(PositionRow.name) == self.name)
                .where(col(PositionRow.last_seq) < stream_seq)
                .values(last_seq=stream_seq)
            )
            if claimed.rowcount:
                await self._fold(session, subject, data, stream_seq, stored_at)
        await self._advanced(stream_seq)

    async def _advanced(self, stream_seq: int) -> None:
        async with self._changed:
            self._seq = max(self._seq, stream_seq)
            self._changed.notify_all()

    async def _fold(
        self, session: AsyncSession, subject: str, data: bytes, seq: int, stored_at: datetime
    ) -> None:
        try:
            event = parse_event(subject, data)
            if isinstance(event, SceneRequested):
                scene_id = request_scene_id(event, subject, seq, stored_at)
            else:
                scene_id = event.scene_id
        except MalformedEvent as exc:
            log.warning(
                "event skipped: malformed",
                scene_id=exc.scene_id,
                subject=subject,
                stream_seq=seq,
                reason=exc.reason,
            )
            return
        if isinstance(event, ImageWork):
            return
        scene = await self._scene(session, scene_id, stored_at)
        if isinstance(event, SceneRequested):
            self._requested(scene, event, stored_at)
        elif isinstance(event, LayoutReady):
            await self._layout_ready(session, scene, event)
        elif isinstance(event, ImagesReady):
            await self._image_ready(session, scene, event)
        elif isinstance(event, MeshReady):
            await self._mesh_ready(session, scene, event)
        elif isinstance(event, SceneReady):
            await self._scene_ready(session, scene, event)
        elif isinstance(event, SceneFailed):
            await self._scene_failed(session, scene, event)
        scene.updated_at = max(scene.updated_at, stored_at)
        log.debug("event applied", scene_id=scene_id, subject=subject, stream_seq=seq)

    @staticmethod
    async def _scene(session: AsyncSession, scene_id: str, stored_at: datetime) -> SceneRow:
        # Events may come for a scene whose request is older than the stream, or that was
        # published straight to a later subject: the row starts with whatever arrives.
        scene = await session.get(SceneRow, scene_id)
        if scene is None:
            scene = SceneRow(scene_id=scene_id, created_at=stored_at, updated_at=stored_at)
            session.add(scene)
        return scene

    @staticmethod
    async def _object(session: AsyncSession, scene: SceneRow, object_id: str) -> SceneObjectRow:
        obj = await session.get(SceneObjectRow, (scene.scene_id, object_id))
        if obj is None:
            count = await session.scalar(
                select(func.count())
                .select_from(SceneObjectRow)
                .where(col(SceneObjectRow.scene_id) == scene.scene_id)
            )
            obj = SceneObjectRow(scene_id=scene.scene_id, object_id=object_id, ordinal=count or 0)
            session.add(obj)
        return obj

    @staticmethod
    async def _remember(session: AsyncSession, ref: ArtifactRef) -> None:
        if await session.get(ArtifactRow, ref.sha256) is None:
            session.add(
                ArtifactRow(
                    sha256=ref.sha256, uri=ref.uri, size=ref.size, media_type=ref.media_type
                )
            )

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
            obj = await self._object(session, scene, placed.id)
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

    async def _scene_ready(self, session: AsyncSession, scene: SceneRow, event: SceneReady) -> None:
        # A built scene is the last word, even after a failure that a re-run repaired.
        scene.status = Status.SUCCEEDED
        for stage in STAGES:
            setattr(scene, stage, Status.SUCCEEDED)
        scene.object_count = scene.object_count or event.object_count
        scene.artifacts = {
            name: ref.model_dump(mode="json") for name, ref in event.artifacts.items()
        }
        for ref in event.artifacts.values():
            await self._remember(session, ref)
        scene.error_stage = scene.error_object_id = scene.error_code = None
        scene.error_message = None
        scene.error_retryable = None

    async def _scene_failed(
        self, session: AsyncSession, scene: SceneRow, event: SceneFailed
    ) -> None:
        if scene.status == Status.SUCCEEDED:
            log.info(
                "failure after success ignored",
                scene_id=scene.scene_id,
                stage=event.stage,
                code=event.code,
            )
            return
        scene.status = Status.FAILED
        scene.error_stage = event.stage
        scene.error_object_id = event.object_id
        scene.error_code = event.code
        scene.error_message = event.message
        scene.error_retryable = event.retryable
        stage = _stage_of(event.stage)
        if stage is not None:
            setattr(scene, stage, Status.FAILED)
        if event.object_id and stage in ("imagegen", "meshgen"):
            obj = await session.get(SceneObjectRow, (scene.scene_id, event.object_id))
            if obj is not None:
                if stage == "imagegen" and obj.image_status != Status.SUCCEEDED:
                    obj.image_status = Status.FAILED
                if stage == "meshgen" and obj.mesh_status != Status.SUCCEEDED:
                    obj.mesh_status = Status.FAILED

    # -- queries ---------------------------------------------------------------------

    def last_seq(self) -> int:
        """The last stream sequence this projection applied (or found applied)."""
        return self._seq

    # The contract's signature: callers pass the wait, as with asyncio.wait_for.
    async def wait_for_seq(self, seq: int, timeout: float) -> bool:
        """Wait until ``seq`` is applied; False if ``timeout`` seconds pass first."""
        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(lambda: self._seq >= seq), timeout)
            except TimeoutError:
                return False
        return True

    async def get_scene(self, scene_id: str) -> SceneView | None:
        async with self._session() as session, session.begin():
            scene = await session.get(SceneRow, scene_id)
            if scene is None:
                return None
            objects = (
                await session.exec(
                    select(SceneObjectRow)
                    .where(col(SceneObjectRow.scene_id) == scene_id)
                    .order_by(col(SceneObjectRow.ordinal), col(SceneObjectRow.object_id))
                )
            ).all()
        return _view(scene, list(objects))

    async def list_scenes(
        self, page: int = 1, page_size: int = 50, status: Status | str | None = None
    ) -> ScenePage:
        """One page of scenes, newest first, with the total matching ``status``."""
        page = max(page, 1)
        page_size = max(page_size, 1)
        query = select(SceneRow)
        counting = select(func.count()).select_from(SceneRow)
        if status is not None:
            query = query.where(col(SceneRow.status) == Status(status))
            counting = counting.where(col(SceneRow.status) == Status(status))
        query = (
            query.order_by(col(SceneRow.created_at).desc(), col(SceneRow.scene_id).desc())
            .offset((page - 1) * page_size)
            .limit(page_size)
        )
        async with self._session() as session, session.begin():
            total = await session.scalar(counting)
            rows = (await session.exec(query)).all()
        return ScenePage(
            items=[_summary(row) for row in rows], page=page, page_size=page_size, total=total or 0
        )

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


def _summary(row: SceneRow) -> SceneSummary:
    return SceneSummary(
        scene_id=row.scene_id,
        prompt=row.prompt,
        requested_by=row.requested_by,
        status=Status(row.status),
        progress=progress(row),
        stages=_stages(row),
        object_count=row.object_count,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _ref(data: dict[str, Any] | None) -> ArtifactRef | None:
    return ArtifactRef.model_validate(data) if data else None


def _view(row: SceneRow, objects: list[SceneObjectRow]) -> SceneView:
    error = None
    if row.status == Status.FAILED and row.error_code is not None:
        error = ErrorView(
            stage=row.error_stage,
            object_id=row.error_object_id,
            code=row.error_code,
            message=row.error_message or "",
            retryable=bool(row.error_retryable),
        )
    return SceneView(
        **_summary(row).model_dump(),
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
        error=error,
        artifacts={name: ArtifactRef.model_validate(ref) for name, ref in row.artifacts.items()},
    )
