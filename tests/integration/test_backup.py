"""Backup and restore against real nats-servers: scenes built, backed up, restored into a
fresh server and served again; tampering, a wrong password, incremental backups and a
non-empty target."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
import typer
from typer.testing import CliRunner

from services.backup_commands import register
from services.gateway.api import create_app
from services.gateway.projection import Projection
from services.gateway.projector import rebuild
from services.gateway.requests import JetStreamRequests, KeyValueKeys, SceneRequests
from services.runtime import WORKERS, open_store
from services.stack import request_scene, running_stack
from shared import backup as backup_module
from shared.backup import (
    BackupInvalid,
    Since,
    WrongPassword,
    make_backup,
    restore_backup,
    verify_backup,
)
from shared.bus import EmbeddedNats, provision
from shared.cache import open_bucket
from shared.config import LoggingSettings, Settings, load_settings
from shared.contract import (
    SCENE_STATE_BUCKET,
    STORED_AT_HEADER,
    SceneRequested,
    Subject,
    encode,
    msg_id,
    subject,
)
from shared.errors import BadInput
from shared.logs import configure_logging

PASSWORD = "correct horse battery staple"
TIMEOUT = 60.0
PROMPTS = (
    "a small kitchen with a table and two chairs",
    "a bedroom with a double bed and a nightstand",
)


@pytest.fixture
async def fresh_server(tmp_path: Path) -> AsyncIterator[str]:
    """A second private nats-server: the wiped deployment a backup is restored into."""
    server = EmbeddedNats(store_dir=tmp_path / "nats-fresh")
    await server.start()
    try:
        yield server.url
    finally:
        await server.stop()


def deployment(root: Path, store: str = "nats") -> Settings:
    return load_settings(
        storage={"workspace": root, "artifact_store": store},
        nats={"ack_wait_s": 2, "retry_base_delay_s": 0.05, "retry_max_delay_s": 0.5},
        logging={"level": "WARNING"},
    )


def cli() -> typer.Typer:
    app = typer.Typer()

    @app.command()
    def version() -> None:  # a second command, so that the group keeps its names
        print("test")

    register(app)
    return app


def invoke(monkeypatch: pytest.MonkeyPatch, settings: Settings, url: str, *args: str) -> Any:
    monkeypatch.setenv("NATS_URL", url)
    monkeypatch.setenv("HOLODECK_WORKSPACE", str(settings.storage.root))
    monkeypatch.setenv("HOLODECK_ARTIFACT_STORE", settings.storage.artifact_store)
    monkeypatch.setenv("BACKUP_PASSWORD", PASSWORD)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-value")  # kept redacted
    quiet = [] if args[:2] == ("backup", "verify") else ["--quiet"]
    try:
        return CliRunner().invoke(cli(), [*args, *quiet])
    finally:
        # The command set logging up on the runner's captured stderr, closed by now.
        configure_logging(LoggingSettings(level="WARNING"))


async def build_scenes(settings: Settings, url: str) -> list[str]:
    """Two scenes through the in-process stack, and a third requested without an id."""
    ids = []
    async with running_stack(settings, WORKERS, url=url) as stack:
        for seed, prompt in enumerate(PROMPTS):
            watch = await request_scene(stack.nc, prompt, seed=seed, timeout=TIMEOUT)
            assert watch.ready is not None, watch.failed
            ids.append(watch.scene_id)
        ready = asyncio.get_running_loop().create_future()

        async def on_ready(msg: Any) -> None:
            if not ready.done():
                ready.set_result(msg.subject.rsplit(".", 1)[1])

        sub = await stack.nc.subscribe(f"{Subject.SCENE_READY}.*", cb=on_ready)
        await stack.nc.jetstream().publish(
            Subject.SCENE_REQUESTED, json.dumps({"prompt": "a study with a desk"}).encode()
        )
        ids.append(await asyncio.wait_for(ready, TIMEOUT))
        await sub.unsubscribe()
    return ids


async def snapshot(settings: Settings, url: str, rebuilt: bool) -> dict[str, Any]:
    """Each scene's status and artifact digests as the projection has them, every
    artifact read back from the store, and the gateway's answer for each scene file."""
    nc = await nats.connect(url)
    js = nc.jetstream()
    projection = await Projection(settings.database_url).open()
    try:
        if not rebuilt:
            await projection.reset()
            await rebuild(js, settings.nats.stream, projection)
        page = await projection.list_scenes(page=1, page_size=100)
        store = await open_store(settings, js)
        app = create_app(
            projection,
            store,
            SceneRequests(JetStreamRequests(js, settings.nats.stream), KeyValueKeys(js, 60)),
        )
        scenes: dict[str, Any] = {}
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            for item in page.items:
                view = await projection.get_scene(item.scene_id)
                assert view is not None
                digests = {name: ref.sha256 for name, ref in view.artifacts.items()}
                for obj in view.objects:
                    for ref in (obj.image, obj.mesh):
                        if ref is not None:
                            digests[f"{obj.object_id}:{ref.media_type}"] = ref.sha256
                for sha in digests.values():
                    assert hashlib.sha256(await store.get(sha)).hexdigest() == sha
                served = await client.get(f"/v1/scenes/{item.scene_id}/artifacts/scene.glb")
                assert served.status_code == 200, served.text
                assert hashlib.sha256(served.content).hexdigest() == digests["scene.glb"]
                scenes[item.scene_id] = {
                    "status": view.status,
                    "artifacts": digests,
                    # A restore keeps when things happened, not when they were restored.
                    "times": (view.created_at, view.updated_at, view.last_event_at),
                    "attempts": [(a.started_at, a.ended_at) for a in view.attempts],
                }
        waiting = {
            c.name: c.num_pending + c.num_ack_pending
            for c in await js.consumers_info(settings.nats.stream)
            if c.config.durable_name
        }
        return {"scenes": scenes, "waiting": waiting}
    finally:
        await projection.close()
        await nc.close()


@pytest.mark.parametrize("store", ["nats", "local"])
def test_backup_then_restore_into_a_fresh_server_gives_the_same_scenes(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    nats_server: str,
    fresh_server: str,
    store: str,
) -> None:
    source = deployment(tmp_path / "source", store)
    target = deployment(tmp_path / "target", store)
    ids = asyncio.run(build_scenes(source, nats_server))
    before = asyncio.run(snapshot(source, nats_server, rebuilt=False))
    assert set(before["scenes"]) == set(ids)
    assert all(s["status"] == "SUCCEEDED" for s in before["scenes"].values())

    file = tmp_path / "deployment.hbk"
    made = invoke(monkeypatch, source, nats_server, "backup", "--out", str(file))
    assert made.exit_code == 0, made.output
    checked = invoke(monkeypatch, source, nats_server, "backup", "verify", str(file), "--json")
    assert checked.exit_code == 0, checked.output
    summary = json.loads(checked.stdout)
    assert summary["kind"] == "full" and summary["streams"]["HOLODECK"] > 0
    assert summary["settings"]["llm"]["api_key"] == "***"
    assert summary["settings"]["storage"]["artifact_store"] == store
    if store == "nats":
        assert summary["objects"]["OBJ_holodeck-artifacts"]["checked"] > 0
    else:
        assert summary["local_artifacts"] > 0

    restored = invoke(monkeypatch, target, fresh_server, "restore", str(file))
    assert restored.exit_code == 0, restored.output
    assert "requests on their derived scene's subject" in restored.stderr
    after = asyncio.run(snapshot(target, fresh_server, rebuilt=True))
    assert after["scenes"] == before["scenes"]
    # Services started now would find nothing left to do.
    assert after["waiting"] == before["waiting"]
    assert not any(after["waiting"].values())

    again = invoke(monkeypatch, target, fresh_server, "restore", str(file))
    assert again.exit_code == 2
    lines = again.stderr.strip().splitlines()
    assert len(lines) == 1 and "not empty" in lines[0] and "--force" in lines[0]
    forced = invoke(monkeypatch, target, fresh_server, "restore", str(file), "--force")
    assert forced.exit_code == 0, forced.output
    assert "repeated message ids" not in forced.stderr
    assert asyncio.run(snapshot(target, fresh_server, rebuilt=True))["scenes"] == before["scenes"]


async def publish_events(js: Any, stream_settings: Settings, first: int, count: int) -> None:
    for n in range(first, first + count):
        scene_id = f"scene{n}"
        request = SceneRequested(scene_id=scene_id, prompt=f"room number {n}")
        await js.publish(
            subject(Subject.SCENE_REQUESTED, scene_id),
            encode(request),
            headers={"Nats-Msg-Id": msg_id("request", scene_id)},
        )


async def small_deployment(url: str, settings: Settings, count: int = 5) -> Any:
    nc = await nats.connect(url)
    js = nc.jetstream()
    await provision(js, settings.nats)
    kv = await open_bucket(js, SCENE_STATE_BUCKET)
    await kv.put("scene0", b'{"state": "SUCCEEDED"}')
    await publish_events(js, settings, 0, count)
    return nc


async def stream_messages(js: Any, stream: str) -> list[tuple[str, bytes, dict[str, str]]]:
    info = await js.stream_info(stream)
    found = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        msg = await js.get_msg(stream, seq=seq)
        found.append((msg.subject, msg.data, dict(msg.headers or {})))
    return found


async def test_a_tampered_byte_or_a_wrong_password_is_one_clear_error_and_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, nats_server: str, fresh_server: str
) -> None:
    settings = deployment(tmp_path / "ws")
    nc = await small_deployment(nats_server, settings)
    file = tmp_path / "small.hbk"
    try:
        await make_backup(nc.jetstream(), file, PASSWORD, settings)
    finally:
        await nc.close()
    assert verify_backup(file, PASSWORD).streams["HOLODECK"] == 5

    tampered = tmp_path / "tampered.hbk"
    data = bytearray(file.read_bytes())
    data[len(data) // 2] ^= 0x01
    tampered.write_bytes(bytes(data))
    with pytest.raises(BackupInvalid, match="fails authentication at frame 0"):
        verify_backup(tampered, PASSWORD)
    cut = tmp_path / "cut.hbk"
    cut.write_bytes(file.read_bytes()[:-40])
    with pytest.raises(BackupInvalid, match="truncated"):
        verify_backup(cut, PASSWORD)
    with pytest.raises(WrongPassword):
        verify_backup(file, "not the password")

    target = deployment(tmp_path / "target")
    monkeypatch.setenv("NATS_URL", fresh_server)
    monkeypatch.setenv("HOLODECK_WORKSPACE", str(target.storage.root))
    for bad, password, words, quiet in (
        (tampered, PASSWORD, "fails authentication", ["--quiet"]),
        (file, "not the password", "wrong BACKUP_PASSWORD", ["--quiet"]),
        # Without --quiet, stderr not being a terminal: no progress bar, no blank line.
        (tampered, PASSWORD, "fails authentication", []),
    ):
        monkeypatch.setenv("BACKUP_PASSWORD", password)
        result = await asyncio.to_thread(CliRunner().invoke, cli(), ["restore", str(bad), *quiet])
        configure_logging(LoggingSettings(level="WARNING"))
        assert result.exit_code == 1
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0]
    fresh = await nats.connect(fresh_server)
    try:
        assert [s.config.name async for s in _streams(fresh.jetstream())] == []
    finally:
        await fresh.close()
    assert not (target.storage.root / "gateway.db").exists()


async def _streams(js: Any) -> AsyncIterator[Any]:
    for info in await js.streams_info():
        yield info


async def test_frames_cannot_be_reordered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, nats_server: str
) -> None:
    monkeypatch.setattr(backup_module, "FRAME_BYTES", 256)
    settings = deployment(tmp_path / "ws")
    nc = await small_deployment(nats_server, settings, count=20)
    file = tmp_path / "frames.hbk"
    try:
        await make_backup(nc.jetstream(), file, PASSWORD, settings)
    finally:
        await nc.close()
    verify_backup(file, PASSWORD)
    data = file.read_bytes()
    header = backup_module._HEADER.size
    frame = backup_module._FRAME.size + 256 + backup_module.TAG_BYTES
    first, second = data[header : header + frame], data[header + frame : header + 2 * frame]
    swapped = data[:header] + second + first + data[header + 2 * frame :]
    (tmp_path / "swapped.hbk").write_bytes(swapped)
    with pytest.raises(BackupInvalid, match="frame 0"):
        verify_backup(tmp_path / "swapped.hbk", PASSWORD)
    dropped = data[:header] + data[header + frame :]
    (tmp_path / "dropped.hbk").write_bytes(dropped)
    with pytest.raises(BackupInvalid, match="frame 0"):
        verify_backup(tmp_path / "dropped.hbk", PASSWORD)


async def test_incremental_backup_holds_only_the_newer_messages_and_restores_on_its_base(
    tmp_path: Path, nats_server: str, fresh_server: str
) -> None:
    settings = deployment(tmp_path / "ws")
    nc = await small_deployment(nats_server, settings, count=5)
    js = nc.jetstream()
    try:
        full = tmp_path / "full.hbk"
        await make_backup(js, full, PASSWORD, settings)
        last = (await js.stream_info("HOLODECK")).state.last_seq
        await publish_events(js, settings, 5, 3)
        kv = await open_bucket(js, SCENE_STATE_BUCKET)
        await kv.put("scene6", b'{"state": "FAILED"}')
        by_seq = tmp_path / "since-seq.hbk"
        await make_backup(js, by_seq, PASSWORD, settings, since=Since(seq=last))
        later = await js.get_msg("HOLODECK", seq=last + 1)
        assert later.time is not None
        by_time = tmp_path / "since-time.hbk"
        await make_backup(js, by_time, PASSWORD, settings, since=Since(time=later.time))
        by_file = tmp_path / "since-file.hbk"
        await make_backup(js, by_file, PASSWORD, settings, since=Since.parse(str(full)))
        original = await stream_messages(js, "HOLODECK")
        info = await js.stream_info("HOLODECK")
        original_msgs = [
            await js.get_msg("HOLODECK", seq=seq)
            for seq in range(info.state.first_seq, info.state.last_seq + 1)
        ]
    finally:
        await nc.close()

    for file in (by_seq, by_time, by_file):
        summary = verify_backup(file, PASSWORD)
        assert summary.kind == "incremental"
        assert summary.streams["HOLODECK"] == 3
        assert summary.streams[f"KV_{SCENE_STATE_BUCKET}"] == 1

    target = await nats.connect(fresh_server)
    tjs = target.jetstream()
    try:
        with pytest.raises(backup_module.RestoreRefused, match="restore the backup it follows"):
            await restore_backup(tjs, by_seq, PASSWORD, settings)
        await restore_backup(tjs, full, PASSWORD, settings)
        # No planner ran on the source: its requests are still to do after the restore.
        todo = {c.name: c.num_pending for c in await tjs.consumers_info("HOLODECK")}
        assert todo["planner-by-id"] == 5
        assert sum(todo.values()) == 5
        report = await restore_backup(tjs, by_seq, PASSWORD, settings)
        assert report.streams["HOLODECK"] == 3
        restored = await stream_messages(tjs, "HOLODECK")
        # Each message as it was, with the time the original stream stored it.
        stored = [datetime.fromisoformat(h.pop(STORED_AT_HEADER)) for _, _, h in restored]
        assert restored == original
        assert len(stored) == len(original_msgs)
        for when, msg in zip(stored, original_msgs, strict=True):
            assert msg.time is not None and abs(when - msg.time) < timedelta(milliseconds=1)
        kv = await tjs.key_value(SCENE_STATE_BUCKET)
        assert (await kv.get("scene6")).value == b'{"state": "FAILED"}'
        with pytest.raises(backup_module.RestoreRefused, match="does not end where"):
            await restore_backup(tjs, by_seq, PASSWORD, settings)
    finally:
        await target.close()


async def test_restore_refuses_a_stream_services_are_reading(
    tmp_path: Path, nats_server: str, fresh_server: str
) -> None:
    settings = deployment(tmp_path / "ws")
    nc = await small_deployment(nats_server, settings, count=2)
    file = tmp_path / "small.hbk"
    try:
        await make_backup(nc.jetstream(), file, PASSWORD, settings)
    finally:
        await nc.close()
    target = await nats.connect(fresh_server)
    tjs = target.jetstream()
    try:
        await provision(tjs, settings.nats)
        planner = await tjs.pull_subscribe_bind("planner", "HOLODECK")
        waiting = asyncio.create_task(planner.fetch(1, timeout=10))
        async with asyncio.timeout(5):
            while not (await tjs.consumer_info("HOLODECK", "planner")).num_waiting:
                await asyncio.sleep(0.02)
        with pytest.raises(backup_module.RestoreRefused, match="services are reading"):
            await restore_backup(tjs, file, PASSWORD, settings)
        waiting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await waiting
        assert (await tjs.stream_info("HOLODECK")).state.messages == 0
    finally:
        await target.close()


async def test_incremental_after_a_restore_continues_the_backup_restored(
    tmp_path: Path, nats_server: str, fresh_server: str
) -> None:
    """A restored stream numbers its messages anew (a removed message leaves no gap), so
    an incremental backup after the full one restored there starts after that backup's
    last event as the restored stream numbers it, and misses nothing made since."""
    settings = deployment(tmp_path / "ws")
    nc = await small_deployment(nats_server, settings, count=5)
    js = nc.jetstream()
    try:
        first = (await js.stream_info("HOLODECK")).state.first_seq
        await js.delete_msg("HOLODECK", first + 1)
        full = tmp_path / "full.hbk"
        await make_backup(js, full, PASSWORD, settings)
    finally:
        await nc.close()
    other = tmp_path / "other.hbk"
    target = await nats.connect(fresh_server)
    tjs = target.jetstream()
    try:
        await restore_backup(tjs, full, PASSWORD, settings)
        await publish_events(tjs, settings, 5, 2)
        after = tmp_path / "after.hbk"
        await make_backup(tjs, after, PASSWORD, settings, since=Since.parse(str(full)))
        summary = verify_backup(after, PASSWORD)
        assert summary.streams["HOLODECK"] == 2
        # A backup this deployment does not continue is refused, naming its last event.
        await make_backup(tjs, other, PASSWORD, settings)
        await publish_events(tjs, settings, 7, 1)
    finally:
        await target.close()
    nc = await nats.connect(nats_server)
    try:
        await publish_events(nc.jetstream(), settings, 20, 2)
        with pytest.raises(BadInput, match="does not continue that backup"):
            await make_backup(
                nc.jetstream(),
                tmp_path / "wrong.hbk",
                PASSWORD,
                settings,
                since=Since.parse(str(other)),
            )
    finally:
        await nc.close()


async def test_a_restore_into_a_deployment_reading_another_artifact_store_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, nats_server: str, fresh_server: str
) -> None:
    """The backed-up deployment kept its artifacts in the NATS object store; one reading
    local files would list the scenes and serve none of their files."""
    settings = deployment(tmp_path / "ws", "nats")
    nc = await small_deployment(nats_server, settings, count=2)
    file = tmp_path / "small.hbk"
    try:
        store = await open_store(settings, nc.jetstream())
        await store.put(b"a mesh", "model/gltf-binary")
        await make_backup(nc.jetstream(), file, PASSWORD, settings)
    finally:
        await nc.close()
    local = deployment(tmp_path / "target", "local")
    restored = await asyncio.to_thread(
        invoke, monkeypatch, local, fresh_server, "restore", str(file)
    )
    assert restored.exit_code == 2, restored.output
    lines = restored.stderr.splitlines()
    assert len(lines) == 1 and "HOLODECK_ARTIFACT_STORE=nats" in lines[0], lines
    target = await nats.connect(fresh_server)
    try:
        assert [s.config.name async for s in _streams(target.jetstream())] == []
    finally:
        await target.close()
    nats_target = deployment(tmp_path / "target", "nats")
    same = await asyncio.to_thread(
        invoke, monkeypatch, nats_target, fresh_server, "restore", str(file)
    )
    assert same.exit_code == 0, same.output
