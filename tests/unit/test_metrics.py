"""The error-rate window behind holodeck_error_rate."""

from __future__ import annotations

from prometheus_client import REGISTRY

from shared.metrics import ErrorWindow


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
