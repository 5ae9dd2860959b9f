"""Tenants, agents and API keys.

Every change is an event in the tenant's `account-<tenant>` stream, decided against the
state folded from that stream and appended with optimistic concurrency (two concurrent
changes cannot both win on stale state). The `accounts.*` tables and the NATS KV bucket of
live keys are projections: rebuilt from the log when ingest starts, and brought up to date
right after each append. A key is made here, returned once in the reply, and kept only
as its HMAC-SHA256 digest.
"""

import asyncio
import re
import secrets
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
import msgspec
from nats.js.errors import NoKeysError
from nats.js.kv import KeyValue

from mnemo.bus import request_cause
from mnemo.contracts import (
    AGENT_ID_PATTERN,
    KEY_KINDS,
    KEY_PREFIXES,
    SHOWN_PREFIX,
    AgentCreated,
    AgentDeleted,
    AgentInfo,
    AgentPage,
    AgentUpdated,
    CreateAgent,
    CreateTenant,
    DeleteAgent,
    Envelope,
    EventData,
    GetAgent,
    IngestMemory,
    IssuedKey,
    IssueKey,
    KeyGrant,
    KeyInfo,
    KeyIssued,
    KeyList,
    KeyRevoked,
    ListAgents,
    ListKeys,
    NewEvent,
    NewTenant,
    QueryError,
    RevokeKey,
    TenantCreated,
    UpdateAgent,
    jsonb_json,
    key_digest,
    new_id,
    utcnow,
)
from mnemo.contracts.deadlines import ANSWER_BY
from mnemo.eventlog import EventStore, WrongExpectedVersion
from mnemo.telemetry import get_logger

log = get_logger(__name__)

SERVICE = "ingest"
ACCOUNT_TYPES = (
    "tenant.created",
    "agent.created",
    "agent.updated",
    "agent.deleted",
    "key.issued",
    "key.revoked",
)
AGENT_ID = re.compile(AGENT_ID_PATTERN)
_REBUILD_LOCK = 0x6D6E_6163  # pg advisory lock id: one replica rebuilds at a time
_ATTEMPTS = 5
_NO_SECRET = QueryError(
    code="unavailable", message="API keys are disabled: the server has no MNEMO_KEY_SECRET"
)


def account_stream(tenant_id: str) -> str:
    return f"account-{tenant_id}"


class Refused(Exception):
    """A change the current state does not allow; becomes the query's error reply."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.error = QueryError(code=code, message=message, field=field)


@dataclass
class _Agent:
    info: AgentInfo
    deleted: bool = False


@dataclass
class _Key:
    info: KeyInfo
    digest: str


@dataclass
class AccountState:
    """One tenant's accounts, folded from its stream."""

    tenant_id: str
    version: int = -1
    created: bool = False
    agents: dict[str, _Agent] = field(default_factory=dict)
    keys: dict[str, _Key] = field(default_factory=dict)

    def apply(self, env: Envelope) -> None:
        self.version = env.stream_version
        data = env.data
        if isinstance(data, TenantCreated):
            self.created = True
        elif isinstance(data, AgentCreated):
            self.agents[data.agent_id] = _Agent(
                AgentInfo(
                    agent_id=data.agent_id,
                    tenant_id=env.tenant_id,
                    name=data.name,
                    description=data.description,
                    metadata=data.metadata,
                    created_at=env.recorded_at,
                    updated_at=env.recorded_at,
                )
            )
        elif isinstance(data, AgentUpdated) and data.agent_id in self.agents:
            agent = self.agents[data.agent_id]
            agent.info = msgspec.structs.replace(
                agent.info,
                name=data.name,
                description=data.description,
                metadata=data.metadata,
                updated_at=env.recorded_at,
            )
        elif isinstance(data, AgentDeleted) and data.agent_id in self.agents:
            self.agents[data.agent_id].deleted = True
        elif isinstance(data, KeyIssued):
            self.keys[data.key_id] = _Key(
                KeyInfo(
                    key_id=data.key_id,
                    tenant_id=env.tenant_id,
                    kind=data.kind,
                    agent_id=data.agent_id,
                    label=data.label,
                    prefix=data.prefix,
                    created_at=env.recorded_at,
                ),
                data.digest,
            )
        elif isinstance(data, KeyRevoked) and data.key_id in self.keys:
            key = self.keys[data.key_id]
            if key.info.revoked_at is None:
                key.info = msgspec.structs.replace(key.info, revoked_at=env.recorded_at)

    def live_agent(self, agent_id: str) -> AgentInfo:
        agent = self.agents.get(agent_id)
        if agent is None or agent.deleted:
            raise Refused("not_found", f"no agent {agent_id!r}", "agentId")
        return agent.info


# Every key's grant, with when its agent (as it is now: made again after a deletion, the
# later one) was made: the keys of a deleted agent are revoked, so a live key is the
# present agent's.
_GRANTS = """
SELECT k.key_id, k.tenant_id, k.kind, k.agent_id, k.digest, k.revoked_at,
       a.created_at AS agent_since
FROM accounts.keys k
LEFT JOIN accounts.agents a ON a.tenant_id = k.tenant_id AND a.agent_id = k.agent_id
"""

# Deletes the memories the log holds for a deleted agent (tenant, agent, actor, recorded
# before this position or all): how many.
Sweep = Callable[[str, str, str, int | None], Awaitable[int]]

# What a decision returns: the events to append, and how to build the reply from them.
Decision = tuple[list[EventData], Callable[[list[Envelope]], Any]]


class Accounts:
    def __init__(
        self,
        store: EventStore,
        pool: asyncpg.Pool,
        keys: KeyValue,
        secret: str | None,
        command_head: Callable[[], Awaitable[int]] | None = None,
    ) -> None:
        self._store = store
        self._pool = pool
        self._kv = keys
        self._secret = secret
        # The command stream's last sequence (where a deleted agent's mark is set).
        self._command_head = command_head
        # Deletes what the log holds for a deleted agent (IngestHandlers.sweep_agent).
        self._sweep: Sweep | None = None

    def sweeping_with(self, sweep: "Sweep") -> None:
        """What deletes a deleted agent's memories from the log (set once both exist)."""
        self._sweep = sweep

    # --- start-up --------------------------------------------------------------------

    async def rebuild(self) -> int:
        """Replay every account event into the tables, then make the keys bucket match."""
        events = await self._store.read_types(ACCOUNT_TYPES)
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _REBUILD_LOCK)
            await conn.execute(
                "TRUNCATE accounts.tenants, accounts.agents, accounts.keys, accounts.projected"
            )
            reached: dict[str, int] = {}
            for env in events:
                await _project(conn, env)
                reached[env.tenant_id] = env.stream_version
            await conn.executemany(
                "INSERT INTO accounts.projected (tenant_id, version) VALUES ($1, $2)",
                list(reached.items()),
            )
            rows = await conn.fetch(_GRANTS)
        live = {row["digest"] for row in rows}
        try:
            stale = [k for k in await self._kv.keys() if k not in live]
        except NoKeysError:
            stale = []
        for digest in stale:
            await self._kv.delete(digest)
        for row in rows:
            await self._put_grant(row["digest"], _grant(row))
        log.info("accounts_rebuilt", events=len(events), keys=len(rows))
        return len(events)

    # --- changes ---------------------------------------------------------------------

    async def create_tenant(self, request: CreateTenant) -> NewTenant | QueryError:
        name = request.name.strip()
        if not self._secret:
            return _NO_SECRET
        if not name:
            return QueryError(code="invalid", message="name must not be empty", field="name")
        tenant_id = f"t_{uuid.uuid4().hex[:20]}"
        master, master_event = self._new_key(tenant_id, "master", None, "first master key")
        datas: list[EventData] = [TenantCreated(name=name, email=request.email), master_event]
        agent_id = str(uuid.uuid4()) if request.agent_name else None
        agent_key: tuple[str, KeyIssued] | None = None
        if request.agent_name and agent_id:
            datas.append(AgentCreated(agent_id=agent_id, name=request.agent_name.strip()))
            agent_key = self._new_key(tenant_id, "agent", agent_id, "sign-up agent key")
            datas.append(agent_key[1])

        def reply(stored: list[Envelope]) -> NewTenant:
            state = AccountState(tenant_id)
            for env in stored:
                state.apply(env)
            return NewTenant(
                tenant_id=tenant_id,
                name=name,
                email=request.email,
                created_at=stored[0].recorded_at,
                master_key=IssuedKey(key=master, info=state.keys[master_event.key_id].info),
                agent=state.agents[agent_id].info if agent_id else None,
                agent_key=(
                    IssuedKey(key=agent_key[0], info=state.keys[agent_key[1].key_id].info)
                    if agent_key
                    else None
                ),
            )

        return await self._change(tenant_id, request.actor, lambda _state: (datas, reply))

    async def issue_key(self, request: IssueKey) -> IssuedKey | QueryError:
        if request.kind not in KEY_KINDS:
            return QueryError(
                code="invalid", message=f"kind must be one of {list(KEY_KINDS)}", field="kind"
            )
        if request.kind == "agent" and not request.agent_id:
            return QueryError(code="invalid", message="an agent key needs agentId", field="agentId")

        def decide(state: AccountState) -> Decision:
            agent_id = request.agent_id if request.kind == "agent" else None
            if agent_id is not None:
                state.live_agent(agent_id)
            key, event = self._new_key(state.tenant_id, request.kind, agent_id, request.label)

            def reply(stored: list[Envelope]) -> IssuedKey:
                state.apply(stored[0])
                return IssuedKey(key=key, info=state.keys[event.key_id].info)

            return [event], reply

        return await self._change(request.tenant_id, request.actor, decide)

    async def revoke_key(self, request: RevokeKey) -> KeyInfo | QueryError:
        def decide(state: AccountState) -> Decision:
            key = state.keys.get(request.key_id)
            if key is None:
                raise Refused("not_found", f"no key {request.key_id!r}", "keyId")
            if key.info.revoked_at is not None:
                return [], lambda _stored: key.info  # revoked already: nothing more to do
            if key.info.kind == "master" and not _other_live_master(state, key.info.key_id):
                # Without a live master key nobody could manage the tenant's keys again.
                raise Refused(
                    "conflict",
                    "this is the tenant's last live master key: issue another one first",
                    "keyId",
                )

            def reply(stored: list[Envelope]) -> KeyInfo:
                state.apply(stored[0])
                return state.keys[request.key_id].info

            return [KeyRevoked(key_id=key.info.key_id, digest=key.digest)], reply

        return await self._change(request.tenant_id, request.actor, decide)

    async def create_agent(self, request: CreateAgent) -> AgentInfo | QueryError:
        agent_id = request.agent_id or str(uuid.uuid4())
        if not AGENT_ID.match(agent_id):
            return QueryError(
                code="invalid",
                message="agentId must be 1-128 letters, digits or _ . : @ - (starting with "
                "a letter or digit)",
                field="agentId",
            )
        if not request.name.strip():
            return QueryError(code="invalid", message="name must not be empty", field="name")

        def decide(state: AccountState) -> Decision:
            existing = state.agents.get(agent_id)
            if existing is not None and not existing.deleted:
                raise Refused("conflict", f"agent {agent_id!r} exists already", "agentId")
            if existing is not None and request.once:
                # A retry of the request that made it, since deleted: what it made.
                return [], lambda _stored: existing.info
            event = AgentCreated(
                agent_id=agent_id,
                name=request.name.strip(),
                description=request.description,
                metadata=request.metadata,
            )
            return [event], lambda stored: _applied(state, stored).agents[agent_id].info

        return await self._change(request.tenant_id, request.actor, decide)

    async def update_agent(self, request: UpdateAgent) -> AgentInfo | QueryError:
        if request.name is not None and not request.name.strip():
            return QueryError(code="invalid", message="name must not be empty", field="name")

        def decide(state: AccountState) -> Decision:
            current = state.live_agent(request.agent_id)
            event = AgentUpdated(
                agent_id=request.agent_id,
                name=request.name.strip() if request.name is not None else current.name,
                description=(
                    request.description if request.description is not None else current.description
                ),
                metadata=request.metadata if request.metadata is not None else current.metadata,
            )
            return [event], lambda stored: _applied(state, stored).agents[request.agent_id].info

        return await self._change(request.tenant_id, request.actor, decide)

    async def delete_agent(self, request: DeleteAgent) -> AgentInfo | QueryError:
        def decide(state: AccountState) -> Decision:
            info = state.live_agent(request.agent_id)
            revoked: list[EventData] = [
                KeyRevoked(key_id=key.info.key_id, digest=key.digest)
                for key in state.keys.values()
                if key.info.agent_id == request.agent_id and key.info.revoked_at is None
            ]
            # One append: the agent and its keys go together, or not at all.
            return [AgentDeleted(agent_id=request.agent_id), *revoked], lambda _stored: info

        deleted = await self._change(request.tenant_id, request.actor, decide)
        if isinstance(deleted, AgentInfo) and self._command_head is not None:
            # The agent is deleted: its retirement (the mark, the sweep) is done whoever still
            # waits, never given up for lateness (a lock waited for past the asker's patience
            # left an agent deleted, never swept, its late commands recorded).
            ANSWER_BY.set(None)
            # Every memory command accepted until now, its key's included, is at or below
            # the head: one of them still on its way to the log is dropped when it comes.
            through = await self._command_head()
            await self._store.retire_agent(request.tenant_id, request.agent_id, through)
            await self.sweep_deleted(request.tenant_id, request.agent_id)
        return deleted

    async def sweep_deleted(self, tenant_id: str, agent_id: str) -> None:
        """Delete every memory the log holds for a deleted agent: also those recorded after
        its deletion listed them (a read model had not got them yet, or their commands were
        on their way; `retire_agent` waited for those), none of the agent made again with
        the id since. Marked swept once done; one cut short is finished at start-up."""
        if self._sweep is None:
            return
        # The deletion is committed: what follows from it is done whoever still waits.
        ANSWER_BY.set(None)
        life = await self.deleted_life(tenant_id, agent_id)
        if life is not None:
            actor, again = life
            deleted = await self._sweep(tenant_id, agent_id, actor, again)
            log.info("deleted_agents_memories_swept", agent_id=agent_id, memories=deleted)
        await self._store.agent_swept(tenant_id, agent_id)

    async def resume_sweeps(self, settled: float = 60.0) -> None:
        """Finish the deletions of agents whose memories were not all deleted (cut short),
        and first mark those deleted whose mark was never made (PostgreSQL failed between
        the deletion's commit and its mark): at the command stream's head now, unless the
        id is an agent again since (its commands are its own then), recorded as of the
        deletion (`settled`: seconds a deletion is given to mark itself first)."""
        for tenant_id, agent_id, deleted_at in await self._store.unretired_agents(settled):
            life = await self.deleted_life(tenant_id, agent_id)
            if life is None:
                continue
            again = life[1] is not None
            through = 0 if again or self._command_head is None else await self._command_head()
            log.warning("agent_deletion_marked_late", agent_id=agent_id, again=again)
            await self._store.retire_agent(tenant_id, agent_id, through, deleted_at)
        for tenant_id, agent_id in await self._store.unswept_agents():
            await self.sweep_deleted(tenant_id, agent_id)

    async def keep_sweeping(self, every: float = 30.0) -> None:
        """`resume_sweeps` now and every `every` seconds: a deletion cut short (the process
        stopped, PostgreSQL away) is finished once it can be."""
        while True:
            try:
                await self.resume_sweeps()
            except Exception as exc:
                log.warning("deleted_agent_sweep_deferred", error=type(exc).__name__)
            await asyncio.sleep(every)

    async def deleted_life(self, tenant_id: str, agent_id: str) -> tuple[str, int | None] | None:
        """Of the agent's last deletion: who deleted it, and where in the log the id became
        an agent again since (None: it has not). None: it was never deleted."""
        row = await self._pool.fetchrow(
            """SELECT d.metadata->>'actor' AS actor, (
                   SELECT min(c.global_position) FROM mnemo.events c
                   WHERE c.stream_id = d.stream_id AND c.stream_version > d.stream_version
                     AND c.event_type = 'agent.created' AND c.data->>'agent_id' = $2
               ) AS again
               FROM mnemo.events d
               WHERE d.stream_id = $1 AND d.event_type = 'agent.deleted'
                 AND d.data->>'agent_id' = $2
               ORDER BY d.stream_version DESC LIMIT 1""",
            account_stream(tenant_id),
            agent_id,
        )
        return None if row is None else (row["actor"] or "", row["again"])

    async def agents_of(
        self, commands: Sequence[IngestMemory], sent_at: Sequence[int]
    ) -> list[bool]:
        """For each memory command (and the command stream sequence it was sent at),
        whether it is recorded as far as its agent goes: a memory's agent is an agent. One
        sent before its agent was deleted went with the agent (the log drops it too, should
        the agent be deleted meanwhile); one named by a master key after the deletion (a
        gateway replica still believed in the agent) makes the agent again, as any agent id
        is on first use; one written with the key of an agent deleted since is not recorded
        (the key went with the agent; its memories do too)."""
        named = {(c.tenant_id, c.agent_id) for c in commands if c.agent_id}
        if not named:
            return [True] * len(commands)
        retired = await self._store.retired_through(named)
        tenants, ids = zip(*sorted(named), strict=True)
        rows = await self._pool.fetch(
            """SELECT a.tenant_id, a.agent_id FROM accounts.agents a
               JOIN unnest($1::text[], $2::text[]) AS n(tenant_id, agent_id)
                 ON a.tenant_id = n.tenant_id AND a.agent_id = n.agent_id
               WHERE a.deleted_at IS NULL""",
            list(tenants),
            list(ids),
        )
        live = {(r["tenant_id"], r["agent_id"]) for r in rows}
        kept = []
        for command, sent in zip(commands, sent_at, strict=True):
            agent = (command.tenant_id, command.agent_id or "")
            if not command.agent_id:
                kept.append(True)
            elif sent <= retired.get(agent, 0):
                log.info("memory_of_a_deleted_agent_dropped", memory_id=command.memory_id)
                kept.append(False)
            elif agent in live:
                kept.append(True)
            elif command.actor.startswith(f"agent:{command.agent_id}/"):
                log.info("memory_of_a_deleted_agents_key_dropped", memory_id=command.memory_id)
                kept.append(False)
            else:
                made = await self.create_agent(
                    CreateAgent(
                        tenant_id=command.tenant_id,
                        agent_id=command.agent_id,
                        name=command.agent_id,
                        actor=command.actor,
                    )
                )
                # A conflict: made meanwhile. Not an agent id (only ids the gateway checked
                # come here): the memory is recorded all the same.
                log.info("agent_made_again_on_use", made=isinstance(made, AgentInfo))
                live.add(agent)
                kept.append(True)
        return kept

    # --- reads -----------------------------------------------------------------------

    async def get_agent(self, request: GetAgent) -> AgentInfo | QueryError:
        row = await self._pool.fetchrow(
            f"SELECT {_AGENT_COLUMNS} FROM accounts.agents"
            " WHERE tenant_id = $1 AND agent_id = $2 AND deleted_at IS NULL",
            request.tenant_id,
            request.agent_id,
        )
        if row is None:
            return QueryError(
                code="not_found", message=f"no agent {request.agent_id!r}", field="agentId"
            )
        return _agent_info(row)

    async def list_agents(self, request: ListAgents) -> AgentPage:
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                f"SELECT {_AGENT_COLUMNS} FROM accounts.agents"
                " WHERE tenant_id = $1 AND deleted_at IS NULL"
                " ORDER BY created_at, agent_id LIMIT $2 OFFSET $3",
                request.tenant_id,
                request.limit,
                request.offset,
            )
            total = await conn.fetchval(
                "SELECT count(*) FROM accounts.agents WHERE tenant_id = $1 AND deleted_at IS NULL",
                request.tenant_id,
            )
        return AgentPage(agents=[_agent_info(r) for r in rows], total=total)

    async def list_keys(self, request: ListKeys) -> KeyList:
        rows = await self._pool.fetch(
            "SELECT key_id, tenant_id, kind, agent_id, label, prefix, created_at, revoked_at"
            " FROM accounts.keys WHERE tenant_id = $1 AND ($2 OR revoked_at IS NULL)"
            " ORDER BY created_at, key_id",
            request.tenant_id,
            request.include_revoked,
        )
        return KeyList(keys=[KeyInfo(**dict(r)) for r in rows])

    # --- machinery -------------------------------------------------------------------

    def _new_key(
        self, tenant_id: str, kind: str, agent_id: str | None, label: str | None
    ) -> tuple[str, KeyIssued]:
        if not self._secret:
            raise Refused(_NO_SECRET.code, _NO_SECRET.message)
        key = KEY_PREFIXES[kind] + secrets.token_urlsafe(32)
        event = KeyIssued(
            key_id=f"key_{uuid.uuid4().hex[:20]}",
            kind=kind,
            agent_id=agent_id,
            label=label,
            prefix=key[:SHOWN_PREFIX],
            digest=key_digest(self._secret, key),
        )
        return key, event

    async def _change(
        self, tenant_id: str, actor: str, decide: Callable[[AccountState], Decision]
    ) -> Any:
        """Fold the stream, decide, append at the folded version; retry if another change
        got in first."""
        stream = account_stream(tenant_id)
        for attempt in range(_ATTEMPTS):
            state = AccountState(tenant_id)
            for env in await self._store.read_stream(stream):
                state.apply(env)
            try:
                datas, reply = decide(state)
            except Refused as refused:
                return refused.error
            if not datas:
                return reply([])
            try:
                stored = await self._store.append(
                    stream, self._events(tenant_id, actor, datas), expected_version=state.version
                )
            except WrongExpectedVersion:
                log.info("account_change_raced", attempt=attempt)
                continue
            await self._project(stored)
            for env in stored:
                log.info("account_changed", event_type=env.event_type, event_id=env.event_id)
            return reply(stored)
        return QueryError(code="conflict", message="too many concurrent changes; try again")

    def _events(self, tenant_id: str, actor: str, datas: Sequence[EventData]) -> list[NewEvent]:
        cause, correlation = request_cause()
        now = utcnow()
        return [
            NewEvent(
                event_id=new_id(),
                tenant_id=tenant_id,
                occurred_at=now,
                correlation_id=correlation,
                causation_id=cause,
                actor=actor,
                service=SERVICE,
                data=data,
            )
            for data in datas
        ]

    async def _project(self, stored: list[Envelope]) -> None:
        """The tables and the keys bucket brought up to the tenant's stream, in its order.

        Two changes of a tenant (a key issued while its agent is deleted) append in one
        order but may come here in the other: the deletion's revocation of a key whose
        row is not there yet, then the issue's live grant, left a revoked key working. So
        under the tenant's lock each change projects every event after the last one
        projected (`accounts.projected`), in the stream's order, and writes the grants of
        the keys it touched as the tables then say, before the lock is let go."""
        if not stored:
            return
        tenant_id = stored[0].tenant_id
        touched = [
            env.data.key_id for env in stored if isinstance(env.data, KeyIssued | KeyRevoked)
        ]
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtext($1))", "accounts:" + tenant_id
            )
            projected = await conn.fetchval(
                "SELECT version FROM accounts.projected WHERE tenant_id = $1", tenant_id
            )
            events = await self._store.read_stream(
                account_stream(tenant_id), -1 if projected is None else projected
            )
            for env in events:
                await _project(conn, env)
            if events:
                await conn.execute(
                    """INSERT INTO accounts.projected (tenant_id, version) VALUES ($1, $2)
                       ON CONFLICT (tenant_id) DO UPDATE SET version = excluded.version""",
                    tenant_id,
                    events[-1].stream_version,
                )
            rows = await conn.fetch(_GRANTS + " WHERE k.key_id = ANY($1::text[])", touched)
            for row in rows:
                await self._put_grant(row["digest"], _grant(row))

    async def _put_grant(self, digest: str, grant: KeyGrant) -> None:
        await self._kv.put(digest, msgspec.json.encode(grant))


def _grant(row: Any) -> KeyGrant:
    """A key's grant as the tables have it (a row of `_GRANTS`)."""
    return KeyGrant(
        key_id=row["key_id"],
        tenant_id=row["tenant_id"],
        kind=row["kind"],
        agent_id=row["agent_id"],
        agent_since=row["agent_since"],
        revoked=row["revoked_at"] is not None,
    )


def _applied(state: AccountState, stored: list[Envelope]) -> AccountState:
    for env in stored:
        state.apply(env)
    return state


_AGENT_COLUMNS = "agent_id, tenant_id, name, description, metadata, created_at, updated_at"


def _other_live_master(state: AccountState, key_id: str) -> bool:
    return any(
        k.info.kind == "master" and k.info.revoked_at is None and k.info.key_id != key_id
        for k in state.keys.values()
    )


def _agent_info(row: Any) -> AgentInfo:
    values = dict(row)
    values["metadata"] = msgspec.json.decode(values["metadata"]) if values["metadata"] else {}
    return AgentInfo(**values)


async def _project(conn: Any, env: Envelope) -> None:
    """Apply one account event to the tables; applying it twice changes nothing."""
    data = env.data
    at: datetime = env.recorded_at
    if isinstance(data, TenantCreated):
        await conn.execute(
            "INSERT INTO accounts.tenants VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            env.tenant_id,
            data.name,
            data.email,
            at,
        )
    elif isinstance(data, AgentCreated):
        await conn.execute(
            """INSERT INTO accounts.agents
               (tenant_id, agent_id, name, description, metadata, created_at, updated_at)
               VALUES ($1, $2, $3, $4, $5::jsonb, $6, $6)
               ON CONFLICT (tenant_id, agent_id) DO UPDATE SET
                 name = excluded.name, description = excluded.description,
                 metadata = excluded.metadata, created_at = excluded.created_at,
                 updated_at = excluded.updated_at, deleted_at = NULL
               WHERE accounts.agents.created_at < excluded.created_at""",
            env.tenant_id,
            data.agent_id,
            data.name,
            data.description,
            jsonb_json(data.metadata).decode(),
            at,
        )
    elif isinstance(data, AgentUpdated):
        await conn.execute(
            """UPDATE accounts.agents SET name = $3, description = $4, metadata = $5::jsonb,
                      updated_at = $6
               WHERE tenant_id = $1 AND agent_id = $2 AND updated_at <= $6""",
            env.tenant_id,
            data.agent_id,
            data.name,
            data.description,
            jsonb_json(data.metadata).decode(),
            at,
        )
    elif isinstance(data, AgentDeleted):
        await conn.execute(
            """UPDATE accounts.agents SET deleted_at = $3
               WHERE tenant_id = $1 AND agent_id = $2 AND deleted_at IS NULL
                 AND created_at <= $3""",
            env.tenant_id,
            data.agent_id,
            at,
        )
    elif isinstance(data, KeyIssued):
        await conn.execute(
            """INSERT INTO accounts.keys
               (key_id, tenant_id, kind, agent_id, label, prefix, digest, created_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING""",
            data.key_id,
            env.tenant_id,
            data.kind,
            data.agent_id,
            data.label,
            data.prefix,
            data.digest,
            at,
        )
    elif isinstance(data, KeyRevoked):
        await conn.execute(
            "UPDATE accounts.keys SET revoked_at = $2 WHERE key_id = $1 AND revoked_at IS NULL",
            data.key_id,
            at,
        )
