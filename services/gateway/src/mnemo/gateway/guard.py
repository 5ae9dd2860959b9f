"""The input guard: every request's path, query and body are checked, before any route
sees them, against what the stores behind the gateway can hold (mnemo.contracts.limits).

One mechanism for every surface (native, Elephantasm, MEMANTO, ElizaOS), so that no route
can forget a check and no hostile input reaches a parser, a query service or the log:

- the path and every query parameter: valid UTF-8 once percent-decoded, no NUL, each value
  at most MAX_PARAM_CHARS long (400 naming the parameter); no path segment that is a
  secret (below: ids travel in paths too);
- a body: valid UTF-8 (400, field `body`); when it is JSON, nested at most MAX_JSON_DEPTH
  deep and with no NUL in any key or string (400 naming the JSON path, as in
  `items[3].metadata.note`). JSON that msgspec cannot read although it is JSON, a lone
  UTF-16 surrogate escaped in a key or string (`"\\ud800"`: no character, so no store
  takes it) or a number beyond what a float or an int holds (`1e400`, an int of more than
  4300 digits), is refused naming where it is too (`unreadable_json`), not as the body's
  fault (but on /mcp, whose JSON-RPC answers them itself). A body that is not JSON is left
  to the route, which answers 400 MALFORMED_JSON;
- an id (a query parameter or JSON field named `id`, `userId`, `user_id`, `agentId`, ...)
  that is a key, a token or another secret `mnemo.redaction` knows: 400 INVALID_ID naming
  it. Ids are stored, indexed and audited as they are (content and metadata are redacted
  instead), so a key sent in an id's place by mistake would otherwise stay in the log. A
  number that looks like a card number is an id all the same (Discord and Twitter ids
  are 17-19 digits).

A body that does not all arrive within MNEMO_BODY_TIMEOUT is answered 408 (field `body`)
and its connection closed: it is read here, inside load shedding, so a slow client must
not keep the slot its request took.

A refusal is shaped as the surface the path belongs to answers its errors (`shapes`:
path prefix -> the surface's error response), else as problem+json.
"""

import json
import math
import re
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import unquote_to_bytes

import msgspec
from litestar import Response

from mnemo.contracts.limits import MAX_JSON_DEPTH, MAX_PARAM_CHARS
from mnemo.gateway.body import DEFAULT_TIMEOUT, BodyTimeout, read_body, replay
from mnemo.gateway.problems import PROBLEM_JSON, Problem, problem_body
from mnemo.redaction import redact

# Plain ASGI: the messages are ordinary dicts.
ASGIApp = Any
Scope = Any
Receive = Any
Send = Any

_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# A name that names an id: "id", "userId", "user_id", "memory-id", "USER_ID" (not "valid").
_ID_NAME = re.compile(r"(?:^|[_\-])(?:id|Id|ID)$|[a-z0-9](?:Id|ID)$")
# What an id may look like although the redactor reads it as a secret.
_ID_LOOKALIKES = frozenset({"card_number"})
# A JSON escape of a UTF-16 surrogate (half of a pair, or a lone one).
_ESCAPED_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")
# The headers that name one thing (a key, a session, a retry, a stream position), by their
# lower-case name, with the name a refusal gives them.
_SINGLE = {
    name.lower().encode(): name
    for name in (
        "Authorization",
        "X-API-KEY",
        "Idempotency-Key",
        "X-Session-Token",
        "Last-Event-ID",
    )
}
# The query parameters a path takes as a list, each given as often as one likes.
_LISTS: dict[str, frozenset[str]] = {"/v1/events/stream": frozenset({"type"})}
# Paths whose JSON-RPC answers what its parsers cannot read itself, in its own terms
# (-32700, or a tool's error naming the argument: mnemo.gateway.mcp.endpoint).
_OWN_PARSERS = frozenset({"/mcp"})


class Refused(Exception):
    """Input the stores cannot hold: answered 400 naming `field`."""

    def __init__(self, code: str, detail: str, field: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.field = field


Shape = Callable[[Problem], Response[bytes]]


def slow_body(exc: BodyTimeout) -> Problem:
    """A body that did not all arrive in time (body.read_body): 408, and the connection
    closed, since the rest of the body may still be on its way."""
    return Problem(
        408,
        "REQUEST_TIMEOUT",
        f"the request body did not all arrive within {exc.timeout:g} seconds",
        field="body",
        headers={"Connection": "close"},
    )


class InputGuard:
    def __init__(
        self,
        app: ASGIApp,
        max_body: int,
        shapes: Sequence[tuple[str, Shape]] = (),
        body_timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.app = app
        self.max_body = max_body
        self.shapes = list(shapes)
        self.body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            check_path(scope.get("path", ""), scope.get("raw_path"))
            check_headers(scope.get("headers", []))
            check_query(scope.get("query_string", b""), scope.get("path", ""))
            if scope["method"] in _BODY_METHODS:
                body = await read_body(receive, self.max_body, timeout=self.body_timeout)
                receive = replay(body, receive)
                if body and (coding := content_coding(scope)) is not None:
                    await send_refusal(
                        send, scope.get("path", ""), unsupported_coding(coding), self.shapes
                    )
                    return
                if len(body) > self.max_body:
                    # Answered here, in the surface's shape and naming the body, as every
                    # other refusal of a body is (the router's own 413 named nothing, and
                    # the MCP SDK's was plain text).
                    await send_refusal(
                        send, scope.get("path", ""), too_large(self.max_body), self.shapes
                    )
                    return
                check_body(body, locate=scope.get("path") not in _OWN_PARSERS)
        except Refused as refused:
            await self._refuse(send, scope.get("path", ""), refused)
            return
        except BodyTimeout as slow:
            await send_refusal(send, scope.get("path", ""), slow_body(slow), self.shapes)
            return
        await self.app(scope, receive, send)

    async def _refuse(self, send: Send, path: str, refused: Refused) -> None:
        problem = Problem(400, refused.code, refused.detail, field=refused.field)
        await send_refusal(send, path, problem, self.shapes)


def shape_for(path: str, shapes: Sequence[tuple[str, Shape]]) -> Shape | None:
    """The error shape of the surface `path` belongs to (a prefix "/api/v2/" holds
    "/api/v2" itself too), or None for problem+json."""
    return next(
        (f for prefix, f in shapes if path.startswith(prefix) or path == prefix.rstrip("/")),
        None,
    )


async def send_refusal(
    send: Send, path: str, problem: Problem, shapes: Sequence[tuple[str, Shape]]
) -> None:
    """Answer `problem` from a middleware, before any route: in the shape of the surface
    `path` belongs to (`shapes`: path prefix -> its error response), else problem+json."""
    shape = shape_for(path, shapes)
    headers = {k.lower(): v for k, v in problem.headers.items()}
    if shape is not None:
        response = shape(problem)
        status, body = response.status_code, response.content
        media_type = str(response.media_type)
        headers.update({k.lower(): v for k, v in response.headers.items()})
    else:
        status, media_type, body = problem.status, PROBLEM_JSON, problem_body(problem, path)
    headers["content-type"] = media_type
    headers["content-length"] = str(len(body))
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
        }
    )
    await send({"type": "http.response.body", "body": body})


def content_coding(scope: Scope) -> str | None:
    """The request's Content-Encoding when it is one the gateway does not decode (any but
    `identity`), else None. Bodies are read as they come: a gzip body was refused as not
    UTF-8, naming the body, and a coded one that happened to read as JSON was taken as
    it was sent."""
    for name, value in scope.get("headers", []):
        if bytes(name).lower() == b"content-encoding":
            coding = bytes(value).decode("latin-1").strip().lower()
            if coding not in ("", "identity"):
                return coding
    return None


def unsupported_coding(coding: str) -> Problem:
    """415 for a content coding the gateway does not decode (RFC 9110 15.5.16), with the
    codings it does in Accept-Encoding."""
    return Problem(
        415,
        "UNSUPPORTED_CONTENT_ENCODING",
        f"a body in Content-Encoding {coding!r} is not taken: send it as it is (identity)",
        field="Content-Encoding",
        headers={"Accept-Encoding": "identity"},
    )


def too_large(max_body: int) -> Problem:
    """A body over MNEMO_MAX_BODY_BYTES: 413 naming it."""
    return Problem(
        413,
        "PAYLOAD_TOO_LARGE",
        f"the request body is larger than {max_body} bytes (MNEMO_MAX_BODY_BYTES)",
        field="body",
    )


def check_path(path: str, raw_path: bytes | None = None) -> None:
    """`path` as the server decoded it from `raw_path`: percent-decoded bytes that are no
    UTF-8 (`%ff`, `%ED%A0%80`) are refused, as in a query parameter; the server would have
    put U+FFFD in their place, naming another id (a Mem0 `DELETE /v2/entities/user/%ff`
    forgot the user "U+FFFD")."""
    if raw_path is not None:
        try:
            unquote_to_bytes(raw_path).decode("utf-8")
        except UnicodeDecodeError:
            raise Refused(
                "INVALID_ENCODING", "the path is not valid UTF-8 once percent-decoded", "path"
            ) from None
    if "\x00" in path:
        raise Refused("INVALID_REQUEST", "the path must not contain NUL (%00)", "path")
    # Ids travel in paths too (`/v1/agents/{id}`, MEMANTO's `/agents/{id}/activate`, which
    # makes the agent): a secret there would be stored and audited as the id.
    for segment in path.split("/"):
        if segment and (kinds := _secret_kinds(segment)):
            raise Refused(
                "INVALID_ID",
                f"a path segment looks like a secret ({', '.join(sorted(kinds))}), not an "
                "id: a key goes in the Authorization header",
                "path",
            )


def check_headers(headers: Sequence[tuple[bytes, bytes]]) -> None:
    """A header that names one thing (`_SINGLE`) given twice is refused naming it (RFC 9110
    5.3: only a list may be sent as several lines): its readers took different ones, the
    Idempotency-Key's middleware the last and the route the first, and so for a key."""
    seen: set[bytes] = set()
    for raw_name, _ in headers:
        name = bytes(raw_name).lower()
        if name in _SINGLE:
            if name in seen:
                shown = _SINGLE[name]
                raise Refused("INVALID_REQUEST", f"{shown} is given more than once", shown)
            seen.add(name)


def check_query(raw: bytes, path: str = "") -> None:
    """Each `name=value` of a query string, decoded as the routes will decode it; a name
    given twice is refused (but a list `path` takes, `_LISTS`): each route reads one value,
    some the first and some the last, so `user_id=a&user_id=b` read a user, or deleted
    one (Mem0's `DELETE /v1/memories/` deleted b's memories only, and answered 200)."""
    seen: set[str] = set()
    for part in raw.split(b"&"):
        if not part:
            continue
        raw_name, _, raw_value = part.partition(b"=")
        name = _decode_param(raw_name, "query")
        value = _decode_param(raw_value, name)
        if name in seen and name not in _LISTS.get(path, ()):
            raise Refused(
                "INVALID_REQUEST",
                f"query parameter {name!r} is given more than once: it takes one value",
                name,
            )
        if name:
            seen.add(name)
        if "\x00" in name or "\x00" in value:
            raise Refused("INVALID_REQUEST", f"query parameter {name!r} must not contain NUL", name)
        if len(value) > MAX_PARAM_CHARS:
            raise Refused(
                "INVALID_REQUEST",
                f"query parameter {name!r} is longer than {MAX_PARAM_CHARS} characters",
                name,
            )
        check_id(name, value, name)


def check_id(name: str, value: object, field: str) -> None:
    """An id must not be a secret (see the module's docstring)."""
    if not isinstance(value, str) or not _ID_NAME.search(name):
        return
    if kinds := _secret_kinds(value):
        raise Refused(
            "INVALID_ID",
            f"{field} looks like a secret ({', '.join(sorted(kinds))}), not an id: a key "
            "goes in the Authorization header",
            field,
        )


def _secret_kinds(value: str) -> set[str]:
    return {r.kind for r in redact(value).redactions} - _ID_LOOKALIKES


def _decode_param(raw: bytes, field: str) -> str:
    try:
        return unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(
            "INVALID_ENCODING", f"query parameter {field!r} is not valid UTF-8", field
        ) from None


def check_body(body: bytes, *, locate: bool = True) -> None:
    """See the module's docstring; `locate`: name what msgspec could not read although it
    is JSON (`unreadable_json`), else leave it to the route."""
    if not body:
        return
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Refused(
            "INVALID_ENCODING", f"the body is not valid UTF-8 (byte {exc.start})", "body"
        ) from None
    try:
        value = msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        if locate:
            unreadable_json(body, str(exc))
        return  # not JSON: the route says so
    except RecursionError:
        raise Refused(
            "TOO_DEEP", f"JSON may be nested at most {MAX_JSON_DEPTH} levels deep", "body"
        ) from None
    check_json(value)


class _OutOfRange:
    """A JSON number no float or int holds (json.loads reads it, msgspec does not)."""


_OUT_OF_RANGE = _OutOfRange()


def _int(text: str) -> Any:
    try:
        return int(text)
    except ValueError:  # more digits than Python (and msgspec) read
        return _OUT_OF_RANGE


def _float(text: str) -> Any:
    value = float(text)
    return value if math.isfinite(value) else _OUT_OF_RANGE


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def shown_key(key: str) -> str:
    """A JSON key as a field's name: a lone surrogate written as its escape, since no
    answer could carry it (it is no character)."""
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", key)


def unreadable_json(raw: bytes | str, reason: str) -> None:
    """Raise Refused naming where `raw` holds what msgspec refused (`reason`) although it
    is JSON: a lone surrogate in a string or key, or a number out of range. Returns when
    it is something else (not JSON at all: the route says so, naming the body). Only
    bodies that may hold one are read again (Python's parser is slower than msgspec's)."""
    data = raw.encode() if isinstance(raw, str) else raw
    if "out of range" not in reason and not _ESCAPED_SURROGATE.search(data):
        return
    try:
        value = json.loads(data, parse_int=_int, parse_float=_float, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        return
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        node, path = stack.pop()
        if node is _OUT_OF_RANGE:
            raise Refused(
                "INVALID_REQUEST",
                f"{path or 'body'} is a number out of range (no float or integer holds it)",
                path or "body",
            )
        if isinstance(node, str):
            if _SURROGATE.search(node):
                raise Refused(
                    "INVALID_ENCODING",
                    f"{path or 'body'} holds a lone UTF-16 surrogate (\\ud800-\\udfff), "
                    "which is no character",
                    path or "body",
                )
        elif isinstance(node, list):
            stack.extend((item, f"{path}[{i}]") for i, item in enumerate(node))
        elif isinstance(node, dict):
            for key, item in node.items():
                at = f"{path}.{shown_key(key)}" if path else shown_key(key)
                if _SURROGATE.search(key):
                    raise Refused(
                        "INVALID_ENCODING",
                        f"the JSON key {at} holds a lone UTF-16 surrogate, which is no character",
                        at,
                    )
                stack.append((item, at))


def check_json(value: Any) -> None:
    """Walk the document without recursion (its depth is what is being checked)."""
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    while stack:
        node, path, depth = stack.pop()
        if isinstance(node, str):
            if "\x00" in node:
                raise Refused(
                    "INVALID_REQUEST", f"{path or 'body'} must not contain NUL", path or "body"
                )
            continue
        if not isinstance(node, dict | list):
            continue
        if depth >= MAX_JSON_DEPTH:
            raise Refused(
                "TOO_DEEP",
                f"JSON may be nested at most {MAX_JSON_DEPTH} levels deep",
                path or "body",
            )
        if isinstance(node, list):
            stack.extend((item, f"{path}[{i}]", depth + 1) for i, item in enumerate(node))
            continue
        for key, item in node.items():
            at = f"{path}.{key}" if path else str(key)
            if "\x00" in key:
                raise Refused("INVALID_REQUEST", "a JSON key must not contain NUL", at)
            check_id(key, item, at)
            stack.append((item, at, depth + 1))
