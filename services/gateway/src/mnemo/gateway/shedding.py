"""Load shedding: a bound on the requests one gateway replica works on at once, a share
of it per tenant, and a share of the tenant's per key, so that a burst is refused early
and cheaply (503 + Retry-After, before authentication, limits or any service is asked)
instead of queueing into timeouts, one noisy tenant cannot starve the others, and one
noisy key (an agent's) cannot starve its tenant's other keys (the master key, the
console, sibling agents).

A request belongs to the tenant and key of its key as this replica's copy of the keys
knows it (an HMAC and a dict lookup, no I/O); a request without a known key belongs to
its client address, so floods of bad keys or anonymous calls have a share too. Health
checks and event streams (which last as long as the client stays) are not counted here;
event streams have bounds of their own, the same nested shares (StreamSlots).
"""

import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from litestar.types import ASGIApp, Receive, Scope, Send

from mnemo.gateway.auth import known_principal, presented_key
from mnemo.gateway.guard import Shape, send_refusal
from mnemo.gateway.problems import Problem
from mnemo.telemetry import get_logger

log = get_logger(__name__)

RETRY_AFTER = 1  # seconds: a slot frees as soon as any request in flight is answered
# Seconds a client refused an event stream is asked to wait: streams free when clients go.
STREAM_RETRY_AFTER = 5
# Health checks and event streams are never shed; /api/server/ping is the orchestrator's
# liveness and readiness probe (deploy/k8s): shedding it would restart a busy replica.
_EXEMPT = ("/v1/health", "/v1/events/stream", "/api/server/ping")
_LOG_EVERY = 1.0  # seconds between two "load_shed" lines of one replica


def nested_share(bound: int, share: float) -> int:
    """`share` of `bound`, at least 1: a tenant's of the replica's, a key's of its tenant's."""
    return max(1, int(bound * share))


class LoadShedder:
    """ASGI middleware: at most `max_in_flight` requests at once, `share` of them per owner
    (a tenant, or a client address), and `share` of an owner's share per key."""

    def __init__(
        self,
        app: ASGIApp,
        state: Any,
        max_in_flight: int,
        share: float,
        shapes: Sequence[tuple[str, Shape]] = (),
    ) -> None:
        self.app = app
        self.shapes = list(shapes)
        self.state = state
        self.max_in_flight = max_in_flight
        self.per_owner = nested_share(max_in_flight, share)
        self.per_key = nested_share(self.per_owner, share)
        self.in_flight = 0
        self.held: Counter[str] = Counter()  # by owner, and by key ("key:tenant/key_id")
        self._shed = 0
        self._logged = 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.max_in_flight <= 0 or scope["path"].startswith(_EXEMPT):
            await self.app(scope, receive, send)
            return
        owner, key = self._owner(scope)
        if self.in_flight >= self.max_in_flight:
            await self._refuse(scope, send, "server")
            return
        if self.held[owner] >= self.per_owner:
            await self._refuse(scope, send, owner.partition(":")[0])
            return
        if key is not None and self.held[key] >= self.per_key:
            await self._refuse(scope, send, "key")
            return
        holds = (owner,) if key is None else (owner, key)
        self.in_flight += 1
        self.held.update(holds)
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
            for name in holds:
                self.held[name] -= 1
                if not self.held[name]:
                    del self.held[name]

    def _owner(self, scope: Scope) -> tuple[str, str | None]:
        """The owner whose share a request takes, and its key's (None without a known key)."""
        deps = getattr(self.state, "deps", None)
        key = _presented_key(scope)
        if deps is not None and key:
            principal = known_principal(key, deps.settings, deps.keys)
            if principal is not None:
                tenant = principal.tenant_id
                # An agent's key holds a share of its tenant's, so that one agent cannot
                # starve the tenant's other agents and its master keys; a master key acts
                # for the whole tenant (one key of a single-tenant server takes it all).
                if principal.is_master:
                    return "tenant:" + tenant, None
                return "tenant:" + tenant, f"key:{tenant}/{principal.key_id}"
        client = scope.get("client")
        return "address:" + (client[0] if client else "unknown"), None

    async def _refuse(self, scope: Scope, send: Send, kind: str) -> None:
        """`kind`: whose bound is reached, "server", "tenant", "address" or "key"."""
        detail = {
            "server": "the server is at capacity; retry shortly",
            "key": "too many requests of this key are in progress at once (its share of its"
            " tenant's); retry shortly",
        }.get(kind, "too many of your requests are in progress at once; retry shortly")
        # An address's share is told as a tenant's, as it always was.
        scope_name = "tenant" if kind == "address" else kind
        problem = Problem(
            503,
            "OVERLOADED",
            detail,
            details={"retryAfter": RETRY_AFTER, "scope": scope_name},
            headers={"Retry-After": str(RETRY_AFTER)},
        )
        # In the shape of the surface the path belongs to, as every other refusal.
        await send_refusal(send, scope["path"], problem, self.shapes)
        self._note_shed(kind)

    def _note_shed(self, kind: str) -> None:
        # One line a second at most: a burst being shed must not become a burst of logs.
        self._shed += 1
        now = time.monotonic()
        if now - self._logged >= _LOG_EVERY:
            log.warning("load_shed", refused=self._shed, scope=kind, in_flight=self.in_flight)
            self._shed, self._logged = 0, now


def _presented_key(scope: Scope) -> str:
    """The key of `Authorization` (Bearer or Token) or ElizaOS's `X-API-KEY`, else ''."""
    for name, value in scope.get("headers", []):
        name = bytes(name).lower()
        if name == b"authorization":
            return presented_key(bytes(value).decode("latin-1"))
        if name == b"x-api-key":
            return bytes(value).decode("latin-1").strip()
    return ""


class StreamSlots:
    """The event streams open on one replica, by tenant and by key, within
    MNEMO_MAX_STREAMS, MNEMO_TENANT_SHARE of it per tenant, and MNEMO_TENANT_SHARE of a
    tenant's share per key (0: no bound), so that one agent key cannot take every stream
    of its tenant (the console's live view, a sibling agent's). A stream is not a request
    in flight (it lasts as long as its client stays), so it is bounded here, by the route."""

    def __init__(self, limit: int, share: float) -> None:
        self.limit = limit
        self.per_tenant = nested_share(limit, share)
        self.per_key = nested_share(self.per_tenant, share)
        self.open: Counter[str] = Counter()  # by tenant
        self.open_by_key: Counter[tuple[str, str]] = Counter()  # by (tenant, key id)

    def take(self, tenant_id: str, key_id: str | None) -> Callable[[], None]:
        """A slot for one of the tenant's streams, opened with the agent key `key_id` (None:
        a master key, bound by the tenant's share only), or a Problem; the callable gives
        it back (once, however often it is called)."""
        key = (tenant_id, key_id) if key_id is not None else None
        if self.limit > 0:
            if sum(self.open.values()) >= self.limit:
                raise _stream_refused(
                    503, "OVERLOADED", "this server holds as many event streams as it may"
                )
            if self.open[tenant_id] >= self.per_tenant:
                raise _stream_refused(
                    429,
                    "TOO_MANY_STREAMS",
                    f"at most {self.per_tenant} event streams of one tenant are open at once;"
                    " close one, or retry later",
                )
            if key is not None and self.open_by_key[key] >= self.per_key:
                raise _stream_refused(
                    429,
                    "TOO_MANY_STREAMS",
                    f"at most {self.per_key} event streams of one key are open at once (this"
                    " key's share of its tenant's); close one, or retry later",
                )
        self.open[tenant_id] += 1
        if key is not None:
            self.open_by_key[key] += 1
        given = False

        def give() -> None:
            nonlocal given
            if not given:
                given = True
                self.open[tenant_id] -= 1
                if not self.open[tenant_id]:
                    del self.open[tenant_id]
                if key is not None:
                    self.open_by_key[key] -= 1
                    if not self.open_by_key[key]:
                        del self.open_by_key[key]

        return give


def _stream_refused(status: int, code: str, detail: str) -> Problem:
    return Problem(
        status,
        code,
        detail,
        details={"retryAfter": STREAM_RETRY_AFTER},
        headers={"Retry-After": str(STREAM_RETRY_AFTER)},
    )
