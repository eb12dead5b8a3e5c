"""The chat completions client and the LLM understander, against a fake OpenAI server
spoken to over real HTTP on loopback. Waits between retries go to a recorder, so the
suite never sleeps for a backoff; the model here is a small stand-in for the scene spec."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

import httpx
import pytest
from pydantic import BaseModel, Field

from services.planner.llm import ChatCompletions, LLMUnderstander, strict_schema
from shared.config import LLMSettings
from shared.errors import Permanent, RetryLater
from tests.fakes.openai_server import (
    FakeOpenAI,
    Reply,
    answer,
    content_filtered,
    http_error,
    malformed,
    quota_exceeded,
    rate_limited,
    refusal,
    server_error,
    stall,
    strict_violations,
    truncated,
)

KEY = "sk-test-123"

# --------------------------------------------------------------------------- a stand-in spec


class Size(BaseModel):
    width: float = Field(gt=0, le=20, description="metres along x")
    depth: float = Field(gt=0, le=20)


class Lamp(BaseModel):
    kind: Literal["lamp"]
    bulbs: int = Field(1, ge=1)


class Window(BaseModel):
    kind: Literal["window"]
    panes: int = 2


class Item(BaseModel):
    """One object the text asks for."""

    name: str = Field(min_length=1, max_length=40, description="what it is")
    count: int = Field(1, ge=1, le=50)
    colour: str | None = None
    tags: list[str] = []
    dims: tuple[float, float, float] | None = None
    kind: Literal["furniture", "decor"] = "furniture"


class Room(BaseModel):
    """A room request."""

    room_type: Literal["bedroom", "kitchen", "office"]
    size: Size | None = None
    items: list[Item]
    mood: str | None = Field(None, pattern=r"^[a-z ]+$")
    light: Annotated[Lamp | Window, Field(discriminator="kind")] | None = None
    version: Literal[1] = 1


GOOD = {
    "room_type": "bedroom",
    "size": {"width": 4, "depth": 5},
    "items": [
        {
            "name": "bed",
            "count": 1,
            "colour": "blue",
            "tags": ["double"],
            "dims": [2, 0.5, 1.6],
            "kind": "furniture",
        }
    ],
    "mood": "calm",
    "light": {"kind": "lamp", "bulbs": 2},
    "version": 1,
}


def rules(prompt: str) -> Room:
    return Room(room_type="office", items=[Item(name=prompt.split()[-1])])


# --------------------------------------------------------------------------- fixtures


class Sleeps:
    """Stands in for asyncio.sleep: records each wait the retry loop asks for."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture(scope="module")
async def fake_server() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI(api_key=KEY) as server:
        yield server


@pytest.fixture
def fake(fake_server: FakeOpenAI) -> FakeOpenAI:
    """The module's fake server with an empty script and no recorded requests."""
    fake_server.reset()
    return fake_server


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def client_for(
    fake: FakeOpenAI, http: httpx.AsyncClient, sleeps: Sleeps, **overrides: Any
) -> ChatCompletions:
    options: dict[str, Any] = {
        "base_url": fake.base_url,
        "model": "test-model",
        "api_key": KEY,
        "retry_attempts": 3,
        "backoff_factor": 2.0,
        "initial_wait": 1.0,
        "max_wait": 30.0,
        "timeout": 5.0,
        "sleep": sleeps,
    }
    options.update(overrides)
    return ChatCompletions(http, **options)


async def ask(client: ChatCompletions, prompt: str = "a bedroom with a blue bed") -> Room:
    return await client.structured(
        system="Describe the room.", user=prompt, model_type=Room, schema_name="Room"
    )


def schema_nodes(node: Any) -> list[dict[str, Any]]:
    """Every dict in a JSON Schema document (properties maps included)."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        found.append(node)
        for value in node.values():
            found.extend(schema_nodes(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(schema_nodes(value))
    return found


# --------------------------------------------------------------------------- strict schema


def test_strict_schema_obeys_strict_mode_rules() -> None:
    schema = strict_schema(Room)
    assert strict_violations(schema) == []
    objects = [n for n in schema_nodes(schema) if n.get("type") == "object"]
    assert {tuple(o["properties"]) for o in objects} >= {
        ("room_type", "size", "items", "mood", "light", "version"),
        ("width", "depth"),
        ("name", "count", "colour", "tags", "dims", "kind"),
    }
    for obj in objects:
        assert obj["additionalProperties"] is False
        assert obj["required"] == list(obj["properties"])
    rejected = {
        "default",
        "minLength",
        "maxLength",
        "pattern",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "prefixItems",
        "minItems",
        "maxItems",
        "oneOf",
        "allOf",
        "discriminator",
        "const",
    }
    for node in schema_nodes(schema):
        if "$ref" in node:
            assert set(node) == {"$ref"}
        if "type" in node or "anyOf" in node or "enum" in node:
            assert not rejected & set(node), node


def test_strict_schema_makes_optional_values_nullable() -> None:
    schema = strict_schema(Room)
    room = schema["properties"]
    item = schema["$defs"]["Item"]["properties"]
    assert room["room_type"] == {"enum": ["bedroom", "kitchen", "office"], "type": "string"}
    assert room["items"] == {"type": "array", "items": {"$ref": "#/$defs/Item"}}
    assert room["size"]["anyOf"] == [{"$ref": "#/$defs/Size"}, {"type": "null"}]
    assert room["light"]["anyOf"] == [
        {"$ref": "#/$defs/Lamp"},
        {"$ref": "#/$defs/Window"},
        {"type": "null"},
    ]
    assert room["mood"]["anyOf"][1] == {"type": "null"}
    assert room["version"]["anyOf"] == [{"enum": [1], "type": "integer"}, {"type": "null"}]
    assert item["name"]["type"] == "string"
    assert item["count"]["type"] == ["integer", "null"]
    assert item["tags"] == {
        "type": ["array", "null"],
        "items": {"type": "string"},
        "description": "default []",
    }
    assert item["dims"]["anyOf"][0]["items"] == {"type": "number"}
    assert item["kind"]["anyOf"][0] == {"enum": ["furniture", "decor"], "type": "string"}


def test_strict_schema_keeps_dropped_constraints_in_descriptions() -> None:
    schema = strict_schema(Room)
    item = schema["$defs"]["Item"]
    assert item["description"] == "One object the text asks for."
    assert item["properties"]["name"]["description"] == "what it is (length >= 1; length <= 40)"
    assert item["properties"]["count"]["description"] == "default 1; >= 1; <= 50"
    assert item["properties"]["dims"]["anyOf"][0]["description"] == "exactly 3 items"
    assert schema["properties"]["mood"]["anyOf"][0] == {
        "type": "string",
        "description": "matching /^[a-z ]+$/",
    }
    assert schema["$defs"]["Size"]["properties"]["width"]["description"] == (
        "metres along x (> 0; <= 20)"
    )


def test_strict_schema_inlines_a_described_reference() -> None:
    class Wrapper(BaseModel):
        size: Size = Field(description="the floor")

    prop = strict_schema(Wrapper)["properties"]["size"]
    assert "$ref" not in prop
    assert prop["description"] == "the floor"
    assert prop["properties"]["width"]["type"] == "number"
    assert strict_violations(strict_schema(Wrapper)) == []


class Part(BaseModel):
    """A part made of parts."""

    label: str
    parts: list[Part] = []


def test_strict_schema_of_a_recursive_model_keeps_its_reference() -> None:
    schema = strict_schema(Part)
    assert strict_violations(schema) == []
    assert schema["properties"]["parts"]["items"] == {"$ref": "#/$defs/Part"}
    assert schema["$defs"]["Part"]["required"] == ["label", "parts"]


async def test_a_recursive_answer_is_validated(
    fake: FakeOpenAI, http: httpx.AsyncClient, sleeps: Sleeps
) -> None:
    tree = {"label": "shelf", "parts": [{"label": "board", "parts": None}]}
    fake.script([answer(tree)])
    client = client_for(fake, http, sleeps)
    part = await client.structured(
        system="Split.", user="a shelf", model_type=Part, schema_name="Part"
    )
    assert part == Part(label="shelf", parts=[Part(label="board")])
    system = fake.requests[0].body["messages"][0]["content"]
    assert system.count("Part {  // A part made of parts.") == 1
    assert "  parts: Part[] | null  // default []" in system.splitlines()


def test_strict_schema_refuses_what_strict_mode_cannot_express() -> None:
    class Mapping(BaseModel):
        counts: dict[str, int]

    class Untyped(BaseModel):
        anything: Any

    with pytest.raises(ValueError, match=r"counts: a free-form mapping"):
        strict_schema(Mapping)
    with pytest.raises(ValueError, match=r"anything: a value without a type"):
        strict_schema(Untyped)


async def test_fake_rejects_a_schema_that_breaks_strict_mode(
    fake: FakeOpenAI, http: httpx.AsyncClient
) -> None:
    loose = {"type": "object", "properties": {"a": {"type": "string"}}}
    response = await http.post(
        f"{fake.base_url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {KEY}"},
        json={
            "model": "m",
            "messages": [{"role": "user", "content": "hi"}],
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "Loose", "strict": True, "schema": loose},
            },
        },
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_json_schema"
    assert "additionalProperties" in error["message"]


# --------------------------------------------------------------------------- answers


async def test_a_good_answer_is_validated_into_the_model(
    fake: FakeOpenAI, http: httpx.AsyncClient, sleeps: Sleeps
) -> None:
    fake.script([answer(GOOD)])
    room = await ask(client_for(fake, http, sleeps, temperature=0.2, seed=7))
    assert room == Room.model_validate(GOOD)
    assert isinstance(room.light, Lamp)
    assert room.items[0].dims == (2.0, 0.5, 1.6)

    [request] = fake.requests
    assert request.method == "POST"
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    body = request.body
    assert body["model"] == "test-model"
    assert body["temperature"] == 0.2
    assert body["seed"] == 7
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "Room", "strict": True, "schema": strict_schema(Room)},
    }
    system, user = body["messages"]
    assert user == {"role": "user", "content": "a bedroom with a blue bed"}
    assert system["role"] == "system"
    assert system["content"].startswith("Describe the room.\n")
    for line in (
        '  room_type: "bedroom" | "kitchen" | "office"',
        "  items: Item[]",
        "Item {  // One object the text asks for.",
        "  dims: number[] | null  // exactly 3 items",
    ):
        assert line in system["content"].splitlines()
    assert sleeps.delays == []


async def test_null_for_a_defaulted_field_means_its_default(
    fake: FakeOpenAI, http: httpx.AsyncClient, sleeps: Sleeps
) -> None:
    nulls = {
        **GOOD,
        "version": None,
        "mood": None,
        "light": {"kind": "window", "panes": None},
        "items": [
            {"name": "rug", "count": None, "colour": None, "tags": None, "dims": None, "kind": None}
        ],
    }
    fake.script([answer(nulls)])
    room = await ask(client_for(fake, http, sleeps))
    assert room.version == 1
    assert room.mood is None
    assert room.light == Window(kind="window", panes=2)
    assert room.items == [Item(name="rug")]


async def test_an_answer_in_a_code_fence_is_accepted(
    fake: FakeOpenAI, http: httpx.AsyncClient, sleeps: Sleeps
) -> None:
    fake.script([answer(f"```json\n{json.dumps(GOOD)}\n```")])
    assert await ask(client_for(fake, http, sleeps)) == Room.model_validate(GOOD)


async def test_a_malformed_answer_is_retried_with_the_reason(
    fake: FakeOpenAI, http: httpx.AsyncClient, sleeps: Sleeps
) -> None:
    fake.script([malformed("{room_type: bedroom"), answer(GOOD)])
    assert await ask(client_for(fake, http, sleeps)) == Room.model_validate(GOOD)
    first, second = (r.body["messages"] for r in fake.requests)
    assert len(first) == 2
    assert second[:2] == first
    assert second[2] == {"role": "assistant", "content": "{room_type: bedroom"}
    assert second[3]["role"] == "user"
    assert "not JSON" in second[3]["content"]
    assert all(delay == 0 for delay in sleeps.delays)


async def test_answers_that_never_validate_are_permanent(
    fake: FakeOpenAI, http: httpx.AsyncClient, sleeps: Sleeps
) -> None:
    wrong = {**GOOD, "room_type": "garage"}
    fake.script([malformed(), answer(wrong), answer(wrong)])
    with pytest.raises(Permanent) as caught:
        await ask(client_for(fake, http, sleeps))
    assert caught.value.code == "llm_invalid_output"
    assert "room_type" in caught.value.message
    assert "3 attempts" in caught.value.message
    assert len(fake.requests) == 3
    assert fake.unused == 0


async def test_a_refusal_is_permanent_and_quotes_the_model(
    fake: FakeOpenAI, http: httpx.AsyncClient, sleeps: Sleeps
) -> None:
    fake.script([refusal("I can't help with that.")])
    with pytest.raises(Permanent) as caught:
        await ask(client_for(fake, http, sleeps))
    assert caught.value.code == "llm_refused"
    assert "I can't help with that." in caught.value.message
    assert len(fake.requests) == 1


@pytest.mark.parametrize(
    ("reply", "code"),
    [(truncated(), "llm_truncated"), (content_filtered(), "llm_content_filter")],
)
async def test_no_usable_answer_is_permanent(
    fake: FakeOpenAI, http: httpx.AsyncClient, sleeps: Sleeps, reply: Reply, code: str
) -> None:
    fake.script([reply])
    with pytest.raises(Permanent) as caught:
        await ask(client_for(fake, http, sleeps))
    assert caught.value.code == code
    assert len(fake.requests) == 1


# --------------------------------------------------------------------------- HTTP failures


@pytest.mark.parametrize(
    ("reply", "waited"),
    [
        (rate_limited(retry_after=7), 7.0),
        (rate_limited(retry_after_ms=250), 0.25),
        (rate_limited(retry_after=7, retry_after_ms=1500), 1.5),
        (rate_limited(retry_after=120), 30.0),
        (rate_limited(), 1.0),
    ],
    ids=["seconds", "milliseconds", "milliseconds-first", "capped", "no-header-backoff"],
)
async def test_rate_limit_waits_as_the_server_asks(
    fake: FakeOpenAI, http: httpx.AsyncClient, sleeps: Sleeps, reply: Reply, waited: float
) -> None:
    fake.script([reply, answer(GOOD)])
    assert await ask(client_for(fake, http, sleeps)) == Room.model_validate(GOOD)
    assert sleeps.delays == [waited]
    assert len(fake.requests) == 2


@pytest.mark.parametrize("status", [408, 409, 500, 502, 503])
async def test_transient_statuses_back_off_then_succeed(
    fake: FakeOpenAI, http: httpx.AsyncClient, sleeps: Sleeps, status: int
) -> None:
    fake.script([server_error(status), server_error(status), answer(GOOD)])
    assert await ask(client_for(fake, http, sleeps)) == Room.model_validate(GOOD)
    assert sleeps.delays == [1.0, 2.0]


async def test_a_server_error_that_persists_is_retry_later(
    fake: FakeOpenAI, http: httpx.AsyncClient, sleeps: Sleeps
) -> None:
    fake.script([server_error(), server_error(), rate_limited(retry_after=9)])
    with pytest.raises(RetryLater) as caught:
        await ask(client_for(fake, http, sleeps))
    assert caught.value.code == "llm_unavailable"
    assert caught.value.delay == 9.0
    assert "3 attempts" in caught.value.message
    assert "HTTP 429" in caught.value.message
    assert len(fake.requests) == 3
    assert sleeps.delays == [1.0, 2.0]


async def test_insufficient_quota_is_permanent_at_once(
    fake: FakeOpenAI, http: httpx.AsyncClient, sleeps: Sleeps
) -> None:
    fake.script([quota_exceeded(), answer(GOOD)])
    with pytest.raises(Permanent) as caught:
        await ask(client_for(fake, http, sleeps))
    assert caught.value.code == "llm_quota"
    assert "exceeded your current quota" in caught.value.message
    assert len(fake.requests) == 1
    assert sleeps.delays == []


async def test_a_wrong_key_is_unauthorized(
    fake: FakeOpenAI, http: httpx.AsyncClient, sleeps: Sleeps
) -> None:
    with pytest.raises(Permanent) as caught:
        await ask(client_for(fake, http, sleeps, api_key="sk-nope"))
    assert caught.value.code == "llm_unauthorized"
    assert "Incorrect API key provided" in caught.value.message
    assert len(fake.requests) == 1


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "llm_bad_request"),
        (403, "llm_forbidden"),
        (404, "llm_not_found"),
        (422, "llm_unprocessable"),
    ],
)
async def test_client_errors_are_permanent_with_the_servers_message(
    fake: FakeOpenAI, http: httpx.AsyncClient, sleeps: Sleeps, status: int, code: str
) -> None:
    fake.script([http_error(status, f"the model says no ({status})")])
    with pytest.raises(Permanent) as caught:
        await ask(client_for(fake, http, sleeps))
    assert caught.value.code == code
    assert f"the model says no ({status})" in caught.value.message
    assert len(fake.requests) == 1


async def test_a_wrong_base_path_reports_the_servers_404(
    fake: FakeOpenAI, http: httpx.AsyncClient, sleeps: Sleeps
) -> None:
    with pytest.raises(Permanent) as caught:
        await ask(client_for(fake, http, sleeps, base_url=f"{fake.base_url}/openai"))
    assert caught.value.code == "llm_not_found"
    assert "Invalid URL (POST /openai/v1/chat/completions)" in caught.value.message


async def test_a_redirect_is_a_configuration_error(
    fake: FakeOpenAI, http: httpx.AsyncClient, sleeps: Sleeps
) -> None:
    fake.script([Reply(status=308, text="", headers={"location": "https://llm.example/v1"})])
    with pytest.raises(Permanent) as caught:
        await ask(client_for(fake, http, sleeps))
    assert caught.value.code == "llm_bad_url"
    assert "redirects to https://llm.example/v1" in caught.value.message
    assert len(fake.requests) == 1


async def test_a_base_url_ending_in_v1_is_accepted(
    fake: FakeOpenAI, http: httpx.AsyncClient, sleeps: Sleeps
) -> None:
    fake.script([answer(GOOD)])
    await ask(client_for(fake, http, sleeps, base_url=f"{fake.base_url}/v1/"))
    assert [r.path for r in fake.requests] == ["/v1/chat/completions"]


async def test_a_stalled_server_times_out_and_is_retried(
    fake: FakeOpenAI, http: httpx.AsyncClient, sleeps: Sleeps
) -> None:
    fake.script([stall(30), answer(GOOD)])
    client = client_for(fake, http, sleeps, timeout=0.2)
    assert await ask(client) == Room.model_validate(GOOD)
    assert sleeps.delays == [1.0]


async def test_a_server_that_keeps_stalling_is_retry_later(
    fake: FakeOpenAI, http: httpx.AsyncClient, sleeps: Sleeps
) -> None:
    fake.script([stall(30), stall(30)])
    with pytest.raises(RetryLater) as caught:
        await ask(client_for(fake, http, sleeps, timeout=0.2, retry_attempts=2))
    assert caught.value.code == "llm_unavailable"
    assert "no answer within 0.2 s" in caught.value.message
    assert len(fake.requests) == 2


async def test_an_unreachable_server_is_retry_later(
    http: httpx.AsyncClient, sleeps: Sleeps
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = ChatCompletions(
        http, base_url=f"http://127.0.0.1:{port}", model="m", retry_attempts=2, sleep=sleeps
    )
    with pytest.raises(RetryLater) as caught:
        await ask(client)
    assert caught.value.code == "llm_unavailable"
    assert "ConnectError" in caught.value.message
    assert sleeps.delays == [1.0]


async def test_a_non_json_error_page_is_reported(
    fake: FakeOpenAI, http: httpx.AsyncClient, sleeps: Sleeps
) -> None:
    page = "<html><body><h1>502 Bad Gateway</h1></body></html>"
    fake.script([Reply(status=502, text=page)] * 2)
    with pytest.raises(RetryLater) as caught:
        await ask(client_for(fake, http, sleeps, retry_attempts=2))
    assert "HTTP 502: <html><body><h1>502 Bad Gateway</h1>" in caught.value.message


# --------------------------------------------------------------------------- modes and settings


async def test_without_a_key_no_authorization_header_is_sent(
    http: httpx.AsyncClient, sleeps: Sleeps
) -> None:
    async with FakeOpenAI() as local:
        local.script([answer(GOOD)])
        await ask(client_for(local, http, sleeps, api_key=None))
        assert "authorization" not in local.requests[0].headers


async def test_json_object_mode_sends_the_schema_beside_the_type(
    fake: FakeOpenAI, http: httpx.AsyncClient, sleeps: Sleeps
) -> None:
    settings = LLMSettings(
        default_provider="openai",
        base_url=fake.base_url,
        api_key=KEY,
        model="local-llama",
        json_mode="json_object",
    )
    fake.script([answer(GOOD)])
    client = ChatCompletions.from_settings(settings, http, sleep=sleeps)
    assert await ask(client) == Room.model_validate(GOOD)
    body = fake.requests[0].body
    assert body["model"] == "local-llama"
    assert body["response_format"] == {"type": "json_object", "schema": strict_schema(Room)}
    assert "JSON" in body["messages"][0]["content"]
    assert "room_type:" in body["messages"][0]["content"]


async def test_from_settings_creates_and_closes_its_own_http_client(fake: FakeOpenAI) -> None:
    settings = LLMSettings(base_url=fake.base_url, api_key=KEY, timeout=5, retry_attempts=1)
    fake.script([server_error()])
    async with ChatCompletions.from_settings(settings) as client:
        assert client.timeout == 5
        with pytest.raises(RetryLater):
            await ask(client)
    assert client.http.is_closed
    assert len(fake.requests) == 1


# --------------------------------------------------------------------------- the understander


async def test_the_understander_reports_an_llm_answer(
    fake: FakeOpenAI, http: httpx.AsyncClient, sleeps: Sleeps
) -> None:
    fake.script([answer(GOOD)])
    understander = LLMUnderstander(
        client_for(fake, http, sleeps), Room, instructions="Read the room.", fallback=rules
    )
    room = await understander.understand("a bedroom", seed=3)
    assert room == Room.model_validate(GOOD)
    assert understander.last_source == "llm"
    body = fake.requests[0].body
    assert body["seed"] == 3
    assert body["response_format"]["json_schema"]["name"] == "Room"
    assert body["messages"][0]["content"].startswith("Read the room.\n")


@pytest.mark.parametrize(
    ("replies", "code"),
    [
        ([refusal()], "llm_refused"),
        ([server_error(), server_error()], "llm_unavailable"),
    ],
    ids=["permanent", "retry-later"],
)
async def test_the_understander_falls_back_to_the_rules(
    fake: FakeOpenAI,
    http: httpx.AsyncClient,
    sleeps: Sleeps,
    replies: list[Reply],
    code: str,
) -> None:
    fake.script(replies)
    understander = LLMUnderstander(
        client_for(fake, http, sleeps, retry_attempts=2),
        Room,
        instructions="Read the room.",
        fallback=rules,
    )
    result = await understander.understand_with_source("an office with a desk")
    assert result.source == "fallback"
    assert result.value == rules("an office with a desk")
    assert result.reason is not None and result.reason.startswith(f"{code}: ")

    fake.script(replies)
    assert await understander.understand("an office with a lamp") == rules("a lamp")
    assert understander.last_source == "fallback"


async def test_the_understander_without_a_fallback_raises(
    fake: FakeOpenAI, http: httpx.AsyncClient, sleeps: Sleeps
) -> None:
    fake.script([content_filtered()])
    understander = LLMUnderstander(
        client_for(fake, http, sleeps), Room, instructions="Read the room.", fallback=None
    )
    with pytest.raises(Permanent) as caught:
        await understander.understand("a kitchen")
    assert caught.value.code == "llm_content_filter"
    assert understander.last_source is None
