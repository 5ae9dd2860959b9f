"""structlog configured for one JSON object per line, with the bound ids in each.

Every line, structlog's own and those of libraries logging through stdlib (uvicorn,
asyncio, nats-py, asyncpg), goes through the same scrubbing (`mnemo.telemetry.scrub`):
exceptions without their message or locals, secrets out. Uncaught exceptions (of the
main thread and of other threads) and those Python cannot raise (in `__del__`, a
finalizer) are logged the same way instead of Python's own traceback print, which shows
the exception's message.
"""

import json
import logging
import sys
import threading
import uuid
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import structlog

from mnemo.telemetry.scrub import drop_secrets, foreign_message, safe_exceptions
from mnemo.telemetry.tracing import add_trace_ids

_LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40}

_SCRUB: list[Any] = [safe_exceptions, drop_secrets]


def configure_logging(service: str, level: str = "info") -> None:
    """JSON lines on stderr; every line carries service, level, time and the bound ids."""
    numeric = _LEVELS.get(level.lower(), 20)
    ids = _EveryLineIds(service)
    common: list[Any] = [
        structlog.contextvars.merge_contextvars,
        ids,
        add_trace_ids,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*common, *_SCRUB, structlog.processors.JSONRenderer()],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=_SparingLoggerFactory(sys.stderr, ids),
        cache_logger_on_first_use=False,
    )
    structlog.contextvars.bind_contextvars(service=service)
    _route_stdlib(common, max(numeric, logging.WARNING))
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_uncaught_in_thread
    sys.unraisablehook = _log_unraisable


class _SparingLogger(structlog.WriteLogger):
    """A line that cannot be written (the log's disk full: ENOSPC) is dropped, not raised
    into the code that logged it: a full disk under MNEMO_HOME/logs made the gateway answer
    a bare `500 Internal Server Error` (its request line raising) and would fail a consumer's
    handler on its log line. The lines dropped are counted in one line once writing works
    again."""

    dropped = 0

    def __init__(self, file: Any, ids: "_EveryLineIds") -> None:
        super().__init__(file)
        self._ids = ids

    def msg(self, message: str) -> None:
        try:
            if count := _SparingLogger.dropped:
                # Written past the processors: given the ids every line carries here.
                note = self._ids(None, "warning", {"event": "log_lines_dropped", "count": count})
                note["level"] = "warning"
                note["timestamp"] = datetime.now(UTC).isoformat().replace("+00:00", "Z")
                super().msg(json.dumps(note))
                _SparingLogger.dropped = 0
            super().msg(message)
        except (OSError, ValueError):  # ValueError: the file was closed (at exit)
            _SparingLogger.dropped += 1

    log = debug = info = warn = warning = msg
    fatal = failure = err = error = critical = exception = msg


class _SparingLoggerFactory:
    def __init__(self, file: Any, ids: "_EveryLineIds") -> None:
        self._file = file
        self._ids = ids

    def __call__(self, *_args: Any) -> _SparingLogger:
        return _SparingLogger(self._file, self._ids)


class _EveryLineIds:
    """Every line carries `service`, `correlation_id` and `causation_id`, also one logged
    outside any message (the process starting, stopping, losing NATS) or from a thread
    that did not inherit the bound ids (a plain `threading.Thread` starts with none).
    Outside a message the correlation id is the process's own, one per start, so that a
    run's lifecycle lines can be followed together, and nothing caused them (null); a
    batch of messages with several correlation ids lists them (`correlation_ids`) and has
    none of its own (null)."""

    def __init__(self, service: str) -> None:
        self._service = service
        self._lifecycle = f"{service}-{uuid.uuid4().hex[:16]}"

    def __call__(self, _logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
        event.setdefault("service", self._service)
        in_batch = "correlation_ids" in event or "message_ids" in event
        if "correlation_id" not in event:
            event["correlation_id"] = None if in_batch else self._lifecycle
        event.setdefault("causation_id", None)
        return event


def _route_stdlib(common: list[Any], level: int) -> None:
    """Libraries that log through stdlib logging write the same scrubbed JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*common, structlog.stdlib.add_logger_name, foreign_message],
            # The template, not the message filled with its arguments (see foreign_message).
            use_get_message=False,
            pass_foreign_args=True,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                *_SCRUB,
                structlog.processors.JSONRenderer(),
            ],
        )
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)


def _log_uncaught(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, exc, tb)
        return
    structlog.get_logger().critical("uncaught_exception", exc_info=exc.with_traceback(tb))


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is not None:
        exc = args.exc_value.with_traceback(args.exc_traceback)
        structlog.get_logger().error("thread_crashed", exc_info=exc)


def _log_unraisable(unraisable: Any) -> None:
    """An exception Python cannot raise (in `__del__`, a finalizer, a generator closed by
    the collector), which its own hook prints with its message. Its `object` is not
    logged either: its repr may quote what it holds."""
    if unraisable.exc_value is not None:
        exc = unraisable.exc_value.with_traceback(unraisable.exc_traceback)
        structlog.get_logger().error("unraisable_exception", exc_info=exc)


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name) if name else structlog.get_logger()
