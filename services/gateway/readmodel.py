"""What the gateway's read routes answer, held in memory and kept current by the projector.

``GET /v1/scenes/{id}`` and ``GET /v1/scenes`` are served from here, not from the
database: the database stays the durable copy (and what a rebuild fills again from the
stream), the read model is a copy of what the routes need, made of JSON bytes.

**What is held.** Every scene's list item (the :class:`SceneItem` JSON, and its STUCK
variant while the scene runs) in sorted keyset order, newest first by ``(created_at,
scene_id)``; and the whole body of the most recently read scenes (:data:`BODIES` of them),
each rendered once per version and kept until the projector changes that scene. A body
also depends on the clock (STUCK) and on live per-object progress
(:class:`~services.gateway.progress.ProgressBoard`): the bytes are rendered again only
when one of those shows something new.

**How it stays current.** Each scene row carries ``changed_seq``, the stream sequence of
the last event that changed it, its objects or its attempts. After every transaction the
projection commits (or finds already committed by another gateway sharing the database),
and before its position is visible to anyone, :meth:`ReadModel.refresh` reads the rows
changed after the last ``changed_seq`` it holds, with the objects and attempts of those
whose body it holds, in one snapshot (REPEATABLE READ on PostgreSQL). Transactions that
apply events take the position row first, so they commit in stream order and a later
read never finds a change older than one it already saw. A ``POST`` that waits for its
request to be applied therefore finds it here, and a Server-Sent Event is sent only once
what it tells can be read.

**Consistency.** A scene's state here only moves forward: a row is taken only when its
``changed_seq`` is above the one held, so a replica never serves a state older than one it
served, whatever order reads and refreshes finish in. At start the model is loaded from
the database, so it is never older than the database either. Several replicas sharing one
PostgreSQL database each keep their own model; each follows the stream and refreshes
after each batch, whether it applied the batch or another replica did, so a replica is
behind another by at most the batch it is working on. A scene not held here (made
through another replica a moment ago) is read from the database before a 404 is given.

**While the database is rebuilt** (emptied and filled again from the stream under a
running gateway), readers keep seeing the last state this replica held for each scene
until the rebuilt row gets past it; scenes the rebuild has not reached are listed as they
were. A body that is not in memory and whose row in the database is still behind what
was shown is not served old: the answer is 503 ``database_unavailable`` with
Retry-After. While the database is away, the list and the bodies held are served as they
were; a body that would have to be read from it is 503 ``database_unavailable``.
"""

from __future__ import annotations

import asyncio
import bisect
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, Field

from services.gateway.position import Position
from services.gateway.progress import ProgressBoard
from services.gateway.projection import (
    TERMINAL,
    AttemptStatus,
    AttemptView,
    ObjectView,
    Projection,
    SceneRow,
    SceneSummary,
    SceneView,
    StageStatuses,
    Status,
    as_stuck,
    scene_summary,
)
from shared.contract import ArtifactRef
from shared.logs import get_logger

log = get_logger(__name__)

# Scene bodies kept rendered: a scene of 20 objects is about 8 KB of JSON, so this is a
# few tens of MB at most; the scenes people watch are the few that are running.
BODIES = 4096
# After a refresh failed (the database away), reads try again at most this often.
CATCH_UP_EVERY_S = 1.0
# A keyset cursor: the creation time in microseconds since the epoch, then the scene id.
CURSOR_PATTERN = r"^[0-9]{1,18}_[A-Za-z0-9_-]{1,64}$"
_CURSOR = re.compile(CURSOR_PATTERN)
_ALL = "*"
_RUNNING = "RUNNING"

# (created_at in microseconds, scene_id): the list's order, newest first.
Key = tuple[int, str]


# -- the bodies the read routes answer ------------------------------------------------


class ArtifactLink(BaseModel):
    status: Status
    url: str | None
    progress: int | None = None


class ObjectBody(BaseModel):
    object_id: str
    category: str
    description: str
    image: ArtifactLink
    mesh: ArtifactLink


class ErrorBody(BaseModel):
    stage: str | None
    object_id: str | None
    code: str
    message: str
    retryable: bool


class SceneItem(BaseModel):
    scene_id: str
    prompt: str
    status: Status
    progress: int
    stages: StageStatuses
    object_count: int
    created_at: datetime
    updated_at: datetime
    status_url: str


class AttemptBody(BaseModel):
    attempt: int
    from_stage: str | None = Field(description="The stage it began from (null: not known)")
    started_at: datetime
    ended_at: datetime | None
    status: AttemptStatus
    error: ErrorBody | None


class SceneBody(BaseModel):
    scene_id: str
    prompt: str
    status: Status
    progress: int
    stages: StageStatuses
    object_count: int
    objects: list[ObjectBody]
    error: ErrorBody | None
    artifacts: dict[str, str]
    created_at: datetime
    updated_at: datetime
    attempt: int = Field(1, description="The attempt shown; a replay starts the next one")
    attempts: list[AttemptBody] = Field(
        default_factory=list, description="Every attempt, the current one last"
    )
    last_event_at: datetime | None = Field(
        None, description="When the current attempt last had news; STUCK is measured from it"
    )
    late_outcomes: int = Field(
        0, description="Terminal events that came after the first one and were ignored"
    )
    late_outcome: str | None = Field(None, description="The last of them, described")


class SceneList(BaseModel):
    items: list[SceneItem]
    page: int = Field(description="The page asked for (1 when reading by cursor)")
    page_size: int
    total: int = Field(description="Scenes matching the filter, on every page")
    next_cursor: str | None = Field(
        None,
        description="Pass as `cursor` for the page after this one; null on the last page",
    )


def scene_url(scene_id: str) -> str:
    return f"/v1/scenes/{scene_id}"


def scene_artifact_url(scene_id: str, name: str) -> str:
    return f"/v1/scenes/{scene_id}/artifacts/{quote(name)}"


def artifact_url(sha256: str) -> str:
    return f"/v1/artifacts/{sha256}"


def scene_body(view: SceneView, board: ProgressBoard | None = None) -> SceneBody:
    return SceneBody(
        scene_id=view.scene_id,
        prompt=view.prompt,
        status=view.status,
        progress=view.progress,
        stages=view.stages,
        object_count=view.object_count,
        objects=[object_body(view.scene_id, obj, board) for obj in view.objects],
        error=ErrorBody(**view.error.model_dump()) if view.error else None,
        artifacts={name: scene_artifact_url(view.scene_id, name) for name in view.artifacts},
        created_at=view.created_at,
        updated_at=view.updated_at,
        attempt=view.attempt,
        attempts=[_attempt_body(a) for a in view.attempts],
        last_event_at=view.last_event_at,
        late_outcomes=view.late_outcomes,
        late_outcome=view.late_outcome,
    )


def _attempt_body(view: AttemptView) -> AttemptBody:
    return AttemptBody(
        attempt=view.attempt,
        from_stage=view.from_stage,
        started_at=view.started_at,
        ended_at=view.ended_at,
        status=view.status,
        error=ErrorBody(**view.error.model_dump()) if view.error else None,
    )


def object_body(scene_id: str, obj: ObjectView, board: ProgressBoard | None) -> ObjectBody:
    def live(stage: str) -> float | None:
        return board.fraction(scene_id, obj.object_id, stage) if board else None

    return ObjectBody(
        object_id=obj.object_id,
        category=obj.category,
        description=obj.description,
        image=_link(obj.image_status, obj.image, live("imagegen")),
        mesh=_link(obj.mesh_status, obj.mesh, live("meshgen")),
    )


def _ready(status: Status, ref: ArtifactRef | None) -> bool:
    return status == Status.SUCCEEDED and ref is not None


def _may_show_progress(status: Status, ref: ArtifactRef | None) -> bool:
    """Whether an artifact's link shows live percent when the board has some."""
    return not _ready(status, ref) and status not in (Status.FAILED, Status.CANCELLED)


def _link(status: Status, ref: ArtifactRef | None, fraction: float | None) -> ArtifactLink:
    """An artifact's status and download link, with live percent while it is being made."""
    if _ready(status, ref):
        percent: int | None = 100
    elif fraction is not None and _may_show_progress(status, ref):
        percent = min(99, int(fraction * 100))
    else:
        percent = None
    url = artifact_url(ref.sha256) if ref is not None and _ready(status, ref) else None
    return ArtifactLink(status=status, url=url, progress=percent)


def scene_item(summary: SceneSummary) -> SceneItem:
    return SceneItem(
        scene_id=summary.scene_id,
        prompt=summary.prompt,
        status=summary.status,
        progress=summary.progress,
        stages=summary.stages,
        object_count=summary.object_count,
        created_at=summary.created_at,
        updated_at=summary.updated_at,
        status_url=scene_url(summary.scene_id),
    )


# -- cursors -------------------------------------------------------------------------


def _key(created_at: datetime, scene_id: str) -> Key:
    return (int(created_at.timestamp() * 1_000_000), scene_id)


def cursor_of(key: Key) -> str:
    return f"{key[0]}_{key[1]}"


def parse_cursor(cursor: str) -> Key:
    """The position a ``cursor`` names; ValueError if it is not one."""
    if not _CURSOR.match(cursor):
        raise ValueError(f"cursor {cursor!r} is not one a page gave as next_cursor")
    micros, scene_id = cursor.split("_", 1)
    return int(micros), scene_id


# -- the model -----------------------------------------------------------------------


class Rebuilding(Exception):
    """The database holds an older state of a scene than this gateway has shown."""


@dataclass(slots=True)
class _Listed:
    """One scene in the list: its position, version and item JSON."""

    key: Key
    status: str  # as stored: never STUCK
    changed_seq: int
    stuck_at: datetime | None
    item: bytes
    stuck_item: bytes | None

    def shown_status(self, now: datetime) -> str:
        if self.stuck_at is not None and now > self.stuck_at:
            return Status.STUCK
        return self.status

    def item_at(self, now: datetime) -> bytes:
        if self.stuck_item is not None and self.stuck_at is not None and now > self.stuck_at:
            return self.stuck_item
        return self.item


@dataclass(slots=True)
class _Body:
    """One scene's whole view, and its JSON as last rendered."""

    changed_seq: int
    view: SceneView  # STUCK aside
    stuck_at: datetime | None
    # (object_id, stage) of the links that show live percent when the board has one.
    live: tuple[tuple[str, str], ...]
    rendered_for: tuple[Any, ...] | None = None
    rendered: bytes = b""


def _bucket(status: str) -> str:
    return status if status in TERMINAL else _RUNNING


def _live_links(view: SceneView) -> tuple[tuple[str, str], ...]:
    links = []
    for obj in view.objects:
        if _may_show_progress(obj.image_status, obj.image):
            links.append((obj.object_id, "imagegen"))
        if _may_show_progress(obj.mesh_status, obj.mesh):
            links.append((obj.object_id, "meshgen"))
    return tuple(links)


class ReadModel:
    """The scenes as the read routes show them, over an open :class:`Projection`.

    It registers with the projection, which refreshes it after each commit; it loads
    itself at :meth:`open`, or at the first read.
    """

    def __init__(
        self,
        projection: Projection,
        progress: ProgressBoard | None = None,
        *,
        bodies: int = BODIES,
    ):
        self.projection = projection
        self.progress = progress
        self.bodies = bodies
        self._listed: dict[str, _Listed] = {}
        self._order: dict[str, list[Key]] = {
            name: [] for name in (_ALL, _RUNNING, *(str(s) for s in TERMINAL))
        }
        self._bodies: OrderedDict[str, _Body] = OrderedDict()
        self._reading: dict[str, asyncio.Task[_Body | None]] = {}
        # Every change up to this changed_seq is held.
        self._since = 0
        # The projection's position the model has caught up with.
        self._position = Position()
        self._loaded = False
        self._lock = asyncio.Lock()
        self._behind = False
        self._catching_up: asyncio.Task[None] | None = None
        self._last_catch_up = 0.0
        projection.on_advance(self.refresh)

    async def open(self) -> ReadModel:
        """Load every scene's list item from the database."""
        await self._load()
        return self

    # -- keeping current ---------------------------------------------------------------

    async def _load(self) -> None:
        if self._loaded:
            return
        async with self._lock:
            if self._loaded:
                return
            started = time.perf_counter()
            snapshot = await self.projection.read_scenes()
            for row in snapshot.rows:
                self._take(row)
            self._since = max((row.changed_seq for row in snapshot.rows), default=0)
            self._loaded = True
            await self._caught_up(snapshot.position)
            log.info(
                "read model loaded",
                scenes=len(self._listed),
                changed_seq=self._since,
                seconds=round(time.perf_counter() - started, 3),
            )

    async def refresh(self, seq: int) -> None:
        """Take what changed in the database up to (at least) position ``seq``.

        Called by the projection after each commit; a failure is logged and made good
        by the next refresh, or by a read soon after.
        """
        async with self._lock:
            if not self._loaded:
                return  # the load, whenever it comes, reads everything committed
            try:
                snapshot = await self.projection.read_scenes(
                    changed_after=self._since, viewed=self._bodies
                )
            except Exception as exc:
                self._behind = True
                log.warning("read model not refreshed", stream_seq=seq, error=repr(exc))
                return
            self._behind = False
            if snapshot.position < self._since:
                # The database was emptied and is being filled again: take its rows as
                # they pass what is held.
                log.warning(
                    "the database is behind the read model: rebuilt under it?",
                    position=snapshot.position,
                    held=self._since,
                )
                self._since = snapshot.position
            for row in snapshot.rows:
                self._take(row)
                view = snapshot.views.get(row.scene_id)
                if view is not None:
                    self._keep_body(row, view)
                self._since = max(self._since, row.changed_seq)
            await self._caught_up(max(seq, snapshot.position))

    async def _caught_up(self, seq: int) -> None:
        await self._position.advance(seq)

    def _catch_up_soon(self) -> None:
        """After a failed refresh, try again from a read, at most once a second."""
        now = time.monotonic()
        running = self._catching_up is not None and not self._catching_up.done()
        if running or now - self._last_catch_up < CATCH_UP_EVERY_S:
            return
        self._last_catch_up = now
        self._catching_up = asyncio.create_task(self.refresh(self.projection.last_seq()))

    def _take(self, row: SceneRow) -> bool:
        """Hold ``row``'s list item unless what is held is newer; whether it was taken."""
        held = self._listed.get(row.scene_id)
        if held is not None and held.changed_seq >= row.changed_seq:
            return False
        summary = scene_summary(row)
        stuck_at = self.projection.stuck_after_time(row)
        item = scene_item(summary)
        listed = _Listed(
            key=_key(row.created_at, row.scene_id),
            status=row.status,
            changed_seq=row.changed_seq,
            stuck_at=stuck_at,
            item=item.model_dump_json().encode(),
            stuck_item=(
                item.model_copy(update={"status": Status.STUCK}).model_dump_json().encode()
                if stuck_at is not None
                else None
            ),
        )
        if held is None or held.key != listed.key or _bucket(held.status) != _bucket(row.status):
            if held is not None:
                self._unlist(held)
            self._list(listed)
        self._listed[row.scene_id] = listed
        return True

    def _list(self, listed: _Listed) -> None:
        for name in (_ALL, _bucket(listed.status)):
            keys = self._order[name]
            if not keys or keys[-1] < listed.key:
                keys.append(listed.key)  # the common case: the newest scene
            else:
                bisect.insort(keys, listed.key)

    def _unlist(self, listed: _Listed) -> None:
        for name in (_ALL, _bucket(listed.status)):
            keys = self._order[name]
            at = bisect.bisect_left(keys, listed.key)
            if at < len(keys) and keys[at] == listed.key:
                del keys[at]

    def _keep_body(self, row: SceneRow, view: SceneView) -> _Body:
        held = self._bodies.get(row.scene_id)
        if held is not None and held.changed_seq >= row.changed_seq:
            return held
        body = _Body(
            changed_seq=row.changed_seq,
            view=view,
            stuck_at=self.projection.stuck_after_time(row),
            live=_live_links(view),
        )
        self._bodies[row.scene_id] = body
        self._bodies.move_to_end(row.scene_id)
        while len(self._bodies) > self.bodies:
            self._bodies.popitem(last=False)
        return body

    # -- reading one scene -------------------------------------------------------------

    async def _body(self, scene_id: str) -> _Body | None:
        await self._load()
        if self._behind:
            self._catch_up_soon()
        body = self._bodies.get(scene_id)
        listed = self._listed.get(scene_id)
        # A body read from a snapshot older than a refresh that ran meanwhile is behind
        # the list item: read it again rather than serve it.
        if body is not None and (listed is None or body.changed_seq >= listed.changed_seq):
            self._bodies.move_to_end(scene_id)
            return body
        reading = self._reading.get(scene_id)
        if reading is None:
            reading = asyncio.create_task(self._read(scene_id))
            # Marked as retrieved, so a failure no one waits for is not reported twice.
            reading.add_done_callback(lambda t: t.cancelled() or t.exception())
            self._reading[scene_id] = reading
            reading.add_done_callback(lambda _: self._reading.pop(scene_id, None))
        return await asyncio.shield(reading)

    async def _read(self, scene_id: str) -> _Body | None:
        """A scene's body from the database, never older than what is held."""
        # Twice at most: a refresh that finished between this read's snapshot and now
        # may hold a newer state than the snapshot; a second read is then newer still,
        # unless the database really is behind.
        for _ in range(2):
            snapshot = await self.projection.read_scenes(only=[scene_id], viewed={scene_id})
            listed = self._listed.get(scene_id)
            row = snapshot.rows[0] if snapshot.rows else None
            shown = listed.changed_seq if listed is not None else 0
            if row is not None and row.changed_seq >= shown:
                self._take(row)
                return self._keep_body(row, snapshot.views[scene_id])
            if row is None and listed is None:
                return None
        raise Rebuilding(
            f"the database holds scene {scene_id} at stream sequence "
            f"{row.changed_seq if row else 'none'}, behind the {shown} this gateway has "
            "shown: it is being rebuilt; retry shortly"
        )

    async def scene_json(self, scene_id: str) -> bytes | None:
        """The JSON of ``GET /v1/scenes/{scene_id}``, or None for an unknown scene."""
        body = await self._body(scene_id)
        if body is None:
            return None
        now = self.projection.now()
        stuck = body.stuck_at is not None and now > body.stuck_at
        board = self.progress
        fractions = (
            tuple(board.fraction(scene_id, o, stage) for o, stage in body.live)
            if board is not None and body.live
            else ()
        )
        shown = (stuck, fractions)
        if body.rendered_for != shown:
            view = as_stuck(body.view) if stuck else body.view
            body.rendered = scene_body(view, board).model_dump_json().encode()
            body.rendered_for = shown
        return body.rendered

    async def get_scene(self, scene_id: str) -> SceneView | None:
        """The scene as ``GET /v1/scenes/{scene_id}`` shows it, or None if unknown."""
        body = await self._body(scene_id)
        if body is None:
            return None
        stuck = body.stuck_at is not None and self.projection.now() > body.stuck_at
        return as_stuck(body.view) if stuck else body.view

    # -- listing -----------------------------------------------------------------------

    async def list_json(
        self,
        *,
        page: int = 1,
        page_size: int = 50,
        status: Status | str | None = None,
        cursor: str | None = None,
    ) -> bytes:
        """The JSON of ``GET /v1/scenes``: newest first, by ``page`` or after ``cursor``."""
        await self._load()
        if self._behind:
            self._catch_up_soon()
        now = self.projection.now()
        wanted = Status(status) if status is not None else None
        if wanted is None:
            keys, keep = self._order[_ALL], None
        elif wanted in TERMINAL:
            keys, keep = self._order[str(wanted)], None
        else:
            keys = self._order[_RUNNING]

            def keep(key: Key) -> bool:
                return self._listed[key[1]].shown_status(now) == wanted

        # Newest first: from just before the cursor (or the end) down to the oldest.
        end = len(keys) if cursor is None else bisect.bisect_left(keys, parse_cursor(cursor))
        skip = 0 if cursor is not None else (page - 1) * page_size
        picked: list[Key] = []
        if keep is None:
            total = len(keys)
            hi = max(0, end - skip)
            lo = max(0, hi - page_size)
            picked = keys[lo:hi][::-1]
            more = lo > 0
        else:
            total = sum(1 for key in keys if keep(key))
            more = False
            for at in range(end - 1, -1, -1):
                if not keep(keys[at]):
                    continue
                if skip:
                    skip -= 1
                elif len(picked) < page_size:
                    picked.append(keys[at])
                else:
                    more = True
                    break
        items = b",".join(self._listed[key[1]].item_at(now) for key in picked)
        next_cursor = f'"{cursor_of(picked[-1])}"' if more and picked else "null"
        tail = (
            f'"page":{page if cursor is None else 1},"page_size":{page_size},'
            f'"total":{total},"next_cursor":{next_cursor}}}'
        )
        return b'{"items":[' + items + b"]," + tail.encode()

    # -- waiting -----------------------------------------------------------------------

    def last_seq(self) -> int:
        """The projection's position this model has caught up with."""
        return self._position.seq

    async def wait_for_seq(self, seq: int, timeout: float) -> bool:
        """Wait until what the stream held up to ``seq`` can be read here; False if
        ``timeout`` seconds pass first."""
        await self._load()
        return await self._position.reached(seq, timeout)

    async def wait_for_scene(
        self, scene_id: str, check: Callable[[SceneView], bool], timeout: float
    ) -> bool:
        """Wait until the scene, as read here, passes ``check``; False after ``timeout``."""

        async def passes() -> bool:
            view = await self.get_scene(scene_id)
            return view is not None and check(view)

        return await self._position.until(passes, timeout, self.wait_for_seq)
