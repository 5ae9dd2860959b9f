"""Rate limits per key and minute, and monthly quotas per tenant, shared by every gateway
replica through NATS KV counters (compare-and-set, so concurrent replicas never lose a
count). A limit the store cannot check is let through and logged: the bus being slow
must not take the API down with it.
"""

import hashlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from mnemo.contracts import Topology
from mnemo.gateway.problems import Problem
from mnemo.telemetry import get_logger

log = get_logger(__name__)

_CAS_ATTEMPTS = 20


def parse_limits(spec: str, setting: str) -> dict[str, int]:
    """ "ingest=100,search=60" -> {"ingest": 100, "search": 60}."""
    limits: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, sep, value = part.partition("=")
        if not sep or not value.strip().isdigit():
            raise ValueError(f"{setting} entries look like name=number, not {part!r}")
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


class Limits:
    def __init__(
        self,
        kv_minute: KeyValue,
        kv_month: KeyValue,
        per_minute: dict[str, int],
        monthly: dict[str, int],
        tenant_per_minute: dict[str, int] | None = None,
        per_tenant: dict[str, dict[str, int]] | None = None,
    ) -> None:
        self._minute = kv_minute
        self._month = kv_month
        self._per_minute = per_minute
        self._monthly = monthly
        self._tenant_per_minute = tenant_per_minute or {}
        self._per_tenant = per_tenant or {}

    @classmethod
    async def open(
        cls,
        js: JetStreamContext,
        topology: Topology,
        per_minute: dict[str, int],
        monthly: dict[str, int],
        tenant_per_minute: dict[str, int] | None = None,
        per_tenant: dict[str, dict[str, int]] | None = None,
    ) -> "Limits":
        root = topology.root.upper()
        minute = await js.create_key_value(bucket=f"{root}_RATE", ttl=180, history=1)
        month = await js.create_key_value(bucket=f"{root}_QUOTA", ttl=40 * 86400, history=1)
        return cls(minute, month, per_minute, monthly, tenant_per_minute, per_tenant)

    async def charge(self, tenant_id: str, api_key: str, action: str) -> Usage | None:
        """Count one call of `action` against the key's and the tenant's per-minute limits
        and the tenant's monthly quota; raise 429/402 problems when over; return the usage
        nearest its limit."""
        now = time.time()
        window = int(now // 60)
        reset = 60 - int(now % 60)
        usage = None
        key_limit = self._per_minute.get(action, self._per_minute.get("default"))
        tenant_limits = self._per_tenant.get(tenant_id, self._tenant_per_minute)
        tenant_limit = tenant_limits.get(action, tenant_limits.get("default"))
        for limit, counter, scope in (
            (key_limit, f"{tenant_id}.{_fingerprint(api_key)}.{action}.{window}", "key"),
            (tenant_limit, f"{tenant_id}._tenant.{action}.{window}", "tenant"),
        ):
            if limit is None:
                continue
            count = await self._count(self._minute, counter)
            if count is None:
                continue
            seen = Usage(limit=limit, remaining=max(limit - count, 0), reset=reset)
            if usage is None or seen.remaining < usage.remaining:
                usage = seen
            if count > limit:
                raise Problem(
                    429,
                    "RATE_LIMIT",
                    f"rate limit exceeded: {limit} {action} calls per minute per {scope}",
                    details={"limit": limit, "remaining": 0, "retryAfter": reset, "scope": scope},
                    headers={"Retry-After": str(reset), **usage_headers(seen)},
                )
        quota = self._monthly.get(action)
        if quota is not None:
            month = datetime.now(UTC).strftime("%Y%m")
            used = await self._count(self._month, f"{tenant_id}.{action}.{month}")
            if used is not None and used > quota:
                raise Problem(
                    402,
                    "QUOTA_EXCEEDED",
                    f"monthly {action} quota of {quota} is used up",
                    details={"quota": quota, "period": month},
                )
        return usage

    @property
    def monthly_quotas(self) -> dict[str, int]:
        return dict(self._monthly)

    async def month_usage(self, tenant_id: str) -> dict[str, int]:
        """This month's count of each action that has a quota (only those are counted)."""
        month = datetime.now(UTC).strftime("%Y%m")
        used: dict[str, int] = {}
        for action in self._monthly:
            try:
                entry = await self._month.get(f"{tenant_id}.{action}.{month}")
                used[action] = int(entry.value or b"0")
            except KeyNotFoundError:
                used[action] = 0
        return used

    async def _count(self, kv: KeyValue, key: str) -> int | None:
        try:
            for _ in range(_CAS_ATTEMPTS):
                try:
                    entry = await kv.get(key)
                except KeyNotFoundError:
                    try:
                        await kv.create(key, b"1")
                        return 1
                    except KeyWrongLastSequenceError:
                        continue
                count = int(entry.value or b"0") + 1
                try:
                    await kv.update(key, str(count).encode(), last=entry.revision)
                    return count
                except KeyWrongLastSequenceError:
                    continue
        except Exception as exc:
            log.warning("limit_unchecked", error=exc)
            return None
        log.warning("limit_unchecked", error="too much contention")
        return None


def usage_headers(usage: Usage) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(usage.limit),
        "X-RateLimit-Remaining": str(usage.remaining),
        "X-RateLimit-Reset": str(usage.reset),
    }


def _fingerprint(api_key: str) -> str:
    # Counters are keyed by a digest, so no key ever appears in a bucket.
    return hashlib.sha256(api_key.encode()).hexdigest()[:16]
