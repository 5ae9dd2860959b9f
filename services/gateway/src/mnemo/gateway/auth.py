"""Who is calling, and what their key lets them reach.

Keys are `mk_` (master: the whole tenant) or `ak_` (agent: one agent's memories). The
gateway keeps no key: it computes the presented key's HMAC-SHA256 under MNEMO_KEY_SECRET
and looks the digest up in a copy of the keys bucket that a NATS KV watch keeps current,
so a revocation reaches every replica as fast as the watch delivers it (milliseconds).
The development key (MNEMO_DEV_API_KEY) acts as a master key of MNEMO_DEV_TENANT.
"""

import asyncio
import contextlib
import hashlib
import hmac
import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import msgspec
from litestar import Request
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KV_DEL, KV_PURGE, KeyValue

from mnemo.contracts import KeyGrant, key_digest, utcnow
from mnemo.gateway.limits import UNAVAILABLE_RETRY_AFTER, Usage
from mnemo.gateway.problems import Problem, unavailable
from mnemo.gateway.settings import GatewaySettings
from mnemo.telemetry import get_logger

if TYPE_CHECKING:
    from mnemo.gateway.deps import Deps

log = get_logger(__name__)

# last_used_at is written at most this often per key and replica.
USAGE_EVERY_SECONDS = 30.0


@dataclass(frozen=True)
class Principal:
    tenant_id: str
    actor: str
    kind: str  # master | agent
    key_id: str
    agent_id: str | None = None
    # An agent key's agent was made then (KeyGrant.agent_since): no history before it.
    agent_since: datetime | None = None

    def history_since(self, asked: datetime | None) -> datetime | None:
        """Where a read of history (audit entries, the event stream) may start: what the
        caller asked, never before its agent was made (a deleted agent's id made again
        sees nothing of the one deleted)."""
        if self.agent_since is None:
            return asked
        return self.agent_since if asked is None else max(asked, self.agent_since)

    @property
    def is_master(self) -> bool:
        return self.kind == "master"


class KeyCache:
    """Digest -> grant, kept in step with the keys bucket by a watch."""

    def __init__(self, keys: KeyValue, usage: KeyValue) -> None:
        self._kv = keys
        self._usage = usage
        self._grants: dict[str, KeyGrant] = {}
        # How many times the bucket has been watched from its start (a watch per connection).
        self.watches = 0
        self._used: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._pending: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._follow(), name="key-cache")
        # The initial values come first; wait for them so the first call sees every key.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), 10)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def resync(self) -> None:
        """Watch the bucket anew (NATS came back: the watch's consumer may be gone with the
        server, and a revocation meanwhile would wait for it to notice)."""
        await self.stop()
        self._task = asyncio.create_task(self._follow(), name="key-cache")

    async def _follow(self) -> None:
        while True:
            try:
                self.watches += 1
                watcher = await self._kv.watchall()
                # The bucket's values as they are now, in place of the copy once they are
                # all in (a key deleted while the watch was away is then gone too).
                fresh: dict[str, KeyGrant] | None = {}
                async for entry in watcher:
                    if entry is None:  # the initial values are all in
                        if fresh is not None:
                            self._grants, fresh = fresh, None
                        self._ready.set()
                        continue
                    grants = self._grants if fresh is None else fresh
                    if entry.operation in (KV_DEL, KV_PURGE) or not entry.value:
                        grants.pop(entry.key, None)
                        self._grants.pop(entry.key, None)
                    else:
                        grant = msgspec.json.decode(entry.value, type=KeyGrant)
                        grants[entry.key] = grant
                        if grant.revoked:  # a revocation counts at once, initial or not
                            self._grants[entry.key] = grant
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the connection comes back; so does the watch
                log.warning("key_watch_failed", error=exc)
                await asyncio.sleep(0.5)

    def cached(self, digest: str) -> KeyGrant | None:
        """The grant as this replica's copy has it, without any I/O."""
        return self._grants.get(digest)

    async def grant(self, digest: str) -> KeyGrant | None:
        found = self._grants.get(digest)
        if found is not None:
            return found
        # Not seen yet: a key issued a moment ago may still be on its way to the watch.
        try:
            entry = await self._kv.get(digest)
        except KeyNotFoundError:
            return None
        except Exception as exc:
            # Not known to be invalid: a valid key must not get a 401 (nor count as a failed
            # authentication) because the keys bucket could not be read.
            log.warning("key_lookup_failed", error=exc)
            raise unavailable(
                "KEYS_UNAVAILABLE",
                "the API key cannot be checked right now; try again shortly",
                UNAVAILABLE_RETRY_AFTER,
            ) from None
        if not entry.value:
            return None
        return msgspec.json.decode(entry.value, type=KeyGrant)

    def used(self, key_id: str) -> None:
        """Note the key's use (at most every USAGE_EVERY_SECONDS), without waiting for it."""
        now = time.monotonic()
        if now - self._used.get(key_id, -USAGE_EVERY_SECONDS) < USAGE_EVERY_SECONDS:
            return
        self._used[key_id] = now
        task = asyncio.create_task(self._note_use(key_id))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _note_use(self, key_id: str) -> None:
        try:
            await self._usage.put(key_id, utcnow().isoformat().encode())
        except Exception as exc:
            log.warning("key_usage_unrecorded", error=exc)

    async def last_used(self, key_id: str) -> datetime | None:
        """When the key was last used (to the minute), as every other instant is answered."""
        try:
            entry = await self._usage.get(key_id)
        except KeyNotFoundError:
            return None
        return datetime.fromisoformat(entry.value.decode()) if entry.value else None


async def authenticate(request: Request, deps: "Deps") -> Principal:
    """The caller's principal from `Authorization: Bearer <key>` (or `Token <key>`, as the
    Mem0 client sends it), else 401.

    A key presented in vain counts against the client address's failed-auth limit; an
    address over it gets 429 before any lookup, unless its key is one this replica knows
    (so a valid key behind the same address as a flood keeps working)."""
    key = presented_key(request.headers.get("authorization", ""))
    address = client_address(request)
    if not key:
        # Every answer carries rate-limit headers (seed 003): here the address's failed
        # authentications, the limit a caller without a valid key is under.
        _report(request, await deps.limits.auth_usage(address))
        raise Problem(401, "UNAUTHORIZED", "send your API key as 'Authorization: Bearer <key>'")
    blocked = deps.limits.auth_blocked(address)
    if blocked is not None:
        principal = known_principal(key, deps.settings, deps.keys)
        if principal is None:
            raise blocked
    else:
        principal = await principal_of(key, deps.settings, deps.keys)
    if principal is None:
        _report(request, await deps.limits.auth_failed(address))
        raise Problem(401, "UNAUTHORIZED", "the API key is invalid or revoked")
    state = request.scope["state"]
    state["tenant_id"] = principal.tenant_id
    state["actor"] = principal.actor
    state["principal"] = principal
    return principal


def presented_key(authorization: str) -> str:
    """The key of an Authorization header (`Bearer <key>`, or `Token <key>` as the Mem0
    client sends it), else ''. The one reading of it: authentication, the Idempotency-Key
    store and load shedding all take the key from here."""
    scheme, _, key = authorization.partition(" ")
    return key.strip() if scheme.lower() in ("bearer", "token") else ""


def _report(request: Request, usage: Usage | None) -> None:
    # The correlation middleware adds X-RateLimit-* from this to whatever is answered.
    if usage is not None:
        request.scope["state"]["rate_usage"] = usage


def client_address(request: Request) -> str:
    """The ASGI client host: the TCP peer, or what a proxy of MNEMO_FORWARDED_ALLOW_IPS
    says in X-Forwarded-For (uvicorn rewrites the client for those only)."""
    return request.client.host if request.client else "unknown"


async def principal_of(key: str, settings: GatewaySettings, keys: KeyCache) -> Principal | None:
    """The principal a key stands for now, or None (unknown or revoked)."""
    dev = _dev_principal(key, settings)
    if dev is not None:
        return dev
    if not settings.key_secret or not key.startswith(("mk_", "ak_")) or len(key) > 256:
        return None
    return _principal(await keys.grant(key_digest(settings.key_secret, key)), keys)


def known_principal(key: str, settings: GatewaySettings, keys: KeyCache) -> Principal | None:
    """principal_of from this replica's copy of the keys only: no I/O, for hot paths."""
    dev = _dev_principal(key, settings)
    if dev is not None:
        return dev
    if not settings.key_secret or not key.startswith(("mk_", "ak_")) or len(key) > 256:
        return None
    return _principal(keys.cached(key_digest(settings.key_secret, key)), keys)


def _dev_principal(key: str, settings: GatewaySettings) -> Principal | None:
    dev = settings.dev_api_key
    if dev is None or not hmac.compare_digest(key.encode(), dev.encode()):
        return None
    # Each development key its own id (replicas may be given different ones).
    key_id = "dev-" + hashlib.sha256(key.encode()).hexdigest()[:12]
    return Principal(tenant_id=settings.dev_tenant, actor="key:dev", kind="master", key_id=key_id)


def _principal(grant: KeyGrant | None, keys: KeyCache) -> Principal | None:
    if grant is None or grant.revoked:
        return None
    keys.used(grant.key_id)
    actor = (
        f"agent:{grant.agent_id}/key:{grant.key_id}"
        if grant.kind == "agent"
        else f"key:{grant.key_id}"
    )
    return Principal(
        tenant_id=grant.tenant_id,
        actor=actor,
        kind=grant.kind,
        key_id=grant.key_id,
        agent_id=grant.agent_id,
        agent_since=grant.agent_since,
    )


async def authorize(request: Request, action: str) -> Principal:
    """Authenticate, then charge the call to the key's rate limit and the tenant's quota."""
    from mnemo.gateway.deps import deps_of

    deps = deps_of(request)
    principal = await authenticate(request, deps)
    usage = await deps.limits.charge(
        principal.tenant_id, principal.key_id, action, tenant_wide=principal.is_master
    )
    _report(request, usage)
    return principal


def require_master(principal: Principal) -> None:
    if not principal.is_master:
        raise Problem(403, "FORBIDDEN", "this needs a master key (mk_); agent keys cannot do it")


def agent_scope(principal: Principal, requested: str | None, field: str = "agentId") -> str | None:
    """The agent a call may reach: an agent key reaches only its own agent (asking for
    another is answered as if it did not exist), a master key whatever it asks for."""
    if principal.is_master:
        return requested
    if requested is not None and requested != principal.agent_id:
        raise Problem(404, "NOT_FOUND", f"no agent {requested!r}", field=field)
    return principal.agent_id
