"""A request's path as a log line, an audit entry and a span show it.

The path is the caller's to write: a key put in it (`DELETE /v1/keys/mk_…`, the key for
its id) is shown as its placeholder. Ids the log keeps in clear (tenant, user, agent,
memory) are shown as they are; a segment that names what a user said is shown as
`{withheld}`, found by the path's shape (`_NAMED`), so whatever answers the request (its
route, or an Idempotency-Key replay, the input guard, a 405 before any route runs) shows it
so: a Mem0 run's or app's name, an ElizaOS room's id.
"""

import re

from litestar.types import Scope

from mnemo.redaction import redact

WITHHELD = "{withheld}"

# (prefix)(what is withheld)(rest). A Mem0 run is a session and an app is kept as metadata
# (`DELETE /v2/entities/{type}/{name}/`, the name the rest of the path, `/` and all); an
# ElizaOS room is a session (`/api/agents/{id}/rooms/{roomId}`, `…/rooms/{roomId}/memories`):
# the audit, which is never erased, keeps no session's name.
_NAMED = (
    re.compile(r"^((?:/mem0)?/v2/entities/(?:run|app)/)(.+?)(/?)$", re.DOTALL),
    re.compile(r"^(/api/(?:memory/)?(?:agents/)?[^/]+/rooms/)([^/]+)(.*)$", re.DOTALL),
)
_SLASHES = re.compile(r"/{2,}")


def shown_path(scope: Scope) -> str:
    """The request's path as a log line, an audit entry and a span show it: a key in it as
    its placeholder, a segment that names what a user said as `{withheld}` (the path as
    sent, else as the router reads it, `//` collapsed)."""
    path = scope["path"]
    for candidate in (path, _SLASHES.sub("/", path)):
        for pattern in _NAMED:
            found = pattern.match(candidate)
            if found:
                return redact(f"{found.group(1)}{WITHHELD}{found.group(3)}").text
    return redact(path).text
