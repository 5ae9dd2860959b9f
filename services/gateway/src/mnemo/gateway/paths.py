"""A request's path as a log line, an audit entry and a span show it.

The path is the caller's to write: a key put in it (`DELETE /v1/keys/mk_…`, the key for
its id) is shown as its placeholder. Ids the log keeps in clear (tenant, user, agent,
memory) are shown as they are; a segment a route says names what a user said
(`withhold_in_path`) is shown as `{withheld}`.
"""

from litestar.types import Scope

from mnemo.redaction import redact

WITHHELD = "{withheld}"
_WITHHELD_KEY = "withheld_in_path"


def withhold_in_path(scope: Scope, value: str) -> None:
    """Log, audit and trace this request's path with the segment `value` (or the
    segments, when it holds `/`) as `{withheld}`.

    Ids the log keeps in clear (tenant, user, agent, memory) are shown in a path as they
    are; a route whose path names what a user said calls this for it: a Mem0 run's name
    (`DELETE /v2/entities/run/{name}/`) is a session id, which the audit never keeps (a
    forget erases it from the bus; the audit is never erased)."""
    state = scope.setdefault("state", {})
    state.setdefault(_WITHHELD_KEY, set()).add(value)


def shown_path(scope: Scope) -> str:
    """The request's path as a log line, an audit entry and a span show it: a key in it as
    its placeholder, a segment a route withheld as `{withheld}`."""
    path = scope["path"]
    withheld = (scope.get("state") or {}).get(_WITHHELD_KEY)
    if withheld:
        path = "/".join(WITHHELD if part in withheld else part for part in path.split("/"))
        # A value of several segments (a Mem0 run named `team/alpha`): as one.
        for value in withheld:
            if "/" in value:
                path = path.replace(f"/{value}/", f"/{WITHHELD}/")
                if path.endswith(f"/{value}"):
                    path = path[: -len(value)] + WITHHELD
    return redact(path).text
