"""Prometheus metrics: the operations guide's names plus per-stage series.

Labels use subject patterns (``images.ready``), never concrete subjects with ids.
"""

from __future__ import annotations

import resource
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

# Up to half an hour: a stage waiting on a remote image-to-3D backend takes minutes, and
# the bus latency alert (SlowBusMessages, 10 minutes) needs buckets on both sides of it.
DURATION_BUCKETS = (
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 600, 900, 1800,
)  # fmt: skip
REQUESTS_TOTAL = Counter(
    "holodeck_requests_total",
    "Requests handled: HTTP calls and bus messages",
    ["method", "endpoint", "status"],
)
REQUEST_DURATION = Histogram(
    "holodeck_request_duration_seconds",
    "Request handling duration",
    ["method", "endpoint"],
    buckets=DURATION_BUCKETS,
)
MEMORY_USAGE = Gauge("holodeck_memory_usage_bytes", "Resident memory of this process")
CACHE_HIT_RATIO = Gauge(
    "holodeck_cache_hit_ratio", "Share of object requests served from the asset cache", ["stage"]
)
CACHE_LOOKUPS = Counter(
    "holodeck_cache_lookups_total",
    "Asset cache lookups by stage and result (hit or miss)",
    ["stage", "result"],
)
ERROR_RATE = Gauge(
    "holodeck_error_rate", "Share of messages that failed over the last five minutes", ["stage"]
)
STAGE_DURATION = Histogram(
    "holodeck_stage_duration_seconds",
    "Work time of one message in a stage",
    ["stage"],
    buckets=DURATION_BUCKETS,
)
BUS_DELAY = Histogram(
    "holodeck_bus_delay_seconds",
    "Time from JetStream storing a message to a stage starting on it (queueing included)",
    ["stage"],
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5, 30),
)
STAGE_FAILURES = Counter(
    "holodeck_stage_failures_total", "Messages a stage could not process", ["stage", "code"]
)
STAGE_RETRIES = Counter(
    "holodeck_stage_retries_total", "Messages a stage handed back for a later retry", ["stage"]
)
CONSUMER_PENDING = Gauge(
    "holodeck_consumer_pending_messages", "Messages waiting in a durable consumer", ["consumer"]
)
CONSUMER_ACK_PENDING = Gauge(
    "holodeck_consumer_ack_pending_messages",
    "Messages delivered but not yet acknowledged",
    ["consumer"],
)
# One count per scene attempt's end, made by whoever wins the claim of that end in the
# scene-state bucket (shared.stage): a scene failing on seven objects counts once, and a
# redelivered scene.ready counts nothing. ``reason`` says how it ended: SCENE_READY,
# STAGE_FAILURE (a stage gave up after its retries, or on a permanent error) or
# MALFORMED_REQUEST (a request that could not be read fails its own new scene).
SCENES_TOTAL = Counter(
    "holodeck_scenes_total", "Scenes finished, by outcome and how", ["status", "reason"]
)
SCENE_READY = ("SUCCEEDED", "ready")
STAGE_FAILURE = ("FAILED", "stage_failure")
MALFORMED_REQUEST = ("FAILED", "malformed_request")
# Counted where dead letters are kept (the gateway's projection), so each is counted once
# whichever consumer rejected it.
DEAD_LETTERS = Counter(
    "holodeck_dead_letters_total",
    "Messages a consumer could not parse or apply, recorded as dead letters",
    ["rejected_by"],
)
PROJECTION_LAG = Gauge(
    "holodeck_projection_lag_messages",
    "Stream messages the gateway's projection has not applied yet",
)
PROJECTION_STALLED = Gauge(
    "holodeck_projection_stalled_seconds",
    "Seconds the projection has been behind the stream without advancing (0 when moving)",
)
SCENES_STUCK = Gauge(
    "holodeck_scenes_stuck",
    "Running scenes with no event of their current attempt for longer than their stage allows",
)
STAGE_SKIPPED = Counter(
    "holodeck_stage_skipped_total",
    "Messages a stage dropped without work because their scene had already ended",
    ["stage", "state"],
)
WORK_WAITS = Counter(
    "holodeck_work_waits_total",
    "Object work that waited for an identical object being made (where: local | replica)",
    ["stage", "where"],
)
BACKEND_SLOTS_BUSY = Gauge(
    "holodeck_backend_slots_busy",
    "Backend calls in flight in this replica, per stage (bounded by concurrent_workers)",
    ["stage"],
)
BACKEND_SLOT_WAITERS = Gauge(
    "holodeck_backend_slot_waiters",
    "Messages in hand waiting for a backend slot, per stage and priority lane",
    ["stage", "priority"],
)

# Per backend server (shared.pool): ``backend`` is comfyui, sf3d or hunyuan3d, ``server``
# the server's base URL without credentials.
BACKEND_SERVER_REQUESTS = Counter(
    "holodeck_backend_server_requests_total",
    "Requests sent to a backend server",
    ["backend", "server"],
)
BACKEND_SERVER_FAILURES = Counter(
    "holodeck_backend_server_failures_total",
    "Requests that failed because the server did (no connection, a timeout, a 5xx), by code",
    ["backend", "server", "code"],
)
BACKEND_SERVER_IN_FLIGHT = Gauge(
    "holodeck_backend_server_in_flight",
    "Requests this process has in flight to a backend server",
    ["backend", "server"],
)
BACKEND_SERVER_QUEUE = Gauge(
    "holodeck_backend_server_queue_length",
    "Jobs a backend server last reported running or waiting (ComfyUI's /queue)",
    ["backend", "server"],
)
BACKEND_SERVER_BREAKER = Gauge(
    "holodeck_backend_server_breaker_state",
    "Circuit breaker of a backend server: 0 closed (in use), 1 half-open (on trial), 2 open (out)",
    ["backend", "server"],
)


class ErrorWindow:
    """Failures over handled messages in a sliding time window, for ``holodeck_error_rate``.

    The gauge is computed when it is scraped, so an idle stage's rate falls back to 0 as
    its failures age out of the window instead of repeating the last value it had.
    """

    def __init__(
        self, stage: str, window_s: float = 300.0, clock: Callable[[], float] = time.monotonic
    ):
        self.stage = stage
        self.window_s = window_s
        self.clock = clock
        self._events: deque[tuple[float, bool]] = deque()
        self._failures = 0
        ERROR_RATE.labels(stage).set_function(self.rate)

    def record(self, failed: bool) -> None:
        self._events.append((self.clock(), failed))
        self._failures += failed
        self._prune()

    def rate(self) -> float:
        self._prune()
        return self._failures / len(self._events) if self._events else 0.0

    def _prune(self) -> None:
        horizon = self.clock() - self.window_s
        while self._events and self._events[0][0] < horizon:
            _, old = self._events.popleft()
            self._failures -= old


_WINDOWS: dict[str, ErrorWindow] = {}


def error_window(stage: str) -> ErrorWindow:
    """The one error window of ``stage`` in this process (a stage may have several runners)."""
    if stage not in _WINDOWS:
        _WINDOWS[stage] = ErrorWindow(stage)
    return _WINDOWS[stage]


def resident_memory_bytes() -> int:
    """Current resident set size, read from /proc where it exists, else the peak."""
    try:
        with open("/proc/self/statm") as handle:
            pages = int(handle.read().split()[1])
        return pages * resource.getpagesize()
    except (OSError, ValueError, IndexError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


MEMORY_USAGE.set_function(resident_memory_bytes)


# cgroup v1 reports "no limit" as the largest page-aligned 64-bit count; anything this
# large is no limit a machine could enforce.
_UNLIMITED_BYTES = 1 << 62


def memory_limit_bytes(
    cgroup_root: Path = Path("/sys/fs/cgroup"), proc_cgroup: Path = Path("/proc/self/cgroup")
) -> int | None:
    """The memory limit of this process's cgroup (v2 ``memory.max``, v1
    ``memory.limit_in_bytes``), or None where none is set or none can be read."""
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        lines = []
    candidates: list[Path] = []
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        relative = path.strip().lstrip("/")
        if controllers == "":  # v2: "0::/path"
            candidates.append(cgroup_root / relative / "memory.max")
        elif "memory" in controllers.split(","):  # v1: "4:memory:/path"
            candidates.append(cgroup_root / "memory" / relative / "memory.limit_in_bytes")
    # In a container with its own cgroup namespace the process sits at the mount's root,
    # where the path above may not resolve.
    candidates += [cgroup_root / "memory.max", cgroup_root / "memory" / "memory.limit_in_bytes"]
    for candidate in candidates:
        try:
            text = candidate.read_text().strip()
        except OSError:
            continue
        if text == "max":
            return None
        try:
            limit = int(text)
        except ValueError:
            continue
        return limit if 0 < limit < _UNLIMITED_BYTES else None
    return None


class MemoryLimit(Collector):
    """``holodeck_memory_limit_bytes``, read when scraped and absent where there is no
    limit, so alerts compare ``holodeck_memory_usage_bytes`` to it only where it exists."""

    name = "holodeck_memory_limit_bytes"
    documentation = "Memory limit of this process's container (cgroup), where one is set"

    def __init__(self, read: Callable[[], int | None] = memory_limit_bytes):
        self.read = read

    def describe(self) -> list[Metric]:
        return [GaugeMetricFamily(self.name, self.documentation)]

    def collect(self) -> Iterator[Metric]:
        limit = self.read()
        if limit is not None:
            yield GaugeMetricFamily(self.name, self.documentation, value=limit)


MEMORY_LIMIT = MemoryLimit()
REGISTRY.register(MEMORY_LIMIT)
