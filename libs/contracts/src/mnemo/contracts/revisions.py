"""Revising a memory, and reading its versions back from the log.

A memory's content is never changed in place. A revision records the new text as a new
memory (its own stream, `memory.recorded`) and deletes the one it replaces with a
`memory.deleted` that names its successor (`replaced_by`), so the log holds every version
and the link between them; the versions of a memory are read from the log by following
those links.
"""

from datetime import datetime
from typing import Any

import msgspec

from mnemo.contracts.commands import IngestMemory

# A chain of revisions is followed this far and no further (a bound, not a limit anyone
# meets: each revision is an API call).
MAX_REVISIONS = 1000


class ReviseMemory(msgspec.Struct, frozen=True, kw_only=True):
    """Replace `memory_id` (the current version: one already replaced is a conflict) with
    `revision`, a memory of the same user, agent and session; with `agent_id`, only that
    agent's memory is found."""

    tenant_id: str
    memory_id: str
    revision: IngestMemory
    actor: str
    agent_id: str | None = None


class RevisedMemory(msgspec.Struct, frozen=True, kw_only=True):
    memory_id: str  # the new version
    replaced: str
    user_id: str
    event_ids: list[str]


class MemoryVersionsQuery(msgspec.Struct, frozen=True, kw_only=True):
    """Every version of a memory from `memory_id` on, in order, as the log has them; with
    `agent_id`, only that agent's memory is found, and with `since` (an agent key's: when
    its agent was made) only versions recorded since: an agent made again with a deleted
    one's id reads none of that one's history."""

    tenant_id: str
    memory_id: str
    agent_id: str | None = None
    since: datetime | None = None


class MemoryVersion(msgspec.Struct, frozen=True, kw_only=True):
    """One version: when and by whom it was recorded, and (if it was) deleted or replaced.
    `erased`: the memory was deleted and its words went with it (its key shredded): the
    version keeps only what the log keeps in clear (ids, times, who), its content empty,
    its source type, session and metadata unknown."""

    memory_id: str
    user_id: str
    content: str
    source_type: str
    session_id: str | None
    agent_id: str | None
    metadata: dict[str, Any]
    occurred_at: datetime
    recorded_at: datetime
    recorded_by: str
    deleted_at: datetime | None = None
    deleted_by: str | None = None
    replaced_by: str | None = None
    erased: bool = False


class MemoryVersions(msgspec.Struct, frozen=True, kw_only=True):
    versions: list[MemoryVersion]
