"""The event contract: every subject, the stream, the durable consumers and the events.

No other module spells a subject. Events are frozen pydantic models; payloads carry
artifact references, never bytes.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

from shared.layout import ID_PATTERN, Layout, PlacedObject

SCHEMA_VERSION: Literal[1] = 1
STREAM = "HOLODECK"
# On a message a restore published again: when the event stream first stored it (ISO 8601).
# Readers take it for the message's stream time, so a restored scene keeps its times.
STORED_AT_HEADER = "Holodeck-Stored-At"
OBJECT_STORE_BUCKET = "holodeck-artifacts"
# Key-value bucket holding each scene's terminal state (first terminal event wins).
SCENE_STATE_BUCKET = "holodeck-scene-state"
# Key-value bucket mapping a client's Idempotency-Key to the scene it created.
IDEMPOTENCY_BUCKET = "holodeck-idempotency"
# Key-value bucket claiming each attempt's webhook, so one gateway replica sends it.
WEBHOOK_CLAIMS_BUCKET = "holodeck-webhook-claims"
# Key-value bucket of the gateway's rate-limit budgets, shared by its replicas.
RATE_LIMIT_BUCKET = "holodeck-rate-limits"
# Key-value bucket of the request slots of one-at-a-time backend servers, across replicas.
BACKEND_SLOTS_BUCKET = "holodeck-backend-slots"
# Key-value bucket claiming identical object work in flight, so one replica makes it.
WORK_CLAIMS_BUCKET = "holodeck-work-claims"

# A request's priority class. Interactive work is served first at every object stage;
# batch work (large replays, bulk submissions) fills the capacity interactive work leaves.
Priority = Literal["interactive", "batch"]
PRIORITIES: tuple[Priority, ...] = ("interactive", "batch")

# Bounds checked before a message is parsed: NATS's default max_payload is 1 MiB, and no
# event of the contract nests deeper than a dozen levels.
MAX_EVENT_BYTES = 1024 * 1024
MAX_JSON_DEPTH = 32
# The longest prompt the contract carries; a planner setting may lower it.
MAX_PROMPT_CHARS = 2000
# No scene holds more objects than this, whatever a planner setting says.
MAX_OBJECT_COUNT = 10_000
# The longest callback URL a request may name.
MAX_CALLBACK_URL_CHARS = 2048
# Bounds of artifact sizes and stream sequences on the wire (SQL BIGINT holds them).
MAX_ARTIFACT_BYTES = 2**40
MAX_SEQUENCE = 2**62
# A scene is replayed at most this often (each replay is a numbered attempt).
MAX_ATTEMPTS = 1000
# How much of a rejected message its dead letter keeps.
DEAD_LETTER_EXCERPT = 512

Identifier = Annotated[str, StringConstraints(pattern=ID_PATTERN)]


class Subject:
    """Subject roots. Concrete subjects append ``.<scene_id>`` and ``.<object_id>``."""

    SCENE_REQUESTED = "scene.requested"
    LAYOUT_READY = "layout.ready"
    IMAGE_WORK = "imagegen.work"
    # Batch-priority work waits in a lane of its own (the interactive lane is served first).
    IMAGE_BATCH = "imagegen.batch"
    MESH_BATCH = "meshgen.batch"
    IMAGES_READY = "images.ready"
    MESH_READY = "mesh.ready"
    SCENE_READY = "scene.ready"
    SCENE_FAILED = "scene.failed"
    PROGRESS = "progress"
    SCENE_CANCELLED = "scene.cancelled"
    SCENE_REPLAYED = "scene.replayed"
    # ``dead.letter.<rejected_by>``: a message a consumer could not parse or apply.
    DEAD_LETTER = "dead.letter"


STREAM_SUBJECTS = [
    Subject.SCENE_REQUESTED,
    f"{Subject.SCENE_REQUESTED}.*",
    f"{Subject.LAYOUT_READY}.*",
    f"{Subject.IMAGE_WORK}.*.*",
    f"{Subject.IMAGE_BATCH}.*.*",
    f"{Subject.MESH_BATCH}.*.*",
    f"{Subject.IMAGES_READY}.*.*",
    f"{Subject.MESH_READY}.*.*",
    f"{Subject.SCENE_READY}.*",
    f"{Subject.SCENE_FAILED}.*",
    f"{Subject.SCENE_CANCELLED}.*",
    f"{Subject.SCENE_REPLAYED}.*",
    f"{Subject.DEAD_LETTER}.*",
]


def subject(root: str, scene_id: str | None = None, object_id: str | None = None) -> str:
    parts = [root]
    if scene_id is not None:
        parts.append(scene_id)
    if object_id is not None:
        parts.append(object_id)
    return ".".join(parts)


def scene_subjects(scene_id: str) -> list[str]:
    """Every subject that carries news of one scene, for a watcher of that scene."""
    return [
        subject(Subject.LAYOUT_READY, scene_id),
        subject(Subject.IMAGES_READY, scene_id, "*"),
        subject(Subject.MESH_READY, scene_id, "*"),
        subject(Subject.SCENE_READY, scene_id),
        subject(Subject.SCENE_FAILED, scene_id),
        subject(Subject.SCENE_CANCELLED, scene_id),
        subject(Subject.SCENE_REPLAYED, scene_id),
    ]


class Consumer:
    """Durable consumer names and the subjects they filter on."""

    PLANNER = "planner"
    PLANNER_BY_ID = "planner-by-id"
    IMAGEGEN_FANOUT = "imagegen-fanout"
    IMAGEGEN = "imagegen"
    IMAGEGEN_BATCH = "imagegen-batch"
    MESHGEN = "meshgen"
    MESHGEN_BATCH = "meshgen-batch"
    ASSEMBLY = "assembly"

    FILTERS: ClassVar[dict[str, str]] = {
        PLANNER: Subject.SCENE_REQUESTED,
        PLANNER_BY_ID: f"{Subject.SCENE_REQUESTED}.*",
        IMAGEGEN_FANOUT: f"{Subject.LAYOUT_READY}.*",
        IMAGEGEN: f"{Subject.IMAGE_WORK}.*.*",
        IMAGEGEN_BATCH: f"{Subject.IMAGE_BATCH}.*.*",
        MESHGEN: f"{Subject.IMAGES_READY}.*.*",
        MESHGEN_BATCH: f"{Subject.MESH_BATCH}.*.*",
        ASSEMBLY: f"{Subject.MESH_READY}.*.*",
    }


def msg_id(stage: str, scene_id: str, object_id: str | None = None, attempt: int = 1) -> str:
    """The deterministic ``Nats-Msg-Id`` of a stage's output for one scene (and object).

    A scene's first attempt has the plain id; a replay's attempt ``n`` adds ``:a<n>``, so
    JetStream's duplicate window never swallows a replay while redelivery within one
    attempt is still deduplicated.
    """
    return with_attempt(f"{stage}:{scene_id}:{object_id or '-'}", attempt)


def with_attempt(message_id: str, attempt: int) -> str:
    return message_id if attempt <= 1 else f"{message_id}:a{attempt}"


def dead_letter_msg_id(rejected_by: str, stream_seq: int) -> str:
    """One dead letter per consumer and stored message, however often it is redelivered."""
    return f"dead:{rejected_by}:{stream_seq}"


def new_event_id() -> str:
    return uuid.uuid4().hex


def now() -> datetime:
    return datetime.now(UTC)


class ArtifactRef(BaseModel):
    """Where an artifact lives and what it is; the sha256 is its identity."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    uri: str = Field(max_length=1024)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=0, le=MAX_ARTIFACT_BYTES)
    media_type: str = Field(max_length=128)


class Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    schema_version: Literal[1] = SCHEMA_VERSION
    event_id: str = Field(default_factory=new_event_id, min_length=1, max_length=64)
    scene_id: Identifier
    time: datetime = Field(default_factory=now)
    producer: str = Field(default="unknown", max_length=128)
    # Which attempt of the scene this event belongs to (a replay starts the next one).
    attempt: int = Field(default=1, ge=1, le=MAX_ATTEMPTS)


class SceneOptions(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    priority: Priority = Field(
        default="interactive",
        description="interactive work is served before batch work at every object stage",
    )
    callback_url: str | None = Field(
        default=None,
        max_length=MAX_CALLBACK_URL_CHARS,
        description="An http(s) URL the gateway POSTs to, signed, when the scene's attempt "
        "ends (SUCCEEDED, FAILED or CANCELLED)",
    )

    @field_validator("callback_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an absolute http:// or https:// URL with a host")
        if parts.username is not None or parts.password is not None:
            raise ValueError("must not carry a user name or password")
        return value


class SceneRequested(BaseModel):
    """What another system publishes: only ``prompt`` is required.

    Not an :class:`Event` subclass because ``scene_id`` is optional on the wire; the
    planner and the gateway derive the same id from the stream when it is missing.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    schema_version: Literal[1] = SCHEMA_VERSION
    event_id: str = Field(default_factory=new_event_id, min_length=1, max_length=64)
    scene_id: Identifier | None = None
    time: datetime = Field(default_factory=now)
    producer: str = Field(default="external", max_length=128)
    prompt: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_PROMPT_CHARS)
    ]
    options: SceneOptions = Field(default_factory=SceneOptions)
    requested_by: str | None = Field(default=None, max_length=256)
    attempt: int = Field(default=1, ge=1, le=MAX_ATTEMPTS)


class LayoutReady(Event):
    prompt: str
    seed: int = 0
    layout: Layout
    understood_by: Literal["rules", "llm", "rules-fallback"] = "rules"
    priority: Priority = "interactive"


class ImageWork(Event):
    """One object's image to make: imagegen's own work item, so replicas share a scene."""

    object_id: Identifier
    object: PlacedObject
    seed: int = 0
    object_count: int = Field(ge=1, le=MAX_OBJECT_COUNT)
    priority: Priority = "interactive"


class ImagesReady(Event):
    object_id: Identifier
    object: PlacedObject
    image: ArtifactRef
    seed: int = 0
    object_count: int = Field(ge=1, le=MAX_OBJECT_COUNT)
    cached: bool = False
    priority: Priority = "interactive"


class MeshReady(Event):
    object_id: Identifier
    mesh: ArtifactRef
    object_count: int = Field(ge=1, le=MAX_OBJECT_COUNT)
    cached: bool = False


class SceneReady(Event):
    artifacts: dict[str, ArtifactRef] = Field(max_length=64)
    object_count: int = Field(ge=0, le=MAX_OBJECT_COUNT)


class SceneFailed(Event):
    stage: str = Field(max_length=64)
    object_id: str | None = Field(default=None, max_length=64)
    code: str = Field(max_length=64)
    message: str = Field(max_length=4000)
    retryable: bool = False


class SceneCancelled(Event):
    """A scene stopped on request: every stage drops its remaining work."""

    reason: str = Field(default="cancelled", max_length=500)
    requested_by: str | None = Field(default=None, max_length=256)


class SceneReplayed(Event):
    """A new attempt of a scene begins, redoing it from ``from_stage`` on.

    Published before the stage inputs the replay re-sends, so a watcher of the scene sees
    the new attempt start; ``attempt`` is the new attempt's number.
    """

    from_stage: Literal["planner", "imagegen", "meshgen", "assembly"]
    reason: str = Field(default="replay", max_length=500)
    requested_by: str | None = Field(default=None, max_length=256)


class DeadLetter(BaseModel):
    """A message a consumer could not parse or apply, kept with the reason (``dead.letter.<by>``).

    It names the message by its stream sequence and carries a readable excerpt, never the
    whole body. It does not fail the scene it may name: ``scene_id`` is only a hint.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    schema_version: Literal[1] = SCHEMA_VERSION
    event_id: str = Field(default_factory=new_event_id, min_length=1, max_length=64)
    time: datetime = Field(default_factory=now)
    producer: str = Field(default="unknown", max_length=128)
    rejected_by: Identifier
    subject: str = Field(max_length=512)
    stream_seq: int = Field(ge=0, le=MAX_SEQUENCE)
    scene_id: Identifier | None = None
    reason: str = Field(max_length=2000)
    size: int = Field(ge=0, le=MAX_ARTIFACT_BYTES)
    excerpt: str = Field(default="", max_length=DEAD_LETTER_EXCERPT)


def dead_letter(
    rejected_by: str,
    subject_name: str,
    data: bytes,
    stream_seq: int,
    reason: str,
    *,
    scene_id: str | None = None,
    producer: str = "unknown",
) -> DeadLetter:
    """The dead letter of ``data``: a bounded, printable excerpt and the reason."""
    if scene_id is not None and not re.fullmatch(ID_PATTERN, scene_id):
        scene_id = None
    return DeadLetter(
        producer=producer[:128],
        rejected_by=rejected_by,
        subject=subject_name[:512],
        stream_seq=min(max(stream_seq, 0), MAX_SEQUENCE),
        scene_id=scene_id,
        reason=reason[:2000],
        size=len(data),
        # NUL is valid JSON text but no SQL text column takes it.
        excerpt=data[:DEAD_LETTER_EXCERPT]
        .decode("utf-8", "replace")
        .replace("\x00", "\ufffd")[:DEAD_LETTER_EXCERPT],
    )


class ObjectProgress(BaseModel):
    """Live progress of one object in a stage, on core NATS only (``progress.<scene>.<object>``).

    Not stored in the stream: it is news of the moment, superseded by the stage's output.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    scene_id: Identifier
    object_id: Identifier
    stage: str
    fraction: float = Field(ge=0, le=1)
    time: datetime = Field(default_factory=now)


AnyEvent = (
    SceneRequested
    | LayoutReady
    | ImageWork
    | ImagesReady
    | MeshReady
    | SceneReady
    | SceneFailed
    | SceneCancelled
    | SceneReplayed
    | DeadLetter
)

EVENT_BY_ROOT: dict[str, type[BaseModel]] = {
    Subject.SCENE_REQUESTED: SceneRequested,
    Subject.LAYOUT_READY: LayoutReady,
    Subject.IMAGE_WORK: ImageWork,
    Subject.IMAGE_BATCH: ImageWork,
    Subject.MESH_BATCH: ImagesReady,
    Subject.IMAGES_READY: ImagesReady,
    Subject.MESH_READY: MeshReady,
    Subject.SCENE_READY: SceneReady,
    Subject.SCENE_FAILED: SceneFailed,
    Subject.SCENE_CANCELLED: SceneCancelled,
    Subject.SCENE_REPLAYED: SceneReplayed,
    Subject.DEAD_LETTER: DeadLetter,
}


# Subjects of a stage's own work items: they carry no news of a scene.
WORK_ROOTS = frozenset({Subject.IMAGE_WORK, Subject.IMAGE_BATCH, Subject.MESH_BATCH})


def is_work_item(subject_name: str) -> bool:
    """Whether a subject is a stage's own work item rather than an event of a scene."""
    return root_of(subject_name) in WORK_ROOTS


def image_work_subject(priority: str, scene_id: str, object_id: str) -> str:
    """The lane an object's image work waits in."""
    root = Subject.IMAGE_BATCH if priority == "batch" else Subject.IMAGE_WORK
    return subject(root, scene_id, object_id)


def root_of(subject_name: str) -> str:
    """``images.ready.s1.o2`` → ``images.ready``: the subject pattern, for labels."""
    return ".".join(subject_name.split(".")[:2])


def ids_from_subject(subject_name: str) -> tuple[str | None, str | None]:
    """The scene and object ids a concrete subject names, if any."""
    parts = subject_name.split(".")[2:]
    scene_id = parts[0] if parts else None
    object_id = parts[1] if len(parts) > 1 else None
    return scene_id, object_id


def derived_scene_id(stream_seq: int, stored_at: datetime | float) -> str:
    """The scene id of a request published without one.

    Derived from where JetStream stored the request, so the planner and the gateway
    (and every redelivery) agree on it without talking to each other.
    """
    stamp = stored_at.timestamp() if isinstance(stored_at, datetime) else stored_at
    return uuid.uuid5(uuid.NAMESPACE_URL, f"holodeck:{stream_seq}:{stamp:.6f}").hex[:20]


class MalformedEvent(ValueError):
    """The bytes on a subject are not a valid event of that subject's schema."""

    def __init__(self, subject_name: str, reason: str, scene_id: str | None = None):
        super().__init__(f"{subject_name}: {reason}")
        self.subject = subject_name
        self.reason = reason
        self.scene_id = scene_id


def parse_event(subject_name: str, data: bytes) -> Any:
    """Decode and validate the event on ``subject_name``; raise :class:`MalformedEvent`."""
    root = root_of(subject_name)
    model = EVENT_BY_ROOT.get(root)
    scene_hint, _ = ids_from_subject(subject_name)
    if scene_hint is not None and not re.fullmatch(ID_PATTERN, scene_hint):
        scene_hint = None
    if model is None:
        raise MalformedEvent(subject_name, "no event is defined for this subject", scene_hint)
    problem = json_shape_problem(data)
    if problem:
        raise MalformedEvent(subject_name, problem, scene_hint)
    try:
        return model.model_validate_json(data)
    except ValidationError as exc:
        raise MalformedEvent(
            subject_name, _describe(exc), _scene_id_in(data) or scene_hint
        ) from None


_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"')
_NOT_BRACKETS = bytes(c for c in range(256) if c not in b"[]{}")


def json_shape_problem(
    data: bytes, max_bytes: int = MAX_EVENT_BYTES, max_depth: int = MAX_JSON_DEPTH
) -> str | None:
    """Why ``data`` is too big or too deeply nested to parse, or None.

    Checked before any parser sees the bytes, so a hostile message costs a scan, not a
    recursion limit.
    """
    if len(data) > max_bytes:
        return f"message of {len(data)} bytes exceeds the limit of {max_bytes}"
    brackets = _STRINGS.sub(b"", data).translate(None, _NOT_BRACKETS)
    if len(brackets) <= max_depth:
        return None
    depth = 0
    for c in brackets:
        depth += 1 if c in b"[{" else -1
        if depth > max_depth:
            return f"JSON nested more than {max_depth} levels deep"
    return None


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "body"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def _scene_id_in(data: bytes) -> str | None:
    """Best effort: the scene id of a message that failed validation, if it has a usable one."""
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None
    if isinstance(value, dict):
        candidate = value.get("scene_id")
        if isinstance(candidate, str) and re.fullmatch(ID_PATTERN, candidate):
            return candidate
    return None


def encode(event: BaseModel) -> bytes:
    return event.model_dump_json().encode()


def json_schemas() -> dict[str, dict[str, Any]]:
    """The JSON Schema of every event, keyed by subject root."""
    return {root: model.model_json_schema() for root, model in EVENT_BY_ROOT.items()}


def request_scene_id(
    event: SceneRequested, subject_name: str, stream_seq: int, stored_at: datetime | float
) -> str:
    """The scene id of a request: the body's, else the subject's, else derived from the stream.

    A body and a subject that name different scenes are a bad request.
    """
    from_subject, _ = ids_from_subject(subject_name)
    if from_subject is not None and not re.fullmatch(ID_PATTERN, from_subject):
        raise MalformedEvent(subject_name, f"subject token {from_subject!r} is not a scene id")
    if event.scene_id and from_subject and event.scene_id != from_subject:
        raise MalformedEvent(
            subject_name,
            f"scene_id {event.scene_id!r} in the body differs from the subject's {from_subject!r}",
            event.scene_id,
        )
    return event.scene_id or from_subject or derived_scene_id(stream_seq, stored_at)


def stored_at(headers: dict[str, str] | None, stream_time: datetime) -> datetime:
    """When the event stream first stored a message: its restore's header, else its time."""
    original = (headers or {}).get(STORED_AT_HEADER)
    if original:
        try:
            when = datetime.fromisoformat(original.replace("Z", "+00:00"))
        except ValueError:
            return stream_time
        if when.tzinfo is not None:
            return when
    return stream_time
