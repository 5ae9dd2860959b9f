"""Wiring: settings -> host -> vector store + embedder, the indexing consumer, the queries."""

import asyncpg
from qdrant_client import AsyncQdrantClient

from mnemo.bus import ConsumerSpec, settled
from mnemo.contracts import (
    DeleteMemory,
    DropMemories,
    Envelope,
    ForgetSubject,
    GetMemoryQuery,
    ListMemoriesQuery,
    MemoryDeleted,
    MemoryRecorded,
    MemorySynthesized,
    ScopesQuery,
    SearchQuery,
    utcnow,
)
from mnemo.embeddings import Embedder, embedder_from_settings
from mnemo.eventlog import EventStore
from mnemo.host import Host
from mnemo.retrieval.handlers import SERVICE, RetrievalHandlers, drop_memory, page_budget
from mnemo.retrieval.index import INDEXED_TEXT_VERSION, MemoryIndex
from mnemo.retrieval.measured import MeasuredEmbedder
from mnemo.retrieval.memories import SQL, MemoryTable
from mnemo.retrieval.pending import DensePending
from mnemo.retrieval.scopes import Scopes
from mnemo.retrieval.settings import RetrievalSettings
from mnemo.retrieval.stores import (
    EdgeVectorStore,
    QdrantClientStore,
    SparseEncoder,
    VectorStore,
    VectorStoreError,
)
from mnemo.retrieval.stores.sparse import VERSION as SPARSE_VERSION
from mnemo.settings import load_settings
from mnemo.telemetry import get_logger
from mnemo.telemetry.live import Reading

log = get_logger(__name__)


def vector_store(settings: RetrievalSettings) -> VectorStore:
    collection = f"{settings.bus_root}_memories"
    if settings.qdrant_url:
        client = AsyncQdrantClient(url=settings.qdrant_url, api_key=settings.qdrant_api_key)
        return QdrantClientStore(client, collection)
    if settings.vector_store == "qdrant-local":
        return QdrantClientStore(AsyncQdrantClient(path=settings.qdrant_path), collection)
    return EdgeVectorStore(settings.qdrant_path)


def embedder(settings: RetrievalSettings, phase: str = "foreground") -> Embedder:
    return MeasuredEmbedder(
        embedder_from_settings(
            settings.embedder,
            url=settings.embedding_url,
            model=settings.embedding_model,
            key=settings.embedding_api_key,
            dim=settings.embedding_dim,
            precision=settings.embedding_precision,
            threads=settings.dense_threads if phase == "background" else None,
        ),
        phase,
    )


async def open_index(settings: RetrievalSettings, pool: asyncpg.Pool) -> MemoryIndex:
    """The index, re-built from the log when its vectors came from another embedder."""
    collection = f"{settings.bus_root}_memories"
    memories = MemoryTable(pool)
    index = MemoryIndex(
        vector_store(settings),
        embedder(settings),
        SparseEncoder(),
        memories,
        turns=memories,
        pending=DensePending(pool, collection),
        # Phase 2 embeds with its own copy, at idle CPU priority (see MemoryIndex).
        background=lambda: embedder(settings, "background"),
    )
    # Vectors are stale when the embedder, the sparse encoding or the indexed text changed.
    model = f"{index.embedder.name}|{SPARSE_VERSION}|{INDEXED_TEXT_VERSION}"
    dim = index.embedder.dim
    row = await pool.fetchrow(
        "SELECT embedder, dim FROM retrieval.index_meta WHERE collection = $1", collection
    )
    stale = row is not None and (row["embedder"], row["dim"]) != (model, dim)
    try:
        # A Qdrant server still starting is waited for; one with other vectors is stale.
        await settled(index.ensure, "vector store")
    except VectorStoreError:
        stale = True
    if stale:
        log.warning("reindexing_for_new_embedder", was=dict(row) if row else None, now=model)
        await index.drop()
        await index.ensure()
        await reindex(index, memories, EventStore(pool), memories_too=False)
        await index.finish_dense()
    await pool.execute(
        """INSERT INTO retrieval.index_meta (collection, embedder, dim) VALUES ($1, $2, $3)
           ON CONFLICT (collection) DO UPDATE SET embedder = $2, dim = $3, updated_at = now()""",
        collection,
        model,
        dim,
    )
    return index


async def reindex(
    index: MemoryIndex, memories: MemoryTable, store: EventStore, *, memories_too: bool = True
) -> tuple[int, int]:
    """Replay the log into the projections; (memories indexed, last position read)."""
    position, count = 0, 0
    while True:
        batch, last = await store.read_all(after=position, limit=500)
        if last == position:
            return count, position
        # In log order: a memory deleted later in the log is indexed, then dropped.
        run: list[Envelope] = []
        for envelope in [*batch, None]:
            if envelope is not None and isinstance(envelope.data, MemoryRecorded):
                run.append(envelope)
                continue
            if run:
                if memories_too:
                    await memories.record_all(run)
                await index.index_all(run)
                count += len(run)
                run = []
            synthesized = envelope is not None and isinstance(envelope.data, MemorySynthesized)
            if memories_too and synthesized:
                assert envelope is not None and isinstance(envelope.data, MemorySynthesized)
                await memories.mark_synthesized([(envelope.tenant_id, envelope.data.memory_id)])
            if envelope is not None and isinstance(envelope.data, MemoryDeleted):
                if memories_too:
                    await drop_memory(
                        index, memories, store, envelope.tenant_id, envelope.data.memory_id
                    )
                else:
                    # The read model is kept as it is now: its row may be the memory's
                    # next life (recorded again under its id, later in the log).
                    await index.delete(envelope.tenant_id, envelope.data.memory_id)
        position = last


async def main() -> None:
    settings = load_settings(RetrievalSettings)
    host = Host(SERVICE, settings)
    await host.start(migrations={"retrieval": SQL})
    assert host.publisher is not None and host.pool is not None
    index = await open_index(settings, host.pool)
    # Before any consumer runs: a model load mid-stream stalls phase 1.
    await index.start_background()
    handlers = RetrievalHandlers(
        index,
        MemoryTable(host.pool),
        host.publisher,
        EventStore(host.pool),
        page_budget(host.publisher.nc.max_payload),
    )
    topology = host.topology
    host.consume(
        ConsumerSpec(
            durable=f"{SERVICE}-index",
            stream=topology.evt_stream,
            filter_subjects=[
                topology.evt_subject("*", "memory.recorded"),
                topology.evt_subject("*", "memory.forgotten"),
                topology.evt_subject("*", "memory.deleted"),
                # Only to set the memory's `synthesized` flag.
                topology.evt_subject("*", "memory.synthesized"),
            ],
        ),
        handlers.memory_recorded,
        handlers.memories_recorded,
    )
    # Phase 2 of indexing: the dense vectors of what the consumer stored (and of what a
    # crash left pending), in large batches.
    host.background(index.run_dense)
    # The vector store's compactions after forgets (the first, one a restart cut short).
    host.background(index.run_compactions)
    # After deletions: the read model's tables and the vector store, coalesced.
    host.background(handlers.compaction.run)
    host.query("search", SearchQuery, handlers.search, concurrent=True)
    host.query("memories", ListMemoriesQuery, handlers.list_memories, concurrent=True)
    host.query("memory", GetMemoryQuery, handlers.get_memory, concurrent=True)
    host.query("scopes", ScopesQuery, Scopes(host.pool).listing, concurrent=True)
    host.query("drop_subject", ForgetSubject, handlers.drop_subject)
    host.query("drop_memory", DeleteMemory, handlers.drop_memory)
    host.query("drop_memories", DropMemories, handlers.drop_memories)

    async def vectors_ok() -> None:
        await index.count()

    host.health_check("vectors", vectors_ok)
    pending = DensePending(host.pool, f"{settings.bus_root}_memories")

    async def indexing_gauges() -> list[Reading]:
        chunks, oldest = await pending.backlog()
        age = (utcnow() - oldest).total_seconds() if oldest is not None else 0.0
        return [
            ("mnemo_indexing_backlog_chunks", {}, chunks),
            ("mnemo_indexing_backlog_oldest_seconds", {}, max(age, 0.0)),
        ]

    host.gauges(indexing_gauges)
    try:
        await host.serve_forever()
    finally:
        await index.close()


async def rebuild() -> None:
    """Drop the search index and the memories read model and rebuild both from the log."""
    settings = load_settings(RetrievalSettings)
    host = Host(SERVICE, settings)
    await host.start(migrations={"retrieval": SQL})
    assert host.pool is not None
    index = await open_index(settings, host.pool)
    memories = MemoryTable(host.pool)
    await index.drop()
    await index.ensure()
    await memories.clear()
    count, position = await reindex(index, memories, EventStore(host.pool))
    # A rebuild ends with every point dense.
    await index.finish_dense()
    log.info("retrieval_rebuilt", memories=count, position=position)
    print(f"rebuilt the memory index from the log: {count} memories up to position {position}")
    await index.close()
    await host.close()
