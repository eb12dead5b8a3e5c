"""Understanding a prompt with a language model behind an OpenAI-compatible API.

:class:`ChatCompletions` asks ``POST {base}/v1/chat/completions`` for an answer in the
shape of a pydantic model (strict ``json_schema`` mode, or llama.cpp's ``json_object``
mode) and validates it with that model. :class:`LLMUnderstander` wraps it for the
planner, falling back to the rule-based understanding when the model gives no usable
answer. Both are generic over the model type; nothing here knows the scene spec.

Every failure leaves as a :mod:`shared.errors` class: :class:`RetryLater` when the server
was unreachable or overloaded for all attempts, :class:`Permanent` when retrying cannot
help (refusal, truncation, quota, a rejected request, answers that never validate).
"""

from __future__ import annotations

import asyncio
import functools
import json
import math
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

import httpx
from pydantic import BaseModel, ValidationError
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_exponential

from shared.config import LLMSettings
from shared.errors import HolodeckError, Permanent, RetryLater, retry_after_seconds
from shared.logs import get_logger

log = get_logger(__name__)

T = TypeVar("T", bound=BaseModel)
JsonMode = Literal["json_schema", "json_object"]
Sleep = Callable[[float], Awaitable[None]]

SCHEMA_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
RETRY_STATUSES = frozenset({408, 409, 429})
PERMANENT_CODES = {
    400: "llm_bad_request",
    401: "llm_unauthorized",
    403: "llm_forbidden",
    404: "llm_not_found",
    422: "llm_unprocessable",
}

# --------------------------------------------------------------------------- strict schema

# Formats strict mode accepts; any other format is moved into the description.
STRICT_FORMATS = frozenset(
    {"date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid"}
)


def strict_schema(model: type[BaseModel]) -> dict[str, Any]:
    """``model``'s JSON Schema in the form OpenAI's strict mode accepts.

    Every object lists all its properties in ``required`` and forbids others; a field
    that may be left out becomes nullable (``null`` then means "use the default").
    Validation keywords strict mode rejects (lengths, bounds, patterns, item counts,
    defaults, unsupported formats) move into the field's description, so the model
    still reads them; the answer is validated by pydantic afterwards. ``oneOf`` becomes
    ``anyOf``, ``const`` a one-value ``enum``, a fixed-length tuple an array.
    Raises ``ValueError`` for what strict mode cannot express (free-form mappings,
    untyped values), naming the field.
    """
    raw = model.model_json_schema()
    defs: dict[str, Any] = raw.pop("$defs", {})
    converter = _StrictConverter(defs)
    root = converter.field(raw, optional=False, path=model.__name__)
    if "$ref" in root:
        # A recursive model is all in $defs; the root is a copy of its definition.
        root = dict(converter.definition(_ref_name(root["$ref"])))
    if root.get("type") != "object":
        raise ValueError(f"{model.__name__}: strict mode needs an object at the root")
    if defs:
        root["$defs"] = {name: converter.definition(name) for name in defs}
    return root


class _StrictConverter:
    def __init__(self, defs: Mapping[str, Any]):
        self.defs = defs
        self.converted: dict[str, dict[str, Any]] = {}
        self.converting: set[str] = set()

    def definition(self, name: str) -> dict[str, Any]:
        if name not in self.converted:
            self.converting.add(name)
            self.converted[name] = self.field(self.defs[name], optional=False, path=name)
            self.converting.discard(name)
        return self.converted[name]

    def field(self, schema: Mapping[str, Any], *, optional: bool, path: str) -> dict[str, Any]:
        """One (sub)schema, made nullable when ``optional``, with its notes as description."""
        notes = _notes(schema)
        core = self.core(schema, path)
        if optional and not _admits_null(schema, self.defs):
            core = _with_null(core)
        if notes and "$ref" in core:
            # Strict mode allows no keywords beside $ref: inline the target, unless it
            # is the definition being converted (a recursive model), which keeps its $ref.
            name = _ref_name(core["$ref"])
            if name in self.converting or name not in self.defs:
                return core
            # The title keeps the definition's name visible in the prompt's outline.
            core = {"title": name, **self.definition(name)}
        if notes:
            core["description"] = notes
        return core

    def core(self, schema: Mapping[str, Any], path: str) -> dict[str, Any]:
        if "$ref" in schema:
            return {"$ref": schema["$ref"]}
        if "allOf" in schema:
            parts = schema["allOf"]
            if len(parts) != 1:
                raise ValueError(f"{path}: strict mode cannot express allOf")
            return self.core(parts[0], path)
        if "not" in schema or "if" in schema or "patternProperties" in schema:
            raise ValueError(f"{path}: strict mode cannot express not/if/patternProperties")
        union = schema.get("anyOf", schema.get("oneOf"))
        if union is not None:
            branches: list[dict[str, Any]] = []
            for k, branch in enumerate(union):
                converted = self.field(branch, optional=False, path=f"{path}|{k}")
                branches.extend(converted["anyOf"] if set(converted) == {"anyOf"} else [converted])
            return {"anyOf": branches}
        out: dict[str, Any] = {}
        kind = schema.get("type")
        if "const" in schema:
            out["enum"] = [schema["const"]]
        elif "enum" in schema:
            out["enum"] = list(schema["enum"])
        elif kind is None:
            raise ValueError(f"{path}: a value without a type (Any); strict mode needs one")
        if kind is None:
            return out
        out["type"] = kind
        if kind == "object":
            out.update(self.object(schema, path))
        elif kind == "array":
            out["items"] = self.items(schema, path)
        elif schema.get("format") in STRICT_FORMATS:
            out["format"] = schema["format"]
        return out

    def object(self, schema: Mapping[str, Any], path: str) -> dict[str, Any]:
        extra = schema.get("additionalProperties")
        if "properties" not in schema or isinstance(extra, dict):
            raise ValueError(f"{path}: a free-form mapping; strict mode needs named properties")
        required = set(schema.get("required", ()))
        properties = {
            key: self.field(sub, optional=key not in required, path=f"{path}.{key}")
            for key, sub in schema["properties"].items()
        }
        return {
            "properties": properties,
            "required": list(properties),
            "additionalProperties": False,
        }

    def items(self, schema: Mapping[str, Any], path: str) -> dict[str, Any]:
        if "prefixItems" in schema:
            # A fixed-length tuple: strict mode has no prefixItems, so every position
            # may hold any of the tuple's item types; pydantic checks the positions.
            distinct: list[dict[str, Any]] = []
            for k, item in enumerate(schema["prefixItems"]):
                converted = self.field(item, optional=False, path=f"{path}[{k}]")
                if converted not in distinct:
                    distinct.append(converted)
            return distinct[0] if len(distinct) == 1 else {"anyOf": distinct}
        if "items" not in schema:
            raise ValueError(f"{path}: an array of untyped items; strict mode needs a type")
        return self.field(schema["items"], optional=False, path=f"{path}[]")


def _with_null(core: dict[str, Any]) -> dict[str, Any]:
    kind = core.get("type")
    if isinstance(kind, str) and "enum" not in core:
        return {**core, "type": [kind, "null"]}
    if set(core) == {"anyOf"}:
        return {"anyOf": [*core["anyOf"], {"type": "null"}]}
    return {"anyOf": [core, {"type": "null"}]}


def _notes(schema: Mapping[str, Any]) -> str | None:
    """The description plus, in words, the constraints strict mode does not take."""
    notes: list[str] = []
    if schema.get("default") is not None:
        notes.append(f"default {json.dumps(schema['default'])}")
    for key, text in (
        ("minimum", ">= {}"),
        ("exclusiveMinimum", "> {}"),
        ("maximum", "<= {}"),
        ("exclusiveMaximum", "< {}"),
        ("multipleOf", "a multiple of {}"),
        ("minLength", "length >= {}"),
        ("maxLength", "length <= {}"),
        ("pattern", "matching /{}/"),
    ):
        if key in schema:
            notes.append(text.format(schema[key]))
    low, high = schema.get("minItems"), schema.get("maxItems")
    if low is not None and low == high:
        notes.append(f"exactly {low} items")
    else:
        if low:
            notes.append(f"items >= {low}")
        if high is not None:
            notes.append(f"items <= {high}")
    if schema.get("uniqueItems"):
        notes.append("no repeated items")
    if "format" in schema and schema["format"] not in STRICT_FORMATS:
        notes.append(f"format {schema['format']}")
    description = schema.get("description")
    if not notes:
        return description
    joined = "; ".join(notes)
    return f"{description} ({joined})" if description else joined


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _resolve(schema: Mapping[str, Any], defs: Mapping[str, Any]) -> Mapping[str, Any]:
    seen = 0
    while "$ref" in schema and seen < 64:
        schema = defs.get(_ref_name(schema["$ref"]), {})
        seen += 1
    return schema


def _admits_null(schema: Mapping[str, Any], defs: Mapping[str, Any]) -> bool:
    schema = _resolve(schema, defs)
    kind = schema.get("type")
    if kind == "null" or (isinstance(kind, list) and "null" in kind):
        return True
    if None in schema.get("enum", ()) or ("const" in schema and schema["const"] is None):
        return True
    branches = [*schema.get("anyOf", ()), *schema.get("oneOf", ()), *schema.get("allOf", ())]
    return any(_admits_null(branch, defs) for branch in branches)


# --------------------------------------------------------------------------- answers


def _drop_default_nulls(data: Any, schema: Mapping[str, Any], defs: Mapping[str, Any]) -> None:
    """Remove the ``null`` a strict-mode answer gives for a field that may be left out
    but may not be null, so pydantic applies the field's default instead."""
    node = _branch_for(data, schema, defs)
    if node is None:
        return
    if isinstance(data, dict):
        properties = node.get("properties", {})
        required = set(node.get("required", ()))
        for key in list(data):
            sub = properties.get(key)
            if sub is None:
                continue
            if data[key] is None:
                if key not in required and not _admits_null(sub, defs):
                    del data[key]
            else:
                _drop_default_nulls(data[key], sub, defs)
    elif isinstance(data, list):
        positional = node.get("prefixItems", [])
        for k, value in enumerate(data):
            sub = positional[k] if k < len(positional) else node.get("items")
            if sub is not None:
                _drop_default_nulls(value, sub, defs)


def _branch_for(
    data: Any, schema: Mapping[str, Any], defs: Mapping[str, Any]
) -> Mapping[str, Any] | None:
    """The one object or array schema in ``schema`` that describes ``data``, if unambiguous."""
    if not isinstance(data, dict | list):
        return None
    schema = _resolve(schema, defs)
    if len(schema.get("allOf", ())) == 1:
        return _branch_for(data, schema["allOf"][0], defs)
    union = schema.get("anyOf", schema.get("oneOf"))
    if union is None:
        return schema if _fits(data, schema) else None
    discriminator = schema.get("discriminator")
    if isinstance(discriminator, dict) and isinstance(data, dict):
        tag = data.get(discriminator.get("propertyName", ""))
        target = discriminator.get("mapping", {}).get(tag) if isinstance(tag, str) else None
        if target is not None:
            return _branch_for(data, {"$ref": target}, defs)
    branches = (_branch_for(data, branch, defs) for branch in union)
    fitting = [b for b in branches if b is not None and _tags_match(data, b)]
    return fitting[0] if len(fitting) == 1 else None


def _fits(data: dict[str, Any] | list[Any], schema: Mapping[str, Any]) -> bool:
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    return ("array" if isinstance(data, list) else "object") in kinds


def _tags_match(data: dict[str, Any] | list[Any], schema: Mapping[str, Any]) -> bool:
    """Whether the fixed-value properties of a union branch (``kind: "lamp"``) agree
    with ``data``."""
    if isinstance(data, list):
        return True
    for key, sub in schema.get("properties", {}).items():
        fixed = sub.get("enum", [sub["const"]] if "const" in sub else None)
        value = data.get(key)
        if value is not None and fixed is not None and len(fixed) == 1 and value != fixed[0]:
            return False
    return True


def _unfenced(content: str) -> str:
    """Some local models wrap JSON in a Markdown code fence despite being told not to."""
    text = content.strip()
    if text.startswith("```") and text.endswith("```") and "\n" in text:
        return text[text.index("\n") + 1 : -3].strip()
    return text


# --------------------------------------------------------------------------- prompt


def describe_schema(schema: Mapping[str, Any], name: str) -> str:
    """A compact outline of a strict schema for the system prompt (one block per model)."""
    lines = _outline(name, schema)
    root = {key: value for key, value in schema.items() if key != "$defs"}
    for def_name, sub in schema.get("$defs", {}).items():
        if def_name != name or sub != root:  # a recursive root is also its own definition
            lines.extend(_outline(def_name, sub))
    return "\n".join(lines)


def _outline(name: str, schema: Mapping[str, Any]) -> list[str]:
    note = _comment(schema.get("description"))
    if schema.get("type") == "object" and "properties" in schema:
        lines = [f"{name} {{{note}"]
        for key, sub in schema["properties"].items():
            lines.append(f"  {key}: {_type_expr(sub)}{_comment(_field_notes(sub))}")
        lines.append("}")
        return lines
    return [f"{name} = {_type_expr(schema)}{note}"]


def _field_notes(schema: Mapping[str, Any]) -> str | None:
    """A field's description with those of its inline union branches (a nullable tuple
    keeps its length note on the array branch)."""
    notes = [schema.get("description")]
    for branch in schema.get("anyOf", ()):
        if "$ref" not in branch and "title" not in branch:
            notes.append(branch.get("description"))
    return "; ".join(note for note in notes if note) or None


def _comment(text: str | None) -> str:
    return f"  // {' '.join(text.split())}" if text else ""


def _type_expr(schema: Mapping[str, Any]) -> str:
    if "$ref" in schema:
        return _ref_name(schema["$ref"])
    if "title" in schema:
        return str(schema["title"])
    if "anyOf" in schema:
        return " | ".join(_type_expr(branch) for branch in schema["anyOf"])
    if "enum" in schema:
        return " | ".join(json.dumps(value) for value in schema["enum"])
    kind = schema.get("type")
    parts = []
    for each in kind if isinstance(kind, list) else [kind]:
        if each == "array":
            item = _type_expr(schema.get("items", {}))
            parts.append(f"({item})[]" if " | " in item else f"{item}[]")
        elif each == "object":
            inner = ", ".join(f"{k}: {_type_expr(v)}" for k, v in schema["properties"].items())
            parts.append(f"{{ {inner} }}")
        else:
            parts.append(str(each))
    return " | ".join(parts)


def system_prompt(instructions: str, schema: Mapping[str, Any], name: str) -> str:
    """``instructions`` followed by the answer's structure, spelled out for servers that
    do not show the schema to the model."""
    return (
        f"{instructions.strip()}\n\n"
        "Reply with one JSON object and nothing else. Every key must be present; where the "
        "text gives no value and the structure allows null, use null (the default then "
        f"applies). Structure (`{name}` is the reply):\n{describe_schema(schema, name)}"
    )


@dataclass(frozen=True)
class _Prepared:
    strict: dict[str, Any]
    original: dict[str, Any]
    defs: dict[str, Any]


@functools.cache
def _prepared(model_type: type[BaseModel]) -> _Prepared:
    original = model_type.model_json_schema()
    return _Prepared(strict_schema(model_type), original, original.get("$defs", {}))


# --------------------------------------------------------------------------- the client


class _Transient(Exception):
    """An attempt failed in a way the next attempt may not."""

    def __init__(self, reason: str, *, status: int | None = None, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after


class _Unavailable(_Transient):
    """The server did not answer or was overloaded."""


class _InvalidOutput(_Transient):
    """The server answered, but not with a valid instance of the model."""

    def __init__(self, reason: str, content: str | None):
        super().__init__(reason)
        self.content = content


class ChatCompletions:
    """A client for OpenAI-compatible chat completions returning validated pydantic models.

    Create it once at start-up with a shared ``httpx.AsyncClient`` (or through
    :meth:`from_settings`). ``backoff_factor`` is the growth of the wait between retries
    of an unavailable server, starting from ``initial_wait`` seconds; a ``retry-after-ms``
    or ``retry-after`` header replaces it; no wait exceeds ``max_wait``. ``sleep`` is
    what waits (tests pass a recorder).
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str,
        model: str,
        api_key: str | None = None,
        json_mode: JsonMode = "json_schema",
        timeout: float = 30.0,
        retry_attempts: int = 3,
        backoff_factor: float = 1.5,
        initial_wait: float = 1.0,
        max_wait: float = 30.0,
        temperature: float | None = None,
        seed: int | None = None,
        sleep: Sleep | None = None,
        owns_http: bool = False,
    ):
        if retry_attempts < 1:
            raise ValueError("retry_attempts must be at least 1")
        self.http = http
        self.url = completions_url(base_url)
        self.model = model
        self.api_key = api_key
        self.json_mode = json_mode
        self.timeout = timeout
        self.retry_attempts = retry_attempts
        self.max_wait = max_wait
        self.temperature = temperature
        self.seed = seed
        self._backoff = wait_exponential(
            multiplier=initial_wait, exp_base=backoff_factor, max=max_wait
        )
        self._sleep: Sleep = sleep or asyncio.sleep
        self._owns_http = owns_http

    @classmethod
    def from_settings(
        cls,
        settings: LLMSettings,
        http: httpx.AsyncClient | None = None,
        *,
        temperature: float | None = None,
        seed: int | None = None,
        sleep: Sleep | None = None,
    ) -> ChatCompletions:
        """The client the settings describe; without ``http`` it creates (and closes) its own."""
        return cls(
            http or httpx.AsyncClient(),
            base_url=settings.base_url,
            model=settings.model,
            api_key=settings.api_key,
            json_mode=settings.json_mode,
            timeout=settings.timeout,
            retry_attempts=settings.retry_attempts,
            backoff_factor=settings.backoff_factor,
            max_wait=settings.max_retry_wait_s,
            temperature=temperature,
            seed=seed,
            sleep=sleep,
            owns_http=http is None,
        )

    async def aclose(self) -> None:
        if self._owns_http:
            await self.http.aclose()

    async def __aenter__(self) -> ChatCompletions:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def structured(
        self,
        *,
        system: str,
        user: str,
        model_type: type[T],
        schema_name: str,
        seed: int | None = None,
    ) -> T:
        """Ask for one ``model_type`` answering ``user``; ``system`` holds the instructions
        (the answer's structure is appended to it). ``seed`` overrides the client's."""
        if not SCHEMA_NAME.match(schema_name):
            raise ValueError(f"schema name {schema_name!r} must match {SCHEMA_NAME.pattern}")
        prepared = _prepared(model_type)
        messages: list[dict[str, str]] = [
            {"role": "system", "content": system_prompt(system, prepared.strict, schema_name)},
            {"role": "user", "content": user},
        ]
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "response_format": self._response_format(prepared.strict, schema_name),
        }
        if self.temperature is not None:
            body["temperature"] = self.temperature
        if seed is not None or self.seed is not None:
            body["seed"] = seed if seed is not None else self.seed
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.retry_attempts),
            wait=self._wait,
            retry=retry_if_exception_type(_Transient),
            sleep=self._sleep,
            before_sleep=self._log_retry,
            reraise=True,
        )
        rejected: list[_InvalidOutput] = []
        attempts = 0

        async def attempt() -> T:
            nonlocal attempts
            attempts += 1
            request = body
            if rejected:
                # Show the model its rejected answer and why, so the retry differs.
                request = {**body, "messages": [*messages, *_correction(rejected[-1])]}
            try:
                return await self._complete(request, model_type, prepared)
            except _InvalidOutput as exc:
                rejected.append(exc)
                raise

        try:
            return await retrying(attempt)
        except _Unavailable as exc:
            self._log_failure(attempts, exc.reason, status=exc.status)
            raise RetryLater(
                f"chat completions at {self.url} unavailable after {attempts} attempts: "
                f"{exc.reason}",
                code="llm_unavailable",
                delay=exc.retry_after,
            ) from None
        except _InvalidOutput as exc:
            self._log_failure(attempts, exc.reason)
            raise Permanent(
                f"{self.model} gave no valid {schema_name} in {attempts} attempts: {exc.reason}",
                code="llm_invalid_output",
            ) from None
        except HolodeckError as exc:
            self._log_failure(attempts, exc.message, code=exc.code)
            raise

    def _response_format(self, schema: dict[str, Any], name: str) -> dict[str, Any]:
        if self.json_mode == "json_object":
            return {"type": "json_object", "schema": schema}
        return {
            "type": "json_schema",
            "json_schema": {"name": name, "strict": True, "schema": schema},
        }

    async def _complete(self, body: dict[str, Any], model_type: type[T], prepared: _Prepared) -> T:
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        try:
            response = await self.http.post(
                self.url, json=body, headers=headers, timeout=self.timeout
            )
        except httpx.TimeoutException:
            raise _Unavailable(f"no answer within {self.timeout:g} s") from None
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            raise Permanent(
                f"bad chat completions URL {self.url}: {exc}", code="llm_bad_url"
            ) from None
        except httpx.TransportError as exc:
            raise _Unavailable(f"{type(exc).__name__}: {exc}".rstrip(": ")) from None
        if response.is_redirect:
            # Usually http:// for an https:// server, or a missing path prefix.
            where = response.headers.get("location", "elsewhere")
            raise Permanent(
                f"{self.url} redirects to {where}; set the base URL to the final address",
                code="llm_bad_url",
            )
        if response.status_code >= 400:
            raise self._http_error(response)
        return self._answer(response, model_type, prepared)

    def _http_error(self, response: httpx.Response) -> Exception:
        status = response.status_code
        message, code = _error_detail(response)
        if status == 429 and code == "insufficient_quota":
            return Permanent(f"{self.url}: quota exhausted: {message}", code="llm_quota")
        if status in RETRY_STATUSES or status >= 500:
            return _Unavailable(
                f"HTTP {status}: {message}", status=status, retry_after=_retry_after(response)
            )
        return Permanent(
            f"{self.url} answered HTTP {status}: {message}",
            code=PERMANENT_CODES.get(status, "llm_rejected"),
        )

    def _answer(self, response: httpx.Response, model_type: type[T], prepared: _Prepared) -> T:
        try:
            choice = response.json()["choices"][0]
            message = choice["message"]
        except (ValueError, KeyError, IndexError, TypeError):
            message = None
        if not isinstance(message, dict):
            raise _InvalidOutput("the response is not a chat completion", None)
        if message.get("refusal"):
            raise Permanent(f"{self.model} refused: {message['refusal']}", code="llm_refused")
        finish = choice.get("finish_reason")
        if finish == "length":
            raise Permanent(
                f"{self.model} stopped at its token limit before the answer was complete",
                code="llm_truncated",
            )
        if finish == "content_filter":
            raise Permanent(
                f"{self.model}'s answer was withheld by the content filter",
                code="llm_content_filter",
            )
        content = message.get("content")
        if not isinstance(content, str) or not content.strip():
            raise _InvalidOutput("the answer is empty", None)
        try:
            data = json.loads(_unfenced(content))
        except json.JSONDecodeError as exc:
            raise _InvalidOutput(f"not JSON ({exc.msg} at char {exc.pos})", content) from None
        _drop_default_nulls(data, prepared.original, prepared.defs)
        try:
            return model_type.model_validate_json(json.dumps(data))
        except ValidationError as exc:
            raise _InvalidOutput(_validation_summary(exc), content) from None

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _InvalidOutput):
            return 0.0
        if isinstance(exc, _Transient) and exc.retry_after is not None:
            return min(exc.retry_after, self.max_wait)
        return float(self._backoff(state))

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Transient):
            wait = state.next_action.sleep if state.next_action else None
            self._log_failure(state.attempt_number, exc.reason, status=exc.status, retry_in=wait)

    def _log_failure(self, attempt: int, reason: str, **fields: Any) -> None:
        log.warning(
            "llm attempt failed",
            model=self.model,
            attempt=attempt,
            of=self.retry_attempts,
            reason=reason,
            **{k: v for k, v in fields.items() if v is not None},
        )


def completions_url(base_url: str) -> str:
    """``{base}/v1/chat/completions``; a base already ending in ``/v1`` (the OpenAI SDK's
    convention for ``OPENAI_BASE_URL``) is accepted too."""
    base = base_url.rstrip("/")
    base = base.removesuffix("/v1")
    return f"{base}/v1/chat/completions"


def _correction(rejected: _InvalidOutput) -> list[dict[str, str]]:
    return [
        {"role": "assistant", "content": rejected.content or ""},
        {
            "role": "user",
            "content": f"That reply was rejected: {rejected.reason}. Reply again with only "
            "the JSON object, following the structure exactly.",
        },
    ]


def _validation_summary(exc: ValidationError, limit: int = 3) -> str:
    errors = exc.errors(include_url=False)
    parts = [
        f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}"
        for err in errors[:limit]
    ]
    more = f" (+{len(errors) - limit} more)" if len(errors) > limit else ""
    return "; ".join(parts) + more


def _error_detail(response: httpx.Response) -> tuple[str, str | None]:
    """The ``error.message`` and ``error.code`` of an error body, or the body's start."""
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        code = error.get("code")
        message = error.get("message") or response.reason_phrase
        return str(message), code if isinstance(code, str) else None
    if isinstance(error, str):
        return error, None
    text = " ".join(response.text.split())[:200]
    return text or response.reason_phrase, None


def _retry_after(response: httpx.Response) -> float | None:
    """The wait the server asks for: ``retry-after-ms``, else ``retry-after`` in seconds
    or as an HTTP date."""
    millis = response.headers.get("retry-after-ms")
    if millis is not None:
        try:
            value = float(millis) / 1000
        except ValueError:
            value = math.nan
        if math.isfinite(value) and value >= 0:
            return value
    return retry_after_seconds(response.headers.get("retry-after"))


# --------------------------------------------------------------------------- the planner's use


@dataclass(frozen=True)
class Understood(Generic[T]):
    """An understanding and where it came from; ``reason`` says why the model was not used."""

    value: T
    source: Literal["llm", "fallback"]
    reason: str | None = None


class LLMUnderstander(Generic[T]):
    """Turns a prompt into a ``model_type`` with the language model, or with ``fallback``
    (the rule-based understanding) when the model gives no usable answer.

    ``last_source`` tells a caller that serves one request at a time where the last
    answer came from; concurrent callers use :meth:`understand_with_source`.
    """

    def __init__(
        self,
        client: ChatCompletions,
        model_type: type[T],
        *,
        instructions: str,
        fallback: Callable[[str], T] | None,
        schema_name: str | None = None,
    ):
        self.client = client
        self.model_type = model_type
        self.instructions = instructions
        self.fallback = fallback
        self.schema_name = schema_name or model_type.__name__
        if not SCHEMA_NAME.match(self.schema_name):
            raise ValueError(f"schema name {self.schema_name!r} must match {SCHEMA_NAME.pattern}")
        _prepared(model_type)  # an inexpressible model fails here, at start-up
        self.last_source: Literal["llm", "fallback"] | None = None

    async def understand(self, prompt: str, *, seed: int | None = None) -> T:
        """The model's understanding of ``prompt``; see :meth:`understand_with_source`."""
        result = await self.understand_with_source(prompt, seed=seed)
        self.last_source = result.source
        return result.value

    async def understand_with_source(
        self, prompt: str, *, seed: int | None = None
    ) -> Understood[T]:
        """Ask the model; on a :class:`Permanent` or :class:`RetryLater` failure use the
        fallback if there is one, else re-raise."""
        try:
            value = await self.client.structured(
                system=self.instructions,
                user=prompt,
                model_type=self.model_type,
                schema_name=self.schema_name,
                seed=seed,
            )
        except (Permanent, RetryLater) as exc:
            if self.fallback is None:
                raise
            log.warning(
                "llm understanding failed, using the fallback", code=exc.code, reason=exc.message
            )
            return Understood(self.fallback(prompt), "fallback", f"{exc.code}: {exc.message}")
        return Understood(value, "llm")
