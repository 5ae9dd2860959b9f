"""The accounts read model and the keys bucket follow the account stream's order, whatever
order two changes of a tenant are projected in (mnemo.ingest.accounts)."""

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from mnemo.bus import key_value
from mnemo.contracts import (
    AgentDeleted,
    AgentInfo,
    CreateAgent,
    CreateTenant,
    DeleteAgent,
    GetAgent,
    IngestMemory,
    IssueKey,
    KeyGrant,
    KeyIssued,
    MemoryRecorded,
    NewEvent,
    key_digest,
    keys_bucket,
    new_id,
)
from mnemo.eventlog import EventStore
from mnemo.eventlog.migrations import migrate
from mnemo.ingest import accounts as accounts_module
from mnemo.ingest.accounts import Accounts, account_stream

from .helpers import new_event

SECRET = "s" * 32
SQL = Path(accounts_module.__file__).parent / "sql"


async def test_a_key_issued_while_its_agent_is_deleted_stays_revoked(log_pool, nc, topology):
    """The deletion folds the new key in and revokes it; had its projection (and grant)
    come before the issue's, the issue's live grant would have been the last word: a key
    of a deleted agent that works."""
    async with log_pool.acquire() as conn:
        await migrate(conn, "ingest", SQL)
    kv = await key_value(nc.jetstream(), keys_bucket(topology.root))
    accounts = Accounts(EventStore(log_pool), log_pool, kv, SECRET)
    await accounts.rebuild()
    tenant = await accounts.create_tenant(CreateTenant(name="acme", actor="test"))
    tenant_id = tenant.tenant_id
    made = CreateAgent(tenant_id=tenant_id, agent_id="bot", name="bot", actor="test")
    await accounts.create_agent(made)

    real = accounts._project
    deletion_projected = asyncio.Event()

    async def deletion_first(stored):  # type: ignore[no-untyped-def]
        if any(isinstance(e.data, KeyIssued) for e in stored):
            await deletion_projected.wait()
        await real(stored)
        if any(isinstance(e.data, AgentDeleted) for e in stored):
            deletion_projected.set()

    accounts._project = deletion_first  # type: ignore[method-assign]
    issuing = asyncio.create_task(
        accounts.issue_key(IssueKey(tenant_id=tenant_id, kind="agent", agent_id="bot", actor="t"))
    )

    async def issued_in_the_log() -> bool:
        events = await accounts._store.read_stream(account_stream(tenant_id))
        return any(isinstance(e.data, KeyIssued) and e.data.agent_id == "bot" for e in events)

    for _ in range(600):  # the issue's append, before its (held back) projection
        if await issued_in_the_log():
            break
        await asyncio.sleep(0.05)
    deleted = await accounts.delete_agent(
        DeleteAgent(tenant_id=tenant_id, agent_id="bot", actor="test")
    )
    assert deleted.agent_id == "bot"
    key = await asyncio.wait_for(issuing, 60)

    grant = msgspec.json.decode((await kv.get(key_digest(SECRET, key.key))).value, type=KeyGrant)
    assert grant.revoked, grant
    revoked_at = await log_pool.fetchval(
        "SELECT revoked_at FROM accounts.keys WHERE key_id = $1", key.info.key_id
    )
    assert revoked_at is not None


def _of_agent(agent: str, content: str) -> NewEvent:
    data = MemoryRecorded(memory_id=new_id(), user_id="u1", content=content, agent_id=agent)
    return new_event(data, "t1")


async def test_a_memory_sent_before_its_agent_was_deleted_is_not_recorded_after(log_pool):
    """The deletion's mark in the command stream: a memory command at or below it went with
    the agent (however late it is recorded, even once the id is an agent again); one after
    it is kept. A command stream made anew clears the marks, as it clears forget marks."""
    store = EventStore(log_pool)
    await store.align_command_stream(datetime(2026, 1, 1, tzinfo=UTC))
    await store.retire_agent("t1", "bot", 10)
    await store.retire_agent("t1", "bot", 7)  # a mark never moves back
    late, after, other = _of_agent("bot", "late"), _of_agent("bot", "after"), _of_agent("x", "x")
    stored = await store.append_first_events(
        [("m-late", late), ("m-after", after), ("m-other", other)], sent_at=[10, 11, 3]
    )
    assert {e.event_id for e in stored} == {after.event_id, other.event_id}
    # The command stream lost and made again: its sequences start over, the mark is void.
    await store.align_command_stream(datetime(2026, 2, 1, tzinfo=UTC))
    again = await store.append_first_events([("m-again", _of_agent("bot", "new"))], sent_at=[2])
    assert len(again) == 1


async def test_a_memory_of_an_agent_that_is_gone_makes_it_again_unless_its_key_wrote_it(
    log_pool, nc, topology
):
    """A master key named the agent (a replica still believed in it): the agent is made
    again, as on first use. The agent's own key wrote it (revoked with the agent, on its
    way): it goes with the agent."""
    async with log_pool.acquire() as conn:
        await migrate(conn, "ingest", SQL)
    kv = await key_value(nc.jetstream(), keys_bucket(topology.root))
    accounts = Accounts(EventStore(log_pool), log_pool, kv, SECRET)
    tenant_id = (await accounts.create_tenant(CreateTenant(name="acme", actor="t"))).tenant_id
    for agent in ("named", "keyed"):
        await accounts.create_agent(
            CreateAgent(tenant_id=tenant_id, agent_id=agent, name=agent, actor="t")
        )
        await accounts.delete_agent(DeleteAgent(tenant_id=tenant_id, agent_id=agent, actor="t"))

    def command(agent: str, actor: str) -> IngestMemory:
        return IngestMemory(
            command_id=new_id(),
            tenant_id=tenant_id,
            issued_at=datetime.now(UTC),
            actor=actor,
            memory_id=new_id(),
            user_id="u1",
            content="hello",
            agent_id=agent,
        )

    await accounts._store.retire_agent(tenant_id, "named", 10)
    commands = [
        command("named", "key:k1"),  # sent before the deletion's mark: gone with it
        command("named", "key:k1"),
        command("keyed", "agent:keyed/key:k2"),
        command("", "x"),
    ]
    assert await accounts.agents_of(commands, [10, 11, 11, 11]) == [False, True, False, True]
    made = await accounts.get_agent(GetAgent(tenant_id=tenant_id, agent_id="named"))
    assert isinstance(made, AgentInfo) and made.agent_id == "named"
    gone = await accounts.get_agent(GetAgent(tenant_id=tenant_id, agent_id="keyed"))
    assert not isinstance(gone, AgentInfo)


async def test_a_change_projects_only_the_events_after_the_last_projected(
    log_pool, nc, topology, monkeypatch
):
    """Every change re-projected the tenant's whole account stream: a tenant with an agent
    per end user made each new one slower than the last."""
    async with log_pool.acquire() as conn:
        await migrate(conn, "ingest", SQL)
    kv = await key_value(nc.jetstream(), keys_bucket(topology.root))
    accounts = Accounts(EventStore(log_pool), log_pool, kv, SECRET)
    tenant_id = (await accounts.create_tenant(CreateTenant(name="acme", actor="t"))).tenant_id
    for n in range(20):
        made = CreateAgent(tenant_id=tenant_id, agent_id=f"bot-{n}", name="b", actor="t")
        await accounts.create_agent(made)
    projected: list[str] = []
    real = accounts_module._project

    async def counting(conn, env):  # type: ignore[no-untyped-def]
        projected.append(env.event_type)
        await real(conn, env)

    monkeypatch.setattr(accounts_module, "_project", counting)
    await accounts.issue_key(
        IssueKey(tenant_id=tenant_id, kind="agent", agent_id="bot-3", actor="t")
    )
    assert projected == ["key.issued"]
    # A rebuild projects everything once, and the next change again only what is new.
    await accounts.rebuild()
    projected.clear()
    made = CreateAgent(tenant_id=tenant_id, agent_id="bot-new", name="b", actor="t")
    await accounts.create_agent(made)
    assert projected == ["agent.created"]
