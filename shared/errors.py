"""The error classes every stage speaks: they say what should happen next.

Library exceptions are translated into these at the boundary where they occur.
"""

from __future__ import annotations

import email.utils
import math
from datetime import UTC, datetime


class HolodeckError(Exception):
    """Base of the project's errors; ``code`` is stable and machine-readable."""

    code = "internal_error"
    retryable = False

    def __init__(self, message: str, *, code: str | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class RetryLater(HolodeckError):
    """A transient failure (a backend down, a timeout): try the message again later.

    ``delay`` is a hint in seconds; the stage runner backs off from it.
    """

    code = "backend_unavailable"
    retryable = True

    def __init__(self, message: str, *, code: str | None = None, delay: float | None = None):
        super().__init__(message, code=code)
        self.delay = delay


class Permanent(HolodeckError):
    """Retrying will not help (the backend refused the request, the content is invalid)."""

    code = "permanent_failure"


class BadInput(Permanent):
    """The request itself is wrong: an empty prompt, an impossible option, bad config."""

    code = "bad_input"


class ConfigError(BadInput):
    """The configuration is invalid; the message names the field."""

    code = "invalid_config"


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float | None:
    """A ``Retry-After`` header as seconds from now (delta-seconds or an HTTP date), for
    the ``delay`` of a :class:`RetryLater`; None when absent or unreadable."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        current = datetime.now(UTC).timestamp() if now is None else now
        seconds = when.timestamp() - current
    if not math.isfinite(seconds):
        return None
    return max(seconds, 0.0)
