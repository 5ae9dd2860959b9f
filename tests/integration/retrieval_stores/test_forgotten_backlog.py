"""A memory recorded before its user was forgotten can reach retrieval after the forget (a
backlog in its consumer) and after the gateway had the read models drop the user: it must
not be projected again, not even until `memory.forgotten` comes by in the stream.

The real log (its keys), the real read model and qdrant-edge in a temporary folder."""

import uuid
from pathlib import Path

import asyncpg

from mnemo.contracts import Envelope, ListMemoriesQuery, NewEvent
from mnemo.embeddings import HashingEmbedder
from mnemo.eventlog import EventStore
from mnemo.retrieval.handlers import RetrievalHandlers
from mnemo.retrieval.index import MemoryIndex
from mnemo.retrieval.memories import MemoryTable
from mnemo.retrieval.stores import EdgeVectorStore, SparseEncoder

from ..helpers import as_delivery
from .test_preceding_turns import recorded


async def logged(store: EventStore, envelope: Envelope) -> Envelope:
    """The memory as ingest stores it (sealed with its user's key)."""
    [stored] = await store.append(
        envelope.stream_id,
        [
            NewEvent(
                event_id=envelope.event_id,
                tenant_id=envelope.tenant_id,
                occurred_at=envelope.occurred_at,
                correlation_id=envelope.correlation_id,
                causation_id=envelope.causation_id,
                actor="test",
                service="ingest",
                data=envelope.data,
            )
        ],
    )
    return stored


async def test_a_memory_delivered_after_its_user_was_forgotten_is_not_projected(
    pool: asyncpg.Pool, publisher, tmp_path: Path
) -> None:
    tenant, user, other = f"t_{uuid.uuid4().hex[:8]}", "u-gone", "u-stays"
    store = EventStore(pool)
    gone = await logged(store, recorded(tenant, user, "my locker code is 4711", 1))
    kept = await logged(store, recorded(tenant, other, "my bike is blue", 2))
    await store.forget_subject(tenant, user)
    memories = MemoryTable(pool)
    index = MemoryIndex(
        EdgeVectorStore(tmp_path / "edge"), HashingEmbedder(64), SparseEncoder(), memories
    )
    await index.ensure()
    try:
        handlers = RetrievalHandlers(index, memories, publisher, store)
        await handlers.memories_recorded([as_delivery(gone), as_delivery(kept)])
        for who, expected in ((user, 0), (other, 1)):
            page = await memories.page(ListMemoriesQuery(tenant_id=tenant, user_id=who))
            assert page.total == expected, who
        assert "4711" not in str(await pool.fetch("SELECT * FROM retrieval.memories"))
    finally:
        await index.close()
