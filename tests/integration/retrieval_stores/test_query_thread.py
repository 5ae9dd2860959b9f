"""Where a search embeds its query: on the event loop's own thread when the embedder says
its calls are local CPU work (a thread of its own only added waits for the interpreter's
lock under load), in another thread when it may wait on the network. Against the real
qdrant-edge and PostgreSQL."""

import threading
import uuid
from collections.abc import Sequence
from pathlib import Path

import asyncpg
import pytest

from mnemo.contracts import SearchQuery
from mnemo.embeddings import HashingEmbedder, MiniLMEmbedder, OpenAICompatibleEmbedder, is_local
from mnemo.retrieval.index import MemoryIndex
from mnemo.retrieval.measured import MeasuredEmbedder
from mnemo.retrieval.memories import MemoryTable
from mnemo.retrieval.stores import EdgeVectorStore, SparseEncoder

from .test_preceding_turns import recorded


class Watched(HashingEmbedder):
    """Notes the thread each call runs on."""

    def __init__(self, local: bool) -> None:
        super().__init__(64)
        self.local = local
        self.threads: list[threading.Thread] = []

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.threads.append(threading.current_thread())
        return super().embed(texts)


@pytest.mark.parametrize("local", [True, False])
async def test_a_query_is_embedded_on_the_loop_only_by_a_local_embedder(
    pool: asyncpg.Pool, tmp_path: Path, local: bool
) -> None:
    tenant = f"t_{uuid.uuid4().hex[:8]}"
    memory = recorded(tenant, "u1", "The lighthouse keeper paints the door red", 1)
    memories = MemoryTable(pool)
    await memories.record_all([memory])
    embedder = Watched(local)
    index = MemoryIndex(EdgeVectorStore(tmp_path / "edge"), embedder, SparseEncoder(), memories)
    await index.ensure()
    try:
        await index.index_all([memory])
        hits = await index.search(
            SearchQuery(tenant_id=tenant, user_id="u1", query="lighthouse", mode="hybrid")
        )
        assert [h.memory_id for h in hits] == [memory.data.memory_id]  # type: ignore[union-attr]
        on_loop = embedder.threads[-1] is threading.current_thread()
        assert on_loop == local
    finally:
        await index.close()


def test_which_embedders_are_local() -> None:
    assert is_local(HashingEmbedder(8))
    assert is_local(MeasuredEmbedder(HashingEmbedder(8), "foreground"))
    assert not is_local(OpenAICompatibleEmbedder("http://127.0.0.1:9", "m", dim=8))
    assert not is_local(object())  # one that does not say is remote
    assert is_local(MiniLMEmbedder(engine="onnx"))
    assert not is_local(MiniLMEmbedder(engine="numpy"))
