"""The projection's lag behind its stream, as health reports it."""

from __future__ import annotations

from services.gateway.projector import Lag


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_stream_is_never_reported_shorter_than_what_was_applied_from_it() -> None:
    lag = Lag(stall_after_s=5, clock=Clock())
    lag.following = True
    lag.stream_at(77)
    for seq in range(1, 101):
        lag.applied(seq)
    healthy, details = lag.report()
    assert healthy
    assert details["stream_last_seq"] == 100
    assert details["applied_seq"] == 100
    assert details["behind"] == 0


def test_a_projection_behind_and_not_moving_is_stalled() -> None:
    clock = Clock()
    lag = Lag(stall_after_s=5, clock=clock)
    lag.following = True
    lag.applied(10)
    lag.stream_at(10)
    lag.stream_at(20)
    clock.now = 6.0
    healthy, details = lag.report()
    assert not healthy
    assert details["behind"] == 10
    assert details["stalled_s"] == 6.0
