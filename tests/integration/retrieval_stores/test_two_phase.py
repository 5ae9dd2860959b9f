"""Two-phase indexing against the real qdrant-edge and PostgreSQL: a memory is searchable
by its words as soon as phase 1 stored it, by meaning once phase 2 gave it a dense vector,
and what phase 2 still owes survives a restart."""

import uuid
from pathlib import Path

import asyncpg

from mnemo.contracts import SearchQuery
from mnemo.embeddings import HashingEmbedder
from mnemo.retrieval.index import MemoryIndex
from mnemo.retrieval.memories import MemoryTable
from mnemo.retrieval.pending import DensePending
from mnemo.retrieval.stores import EdgeVectorStore, SparseEncoder

from .test_preceding_turns import recorded

COLLECTION = "test_memories"


async def open_index(pool: asyncpg.Pool, folder: Path) -> MemoryIndex:
    memories = MemoryTable(pool)
    index = MemoryIndex(
        EdgeVectorStore(folder),
        HashingEmbedder(64),
        SparseEncoder(),
        memories,
        turns=memories,
        pending=DensePending(pool, COLLECTION),
    )
    await index.ensure()
    return index


def query(tenant: str, text: str, mode: str) -> SearchQuery:
    return SearchQuery(tenant_id=tenant, user_id="u1", query=text, mode=mode)


async def test_keyword_first_then_vector_and_pending_work_survives_a_restart(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    tenant = f"t_{uuid.uuid4().hex[:8]}"
    memory = recorded(tenant, "u1", "The lighthouse keeper paints the door red", 1)
    await MemoryTable(pool).record_all([memory])
    pending = DensePending(pool, COLLECTION)
    index = await open_index(pool, tmp_path / "edge")
    try:
        await index.index_all([memory])  # phase 1 only: nothing runs phase 2 here

        [hit] = await index.search(query(tenant, "lighthouse", "keyword"))
        assert hit.memory_id == memory.data.memory_id  # type: ignore[union-attr]
        assert [h.memory_id for h in await index.search(query(tenant, "lighthouse", "hybrid"))] == [
            hit.memory_id
        ]
        # No dense vector yet: a search by meaning does not see it.
        assert await index.search(query(tenant, "lighthouse keeper", "vector")) == []
        assert (await pending.backlog())[0] == 1
    finally:
        await index.close()

    # A restart: the work phase 2 owes is in PostgreSQL, not in the index object.
    index = await open_index(pool, tmp_path / "edge")
    try:
        assert (await pending.backlog())[0] == 1
        assert await index.embed_pending() == 1
        assert await index.embed_pending() == 0
        assert (await pending.backlog()) == (0, None)

        found = await index.search(query(tenant, "lighthouse keeper", "vector"))
        assert [h.memory_id for h in found] == [hit.memory_id]
        # Still found by its words, once.
        assert len(await index.search(query(tenant, "lighthouse", "keyword"))) == 1
        assert len(await index.search(query(tenant, "lighthouse", "hybrid"))) == 1
    finally:
        await index.close()


async def test_hybrid_finds_points_with_and_without_a_dense_vector(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    tenant = f"t_{uuid.uuid4().hex[:8]}"
    old = recorded(tenant, "u1", "We planted tomatoes in the garden", 1, session="s1")
    new = recorded(tenant, "u1", "The garden fence needs repair", 2, session="s2")
    await MemoryTable(pool).record_all([old, new])
    index = await open_index(pool, tmp_path / "edge")
    try:
        await index.index_all([old])
        assert await index.finish_dense() == 1
        await index.index_all([new])  # phase 2 not run for this one

        hybrid = {h.memory_id for h in await index.search(query(tenant, "garden", "hybrid"))}
        assert hybrid == {old.data.memory_id, new.data.memory_id}  # type: ignore[union-attr]
        vector = [h.memory_id for h in await index.search(query(tenant, "garden", "vector"))]
        assert vector == [old.data.memory_id]  # type: ignore[union-attr]
    finally:
        await index.close()


async def test_deleting_or_forgetting_a_pending_memory_drops_its_pending_work(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    tenant = f"t_{uuid.uuid4().hex[:8]}"
    one = recorded(tenant, "u1", "first note", 1, session=None)
    two = recorded(tenant, "u2", "second note", 2, session=None)
    pending = DensePending(pool, COLLECTION)
    index = await open_index(pool, tmp_path / "edge")
    try:
        await index.index_all([one, two])
        assert (await pending.backlog())[0] == 2
        await index.delete(tenant, one.data.memory_id)  # type: ignore[union-attr]
        assert (await pending.backlog())[0] == 1
        await index.forget(tenant, "u2")
        assert (await pending.backlog())[0] == 0
        assert await index.embed_pending() == 0
        assert await index.count() == 0
    finally:
        await index.close()


async def test_a_rebuild_clears_pending_work_and_ends_dense(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    tenant = f"t_{uuid.uuid4().hex[:8]}"
    memories = [recorded(tenant, "u1", f"note number {i}", i, session=None) for i in range(5)]
    await MemoryTable(pool).record_all(memories)
    pending = DensePending(pool, COLLECTION)
    index = await open_index(pool, tmp_path / "edge")
    try:
        await index.index_all(memories)
        await index.drop()
        assert (await pending.backlog())[0] == 0
        await index.ensure()
        await index.index_all(memories)
        assert await index.finish_dense() == 5
        found = await index.search(query(tenant, "note", "vector"))
        assert len(found) == 5
    finally:
        await index.close()
