"""Crypto-shredding: content is sealed in the log; forgetting a subject makes it unreadable."""

import asyncio
import shutil
import uuid
from datetime import timedelta
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from mnemo.contracts import (
    Headers,
    IngestMemory,
    MemoryForgotten,
    MemoryRecorded,
    NewEvent,
    new_id,
    utcnow,
)
from mnemo.eventlog import Ended, EventStore, Relay, connect, migrate_eventlog, silenced_by
from mnemo.eventlog.keyring import KeyRing
from mnemo.eventlog.migrations import EVENTLOG_SQL, migrate
from mnemo.ingest.handlers import IngestHandlers, memory_stream
from tests.e2e.waiting import eventually_async

from .helpers import delivery, new_event, stream_messages


def said(user: str, content: str, tenant: str = "acme") -> NewEvent:
    return NewEvent(
        event_id=new_id(),
        tenant_id=tenant,
        occurred_at=utcnow(),
        correlation_id=new_id(),
        causation_id=new_id(),
        actor="test",
        service="test",
        data=MemoryRecorded(memory_id=new_id(), user_id=user, content=content),
    )


async def raw_data(pool) -> str:
    rows = await pool.fetch("SELECT data::text AS d FROM mnemo.events")
    return "\n".join(r["d"] for r in rows)


async def test_content_is_sealed_at_rest_and_readable_through_the_store(log_pool):
    store = EventStore(log_pool)
    [stored] = await store.append("s-1", [said("alice", "my locker code is 4711")])
    assert stored.data.content == "my locker code is 4711"
    # (Not "4711" alone: the key's id, a random uuid in clear, may hold those hex digits.)
    assert "locker code" not in await raw_data(log_pool)
    [again] = await store.read_stream("s-1")
    assert again.data.content == "my locker code is 4711"


async def test_forgetting_a_subject_makes_its_events_unreadable_and_only_its_own(log_pool):
    store = EventStore(log_pool)
    await store.append("s-a1", [said("alice", "alice likes tea")])
    await store.append("s-a2", [said("alice", "alice lives in Oslo")])
    await store.append("s-b1", [said("bob", "bob likes coffee")])

    assert await store.forget_subject("acme", "alice") == {"memory.recorded": 2}
    assert await store.read_stream("s-a1") == []
    readable, _ = await store.read_all()
    assert [e.data.content for e in readable] == ["bob likes coffee"]
    raw = await raw_data(log_pool)
    assert "tea" not in raw and "Oslo" not in raw
    # The rows are still there, unchanged: the log was not edited.
    assert await log_pool.fetchval("SELECT count(*) FROM mnemo.events") == 3
    assert await store.forget_subject("acme", "alice") == {}


async def test_the_planner_never_samples_a_data_key(log_pool):
    """ANALYZE (autovacuum runs it on its own) copies a sample of a column's values into
    pg_statistic, where a shredded key would outlive its row: the keys are never sampled."""
    store = EventStore(log_pool)
    for user in ("alice", "bob", "carol", "dave"):
        await store.append(f"s-{user}", [said(user, f"{user} likes tea")])
    await log_pool.execute("ANALYZE mnemo.subject_keys")
    sampled = await log_pool.fetch(
        "SELECT attname FROM pg_stats WHERE schemaname = 'mnemo'"
        " AND tablename = 'subject_keys' AND attname = 'key'"
    )
    assert sampled == []
    # The rest of the table is still known to the planner.
    assert await log_pool.fetchval(
        "SELECT count(*) FROM pg_stats WHERE schemaname = 'mnemo'"
        " AND tablename = 'subject_keys' AND attname = 'user_id'"
    )


class SubjectKeysOnly(KeyRing):
    """The keyring of a log made before memories had keys of their own (0012)."""

    async def memory_keys(self, conn, memories, lineage=None):  # type: ignore[no-untyped-def]
        return {}


async def test_an_owner_not_superuser_loses_the_key_samples_taken_before(
    database_url, fresh_database, tmp_path
):
    """The keys sampled before migration 0010 (autovacuum's ANALYZE) go at the migration,
    also as a role that owns the tables but is not superuser: such a role may not delete
    rows of pg_statistic (what a forget's compaction does), and ANALYZE skips a column of
    target 0, so it never replaces them. Left there, a shredded key opens its subject's
    events again."""
    role = "owner_" + uuid.uuid4().hex[:10]
    name = urlsplit(fresh_database).path.lstrip("/")
    admin = await asyncpg.connect(database_url)
    await admin.execute(f"CREATE ROLE {role} LOGIN NOSUPERUSER PASSWORD '{role}'")
    await admin.execute(f'ALTER DATABASE "{name}" OWNER TO {role}')
    await admin.close()
    parts = urlsplit(fresh_database)
    host = parts.netloc.rpartition("@")[2]
    as_owner = urlunsplit(parts._replace(netloc=f"{role}:{role}@{host}"))
    before = tmp_path / "before-0010"  # the migrations of a log made before 0010
    before.mkdir()
    for script in sorted(EVENTLOG_SQL.glob("00*.sql")):
        if int(script.name[:4]) < 10:
            shutil.copy(script, before)
    pool = await connect(as_owner, max_size=2)
    key_samples = (
        "SELECT count(*) FROM pg_stats WHERE schemaname = 'mnemo'"
        " AND tablename = 'subject_keys' AND attname = 'key'"
    )
    try:
        async with pool.acquire() as conn:
            assert not await conn.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = user")
            await migrate(conn, "eventlog", before)
        store = EventStore(pool)
        store.keyring = SubjectKeysOnly()  # as Mnemo wrote then: no memory has a key of its own
        for user in ("alice", "bob", "carol", "dave"):
            await store.append(f"s-{user}", [said(user, f"{user} likes tea")])
        await pool.execute("ANALYZE mnemo.subject_keys")
        assert await pool.fetchval(key_samples) == 1  # the premise: the keys are sampled

        async with pool.acquire() as conn:
            assert (await migrate_eventlog(conn))[0] == 10  # and those after it

        async with pool.acquire() as conn:
            await conn.execute("ANALYZE mnemo.subject_keys")  # and never sampled again
        admin = await asyncpg.connect(fresh_database)
        try:
            assert await admin.fetchval(key_samples) == 0
            table = "'mnemo.subject_keys'::regclass"
            assert not await admin.fetchval(
                f"SELECT count(*) FROM pg_statistic WHERE starelid = {table} AND staattnum ="
                f" (SELECT attnum FROM pg_attribute WHERE attrelid = {table} AND attname = 'key')"
            )
            # The rest of the table is still known to the planner.
            assert await admin.fetchval(
                "SELECT count(*) FROM pg_stats WHERE schemaname = 'mnemo'"
                " AND tablename = 'subject_keys' AND attname = 'user_id'"
            )
        finally:
            await admin.close()
        # The keys themselves are intact: the events still open.
        assert {e.data.content for e in await store.read_stream("s-alice")} == {"alice likes tea"}
    finally:
        await pool.close()
        admin = await asyncpg.connect(fresh_database)
        try:
            await admin.execute(f"REASSIGN OWNED BY {role} TO CURRENT_USER; DROP OWNED BY {role}")
            await admin.execute(f"DROP ROLE {role}")
        finally:
            await admin.close()


async def test_a_subject_forgotten_then_heard_again_gets_a_new_key(log_pool):
    store = EventStore(log_pool)
    await store.append("s-old", [said("carol", "old words")])
    await store.forget_subject("acme", "carol")
    await store.append("s-new", [said("carol", "new words")])
    readable, _ = await store.read_all()
    assert [e.data.content for e in readable] == ["new words"]


async def test_the_same_user_id_in_another_tenant_is_not_forgotten(log_pool):
    store = EventStore(log_pool)
    await store.append("s-t1", [said("dave", "in tenant one", tenant="one")])
    await store.append("s-t2", [said("dave", "in tenant two", tenant="two")])
    await store.forget_subject("one", "dave")
    readable, _ = await store.read_all()
    assert [e.data.content for e in readable] == ["in tenant two"]


async def test_the_relay_does_not_publish_what_was_forgotten(log_pool, publisher, topology):
    store = EventStore(log_pool)
    await store.append("s-e1", [said("erin", "erin's words")])
    kept = said("frank", "frank's words")
    await store.append("s-f1", [kept])
    await store.forget_subject("acme", "erin")
    assert await Relay(log_pool, publisher).pump() == 2
    msgs = await stream_messages(
        publisher.js, topology.evt_stream, topology.evt_subject("acme", "memory.recorded"), expect=1
    )
    assert [m.headers[Headers.MSG_ID] for m in msgs] == [kept.event_id]


async def key_row_version(pool, user: str) -> str:
    """The key row's xmin: a new version of the row (an update) changes it, a lock does not."""
    return await pool.fetchval(
        "SELECT xmin::text FROM mnemo.subject_keys WHERE tenant_id = 'acme' AND user_id = $1",
        user,
    )


async def test_appends_lock_the_subject_key_without_writing_it(log_pool):
    store = EventStore(log_pool)
    await store.append("s-first", [said("dora", "first words")])
    version = await key_row_version(log_pool, "dora")
    await store.append("s-many", [said("dora", f"words {i}") for i in range(10)])
    await store.append_first_events([(f"s-{i}", said("dora", f"more {i}")) for i in range(10)])
    assert await key_row_version(log_pool, "dora") == version
    readable, _ = await store.read_all()
    assert len(readable) == 21 and all(e.data.content for e in readable)


async def test_a_forget_waits_for_an_append_that_holds_the_subject_key(log_pool):
    store = EventStore(log_pool)
    await store.append("s-held", [said("erin", "before")])
    async with log_pool.acquire() as holder:
        tx = holder.transaction()
        await tx.start()
        key_id, _ = await store.keyring.key_for(holder, "acme", "erin")
        forget = asyncio.create_task(store.forget_subject("acme", "erin"))
        await eventually_async(
            lambda: log_pool.fetchval(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE wait_event_type = 'Lock' AND query LIKE '%subject_keys%'"
            )
        )
        assert not forget.done()
        # Still the key it held: nothing shredded it meanwhile.
        assert (
            await holder.fetchval(
                "SELECT key_id::text FROM mnemo.subject_keys WHERE tenant_id = 'acme'"
                " AND user_id = 'erin'"
            )
            == key_id
        )
        await tx.commit()
    assert await forget == {"memory.recorded": 1}


async def test_what_a_command_sent_before_the_forget_records_is_dropped(log_pool):
    """A command accepted before the forget (stream sequence at or below the forget's mark)
    that reaches the log after it would bring the subject back under a new key."""
    store = EventStore(log_pool)
    await store.append("s-g0", [said("gus", "first words")], sent_at=[3])
    await store.forget_subject("acme", "gus", commands_through=10)
    assert await store.append("s-g1", [said("gus", "late words")], sent_at=[10]) == []
    written = await store.append_first_events(
        [("s-g2", said("gus", "sent before")), ("s-g3", said("gus", "sent after"))],
        sent_at=[7, 11],
    )
    assert [e.data.content for e in written] == ["sent after"]
    readable, _ = await store.read_all()
    assert [e.data.content for e in readable] == ["sent after"]
    assert "late words" not in await raw_data(log_pool)
    assert "sent before" not in await raw_data(log_pool)
    # Another subject's commands, whatever their sequence, are not touched.
    [other] = await store.append("s-h1", [said("hal", "hal's words")], sent_at=[1])
    assert other.data.content == "hal's words"


async def test_marks_counted_in_a_command_stream_since_made_anew_are_cleared(log_pool):
    """The marks count in one command stream's sequences; made anew (its store lost, or
    deleted by an operator) it numbers from 1 again, and the marks would drop the new
    commands of every subject once forgotten. The log knows the stream by when it was
    made, and clears the marks when another one is live."""
    store = EventStore(log_pool)
    first, second = utcnow(), utcnow() + timedelta(days=1)
    assert await store.align_command_stream(first) is False  # the first one the log sees
    await store.forget_subject("acme", "ivy", commands_through=10)
    assert await store.append("s-i1", [said("ivy", "old life")], sent_at=[3]) == []
    assert await store.align_command_stream(first) is False  # the same stream: kept
    assert await store.append("s-i1", [said("ivy", "old life")], sent_at=[3]) == []
    assert await store.align_command_stream(second) is True  # made anew
    [kept] = await store.append("s-i2", [said("ivy", "new life")], sent_at=[3])
    assert kept.data.content == "new life"
    assert await store.align_command_stream(second) is False


async def test_ingest_records_a_command_a_stale_mark_dropped(log_pool, publisher, topology):
    """Ingest asks JetStream when its command stream was made: a command that a mark of
    the old stream dropped is recorded once the log learns the stream is another."""
    js = publisher.js
    store = EventStore(log_pool)

    async def command_stream() -> tuple[int, bool]:
        info = await js.stream_info(topology.cmd_stream)
        anew = info.created is not None and await store.align_command_stream(info.created)
        return int(info.state.last_seq), anew

    handlers = IngestHandlers(
        store, chunk_max=1200, chunk_overlap=200, command_stream=command_stream
    )
    await command_stream()
    await store.forget_subject("acme", "jo", commands_through=50)
    config = (await js.stream_info(topology.cmd_stream)).config
    await js.delete_stream(topology.cmd_stream)
    await js.add_stream(config)  # made anew: its sequences start again

    command = IngestMemory(
        command_id=new_id(), tenant_id="acme", issued_at=utcnow(), actor="test",
        memory_id=new_id(), user_id="jo", content="after the store was lost",
    )  # fmt: skip
    await handlers.ingest_memory(
        delivery(
            command,
            topology.cmd_subject("ingest.memory", "acme"),
            "acme",
            command.command_id,
            1,
            topology.cmd_stream,
        )
    )

    [recorded] = await store.read_stream(memory_stream("acme", command.memory_id))
    assert recorded.data.content == "after the store was lost"


async def test_a_forget_waits_for_an_append_making_the_subjects_first_key(log_pool):
    """An append in flight that made the subject's first key: the forget cannot see the
    uncommitted key to delete it, so it waits for it (the subject's lock) and shreds it."""
    store = EventStore(log_pool)
    async with log_pool.acquire() as holder:
        tx = holder.transaction()
        await tx.start()
        await store.keyring.key_for(holder, "acme", "gina")
        forget = asyncio.create_task(store.forget_subject("acme", "gina"))
        await eventually_async(
            lambda: log_pool.fetchval(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE wait_event = 'advisory' AND query LIKE '%pg_advisory_xact_lock%'"
            )
        )
        assert not forget.done()
        await tx.commit()
    await forget
    assert (
        await log_pool.fetchval(
            "SELECT count(*) FROM mnemo.subject_keys WHERE tenant_id = 'acme' AND user_id = 'gina'"
        )
        == 0
    )


async def test_events_sealed_under_a_shredded_key_are_unreadable_to_late_projections(log_pool):
    """A projection gets events from the bus, in clear, possibly after the forget: it asks
    the log which of them were sealed under a key shredded since."""
    store = EventStore(log_pool)
    [gone] = await store.append("s-i1", [said("ivy", "ivy's words")])
    [kept] = await store.append("s-j1", [said("jon", "jon's words")])
    assert await store.unreadable([gone.event_id, kept.event_id]) == set()
    await store.forget_subject("acme", "ivy")
    [again] = await store.append("s-i2", [said("ivy", "ivy starts over")])
    assert await store.unreadable([gone.event_id, kept.event_id, again.event_id, new_id()]) == {
        gone.event_id
    }
    # Retrieval asks it with the deletions in one round trip (`ended`): the same answer.
    ended = await store.ended([gone.event_id, kept.event_id, again.event_id, new_id()])
    assert ended == Ended(forgotten={gone.event_id}, deleted=set(), successors={})


def forgotten(user: str, event_id: str):
    def record(removed: dict[str, int], keys: int) -> NewEvent:
        data = MemoryForgotten(user_id=user, removed=removed, keys=keys)
        return new_event(data, "acme", event_id)

    return record


async def test_a_forget_and_its_event_commit_together_or_not_at_all(log_pool):
    """Keys shredded with no `memory.forgotten` in the log would leave the read models
    holding the subject's words: a failure while recording the event undoes the shred."""

    class EventFails(EventStore):
        async def _write(self, *args, **kwargs):
            raise ConnectionResetError("the database went away")

    store = EventStore(log_pool)
    await store.append("s-h1", [said("hana", "my locker code is 4711")])
    event_id = new_id()
    try:
        await EventFails(log_pool).forget_and_record(
            "acme", "hana", 0, "subject-hana", forgotten("hana", event_id)
        )
    except ConnectionResetError:
        pass
    [kept] = await store.read_stream("s-h1")
    assert kept.data.content == "my locker code is 4711"
    assert await store.read_stream("subject-hana") == []
    # The retry does both; a repeat of it answers what it stored.
    removed, done = await store.forget_and_record(
        "acme", "hana", 0, "subject-hana", forgotten("hana", event_id)
    )
    assert removed == {"memory.recorded": 1} and done.event_id == event_id
    assert await store.read_stream("s-h1") == []
    assert [e.event_id for e in await store.read_stream("subject-hana")] == [event_id]
    again = await store.forget_and_record(
        "acme", "hana", 0, "subject-hana", forgotten("hana", event_id)
    )
    assert again == (removed, done)


async def test_a_forget_counts_what_an_append_in_flight_sealed_and_every_key_it_shreds(
    log_pool,
):
    """A forget counts what it silenced after its keys are gone, so an append it waited for
    (one under an existing key holds the key's row, not the subject's lock) is counted; and
    it says how many keys it shredded: a key made for a command a mark dropped holds no
    event, and its bytes are still to be erased. A forget that counted nothing and shredded
    nothing compacts nothing (`worth_compacting`); this one must."""
    store = EventStore(log_pool)
    await store.append("s-z0", [said("zoe", "first life")], sent_at=[3])
    await store.forget_subject("acme", "zoe", commands_through=10)
    # A command sent before the forget, recorded after: dropped, but its append made a key.
    assert await store.append("s-z1", [said("zoe", "backlog")], sent_at=[7]) == []
    keys = "SELECT count(*) FROM mnemo.subject_keys WHERE user_id = 'zoe'"
    assert await log_pool.fetchval(keys) == 1
    # A memory sent after the forget is being appended while the user is forgotten again.
    async with log_pool.acquire() as holder:
        tx = holder.transaction()
        await tx.start()
        current = await store._versions(holder, ["s-z2"])
        await store._write(
            holder, "s-z2", [said("zoe", "new words")], None, current["s-z2"], None, {}, [20]
        )
        forget = asyncio.create_task(
            store.forget_and_record("acme", "zoe", 30, "s-forget", forgotten("zoe", new_id()))
        )
        await eventually_async(
            lambda: log_pool.fetchval(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE wait_event_type = 'Lock' AND query LIKE '%subject_keys%'"
            )
        )
        await tx.commit()
    removed, event = await asyncio.wait_for(forget, 60)
    assert removed == {"memory.recorded": 1}
    # The subject's key and the memory's own key, which it shredded after the subject's.
    assert (event.data.removed, event.data.keys) == ({"memory.recorded": 1}, 2)
    assert silenced_by(event.data) == 3
    assert await log_pool.fetchval(keys) == 0
    assert await log_pool.fetchval("SELECT count(*) FROM mnemo.memory_keys") == 0
    # Forgotten again with nothing heard since: nothing silenced, no key, nothing to compact.
    _, again = await store.forget_and_record(
        "acme", "zoe", 40, "s-forget", forgotten("zoe", new_id())
    )
    assert silenced_by(again.data) == 0
