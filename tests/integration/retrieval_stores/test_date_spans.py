"""The index ranks what happened on a date a query names above what only matches its
words, in a real qdrant-edge store with the hits' words read from the real read model."""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from mnemo.contracts import Envelope, MemoryRecorded, SearchQuery
from mnemo.embeddings import HashingEmbedder
from mnemo.retrieval import index as index_module
from mnemo.retrieval.index import MemoryIndex
from mnemo.retrieval.memories import MemoryTable
from mnemo.retrieval.stores import EdgeVectorStore, SparseEncoder

TARGET = "lake trip"
OTHERS = "lake trip, lake trip again"


def recorded(content: str, when: datetime, position: int) -> Envelope:
    memory_id = str(uuid.uuid4())
    return Envelope(
        event_id=str(uuid.uuid4()),
        event_type="memory.recorded",
        tenant_id="t",
        stream_id=f"memory-{memory_id}",
        stream_version=1,
        global_position=position,
        occurred_at=when,
        recorded_at=datetime.now(UTC),
        correlation_id=memory_id,
        causation_id=memory_id,
        actor="test",
        service="ingest",
        data=MemoryRecorded(memory_id=memory_id, user_id="u", content=content),
    )


@pytest.fixture
async def index(pool: asyncpg.Pool, tmp_path: Path) -> AsyncIterator[MemoryIndex]:
    """On each of 1-20 May 2023 a memory matching "lake trip" twice; on 21 May one matching
    it once: by words alone, 21 May's comes last."""
    first = datetime(2023, 5, 1, tzinfo=UTC)
    envelopes = [recorded(OTHERS, first + timedelta(days=n), n + 1) for n in range(20)]
    envelopes.append(recorded(TARGET, datetime(2023, 5, 21, tzinfo=UTC), 21))
    memories = MemoryTable(pool)
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


async def found(index: MemoryIndex, text: str, **query: object) -> list[str]:
    hits = await index.search(
        SearchQuery(tenant_id="t", user_id="u", query=text, limit=5, mode="keyword", **query)  # type: ignore[arg-type]
    )
    return [h.content for h in hits]


# "21st" is a word no memory holds: only the date itself can tell 21 May's memory apart.
QUERY = "lake trip on May 21st, 2023"


async def test_what_happened_on_the_named_day_comes_first(index: MemoryIndex) -> None:
    assert (await found(index, QUERY))[0] == TARGET


async def test_without_date_spans_the_words_alone_rank_it_lower(
    index: MemoryIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(index_module, "DATE_SPANS", False)
    assert TARGET not in await found(index, QUERY)


async def test_a_threshold_keeps_as_many_hits_as_without_the_date(
    index: MemoryIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    query = SearchQuery(tenant_id="t", user_id="u", query=QUERY, limit=5, mode="keyword")
    with monkeypatch.context() as off:
        off.setattr(index_module, "DATE_SPANS", False)
        by_words = await index.search(query)
    # By words alone it keeps the best (tied) ones; similarities are shown rounded.
    threshold = by_words[0].similarity - 1e-5
    kept = await found(index, QUERY, threshold=threshold)
    assert TARGET not in [h.content for h in by_words if h.similarity >= threshold]
    assert len(kept) == sum(h.similarity >= threshold for h in by_words)
    assert kept[0] == TARGET


async def test_the_named_day_never_reaches_past_as_of(index: MemoryIndex) -> None:
    as_of = datetime(2023, 5, 10, tzinfo=UTC)
    hits = await found(index, QUERY, occurred_before=as_of)
    assert hits and TARGET not in hits
