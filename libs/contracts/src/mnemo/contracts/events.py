"""Domain event data. Each type is tagged with its event_type; the envelope carries it."""

from typing import Any

import msgspec


class _EventData(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    pass


class ChunkSpan(msgspec.Struct, frozen=True, kw_only=True):
    """One searchable piece of a memory: content[start:end]."""

    index: int
    start: int
    end: int


class MemoryRecorded(_EventData, tag="memory.recorded", frozen=True, kw_only=True):
    """Something an agent sent was accepted into a subject's memory (after redaction).

    `chunks` split the content for search (none: the whole content is one chunk);
    `redactions` counts the secrets replaced by placeholders, by kind.
    """

    memory_id: str
    user_id: str
    content: str
    source_type: str = "api_text"
    source_id: str | None = None
    session_id: str | None = None
    agent_id: str | None = None
    metadata: dict[str, Any] = {}
    chunks: list[ChunkSpan] = []
    redactions: dict[str, int] = {}
    batch_id: str | None = None
    batch_user_items: int = 1

    def chunk_spans(self) -> list[ChunkSpan]:
        return self.chunks or [ChunkSpan(index=0, start=0, end=len(self.content))]


class ExtractedFact(msgspec.Struct, frozen=True, kw_only=True):
    """One fact about the subject, with the span of the memory it came from."""

    fact_id: str
    attribute: str
    value: str
    statement: str
    kind: str  # "static" (stable trait) or "dynamic" (current context)
    confidence: float
    span: tuple[int, int]


class FactExtracted(_EventData, tag="fact.extracted", frozen=True, kw_only=True):
    """Synthesis found a fact about the subject in a recorded memory."""

    memory_id: str
    user_id: str
    fact: ExtractedFact
    extractor: str


class MemorySynthesized(_EventData, tag="memory.synthesized", frozen=True, kw_only=True):
    """Synthesis finished its pass over one recorded memory."""

    memory_id: str
    user_id: str
    fact_ids: list[str] = []
    extractor: str


class SubjectSynthesized(_EventData, tag="subject.synthesized", frozen=True, kw_only=True):
    """A synthesis pass over one subject finished: once per single ingest, and once per
    user per batch, after all of that user's memories in the batch were synthesized."""

    user_id: str
    memory_ids: list[str]
    batch_id: str | None = None


class MemoryForgotten(_EventData, tag="memory.forgotten", frozen=True, kw_only=True):
    """Everything of one subject was forgotten: its data keys are shredded, so its sealed
    events can never be read again, and every projection drops what it holds of it."""

    user_id: str
    removed: dict[str, int] = {}


EventData = (
    MemoryRecorded | FactExtracted | MemorySynthesized | SubjectSynthesized | MemoryForgotten
)

EVENT_TYPES: dict[str, type[EventData]] = {
    "memory.recorded": MemoryRecorded,
    "fact.extracted": FactExtracted,
    "memory.synthesized": MemorySynthesized,
    "subject.synthesized": SubjectSynthesized,
    "memory.forgotten": MemoryForgotten,
}
