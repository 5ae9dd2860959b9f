"""A reply is indexed with the turn before it in its session (read model in PostgreSQL), so
a question finds the reply by the words of the turn it answers."""

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from msgspec.structs import replace

from mnemo.contracts import Envelope, GetMemoryQuery, MemoryRecorded, NewEvent, SearchQuery
from mnemo.embeddings import HashingEmbedder
from mnemo.eventlog import EventStore, connect, migrate, migrate_eventlog
from mnemo.retrieval.handlers import drop_memory, index_recorded
from mnemo.retrieval.index import MemoryIndex
from mnemo.retrieval.memories import SQL, MemoryTable
from mnemo.retrieval.stores import EdgeVectorStore, SparseEncoder
from mnemo.retrieval.turns import Turn

T0 = datetime(2024, 5, 8, 13, 56, tzinfo=UTC)


def recorded(
    tenant: str,
    user: str,
    content: str,
    position: int,
    *,
    session: str | None = "s1",
    author: str = "Caroline",
    at: datetime = T0,
    agent: str | None = None,
) -> Envelope:
    memory_id = str(uuid.uuid4())
    return Envelope(
        event_id=str(uuid.uuid4()),
        event_type="memory.recorded",
        tenant_id=tenant,
        stream_id=f"memory-{memory_id}",
        stream_version=1,
        global_position=position,
        occurred_at=at,
        recorded_at=datetime.now(UTC),
        correlation_id=memory_id,
        causation_id=memory_id,
        actor="test",
        service="ingest",
        data=MemoryRecorded(
            memory_id=memory_id,
            user_id=user,
            content=content,
            source_type="conversation",
            session_id=session,
            agent_id=agent,
            metadata={"author": author},
        ),
    )


async def logged(
    log_store: EventStore, tenant: str, user: str, content: str, author: str, at: datetime = T0
) -> Envelope:
    """One turn of session s1 appended to the log as ingest records it."""
    memory_id = str(uuid.uuid4())
    event = NewEvent(
        event_id=str(uuid.uuid4()),
        tenant_id=tenant,
        data=MemoryRecorded(
            memory_id=memory_id,
            user_id=user,
            content=content,
            session_id="s1",
            metadata={"author": author},
        ),
        occurred_at=at,
        correlation_id=memory_id,
        causation_id=memory_id,
        actor="test",
        service="ingest",
    )
    [stored] = await log_store.append(f"memory-{memory_id}", [event])
    return stored


@pytest.fixture
async def table(fresh_database: str):  # type: ignore[no-untyped-def]
    pool = await connect(fresh_database, max_size=4)
    async with pool.acquire() as conn:
        await migrate_eventlog(conn)
        await migrate(conn, "retrieval", SQL)
    yield MemoryTable(pool)
    await pool.close()


async def test_the_preceding_turn_is_the_one_just_before_in_the_same_session(
    table: MemoryTable,
) -> None:
    tenant, user = f"t_{uuid.uuid4().hex[:8]}", "u1"
    first = recorded(tenant, user, "Have you been to the beach this year?", 1, author="Mel")
    second = recorded(tenant, user, "Yes, twice!", 2)
    # Later in valid time though earlier in the log: it follows `second`, not `first`.
    third = recorded(tenant, user, "And the lake?", 0, at=T0 + timedelta(minutes=1))
    elsewhere = recorded(tenant, user, "Other session", 3, session="s2")
    alone = recorded(tenant, user, "No session", 4, session=None)
    other_user = recorded(tenant, "u2", "Someone else", 5)
    everything = [first, second, third, elsewhere, alone, other_user]
    await table.record_all(everything)

    found = await table.preceding(everything)

    assert found == {
        second.data.memory_id: Turn("Mel", "Have you been to the beach this year?"),  # type: ignore[union-attr]
        third.data.memory_id: Turn("Caroline", "Yes, twice!"),  # type: ignore[union-attr]
    }


async def test_a_turn_is_read_with_the_turns_of_its_own_agent_only(table: MemoryTable) -> None:
    """Agents (and the tenant's own memories, of no agent) sharing a user's session never
    lend each other words: an agent's key would find its memory by words it may not see."""
    tenant, user = f"t_{uuid.uuid4().hex[:8]}", "u1"
    said = [
        ("My password hint is kiwi", None),
        ("Hello from agent one", "a1"),
        ("I work at Google and love Rust", "a2"),
        ("ok thanks", "a1"),
        ("And the lake?", None),
    ]
    turns = [
        recorded(tenant, user, words, n, agent=agent, at=T0 + timedelta(seconds=n))
        for n, (words, agent) in enumerate(said, start=1)
    ]
    await table.record_all(turns)
    ids = [t.data.memory_id for t in turns]  # type: ignore[union-attr]

    found = await table.preceding(turns)

    assert found == {
        ids[3]: Turn("Caroline", "Hello from agent one"),
        ids[4]: Turn("Caroline", "My password hint is kiwi"),
    }
    # And back: what is indexed again when a turn arrives late or goes.
    assert await table.followers(turns) == {ids[3]: 4, ids[4]: 5}  # the followers, by log position
    assert await table.following(tenant, ids[2]) is None
    assert await table.following(tenant, ids[1]) == 4


async def test_a_reply_is_found_by_the_question_it_answers(
    table: MemoryTable, tmp_path: Path
) -> None:
    tenant, user = f"t_{uuid.uuid4().hex[:8]}", "u1"
    turns = [
        recorded(tenant, user, "Did you go camping with the kids in July?", 1, author="Mel"),
        recorded(tenant, user, "Yes! Three nights, and it rained every one.", 2),
        recorded(tenant, user, "I started a pottery class on Tuesdays.", 3, session="s2"),
        recorded(tenant, user, "We watched the rain from the porch.", 4, session="s3"),
    ]
    await table.record_all(turns)
    index = MemoryIndex(
        EdgeVectorStore(tmp_path / "edge"), HashingEmbedder(64), SparseEncoder(), table, turns=table
    )
    await index.ensure()
    await index.index_all(turns)
    try:
        hits = await index.search(
            SearchQuery(tenant_id=tenant, user_id=user, query="camping kids", mode="keyword")
        )
    finally:
        await index.close()
    answers = [h.content for h in hits]
    # The reply has none of the question's words: only its preceding turn brings it in.
    assert "Yes! Three nights, and it rained every one." in answers
    # What a hit shows is the memory itself, never the context it was indexed with.
    assert all("Mel:" not in a for a in answers)


async def test_dropping_a_memory_reindexes_the_turn_after_it_without_it(
    table: MemoryTable, fresh_database: str, tmp_path: Path
) -> None:
    tenant, user = f"t_{uuid.uuid4().hex[:8]}", "u1"
    pool = await connect(fresh_database, max_size=2)
    log_store = EventStore(pool)
    stored = [
        await logged(log_store, tenant, user, content, author)
        for content, author in (
            ("Where did you go camping in July?", "Mel"),
            ("Yes! Three nights, and it rained every one.", "Caroline"),
        )
    ]
    await table.record_all(stored)
    index = MemoryIndex(
        EdgeVectorStore(tmp_path / "edge"), HashingEmbedder(64), SparseEncoder(), table, turns=table
    )
    await index.ensure()
    query = SearchQuery(tenant_id=tenant, user_id=user, query="camping July", mode="keyword")
    try:
        await index.index_all(stored)
        assert len(await index.search(query)) == 2
        question = stored[0].data
        assert isinstance(question, MemoryRecorded)

        await drop_memory(index, table, log_store, tenant, question.memory_id)

        # The reply stays, but the dropped question's words no longer find it.
        assert await index.search(query) == []
        assert await index.count() == 1
    finally:
        await index.close()
        await pool.close()


async def test_a_batch_is_recorded_and_marked_each_memory_once(
    table: MemoryTable,
) -> None:
    tenant, user = f"t_{uuid.uuid4().hex[:8]}", "u1"
    turns = [recorded(tenant, user, f"turn {i}", i, author=f"A{i}") for i in range(4)]
    await table.record_all(turns[:2])
    # Redelivered ones (one of them twice in the batch) keep what was recorded first.
    again = replace(turns[1].data, content="changed")
    await table.record_all([*turns[1:], replace(turns[1], data=again), turns[3]])
    await table.mark_synthesized(
        [(tenant, turns[0].data.memory_id), (tenant, turns[2].data.memory_id), (tenant, "gone")]  # type: ignore[union-attr]
    )
    views = [
        await table.get(GetMemoryQuery(tenant_id=tenant, memory_id=t.data.memory_id))  # type: ignore[union-attr]
        for t in turns
    ]
    assert [(v.content, v.metadata, v.session_id, v.synthesized) for v in views if v] == [
        ("turn 0", {"author": "A0"}, "s1", True),
        ("turn 1", {"author": "A1"}, "s1", False),
        ("turn 2", {"author": "A2"}, "s1", True),
        ("turn 3", {"author": "A3"}, "s1", False),
    ]


async def test_a_reply_that_reached_the_log_before_its_question_is_indexed_again_with_it(
    table: MemoryTable, fresh_database: str, tmp_path: Path
) -> None:
    """Turns sent at once (batches in parallel) can be recorded out of their order: the
    reply, indexed first, had no preceding turn; once the question is indexed, the reply
    is indexed again with it, and the question's words find it."""
    tenant, user = f"t_{uuid.uuid4().hex[:8]}", "u1"
    pool = await connect(fresh_database, max_size=2)
    log_store = EventStore(pool)
    said = [
        ("Where did you go camping in July?", "Mel", T0),
        ("Yes! Three nights, and it rained every one.", "Caroline", T0 + timedelta(seconds=1)),
        ("I started a pottery class.", "Mel", T0 + timedelta(seconds=2)),
    ]
    events = {}
    for content, author, at in reversed(said):  # the log holds them last first
        events[content] = await logged(log_store, tenant, user, content, author, at)
    index = MemoryIndex(
        EdgeVectorStore(tmp_path / "edge"), HashingEmbedder(64), SparseEncoder(), table, turns=table
    )
    await index.ensure()
    query = SearchQuery(tenant_id=tenant, user_id=user, query="camping July", mode="keyword")
    question, reply, later = (events[content] for content, _, _ in said)
    try:
        await index_recorded(index, table, log_store, [reply])
        await index_recorded(index, table, log_store, [later])
        assert await index.search(query) == []  # the reply alone: nothing of camping
        await index_recorded(index, table, log_store, [question])
        found = {h.content for h in await index.search(query)}
        assert found == {"Where did you go camping in July?", said[1][0]}
        assert await index.count() == 3
    finally:
        await index.close()
        await pool.close()
