"""Wiring: settings -> host -> Qdrant index, the indexing consumer, the search query."""

from qdrant_client import AsyncQdrantClient

from mnemo.bus import ConsumerSpec
from mnemo.contracts import GetMemoryQuery, ListMemoriesQuery, MemoryRecorded, SearchQuery
from mnemo.eventlog import EventStore
from mnemo.host import Host
from mnemo.retrieval.embedder import HashingEmbedder
from mnemo.retrieval.handlers import SERVICE, RetrievalHandlers
from mnemo.retrieval.index import MemoryIndex
from mnemo.retrieval.memories import SQL, MemoryTable
from mnemo.retrieval.settings import RetrievalSettings
from mnemo.settings import load_settings
from mnemo.telemetry import get_logger

log = get_logger(__name__)


def qdrant_client(settings: RetrievalSettings) -> AsyncQdrantClient:
    if settings.qdrant_url:
        return AsyncQdrantClient(url=settings.qdrant_url, api_key=settings.qdrant_api_key)
    return AsyncQdrantClient(path=settings.qdrant_path)


def memory_index(settings: RetrievalSettings, client: AsyncQdrantClient) -> MemoryIndex:
    embedder = HashingEmbedder(settings.embedding_dim)
    return MemoryIndex(client, f"{settings.bus_root}_memories", embedder)


async def main() -> None:
    settings = load_settings(RetrievalSettings)
    host = Host(SERVICE, settings)
    await host.start(migrations={"retrieval": SQL})
    assert host.publisher is not None and host.pool is not None
    client = qdrant_client(settings)
    index = memory_index(settings, client)
    await index.ensure()
    handlers = RetrievalHandlers(index, MemoryTable(host.pool), host.publisher)
    topology = host.topology
    host.consume(
        ConsumerSpec(
            durable=f"{SERVICE}-index",
            stream=topology.evt_stream,
            filter_subjects=[
                topology.evt_subject("*", "memory.recorded"),
                topology.evt_subject("*", "memory.forgotten"),
            ],
        ),
        handlers.memory_recorded,
        handlers.memories_recorded,
    )
    host.query("search", SearchQuery, handlers.search)
    host.query("memories", ListMemoriesQuery, handlers.list_memories)
    host.query("memory", GetMemoryQuery, handlers.get_memory)

    async def qdrant_ok() -> None:
        await client.get_collections()

    host.health_check("qdrant", qdrant_ok)
    try:
        await host.serve_forever()
    finally:
        await client.close()


async def rebuild() -> None:
    """Drop the Qdrant projection and rebuild it from the event log."""
    settings = load_settings(RetrievalSettings)
    host = Host(SERVICE, settings)
    await host.start(migrations={"retrieval": SQL})
    assert host.pool is not None
    client = qdrant_client(settings)
    index = memory_index(settings, client)
    memories = MemoryTable(host.pool)
    await index.drop()
    await index.ensure()
    await memories.clear()
    store, position, count = EventStore(host.pool), 0, 0
    while True:
        batch, last = await store.read_all(after=position, limit=1000)
        if last == position:
            break
        recorded = [e for e in batch if isinstance(e.data, MemoryRecorded)]
        await memories.record_all(recorded)
        await index.index_all(recorded)
        count += len(recorded)
        position = last
    log.info("retrieval_rebuilt", memories=count, position=position)
    print(f"rebuilt the memory index from the log: {count} memories up to position {position}")
    await client.close()
    await host.close()
