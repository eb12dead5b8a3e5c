"""The SSE feeds' folding of events and the webhooks' signing, address checks and retries,
without a server."""

from __future__ import annotations

import ipaddress
import json
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pydantic import SecretStr, ValidationError

from services.gateway.events import (
    SceneTrack,
    Tracks,
    from_progress,
    from_stream,
    last_event_id,
    scene_filters,
)
from services.gateway.projection import ErrorView, SceneView, Status
from services.gateway.webhooks import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    DestinationRefused,
    NotifyingProjection,
    WebhookSender,
    delay_before,
    destination,
    is_public,
    payload,
    pinned,
    sign,
    verify,
)
from services.watch_command import describe, gateway_url, parse_sse
from shared.config import WebhookSettings, load_settings
from shared.contract import (
    ArtifactRef,
    ImagesReady,
    LayoutReady,
    MeshReady,
    ObjectProgress,
    SceneCancelled,
    SceneFailed,
    SceneOptions,
    SceneReady,
    SceneReplayed,
    SceneRequested,
    Subject,
    encode,
    subject,
)
from shared.layout import Layout, PlacedObject, Room

SCENE = "s1"
REF = ArtifactRef(uri="file:///x", sha256="a" * 64, size=3, media_type="model/gltf-binary")


def layout(count: int) -> Layout:
    room = Room(type="office", polygon=[[0, 0], [0, 4], [4, 4], [4, 0]], height=2.7)
    objects = [
        PlacedObject(
            id=f"chair-{i}",
            category="chair",
            description="a chair",
            size=[0.5, 0.9, 0.5],
            position=[1.0 + i, 0, 1.0],
        )
        for i in range(count)
    ]
    return Layout(room=room, objects=objects)


def image(i: int, attempt: int = 1) -> ImagesReady:
    obj = layout(2).objects[i]
    return ImagesReady(
        scene_id=SCENE, object_id=obj.id, object=obj, image=REF, object_count=2, attempt=attempt
    )


def mesh(i: int, attempt: int = 1) -> MeshReady:
    return MeshReady(
        scene_id=SCENE, object_id=f"chair-{i}", mesh=REF, object_count=2, attempt=attempt
    )


def test_a_track_counts_as_the_projection_does() -> None:
    track = SceneTrack(SCENE)
    track.apply(SceneRequested(scene_id=SCENE, prompt="two chairs"))
    assert (track.status, track.progress, track.stages["planner"]) == (
        Status.IN_PROGRESS,
        5,
        Status.IN_PROGRESS,
    )
    track.apply(LayoutReady(scene_id=SCENE, prompt="two chairs", layout=layout(2)))
    assert (track.progress, track.object_count, track.stages["imagegen"]) == (
        15,
        2,
        Status.IN_PROGRESS,
    )
    track.apply(image(0))
    track.apply(image(1))
    assert (track.progress, track.stages["imagegen"], track.stages["meshgen"]) == (
        55,
        Status.SUCCEEDED,
        Status.IN_PROGRESS,
    )
    track.apply(mesh(0))
    track.apply(mesh(1))
    assert (track.progress, track.stages["meshgen"], track.stages["assembly"]) == (
        95,
        Status.SUCCEEDED,
        Status.IN_PROGRESS,
    )
    track.apply(SceneReady(scene_id=SCENE, artifacts={"scene.glb": REF}, object_count=2))
    assert (track.status, track.progress) == (Status.SUCCEEDED, 100)
    assert set(track.stages.values()) == {Status.SUCCEEDED}


def test_terminal_states_stick_and_a_replay_starts_over() -> None:
    track = SceneTrack(SCENE)
    track.apply(LayoutReady(scene_id=SCENE, prompt="p", layout=layout(2)))
    assert track.apply(SceneFailed(scene_id=SCENE, stage="meshgen", code="x", message="broken"))
    assert (track.status, track.stages["meshgen"]) == (Status.FAILED, Status.FAILED)
    # Late news of the ended attempt changes nothing and is not shown.
    assert not track.apply(mesh(0))
    assert not track.apply(SceneReady(scene_id=SCENE, artifacts={}, object_count=2))
    assert track.status == Status.FAILED

    assert track.apply(SceneReplayed(scene_id=SCENE, attempt=2, from_stage="meshgen"))
    assert (track.attempt, track.status, track.stages["meshgen"]) == (
        2,
        Status.IN_PROGRESS,
        Status.IN_PROGRESS,
    )
    assert track.stages["planner"] == Status.SUCCEEDED and track.object_count == 2
    assert not track.apply(mesh(0, attempt=1)), "an event of the old attempt is ignored"
    track.apply(mesh(0, attempt=2))
    track.apply(mesh(1, attempt=2))
    assert track.stages["meshgen"] == Status.SUCCEEDED


def test_a_cancel_marks_the_unfinished_stages() -> None:
    track = SceneTrack(SCENE)
    track.apply(LayoutReady(scene_id=SCENE, prompt="p", layout=layout(2)))
    track.apply(SceneCancelled(scene_id=SCENE, reason="wrong room"))
    assert track.status == Status.CANCELLED
    assert track.stages == {
        "planner": Status.SUCCEEDED,
        "imagegen": Status.CANCELLED,
        "meshgen": Status.CANCELLED,
        "assembly": Status.CANCELLED,
    }


def test_stream_messages_carry_the_sequence_and_the_scene_figures() -> None:
    tracks = Tracks()
    name = subject(Subject.SCENE_READY, SCENE)
    ready = SceneReady(scene_id=SCENE, artifacts={"scene.glb": REF}, object_count=0)
    out = from_stream(tracks, name, encode(ready), 42, SCENE)
    assert out is not None and out.terminal and out.seq == 42
    sse = out.sse()
    assert (sse.id, sse.event) == ("42", "ready")
    body = json.loads(str(sse.data))
    assert body["artifacts"] == {"scene.glb": f"/v1/scenes/{SCENE}/artifacts/scene.glb"}
    assert (body["status"], body["progress"], body["stage"]) == ("SUCCEEDED", 100, "assembly")
    # Another scene's event, a work item and bytes that are no event are not shown.
    assert from_stream(tracks, subject(Subject.SCENE_READY, "s2"), encode(ready), 43, SCENE) is None
    assert from_stream(tracks, f"{Subject.IMAGE_WORK}.{SCENE}.o1", b"{}", 44, SCENE) is None
    assert from_stream(tracks, name, b"not json", 45, SCENE) is None


def test_progress_messages_have_no_id_and_stop_after_the_end() -> None:
    tracks = Tracks()
    report = ObjectProgress(scene_id=SCENE, object_id="chair-0", stage="meshgen", fraction=0.426)
    out = from_progress(tracks, report.model_dump_json().encode())
    assert out is not None and out.seq is None and out.sse().id is None
    assert (out.data["percent"], out.data["object_id"]) == (42, "chair-0")
    assert from_progress(tracks, b"{") is None
    failed = SceneFailed(scene_id=SCENE, stage="meshgen", code="x", message="m")
    from_stream(tracks, subject(Subject.SCENE_FAILED, SCENE), encode(failed), 1)
    assert from_progress(tracks, report.model_dump_json().encode()) is None


def test_last_event_id_is_a_stream_sequence() -> None:
    assert last_event_id(None) == 0 and last_event_id(" ") == 0
    assert last_event_id("17") == 17
    for bad in ("-1", "abc", "1.5", str(2**63)):
        with pytest.raises(ValueError, match="Last-Event-ID"):
            last_event_id(bad)
    assert scene_filters("s9") == ["*.*.s9", "*.*.s9.*"]


# -- webhooks ----------------------------------------------------------------------------


def test_a_signature_covers_the_timestamp_and_the_body() -> None:
    secret, body = b"k" * 32, b'{"scene_id":"s1"}'
    now = int(time.time())
    signature = sign(secret, now, body)
    assert signature.startswith("v1=") and len(signature) == 3 + 64
    assert verify(secret, str(now), body, signature)
    assert not verify(secret, str(now), body + b" ", signature)
    assert not verify(secret, str(now + 1), body, signature)
    assert not verify(b"other", str(now), body, signature)
    old = now - 3600
    assert not verify(secret, str(old), body, sign(secret, old, body)), "too old"


def test_callback_urls_are_checked_in_the_request() -> None:
    assert SceneOptions(callback_url="https://example.com/hook").callback_url
    for bad in ("ftp://example.com/x", "example.com/hook", "https://", "http://u:p@example.com/"):
        with pytest.raises(ValidationError, match="callback_url"):
            SceneOptions(callback_url=bad)


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.215.14", True),
        ("2606:4700::6810:85e5", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("::1", False),
        ("fd00::1", False),
        ("fe80::1", False),
        ("::ffff:127.0.0.1", False),
        ("224.0.0.1", False),
    ],
)
def test_only_public_addresses_are_called(address: str, public: bool) -> None:
    assert is_public(ipaddress.ip_address(address)) is public


async def test_every_address_of_the_host_must_be_public() -> None:
    async def two(host: str, port: int) -> list[str]:
        return ["93.184.215.14", "10.0.0.7"]

    with pytest.raises(DestinationRefused, match=r"10\.0\.0\.7"):
        await destination("https://hooks.example/x", allow_private=False, resolver=two)
    chosen = await destination("https://hooks.example/x", allow_private=True, resolver=two)
    assert str(chosen) == "93.184.215.14"
    with pytest.raises(DestinationRefused, match="non-public"):
        await destination("http://127.0.0.1:9/x", allow_private=False, resolver=two)

    async def none(host: str, port: int) -> list[str]:
        raise OSError("Name or service not known")

    with pytest.raises(DestinationRefused, match="does not resolve"):
        await destination("https://nowhere.invalid/", allow_private=False, resolver=none)


def test_the_request_goes_to_the_checked_address_under_the_original_name() -> None:
    url, headers, extensions = pinned(
        "https://hooks.example:8443/in?x=1", ipaddress.ip_address("93.184.215.14")
    )
    assert url == "https://93.184.215.14:8443/in?x=1"
    assert headers == {"Host": "hooks.example:8443"}
    assert extensions == {"sni_hostname": "hooks.example"}
    url, headers, extensions = pinned("http://h.example", ipaddress.ip_address("2606:4700::1"))
    assert (url, headers, extensions) == ("http://[2606:4700::1]/", {"Host": "h.example"}, {})


def test_backoff_doubles_up_to_its_limit() -> None:
    assert [delay_before(n, 1.0, 10.0) for n in range(2, 8)] == [1, 2, 4, 8, 10, 10]


def view(status: Status = Status.SUCCEEDED, attempt: int = 1) -> SceneView:
    now = datetime.now(UTC)
    error = None
    if status == Status.FAILED:
        error = ErrorView(stage="meshgen", object_id="o1", code="x", message="m", retryable=False)
    return SceneView.model_validate(
        {
            "scene_id": SCENE,
            "prompt": "two chairs",
            "requested_by": None,
            "status": status,
            "progress": 100,
            "stages": {s: "SUCCEEDED" for s in ("planner", "imagegen", "meshgen", "assembly")},
            "object_count": 2,
            "created_at": now,
            "updated_at": now,
            "attempt": attempt,
            "objects": [],
            "error": error,
            "artifacts": {"scene.glb": REF},
        }
    )


def test_the_body_names_the_outcome_and_links() -> None:
    body = payload(view(Status.FAILED, attempt=2), "https://holo.example/")
    assert (body["type"], body["status"], body["attempt"]) == ("scene.failed", "FAILED", 2)
    assert body["error"]["code"] == "x"
    assert body["artifacts"]["scene.glb"] == (
        f"https://holo.example/v1/scenes/{SCENE}/artifacts/scene.glb"
    )


class MemoryClaims:
    def __init__(self) -> None:
        self.keys: set[str] = set()

    async def claim(self, key: str) -> bool:
        if key in self.keys:
            return False
        self.keys.add(key)
        return True


async def public(host: str, port: int) -> list[str]:
    return ["93.184.215.14"]


def sender(
    handler: httpx.MockTransport, claims: MemoryClaims, sleeps: list[float], **settings: object
) -> WebhookSender:
    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    config = WebhookSettings(secret=SecretStr("s" * 32), first_delay_s=0.5, **settings)  # type: ignore[arg-type]
    return WebhookSender(
        config, claims, httpx.AsyncClient(transport=handler), resolver=public, sleep=sleep
    )


async def test_a_failing_receiver_is_retried_with_backoff_then_gets_it_once() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == 1:
            raise httpx.ConnectError("refused")
        if len(seen) == 2:
            return httpx.Response(503, headers={"Retry-After": "3"})
        return httpx.Response(204)

    claims, sleeps = MemoryClaims(), []
    webhooks = sender(httpx.MockTransport(handle), claims, sleeps)
    task = await webhooks.scene_ended(view(), "https://hooks.example/in")
    assert task is not None and await task is True
    assert sleeps == [0.5, 3.0], "doubling backoff, Retry-After honoured"
    last = seen[-1]
    assert last.url.host == "93.184.215.14" and last.headers["Host"] == "hooks.example"
    assert verify(
        b"s" * 32, last.headers[TIMESTAMP_HEADER], last.content, last.headers[SIGNATURE_HEADER]
    )
    assert last.headers[DELIVERY_HEADER] == f"{SCENE}.a1"
    # The same attempt again (another replica, a late event): claimed already.
    assert await webhooks.scene_ended(view(), "https://hooks.example/in") is None
    assert len(seen) == 3


async def test_a_refusal_is_not_retried_and_the_last_attempt_gives_up() -> None:
    calls = 0

    def refuse(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(410)

    sleeps: list[float] = []
    webhooks = sender(httpx.MockTransport(refuse), MemoryClaims(), sleeps)
    task = await webhooks.scene_ended(view(), "https://hooks.example/in")
    assert task is not None and await task is False and calls == 1 and sleeps == []

    def broken(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500)

    webhooks = sender(httpx.MockTransport(broken), MemoryClaims(), sleeps, attempts=3)
    task = await webhooks.scene_ended(view(), "https://hooks.example/in")
    assert task is not None and await task is False and sleeps == [0.5, 1.0]


async def test_no_secret_no_webhook() -> None:
    def never(request: httpx.Request) -> httpx.Response:
        raise AssertionError("nothing is sent without a secret")

    webhooks = WebhookSender(
        WebhookSettings(), MemoryClaims(), httpx.AsyncClient(transport=httpx.MockTransport(never))
    )
    assert await webhooks.scene_ended(view(), "https://hooks.example/in") is None


# -- holodeck watch ------------------------------------------------------------------------


def test_the_watch_command_reads_the_event_stream_format() -> None:
    lines = [
        ": ping",
        "id: 7",
        "event: layout",
        'data: {"a":',
        "data: 1}",
        "",
        "",
        "event: progress",
        "data:{}",
        "",
    ]
    messages = list(parse_sse(lines))
    assert [(m.event, m.id, "\n".join(m.data)) for m in messages] == [
        ("layout", "7", '{"a":\n1}'),
        ("progress", None, "{}"),
    ]


def test_the_watch_command_finds_the_configured_gateway() -> None:
    settings = load_settings(gateway={"host": "0.0.0.0", "port": 9000})
    assert gateway_url(settings) == "http://127.0.0.1:9000"
    assert gateway_url(load_settings(gateway={"host": "::1"})) == "http://[::1]:8080"


def test_the_watch_command_describes_each_event() -> None:
    figures = {"objects": {"total": 2, "images": 1, "meshes": 0}, "status": "IN_PROGRESS"}
    line = describe("image", {**figures, "progress": 35, "object_id": "chair-0", "cached": True})
    assert line == "image      35 %  IN_PROGRESS  chair-0 (1/2) cached"
    failed = describe(
        "failed",
        {
            **figures,
            "status": "FAILED",
            "progress": 35,
            "attempt": 2,
            "error": {"stage": "meshgen", "object_id": "o1", "code": "x", "message": "broke"},
        },
    )
    assert failed == "failed     35 %  FAILED (attempt 2)  meshgen/o1: x: broke"
    assert describe("progress", {"stage": "meshgen", "object_id": "o1", "percent": 5}) == (
        "meshgen   o1   5 %"
    )


class ProjectionShowing:
    """A projection that applies nothing and shows one scene as it is told to."""

    def __init__(self, shown: SceneView) -> None:
        self.shown = shown
        self.applied: list[int] = []

    def last_seq(self) -> int:
        return self.applied[-1] if self.applied else 0

    async def apply_many(self, events: Any) -> None:
        self.applied.extend(seq for _, _, seq, _ in events)

    async def get_scene(self, scene_id: str) -> SceneView | None:
        return self.shown if scene_id == self.shown.scene_id else None


def stored(event: Any, name: str, seq: int) -> tuple[str, bytes, int, datetime]:
    return (name, encode(event), seq, datetime.now(UTC))


async def test_the_projector_sends_the_webhook_of_the_attempt_the_projection_ended() -> None:
    sent: list[dict[str, Any]] = []

    def take(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(200)

    webhooks = sender(httpx.MockTransport(take), MemoryClaims(), [])
    projection = ProjectionShowing(view(Status.SUCCEEDED, attempt=2))
    notifying = NotifyingProjection(projection, webhooks, js=None, stream="S")  # type: ignore[arg-type]
    request = SceneRequested(
        scene_id=SCENE, prompt="two chairs", options=SceneOptions(callback_url="https://h.example/")
    )
    late = SceneReady(scene_id=SCENE, artifacts={}, object_count=2, attempt=1)
    ready = SceneReady(scene_id=SCENE, artifacts={}, object_count=2, attempt=2)
    await notifying.apply_many(
        [
            stored(request, subject(Subject.SCENE_REQUESTED, SCENE), 1),
            # A late outcome of the superseded attempt: the projection shows attempt 2.
            stored(late, subject(Subject.SCENE_READY, SCENE), 2),
            stored(ready, subject(Subject.SCENE_READY, SCENE), 3),
        ]
    )
    assert projection.applied == [1, 2, 3]
    await webhooks.flush(timeout=10)
    assert [(b["type"], b["attempt"]) for b in sent] == [("scene.succeeded", 2)]
