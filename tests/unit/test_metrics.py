"""The series behind the alerts: holodeck_error_rate's window, holodeck_scenes_total
counted once per scene end, and holodeck_memory_limit_bytes read from the cgroup."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest

from services.planner.plan import plan_scene
from shared.config import NatsSettings
from shared.contract import (
    ArtifactRef,
    ImagesReady,
    SceneReady,
    Subject,
    encode,
    msg_id,
    subject,
)
from shared.errors import Permanent
from shared.metrics import (
    MALFORMED_REQUEST,
    SCENE_READY,
    STAGE_FAILURE,
    ErrorWindow,
    MemoryLimit,
    memory_limit_bytes,
)
from shared.stage import Delivery, Output, StageRunner
from shared.states import MemorySceneStates

REF = ArtifactRef(uri="file:///x", sha256="a" * 64, size=1, media_type="image/png")


def scraped(stage: str) -> float | None:
    return REGISTRY.get_sample_value("holodeck_error_rate", {"stage": stage})


def test_error_rate_is_the_failed_share_and_ages_out_while_idle():
    now = [1000.0]
    window = ErrorWindow("test-stage-rate", window_s=60, clock=lambda: now[0])
    assert scraped("test-stage-rate") == 0.0
    window.record(failed=True)
    window.record(failed=False)
    window.record(failed=False)
    window.record(failed=True)
    assert scraped("test-stage-rate") == 0.5
    now[0] += 30
    window.record(failed=False)
    assert scraped("test-stage-rate") == 0.4
    now[0] += 45  # the first four have left the window; nothing new failed
    assert scraped("test-stage-rate") == 0.0
    now[0] += 120
    assert scraped("test-stage-rate") == 0.0


# --- holodeck_scenes_total ------------------------------------------------------------


def scenes(outcome: tuple[str, str]) -> float:
    status, reason = outcome
    labels = {"status": status, "reason": reason}
    return REGISTRY.get_sample_value("holodeck_scenes_total", labels) or 0.0


@dataclass
class FakeJetStream:
    """Records what the runner publishes, dropping a repeated Nats-Msg-Id as JetStream does."""

    published: dict[str, str] = field(default_factory=dict)

    async def publish(
        self, subj: str, payload: bytes, headers: dict[str, str], timeout: float
    ) -> None:
        self.published.setdefault(headers["Nats-Msg-Id"], subj)


class FakeMsg:
    """A delivered message: its subject, bytes, delivery count and how it was settled."""

    def __init__(self, subj: str, data: bytes, seq: int, delivered: int = 1) -> None:
        self.subject = subj
        self.data = data
        self.metadata = SimpleNamespace(
            sequence=SimpleNamespace(stream=seq),
            timestamp=datetime.now(UTC),
            num_delivered=delivered,
        )
        self.settled: list[str] = []

    async def ack(self) -> None:
        self.settled.append("ack")

    async def nak(self, delay: float | None = None) -> None:
        self.settled.append("nak")

    async def term(self) -> None:
        self.settled.append("term")

    async def in_progress(self) -> None:
        return None


def runner(stage: str, work: Any, js: FakeJetStream, states: MemorySceneStates) -> StageRunner:
    return StageRunner(stage, work, js, NatsSettings(), "test", states=states)  # type: ignore[arg-type]


def objects_of(scene_id: str, count: int) -> list[ImagesReady]:
    layout = plan_scene("a large office with six desks, six chairs, two bookshelves and a plant", 1)
    assert len(layout.objects) >= count
    return [
        ImagesReady(scene_id=scene_id, object_id=o.id, object=o, image=REF, object_count=count)
        for o in layout.objects[:count]
    ]


async def test_a_scene_failing_on_seven_objects_counts_one_failed_scene():
    async def refuse(event: ImagesReady, delivery: Delivery) -> list[Output]:
        raise Permanent(f"{event.object_id} cannot be made", code="backend_refused")

    js, states = FakeJetStream(), MemorySceneStates()
    # Two replicas sharing the state bucket, each failing objects of the same scene.
    replicas = [runner("meshgen", refuse, js, states) for _ in range(2)]
    before = scenes(STAGE_FAILURE)
    events = objects_of("metrics-seven", 7)
    for seq, event in enumerate(events, start=1):
        subj = subject(Subject.IMAGES_READY, event.scene_id, event.object_id)
        # Each object's last attempt, so each is a terminal failure of its own.
        msg = FakeMsg(subj, encode(event), seq, delivered=NatsSettings().max_deliver)
        await replicas[seq % 2].handle(msg)  # type: ignore[arg-type]
        assert msg.settled in (["term"], ["ack"])
    assert scenes(STAGE_FAILURE) - before == 1
    failed = [s for s in js.published.values() if s.startswith(str(Subject.SCENE_FAILED))]
    assert failed == [subject(Subject.SCENE_FAILED, "metrics-seven")]


async def test_a_scene_ready_counts_once_where_its_claim_is_won():
    scene_id = "metrics-ready"
    ready = SceneReady(scene_id=scene_id, artifacts={"scene.glb": REF}, object_count=1)

    async def assemble(event: ImagesReady, delivery: Delivery) -> list[Output]:
        return [Output(subject(Subject.SCENE_READY, scene_id), ready, msg_id("t", scene_id))]

    js, states = FakeJetStream(), MemorySceneStates()
    first, second = (runner("assembly", assemble, js, states) for _ in range(2))
    before = scenes(SCENE_READY)
    (event,) = objects_of(scene_id, 1)
    subj = subject(Subject.IMAGES_READY, scene_id, event.object_id)
    # Both replicas finish the work; only the first claim of the scene's end counts.
    assert await first._claim_success(scene_id, await assemble(event, None))  # type: ignore[arg-type]
    assert await first._claim_success(scene_id, await assemble(event, None))  # type: ignore[arg-type]
    assert scenes(SCENE_READY) - before == 1
    # A redelivery finds the scene ended and re-sends scene.ready without counting it.
    msg = FakeMsg(subj, encode(event), 9, delivered=2)
    await second.handle(msg)  # type: ignore[arg-type]
    assert msg.settled == ["ack"]
    assert scenes(SCENE_READY) - before == 1


async def test_a_malformed_request_counts_its_own_failed_scene_once():
    js, states = FakeJetStream(), MemorySceneStates()
    planner = runner("planner", None, js, states)
    before = scenes(MALFORMED_REQUEST), scenes(STAGE_FAILURE)
    subj = subject(Subject.SCENE_REQUESTED, "metrics-garbage")
    for seq, body in enumerate((b"{not json", b'{"prompt": ""}'), start=1):
        msg = FakeMsg(subj, body, seq)
        await planner.handle(msg)  # type: ignore[arg-type]
        assert msg.settled == ["term"]
    assert scenes(MALFORMED_REQUEST) - before[0] == 1
    assert scenes(STAGE_FAILURE) == before[1]
    failed = [s for s in js.published.values() if s.startswith(str(Subject.SCENE_FAILED))]
    assert failed == [subject(Subject.SCENE_FAILED, "metrics-garbage")]


# --- holodeck_memory_limit_bytes ----------------------------------------------------------


def cgroup_tree(root: Path, files: dict[str, str], membership: str) -> tuple[Path, Path]:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    proc = root / "proc-self-cgroup"
    proc.write_text(membership)
    return root, proc


V1_UNLIMITED = "9223372036854771712\n"


@pytest.mark.parametrize(
    ("files", "membership", "limit"),
    [
        # cgroup v2 in a container with its own namespace: the limit at the mount's root.
        ({"memory.max": "2147483648\n"}, "0::/\n", 2 << 30),
        ({"memory.max": "max\n"}, "0::/\n", None),
        # cgroup v2 seen from the host: the process's own cgroup, not the root.
        (
            {"memory.max": "max\n", "kubepods/pod1/c1/memory.max": "536870912\n"},
            "0::/kubepods/pod1/c1\n",
            512 << 20,
        ),
        # cgroup v1: memory.limit_in_bytes, its "unlimited" a huge page-aligned number.
        (
            {"memory/memory.limit_in_bytes": "1073741824\n"},
            "5:cpu,cpuacct:/\n4:memory:/\n0::/\n",
            1 << 30,
        ),
        (
            {
                "memory/memory.limit_in_bytes": V1_UNLIMITED,
                "memory/job/memory.limit_in_bytes": "4096",
            },
            "4:memory:/job\n",
            4096,
        ),
        ({"memory/memory.limit_in_bytes": V1_UNLIMITED}, "4:memory:/gone\n0::/\n", None),
        # Nothing readable, or garbage: no limit rather than a made-up one.
        ({}, "0::/\n", None),
        ({"memory.max": "lots\n"}, "0::/\n", None),
    ],
)
def test_memory_limit_is_read_from_the_cgroup(
    tmp_path: Path, files: dict[str, str], membership: str, limit: int | None
):
    root, proc = cgroup_tree(tmp_path, files, membership)
    assert memory_limit_bytes(root, proc) == limit


def test_memory_limit_is_exported_only_where_one_is_set():
    limit: list[int | None] = [None]
    registry = CollectorRegistry()
    registry.register(MemoryLimit(lambda: limit[0]))
    assert b"holodeck_memory_limit_bytes " not in generate_latest(registry)
    limit[0] = 3 << 30
    assert registry.get_sample_value("holodeck_memory_limit_bytes") == 3 << 30
    assert b"# TYPE holodeck_memory_limit_bytes gauge" in generate_latest(registry)
