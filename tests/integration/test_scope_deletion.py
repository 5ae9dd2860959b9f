"""Deleting every memory of a run, an app or metadata (alone or with a user or an agent:
Mem0's delete_all) finds them in the log, not only in a read model that may not have the
newest yet (`IngestHandlers.delete_scope_memories`, `EventStore.scope_memories`), and
marks the command stream so that one accepted before the deletion and recorded after it
(a backlog) is dropped (`EventStore.mark_scope`), one in flight waited for."""

import asyncio
import time
from typing import Any

import pytest

from mnemo.contracts import (
    DeleteScopeMemories,
    MemoryDeleted,
    MemoryRecorded,
    MetadataEquality,
    new_id,
)
from mnemo.contracts.deadlines import ANSWER_BY, AnswerTooLate
from mnemo.eventlog import EventStore
from mnemo.eventlog.scopes import MemoryScope
from mnemo.ingest.handlers import IngestHandlers, memory_stream

from .helpers import new_event

TENANT = "t1"


def _sent(
    user: str = "u1",
    session: str | None = "run-1",
    agent: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> tuple[str, Any]:
    """A memory command as ingest records it (a stream of its own, the event)."""
    memory_id = new_id()
    data = MemoryRecorded(
        memory_id=memory_id,
        user_id=user,
        content="hello",
        session_id=session,
        agent_id=agent,
        metadata=metadata or {},
    )
    return memory_stream(TENANT, memory_id), new_event(data, TENANT)


async def _record(store: EventStore, *items: tuple[str, Any], sent_at: int = 5) -> list[str]:
    stored = await store.append_first_events(list(items), sent_at=[sent_at] * len(items))
    assert len(stored) == len(items)
    return [e.data.memory_id for e in stored]  # type: ignore[attr-defined]


async def _deleted(store: EventStore, memory_id: str) -> bool:
    events = await store.read_stream(memory_stream(TENANT, memory_id))
    return isinstance(events[-1].data, MemoryDeleted)


def _handlers(store: EventStore, head: int = 10) -> IngestHandlers:
    async def command_stream() -> tuple[int, bool]:
        return head, False

    return IngestHandlers(store, command_stream=command_stream)


async def test_a_runs_memories_no_read_model_has_are_deleted_from_the_log(log_pool):
    """No read model has these (the gateway's listing would find none): the deletion finds
    them in the log by their session (a keyed digest in clear), and matches the app and
    metadata on the memories it opens; a share to a call, on from where the last one
    stopped."""
    store = EventStore(log_pool)
    handlers = _handlers(store)
    app = {"mem0": {"app_id": "app-1"}, "tag": "gone"}
    theirs = await _record(
        store, _sent(metadata=app), _sent(user="u2", metadata=app), _sent(metadata=app)
    )
    kept = await _record(
        store,
        _sent(metadata={**app, "tag": "kept"}),
        _sent(metadata={"mem0": {"app_id": "app-2"}, "tag": "gone"}),
        _sent(session="run-2", metadata=app),
    )
    wanted = [
        MetadataEquality(path=["mem0", "app_id"], value="app-1"),
        MetadataEquality(path=["tag"], value="gone"),
    ]
    ask = DeleteScopeMemories(
        tenant_id=TENANT, actor="t", session_id="run-1", metadata=wanted, most=2
    )
    deleted, after, calls = [], None, 0
    while True:
        calls += 1
        done = await handlers.delete_scope_memories(
            DeleteScopeMemories(**{**_fields(ask), "after": after})
        )
        deleted.extend(d.memory_id for d in done.deleted)
        if not done.more:
            break
        after = done.after
    assert deleted == theirs and calls == 3
    # The log keeps the run's name sealed with the content (a forgotten user's run names
    # are unreadable too): only its keyed digest is in clear.
    rows = await log_pool.fetch(
        "SELECT data FROM mnemo.events WHERE event_type = 'memory.recorded'"
        " AND data->>'memory_id' = ANY($1::text[])",
        theirs,
    )
    assert len(rows) == 3 and all("session_tag" in r["data"] for r in rows)
    assert not any("run-1" in r["data"] for r in rows)
    assert [await _deleted(store, m) for m in theirs] == [True] * 3
    assert [await _deleted(store, m) for m in kept] == [False] * 3
    # With a user, of that user only; an agent's session, of that agent only.
    mine, bots = await _record(store, _sent(user="u3"), _sent(user="u3", agent="bot"))
    other = (await _record(store, _sent(user="u4")))[0]
    by_user = DeleteScopeMemories(tenant_id=TENANT, actor="t", user_id="u3", session_id="run-1")
    assert [d.memory_id for d in (await handlers.delete_scope_memories(by_user)).deleted] == [
        mine,
        bots,
    ]
    assert not await _deleted(store, other)
    by_agent = DeleteScopeMemories(tenant_id=TENANT, actor="t", agent_id="bot", session_id="run-1")
    assert (await handlers.delete_scope_memories(by_agent)).deleted == []


def _fields(struct: Any) -> dict[str, Any]:
    return {f: getattr(struct, f) for f in struct.__struct_fields__}


async def test_a_memory_of_a_scope_sent_before_its_deletion_is_not_recorded(log_pool):
    """The deletion marks the command stream at its head (10): a memory command of the
    scope accepted until then and recorded after (a backlog) goes with the others; one
    after it, or out of the scope (another run, other metadata), is kept. The mark holds
    no metadata value, only a digest of it."""
    store = EventStore(log_pool, mark_secret="s" * 32)
    handlers = _handlers(store)
    wanted = [MetadataEquality(path=["tag"], value="secret-word")]
    ask = DeleteScopeMemories(tenant_id=TENANT, actor="t", session_id="run-1", metadata=wanted)
    assert (await handlers.delete_scope_memories(ask)).deleted == []
    tagged = {"tag": "secret-word"}
    items = [
        _sent(metadata=tagged),  # 0: sent before: dropped
        _sent(metadata=tagged),  # 1: sent after: kept
        _sent(session="run-2", metadata=tagged),  # 2: another run: kept
        _sent(metadata={"tag": "other"}),  # 3: other metadata: kept
        _sent(user="u9", metadata=tagged),  # 4: any user of the run: dropped
    ]
    stored = await store.append_first_events(items, sent_at=[10, 11, 9, 10, 7])
    assert [e.event_id for e in stored] == [items[i][1].event_id for i in (1, 2, 3)]
    marks = await log_pool.fetch("SELECT * FROM mnemo.scope_marks")
    assert len(marks) == 1 and "secret-word" not in str(dict(marks[0]))
    # A scope of a user only (no metadata) marks as well.
    await store.mark_scope(MemoryScope(tenant_id=TENANT, user_id="u5"), 20)
    late = [_sent(user="u5", session=None), _sent(user="u6", session=None)]
    stored = await store.append_first_events(late, sent_at=[15, 15])
    assert [e.event_id for e in stored] == [late[1][1].event_id]


async def test_an_append_in_flight_when_a_scope_is_deleted_is_deleted_with_it(
    log_pool, monkeypatch
):
    """The append read the scope marks before the deletion set its own, and commits after:
    the deletion waits for it (a lock the two share), then finds its memory in the log."""
    store = EventStore(log_pool)
    handlers = _handlers(store, head=5)
    read_marks = asyncio.Event()
    release = asyncio.Event()
    real = EventStore._scope_marks

    async def held(self, conn, events, sent_at):  # type: ignore[no-untyped-def]
        marks = await real(self, conn, events, sent_at)
        if not read_marks.is_set():
            read_marks.set()
            await release.wait()
        return marks

    monkeypatch.setattr(EventStore, "_scope_marks", held)
    recording = asyncio.create_task(_record(store, _sent(), sent_at=5))
    await asyncio.wait_for(read_marks.wait(), 60)
    ask = DeleteScopeMemories(tenant_id=TENANT, actor="t", session_id="run-1")
    deleting = asyncio.create_task(handlers.delete_scope_memories(ask))

    async def deletion_waits_on_the_lock() -> bool:
        waiting = await log_pool.fetchval(
            """SELECT count(*) FROM pg_stat_activity
               WHERE wait_event_type = 'Lock' AND wait_event = 'advisory'"""
        )
        return bool(waiting)

    try:
        for _ in range(1200):
            if deleting.done() or await deletion_waits_on_the_lock():
                break
            await asyncio.sleep(0.05)
        assert not deleting.done(), "the deletion did not wait for the append in flight"
    finally:
        release.set()
    [memory] = await asyncio.wait_for(recording, 60)
    done = await asyncio.wait_for(deleting, 60)
    assert [d.memory_id for d in done.deleted] == [memory]
    assert await _deleted(store, memory)


async def test_marks_of_the_same_values_at_other_paths_are_two_scopes(log_pool):
    """A deletion of `topic: x` and one of `color: x` are two scopes: each drops the late
    commands of its own (they were one mark, and the second's head moved the first's)."""
    store = EventStore(log_pool, mark_secret="s" * 32)
    topic = MemoryScope(tenant_id=TENANT, session_id="run-1", metadata=((("topic",), "x"),))
    color = MemoryScope(tenant_id=TENANT, session_id="run-1", metadata=((("color",), "x"),))
    await store.mark_scope(topic, 10)
    await store.mark_scope(color, 20)
    items = [_sent(metadata={"topic": "x"}), _sent(metadata={"color": "x"})]
    stored = await store.append_first_events(items, sent_at=[15, 15])
    # The topic's was accepted after its deletion (10): kept; the color's before (20): not.
    assert [e.event_id for e in stored] == [items[0][1].event_id]
    assert await log_pool.fetchval("SELECT count(*) FROM mnemo.scope_marks") == 2


async def test_a_scopes_deletion_waits_for_an_append_only_as_long_as_its_asker(log_pool):
    """While the deletion waits for an append in flight, every other append of the tenant
    queues behind it (PostgreSQL's lock queue): within a query it waits no longer than its
    asker does, then gives up having done nothing (`AnswerTooLate`, answered 503)."""
    store = EventStore(log_pool)
    scope = MemoryScope(tenant_id=TENANT, session_id="run-9")
    async with log_pool.acquire() as holder, holder.transaction():
        # An append in flight holds the tenant's scope lock, shared.
        await holder.execute(
            "SELECT pg_advisory_xact_lock_shared(hashtextextended($1, 0))",
            f"mnemo.scope\x1f{TENANT}",
        )
        token = ANSWER_BY.set(time.monotonic() + 0.5)
        try:
            with pytest.raises(AnswerTooLate):
                await asyncio.wait_for(store.mark_scope(scope, 10), 60)
        finally:
            ANSWER_BY.reset(token)
    assert await log_pool.fetchval("SELECT count(*) FROM mnemo.scope_marks") == 0
    await store.mark_scope(scope, 10)  # no deadline, nothing in flight: marked
    assert await log_pool.fetchval("SELECT count(*) FROM mnemo.scope_marks") == 1
