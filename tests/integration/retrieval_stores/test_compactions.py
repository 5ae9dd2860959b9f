"""A memory deleted alone leaves the embedded store's files at the next compaction, a set
time after the deletion (MNEMO_COMPACT_AFTER); deletions meanwhile share it. Against the
real qdrant-edge in a temporary folder and the real PostgreSQL."""

import asyncio
import contextlib
import time
import uuid
from pathlib import Path

import asyncpg

from mnemo.contracts import SearchQuery
from mnemo.embeddings import HashingEmbedder
from mnemo.retrieval.index import MemoryIndex
from mnemo.retrieval.memories import MemoryTable
from mnemo.retrieval.stores import EdgeVectorStore, SparseEncoder

from .test_preceding_turns import recorded


def holding(folder: Path, text: str) -> list[str]:
    return [str(f) for f in folder.rglob("*") if f.is_file() and text.encode() in f.read_bytes()]


async def test_a_deleted_memory_leaves_the_store_files_at_the_next_compaction(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    tenant, user = f"t_{uuid.uuid4().hex[:8]}", "u1"
    gone = [
        recorded(tenant, user, f"I keep tarantulas number {n}", n, session=None) for n in (1, 2)
    ]
    kept = recorded(tenant, user, "I keep ferrets", 3, session=None)
    memories = MemoryTable(pool)
    await memories.record_all([*gone, kept])
    folder = tmp_path / "edge"
    index = MemoryIndex(
        EdgeVectorStore(folder), HashingEmbedder(64), SparseEncoder(), memories, compact_after=0.3
    )
    await index.ensure()
    compacting = asyncio.create_task(index.run_compactions())
    try:
        await index.index_all([*gone, kept])
        ids = [e.data.memory_id for e in gone]  # type: ignore[union-attr]
        assert all(holding(folder, i) for i in ids), "the test's premise"
        for memory_id in ids:
            await index.delete(tenant, memory_id)
        assert all(holding(folder, i) for i in ids)  # deleted, still in the files

        deadline = time.monotonic() + 60
        while any(holding(folder, i) for i in ids):
            assert time.monotonic() < deadline, "never compacted"
            assert not compacting.done(), compacting
            await asyncio.sleep(0.2)
        hits = await index.search(
            SearchQuery(tenant_id=tenant, user_id=user, query="ferrets", mode="keyword", limit=5)
        )
        assert [h.memory_id for h in hits] == [kept.data.memory_id]  # type: ignore[union-attr]
    finally:
        compacting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await compacting
        await index.close()
