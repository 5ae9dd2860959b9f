"""The sparse encoder's stemming (the index's session expansion is tested against the real
stores in tests/integration/retrieval_stores/test_session_expansion.py)."""

from mnemo.retrieval.stores import SparseEncoder
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
