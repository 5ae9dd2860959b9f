"""What each side of the search index is made of: the sparse (keyword) text and the dense
one, from one set of pieces (`chunk_context`). The two sides are tested against the real
stores in tests/integration/retrieval_stores/test_dense_text.py."""

import uuid
from datetime import UTC, datetime

from mnemo.contracts import Envelope, MemoryRecorded
from mnemo.retrieval.index import (
    INDEXED_TEXT_VERSION,
    chunk_context,
    dense_text,
    sparse_text,
)
from mnemo.retrieval.turns import CONTEXT_CHARS, Turn

AT = datetime(2024, 5, 8, 13, 56, tzinfo=UTC)


def memory(content: str, metadata: dict[str, str]) -> tuple[Envelope, MemoryRecorded]:
    data = MemoryRecorded(
        memory_id=str(uuid.uuid4()), user_id="u1", content=content, metadata=metadata
    )
    envelope = Envelope(
        event_id=str(uuid.uuid4()),
        event_type="memory.recorded",
        tenant_id="t1",
        stream_id=f"memory-{data.memory_id}",
        stream_version=1,
        global_position=1,
        occurred_at=AT,
        recorded_at=AT,
        correlation_id=data.memory_id,
        causation_id=data.memory_id,
        actor="test",
        service="ingest",
        data=data,
    )
    return envelope, data


def test_the_indexed_texts_are_those_their_version_names() -> None:
    envelope, data = memory("Yes, twice!", {"title": "Beach talk", "author": "Caroline"})
    chunk = chunk_context(envelope, data, data.content, Turn("Mel", "Been to the beach?"))
    indexed = "Beach talk Caroline 8 May 2024\nYes, twice!\nMel: Been to the beach?"
    # Changing what either side is made of means bumping INDEXED_TEXT_VERSION, which
    # re-indexes every existing index from the log (bootstrap.open_index).
    assert (INDEXED_TEXT_VERSION, sparse_text(chunk), dense_text(chunk)) == (
        "text3-prev-same-agent",
        indexed,
        indexed,
    )


def test_who_said_it_is_the_author_else_the_role() -> None:
    envelope, data = memory("Sure.", {"role": "assistant"})
    chunk = chunk_context(envelope, data, data.content)
    assert chunk.speaker == "assistant"
    assert sparse_text(chunk) == "assistant 8 May 2024\nSure."
    envelope, data = memory("Sure.", {"role": "assistant", "author": "Ana"})
    chunk = chunk_context(envelope, data, data.content)
    assert chunk.speaker == "Ana"
    assert sparse_text(chunk) == "Ana 8 May 2024\nSure."


def test_only_the_end_of_a_long_previous_turn_is_indexed() -> None:
    envelope, data = memory("Yes!", {"author": "Caroline"})
    long_turn = "camping " + "and then we walked " * 40 + "did you like the lake?"
    chunk = chunk_context(envelope, data, data.content, Turn("Mel", long_turn))
    text = sparse_text(chunk)
    assert text.endswith("did you like the lake?")
    assert "camping" not in text
    assert len(text) <= len("Caroline 8 May 2024\nYes!\nMel: ") + CONTEXT_CHARS
