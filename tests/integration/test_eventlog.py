"""The event log over a real PostgreSQL: append, idempotency, concurrency, append-only."""

import asyncio

import asyncpg
import pytest

from mnemo.contracts import new_id
from mnemo.eventlog import (
    NO_STREAM,
    EventStore,
    IdempotencyConflict,
    WrongExpectedVersion,
    connect,
    migrate_eventlog,
)

from .helpers import memory_event


@pytest.fixture
async def pool(fresh_database):
    pool = await connect(fresh_database, max_size=20)
    async with pool.acquire() as conn:
        await migrate_eventlog(conn)
    yield pool
    await pool.close()


async def test_migrations_apply_once(pool):
    async with pool.acquire() as conn:
        assert await migrate_eventlog(conn) == []
        versions = await conn.fetch("SELECT version FROM mnemo.schema_migrations")
    assert sorted(r["version"] for r in versions) == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]


async def test_append_then_read_by_position(pool):
    store = EventStore(pool)
    first = await store.append("s-a", [memory_event(content="one")], NO_STREAM)
    second = await store.append("s-b", [memory_event(content="two"), memory_event(content="three")])
    assert first[0].stream_version == 0
    assert [e.stream_version for e in second] == [0, 1]
    everything, _ = await store.read_all()
    assert [e.data.content for e in everything] == ["one", "two", "three"]
    assert [e.global_position for e in everything] == sorted(e.global_position for e in everything)
    later, _ = await store.read_all(after=first[0].global_position)
    assert [e.data.content for e in later] == ["two", "three"]
    assert everything[0].recorded_at is not None and everything[0].service == "test"


async def test_repeated_append_is_a_noop_returning_the_stored_event(pool):
    store = EventStore(pool)
    event = memory_event()
    stored = await store.append("s-idem", [event], NO_STREAM)
    again = await store.append("s-idem", [event], NO_STREAM)
    assert again == stored
    assert len(await store.read_stream("s-idem")) == 1


async def test_first_events_of_many_streams_in_one_append_skip_what_exists(pool):
    store = EventStore(pool)
    existing = await store.append("m-old", [memory_event(content="already here")], NO_STREAM)
    repeated = memory_event(content="sent twice")
    items = [
        ("m-1", memory_event(content="one")),
        ("m-old", memory_event(content="same stream, another event")),
        ("m-2", repeated),
        ("m-3", repeated),  # the same event id for another stream: stored once
        ("m-4", memory_event(content="four")),
    ]
    stored = await store.append_first_events(items)
    assert [e.data.content for e in stored] == ["one", "sent twice", "four"]
    assert all(e.stream_version == 0 for e in stored)
    assert [e.data.content for e in await store.read_stream("m-old")] == ["already here"]
    again = await store.append_first_events(items)
    assert again == []  # a redelivered batch writes nothing
    everything, _ = await store.read_all()
    assert len(everything) == 4 and everything[0].event_id == existing[0].event_id


async def test_a_partial_replay_is_refused(pool):
    store = EventStore(pool)
    event = memory_event()
    await store.append("s-partial", [event])
    with pytest.raises(IdempotencyConflict):
        await store.append("s-partial", [event, memory_event()])


async def test_concurrent_appends_one_winner_per_version(pool):
    store = EventStore(pool)
    await store.append("s-race", [memory_event()], NO_STREAM)

    async def attempt() -> str:
        try:
            await store.append("s-race", [memory_event()], expected_version=0)
            return "won"
        except WrongExpectedVersion:
            return "lost"

    outcomes = await asyncio.gather(*(attempt() for _ in range(12)))
    assert outcomes.count("won") == 1
    assert [e.stream_version for e in await store.read_stream("s-race")] == [0, 1]


async def test_concurrent_appends_without_expectation_all_go_in(pool):
    """ANY expects nothing of the stream: a writer that lost the race for a version (two
    memory packs compiled at once for one agent) goes in after the winner, not a 5xx."""
    store = EventStore(pool)
    await store.append("s-any", [memory_event()])
    stored = await asyncio.gather(*(store.append("s-any", [memory_event()]) for _ in range(12)))
    assert sorted(e[0].stream_version for e in stored) == list(range(1, 13))
    assert len(await store.read_stream("s-any")) == 13


async def test_concurrent_appends_of_the_same_event_store_it_once(pool):
    store = EventStore(pool)
    event = memory_event()
    results = await asyncio.gather(*(store.append("s-same", [event]) for _ in range(8)))
    assert {r[0].global_position for r in results} == {results[0][0].global_position}
    assert len(await store.read_stream("s-same")) == 1


async def test_wrong_expected_version_names_the_stream(pool):
    store = EventStore(pool)
    await store.append("s-exp", [memory_event()])
    with pytest.raises(WrongExpectedVersion, match="s-exp"):
        await store.append("s-exp", [memory_event()], expected_version=NO_STREAM)


async def test_the_log_refuses_update_delete_and_truncate(pool):
    store = EventStore(pool)
    await store.append("s-ro", [memory_event()])
    async with pool.acquire() as conn:
        for sql in (
            "UPDATE mnemo.events SET tenant_id = 'x'",
            "DELETE FROM mnemo.events",
            "TRUNCATE mnemo.events",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
                await conn.execute(sql)
    assert len(await store.read_stream("s-ro")) == 1


async def test_append_notifies_listeners(pool, fresh_database):
    heard: asyncio.Queue[str] = asyncio.Queue()
    conn = await asyncpg.connect(fresh_database)
    try:
        await conn.add_listener("mnemo_events", lambda *args: heard.put_nowait(args[2]))
        await EventStore(pool).append(f"s-{new_id()}", [memory_event()])
        assert await asyncio.wait_for(heard.get(), 10) == "mnemo_events"
    finally:
        await conn.close()
