"""The vector store holds no plaintext of what was said: a point's payload carries ids,
filter fields and offsets only, and a search reads each hit's words and metadata from the
memories read model (PostgreSQL). qdrant-edge keeps a deleted point's payload in its
segment and its WAL until the store is compacted (after a forget), so whatever a payload
held would outlive a delete.

Against the real qdrant-edge, in a temporary folder, and the real PostgreSQL."""

import uuid
from pathlib import Path

import asyncpg
import pytest
from msgspec.structs import replace

from mnemo.contracts import SearchQuery
from mnemo.embeddings import HashingEmbedder
from mnemo.retrieval.index import MemoryIndex
from mnemo.retrieval.memories import MemoryTable
from mnemo.retrieval.pending import DensePending
from mnemo.retrieval.stores import EdgeVectorStore, SparseEncoder

from .test_preceding_turns import recorded

COLLECTION = "test_memories"


def traces(folder: Path, words: list[str]) -> dict[str, list[str]]:
    """Each word, with the files under `folder` (at any depth) whose raw bytes hold it."""
    found: dict[str, list[str]] = {}
    files = [f for f in folder.rglob("*") if f.is_file()]
    assert files, f"nothing stored under {folder}"
    for f in files:
        data = f.read_bytes()
        for word in words:
            if word.encode() in data:
                found.setdefault(word, []).append(str(f.relative_to(folder)))
    return found


@pytest.mark.parametrize("two_phase", [True, False])
async def test_no_word_of_a_memory_reaches_the_vector_store_folder(
    pool: asyncpg.Pool, tmp_path: Path, two_phase: bool
) -> None:
    tenant, user = f"t_{uuid.uuid4().hex[:8]}", "u1"
    # Words that appear nowhere else: in the content, in the metadata (a searchable field
    # and a free one), and in the turn before it, which its indexed text carries too.
    said, titled, noted, asked = (f"zq{uuid.uuid4().hex[:10]}" for _ in range(4))
    question = recorded(tenant, user, f"Did you see the {asked} yesterday?", 1, author="Mel")
    memory = recorded(tenant, user, f"My secret word is {said} and nobody knows it", 2)
    metadata = {"author": "Caroline", "title": titled, "note": noted}
    memory = replace(memory, data=replace(memory.data, metadata=metadata))
    # The read model first, as retrieval's handlers and rebuild do.
    memories = MemoryTable(pool)
    await memories.record_all([question, memory])
    folder = tmp_path / "edge"
    index = MemoryIndex(
        EdgeVectorStore(folder),
        HashingEmbedder(64),
        SparseEncoder(),
        memories,
        turns=memories,
        pending=DensePending(pool, COLLECTION) if two_phase else None,
    )
    await index.ensure()
    words = [said, titled, noted, asked]
    try:
        await index.index_all([question, memory])
        await index.finish_dense()

        for mode in ("keyword", "vector", "hybrid"):
            hits = await index.search(
                SearchQuery(tenant_id=tenant, user_id=user, query=said, mode=mode, limit=5)
            )
            [hit] = [h for h in hits if h.memory_id == memory.data.memory_id]  # type: ignore[union-attr]
            assert hit.content == f"My secret word is {said} and nobody knows it"
            assert hit.metadata["note"] == noted and hit.metadata["title"] == titled
        # While open (the WAL holds every update) ...
        assert traces(folder, words) == {}
    finally:
        await index.close()
    # ... and once flushed into segments.
    assert traces(folder, words) == {}


async def test_a_hit_whose_memory_is_gone_from_the_read_model_is_left_out(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    tenant = f"t_{uuid.uuid4().hex[:8]}"
    kept = recorded(tenant, "u1", "the lighthouse keeper paints the door", 1, session=None)
    dropped = recorded(tenant, "u1", "the lighthouse lamp was replaced", 2, session=None)
    other = recorded(tenant, "u2", "a lighthouse on the other coast", 3, session=None)
    memories = MemoryTable(pool)
    await memories.record_all([kept, dropped, other])
    index = MemoryIndex(
        EdgeVectorStore(tmp_path / "edge"), HashingEmbedder(64), SparseEncoder(), memories
    )
    await index.ensure()

    def ask(user: str, mode: str) -> SearchQuery:
        return SearchQuery(tenant_id=tenant, user_id=user, query="lighthouse", mode=mode)

    try:
        await index.index_all([kept, dropped, other])
        found = {h.memory_id for h in await index.search(ask("u1", "keyword"))}
        assert found == {kept.data.memory_id, dropped.data.memory_id}  # type: ignore[union-attr]

        # The rows go first (as retrieval's delete and forget do): the points still stored
        # are found by the engine, but nothing is shown of a memory no longer recorded.
        await memories.delete(tenant, dropped.data.memory_id)  # type: ignore[union-attr]
        await memories.forget(tenant, "u2")
        assert await index.count() == 3
        for mode in ("keyword", "vector", "hybrid"):
            assert [h.memory_id for h in await index.search(ask("u1", mode))] == [
                kept.data.memory_id  # type: ignore[union-attr]
            ]
            assert await index.search(ask("u2", mode)) == []
    finally:
        await index.close()
