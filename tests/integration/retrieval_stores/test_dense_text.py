"""Each side of the index is made of its own text, against the real qdrant-edge and
PostgreSQL: the sparse vector of `sparse_text` (the chunk with its context: names, date,
the previous turn), the dense vector of the index's dense text, and that in one phase as
in two (where the pending list carries the dense text to phase 2)."""

import uuid
from pathlib import Path

import asyncpg
import pytest

from mnemo.contracts import SearchQuery
from mnemo.embeddings import HashingEmbedder
from mnemo.retrieval.index import ChunkContext, MemoryIndex
from mnemo.retrieval.memories import MemoryTable
from mnemo.retrieval.pending import DensePending
from mnemo.retrieval.stores import EdgeVectorStore, SparseEncoder

from .test_preceding_turns import recorded

QUESTION = "Did you go camping with the kids in July?"
REPLY = "Yes! Three nights, and it rained every one."


def words_alone(chunk: ChunkContext) -> str:
    return chunk.words


@pytest.mark.parametrize("two_phase", [False, True], ids=["one-phase", "two-phase"])
async def test_the_dense_vector_is_made_of_the_dense_text_and_the_sparse_of_the_context(
    pool: asyncpg.Pool, tmp_path: Path, two_phase: bool
) -> None:
    tenant = f"t_{uuid.uuid4().hex[:8]}"
    turns = [recorded(tenant, "u1", QUESTION, 1, author="Mel"), recorded(tenant, "u1", REPLY, 2)]
    memories = MemoryTable(pool)
    await memories.record_all(turns)
    pending = DensePending(pool, "test_memories") if two_phase else None
    index = MemoryIndex(
        EdgeVectorStore(tmp_path / "edge"),
        HashingEmbedder(256),
        SparseEncoder(),
        memories,
        turns=memories,
        pending=pending,
        dense_text=words_alone,
    )
    await index.ensure()
    try:
        await index.index_all(turns)
        if two_phase:
            assert await index.finish_dense() == 2

        def search(text: str, mode: str) -> SearchQuery:
            return SearchQuery(tenant_id=tenant, user_id="u1", query=text, mode=mode)

        # The dense vector is the reply's words alone: searched by them, it is the same
        # vector (the default dense text, with the names, date and question, is not).
        [top, *_] = await index.search(search(REPLY, "vector"))
        assert top.content == REPLY
        assert top.similarity == pytest.approx(1.0, abs=1e-5)
        # The sparse side still has the question before it: its words find the reply.
        found = [h.content for h in await index.search(search("camping kids", "keyword"))]
        assert REPLY in found
    finally:
        await index.close()
