"""Deleting an agent deletes every memory the log holds for it, not only those a read model
had listed (mnemo.ingest.accounts.sweep_deleted, EventStore.agent_memories): one recorded
while its deletion went on, one a read model has not got yet, one whose append was in flight
when the deletion was decided. An agent made again with the id keeps what came after."""

import asyncio
import time
from pathlib import Path

import pytest

from mnemo.bus import key_value
from mnemo.contracts import (
    CreateAgent,
    CreateTenant,
    DeleteAgent,
    DeleteAgentMemories,
    MemoryDeleted,
    MemoryRecorded,
    keys_bucket,
    new_id,
)
from mnemo.contracts.deadlines import ANSWER_BY
from mnemo.eventlog import EventStore
from mnemo.eventlog import store as store_module
from mnemo.eventlog.migrations import migrate
from mnemo.ingest import accounts as accounts_module
from mnemo.ingest.accounts import Accounts
from mnemo.ingest.handlers import IngestHandlers, memory_stream

from .helpers import new_event

SECRET = "s" * 32
SQL = Path(accounts_module.__file__).parent / "sql"


async def _accounts(log_pool, nc, topology, *, sweeping: bool = True):  # type: ignore[no-untyped-def]
    async with log_pool.acquire() as conn:
        await migrate(conn, "ingest", SQL)
    kv = await key_value(nc.jetstream(), keys_bucket(topology.root))
    store = EventStore(log_pool)

    async def command_head() -> int:
        return 10

    accounts = Accounts(store, log_pool, kv, SECRET, command_head)
    handlers = IngestHandlers(store, agents=accounts.agents_of)
    if sweeping:
        accounts.sweeping_with(handlers.sweep_agent)
    return accounts, handlers, store


async def _record(store: EventStore, tenant: str, agent: str, user: str = "u1") -> str:
    """A memory in the log (as ingest records one), which no read model has seen."""
    memory_id = new_id()
    data = MemoryRecorded(memory_id=memory_id, user_id=user, content="hello", agent_id=agent)
    stored = await store.append_first_events(
        [(memory_stream(tenant, memory_id), new_event(data, tenant))], sent_at=[11]
    )
    assert len(stored) == 1
    return memory_id


async def _deleted(store: EventStore, tenant: str, memory_id: str) -> bool:
    events = await store.read_stream(memory_stream(tenant, memory_id))
    return isinstance(events[-1].data, MemoryDeleted)


async def _agent(accounts: Accounts, tenant: str, agent: str) -> None:
    await accounts.create_agent(
        CreateAgent(tenant_id=tenant, agent_id=agent, name=agent, actor="t")
    )


async def test_a_deleted_agents_memories_are_deleted_from_the_log_and_not_its_successors(
    log_pool, nc, topology
):
    """No read model has these memories (the gateway's listing would find none of them):
    the deletion finds them in the log. The agent made again with the id keeps its own,
    when a deletion is swept again (as at start-up)."""
    accounts, _, store = await _accounts(log_pool, nc, topology)
    tenant = (await accounts.create_tenant(CreateTenant(name="acme", actor="t"))).tenant_id
    for agent in ("bot", "other"):
        await _agent(accounts, tenant, agent)
    theirs = [await _record(store, tenant, "bot", user) for user in ("u1", "u2", "u2")]
    kept = await _record(store, tenant, "other")
    # A memory of the agent whose subject is forgotten cannot be read: skipped, not retried.
    await _record(store, tenant, "bot", "u3")
    await store.forget_subject(tenant, "u3")

    await accounts.delete_agent(DeleteAgent(tenant_id=tenant, agent_id="bot", actor="t"))
    assert [await _deleted(store, tenant, m) for m in theirs] == [True, True, True]
    assert not await _deleted(store, tenant, kept)
    assert await store.unswept_agents() == []
    assert await store.agent_memories(tenant, "bot") == []

    await _agent(accounts, tenant, "bot")
    again = await _record(store, tenant, "bot")
    await accounts.sweep_deleted(tenant, "bot")
    assert not await _deleted(store, tenant, again)


async def test_a_deletion_cut_short_is_finished_when_ingest_starts_again(log_pool, nc, topology):
    """The agent and its keys were deleted, then the process stopped before its memories
    were: the next start finds the agent unswept and deletes them."""
    cut_short, _, store = await _accounts(log_pool, nc, topology, sweeping=False)
    tenant = (await cut_short.create_tenant(CreateTenant(name="acme", actor="t"))).tenant_id
    await _agent(cut_short, tenant, "bot")
    memory = await _record(store, tenant, "bot")
    await cut_short.delete_agent(DeleteAgent(tenant_id=tenant, agent_id="bot", actor="t"))
    assert await store.unswept_agents() == [(tenant, "bot")]
    assert not await _deleted(store, tenant, memory)

    started, _, _ = await _accounts(log_pool, nc, topology)
    await started.resume_sweeps()
    assert await _deleted(store, tenant, memory)
    assert await store.unswept_agents() == []


async def _append_held(
    store: EventStore, tenant: str, agent: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[asyncio.Task[str], asyncio.Event]:
    """An append of one of the agent's memories that has read the deletion marks (the
    agent's lock held, shared) and waits, its transaction open, until the event is set."""
    read_marks = asyncio.Event()
    release = asyncio.Event()
    real = store_module._agent_marks

    async def held(conn, agents):  # type: ignore[no-untyped-def]
        marks = await real(conn, agents)
        if (tenant, agent) in agents and not read_marks.is_set():
            read_marks.set()
            await release.wait()
        return marks

    monkeypatch.setattr(store_module, "_agent_marks", held)
    recording = asyncio.create_task(_record(store, tenant, agent))
    await asyncio.wait_for(read_marks.wait(), 60)
    return recording, release


async def test_an_append_in_flight_when_its_agent_is_deleted_is_swept_with_it(
    log_pool, nc, topology, monkeypatch
):
    """The append read the deletion marks before the deletion set its own, and commits
    after: the deletion waits for it (a lock the two share), then finds its memory in the
    log. Without the wait, the sweep ran first and the memory outlived its agent."""
    accounts, _, store = await _accounts(log_pool, nc, topology)
    tenant = (await accounts.create_tenant(CreateTenant(name="acme", actor="t"))).tenant_id
    await _agent(accounts, tenant, "bot")
    recording, release = await _append_held(store, tenant, "bot", monkeypatch)
    deleting = asyncio.create_task(
        accounts.delete_agent(DeleteAgent(tenant_id=tenant, agent_id="bot", actor="t"))
    )

    async def deletion_waits_on_the_lock() -> bool:
        waiting = await log_pool.fetchval(
            """SELECT count(*) FROM pg_stat_activity
               WHERE wait_event_type = 'Lock' AND wait_event = 'advisory'"""
        )
        return bool(waiting)

    try:
        for _ in range(1200):  # the deletion reaches the lock (or, without it, ends)
            if deleting.done() or await deletion_waits_on_the_lock():
                break
            await asyncio.sleep(0.05)
        assert not deleting.done(), "the deletion did not wait for the append in flight"
    finally:
        release.set()  # the append's transaction ends either way
    memory = await asyncio.wait_for(recording, 60)
    await asyncio.wait_for(deleting, 60)
    assert await _deleted(store, tenant, memory)


async def test_an_agents_memories_of_one_user_are_deleted_a_share_at_a_time(log_pool, nc, topology):
    """`delete_agent_memories` (ElizaOS's delete by entity, an agent's deletion): those the
    log holds for the agent and user, `most` to a call, `more` while some are left."""
    accounts, handlers, store = await _accounts(log_pool, nc, topology)
    tenant = (await accounts.create_tenant(CreateTenant(name="acme", actor="t"))).tenant_id
    await _agent(accounts, tenant, "bot")
    theirs = [await _record(store, tenant, "bot", "u1") for _ in range(3)]
    other_user = await _record(store, tenant, "bot", "u2")
    ask = DeleteAgentMemories(tenant_id=tenant, agent_id="bot", actor="t", user_id="u1", most=2)
    first = await handlers.delete_agent_memories(ask)
    assert [d.memory_id for d in first.deleted] == theirs[:2] and first.more
    second = await handlers.delete_agent_memories(ask)
    assert [d.memory_id for d in second.deleted] == theirs[2:] and not second.more
    assert (await handlers.delete_agent_memories(ask)).deleted == []
    assert not await _deleted(store, tenant, other_user)


async def test_a_memory_of_an_agent_sent_before_its_memories_were_deleted_is_not_recorded(
    log_pool,
):
    """Deleting every memory of an agent (of a user, or of all: Mem0's delete_all, ElizaOS's
    delete by entity) marks the command stream: a memory command of that scope accepted
    before but recorded after (a backlog) goes with the others; one after it, or of another
    user or agent, is kept."""
    store = EventStore(log_pool)

    def sent(agent: str, user: str) -> tuple[str, object]:
        memory_id = new_id()
        data = MemoryRecorded(memory_id=memory_id, user_id=user, content="hi", agent_id=agent)
        return memory_stream("t1", memory_id), new_event(data, "t1")

    await store.clear_scope("t1", "bot", "u1", 10)
    await store.clear_scope("t1", "all", None, 10)
    items = [sent("bot", "u1"), sent("bot", "u2"), sent("bot", "u1"), sent("all", "u3")]
    stored = await store.append_first_events(items, sent_at=[10, 10, 11, 9])
    assert [e.event_id for e in stored] == [items[1][1].event_id, items[2][1].event_id]


async def test_an_agents_deletion_past_its_askers_patience_is_still_retired_and_swept(
    log_pool, nc, topology, monkeypatch
):
    """The agent is deleted (its deletion committed) before its retirement waits for an
    append in flight: the wait outlasting the query's deadline must not give the
    retirement up (it did: a 503, no mark, no sweep, the agent gone and its memories kept,
    found by an agent made again with the id)."""
    accounts, _, store = await _accounts(log_pool, nc, topology)
    tenant = (await accounts.create_tenant(CreateTenant(name="acme", actor="t"))).tenant_id
    await _agent(accounts, tenant, "bot")
    recording, release = await _append_held(store, tenant, "bot", monkeypatch)
    deadline = time.monotonic() + 0.5

    async def asked() -> object:
        ANSWER_BY.set(deadline)  # as the bus sets it for the query
        return await accounts.delete_agent(DeleteAgent(tenant_id=tenant, agent_id="bot", actor="t"))

    deleting = asyncio.create_task(asked())
    try:
        # The retirement waits on the append's lock past the asker's deadline.
        for _ in range(1200):
            if deleting.done() or time.monotonic() > deadline + 1.0:
                break
            await asyncio.sleep(0.05)
    finally:
        release.set()
    memory = await asyncio.wait_for(recording, 60)
    await asyncio.wait_for(deleting, 60)
    assert await _deleted(store, tenant, memory)
    assert await log_pool.fetchval(
        "SELECT count(*) FROM mnemo.retired_agents WHERE tenant_id = $1 AND agent_id = 'bot'",
        tenant,
    )


async def test_a_deletion_whose_mark_failed_is_marked_and_swept_later(
    log_pool, nc, topology, monkeypatch
):
    """PostgreSQL fails between the agent's deletion (committed) and its mark: the caller
    gets an error and, asking again, a 404 (the agent is gone), so nothing would mark the
    deletion or sweep the agent's memories. Ingest's sweeps find such a deletion and finish
    it; an agent made again with the id since keeps its own memories."""
    accounts, _, store = await _accounts(log_pool, nc, topology)
    tenant = (await accounts.create_tenant(CreateTenant(name="acme", actor="t"))).tenant_id
    await _agent(accounts, tenant, "bot")
    await _agent(accounts, tenant, "twin")
    kept = await _record(store, tenant, "other")
    gone = [await _record(store, tenant, "bot"), await _record(store, tenant, "twin")]
    real = EventStore.retire_agent

    async def fails(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise ConnectionResetError("the database went away")

    monkeypatch.setattr(EventStore, "retire_agent", fails)
    for agent in ("bot", "twin"):
        with pytest.raises(ConnectionResetError):
            await accounts.delete_agent(DeleteAgent(tenant_id=tenant, agent_id=agent, actor="t"))
    monkeypatch.setattr(EventStore, "retire_agent", real)
    await _agent(accounts, tenant, "twin")  # made again: its new memories are its own
    again = await _record(store, tenant, "twin")
    await accounts.resume_sweeps(settled=0)
    assert [await _deleted(store, tenant, m) for m in gone] == [True, True]
    assert not await _deleted(store, tenant, kept)
    assert not await _deleted(store, tenant, again)
    marks = await log_pool.fetch(
        "SELECT agent_id, commands_through FROM mnemo.retired_agents WHERE tenant_id = $1"
        " ORDER BY agent_id",
        tenant,
    )
    # The deleted agent's late commands are dropped (the head, 10); the twin's are its own.
    assert [(m["agent_id"], m["commands_through"]) for m in marks] == [("bot", 10), ("twin", 0)]
    await accounts.resume_sweeps(settled=0)  # found once: marked as of the deletion
    assert len(await store.unretired_agents(0)) == 0
