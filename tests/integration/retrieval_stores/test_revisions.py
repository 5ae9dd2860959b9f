"""A revised memory in retrieval's read model: the new version shows before the old one
goes, whether the gateway asks at once or the events arrive (in one batch or in two), so
no search in between finds neither version.

The real log (ingest's revisions over it), the real read model and qdrant-edge in a
temporary folder."""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg

from mnemo.contracts import (
    DeleteMemory,
    Envelope,
    MemoryRecorded,
    RevisedMemory,
    SearchQuery,
    SearchResult,
    new_id,
)
from mnemo.embeddings import HashingEmbedder
from mnemo.eventlog import EventStore
from mnemo.ingest.handlers import memory_stream
from mnemo.ingest.revisions import MemoryRevisions
from mnemo.retrieval.handlers import RetrievalHandlers
from mnemo.retrieval.index import MemoryIndex
from mnemo.retrieval.memories import MemoryTable
from mnemo.retrieval.stores import EdgeVectorStore, SparseEncoder

from ..helpers import as_delivery, new_event
from ..test_memory_revisions import revise


async def first_version(store: EventStore, tenant: str) -> tuple[str, Envelope]:
    """A memory in the log, as ingest records it."""
    memory_id = new_id()
    data = MemoryRecorded(memory_id=memory_id, user_id="alice", content="I live in Lisbon")
    [first] = await store.append(memory_stream(tenant, memory_id), [new_event(data, tenant)])
    return memory_id, first


async def revision(store: EventStore, tenant: str, memory_id: str, words: str) -> RevisedMemory:
    """The memory's revision, as ingest appends it."""
    done = await MemoryRevisions(store, lambda _text: []).revise(
        revise(memory_id, words, tenant=tenant)
    )
    assert isinstance(done, RevisedMemory)
    return done


@asynccontextmanager
async def retrieval(
    pool: asyncpg.Pool, publisher, tmp_path: Path
) -> AsyncIterator[RetrievalHandlers]:
    """Retrieval's handlers over its real read model and qdrant-edge."""
    memories = MemoryTable(pool)
    index = MemoryIndex(
        EdgeVectorStore(tmp_path / "edge"), HashingEmbedder(64), SparseEncoder(), memories
    )
    await index.ensure()
    try:
        yield RetrievalHandlers(index, memories, publisher, EventStore(pool))
    finally:
        await index.close()


async def found(handlers: RetrievalHandlers, tenant: str) -> list[str]:
    result = await handlers.search(
        SearchQuery(tenant_id=tenant, user_id="alice", query="where do I live", limit=10)
    )
    assert isinstance(result, SearchResult)
    return sorted(hit.content for hit in result.results)


async def test_a_revision_shows_the_new_version_before_the_old_one_goes(
    pool: asyncpg.Pool, publisher, tmp_path: Path
) -> None:
    tenant = f"t_{uuid.uuid4().hex[:8]}"
    store = EventStore(pool)
    async with retrieval(pool, publisher, tmp_path) as handlers:
        memory_id, first = await first_version(store, tenant)
        await handlers.memories_recorded([as_delivery(first)])
        assert await found(handlers, tenant) == ["I live in Lisbon"]
        done = await revision(store, tenant, memory_id, "I live in Porto")
        before, _ = await store.read_all()

        # The gateway, once ingest answered: the new words at once, the old ones gone.
        await handlers.drop_memory(
            DeleteMemory(
                tenant_id=tenant,
                memory_id=memory_id,
                actor="test",
                successor_event_id=done.event_ids[-1],
            )
        )
        assert await found(handlers, tenant) == ["I live in Porto"]

        # The revision's append arrives (again), cut into two batches: never neither.
        append = before[1:]
        assert [e.event_id for e in append] == [done.event_ids[1], done.event_ids[0]]
        for event in append:
            await handlers.memories_recorded([as_delivery(event)])
            assert "I live in Porto" in await found(handlers, tenant)
        assert await found(handlers, tenant) == ["I live in Porto"]


async def test_the_events_alone_never_show_neither_version(
    pool: asyncpg.Pool, publisher, tmp_path: Path
) -> None:
    """No gateway ask (retrieval was away): each batch of the append leaves a version."""
    tenant = f"t_{uuid.uuid4().hex[:8]}"
    store = EventStore(pool)
    async with retrieval(pool, publisher, tmp_path) as handlers:
        memory_id, first = await first_version(store, tenant)
        await handlers.memories_recorded([as_delivery(first)])
        seen = [await found(handlers, tenant)]
        await revision(store, tenant, memory_id, "I live in Porto")
        log, _ = await store.read_all()
        for event in log[1:]:
            await handlers.memories_recorded([as_delivery(event)])
            seen.append(await found(handlers, tenant))
        assert seen == [
            ["I live in Lisbon"],
            ["I live in Lisbon", "I live in Porto"],
            ["I live in Porto"],
        ]
