"""The index's query-time session expansion, in a real qdrant-edge store, with the hits'
words read from the real memories read model."""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mnemo.contracts import Envelope, MemoryRecorded, SearchQuery
from mnemo.embeddings import HashingEmbedder
from mnemo.eventlog import connect, migrate, migrate_eventlog
from mnemo.retrieval import index as index_module
from mnemo.retrieval.index import MemoryIndex
from mnemo.retrieval.memories import SQL, MemoryTable
from mnemo.retrieval.stores import EdgeVectorStore, SparseEncoder


def recorded(content: str, session: str, position: int) -> Envelope:
    memory_id = str(uuid.uuid4())
    return Envelope(
        event_id=str(uuid.uuid4()),
        event_type="memory.recorded",
        tenant_id="t",
        stream_id=f"memory-{memory_id}",
        stream_version=1,
        global_position=position,
        occurred_at=datetime(2024, 5, 8, tzinfo=UTC),
        recorded_at=datetime.now(UTC),
        correlation_id=memory_id,
        causation_id=memory_id,
        actor="test",
        service="ingest",
        data=MemoryRecorded(memory_id=memory_id, user_id="u", content=content, session_id=session),
    )


# By keyword: s1's first turn is the best hit, s2's two next; s1's other turns match less.
TURNS = [
    ("lake lake trip", "s1"),
    ("lake trip with Sam", "s2"),
    ("lake trip with Mel", "s2"),
    ("trip photos", "s1"),
    ("trip home", "s1"),
]


@pytest.fixture
async def index(fresh_database: str, tmp_path: Path) -> AsyncIterator[MemoryIndex]:
    """The TURNS, indexed without their preceding turns (the ranking stays plain to see)."""
    pool = await connect(fresh_database, max_size=2)
    async with pool.acquire() as conn:
        await migrate_eventlog(conn)
        await migrate(conn, "retrieval", SQL)
    memories = MemoryTable(pool)
    envelopes = [recorded(c, s, n) for n, (c, s) in enumerate(TURNS, 1)]
    await memories.record_all(envelopes)
    index = MemoryIndex(
        EdgeVectorStore(tmp_path / "edge"), HashingEmbedder(16), SparseEncoder(), memories
    )
    await index.ensure()
    await index.index_all(envelopes)
    try:
        yield index
    finally:
        await index.close()
        await pool.close()


async def search(index: MemoryIndex, limit: int) -> list[str]:
    """The contents found for "lake trip" (keyword mode), best first."""
    query = SearchQuery(tenant_id="t", user_id="u", query="lake trip", limit=limit, mode="keyword")
    hits = await index.search(query)
    scores = [h.similarity for h in hits]
    assert scores == sorted(scores, reverse=True)
    return [h.content for h in hits]


def expansion(monkeypatch: pytest.MonkeyPatch, **settings: int) -> None:
    for name, value in settings.items():
        monkeypatch.setattr(index_module, name, value)


async def test_expansion_brings_in_the_top_sessions_other_turns(
    index: MemoryIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    expansion(monkeypatch, EXPAND_SEEDS=1, EXPAND_PER_SEED=2, EXPAND_AT=1)
    found = await search(index, 3)
    assert found[0] == "lake lake trip"
    assert set(found[1:]) == {"trip photos", "trip home"}


async def test_expansion_off_is_the_plain_ranking(
    index: MemoryIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    expansion(monkeypatch, EXPAND_SEEDS=0)
    found = await search(index, 3)
    assert found[0] == "lake lake trip"
    assert set(found[1:]) == {"lake trip with Sam", "lake trip with Mel"}


async def test_expansion_keeps_the_limit_and_every_hit_once(
    index: MemoryIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    expansion(monkeypatch, EXPAND_SEEDS=3, EXPAND_PER_SEED=3, EXPAND_AT=1)
    found = await search(index, 10)
    assert sorted(found) == sorted(c for c, _ in TURNS)
    assert len(await search(index, 2)) == 2
