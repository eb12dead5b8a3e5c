"""``holodeck watch SCENE_ID``: follow a scene live through the gateway's event stream.

It reads ``GET /v1/scenes/{id}/events`` (Server-Sent Events) over HTTP with httpx, from
the gateway at ``--url`` (by default the configured ``gateway.host`` and ``gateway.port``),
so it works from any machine that can reach the gateway, with an API key if the gateway
asks for one, and needs no access to NATS. A dropped connection is read again from the
last event id. It prints one line per event and exits 0 when the scene succeeds, 1 when
it fails or is cancelled.

httpx is imported by :func:`watch`, not with the module: every command of the CLI
loads this module, and only this one uses it (see :mod:`services.cli`).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from shared.errors import BadInput, HolodeckError, Permanent, RetryLater

if TYPE_CHECKING:
    import httpx

    from shared.config import Settings

T = TypeVar("T")
Runner = Callable[[Coroutine[Any, Any, T]], T]

# A dropped stream is opened again after this long, at most this many times in a row.
RECONNECT_S = 1.0
RECONNECTS = 30
# No byte (not even a heartbeat) for this long: the connection is taken as dead.
READ_TIMEOUT_S = 60.0
ENDINGS = {"ready": "SUCCEEDED", "failed": "FAILED", "cancelled": "CANCELLED"}


@dataclass
class Message:
    """One Server-Sent Event: its type, its data (joined lines) and its id, if any."""

    event: str = "message"
    data: list[str] = field(default_factory=list)
    id: str | None = None


def parse_sse(lines: Iterable[str]) -> Iterable[Message]:
    """Messages from the lines of an event stream (comment lines are heartbeats)."""
    message = Message()
    for line in lines:
        if line == "":
            if message.data:
                yield message
            message = Message()
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            message.data.append(value)
        elif name == "event":
            message.event = value
        elif name == "id":
            message.id = value


async def stream_messages(
    client: httpx.AsyncClient, path: str, headers: dict[str, str], last_id: str | None = None
) -> AsyncIterator[Message]:
    """The messages of one connection to ``path``, continuing after ``last_id``."""
    sent = dict(headers)
    if last_id:
        sent["Last-Event-ID"] = last_id
    async with client.stream("GET", path, headers=sent) as response:
        if response.status_code == 204:
            raise StreamOver(path)
        if response.status_code != 200:
            await response.aread()
            raise _http_error(response)
        pending: list[str] = []
        async for line in response.aiter_lines():
            pending.append(line)
            if line == "":
                for message in parse_sse(pending):
                    yield message
                pending = []


class StreamOver(Exception):
    """The gateway has nothing more after the last event id: the scene had ended."""


def _http_error(response: httpx.Response) -> HolodeckError:
    try:
        error = response.json()["error"]
        text = f"{error['code']}: {error['message']}"
    except (ValueError, KeyError, TypeError):
        text = response.text[:200] or response.reason_phrase
    message = f"the gateway answered {response.status_code}: {text}"
    if response.status_code in (401, 403):
        return BadInput(message + " (give a key with --api-key or HOLODECK_API_KEY)")
    if response.status_code == 404:
        return BadInput(message)
    if response.status_code in (429, 502, 503, 504):
        return RetryLater(message)
    return Permanent(message)


def describe(kind: str, data: dict[str, Any]) -> str:
    """One line for a message, as the command prints it."""
    if kind == "progress":
        return f"{data['stage']:<9} {data['object_id']} {data['percent']:>3} %"
    head = f"{kind:<9} {data.get('progress', 0):>3} %  {data.get('status', '')}"
    if data.get("attempt", 1) > 1:
        head += f" (attempt {data['attempt']})"
    detail = ""
    if kind == "requested":
        detail = data.get("prompt", "")
    elif kind == "layout":
        detail = f"{data['objects']['total']} objects planned"
    elif kind in ("image", "mesh"):
        objects = data["objects"]
        done = objects["images" if kind == "image" else "meshes"]
        detail = f"{data.get('object_id')} ({done}/{objects['total']})"
        if data.get("cached"):
            detail += " cached"
    elif kind == "ready":
        detail = " ".join(sorted(data.get("artifacts", {})))
    elif kind == "failed":
        error = data.get("error") or {}
        where = "/".join(p for p in (error.get("stage"), error.get("object_id")) if p)
        detail = f"{where}: {error.get('code')}: {error.get('message')}"
    elif kind == "cancelled":
        detail = data.get("reason", "")
    elif kind == "replayed":
        detail = f"from {data.get('from_stage')}"
    return f"{head}  {detail}".rstrip()


async def watch(
    base_url: str,
    scene_id: str,
    *,
    api_key: str | None = None,
    show: Callable[[str, dict[str, Any]], None],
    progress: bool = True,
    client: httpx.AsyncClient | None = None,
) -> str:
    """Follow one scene to its end; return SUCCEEDED, FAILED or CANCELLED."""
    import httpx

    headers = {"Accept": "text/event-stream"}
    if api_key:
        headers["X-API-Key"] = api_key
    timeout = httpx.Timeout(10.0, read=READ_TIMEOUT_S)
    own = client is None
    client = client or httpx.AsyncClient(base_url=base_url, timeout=timeout)
    path = f"/v1/scenes/{scene_id}/events"
    last_id: str | None = None
    outcome: str | None = None
    failures = 0
    try:
        while outcome is None:
            try:
                async for message in stream_messages(client, path, headers, last_id):
                    failures = 0
                    last_id = message.id or last_id
                    data = json.loads("\n".join(message.data))
                    if message.event != "progress" or progress:
                        show(message.event, data)
                    if message.event in ENDINGS and data.get("status") == ENDINGS[message.event]:
                        outcome = ENDINGS[message.event]
                if outcome is not None:
                    break
            except StreamOver:
                # Ended while the connection was down: the scene says how.
                scene = await client.get(f"/v1/scenes/{scene_id}", headers=headers)
                if scene.status_code != 200:
                    raise _http_error(scene) from None
                status = str(scene.json()["status"])
                if status in ENDINGS.values():
                    return status
            except (httpx.TransportError, RetryLater) as exc:
                failures += 1
                if failures > RECONNECTS:
                    raise RetryLater(
                        f"the gateway at {base_url} cannot be reached: {exc}"
                    ) from None
            await asyncio.sleep(RECONNECT_S)
    finally:
        if own:
            await client.aclose()
    return outcome


def gateway_url(settings: Settings) -> str:
    """The configured gateway's URL; a wildcard bind address is reached on loopback."""
    host = settings.gateway.host
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.gateway.port}"


def register(app: typer.Typer, run: Runner[Any], load: Callable[..., Settings]) -> None:
    """Add ``watch`` to ``app``."""

    @app.command("watch")
    def watch_command(
        scene_id: Annotated[str, typer.Argument(help="The scene to follow.")],
        url: Annotated[
            str | None,
            typer.Option(help="The gateway (default: gateway.host and gateway.port)."),
        ] = None,
        api_key: Annotated[
            str | None,
            typer.Option(envvar="HOLODECK_API_KEY", help="Sent as X-API-Key.", show_default=False),
        ] = None,
        progress: Annotated[
            bool, typer.Option(help="Print per-object progress as it is reported.")
        ] = True,
        as_json: Annotated[
            bool, typer.Option("--json", help="Each event as one JSON line.")
        ] = False,
    ) -> None:
        """Follow a scene live through the gateway's event stream until it ends: every
        stage and object as it finishes. Exit 0 when it succeeds, 1 otherwise."""
        settings = load(quiet=True)
        base = (url or gateway_url(settings)).rstrip("/")
        started = time.monotonic()

        def show(kind: str, data: dict[str, Any]) -> None:
            if as_json:
                print(json.dumps({"event": kind, **data}), flush=True)
            else:
                print(f"{time.monotonic() - started:7.2f}s  {describe(kind, data)}", flush=True)

        outcome = run(watch(base, scene_id, api_key=api_key, show=show, progress=progress))
        if outcome != "SUCCEEDED":
            raise typer.Exit(1)
