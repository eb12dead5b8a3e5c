"""Bounds on the work one prompt can ask of the planner.

Three limits, all settings (``planner:`` in the config):

- ``max_objects``: a spec asking for more objects is cut to fit before solving, the
  room's usual furniture first, then the named objects from the last named; every cut is
  reported in the layout's ``unplaced`` with the reason.
- ``timeout_s`` and ``max_memory_mb``: the solver checks a :class:`Budget` before each
  object it places; past either bound the scene fails with an error naming the setting.
  Time is the CPU time of the thread solving the scene, so solves that share a process
  (and its interpreter lock) are not charged for each other's turns. Memory is the
  process's resident-set growth since the solve began, so solves running side by side in
  one process share the bound (a conservative reading).
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar, overload

from shared.errors import Permanent
from shared.layout import Unplaced

if TYPE_CHECKING:
    from services.planner.spec import SceneSpec

T = TypeVar("T")
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class PlanningLimit(Permanent):
    """The plan would take longer or more memory than the settings allow."""


def _rss_bytes() -> int:
    """This process's resident memory, from /proc (0 where there is no /proc)."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0


@dataclass
class Budget:
    """Time and memory one solve may use; :meth:`check` raises once either is spent."""

    timeout_s: float
    max_memory_mb: int
    started: float = 0.0
    rss_at_start: int = 0

    def __post_init__(self) -> None:
        self.started = time.thread_time()
        self.rss_at_start = _rss_bytes()

    def check(self) -> None:
        elapsed = time.thread_time() - self.started
        if elapsed > self.timeout_s:
            raise PlanningLimit(
                f"planning took more than planner.timeout_s={self.timeout_s:g} s of CPU time; "
                "ask for fewer objects or raise the limit",
                code="planner_time_limit",
            )
        grown = _rss_bytes() - self.rss_at_start
        if self.rss_at_start and grown > self.max_memory_mb * 1024 * 1024:
            raise PlanningLimit(
                f"planning needed more than planner.max_memory_mb={self.max_memory_mb} MB; "
                "ask for fewer objects or raise the limit",
                code="planner_memory_limit",
            )


_BUDGET: contextvars.ContextVar[Budget | None] = contextvars.ContextVar(
    "holodeck_planner_budget", default=None
)


@contextlib.contextmanager
def budget(timeout_s: float, max_memory_mb: int) -> Iterator[Budget]:
    """Bound every solve in this context (threads started with ``asyncio.to_thread`` too)."""
    current = Budget(timeout_s, max_memory_mb)
    token = _BUDGET.set(current)
    try:
        yield current
    finally:
        _BUDGET.reset(token)


class _Checked(Sequence[object]):
    """A placement order that checks the budget before handing out each object."""

    def __init__(self, order: Sequence[object], current: Budget):
        self._order = order
        self._budget = current

    def __len__(self) -> int:
        return len(self._order)

    @overload
    def __getitem__(self, index: int) -> object: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[object]: ...

    def __getitem__(self, index: int | slice) -> object | Sequence[object]:
        return self._order[index]

    def __iter__(self) -> Iterator[object]:
        for item in self._order:
            self._budget.check()
            yield item


def checked(order: Sequence[T]) -> Sequence[T]:
    """``order`` itself, or, inside :func:`budget`, a view that checks it per object."""
    current = _BUDGET.get()
    if current is None:
        return order
    current.check()
    return _Checked(order, current)  # type: ignore[return-value]


def cap_objects(spec: SceneSpec, max_objects: int) -> tuple[SceneSpec, list[Unplaced]]:
    """``spec`` with at most ``max_objects`` objects, and what was cut, with the reason.

    The room type's usual objects give way first, then the named ones from the last
    named: the first named are what the prompt is about.
    """
    total = sum(obj.count for obj in spec.objects)
    excess = total - max_objects
    if excess <= 0:
        return spec, []
    counts = [obj.count for obj in spec.objects]
    # Template objects (requested=False) first, then the named; each from the last back.
    backwards = list(reversed(range(len(spec.objects))))
    order = [k for k in backwards if not spec.objects[k].requested]
    order += [k for k in backwards if spec.objects[k].requested]
    for k in order:
        if excess <= 0:
            break
        take = min(counts[k], excess)
        counts[k] -= take
        excess -= take
    cut: list[Unplaced] = []
    kept = []
    dropped_refs = set()
    for obj, count in zip(spec.objects, counts, strict=True):
        if count < obj.count:
            asked = obj.count
            cut.append(
                Unplaced(
                    category=obj.category,
                    description=obj.description or obj.category,
                    reason=(
                        f"{asked - count} of {asked} not planned: the scene would exceed "
                        f"planner.max_objects={max_objects} objects"
                    ),
                    count=asked - count,
                )
            )
        if count == 0:
            if obj.ref:
                dropped_refs.add(obj.ref)
            continue
        kept.append(obj.model_copy(update={"count": count}))
    if dropped_refs:
        kept = [
            obj.model_copy(
                update={"constraints": [c for c in obj.constraints if c.target not in dropped_refs]}
            )
            for obj in kept
        ]
    return spec.model_copy(update={"objects": kept}), cut
