"""Decoding request bodies and query parameters with errors that name the field."""

import re
from collections.abc import Collection
from datetime import datetime
from typing import Any, TypeVar

import msgspec
from litestar import Request

from mnemo.contracts import wire_names
from mnemo.contracts.limits import (
    MAX_ID_CHARS,
    MAX_MESSAGE_BYTES,
    MAX_METADATA_BYTES,
    instant_problem,
    text_problem,
)
from mnemo.gateway.problems import Problem

T = TypeVar("T")

_FIELD = re.compile(r"`\$\.([A-Za-z0-9_.\[\]]+)`")
_MISSING = re.compile(r"missing required field `([^`]+)`")
# An integer as a query parameter: ASCII digits (int() would take " 5", "1_0" and "٥").
_INTEGER = re.compile(r"-?[0-9]{1,18}")
# A number as a query parameter: ASCII decimal text (float() alone would also take " 5",
# "1_0", "٥", "nan" and "infinity").
DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


_UNKNOWN = re.compile(r"Object contains unknown field `(.*?)`(?: - at `\$\.[^`]*`)?", re.DOTALL)


def field_of(message: str) -> str | None:
    """The JSON path msgspec names ("items[1].userId"), without the leading "$."; for a
    field it does not know, that field ("bogus", "items[1].bogus")."""
    at = match.group(1) if (match := _FIELD.search(message)) else None
    named = _MISSING.search(message) or _UNKNOWN.fullmatch(message)
    if named:
        return f"{at}.{named.group(1)}" if at else named.group(1)
    return at


async def decode_body(request: Request, type_: type[T], *, status: int = 422) -> T:
    """The JSON body as `type_`: malformed JSON is a 400; a body that breaks the schema (a
    missing field, a wrong type) is `status`, 422 unless a compatible API says otherwise,
    naming the field."""
    body = await request.body()
    if not body:
        raise Problem(400, "INVALID_REQUEST", "the request needs a JSON body", field="body")
    try:
        decoded = msgspec.json.decode(body, type=type_)
    except msgspec.ValidationError as exc:
        message = str(exc)
        if message.startswith(_FLOAT_FOR_INT) and (fixed := _integral(body, type_)) is not None:
            return fixed
        # No path: the body itself is of the wrong kind (`null`, a list for an object).
        field = field_of(message) or "body"
        raise Problem(status, "INVALID_REQUEST", message, field=field) from None
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError) as exc:
        # The input guard refuses deep and non-UTF-8 bodies first; this is for safety.
        raise Problem(
            400, "MALFORMED_JSON", f"the body is not valid JSON: {exc}", field="body"
        ) from None
    check_values(decoded)  # a value that breaks a rule: 400, as the routes answer
    return decoded


_FLOAT_FOR_INT = "Expected `int`, got `float`"
_STEP = re.compile(r"\.([A-Za-z0-9_]+)|\[(\d+)\]")


def _integral(body: bytes, type_: type[T]) -> T | None:
    """The body as `type_` with each integral float where an int belongs (26.0 for 26)
    taken as that int: JSON Schema counts 26.0 as an integer, and so do we. None if some
    other problem remains."""
    value: Any = msgspec.json.decode(body)
    for _ in range(16):
        try:
            return msgspec.convert(value, type_)
        except msgspec.ValidationError as exc:
            message = str(exc)
            at = field_of(message)
            if not message.startswith(_FLOAT_FOR_INT) or at is None:
                return None
            steps = [int(i) if i else k for k, i in _STEP.findall("." + at)]
            parent = value
            for step in steps[:-1]:
                parent = parent[step]
            number = parent[steps[-1]]
            if not isinstance(number, float) or not number.is_integer():
                return None
            parent[steps[-1]] = int(number)
    return None


def only_params(request: Request, allowed: Collection[str]) -> None:
    """Refuse (400, naming it) a query parameter the route does not take. For a deletion
    that names what it deletes by its parameters: one it ignored (`metadata`, a narrowing
    `filters`, a misspelt `entity_id`, an `agentId` beside `userId`) widened it to more
    than the caller named (a Mem0 `delete_all` of a user's memories with one topic forgot
    the user)."""
    for name in request.query_params:
        if name not in allowed:
            takes = ", ".join(sorted(allowed)) or "none"
            raise Problem(
                400,
                "INVALID_REQUEST",
                f"{name!r} is not a parameter of this request (it takes: {takes})",
                field=name,
            )


def query_param(
    request: Request,
    name: str,
    *,
    required: bool = False,
    max_len: int = 256,
    choices: Collection[str] | None = None,
) -> str | None:
    """A text parameter; sent empty, an optional one counts as not sent, unless it must
    be one of `choices` (then empty is not one of them: a 400, as the document says)."""
    value = request.query_params.get(name)
    if choices is not None and value is not None and value not in choices:
        raise Problem(
            400,
            "INVALID_REQUEST",
            f"{name!r} must be one of: {', '.join(sorted(choices))}",
            field=name,
        )
    if value is None or value == "":
        if required:
            raise Problem(
                400, "INVALID_REQUEST", f"query parameter {name!r} is required", field=name
            )
        return None
    if len(value) > max_len:
        raise Problem(
            400, "INVALID_REQUEST", f"{name!r} is longer than {max_len} characters", field=name
        )
    return value


def int_param(request: Request, name: str, *, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not _INTEGER.fullmatch(raw):
        raise Problem(400, "INVALID_REQUEST", f"{name!r} must be an integer", field=name)
    value = int(raw)
    if not low <= value <= high:
        raise Problem(
            400, "INVALID_REQUEST", f"{name!r} must be between {low} and {high}", field=name
        )
    return value


def as_json(value: Any) -> bytes:
    return msgspec.json.encode(value)


# Room left under the server's max_payload for the headers every message carries.
_HEADER_ROOM = 4096


def check_outbound(message: msgspec.Struct, max_payload: int) -> None:
    """The last check before a command or query leaves the gateway: every instant in range,
    no NUL in any text, and small enough for the NATS server. Routes check their fields
    first, naming them as the caller does; this makes it impossible for one to forget."""
    check_values(message)
    size = len(as_json(message))
    metadata = getattr(message, "metadata", None)
    # Metadata is part of the message: only a message larger than its bound can break it.
    if size > MAX_METADATA_BYTES and metadata and len(as_json(metadata)) > MAX_METADATA_BYTES:
        raise Problem(
            413,
            "METADATA_TOO_LARGE",
            f"metadata exceeds {MAX_METADATA_BYTES // 1024} KiB encoded as JSON",
            field="metadata",
        )
    most = min(MAX_MESSAGE_BYTES, max_payload - _HEADER_ROOM)
    if size > most:
        raise Problem(
            413,
            "PAYLOAD_TOO_LARGE",
            f"the request makes a message of {size} bytes; the bus takes at most {most}",
        )


async def object_body(
    request: Request, *, status: int = 400, code: str = "INVALID_REQUEST"
) -> dict[str, Any]:
    """The request's body as a JSON object (none: `{}`), every text and instant in it
    checked, for the surfaces that read their bodies field by field; refused with `status`
    and `code`, which each surface answers in its own shape."""
    raw = await request.body()
    if not raw:
        return {}
    try:
        value = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise Problem(status, code, f"the body is not valid JSON: {exc}", field="body") from None
    if not isinstance(value, dict):
        raise Problem(status, code, "the body must be a JSON object", field="body")
    check_values(value, status=status, code=code)
    return value


def check_values(
    value: Any, path: str = "", status: int = 400, code: str = "INVALID_REQUEST"
) -> None:
    """Raise a problem naming the first instant out of range or text with NUL in `value`
    (a decoded body: structs by their wire names, dicts, lists)."""
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        node, at = stack.pop()
        if isinstance(node, datetime):
            if problem := instant_problem(node):
                raise Problem(status, code, f"{at} {problem}", field=at)
        elif isinstance(node, str):
            if problem := text_problem(node):
                raise Problem(status, code, f"{at} {problem}", field=at)
        elif isinstance(node, msgspec.Struct):
            for attribute, name in wire_names(type(node)):
                stack.append((getattr(node, attribute), f"{at}.{name}" if at else name))
        elif isinstance(node, dict):
            stack.extend((v, f"{at}.{k}" if at else str(k)) for k, v in node.items())
        elif isinstance(node, list | tuple):
            stack.extend((v, f"{at}[{i}]") for i, v in enumerate(node))


def about_param(request: Request) -> str | None:
    """`?about=`: one person of the user's memories (a speaker's name as metadata.author
    gave it, or the userId for the user themselves; mnemo.contracts.speakers.is_about)."""
    return query_param(request, "about", max_len=MAX_ID_CHARS)


# Mem0's read filters take "*" for "any"; an id stored as "*" would be a user or session
# that a later read or delete could not tell from everyone, so no write names one.
WILDCARD = "*"


def check_not_wildcard(value: str | None, field: str) -> None:
    """Refuse `*` as an id written or named to delete (it means "any" only in a filter)."""
    if value == WILDCARD:
        raise Problem(
            400,
            "INVALID_REQUEST",
            f"{field} cannot be '*': it means any in a read filter, never one id",
            field=field,
        )
