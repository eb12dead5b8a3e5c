"""What the recovery commands read from their options: windows, rates and stages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.recovery_commands import parse_rate, parse_when
from shared.errors import BadInput

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "ago"),
    [("30s", 30), ("15m", 900), ("2h", 7200), ("1.5h", 5400), ("1d", 86400), ("1w", 604800)],
)
def test_durations_are_that_long_ago(text: str, ago: float) -> None:
    assert parse_when(text, NOW) == NOW - timedelta(seconds=ago)


def test_times_are_utc_unless_they_say() -> None:
    assert parse_when("2026-12-04T10:00", NOW) == datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
    stamped = parse_when("2026-12-04T10:00+01:00", NOW)
    assert stamped is not None and stamped.utcoffset() == timedelta(hours=1)
    assert parse_when(None) is None


@pytest.mark.parametrize("text", ["yesterday", "2 hours", "-1h", "10x"])
def test_unreadable_times_name_the_value(text: str) -> None:
    with pytest.raises(BadInput, match="cannot read the time"):
        parse_when(text, NOW)


def test_rates() -> None:
    assert parse_rate("5/s") == 5
    assert parse_rate("120/m") == 2
    assert parse_rate("3600/h") == 1
    assert parse_rate("2") == 2
    assert parse_rate(None) is None
    for bad in ("0/s", "fast", "5/d"):
        with pytest.raises(BadInput, match="cannot read the rate"):
            parse_rate(bad)
