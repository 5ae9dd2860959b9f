"""The sparse encoder's stemming and the index's query-time session expansion (in a real
qdrant-edge store)."""

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path

from mnemo.contracts import Envelope, MemoryRecorded, SearchQuery
from mnemo.embeddings import HashingEmbedder
from mnemo.retrieval import index as index_module
from mnemo.retrieval.index import MemoryIndex
from mnemo.retrieval.stores import EdgeVectorStore, SparseEncoder
from mnemo.retrieval.stores.sparse import stem, words


def test_stem_meets_inflections() -> None:
    assert stem("hiking") == stem("hiked") == stem("hikes") == stem("hike")
    assert stem("running") == stem("runs") == "run"
    assert stem("paintings") == stem("painting") == "paint"
    assert stem("stories") == stem("story")
    assert stem("classes") == "class"


def test_stem_keeps_short_words_and_numbers() -> None:
    assert stem("bus") == "bus"
    assert stem("2022") == "2022"
    assert stem("mp3s") == "mp3s"
    assert words("She went hiking in 2022") == ["went", "hik", "2022"]


def test_query_matches_an_inflected_document() -> None:
    encoder = SparseEncoder()
    doc, query = encoder.document("Caroline hiked the trail"), encoder.query("hiking trails")
    assert set(query.indices) <= set(doc.indices)


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


def search(tmp_path: Path, limit: int, **settings: int) -> list[str]:
    """The contents found for "lake trip" (keyword mode) with the expansion `settings`."""
    saved = {k: getattr(index_module, k) for k in settings}

    async def run() -> list[str]:
        store = EdgeVectorStore(tmp_path / "edge")
        index = MemoryIndex(store, HashingEmbedder(16), SparseEncoder())
        await index.ensure()
        try:
            await index.index_all([recorded(c, s, n) for n, (c, s) in enumerate(TURNS, 1)])
            query = SearchQuery(
                tenant_id="t", user_id="u", query="lake trip", limit=limit, mode="keyword"
            )
            hits = await index.search(query)
        finally:
            await index.close()
        scores = [h.similarity for h in hits]
        assert scores == sorted(scores, reverse=True)
        return [h.content for h in hits]

    try:
        for k, v in settings.items():
            setattr(index_module, k, v)
        return asyncio.run(run())
    finally:
        for k, v in saved.items():
            setattr(index_module, k, v)


def test_expansion_brings_in_the_top_sessions_other_turns(tmp_path: Path) -> None:
    found = search(tmp_path, 3, EXPAND_SEEDS=1, EXPAND_PER_SEED=2, EXPAND_AT=1)
    assert found[0] == "lake lake trip"
    assert set(found[1:]) == {"trip photos", "trip home"}


def test_expansion_off_is_the_plain_ranking(tmp_path: Path) -> None:
    found = search(tmp_path, 3, EXPAND_SEEDS=0)
    assert found[0] == "lake lake trip"
    assert set(found[1:]) == {"lake trip with Sam", "lake trip with Mel"}


def test_expansion_keeps_the_limit_and_every_hit_once(tmp_path: Path) -> None:
    found = search(tmp_path, 10, EXPAND_SEEDS=3, EXPAND_PER_SEED=3, EXPAND_AT=1)
    assert sorted(found) == sorted(c for c, _ in TURNS)
    assert len(search(tmp_path, 2, EXPAND_SEEDS=3, EXPAND_PER_SEED=3, EXPAND_AT=1)) == 2
