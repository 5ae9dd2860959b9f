"""Commands: requests for a change, sent by the gateway to MNEMO_CMD."""

from datetime import datetime
from typing import Any

import msgspec


class _Command(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    command_id: str
    tenant_id: str
    issued_at: datetime
    actor: str


class IngestMemory(_Command, tag="ingest.memory", frozen=True, kw_only=True):
    """Record `content` into `user_id`'s memory under the id `memory_id`."""

    memory_id: str
    user_id: str
    content: str
    source_type: str = "api_text"
    source_id: str | None = None
    session_id: str | None = None
    agent_id: str | None = None
    metadata: dict[str, Any] = {}
    occurred_at: datetime | None = None
    # Secrets the gateway replaced with placeholders before publishing, by kind.
    redactions: dict[str, int] = {}
    # Set for batch items: synthesis makes one pass per user per batch, once all of that
    # user's `batch_user_items` memories are in.
    batch_id: str | None = None
    batch_user_items: int = 1


Command = IngestMemory

COMMAND_TYPES: dict[str, type[Command]] = {"ingest.memory": IngestMemory}
