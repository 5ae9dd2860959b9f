"""The sparse encoder's stemming and the index's query-time session expansion."""

import asyncio
from typing import Any

from mnemo.contracts import SearchQuery
from mnemo.retrieval import index as index_module
from mnemo.retrieval.index import MemoryIndex
from mnemo.retrieval.stores import SparseEncoder, SparseVector, StoreFilter, StoreHit
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


class FakeStore:
    """Global hits a..f in session s1/s2; a session-scoped search returns that session's."""

    def __init__(self) -> None:
        self.points = [
            ("a", "s1"),
            ("b", "s2"),
            ("c", "s1"),
            ("d", "s2"),
            ("e", "s3"),
            ("f", "s3"),
            ("g", "s1"),
            ("h", "s2"),
        ]

    def _hit(self, rank: int, pid: str, session: str) -> StoreHit:
        payload: dict[str, Any] = {
            "memory_id": pid,
            "content": pid,
            "source_type": "conversation",
            "recorded_at": "2024-01-01T00:00:00+00:00",
            "session_id": session,
        }
        return StoreHit(id=pid, score=1.0 / (rank + 1), payload=payload)

    async def search(
        self,
        dense: list[float] | None,
        sparse: SparseVector | None,
        filter: StoreFilter,
        limit: int,
        mode: str = "vector",
        alpha: float = 0.5,
    ) -> list[StoreHit]:
        points = [(p, s) for p, s in self.points if filter.session_id in (None, s)]
        if filter.session_id is None:
            points = points[:6]  # the global ranking misses g and h
        return [self._hit(i, p, s) for i, (p, s) in enumerate(points[:limit])]


class FakeEmbedder:
    name = "fake"
    dim = 2

    def embed(self, texts: list[str]) -> list[list[float]]:
        return [[1.0, 0.0] for _ in texts]


def search(limit: int, **settings: int) -> list[str]:
    index = MemoryIndex(FakeStore(), FakeEmbedder(), SparseEncoder())  # type: ignore[arg-type]
    saved = {k: getattr(index_module, k) for k in settings}
    try:
        for k, v in settings.items():
            setattr(index_module, k, v)
        query = SearchQuery(tenant_id="t", user_id="u", query="trail", limit=limit)
        hits = asyncio.run(index.search(query))
    finally:
        for k, v in saved.items():
            setattr(index_module, k, v)
    scores = [h.similarity for h in hits]
    assert scores == sorted(scores, reverse=True)
    return [h.memory_id for h in hits]


def test_expansion_brings_in_the_top_sessions_other_turns() -> None:
    found = search(10, EXPAND_SEEDS=2, EXPAND_PER_SEED=3, EXPAND_AT=2)
    assert found[:2] == ["a", "b"]
    assert set(found[2:6]) == {"c", "g", "d", "h"}
    assert sorted(found) == sorted("abcdefgh")


def test_expansion_off_is_the_plain_ranking() -> None:
    assert search(10, EXPAND_SEEDS=0) == list("abcdef")


def test_expansion_keeps_the_limit() -> None:
    assert len(search(3, EXPAND_SEEDS=3, EXPAND_PER_SEED=3, EXPAND_AT=2)) == 3
