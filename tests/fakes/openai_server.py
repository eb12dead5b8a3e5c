"""A fake OpenAI-compatible chat completions server over real HTTP on 127.0.0.1.

``async with FakeOpenAI() as fake:`` serves ``POST /v1/chat/completions`` on a free port
(``fake.base_url``) in the running event loop. Each request takes the next reply of the
script (``fake.script([answer({...}), rate_limited(retry_after=2), ...])``) and is
recorded in ``fake.requests``. Replies have the shapes of the real API: a
``chat.completion`` object, and errors as ``{"error": {"message", "type", "param",
"code"}}`` with the real status codes and ``retry-after`` / ``retry-after-ms`` headers.

Like the real server it rejects a request without a model or messages, a wrong bearer
key (when created with ``api_key``), and a ``json_schema`` response format whose schema
breaks strict mode's rules (every property required, ``additionalProperties: false`` on
every object, resolvable ``$ref``s) — before taking a scripted reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
import uuid
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from tests.fakes.loopback import serving

SCHEMA_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})


@dataclass(frozen=True)
class Reply:
    """One scripted answer. ``choice`` is ``choices[0]`` of a 200 answer; ``error`` the
    error object of a failure; ``text`` a raw non-JSON body (a proxy's error page);
    ``stall`` seconds waited before answering (cut short when the fake closes)."""

    status: int = 200
    choice: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    text: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    stall: float = 0.0


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    received_at: float


# --------------------------------------------------------------------------- replies


def _choice(content: str | None, finish_reason: str, refusal: str | None = None) -> dict[str, Any]:
    return {
        "index": 0,
        "message": {
            "role": "assistant",
            "content": content,
            "refusal": refusal,
            "annotations": [],
        },
        "logprobs": None,
        "finish_reason": finish_reason,
    }


def answer(content: str | Mapping[str, Any] | BaseModel) -> Reply:
    """A complete answer; a mapping or model is sent as its JSON text."""
    if isinstance(content, BaseModel):
        text = content.model_dump_json()
    elif isinstance(content, str):
        text = content
    else:
        text = json.dumps(content)
    return Reply(choice=_choice(text, "stop"))


def malformed(text: str = 'Sure! Here is the room: {room: "bedroom",') -> Reply:
    """An answer whose content is not JSON."""
    return answer(text)


def refusal(text: str = "I'm sorry, I can't assist with that request.") -> Reply:
    return Reply(choice=_choice(None, "stop", refusal=text))


def truncated(partial: str = '{"room": "bedr') -> Reply:
    """The model hit its token limit mid-answer."""
    return Reply(choice=_choice(partial, "length"))


def content_filtered() -> Reply:
    return Reply(choice=_choice(None, "content_filter"))


def http_error(
    status: int,
    message: str,
    *,
    type: str = "invalid_request_error",
    code: str | None = None,
    param: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Reply:
    error = {"message": message, "type": type, "param": param, "code": code}
    return Reply(status=status, error=error, headers=dict(headers or {}))


def rate_limited(*, retry_after: float | None = None, retry_after_ms: float | None = None) -> Reply:
    headers = {}
    if retry_after is not None:
        headers["retry-after"] = f"{retry_after:g}"
    if retry_after_ms is not None:
        headers["retry-after-ms"] = f"{retry_after_ms:g}"
    return http_error(
        429,
        "Rate limit reached for requests. Please try again later.",
        type="requests",
        code="rate_limit_exceeded",
        headers=headers,
    )


def quota_exceeded() -> Reply:
    return http_error(
        429,
        "You exceeded your current quota, please check your plan and billing details.",
        type="insufficient_quota",
        code="insufficient_quota",
    )


def server_error(status: int = 500) -> Reply:
    return http_error(
        status,
        "The server had an error while processing your request. Sorry about that!",
        type="server_error",
    )


def unauthorized(key: str = "sk-wrong") -> Reply:
    return http_error(401, f"Incorrect API key provided: {key[:3]}***.", code="invalid_api_key")


def stall(seconds: float, then: Reply | None = None) -> Reply:
    """Wait ``seconds`` before answering (with ``then``, by default a valid empty object)."""
    return replace(then or answer({}), stall=seconds)


# --------------------------------------------------------------------------- strict mode rules


def strict_violations(schema: Any) -> list[str]:
    """Where ``schema`` breaks the rules of strict structured outputs (empty if none)."""
    problems: list[str] = []
    if not isinstance(schema, dict) or schema.get("type") != "object":
        return ["the root must be an object schema"]
    defs = schema.get("$defs", {})

    def walk(node: Any, where: tuple[str, ...]) -> None:
        if isinstance(node, list):
            for k, item in enumerate(node):
                walk(item, (*where, str(k)))
            return
        if not isinstance(node, dict):
            return
        ref = node.get("$ref")
        if isinstance(ref, str):
            if not ref.startswith("#/$defs/") or ref.removeprefix("#/$defs/") not in defs:
                problems.append(f"In context={where}, reference {ref} can't be resolved.")
            if len(node) > 1:
                problems.append(f"In context={where}, $ref cannot have keywords {sorted(node)}.")
        kind = node.get("type")
        kinds = kind if isinstance(kind, list) else [kind]
        if "object" in kinds or "properties" in node:
            properties = node.get("properties", {})
            if node.get("additionalProperties") is not False:
                problems.append(
                    f"In context={where}, 'additionalProperties' is required to be supplied "
                    "and to be false."
                )
            missing = [key for key in properties if key not in node.get("required", [])]
            if missing:
                problems.append(
                    f"In context={where}, 'required' is required to be supplied and to be an "
                    f"array including every key in properties. Missing '{missing[0]}'."
                )
        for key, value in node.items():
            if key in ("properties", "$defs") and isinstance(value, dict):
                for name, sub in value.items():
                    walk(sub, (*where, key, name))
            elif key in ("items", "anyOf"):
                walk(value, (*where, key))

    walk(schema, ())
    return problems


def _request_problem(body: Any) -> tuple[str, str | None, str | None] | None:
    """(message, param, code) of the 400 the real API gives for this body, if any."""
    if not isinstance(body, dict):
        return "The request body must be a JSON object.", None, None
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "you must provide a model parameter", None, None
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "Missing required parameter: 'messages'.", "messages", "missing_required_parameter"
    for k, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            return (
                f"Invalid value for 'messages[{k}].role'.",
                f"messages[{k}].role",
                "invalid_value",
            )
    response_format = body.get("response_format")
    if response_format is None:
        return None
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind not in ("text", "json_object", "json_schema"):
        return (
            f"Invalid value: {kind!r}. Supported values are: 'json_object', 'json_schema', "
            "and 'text'.",
            "response_format.type",
            "invalid_value",
        )
    if kind != "json_schema":
        return None
    spec = response_format.get("json_schema")
    if not isinstance(spec, dict) or not SCHEMA_NAME.match(str(spec.get("name", ""))):
        return (
            "Invalid 'response_format.json_schema.name': must match ^[A-Za-z0-9_-]{1,64}$.",
            "response_format.json_schema.name",
            "invalid_value",
        )
    if spec.get("strict"):
        problems = strict_violations(spec.get("schema"))
        if problems:
            return (
                f"Invalid schema for response_format '{spec['name']}': {problems[0]}",
                "response_format",
                "invalid_json_schema",
            )
    return None


# --------------------------------------------------------------------------- the server


class FakeOpenAI:
    """The fake server; use as ``async with FakeOpenAI(api_key=...) as fake``.

    A request that finds the script empty gets a 400 naming the problem, so a test that
    sends more requests than it scripted fails loudly.
    """

    def __init__(self, *, api_key: str | None = None):
        self.api_key = api_key
        self.requests: list[RecordedRequest] = []
        self._replies: deque[Reply] = deque()
        self._closing = asyncio.Event()
        self._stack = contextlib.AsyncExitStack()
        self.base_url = ""
        self.app = self._build_app()

    def script(self, replies: Iterable[Reply]) -> None:
        """Queue replies, taken one per chat completions request in order."""
        self._replies.extend(replies)

    def reset(self) -> None:
        """Forget the script and the recorded requests, and end any stalled reply, so one
        server can serve several tests."""
        self._replies.clear()
        self.requests.clear()
        self._closing.set()
        self._closing = asyncio.Event()

    @property
    def unused(self) -> int:
        """Scripted replies no request has taken yet."""
        return len(self._replies)

    @property
    def completions(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == "/v1/chat/completions"]

    async def __aenter__(self) -> FakeOpenAI:
        self._stack = contextlib.AsyncExitStack()
        self.base_url = await self._stack.enter_async_context(serving(self.app))
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._closing.set()
        await self._stack.aclose()

    def _build_app(self) -> FastAPI:
        app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

        @app.post("/v1/chat/completions")
        async def chat_completions(request: Request) -> Response:
            raw = await request.body()
            try:
                body = json.loads(raw)
            except ValueError:
                self._record(request, raw.decode(errors="replace"))
                return _error(
                    400,
                    "We could not parse the JSON body of your request. (HINT: This likely "
                    "means you aren't using your HTTP library correctly.)",
                )
            self._record(request, body)
            if self.api_key is not None:
                given = request.headers.get("authorization", "")
                if given != f"Bearer {self.api_key}":
                    key = given.removeprefix("Bearer ").strip()
                    if not key:
                        return _error(
                            401,
                            "You didn't provide an API key. You need to provide your API key "
                            "in an Authorization header using Bearer auth.",
                        )
                    return _error(
                        401, f"Incorrect API key provided: {key[:3]}***.", code="invalid_api_key"
                    )
            problem = _request_problem(body)
            if problem is not None:
                message, param, code = problem
                return _error(400, message, param=param, code=code)
            if not self._replies:
                return _error(400, "fake: no scripted reply left", code="fake_script_exhausted")
            reply = self._replies.popleft()
            if reply.stall:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), reply.stall)
                if self._closing.is_set():
                    return _error(503, "fake: stopped stalling", type="server_error")
            return _render(reply, body)

        @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
        async def unknown(path: str, request: Request) -> Response:
            self._record(request, (await request.body()).decode(errors="replace"))
            return _error(404, f"Invalid URL ({request.method} /{path})")

        return app

    def _record(self, request: Request, body: Any) -> None:
        self.requests.append(
            RecordedRequest(
                method=request.method,
                path=request.url.path,
                headers={k.lower(): v for k, v in request.headers.items()},
                body=body,
                received_at=time.monotonic(),
            )
        )


def _error(
    status: int,
    message: str,
    *,
    type: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
) -> JSONResponse:
    error = {"message": message, "type": type, "param": param, "code": code}
    return JSONResponse({"error": error}, status_code=status)


def _render(reply: Reply, request: dict[str, Any]) -> Response:
    headers = {"x-request-id": f"req_{uuid.uuid4().hex}", **reply.headers}
    if reply.text is not None:
        return Response(
            reply.text, status_code=reply.status, headers=headers, media_type="text/html"
        )
    if reply.error is not None:
        return JSONResponse({"error": reply.error}, status_code=reply.status, headers=headers)
    choice = reply.choice or _choice("{}", "stop")
    prompt_chars = sum(len(str(m.get("content", ""))) for m in request["messages"])
    completion_chars = len(choice["message"].get("content") or "")
    usage = {
        "prompt_tokens": prompt_chars // 4,
        "completion_tokens": completion_chars // 4,
        "total_tokens": (prompt_chars + completion_chars) // 4,
    }
    completion = {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request["model"],
        "choices": [choice],
        "usage": usage,
        "service_tier": "default",
        "system_fingerprint": "fp_fake",
    }
    return JSONResponse(completion, status_code=reply.status, headers=headers)
