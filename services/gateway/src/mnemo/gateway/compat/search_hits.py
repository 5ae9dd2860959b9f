"""A search hit's metadata as the client wrote it, for the surfaces that show it so.

Retrieval adds to each hit's metadata what its index holds of the memory: its session,
agent, source type and, for a memory in several chunks, which chunk matched
(mnemo.retrieval.index.search_hit). The native search shows them; the compat surfaces
show a memory's metadata as their add, get and list do, the client's own.
"""

from typing import Any

from mnemo.contracts import SearchHit

SEARCH_KEYS = frozenset({"sessionId", "agentId", "sourceType", "chunk"})


def written_metadata(hit: SearchHit) -> dict[str, Any]:
    """The hit's metadata without what the search added."""
    return {k: v for k, v in hit.metadata.items() if k not in SEARCH_KEYS}
