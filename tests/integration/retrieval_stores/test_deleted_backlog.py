"""A memory recorded, then deleted (alone, with its agent's memories, with its run's)
before retrieval indexed it (a backlog in its consumer): the gateway's drop before the
deletion's answer found nothing to drop, so the recording, when it arrives, must not be
projected (no row, no points, no `memory.indexed`), not even until its `memory.deleted`
comes by. A memory revised meanwhile shows its current version, never the old words.

The real log (ingest's deletions and revisions over it), the real read model and
qdrant-edge in a temporary folder."""

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg

from mnemo.contracts import (
    MEMORIES_INDEXED,
    DeleteAgentMemories,
    DeletedMemory,
    DeleteMemory,
    DeleteScopeMemories,
    DropMemories,
    Envelope,
    GetMemoryQuery,
    ListMemoriesQuery,
    MemoryPage,
    MemoryRecorded,
    QueryError,
    RevisedMemory,
    SearchQuery,
    SearchResult,
    Signal,
    new_id,
)
from mnemo.embeddings import HashingEmbedder
from mnemo.eventlog import EventStore
from mnemo.ingest.handlers import IngestHandlers, memory_stream
from mnemo.ingest.revisions import MemoryRevisions
from mnemo.retrieval.handlers import RetrievalHandlers
from mnemo.retrieval.index import MemoryIndex
from mnemo.retrieval.memories import MemoryTable
from mnemo.retrieval.stores import EdgeVectorStore, SparseEncoder

from ..helpers import as_delivery, new_event
from ..test_memory_revisions import revise


class Signals:
    """The publisher's part retrieval uses: what it signals, kept."""

    def __init__(self) -> None:
        self.sent: list[Signal] = []

    async def publish_signals(self, signals: Sequence[Signal]) -> None:
        self.sent.extend(signals)

    def indexed(self) -> list[str]:
        return [
            memory["memory_id"]
            for s in self.sent
            if s.signal_type == MEMORIES_INDEXED
            for memory in s.data["memories"]
        ]


@asynccontextmanager
async def retrieval(
    pool: asyncpg.Pool, tmp_path: Path
) -> AsyncIterator[tuple[RetrievalHandlers, MemoryIndex, Signals]]:
    memories = MemoryTable(pool)
    index = MemoryIndex(
        EdgeVectorStore(tmp_path / "edge"), HashingEmbedder(64), SparseEncoder(), memories
    )
    await index.ensure()
    signals = Signals()
    try:
        handlers = RetrievalHandlers(index, memories, signals, EventStore(pool))  # type: ignore[arg-type]
        yield handlers, index, signals
    finally:
        await index.close()


async def remember(
    store: EventStore,
    tenant: str,
    content: str,
    *,
    agent: str | None = None,
    session: str | None = None,
    memory_id: str | None = None,
) -> Envelope:
    """A memory recorded in the log, as ingest records it."""
    data = MemoryRecorded(
        memory_id=memory_id or new_id(),
        user_id="alice",
        content=content,
        agent_id=agent,
        session_id=session,
    )
    [stored] = await store.append(memory_stream(tenant, data.memory_id), [new_event(data, tenant)])
    return stored


def memory_of(envelope: Envelope) -> str:
    assert isinstance(envelope.data, MemoryRecorded)
    return envelope.data.memory_id


async def shown(handlers: RetrievalHandlers, tenant: str, words: str) -> set[str]:
    """What a search for `words` finds and what the user's listing gives."""
    result = await handlers.search(
        SearchQuery(tenant_id=tenant, user_id="alice", query=words, limit=10)
    )
    assert isinstance(result, SearchResult)
    page = await handlers.list_memories(ListMemoriesQuery(tenant_id=tenant, user_id="alice"))
    assert isinstance(page, MemoryPage)
    return {hit.content for hit in result.results} | {m.content for m in page.memories}


async def test_a_memory_deleted_before_retrieval_indexed_it_is_never_shown(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    tenant = f"t_{uuid.uuid4().hex[:8]}"
    store = EventStore(pool)
    ingest = IngestHandlers(store)
    one = await remember(store, tenant, "my locker code is 4711")
    agents = await remember(store, tenant, "my safe code is 1234", agent="a1")
    runs = await remember(store, tenant, "my alarm code is 8080", session="run-1")
    kept = await remember(store, tenant, "my bike code is blue")
    gone = [memory_of(e) for e in (one, agents, runs)]

    # The three deletions, as ingest answers them (each found in the log).
    done = await ingest.delete_memory(DeleteMemory(tenant_id=tenant, memory_id=gone[0], actor="t"))
    assert isinstance(done, DeletedMemory)
    of_agent = await ingest.delete_agent_memories(
        DeleteAgentMemories(tenant_id=tenant, agent_id="a1", actor="t")
    )
    assert [d.memory_id for d in of_agent.deleted] == [gone[1]]
    of_run = await ingest.delete_scope_memories(
        DeleteScopeMemories(tenant_id=tenant, actor="t", user_id="alice", session_id="run-1")
    )
    assert [d.memory_id for d in of_run.deleted] == [gone[2]]

    async with retrieval(pool, tmp_path) as (handlers, index, signals):
        # The gateway's drops before the answers: retrieval has nothing of them yet.
        await handlers.drop_memory(DeleteMemory(tenant_id=tenant, memory_id=gone[0], actor="t"))
        await handlers.drop_memories(DropMemories(tenant_id=tenant, memory_ids=gone[1:]))

        # The backlog reaches the recordings, after the answers: not one is projected.
        await handlers.memories_recorded([as_delivery(e) for e in (one, agents, runs, kept)])
        assert await shown(handlers, tenant, "my code") == {"my bike code is blue"}
        for memory_id in gone:
            found = await handlers.get_memory(GetMemoryQuery(tenant_id=tenant, memory_id=memory_id))
            assert isinstance(found, QueryError)
        assert await pool.fetchval("SELECT count(*) FROM retrieval.memories") == 1
        assert await index.count() == 1  # the kept memory's one chunk
        # Never searchable, never signalled so (as a forgotten user's late memory).
        assert signals.indexed() == [memory_of(kept)]

        # Then the deletions come by: nothing left to drop, nothing shown.
        log, _ = await store.read_all()
        ends = [e for e in log if e.event_type == "memory.deleted"]
        assert len(ends) == 3
        await handlers.memories_recorded([as_delivery(e) for e in ends])
        assert await shown(handlers, tenant, "my code") == {"my bike code is blue"}


async def test_a_memory_recorded_again_after_its_deletion_shows_its_new_life(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """Only the recording the deletion ended is skipped: the same id recorded again (the
    same sourceId sent after the deletion) is the memory as it is now."""
    tenant = f"t_{uuid.uuid4().hex[:8]}"
    store = EventStore(pool)
    first = await remember(store, tenant, "my locker code is 4711")
    # The first recording as the bus delivered it: once deleted, the log can no longer
    # open it (its key is shredded with the deletion).
    before, _ = await store.read_all()
    done = await IngestHandlers(store).delete_memory(
        DeleteMemory(tenant_id=tenant, memory_id=memory_of(first), actor="t")
    )
    assert isinstance(done, DeletedMemory)
    await remember(store, tenant, "my locker code is 9999", memory_id=memory_of(first))
    log, _ = await store.read_all()
    assert [e.event_type for e in log] == ["memory.deleted", "memory.recorded"]
    async with retrieval(pool, tmp_path) as (handlers, _, signals):
        await handlers.memories_recorded([as_delivery(before[0])])
        assert await shown(handlers, tenant, "locker code") == set()
        await handlers.memories_recorded([as_delivery(e) for e in log])
        assert await shown(handlers, tenant, "locker code") == {"my locker code is 9999"}
        assert signals.indexed() == [memory_of(first)]
        assert [s.causation_id for s in signals.sent] == [log[1].event_id]


async def test_a_memory_revised_before_retrieval_indexed_it_shows_its_current_version(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """Revised twice before retrieval got to it: its first recording brings the last
    version (the revisions' chain followed), never the old words nor neither."""
    tenant = f"t_{uuid.uuid4().hex[:8]}"
    store = EventStore(pool)
    first = await remember(store, tenant, "I live in Lisbon")
    revisions = MemoryRevisions(store, lambda _text: [])
    memory_id = memory_of(first)
    for words in ("I live in Porto", "I live in Braga"):
        done = await revisions.revise(revise(memory_id, words, tenant=tenant))
        assert isinstance(done, RevisedMemory)
        memory_id = done.memory_id
    log, _ = await store.read_all()
    async with retrieval(pool, tmp_path) as (handlers, _, signals):
        seen = []
        for event in log:
            await handlers.memories_recorded([as_delivery(event)])
            seen.append(await shown(handlers, tenant, "where do I live"))
        assert seen == [{"I live in Braga"}] * len(log)
        # Signalled searchable once it was (its own recording, later, signals it again).
        assert set(signals.indexed()) == {memory_id}
