"""The pipeline on a three-node JetStream cluster with ``nats.replicas=3``: the node that
leads the event stream is killed (SIGKILL) while scenes run, and no scene is lost, stuck
or duplicated; started again, it catches up with the stream."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

import nats

from services.runtime import ServiceHost
from shared.artifacts import OBJECT_STREAM
from shared.cache import CACHE_BUCKET
from shared.config import load_settings
from shared.contract import (
    OBJECT_STORE_BUCKET,
    SCENE_STATE_BUCKET,
    SceneOptions,
    SceneRequested,
    Subject,
    encode,
    msg_id,
    subject,
)
from tests.fakes.nats_cluster import nats_cluster

SCENES = 30
KILL_AFTER = 8  # scenes finished before the stream leader is killed
PROMPT = "a small office with a desk and a chair"
DEADLINE_S = 75.0


async def _subjects(js, stream: str, pattern: str) -> dict[str, int]:
    info = await js.stream_info(stream, subjects_filter=pattern)
    return dict(info.state.subjects or {})


async def _publish_request(js, scene_id: str, deadline: float) -> int:
    """Publish one request, retried with the same message id while the cluster elects a
    new leader (the id makes a retry of an accepted publish a duplicate, not a second
    scene). Returns how many attempts failed."""
    request = SceneRequested(
        scene_id=scene_id, prompt=PROMPT, options=SceneOptions(seed=1), producer="test"
    )
    failures = 0
    while True:
        try:
            await js.publish(
                subject(Subject.SCENE_REQUESTED, scene_id),
                encode(request),
                headers={"Nats-Msg-Id": msg_id("request", scene_id)},
                timeout=2.0,
            )
            return failures
        except Exception:
            failures += 1
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def test_a_killed_node_loses_nothing_and_catches_up(tmp_path: Path, unique: str):
    started = time.monotonic()
    deadline = started + DEADLINE_S
    async with nats_cluster(tmp_path / "cluster") as cluster:
        settings = load_settings(
            storage={"workspace": tmp_path / "workspace", "artifact_store": "nats"},
            nats={
                "url": cluster.url,
                "replicas": 3,
                "ack_wait_s": 3,
                "retry_base_delay_s": 0.1,
                "retry_max_delay_s": 1.0,
            },
            image_generation={"size": 64},
            performance={"concurrent_workers": 2},
            logging={"level": "ERROR"},
        )
        stream = settings.nats.stream
        host = ServiceHost(settings, cluster.url, ("planner", "imagegen", "meshgen", "assembly"))
        await host.start()
        client = await nats.connect(
            cluster.url.split(","), max_reconnect_attempts=-1, reconnect_time_wait=0.2
        )
        try:
            js = client.jetstream()
            for name in (
                stream,
                OBJECT_STREAM.format(bucket=OBJECT_STORE_BUCKET),
                f"KV_{CACHE_BUCKET}",
                f"KV_{SCENE_STATE_BUCKET}",
            ):
                assert (await js.stream_info(name)).config.num_replicas == 3, name

            scene_ids = [f"{unique}{n:02d}" for n in range(SCENES)]
            publish_failures = 0
            for scene_id in scene_ids[: SCENES // 2]:
                publish_failures += await _publish_request(js, scene_id, deadline)

            async def finished() -> dict[str, int]:
                ready = await _subjects(js, stream, f"{Subject.SCENE_READY}.*")
                failed = await _subjects(js, stream, f"{Subject.SCENE_FAILED}.*")
                return {**ready, **failed}

            while len(await finished()) < KILL_AFTER:
                assert time.monotonic() < deadline, "scenes did not start finishing"
                await asyncio.sleep(0.2)

            # The node the services are connected to goes: they must fail over to another.
            leader_name = (await js.stream_info(stream)).cluster.leader
            connected = host.nc.connected_url
            assert connected is not None
            victim = next(node for node in cluster.nodes if node.port == connected.port)
            cluster.kill(victim)
            killed_at = time.monotonic()

            for scene_id in scene_ids[SCENES // 2 :]:
                publish_failures += await _publish_request(js, scene_id, deadline)

            done: dict[str, int] = {}
            while True:
                try:
                    done = await finished()
                except Exception:  # the cluster is electing a leader: ask again
                    done = {}
                if len(done) >= SCENES or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.3)
            all_done_at = time.monotonic()

            ready = await _subjects(js, stream, f"{Subject.SCENE_READY}.*")
            failed = await _subjects(js, stream, f"{Subject.SCENE_FAILED}.*")
            requested = await _subjects(js, stream, f"{Subject.SCENE_REQUESTED}.*")
            layouts = await _subjects(js, stream, f"{Subject.LAYOUT_READY}.*")
            images = await _subjects(js, stream, f"{Subject.IMAGES_READY}.*.*")
            meshes = await _subjects(js, stream, f"{Subject.MESH_READY}.*.*")

            ids = set(scene_ids)
            lost = [s for s in scene_ids if subject(Subject.SCENE_REQUESTED, s) not in requested]
            stuck = [
                s
                for s in scene_ids
                if subject(Subject.SCENE_READY, s) not in ready
                and subject(Subject.SCENE_FAILED, s) not in failed
            ]
            duplicated = sorted(
                name
                for counts in (requested, layouts, ready, images, meshes)
                for name, count in counts.items()
                if count > 1 and name.split(".")[2] in ids
            )
            figures = {
                "scenes": SCENES,
                "killed": victim.name,
                "killed_led_stream": victim.name == leader_name,
                "killed_after_s": round(killed_at - started, 1),
                "publish_retries": publish_failures,
                "ready": len(ready),
                "failed": len(failed),
                "lost": len(lost),
                "stuck": len(stuck),
                "duplicated": len(duplicated),
                "all_done_s": round(all_done_at - started, 1),
            }
            print("cluster figures", figures)
            if stuck:  # where they stopped, for the failure's message
                for durable in ("planner", "planner-by-id", "imagegen-fanout", "imagegen",
                                "meshgen", "assembly"):  # fmt: skip
                    with contextlib.suppress(Exception):
                        info = await js.consumer_info(stream, durable)
                        print(durable, info.num_pending, info.num_ack_pending,
                              info.num_redelivered)  # fmt: skip
                for scene_id in stuck[:3]:
                    print(scene_id, {k: v for c in (layouts, images, meshes)
                                     for k, v in c.items() if scene_id in k})  # fmt: skip
            assert not lost, f"requests lost: {lost}"
            assert not stuck, f"scenes stuck: {stuck} ({figures})"
            assert not duplicated, f"duplicated events: {duplicated[:10]}"
            assert not failed, f"scenes failed: {sorted(failed)}"
            assert all(subject(Subject.LAYOUT_READY, s) in layouts for s in scene_ids)

            # The node comes back on its store and catches up with the stream's leader.
            await cluster.start_node(victim)
            await cluster.wait_ready(timeout=max(deadline - time.monotonic(), 5))
            last_seq = (await js.stream_info(stream)).state.last_seq
            caught_up = None
            while time.monotonic() < deadline + 10:
                state = await cluster.stream_state(victim, stream)
                if state is not None and state["last_seq"] == last_seq:
                    caught_up = state
                    break
                await asyncio.sleep(0.2)
            print(
                "catch-up",
                {"node": victim.name, "last_seq": last_seq, "node_state": caught_up},
                f"after {time.monotonic() - all_done_at:.1f} s",
            )
            assert caught_up is not None, f"{victim.name} did not reach last_seq {last_seq}"
            assert caught_up["messages"] == (await js.stream_info(stream)).state.messages
        finally:
            await client.close()
            await host.stop(grace=2)
    assert time.monotonic() - started < 90
