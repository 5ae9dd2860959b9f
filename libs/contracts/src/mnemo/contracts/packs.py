"""Memory packs: what an agent should know right now, compiled within a token budget.

A pack is compiled by synthesis from the subject's facts and the retrieval read models,
and stored as a `pack.compiled` event whose id is derived from everything it was compiled
from (the newest memory, the facts, the query, preset and budget): asking again with
nothing new returns the stored pack, so "latest" is well defined and reproducible.
"""

from datetime import datetime
from typing import Any

import msgspec

PRESETS = ("conversational", "self_determined")
DEFAULT_MAX_TOKENS = 4000


class PackQuery(msgspec.Struct, frozen=True, kw_only=True):
    tenant_id: str
    agent_id: str
    # The end user the pack is about; None: the agent's memories with every user.
    user_id: str | None = None
    query: str | None = None
    preset: str = "conversational"
    max_tokens: int = DEFAULT_MAX_TOKENS
    actor: str = "system"
    # The profile of this person only (mnemo.contracts.speakers.is_about); None: the user's.
    about: str | None = None


class PackView(msgspec.Struct, frozen=True, kw_only=True):
    """A compiled pack, in the shape Elephantasm's SDK reads (`content.context` is the
    ready-to-use prompt)."""

    pack_id: str
    agent_id: str
    user_id: str | None = None
    query: str | None = None
    preset: str
    session_memory_count: int
    knowledge_count: int
    long_term_memory_count: int
    has_identity: bool
    token_count: int
    max_tokens: int
    content: dict[str, Any]
    compiled_at: datetime
