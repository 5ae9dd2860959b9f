"""Rate limits per key and minute, monthly quotas per tenant, and failed authentications
per client address and minute, shared by every gateway replica through exact JetStream
counters (mnemo.gateway.counters).

A limit must hold: when the counter store cannot be reached, the call is refused (503
with Retry-After), never let through unchecked. Every call is counted, refused ones too,
so a client hammering past its limit stays refused until the window turns.
"""

import hashlib
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from nats.aio.client import Client

from mnemo.contracts import Topology
from mnemo.gateway.counters import Counters, CountersUnavailable
from mnemo.gateway.problems import Problem, unavailable
from mnemo.telemetry import get_logger
from mnemo.telemetry.metrics import RATE_LIMITED

log = get_logger(__name__)

T = TypeVar("T")

# Seconds a client is told to wait when the counter store does not answer.
UNAVAILABLE_RETRY_AFTER = 2
# At most this many blocked client addresses are remembered per replica and minute.
_MAX_BLOCKED = 100_000


# Every action a call is charged as (`authorize(request, action)`, sign-up and health by
# client address), and "default" for those a setting does not name: a name not among
# them is a typo that would limit nothing, refused at start.
ACTIONS = frozenset(
    {
        "admin", "answer", "audit", "batch", "context", "entities", "facts", "forget",
        "health", "ingest", "mcp", "memories", "search", "signup", "stream",
    }
)  # fmt: skip


def parse_limits(spec: str, setting: str) -> dict[str, int]:
    """ "ingest=100,search=60" -> {"ingest": 100, "search": 60}."""
    limits: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, sep, value = part.partition("=")
        if not sep or not value.strip().isdigit():
            raise ValueError(f"{setting} entries look like name=number, not {part!r}")
        if name.strip() not in ACTIONS | {"default"}:
            known = ", ".join(sorted(ACTIONS | {"default"}))
            raise ValueError(f"{setting}: no action {name.strip()!r} (one of: {known})")
        limits[name.strip()] = int(value)
    return limits


def parse_tenant_limits(spec: str, setting: str) -> dict[str, dict[str, int]]:
    """ "t_1:search=100,default=500;t_2:ingest=10" -> {"t_1": {...}, "t_2": {...}}."""
    limits: dict[str, dict[str, int]] = {}
    for part in filter(None, (p.strip() for p in spec.split(";"))):
        tenant, sep, rest = part.partition(":")
        if not sep or not tenant.strip():
            raise ValueError(f"{setting} entries look like tenant:name=number,..., not {part!r}")
        limits[tenant.strip()] = parse_limits(rest, setting)
    return limits


@dataclass(frozen=True)
class Usage:
    limit: int
    remaining: int
    reset: int  # seconds until the window starts again


@dataclass(frozen=True)
class LimitSpec:
    """What Limits.open needs from the settings, parsed."""

    per_minute: dict[str, int]
    monthly: dict[str, int]
    tenant_per_minute: dict[str, int]
    per_tenant: dict[str, dict[str, int]]
    auth_failures: int  # failed authentications per client address and minute (0: no limit)


class Limits:
    def __init__(self, minute: Counters, month: Counters, spec: LimitSpec) -> None:
        self._minute = minute
        self._month = month
        self._spec = spec
        # Client addresses over their failed-auth limit, by the minute window they hit it in:
        # a replica refuses their unknown keys without a lookup or a count until it turns.
        self._blocked: dict[str, int] = {}

    @classmethod
    async def open(
        cls, nc: Client, topology: Topology, spec: LimitSpec, timeout: float, replicas: int = 1
    ) -> "Limits":
        root = topology.root
        minute = await Counters.open(
            nc, f"{root.upper()}_RATE_COUNTERS", f"{root}.limits.minute", 180, timeout, replicas
        )
        month = await Counters.open(
            nc,
            f"{root.upper()}_QUOTA_COUNTERS",
            f"{root}.limits.month",
            40 * 86400,
            timeout,
            replicas,
        )
        return cls(minute, month, spec)

    async def charge(
        self, tenant_id: str, api_key: str, action: str, *, tenant_wide: bool = True
    ) -> Usage | None:
        """Count one call of `action` against the key's and the tenant's per-minute limits
        and the tenant's monthly quota; raise 429/402 problems when over (503 when the
        counts cannot be taken); return the usage to show: the key's, or, for a caller
        who may see the tenant's (`tenant_wide`: not an agent key, whose answers must not
        tell how busy the tenant's other agents are), the one nearest its limit."""
        spec = self._spec
        window, reset = _minute_window()
        usage = None
        key_limit = spec.per_minute.get(action, spec.per_minute.get("default"))
        tenant_limits = spec.per_tenant.get(tenant_id, spec.tenant_per_minute)
        tenant_limit = tenant_limits.get(action, tenant_limits.get("default"))
        for limit, counter, scope in (
            (key_limit, (tenant_id, _fingerprint(api_key), action, str(window)), "key"),
            (tenant_limit, (tenant_id, "_tenant", action, str(window)), "tenant"),
        ):
            if limit is None:
                continue
            # In turn, not at once: a call the key's limit refuses spends none of the tenant's.
            count = await _counted(self._minute.incr(*counter))
            seen = Usage(limit=limit, remaining=max(limit - count, 0), reset=reset)
            shown = scope == "key" or tenant_wide
            if shown and (usage is None or seen.remaining < usage.remaining):
                usage = seen
            if count > limit:
                raise _too_many(
                    f"rate limit exceeded: {limit} {action} calls per minute per {scope}",
                    seen,
                    scope,
                )
        quota = spec.monthly.get(action)
        month = datetime.now(UTC).strftime("%Y%m")
        if quota is None:
            # Counted for the usage report (Elephantasm's /api/subscriptions/usage), not
            # waited for: nothing is refused on it.
            await self._month.bump(tenant_id, action, month)
        else:
            used = await _counted(self._month.incr(tenant_id, action, month))
            if used > quota:
                RATE_LIMITED.labels("quota").inc()
                raise Problem(
                    402,
                    "QUOTA_EXCEEDED",
                    f"monthly {action} quota of {quota} is used up",
                    details={"quota": quota, "period": month},
                )
        return usage

    def auth_blocked(self, address: str) -> Problem | None:
        """The 429 for a client address already over its failed-auth limit this minute
        (as this replica has seen it), without any I/O; else None."""
        window, reset = _minute_window()
        if self._blocked.get(address) != window:
            return None
        limit = self._spec.auth_failures
        return _auth_problem(Usage(limit=limit, remaining=0, reset=reset))

    async def auth_failed(self, address: str) -> Usage | None:
        """Count a failed authentication from `address`; raise 429 once over the limit;
        else the address's failed-auth usage this minute (None: no limit)."""
        limit = self._spec.auth_failures
        if limit <= 0:
            return None
        window, reset = _minute_window()
        count = await _counted(self._minute.incr("_auth", _fingerprint(address), str(window)))
        if count <= limit:
            return Usage(limit=limit, remaining=limit - count, reset=reset)
        if len(self._blocked) >= _MAX_BLOCKED:
            self._blocked = {a: w for a, w in self._blocked.items() if w == window}
        if len(self._blocked) < _MAX_BLOCKED:
            self._blocked[address] = window
        raise _auth_problem(Usage(limit=limit, remaining=0, reset=reset))

    async def auth_usage(self, address: str) -> Usage | None:
        """The address's failed-auth usage this minute, not counting this call (None: no
        limit, or the counters are away: a 401 is answered all the same)."""
        limit = self._spec.auth_failures
        if limit <= 0:
            return None
        window, reset = _minute_window()
        try:
            count = await self._minute.value("_auth", _fingerprint(address), str(window))
        except CountersUnavailable:
            return None
        return Usage(limit=limit, remaining=max(limit - count, 0), reset=reset)

    @property
    def monthly_quotas(self) -> dict[str, int]:
        return dict(self._spec.monthly)

    async def month_usage(self, tenant_id: str) -> dict[str, int]:
        """This month's count of each action the tenant's keys called (and of each action
        with a quota, called or not)."""
        month = datetime.now(UTC).strftime("%Y%m")
        used = dict.fromkeys(self._spec.monthly, 0)
        for name, total in (await _counted(self._month.totals(tenant_id))).items():
            action, _, period = name.partition(".")
            if period == month:
                used[action] = total
        return dict(sorted(used.items()))


async def _counted(count: Awaitable[T]) -> T:
    try:
        return await count
    except CountersUnavailable as exc:
        # Refuse rather than let an uncounted call through: a limit must hold.
        log.warning("limit_store_unavailable", error=exc)
        raise unavailable(
            "LIMITS_UNAVAILABLE",
            "rate limits cannot be checked right now; try again shortly",
            UNAVAILABLE_RETRY_AFTER,
        ) from None


def _too_many(detail: str, usage: Usage, scope: str) -> Problem:
    RATE_LIMITED.labels(scope).inc()
    return Problem(
        429,
        "RATE_LIMIT",
        detail,
        details={
            "limit": usage.limit,
            "remaining": 0,
            "retryAfter": usage.reset,
            "scope": scope,
        },
        headers={"Retry-After": str(usage.reset), **usage_headers(usage)},
    )


def _auth_problem(usage: Usage) -> Problem:
    return _too_many(
        f"too many failed authentications from this address: {usage.limit} per minute",
        usage,
        "address",
    )


def _minute_window() -> tuple[int, int]:
    """(this minute's number, seconds until the next one starts)."""
    now = time.time()
    return int(now // 60), 60 - int(now % 60)


def usage_headers(usage: Usage) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(usage.limit),
        "X-RateLimit-Remaining": str(usage.remaining),
        "X-RateLimit-Reset": str(usage.reset),
    }


def _fingerprint(api_key: str) -> str:
    # Counters are keyed by a digest, so no key ever appears in a bucket.
    return hashlib.sha256(api_key.encode()).hexdigest()[:16]
