"""structlog set-up: readable on a terminal, JSON in production; ids bound per message."""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

from shared.config import LoggingSettings


def configure_logging(settings: LoggingSettings, *, stream: Any = None) -> None:
    """Route structlog and the standard library (FastStream, uvicorn) through one renderer."""
    stream = stream or sys.stderr
    use_json = settings.format == "json" or (settings.format == "auto" and not stream.isatty())
    shared_processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=stream.isatty())
    )
    structlog.configure(
        processors=[
            # Drop below-level lines before any work is spent rendering them.
            structlog.stdlib.filter_by_level,
            *shared_processors,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared_processors,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info if use_json else _identity,
            renderer,
        ],
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    handler.addFilter(_OneLineLibraryErrors())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.level)
    # Per-message chatter from the broker library stays below INFO.
    logging.getLogger("faststream").setLevel(max(logging.WARNING, root.level))
    logging.getLogger("uvicorn.access").setLevel(max(logging.WARNING, root.level))


def _identity(logger: Any, name: str, event: Any) -> Any:
    return event


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)


def route_library_logs() -> None:
    """Send FastStream's own loggers (which write to stdout by default) through ours.

    Called once the broker has created them; their INFO chatter stays below the line.
    """
    root = logging.getLogger()
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("faststream"):
            logger = logging.getLogger(name)
            logger.handlers.clear()
            logger.propagate = True
            logger.setLevel(max(logging.WARNING, root.level))
            if not any(isinstance(f, _IdleFetchTimeout) for f in logger.filters):
                logger.addFilter(_IdleFetchTimeout())


# Loggers of this project: their exceptions keep their tracebacks (they are our bugs).
_OWN_LOGGERS = ("services", "shared", "holodeck", "bench", "tests")


class _OneLineLibraryErrors(logging.Filter):
    """A library's error report is one line: its exception named, not its traceback.

    nats-py, for one, logs races inside its own read loop while a connection closes; the
    traceback says nothing an operator can act on and breaks "one line per event".
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and not record.name.startswith(_OWN_LOGGERS):
            exc = record.exc_info[1]
            record.msg = f"{record.getMessage()}: {exc!r}"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


class _IdleFetchTimeout(logging.Filter):
    """Drop the pull loop's restart report when an idle fetch merely timed out.

    nats-py can end an idle long-poll with a bare ``asyncio.TimeoutError`` that FastStream's
    loop does not expect; its supervisor restarts the loop at once, so nothing is lost and
    the traceback would only alarm an operator.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exc_type = record.exc_info[0] if record.exc_info else None
        return not (exc_type is TimeoutError and "raised an exception" in record.getMessage())
