"""What a search hit shows of its memory (its words and metadata): read from the memories
read model when the search is made, never from the vector store.

A point's payload holds ids, the fields filters match, timestamps and the chunk's offsets
into its memory, and nothing of what was said: a deleted point's payload stays in
qdrant-edge's segment and write-ahead log until the store is compacted (after a forget,
see `EdgeVectorStore.compact`), and words kept there would outlive a delete. A search
reads its hits' memories in one query instead; a hit whose memory is no longer there
(dropped meanwhile) is left out.
"""

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class MemoryText:
    """A recorded memory's own words (whole: a hit shows its chunk's span) and metadata."""

    content: str
    metadata: dict[str, Any]


class MemoryContents(Protocol):
    """Where the index reads the memories its hits point at."""

    async def contents(self, tenant_id: str, memory_ids: list[str]) -> dict[str, MemoryText]:
        """By memory id, those of `memory_ids` still recorded for the tenant."""
        ...
