"""What may reach a log line: never a key, a secret or memory content, whatever is logged.

Two processors run on every line, structlog's and stdlib's (uvicorn, asyncio, nats-py):

- `safe_exceptions`: an exception is logged as its class, a few codes known to be safe
  (`sqlstate`, `errno`, an HTTP status) and its frames (file, line, function). Never its
  message: asyncpg, msgspec and httpx quote the values that failed, which may be memory
  content or a key. Never a frame's locals: they hold the request with its Authorization
  header and body, and the settings with the key-hashing secret. Pass an exception as a
  value (`log.warning("x", error=exc)`) and it is described the same way.
- `drop_secrets`: a value under a field that names a secret (`authorization`, `api_key`,
  `password`, ... at any depth, see `mnemo.redaction.names_secret`) becomes `[REDACTED]`,
  and every other string goes through the redaction rules, so a key caught in a client's
  correlation id or a library's message is replaced by its placeholder.
"""

import re
import sys
import traceback
import uuid
from collections.abc import MutableMapping
from datetime import date, datetime, timedelta
from enum import Enum
from pathlib import PurePath
from typing import Any

from mnemo.redaction import names_secret, redact

REDACTED = "[REDACTED]"
# Attributes of exceptions that are codes, not data: PostgreSQL's SQLSTATE, OS errno,
# HTTP statuses. Only short code-shaped values are shown, whatever the attribute holds.
_CODES = ("sqlstate", "errno", "status", "status_code")
_CODE_SHAPE = re.compile(r"[A-Za-z0-9_.-]{1,16}")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_MAX_FRAMES = 30
_MAX_CHAIN = 5
# Written by the logging setup itself, never from input: not worth the redaction rules.
_OURS = frozenset(["level", "timestamp", "service", "logger", "message_id", "request_id"])
# Field names that always hide their value in a log line, beside those that name a secret.
_ALSO_SECRET = frozenset(["key", "body", "content", "headers", "cookie"])
# Values whose text is what they are, not what they hold.
_PLAIN = (datetime, date, timedelta, uuid.UUID, PurePath, Enum)


def describe(exc: BaseException, depth: int = 0) -> dict[str, Any]:
    """`exc` as its class, safe codes, frames and cause: nothing it was raised with."""
    kind = type(exc)
    described: dict[str, Any] = {
        "type": kind.__name__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}"
    }
    for name in _CODES:
        value = getattr(exc, name, None)
        if _is_code(value):
            described[name] = value
    frames = traceback.extract_tb(exc.__traceback__)[-_MAX_FRAMES:]
    described["frames"] = [
        {"file": frame.filename, "line": frame.lineno, "function": frame.name} for frame in frames
    ]
    if isinstance(exc, BaseExceptionGroup) and depth < _MAX_CHAIN:
        described["exceptions"] = [describe(inner, depth + 1) for inner in exc.exceptions[:5]]
    cause = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    if cause is not None and depth < _MAX_CHAIN:
        described["cause"] = describe(cause, depth + 1)
    return described


def _is_code(value: object) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (
        isinstance(value, str) and _CODE_SHAPE.fullmatch(value) is not None
    )


def safe_exceptions(
    _: Any, __: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Replace `exc_info` (and any exception value) by its description; drop stack text."""
    exc_info = event_dict.pop("exc_info", None)
    exc = _exception_of(exc_info)
    if exc is not None:
        event_dict["exception"] = describe(exc)
    event_dict.pop("stack", None)
    event_dict.pop("stack_info", None)
    for key, value in event_dict.items():
        if isinstance(value, BaseException):
            event_dict[key] = describe(value)
    return event_dict


def drop_secrets(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Hide values under secret names; run the redaction rules over every other string."""
    for key in list(event_dict):
        if key.startswith("_") or key in _OURS:
            continue
        event_dict[key] = _scrubbed(key, event_dict[key])
    return event_dict


def foreign_message(
    _: Any, __: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """A stdlib record's message as the library wrote it, without what it was filled with.

    The template (`Retrying %s in %s seconds as it raised %s: %s.`) is the library's own
    text; its arguments may be anything (tenacity passes the exception's message), so only
    numbers are kept, as `args`. A message built without arguments is cut at its first
    line: asyncio appends the failed future's repr, and so its exception's message, below.
    """
    event = event_dict.get("event")
    if isinstance(event, str):
        event_dict["event"] = event.split("\n", 1)[0][:300]
    args = event_dict.pop("positional_args", ())
    numbers = [a for a in args if isinstance(a, int | float) and not isinstance(a, bool)]
    if numbers:
        event_dict["args"] = numbers
    return event_dict


def _exception_of(exc_info: Any) -> BaseException | None:
    if isinstance(exc_info, BaseException):
        return exc_info
    if isinstance(exc_info, tuple) and len(exc_info) == 3:
        return exc_info[1] if isinstance(exc_info[1], BaseException) else None
    if exc_info:
        return sys.exc_info()[1]
    return None


def scrub_field(key: str, value: Any) -> Any:
    """`value`, logged under `key`, as it may leave the process (a log line, a span)."""
    return _scrubbed(key, value)


def _scrubbed(key: object, value: Any, depth: int = 0) -> Any:
    if isinstance(key, str) and value is not None and _secret_name(key):
        return REDACTED
    if isinstance(value, str):
        return value if _plainly_no_secret(value) else redact(value).text
    if depth > 8:
        return value if isinstance(value, int | float | bool) or value is None else REDACTED
    if isinstance(value, dict):
        return {k: _scrubbed(k, v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrubbed(None, v, depth + 1) for v in value]
    if isinstance(value, int | float | bool) or value is None:
        return value
    if isinstance(value, _PLAIN):
        return str(value)
    # Anything else would be rendered by its repr, which may quote what it holds.
    return f"<{type(value).__name__}>"


def _plainly_no_secret(text: str) -> bool:
    """Short words and UUIDs (most values of a log line): the rules need not look."""
    return len(text) < 8 or _UUID.fullmatch(text) is not None


def _secret_name(key: str) -> bool:
    return key.lower() in _ALSO_SECRET or names_secret(key)
