"""The gateway's HTTP API: ask for a scene, follow its progress, download what it made,
retry or cancel it.

Scenes are read from the read model (:mod:`services.gateway.readmodel`), which the
projection keeps current; a new scene is an event published on the bus, and a retry or a
cancel goes through :mod:`services.recovery` as ``holodeck replay`` and ``holodeck
cancel`` do; each answers once a read here shows what it did. Health and metrics are
added around the routes, not inside them.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Annotated, Any, Literal, Protocol, TypeVar
from urllib.parse import quote

import nats.errors
from fastapi import FastAPI, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.gateway.progress import ProgressBoard
from services.gateway.projection import (
    RUNNING,
    TERMINAL,
    DeadLetterView,
    Projection,
    SceneView,
    StageStatuses,
    Status,
    is_outage,
)
from services.gateway.readmodel import (
    CURSOR_PATTERN,
    ReadModel,
    Rebuilding,
    SceneBody,
    SceneList,
    scene_url,
)
from services.gateway.requests import (
    HEADER as IDEMPOTENCY_HEADER,
)
from services.gateway.requests import (
    KEY_PATTERN as IDEMPOTENCY_KEY_PATTERN,
)
from services.gateway.requests import (
    MAX_KEY_LENGTH,
    KeyConflict,
    NotAccepted,
    SceneRequests,
    key_problem,
    scene_id_for_key,
)
from services.gateway.security import key_priority, requester
from services.recovery import STAGES, Plan, Stage
from shared import metrics
from shared.artifacts import ArtifactNotFound, ArtifactStore
from shared.contract import MAX_CALLBACK_URL_CHARS, ArtifactRef, SceneOptions, SceneRequested
from shared.errors import BadInput, RetryLater
from shared.layout import ID_PATTERN
from shared.logs import get_logger
from shared.states import SceneState, SceneStates

log = get_logger(__name__)
T = TypeVar("T")

HealthCheck = Callable[[], dict[str, bool]]


class SceneControl(Protocol):
    """Replays and cancels (:class:`services.recovery.Recovery`), created once at start-up."""

    @property
    def states(self) -> SceneStates: ...

    async def plan(self, scene_id: str, from_stage: Stage | None = None) -> Plan: ...

    async def replay(self, plan: Plan, reason: str = "replay") -> Plan: ...

    async def cancel(self, scene_id: str, reason: str = "cancelled") -> SceneState: ...


# (healthy, details) of the projection's lag behind the stream.
LagCheck = Callable[[], tuple[bool, dict[str, Any]]]

# How long a POST waits for its own request to reach the projection, so that a GET
# right after the 202 finds the scene.
PROJECTION_WAIT_S = 2.0
MAX_PAGE_SIZE = 1000
# Pages past this are refused (422): the offset must stay well inside a SQL BIGINT.
MAX_PAGE = 1_000_000
# Seconds a client is asked to wait when the bus or the database does not answer.
RETRY_AFTER_S = 1
PRODUCER = "gateway"

EXTENSIONS = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "model/gltf-binary": ".glb",
    "application/json": ".json",
    "image/svg+xml": ".svg",
}


class ApiError(Exception):
    """An error answered as ``{"error": {"code", "message"}}`` with its HTTP status."""

    def __init__(self, status: int, code: str, message: str, **extra: Any):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra


# The callback URLs the gateway takes: http(s), a host name or IPv4 address, an optional
# port, path and query in printable ASCII; no user name or password, no fragment, no
# spaces. A part of what the contract allows, written as a pattern so that the OpenAPI
# document states exactly what is accepted.
CALLBACK_URL_PATTERN = r'^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?([/?][!"$-~]*)?$'
_CALLBACK_URL = re.compile(CALLBACK_URL_PATTERN[1:-1])


class NewSceneOptions(SceneOptions):
    """A request's options as the gateway takes them: the contract's, with the seed a JSON
    integer and the callback URL held to :data:`CALLBACK_URL_PATTERN`."""

    callback_url: (
        Annotated[
            str,
            Field(
                max_length=MAX_CALLBACK_URL_CHARS,
                json_schema_extra={"pattern": CALLBACK_URL_PATTERN},
            ),
        ]
        | None
    ) = Field(
        default=None,
        description="An http(s) URL the gateway POSTs to, signed, when the scene's attempt "
        "ends (SUCCEEDED, FAILED or CANCELLED): a host name or IPv4 address, an optional "
        "port, path and query; no user name, password or fragment",
    )

    @field_validator("seed", mode="before")
    @classmethod
    def _a_number(cls, value: object) -> object:
        # JSON's true, false and strings are not integers, though Python would take them.
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError("must be an integer")
        return value

    @field_validator("callback_url")
    @classmethod
    def _as_documented(cls, value: str | None) -> str | None:
        if value is not None and not _CALLBACK_URL.fullmatch(value):
            raise ValueError(
                "must be an absolute http:// or https:// URL with a host name or IPv4 "
                "address, an optional port, path and query, in printable ASCII without "
                "spaces, user name, password or fragment"
            )
        return value


class NewScene(BaseModel):
    """The body of ``POST /v1/scenes``; the prompt's rules are the contract's."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"prompt": "a cozy bedroom with a reading corner", "options": {"seed": 7}}]
        },
    )

    prompt: str
    options: NewSceneOptions = Field(default_factory=NewSceneOptions)


class SceneCreated(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "scene_id": "3a2315b02a774767b49c",
                    "status_url": "/v1/scenes/3a2315b02a774767b49c",
                }
            ]
        }
    )

    scene_id: str
    status_url: str


class RetryRequest(BaseModel):
    """The optional body of ``POST /v1/scenes/{id}/retry``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_stage: Stage | None = Field(
        None,
        alias="from",
        description="The stage to redo from; by default where the scene failed, the stage "
        "a STUCK scene is stuck in, else the planner",
    )
    reason: str = Field("retry", max_length=500)


class RetryAccepted(BaseModel):
    scene_id: str
    attempt: int = Field(description="The attempt the retry began")
    from_stage: Stage
    previous: str = Field(description="How the attempt before it stood: RUNNING or its end")
    redone: dict[str, int] = Field(description="Objects (or the layout) each stage makes again")
    reused: dict[str, int] = Field(description="What is read back from the stream instead")
    status_url: str


class CancelRequest(BaseModel):
    """The optional body of ``POST /v1/scenes/{id}/cancel``."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field("cancelled", max_length=500)


class CancelResult(BaseModel):
    scene_id: str
    attempt: int
    status: Literal["CANCELLED"]
    status_url: str


class ErrorDetail(BaseModel):
    code: str = Field(description="What went wrong, for programs: `scene_not_found`, ...")
    message: str = Field(description="What went wrong, for people")


class ErrorResponse(BaseModel):
    """Every error answer: a code and a message, with more fields on some codes."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"error": {"code": "scene_not_found", "message": "no scene 'abc'"}}]
        }
    )

    error: ErrorDetail


class HealthReport(BaseModel):
    """The body of ``GET /health``, on 200 and on 503 alike."""

    status: Literal["ok", "unavailable"]
    checks: dict[str, bool] = Field(description="Each check by name, true when it passed")
    reasons: list[str] | None = Field(None, description="Why the failed checks failed")
    last_seq: int | None = Field(description="The last stream sequence the projection applied")
    projection: dict[str, Any] | None = Field(
        None, description="How far the projection is behind the stream"
    )


class NotAcceptedDetail(ErrorDetail):
    accepted: Literal["no", "unknown"] = Field(
        description="`no`: nothing was stored; `unknown`: the request may have been accepted"
    )
    scene_id: str = Field(description="The scene the request would be (or may be) building")
    status_url: str
    retry_safe: bool = Field(
        description="Whether sending the same request again cannot make a second scene"
    )


class NotAcceptedResponse(BaseModel):
    error: NotAcceptedDetail


class DeadLetterItem(BaseModel):
    rejected_by: str
    stream_seq: int
    subject: str
    scene_id: str | None
    reason: str
    size: int
    excerpt: str
    recorded_at: datetime


class DeadLetterList(BaseModel):
    items: list[DeadLetterItem]
    page: int
    page_size: int
    total: int


_STRING = {"type": "string"}
_BINARY = {"type": "string", "format": "binary"}
IDEMPOTENCY_DESCRIPTION = (
    "Makes the request safe to retry: the same key returns the same scene and publishes "
    "at most once, across gateway replicas and restarts (keys are kept for "
    "`gateway.idempotency_ttl_s`, 24 h by default). The same key with a different body is "
    f"422 `idempotency_key_reused`. Printable ASCII, at most {MAX_KEY_LENGTH} characters; "
    "a UUID per logical request is a good choice."
)

SceneId = Annotated[
    str,
    Path(
        pattern=ID_PATTERN,
        description="The scene's id (letters, digits, `_` and `-`, at most 64)",
        examples=["3a2315b02a774767b49c"],
    ),
]
Sha256 = Annotated[
    str, Path(pattern=r"^[0-9a-f]{64}$", description="The artifact's SHA-256, in lower-case hex")
]
PageNumber = Annotated[int, Query(ge=1, le=MAX_PAGE, description="From 1")]
_RETRY_AFTER = {
    "Retry-After": {"description": "Seconds to wait before asking again", "schema": _STRING}
}
_DOWNLOAD_HEADERS = {
    "Content-Disposition": {"description": "`attachment` with a file name", "schema": _STRING}
}
# Artifacts are served in the media type they were stored with; layouts are JSON.
ARTIFACT_CONTENT: dict[str, Any] = {
    media_type: {"schema": {} if media_type == "application/json" else _BINARY}
    for media_type in EXTENSIONS
}


def _fail(description: str, **extra: Any) -> dict[str, Any]:
    return {"model": ErrorResponse, "description": description, **extra}


DATABASE_DOWN: dict[int | str, dict[str, Any]] = {
    503: _fail(
        "`database_unavailable` or `storage_unavailable`: the projection's database (or the "
        "artifact store) did not answer",
        headers=_RETRY_AFTER,
    )
}
MALFORMED_BODY: dict[int | str, dict[str, Any]] = {
    400: _fail("`bad_request`: the body is not valid JSON")
}


def _control_answers(conflicts: str) -> dict[int | str, dict[str, Any]]:
    """The answers of a retry or a cancel besides its 202: ``conflicts`` describes its 409s."""
    return {
        404: _fail("`scene_not_found`"),
        409: _fail(conflicts),
        503: _fail(
            "`bus_unavailable` (the bus did not answer), `database_unavailable` or "
            "`control_unavailable` (this gateway cannot retry or cancel)",
            headers=_RETRY_AFTER,
        ),
        **MALFORMED_BODY,
    }


def create_app(
    projection: Projection,
    store: ArtifactStore,
    requests: SceneRequests,
    *,
    page_size: int = 50,
    health: HealthCheck | None = None,
    progress: ProgressBoard | None = None,
    lag: LagCheck | None = None,
    control: SceneControl | None = None,
    scenes: ReadModel | None = None,
) -> FastAPI:
    """The gateway app over an open projection, an artifact store and the request intake.

    ``requests`` puts a request on the bus (at most once per Idempotency-Key); ``health``
    adds checks (such as the NATS connection) to ``GET /health`` and ``lag`` reports how
    far the projection is behind the stream; ``control`` replays and cancels scenes
    (without it, those routes answer 503). Scenes are read from ``scenes``, the read model
    the projection keeps current (one is made over ``projection`` when none is given).
    """
    default_page_size = page_size
    scenes = scenes if scenes is not None else ReadModel(projection, progress)
    # /docs is the gateway's own Swagger UI (services.gateway.page), served without a CDN.
    app = FastAPI(title="Holodeck gateway", version="1", docs_url=None, redoc_url=None)
    app.add_middleware(RequestMetrics)
    _add_error_handlers(app)

    @app.post(
        "/v1/scenes",
        status_code=202,
        response_model=SceneCreated,
        responses={
            202: {
                "description": "Accepted. With an Idempotency-Key seen before, the same "
                "scene as the first time, with the header `Idempotent-Replayed: true`.",
                "headers": {
                    "Location": {"description": "The scene's status URL", "schema": _STRING},
                    "Idempotent-Replayed": {
                        "description": "`true` when the key was used before and nothing new "
                        "was published",
                        "schema": _STRING,
                    },
                },
            },
            422: {
                "model": ErrorResponse,
                "description": "`invalid_request` (a field or the Idempotency-Key header is "
                "invalid, named in the message) or `idempotency_key_reused` (the key was "
                "used with a different body).",
            },
            503: {
                "model": NotAcceptedResponse,
                "description": "The bus did not confirm the request. `accepted` says "
                "whether it may still have been taken (`unknown`) or surely was not "
                "(`no`); with an Idempotency-Key a retry is always safe.",
                "headers": _RETRY_AFTER,
            },
            **MALFORMED_BODY,
        },
    )
    async def create_scene(
        body: NewScene,
        request: Request,
        idempotency_key: Annotated[
            # The pattern is documented only: key_problem checks it, saying what is wrong.
            Annotated[str, Field(json_schema_extra={"pattern": IDEMPOTENCY_KEY_PATTERN})] | None,
            Header(
                alias=IDEMPOTENCY_HEADER,
                max_length=MAX_KEY_LENGTH,
                description=IDEMPOTENCY_DESCRIPTION,
            ),
        ] = None,
    ) -> JSONResponse:
        if idempotency_key is not None and (problem := key_problem(idempotency_key)):
            raise ApiError(
                422,
                "invalid_request",
                f"invalid request: header.{IDEMPOTENCY_HEADER}: {problem}",
                fields=[
                    {"field": f"header.{IDEMPOTENCY_HEADER}", "message": problem, "type": "value"}
                ],
            )
        if idempotency_key is not None:
            scene_id = scene_id_for_key(idempotency_key)
        else:
            scene_id = uuid.uuid4().hex[:20]
        try:
            options = body.options
            if (priority := key_priority(request)) is not None:
                options = options.model_copy(update={"priority": priority})
            requested = SceneRequested(
                scene_id=scene_id,
                prompt=body.prompt,
                options=options,
                producer=PRODUCER,
                requested_by=requester(request),
            )
        except ValidationError as exc:
            raise _invalid(exc.errors(), prefix=("body",)) from None
        try:
            accepted = await requests.submit(requested, idempotency_key)
        except KeyConflict as exc:
            raise ApiError(422, "idempotency_key_reused", str(exc)) from None
        except NotAccepted as exc:
            log.error(
                "scene request not confirmed",
                scene_id=exc.scene_id,
                maybe_taken=exc.maybe_taken,
                reason=exc.reason,
            )
            raise _not_accepted(exc, keyed=idempotency_key is not None) from None
        log.info(
            "scene requested",
            scene_id=accepted.scene_id,
            stream_seq=accepted.stream_seq,
            replayed=accepted.replayed,
        )
        if not await scenes.wait_for_seq(accepted.stream_seq, timeout=PROJECTION_WAIT_S):
            log.warning(
                "projection behind the request",
                scene_id=accepted.scene_id,
                stream_seq=accepted.stream_seq,
            )
        created = SceneCreated(scene_id=accepted.scene_id, status_url=scene_url(accepted.scene_id))
        headers = {"Location": created.status_url}
        if accepted.replayed:
            headers["Idempotent-Replayed"] = "true"
        return JSONResponse(created.model_dump(), status_code=202, headers=headers)

    @app.get(
        "/v1/scenes/{scene_id}",
        response_model=SceneBody,
        responses={404: _fail("`scene_not_found`"), **DATABASE_DOWN},
    )
    async def get_scene(scene_id: SceneId) -> Response:
        body = await scenes.scene_json(scene_id)
        if body is None:
            raise ApiError(404, "scene_not_found", f"no scene {scene_id!r}")
        return Response(body, media_type="application/json")

    @app.get(
        "/v1/scenes",
        response_model=SceneList,
        responses=DATABASE_DOWN,
    )
    async def list_scenes(
        page: PageNumber = 1,
        page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = default_page_size,
        status: Status | None = None,
        cursor: Annotated[
            str | None,
            Query(
                pattern=CURSOR_PATTERN,
                max_length=90,
                description="The `next_cursor` of the page before: the page after it "
                "(instead of `page`; it stays right while new scenes arrive). Giving both "
                "`cursor` and a `page` other than 1 is 422",
            ),
        ] = None,
    ) -> Response:
        """The scenes, newest first (by creation time, then id), one page at a time: by
        `page` number, or after the `cursor` the previous page gave."""
        if cursor is not None and page != 1:
            raise ApiError(
                422,
                "invalid_request",
                "invalid request: query.page: give either page or cursor, not both",
                fields=[{"field": "query.page", "message": "given with cursor", "type": "value"}],
            )
        body = await scenes.list_json(page=page, page_size=page_size, status=status, cursor=cursor)
        return Response(body, media_type="application/json")

    def controlled() -> SceneControl:
        if control is None:
            raise ApiError(503, "control_unavailable", "this gateway cannot retry or cancel scenes")
        return control

    async def unknown_or(scene_id: str, code: str, exc: BadInput) -> ApiError:
        """A scene the stream cannot replay or cancel: 404 if it is not known here either."""
        if await scenes.get_scene(scene_id) is None:
            return ApiError(404, "scene_not_found", f"no scene {scene_id!r}")
        return ApiError(409, code, str(exc))

    async def accepted(
        result: RetryAccepted | CancelResult, shows: Callable[[SceneView], bool]
    ) -> JSONResponse:
        """The 202 of a retry or a cancel, once a read here shows it (or after
        PROJECTION_WAIT_S), so that the client's next GET agrees."""
        if not await scenes.wait_for_scene(result.scene_id, shows, PROJECTION_WAIT_S):
            log.warning(
                "projection behind the answer", scene_id=result.scene_id, attempt=result.attempt
            )
        return JSONResponse(
            result.model_dump(), status_code=202, headers={"Location": result.status_url}
        )

    @app.post(
        "/v1/scenes/{scene_id}/retry",
        status_code=202,
        response_model=RetryAccepted,
        responses=_control_answers(
            "`scene_running` (its attempt is running and not STUCK: cancel it first), "
            "`replay_began` (another retry of it began meanwhile) or `not_replayable` (the "
            "stream holds neither its request nor its layout)"
        ),
    )
    async def retry_scene(scene_id: SceneId, body: RetryRequest | None = None) -> JSONResponse:
        """Begin the scene's next attempt, as `holodeck replay SCENE_ID [--from STAGE]`:
        what the stages before `from` made is read back from the stream, not made again."""
        recovery = controlled()
        body = body or RetryRequest()
        view = await scenes.get_scene(scene_id)
        state = await _bus_call(recovery.states.get(scene_id))
        stuck = view is not None and view.status == Status.STUCK
        running = (state is None or not state.ended) and (view is None or view.status in RUNNING)
        if view is not None and running and not stuck:
            raise ApiError(
                409,
                "scene_running",
                f"scene {scene_id} is still running (attempt {view.attempt}, {view.status}): "
                "cancel it first, or retry it once it has ended or shows STUCK",
            )
        from_stage = body.from_stage
        if from_stage is None and stuck and view is not None:
            from_stage = _stage_in_progress(view.stages)
        try:
            plan = await _bus_call(recovery.plan(scene_id, from_stage))
        except BadInput as exc:
            # Known here, but the stream holds neither its request nor its layout.
            raise await unknown_or(scene_id, "not_replayable", exc) from None
        if view is None and running:
            raise ApiError(
                409, "scene_running", f"scene {scene_id} is still running: cancel it first"
            )
        try:
            await _bus_call(recovery.replay(plan, body.reason))
        except BadInput as exc:
            raise ApiError(409, "replay_began", str(exc)) from None
        log.info(
            "scene retried", scene_id=scene_id, attempt=plan.attempt, from_stage=plan.from_stage
        )
        result = RetryAccepted(
            scene_id=scene_id,
            attempt=plan.attempt,
            from_stage=plan.from_stage,
            previous=plan.previous,
            redone=dict(plan.redone),
            reused=dict(plan.reused),
            status_url=scene_url(scene_id),
        )
        return await accepted(result, lambda shown: shown.attempt >= plan.attempt)

    @app.post(
        "/v1/scenes/{scene_id}/cancel",
        status_code=202,
        response_model=CancelResult,
        responses=_control_answers(
            "`scene_ended`: the attempt had already ended, `scene_status` says how; "
            "`not_cancellable`: the stream holds neither its request nor its layout"
        ),
    )
    async def cancel_scene(scene_id: SceneId, body: CancelRequest | None = None) -> JSONResponse:
        """End the scene's current attempt as CANCELLED, as `holodeck cancel SCENE_ID`:
        every stage drops its remaining work. Cancelling a cancelled scene is a 202 again."""
        recovery = controlled()
        body = body or CancelRequest()
        try:
            held = await _bus_call(recovery.cancel(scene_id, body.reason))
        except BadInput as exc:
            raise await unknown_or(scene_id, "not_cancellable", exc) from None
        if held.state != "CANCELLED":
            raise ApiError(
                409,
                "scene_ended",
                f"scene {scene_id} attempt {held.attempt} had already ended {held.state}",
                scene_status=held.state,
                attempt=held.attempt,
            )
        log.info("scene cancelled", scene_id=scene_id, attempt=held.attempt)
        result = CancelResult(
            scene_id=scene_id,
            attempt=held.attempt,
            status="CANCELLED",
            status_url=scene_url(scene_id),
        )
        return await accepted(
            result,
            lambda shown: (
                shown.attempt > held.attempt
                or (shown.attempt == held.attempt and shown.status in TERMINAL)
            ),
        )

    @app.get("/v1/deadletters", response_model=DeadLetterList, responses=DATABASE_DOWN)
    async def list_dead_letters(
        page: PageNumber = 1,
        page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = default_page_size,
        rejected_by: Annotated[
            str | None, Query(max_length=64, description="Only those one consumer rejected")
        ] = None,
    ) -> DeadLetterList:
        """Messages a consumer (a stage, or this projection) could not parse or apply,
        the most recently recorded first, each with its reason and a short excerpt."""
        found = await projection.list_dead_letters(page, page_size, rejected_by)
        return DeadLetterList(
            items=[_dead_letter_item(item) for item in found.items],
            page=found.page,
            page_size=found.page_size,
            total=found.total,
        )

    # The earlier spelling, kept working but not documented.
    app.add_api_route(
        "/v1/dead-letters",
        list_dead_letters,
        methods=["GET"],
        response_model=DeadLetterList,
        include_in_schema=False,
    )

    @app.get(
        "/v1/scenes/{scene_id}/artifacts/{name}",
        response_class=Response,
        responses={
            200: {
                "description": "The file: `scene.glb` (model/gltf-binary), `layout.json` "
                "(application/json), the floor plan",
                "content": ARTIFACT_CONTENT,
                "headers": _DOWNLOAD_HEADERS,
            },
            404: _fail("`scene_not_found` or `artifact_not_found`"),
            **DATABASE_DOWN,
        },
    )
    async def scene_artifact(
        scene_id: SceneId,
        name: Annotated[str, Path(description="`scene.glb`, `layout.json`, ...", max_length=200)],
    ) -> Response:
        """Download one of a scene's files by the name its `artifacts` lists."""
        view = await scenes.get_scene(scene_id)
        if view is None:
            raise ApiError(404, "scene_not_found", f"no scene {scene_id!r}")
        ref = view.artifacts.get(name)
        if ref is None:
            raise ApiError(404, "artifact_not_found", f"scene {scene_id!r} has no {name!r}")
        return await _download(store, ref, name)

    @app.get(
        "/v1/artifacts/{sha256}",
        response_class=Response,
        responses={
            200: {
                "description": "The file, in the media type it was made with: an object's "
                "image (image/png) or mesh (model/gltf-binary), a layout (application/json)",
                "content": ARTIFACT_CONTENT,
                "headers": _DOWNLOAD_HEADERS,
            },
            404: _fail("`artifact_not_found`"),
            **DATABASE_DOWN,
        },
    )
    async def artifact(sha256: Sha256) -> Response:
        """Download an artifact by its SHA-256, as objects' `image.url` and `mesh.url` link it."""
        ref = await projection.artifact(sha256)
        if ref is None:
            raise ApiError(404, "artifact_not_found", f"no artifact {sha256!r}")
        return await _download(store, ref, sha256 + EXTENSIONS.get(ref.media_type, ""))

    @app.get(
        "/health",
        response_model=None,
        responses={
            200: {"model": HealthReport, "description": "Every check passed"},
            503: {"model": HealthReport, "description": "A check failed; `reasons` says which"},
        },
    )
    async def check_health() -> JSONResponse:
        """200 when the database answers, the bus is connected and the projection keeps
        up with the stream; 503 with the reasons otherwise."""
        checks = {"database": await projection.ping()}
        if health is not None:
            try:
                checks.update(health())
            except Exception as exc:
                log.warning("health check raised", error=repr(exc))
                checks["health"] = False
        body: dict[str, Any] = {"last_seq": projection.last_seq()}
        if lag is not None:
            checks["projection"], body["projection"] = lag()
        ok = all(checks.values())
        reasons = [f"{name} check failed" for name, passed in checks.items() if not passed]
        if not checks.get("projection", True):
            reasons = [r for r in reasons if not r.startswith("projection ")]
            reasons.append(str(body["projection"].get("reason", "projection check failed")))
        return JSONResponse(
            {
                "status": "ok" if ok else "unavailable",
                "checks": checks,
                **({"reasons": reasons} if reasons else {}),
                **body,
            },
            status_code=200 if ok else 503,
        )

    @app.get(
        "/metrics",
        response_class=PlainTextResponse,
        responses={
            200: {
                "description": "Prometheus text exposition format",
                "content": {"text/plain": {"schema": _STRING}},
            }
        },
    )
    async def prometheus_metrics() -> Response:
        # Counted when scraped: STUCK depends on the clock, not only on events.
        try:
            metrics.SCENES_STUCK.set(await projection.count_stuck())
        except Exception as exc:
            log.warning("stuck scenes not counted", error=repr(exc))
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app


def _not_accepted(exc: NotAccepted, *, keyed: bool) -> ApiError:
    """The 503 of a request the bus did not confirm, saying what a client may do."""
    status_url = scene_url(exc.scene_id)
    if exc.maybe_taken:
        message = (
            f"the event bus did not confirm the request ({exc.reason}); it may have been "
            f"accepted as scene {exc.scene_id}: see {status_url}. "
        )
        message += (
            f"Retrying with the same {IDEMPOTENCY_HEADER} is safe: it returns that scene "
            "and never publishes twice."
            if keyed
            else f"A retry without an {IDEMPOTENCY_HEADER} may make a second scene; send "
            f"one to make retries safe."
        )
    else:
        message = (
            f"the event bus did not take the request ({exc.reason}); nothing was published. "
            + (
                f"Retrying with the same {IDEMPOTENCY_HEADER} is safe."
                if keyed
                else "Retrying is safe."
            )
        )
    return ApiError(
        503,
        "bus_unavailable",
        message,
        accepted="unknown" if exc.maybe_taken else "no",
        scene_id=exc.scene_id,
        status_url=status_url,
        retry_safe=keyed or not exc.maybe_taken,
    )


async def _bus_call(call: Coroutine[Any, Any, T]) -> T:
    """Await a call over the bus; an unanswering bus is a 503."""
    try:
        return await call
    except (RetryLater, nats.errors.Error, TimeoutError) as exc:
        log.error("bus call failed", error=repr(exc))
        raise ApiError(
            503, "bus_unavailable", f"the event bus did not answer: {exc or type(exc).__name__}"
        ) from None


def _stage_in_progress(stages: StageStatuses) -> Stage:
    """The first stage not yet SUCCEEDED: where a STUCK scene is stuck."""
    done = stages.model_dump()
    return next((s for s in STAGES if done[s] != Status.SUCCEEDED), "assembly")


def _dead_letter_item(view: DeadLetterView) -> DeadLetterItem:
    return DeadLetterItem(
        rejected_by=view.rejected_by,
        stream_seq=view.stream_seq,
        subject=view.subject,
        scene_id=view.scene_id,
        reason=view.reason,
        size=view.size,
        excerpt=view.excerpt,
        recorded_at=view.recorded_at,
    )


async def _download(store: ArtifactStore, ref: ArtifactRef, filename: str) -> Response:
    try:
        data = await store.get(ref.sha256)
    except ArtifactNotFound:
        raise ApiError(
            404, "artifact_not_found", f"artifact {ref.sha256} is not in the store"
        ) from None
    except (OSError, nats.errors.Error, RetryLater) as exc:
        log.warning("artifact store unavailable", sha256=ref.sha256, error=repr(exc))
        raise ApiError(
            503,
            "storage_unavailable",
            f"the artifact store did not answer ({type(exc).__name__}); retry shortly",
        ) from None
    return Response(
        data,
        media_type=ref.media_type,
        headers={"Content-Disposition": _disposition(filename)},
    )


def _disposition(filename: str) -> str:
    if filename.isascii() and filename.isprintable() and not any(c in filename for c in '"\\'):
        return f'attachment; filename="{filename}"'
    return f"attachment; filename*=UTF-8''{quote(filename, safe='')}"


# -- errors --------------------------------------------------------------------------


def _error(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, **extra}}, status_code=status)


def _invalid(errors: Any, prefix: tuple[str, ...] = ()) -> ApiError:
    fields = [
        {
            "field": ".".join(str(part) for part in (*prefix, *err["loc"])),
            "message": err["msg"],
            "type": err["type"],
        }
        for err in errors
    ]
    summary = "; ".join(f"{f['field']}: {f['message']}" for f in fields)
    return ApiError(422, "invalid_request", f"invalid request: {summary}", fields=fields)


def _allowed(app: FastAPI, scope: Scope) -> list[str]:
    """Every method some route serves on the request's path: the router's own 405 names
    only the first route whose path matched, and GET and POST of one path are two routes."""
    methods: set[str] = set()
    for route in app.router.routes:
        if isinstance(route, Route) and route.matches(scope)[0] != Match.NONE:
            methods |= route.methods or set()
    return sorted(methods)


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        response = _error(exc.status, exc.code, exc.message, **exc.extra)
        if exc.status == 503:
            response.headers["Retry-After"] = str(RETRY_AFTER_S)
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        error = _invalid(exc.errors())
        return _error(error.status, error.code, error.message, **error.extra)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        # 400 is a body that is not JSON; 405 carries the route's Allow header.
        codes = {400: "bad_request", 404: "not_found", 405: "method_not_allowed"}
        response = _error(
            exc.status_code,
            codes.get(exc.status_code, f"http_{exc.status_code}"),
            str(exc.detail),
        )
        response.headers.update(exc.headers or {})
        if exc.status_code == 405:
            response.headers["Allow"] = ", ".join(_allowed(app, request.scope))
        return response

    @app.exception_handler(SQLAlchemyError)
    async def database_error(request: Request, exc: SQLAlchemyError) -> JSONResponse:
        route = getattr(request.scope.get("route"), "path", request.url.path)
        if not is_outage(exc):
            log.error("database error", route=route, error=repr(exc))
            return _error(500, "internal_error", "the gateway failed to read its database")
        log.warning("database unavailable", route=route, error=repr(exc))
        response = _error(
            503,
            "database_unavailable",
            f"the database did not answer ({type(exc).__name__}); retry shortly",
        )
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
        return response

    @app.exception_handler(Rebuilding)
    async def rebuilding(request: Request, exc: Rebuilding) -> JSONResponse:
        log.warning("database behind the read model", path=request.url.path, error=str(exc))
        response = _error(503, "database_unavailable", str(exc))
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
        return response

    @app.exception_handler(OSError)
    async def connection_error(request: Request, exc: OSError) -> JSONResponse:
        # A refused or timed-out connection the driver does not wrap (asyncpg connecting);
        # the artifact store's own failures are translated where it is read.
        log.warning("database unavailable", path=request.url.path, error=repr(exc))
        response = _error(
            503,
            "database_unavailable",
            f"the database did not answer ({type(exc).__name__}); retry shortly",
        )
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
        return response

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Logged with its traceback; the client gets the error model, never the trace.
        log.exception("unexpected error", path=request.url.path)
        return _error(500, "internal_error", "the gateway failed; the error is in its log")


# -- metrics -------------------------------------------------------------------------


class RequestMetrics:
    """Counts and times every HTTP request by route template, never by concrete path."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            route = scope.get("route")
            endpoint = getattr(route, "path", None) or "unmatched"
            method = scope["method"]
            metrics.REQUESTS_TOTAL.labels(method, endpoint, str(status)).inc()
            metrics.REQUEST_DURATION.labels(method, endpoint).observe(time.perf_counter() - started)
